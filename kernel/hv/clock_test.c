// nimbus:host
// Tests of the paravirtual clocks' pure parts on the host (kvmclock's TSC
// rate, the KVM wall clock protocol, the PV IPI windows and TLB-flush
// hand-over, the Hyper-V reference time and its fallback), and, in kernel
// builds, the `clock` suite on whatever clock the hypervisor gave.
#include "hv/hyperv.h"
#include "hv/kvm.h"
#include "lib/ktest.h"

#define NS_PER_SEC 1000000000ull

// |a - b| <= a / 2^30 + 1: the rounding a 32-bit mul leaves.
static bool near_rate(uint64_t a, uint64_t b)
{
    uint64_t d = a > b ? a - b : b - a;
    return d <= (a >> 30) + 1;
}

// Rates from 1 kHz to 1 THz, through the scale KVM would publish and back.
static void kvmclock_rate_round_trip(struct ktest *t)
{
    for (uint64_t hz = 1000; hz < 1000000000000ull; hz = hz * 37 / 23 + 1) {
        uint32_t mul;
        int8_t shift;
        ASSERT_OK(pvclock_mul_shift(hz, NS_PER_SEC, &mul, &shift));
        uint64_t back = kvm_pvclock_tsc_hz(mul, shift);
        if (!near_rate(hz, back))
            KTEST_FAIL_(t, "%llu Hz -> mul %#x shift %d -> %llu Hz", (unsigned long long)hz, mul,
                        shift, (unsigned long long)back);
        // One second of ticks at the recovered rate scales to one second.
        uint64_t ns = pvclock_scale_delta(back, mul, shift);
        EXPECT_LE(ns > NS_PER_SEC ? ns - NS_PER_SEC : NS_PER_SEC - ns, 2ull);
    }
}

static void kvmclock_rate_exact_and_invalid(struct ktest *t)
{
    EXPECT_EQ(kvm_pvclock_tsc_hz(0x80000000u, 1), NS_PER_SEC);      // 1 ns per tick
    EXPECT_EQ(kvm_pvclock_tsc_hz(0x80000000u, 0), 2 * NS_PER_SEC);  // 0.5 ns per tick
    EXPECT_EQ(kvm_pvclock_tsc_hz(0x80000000u, -1), 4 * NS_PER_SEC); // 0.25 ns per tick
    EXPECT_EQ(kvm_pvclock_tsc_hz(0x80000000u, 5), NS_PER_SEC / 16);
    EXPECT_EQ(kvm_pvclock_tsc_hz(0, 0), 0ull);
    EXPECT_EQ(kvm_pvclock_tsc_hz(0x80000000u, 32), 0ull);
    EXPECT_EQ(kvm_pvclock_tsc_hz(0x80000000u, -32), 0ull);
    EXPECT_EQ(kvm_pvclock_tsc_hz(1, -31), 0ull);                 // 1e9 * 2^63 Hz does not fit
    EXPECT_EQ(kvm_pvclock_tsc_hz(3, 0), 1431655765333333333ull); // 1e9 * 2^32 / 3, rounded
}

static void kvm_wall_clock_protocol(struct ktest *t)
{
    struct kvm_wall_clock w = {.version = 2, .sec = 1704067200, .nsec = 123456789};
    uint64_t ns = 0;
    ASSERT_OK(kvm_wall_clock_read(&w, 3, &ns));
    EXPECT_EQ(ns, 1704067200ull * NS_PER_SEC + 123456789);
    w = (struct kvm_wall_clock){.version = 4, .sec = 0xffffffffu, .nsec = 999999999};
    ASSERT_OK(kvm_wall_clock_read(&w, 3, &ns));
    EXPECT_EQ(ns, 0xffffffffull * NS_PER_SEC + 999999999); // past 2106 without overflow
    w.version = 5;                                         // an update that never ends
    ns = 7;
    EXPECT_STATUS(kvm_wall_clock_read(&w, 3, &ns), ERR_BAD_STATE);
    EXPECT_EQ(ns, 7ull);
}

static bool window_has(const struct kvm_ipi_window *w, uint64_t id)
{
    if (id < w->min || id - w->min >= KVM_IPI_WINDOW_IDS)
        return false;
    uint64_t bit = id - w->min;
    return w->bits[bit / 64] >> (bit % 64) & 1;
}

static void kvm_ipi_windows_small(struct ktest *t)
{
    const uint32_t ids[] = {131, 5, 3, 130, 400, 3};
    struct kvm_ipi_window w;
    uint64_t from = 0;
    ASSERT_TRUE(kvm_ipi_next_window(ids, ARRAY_SIZE(ids), &from, &w));
    EXPECT_EQ(w.min, 3u);
    EXPECT_EQ(w.bits[0], (1ull << 0) | (1ull << 2));
    EXPECT_EQ(w.bits[1], 1ull << 63); // 130 = 3 + 127, the last id of the window
    EXPECT_EQ(kvm_ipi_window_count(&w), 3u);
    ASSERT_TRUE(kvm_ipi_next_window(ids, ARRAY_SIZE(ids), &from, &w));
    EXPECT_EQ(w.min, 131u);
    EXPECT_EQ(w.bits[0], 1ull);
    EXPECT_EQ(w.bits[1], 0ull);
    ASSERT_TRUE(kvm_ipi_next_window(ids, ARRAY_SIZE(ids), &from, &w));
    EXPECT_EQ(w.min, 400u);
    EXPECT_FALSE(kvm_ipi_next_window(ids, ARRAY_SIZE(ids), &from, &w));
    from = 0;
    EXPECT_FALSE(kvm_ipi_next_window(ids, 0, &from, &w));
    const uint32_t top[] = {0xffffffffu, 0xfffffffeu};
    from = 0;
    ASSERT_TRUE(kvm_ipi_next_window(top, 2, &from, &w));
    EXPECT_EQ(w.min, 0xfffffffeu);
    EXPECT_EQ(w.bits[0], 3ull);
    EXPECT_FALSE(kvm_ipi_next_window(top, 2, &from, &w)); // no wrap past 2^32
}

// Pseudo-random sets: every id lands in exactly one window, windows hold
// nothing else, and their number is the greedy minimum (computed here by
// walking a sorted copy).
static void kvm_ipi_windows_cover_exactly(struct ktest *t)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        uint32_t ids[64], sorted[64];
        size_t n = 1 + round % 64;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            ids[i] = (seed >> 8) % (round < 100 ? 600 : 0xffffffffu);
            sorted[i] = ids[i];
        }
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                uint32_t x = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = x;
            }
        unsigned want = 0;
        for (size_t i = 0; i < n;) {
            uint64_t lo = sorted[i];
            while (i < n && sorted[i] - lo < KVM_IPI_WINDOW_IDS)
                i++;
            want++;
        }
        struct kvm_ipi_window w;
        uint64_t from = 0;
        unsigned windows = 0, covered[64] = {0}, bits = 0;
        while (kvm_ipi_next_window(ids, n, &from, &w)) {
            windows++;
            bits += kvm_ipi_window_count(&w);
            for (size_t i = 0; i < n; i++)
                covered[i] += window_has(&w, ids[i]);
        }
        EXPECT_EQ(windows, want);
        unsigned distinct = n ? 1 : 0;
        for (size_t i = 1; i < n; i++)
            distinct += sorted[i] != sorted[i - 1];
        EXPECT_EQ(bits, distinct); // no bit for an id that was not asked for
        for (size_t i = 0; i < n; i++)
            EXPECT_EQ(covered[i], 1u);
    }
}

static void kvm_tlb_flush_handover(struct ktest *t)
{
    struct kvm_steal_time st = {0};
    EXPECT_FALSE(kvm_steal_preempted(&st));
    EXPECT_FALSE(kvm_steal_request_flush(&st)); // running: the caller must send the IPI
    EXPECT_EQ(st.preempted, 0);
    st.preempted = KVM_VCPU_PREEMPTED;
    EXPECT_TRUE(kvm_steal_preempted(&st));
    EXPECT_TRUE(kvm_steal_request_flush(&st));
    EXPECT_EQ(st.preempted, KVM_VCPU_PREEMPTED | KVM_VCPU_FLUSH_TLB);
    EXPECT_TRUE(kvm_steal_request_flush(&st)); // a second request is the same request
    EXPECT_EQ(st.preempted, KVM_VCPU_PREEMPTED | KVM_VCPU_FLUSH_TLB);
    st.preempted = KVM_VCPU_FLUSH_TLB; // ran since: flag left behind, not preempted
    EXPECT_FALSE(kvm_steal_request_flush(&st));
    EXPECT_EQ(st.preempted, KVM_VCPU_FLUSH_TLB);
}

KTEST_SUITE(kvm_pv_math, KTEST_CASE(kvmclock_rate_round_trip),
            KTEST_CASE(kvmclock_rate_exact_and_invalid), KTEST_CASE(kvm_wall_clock_protocol),
            KTEST_CASE(kvm_ipi_windows_small), KTEST_CASE(kvm_ipi_windows_cover_exactly),
            KTEST_CASE(kvm_tlb_flush_handover));

// A fake TSC and reference counter for the Hyper-V page; `invalidate_on`
// makes the n-th TSC read play the host marking the page invalid.
struct hv_fake {
    volatile struct hyperv_tsc_page *page;
    uint64_t tsc, ref_count;
    int tsc_reads, ref_reads, invalidate_on;
};

static uint64_t hv_fake_tsc(void *ctx)
{
    struct hv_fake *f = ctx;
    if (++f->tsc_reads == f->invalidate_on)
        f->page->tsc_sequence = HYPERV_TSC_PAGE_INVALID;
    return f->tsc;
}

static uint64_t hv_fake_ref_count(void *ctx)
{
    struct hv_fake *f = ctx;
    f->ref_reads++;
    return f->ref_count;
}

// A 2.5 GHz TSC: scale = 2^64 * 1e7 / 2.5e9 = 2^64 / 250.
#define SCALE_2_5_GHZ (UINT64_MAX / 250)

static void hyperv_page_time(struct ktest *t)
{
    struct hyperv_tsc_page page = {
        .tsc_sequence = 7, .tsc_scale = SCALE_2_5_GHZ, .tsc_offset = -1000};
    struct hv_fake f = {.page = &page, .tsc = 2500000000ull * 3, .ref_count = 42};
    uint64_t t100 = hyperv_ref_time_100ns(&page, hv_fake_tsc, hv_fake_ref_count, &f);
    EXPECT_EQ(t100, 30000000ull - 1000 - 1); // 3 s, less the offset, rounded down
    EXPECT_EQ(f.ref_reads, 0);
}

static void hyperv_page_falls_back_to_counter(struct ktest *t)
{
    struct hyperv_tsc_page page = {.tsc_sequence = HYPERV_TSC_PAGE_INVALID,
                                   .tsc_scale = SCALE_2_5_GHZ};
    struct hv_fake f = {.page = &page, .tsc = 1, .ref_count = 987654321};
    EXPECT_EQ(hyperv_ref_time_100ns(&page, hv_fake_tsc, hv_fake_ref_count, &f), 987654321ull);
    EXPECT_EQ(f.ref_reads, 1);
    // Valid when the read starts, invalid by its end: retried, then the MSR.
    page.tsc_sequence = 3;
    f = (struct hv_fake){.page = &page, .tsc = 1, .ref_count = 55, .invalidate_on = 1};
    EXPECT_EQ(hyperv_ref_time_100ns(&page, hv_fake_tsc, hv_fake_ref_count, &f), 55ull);
    EXPECT_EQ(f.ref_reads, 1);
    EXPECT_EQ(f.tsc_reads, 1);
}

static void hyperv_msr_values(struct ktest *t)
{
    uint64_t id = hyperv_guest_os_id(NIMBUS_HYPERV_VERSION, 7);
    EXPECT_EQ(id >> 63, 1ull);        // open source
    EXPECT_EQ(id >> 56 & 0x7f, 0ull); // no OS type allocated
    EXPECT_EQ(id >> 16 & 0xffffffffull, (uint64_t)NIMBUS_HYPERV_VERSION);
    EXPECT_EQ(id & 0xffff, 7ull);
    EXPECT_NE(hyperv_guest_os_id(0, 0), 0ull); // zero would mean "no guest identity"
    EXPECT_EQ(hyperv_reference_tsc_msr(0, 0x12345000), 0x12345001ull);
    EXPECT_EQ(hyperv_reference_tsc_msr(0xfff, 0x12345000), 0x12345fffull); // reserved bits kept
    EXPECT_EQ(hyperv_reference_tsc_msr(0xabcde000, 0x7000), 0x7001ull);    // old page dropped
    EXPECT_EQ(hyperv_reference_tsc_msr(0, 0x100000123), 0x100000001ull);
}

KTEST_SUITE(hyperv_clock, KTEST_CASE(hyperv_page_time),
            KTEST_CASE(hyperv_page_falls_back_to_counter), KTEST_CASE(hyperv_msr_values));

#ifndef HOST_TEST
#include <stdarg.h>

#include "hv/hv.h"
#include "lib/fmt.h"
#include "sched/clock.h"

#define CLOCK_READS     100000
#define UNIX_2024_01_01 1704067200ull

// A KTAP diagnostic line.
static __printf(1, 2) void diag(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ktest_output(line);
}

static void clock_monotonic_never_decreases(struct ktest *t)
{
    uint64_t start = clock_monotonic_ns(), prev = start;
    int backwards = 0;
    for (int i = 0; i < CLOCK_READS; i++) {
        uint64_t now = clock_monotonic_ns();
        backwards += now < prev;
        prev = now;
    }
    EXPECT_EQ(backwards, 0);
    EXPECT_GT(prev, start);
    diag("    # clock_monotonic_ns: %d reads, %llu ns each on average\n", CLOCK_READS,
         (unsigned long long)((prev - start) / CLOCK_READS));
}

static void clock_realtime_is_set(struct ktest *t)
{
    uint64_t now = clock_realtime_ns();
    ASSERT_NE(now, 0ull);
    EXPECT_GE(now / NS_PER_SEC, UNIX_2024_01_01);
    EXPECT_FALSE(ktest_str_equal(clock_realtime_source(), "none"));
}

static bool kvm_clock_offered(void)
{
    return hv_feature_offered(HV_FEAT_KVM_CLOCKSOURCE2) ||
           hv_feature_offered(HV_FEAT_KVM_CLOCKSOURCE);
}

// The best clock the hypervisor offers is the one in use: kvmclock under
// KVM, Xen's vcpu time under Xen, the reference TSC page under Hyper-V, the
// TSC elsewhere (TCG).
static void clock_source_matches_hypervisor(struct ktest *t)
{
    const char *want = "tsc";
    if (kvm_clock_offered())
        want = "kvmclock";
    else if (hv_info.primary == HV_FAMILY_XEN)
        want = "xen";
    else if (hv_feature_offered(HV_FEAT_HYPERV_REFERENCE_TSC) &&
             hv_feature_offered(HV_FEAT_HYPERV_TIME_REF_COUNT))
        want = "hyperv-tsc-page";
    EXPECT_STREQ(clock_source_name(), want);
    if (hv_info.primary == HV_FAMILY_TCG)
        EXPECT_STREQ(clock_source_name(), "tsc");
    EXPECT_NE(clock_tsc_hz(), 0ull);
}

KTEST_SUITE(clock, KTEST_CASE(clock_monotonic_never_decreases), KTEST_CASE(clock_realtime_is_set),
            KTEST_CASE(clock_source_matches_hypervisor));
#endif
