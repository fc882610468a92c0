// nimbus:host
// Paravirtual clock arithmetic and the version-retry readers of the pvclock
// area, the Hyper-V reference TSC page and the steal time area.
#include "hv/pvclock.h"
#include "lib/compiler.h"

typedef unsigned __int128 u128;

#define PVCLOCK_FRAC_BITS 32 // mul is a 32.32 fixed-point factor
#define PVCLOCK_MAX_SHIFT 63

uint64_t pvclock_scale_delta(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift > PVCLOCK_MAX_SHIFT || shift < -PVCLOCK_MAX_SHIFT)
        return 0;
    if (shift >= 0)
        delta <<= shift;
    else
        delta >>= -shift;
    return (uint64_t)(((u128)delta * mul) >> PVCLOCK_FRAC_BITS);
}

uint64_t pvclock_time_at(const struct pvclock_vcpu_time_info *snap, uint64_t tsc)
{
    // Modulo 2^64: Xen may stamp a guest TSC that was "negative" (guest
    // TSC = host TSC + offset, before the guest's TSC started at 0).
    int64_t delta = (int64_t)(tsc - snap->tsc_timestamp);
    if (delta < 0)
        delta = 0;
    return snap->system_time +
           pvclock_scale_delta((uint64_t)delta, snap->tsc_to_system_mul, snap->tsc_shift);
}

bool pvclock_version_retry(uint32_t start, uint32_t now)
{
    return (start & 1) || start != now;
}

// (1) note the version, (2) copy the fields and read the TSC, (3) start over
// if the version was odd (update in progress) or has moved since (1). The
// volatile accesses keep the compiler from moving loads across (1) and (3);
// x86 does not reorder loads with loads.
uint64_t pvclock_read(const volatile struct pvclock_vcpu_time_info *area, pvclock_tsc_fn read_tsc,
                      void *ctx, uint8_t *flags)
{
    struct pvclock_vcpu_time_info snap;
    uint64_t tsc;
    uint32_t version;
    do {
        version = area->version;
        barrier();
        snap.tsc_timestamp = area->tsc_timestamp;
        snap.system_time = area->system_time;
        snap.tsc_to_system_mul = area->tsc_to_system_mul;
        snap.tsc_shift = area->tsc_shift;
        snap.flags = area->flags;
        tsc = read_tsc(ctx);
        barrier();
    } while (pvclock_version_retry(version, area->version));
    if (flags)
        *flags = snap.flags;
    return pvclock_time_at(&snap, tsc);
}

// Long division of a * 2^32 by b, for b/2 <= a < b: the quotient fits 32
// bits. (The kernel links no 128-bit division helper.)
static uint32_t frac32(u128 a, u128 b)
{
    uint32_t q = 0;
    for (int i = 0; i < PVCLOCK_FRAC_BITS; i++) {
        a <<= 1;
        q <<= 1;
        if (a >= b) {
            a -= b;
            q |= 1;
        }
    }
    return q;
}

// to/from = (a/b) * 2^shift with a/b in [1/2, 1); mul = a/b in 32.32.
status_t pvclock_mul_shift(uint64_t from_hz, uint64_t to_hz, uint32_t *mul, int8_t *shift)
{
    if (from_hz == 0 || to_hz == 0)
        return ERR_INVALID_ARGS;
    u128 a = to_hz, b = from_hz;
    int s = 0;
    while (a >= b) {
        b <<= 1;
        s++;
    }
    while (2 * a < b) {
        a <<= 1;
        s--;
    }
    if (s > PVCLOCK_MAX_SHIFT || s < -PVCLOCK_MAX_SHIFT)
        return ERR_OUT_OF_RANGE;
    *mul = frac32(a, b);
    *shift = (int8_t)s;
    return OK;
}

uint64_t hyperv_tsc_scale(uint64_t tsc, uint64_t scale, int64_t offset)
{
    return (uint64_t)(((u128)tsc * scale) >> 64) + (uint64_t)offset;
}

// Same shape as pvclock_read, with the TLFS sequence: any change means
// retry, 0 means the page is unusable.
status_t hyperv_tsc_page_read(const volatile struct hyperv_tsc_page *page, pvclock_tsc_fn read_tsc,
                              void *ctx, uint64_t *time_100ns)
{
    uint32_t seq;
    uint64_t scale, tsc;
    int64_t offset;
    do {
        seq = page->tsc_sequence;
        if (seq == HYPERV_TSC_PAGE_INVALID)
            return ERR_BAD_STATE;
        barrier();
        scale = page->tsc_scale;
        offset = page->tsc_offset;
        tsc = read_tsc(ctx);
        barrier();
    } while (page->tsc_sequence != seq);
    *time_100ns = hyperv_tsc_scale(tsc, scale, offset);
    return OK;
}

uint64_t kvm_steal_time_read(const volatile struct kvm_steal_time *st, void (*relax)(void *ctx),
                             void *ctx)
{
    for (;;) {
        uint32_t version = st->version;
        barrier();
        uint64_t steal = st->steal;
        barrier();
        if (!pvclock_version_retry(version, st->version))
            return steal;
        if (relax)
            relax(ctx);
    }
}
