// In-kernel checks of the Xen support on a live Xen (PVH dom0 under QEMU in
// tools/xen-boot.sh): the hypercall page Xen filled, shared info, the "xen"
// clock against the TSC, the wall clock, the console and the memory map.
// Every case skips when the kernel is not running under Xen. Kernel only.
#include <stdarg.h>

#include "hv/leaves.h"
#include "hv/xen.h"
#include "init/boot_info.h"
#include "lib/fmt.h"
#include "lib/ktest.h"
#include "lib/string.h"
#include "sched/clock.h"

#define NS_PER_SEC  1000000000ull
#define INT3        0xcc
#define SPIN_NS     (20ull * 1000 * 1000) // how long the clock case measures
#define XEN_BAD_CMD 0x7fffu               // a memory_op command no Xen defines

static const struct xen_state *need_xen(void)
{
    return hv_info.primary == HV_FAMILY_XEN ? xen_get_state() : NULL;
}

#define NEED_XEN(st)                         \
    const struct xen_state *st = need_xen(); \
    if (!st)                                 \
    KTEST_SKIP("not running under Xen")

static void diag(const char *fmt, ...) __printf(1, 2);
static void diag(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ktest_output(line);
}

// Prints Xen's leaves and vcpu 0's time area (kept as recordings for the
// host tests), and checks the setup used the CPUID it read.
static void xen_live_cpuid(struct ktest *t)
{
    NEED_XEN(st);
    for (uint32_t leaf = 0; leaf <= XEN_LEAF_HVM; leaf++) {
        struct hv_cpuid_regs r;
        hv_cpuid(st->plan.base + leaf, 0, &r);
        diag("    # cpuid %#x: %#x %#x %#x %#x\n", st->plan.base + leaf, r.eax, r.ebx, r.ecx,
             r.edx);
    }
    struct hv_cpuid_regs h;
    hv_cpuid(st->plan.base + XEN_LEAF_HYPERCALL, 0, &h);
    EXPECT_EQ(st->plan.msr, h.ebx);
    EXPECT_GE(st->plan.hypercall_pages, 1u);
}

// Xen wrote its stubs over the int3 filler, and a call through them works.
static void xen_live_hypercall_page(struct ktest *t)
{
    NEED_XEN(st);
    const uint8_t *page = (const uint8_t *)phys_to_virt(st->tp->hypercall_page_pa);
    size_t off;
    ASSERT_OK(xen_hypercall_offset(XEN_HYPERCALL_XEN_VERSION, &off));
    EXPECT_NE(page[off], INT3);
    long v = st->tp->hypercall(st->tp->ctx, XEN_HYPERCALL_XEN_VERSION, XEN_XENVER_VERSION, 0, 0);
    EXPECT_EQ((uint32_t)v, (uint32_t)st->plan.major << 16 | st->plan.minor);
    EXPECT_EQ(st->version, (uint32_t)v);
}

// An unknown command comes back as -ENOSYS (or -EINVAL), not a crash.
static void xen_live_bad_hypercall(struct ktest *t)
{
    NEED_XEN(st);
    long rc = st->tp->hypercall(st->tp->ctx, XEN_HYPERCALL_MEMORY_OP, XEN_BAD_CMD, 0, 0);
    EXPECT_LT(rc, 0);
    status_t s = xen_status(rc);
    EXPECT_TRUE(s == ERR_NOT_SUPPORTED || s == ERR_INVALID_ARGS);
    size_t off;
    EXPECT_STATUS(xen_hypercall_offset(XEN_HYPERCALL_MAX, &off), ERR_OUT_OF_RANGE);
}

static void xen_live_shared_info(struct ktest *t)
{
    NEED_XEN(st);
    ASSERT_NOT_NULL(st->shared);
    const volatile struct pvclock_vcpu_time_info *ti = &st->shared->vcpu_info[0].time;
    EXPECT_NE(ti->tsc_to_system_mul, 0u);
    EXPECT_NE(ti->version, 0u);
    diag("    # vcpu0 time: version %u mul %u shift %d flags %u\n", ti->version,
         ti->tsc_to_system_mul, ti->tsc_shift, ti->flags);
    diag("    # wall clock: version %u sec %u nsec %u sec_hi %u\n", st->shared->wc_version,
         st->shared->wc_sec, st->shared->wc_nsec, st->shared->wc_sec_hi);
}

// The TSC rate from mul/shift agrees with Xen's time leaf (base+3 ECX, kHz).
static void xen_live_tsc_rate(struct ktest *t)
{
    NEED_XEN(st);
    if (!st->shared || !hv_info.xen.tsc_khz)
        KTEST_SKIP("no shared info or no TSC rate in CPUID");
    uint64_t leaf_hz = (uint64_t)hv_info.xen.tsc_khz * 1000;
    EXPECT_LE(st->tsc_hz, leaf_hz + leaf_hz / 1000);
    EXPECT_GE(st->tsc_hz, leaf_hz - leaf_hz / 1000);
    EXPECT_EQ(clock_tsc_hz(), st->tsc_hz);
    EXPECT_STREQ(clock_tsc_source(), "xen");
}

// The monotonic clock runs on Xen time, at the TSC's pace. Within 5%: under
// TCG every rdtsc of this guest traps to Xen (emulated TSC), so the readings
// at each end of the window are far apart, and a loaded host can stall the
// vCPU between any two of them. So each comparison is between nested
// windows: Xen's inner window [xb, xc] lies inside the TSC and monotonic
// windows, which lie inside Xen's outer window [xa, xd].
static void xen_live_clocksource(struct ktest *t)
{
    NEED_XEN(st);
    ASSERT_NOT_NULL(st->shared);
    EXPECT_STREQ(clock_source_name(), "xen");
    uint64_t xa = xen_system_time_ns(st->shared, 0, st->tp->read_tsc, NULL);
    uint64_t c0 = st->tp->read_tsc(NULL), m0 = clock_monotonic_ns();
    uint64_t xb = xen_system_time_ns(st->shared, 0, st->tp->read_tsc, NULL);
    uint64_t xc;
    do
        xc = xen_system_time_ns(st->shared, 0, st->tp->read_tsc, NULL);
    while (xc - xb < SPIN_NS);
    uint64_t m1 = clock_monotonic_ns(), c1 = st->tp->read_tsc(NULL);
    uint64_t xd = xen_system_time_ns(st->shared, 0, st->tp->read_tsc, NULL);
    uint64_t tsc_ns = clock_cycles_to_ns(c1 - c0);
    uint64_t inner = xc - xb, outer = xd - xa;
    EXPECT_GE(m1 - m0, inner - inner / 20);
    EXPECT_LE(m1 - m0, outer + outer / 20);
    EXPECT_GE(tsc_ns, inner - inner / 20);
    EXPECT_LE(tsc_ns, outer + outer / 20);
}

// The wall clock was set from shared info, and it agrees with a fresh read.
static void xen_live_wallclock(struct ktest *t)
{
    NEED_XEN(st);
    ASSERT_NOT_NULL(st->shared);
    if (!st->shared->wc_sec && !st->shared->wc_sec_hi)
        KTEST_SKIP("Xen gave no wall clock");
    EXPECT_STREQ(clock_realtime_source(), "xen-wallclock");
    uint64_t fresh = xen_realtime_ns(st->shared, 0, st->tp->read_tsc, NULL);
    uint64_t kernel = clock_realtime_ns();
    uint64_t diff = fresh > kernel ? fresh - kernel : kernel - fresh;
    EXPECT_LT(diff, NS_PER_SEC / 100);
    diag("    # realtime %llu.%09llu s since the epoch\n", kernel / NS_PER_SEC,
         kernel % NS_PER_SEC);
}

static void xen_live_console(struct ktest *t)
{
    NEED_XEN(st);
    if (!st->console)
        KTEST_SKIP("this domain may not use the Xen console");
    static const char line[] = "    # xen console: direct write\n";
    EXPECT_OK(xen_console_write_on(st, line, sizeof(line) - 1));
    EXPECT_OK(xen_console_write_on(st, line, 0));
}

// Every RAM range the kernel manages lies inside RAM of Xen's memory map.
static void xen_live_memory_map(struct ktest *t)
{
    NEED_XEN(st);
    static struct xen_e820_entry map[XEN_MEMMAP_MAX];
    size_t n = 0;
    ASSERT_OK(xen_memory_map_on(st, map, ARRAY_SIZE(map), &n));
    ASSERT_GT(n, (size_t)0);
    size_t one = 0;
    EXPECT_OK(xen_memory_map_on(st, map, 1, &one)); // Xen copies what fits
    EXPECT_EQ(one, (size_t)1);
    for (size_t i = 0; i < boot_info.nmem; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        if (m->type != BOOT_MEM_RAM)
            continue;
        bool inside = false;
        for (size_t j = 0; j < ARRAY_SIZE(map) && j < n; j++)
            inside |= map[j].type == BOOT_MEM_RAM && map[j].addr <= m->base &&
                      m->base + m->size <= map[j].addr + map[j].size;
        EXPECT_TRUE(inside);
    }
}

// HVMOP_get_param on our own domain: a parameter every HVM domain has.
static void xen_live_hvm_param(struct ktest *t)
{
    NEED_XEN(st);
    uint64_t v = ~0ull;
    status_t s = xen_hvm_get_param_on(st, XEN_HVM_PARAM_CALLBACK_IRQ, &v);
    EXPECT_OK(s);
    if (s == OK)
        EXPECT_NE(v, ~0ull);
}

KTEST_SUITE(xen_live, KTEST_CASE(xen_live_cpuid), KTEST_CASE(xen_live_hypercall_page),
            KTEST_CASE(xen_live_bad_hypercall), KTEST_CASE(xen_live_shared_info),
            KTEST_CASE(xen_live_tsc_rate), KTEST_CASE(xen_live_clocksource),
            KTEST_CASE(xen_live_wallclock), KTEST_CASE(xen_live_console),
            KTEST_CASE(xen_live_memory_map), KTEST_CASE(xen_live_hvm_param));
