// nimbus:host
// Tests of the Xen guest support on values recorded from Xen 4.17 (Debian's
// xen-hypervisor-4.17-amd64) running Nimbus as PVH dom0 under QEMU 7.2 TCG
// (tools/xen-boot.sh, `ktest=xen_live` prints them), on Xen behind Hyper-V
// built from the Xen public headers, and on a fake Xen that answers the
// hypercalls of the bring-up.
#include "hv/leaves.h"
#include "hv/xen.h"
#include "lib/ktest.h"
#include "lib/string.h"

#define BASE0      0x40000000u
#define BASE1      0x40000100u
#define NS_PER_SEC 1000000000ull

// Recorded under Xen 4.17 (dom0, TCG -cpu max): CPUID, vcpu 0's time area
// and the wall clock.
#define REC_MAX_LEAF     0x40000005u
#define REC_VERSION      0x00040011u // 4.17
#define REC_MSR          0x40000000u
#define REC_TIME_FLAGS   0x5u      // tsc emulated, rdtscp
#define REC_TSC_KHZ      0x25505au // 2445402 kHz
#define REC_HVM_FEATURES 0x5cu     // iommu mappings, vcpu id, domid, upcall vector
#define REC_MUL          3512685262u
#define REC_SHIFT        (-1)
#define REC_STAMP        0xfffffffff798a505ull // guest TSC "before 0" when stamped
#define REC_SYSTEM_TIME  815140816ull
#define REC_TSC          1556502118ull // the guest's TSC a little later
#define REC_WC_SEC       1795651747u
#define REC_WC_NSEC      325040020u

struct fake_leaf {
    uint32_t leaf;
    struct hv_cpuid_regs r;
};

struct fake_cpu {
    struct fake_leaf leaves[16];
    size_t n;
};

static void fake_cpuid(void *ctx, uint32_t leaf, uint32_t sub, struct hv_cpuid_regs *r)
{
    struct fake_cpu *c = ctx;
    *r = (struct hv_cpuid_regs){0};
    for (size_t i = 0; i < c->n; i++)
        if (c->leaves[i].leaf == leaf)
            *r = c->leaves[i].r;
}

static void fake_set(struct fake_cpu *c, uint32_t leaf, uint32_t eax, uint32_t ebx, uint32_t ecx,
                     uint32_t edx)
{
    if (c->n < ARRAY_SIZE(c->leaves))
        c->leaves[c->n++] = (struct fake_leaf){leaf, {eax, ebx, ecx, edx}};
}

// "XenVMMXenVMM" as EBX, ECX, EDX (Xen's arch-x86/cpuid.h).
static void fake_xen(struct fake_cpu *c, uint32_t base, uint32_t msr)
{
    fake_set(c, base, base + (REC_MAX_LEAF - BASE0), 0x566e6558, 0x65584d4d, 0x4d4d566e);
    fake_set(c, base + 1, REC_VERSION, 0, 0, 0);
    fake_set(c, base + 2, 1, msr, 0, 0);
    fake_set(c, base + 3, REC_TIME_FLAGS, 0, REC_TSC_KHZ, 1);
    fake_set(c, base + 4, REC_HVM_FEATURES, 0, 0, 0);
}

static void fake_init(struct fake_cpu *c)
{
    *c = (struct fake_cpu){.n = 0};
    fake_set(c, 1, 0x00a00f11, 0x00000800, 0xf6d8320bu, 0x178bfbff); // bit 31: hypervisor
}

static struct hv_info detect(struct fake_cpu *c)
{
    struct hv_info info;
    hv_detect(&info, fake_cpuid, c);
    return info;
}

static void xen_cpuid_recorded(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c);
    fake_xen(&c, BASE0, REC_MSR);
    struct hv_info info = detect(&c);
    struct xen_cpuid_plan p;
    ASSERT_OK(xen_cpuid_plan(&info, &p));
    EXPECT_EQ(p.base, BASE0);
    EXPECT_EQ(p.major, 4);
    EXPECT_EQ(p.minor, 17);
    EXPECT_EQ(p.hypercall_pages, 1u);
    EXPECT_EQ(p.msr, REC_MSR);
    EXPECT_TRUE(p.domid_known);
    EXPECT_EQ(p.domid, 0);
}

// With Viridian on, Hyper-V owns 0x40000000 and its MSRs; Xen moves its
// leaves to 0x40000100 and its hypercall MSR to 0x40000200.
static void xen_cpuid_behind_hyperv(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c);
    fake_set(&c, BASE0, 0x40000005, 0x7263694d, 0x666f736f, 0x76482074); // "Microsoft Hv"
    fake_set(&c, BASE0 + 1, 0x31237648, 0, 0, 0);
    fake_xen(&c, BASE1, 0x40000200);
    struct hv_info info = detect(&c);
    struct xen_cpuid_plan p;
    ASSERT_OK(xen_cpuid_plan(&info, &p));
    EXPECT_EQ(p.base, BASE1);
    EXPECT_EQ(p.msr, 0x40000200u);
    EXPECT_EQ(p.major, 4);
}

static void xen_cpuid_refusals(struct ktest *t)
{
    struct fake_cpu c;
    struct xen_cpuid_plan p;
    fake_init(&c);
    fake_set(&c, BASE0, BASE0 + 1, 0x4b4d564b, 0x564b4d56, 0x0000004d); // KVM
    struct hv_info info = detect(&c);
    EXPECT_STATUS(xen_cpuid_plan(&info, &p), ERR_NOT_SUPPORTED);

    fake_init(&c); // Xen whose range ends at base+1: no hypercall leaf
    fake_set(&c, BASE0, BASE0 + 1, 0x566e6558, 0x65584d4d, 0x4d4d566e);
    fake_set(&c, BASE0 + 1, REC_VERSION, 0, 0, 0);
    fake_set(&c, BASE0 + 2, 1, REC_MSR, 0, 0); // beyond the max leaf: not read
    info = detect(&c);
    EXPECT_STATUS(xen_cpuid_plan(&info, &p), ERR_BAD_FORMAT);

    fake_init(&c); // a hypercall leaf with no pages
    fake_xen(&c, BASE0, REC_MSR);
    fake_set(&c, BASE0 + 2, 0, REC_MSR, 0, 0); // the later entry for a leaf wins
    info = detect(&c);
    EXPECT_STATUS(xen_cpuid_plan(&info, &p), ERR_BAD_FORMAT);
}

static void xen_hypercall_page_layout(struct ktest *t)
{
    size_t off;
    ASSERT_OK(xen_hypercall_offset(0, &off));
    EXPECT_EQ(off, (size_t)0);
    ASSERT_OK(xen_hypercall_offset(XEN_HYPERCALL_CONSOLE_IO, &off));
    EXPECT_EQ(off, (size_t)18 * 32);
    ASSERT_OK(xen_hypercall_offset(XEN_HYPERCALL_SCHED_OP, &off));
    EXPECT_EQ(off, (size_t)29 * 32);
    ASSERT_OK(xen_hypercall_offset(XEN_HYPERCALL_MAX - 1, &off));
    EXPECT_EQ(off + XEN_HYPERCALL_STUB_SIZE, (size_t)XEN_HYPERCALL_PAGE_SIZE);
    EXPECT_STATUS(xen_hypercall_offset(XEN_HYPERCALL_MAX, &off), ERR_OUT_OF_RANGE);

    uint64_t v;
    ASSERT_OK(xen_hypercall_msr_value(0x10f000, 0, &v));
    EXPECT_EQ(v, 0x10f000ull);
    ASSERT_OK(xen_hypercall_msr_value(0x123456000ull, 3, &v));
    EXPECT_EQ(v, 0x123456003ull);
    EXPECT_STATUS(xen_hypercall_msr_value(0x10f800, 0, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(xen_hypercall_msr_value(0x10f000, 0x1000, &v), ERR_INVALID_ARGS);
}

static void xen_errno_mapping(struct ktest *t)
{
    EXPECT_OK(xen_status(0));
    EXPECT_OK(xen_status(42)); // counts (console bytes, map entries) are success
    EXPECT_STATUS(xen_status(-XEN_EPERM), ERR_ACCESS_DENIED);
    EXPECT_STATUS(xen_status(-XEN_ENOSYS), ERR_NOT_SUPPORTED);
    EXPECT_STATUS(xen_status(-XEN_EINVAL), ERR_INVALID_ARGS);
    EXPECT_STATUS(xen_status(-XEN_EFAULT), ERR_INVALID_ARGS);
    EXPECT_STATUS(xen_status(-XEN_ENOMEM), ERR_NO_MEMORY);
    EXPECT_STATUS(xen_status(-XEN_ESRCH), ERR_NOT_FOUND);
    EXPECT_STATUS(xen_status(-XEN_EBUSY), ERR_SHOULD_WAIT);
    EXPECT_STATUS(xen_status(-9999), ERR_INTERNAL);
}

// mul/shift and the CPUID time leaf were recorded independently; they agree
// within 0.01%. Powers of two give exact rates.
static void xen_tsc_rate(struct ktest *t)
{
    uint64_t hz = xen_tsc_hz(REC_MUL, REC_SHIFT), leaf_hz = REC_TSC_KHZ * 1000ull;
    EXPECT_LE(hz, leaf_hz + leaf_hz / 10000);
    EXPECT_GE(hz, leaf_hz - leaf_hz / 10000);
    EXPECT_EQ(xen_tsc_hz(1u << 31, 0), 2 * NS_PER_SEC); // 0.5 ns per tick
    EXPECT_EQ(xen_tsc_hz(1u << 31, 1), NS_PER_SEC);
    EXPECT_EQ(xen_tsc_hz(1u << 31, -1), 4 * NS_PER_SEC);
    EXPECT_EQ(xen_tsc_hz(0, 0), 0ull);
    EXPECT_EQ(xen_tsc_hz(1, -31), 0ull); // does not fit 64 bits
}

// A shared info page as Xen leaves it: vcpu 0's time and the wall clock.
static struct xen_shared_info *recorded_shared_info(void)
{
    static struct xen_shared_info si __aligned(4096);
    memset(&si, 0, sizeof si);
    si.vcpu_info[0].time = (struct pvclock_vcpu_time_info){
        .version = 2,
        .tsc_timestamp = REC_STAMP,
        .system_time = REC_SYSTEM_TIME,
        .tsc_to_system_mul = REC_MUL,
        .tsc_shift = REC_SHIFT,
    };
    si.wc_version = 4;
    si.wc_sec = REC_WC_SEC;
    si.wc_nsec = REC_WC_NSEC;
    return &si;
}

static uint64_t fixed_tsc(void *ctx)
{
    return *(const uint64_t *)ctx;
}

// Xen stamped a TSC value from before the guest's TSC started at 0
// (2^64 - 140988155); the elapsed ticks are taken modulo 2^64 (this needs
// pvclock_time_at to do so: before, the clock stood still for a second).
// Expected: the ticks at the rate of the CPUID leaf, within 0.01%.
static void xen_time_wrapped_stamp(struct ktest *t)
{
    struct xen_shared_info *si = recorded_shared_info();
    uint64_t tsc = REC_TSC;
    uint64_t ns = xen_system_time_ns(si, 0, fixed_tsc, &tsc);
    uint64_t ticks = REC_TSC + (0 - REC_STAMP);
    uint64_t want = ticks * 1000000ull / REC_TSC_KHZ; // ns = ticks / kHz * 1e6
    ASSERT_GT(ns, REC_SYSTEM_TIME);
    EXPECT_LE(ns - REC_SYSTEM_TIME, want + want / 10000);
    EXPECT_GE(ns - REC_SYSTEM_TIME, want - want / 10000);
    EXPECT_EQ(xen_system_time_ns(si, XEN_LEGACY_MAX_VCPUS, fixed_tsc, &tsc), 0ull);
}

// A TSC reader that plays Xen finishing an update during the first read.
struct racing_tsc {
    struct xen_shared_info *si;
    int calls;
};

static uint64_t racing_read(void *ctx)
{
    struct racing_tsc *r = ctx;
    if (r->calls++ == 0) {
        r->si->vcpu_info[0].time.system_time += 5 * NS_PER_SEC;
        r->si->vcpu_info[0].time.version += 2;
    }
    return REC_STAMP; // no ticks since the stamp
}

static void xen_time_version_retry(struct ktest *t)
{
    struct xen_shared_info *si = recorded_shared_info();
    struct racing_tsc r = {si, 0};
    EXPECT_EQ(xen_system_time_ns(si, 0, racing_read, &r), REC_SYSTEM_TIME + 5 * NS_PER_SEC);
    EXPECT_EQ(r.calls, 2);
}

// relax() runs while the version is odd; it completes Xen's update.
static void finish_wc_update(void *ctx)
{
    struct xen_shared_info *si = ctx;
    si->wc_sec_hi = 1;
    si->wc_version++;
}

static void xen_wallclock(struct ktest *t)
{
    struct xen_shared_info *si = recorded_shared_info();
    EXPECT_EQ(xen_wallclock_base_ns(si, NULL, NULL), REC_WC_SEC * NS_PER_SEC + REC_WC_NSEC);
    si->wc_version = 5; // Xen is writing
    EXPECT_EQ(xen_wallclock_base_ns(si, finish_wc_update, si),
              ((1ull << 32) + REC_WC_SEC) * NS_PER_SEC + REC_WC_NSEC);
    EXPECT_EQ(si->wc_version, 6u);

    si = recorded_shared_info();
    uint64_t tsc = REC_STAMP;
    EXPECT_EQ(xen_realtime_ns(si, 0, fixed_tsc, &tsc),
              REC_WC_SEC * NS_PER_SEC + REC_WC_NSEC + REC_SYSTEM_TIME);
}

// ---- a fake Xen for xen_setup ----

#define FAKE_PAGE_PA   0x10f000ull
#define FAKE_SHARED_PA 0x17b000ull
#define FAKE_CONSOLE   128

struct fake_xen {
    struct xen_shared_info *page; // the frame given up for shared info
    int msr_writes, calls_before_page;
    uint32_t msr;
    uint64_t msr_value;
    status_t msr_result;
    long physmap_rc, console_rc, shutdown_rc;
    char console[FAKE_CONSOLE];
    size_t console_len;
    int shutdowns;
    uint32_t shutdown_reason;
    struct xen_e820_entry e820[3];
    size_t ne820;
};

static status_t fx_write_msr(void *ctx, uint32_t msr, uint64_t value)
{
    struct fake_xen *x = ctx;
    x->msr_writes++;
    x->msr = msr;
    x->msr_value = value;
    return x->msr_result;
}

// XENMEM_add_to_physmap: only the shared info page of our own domain, at
// the frame the transport names.
static long fx_physmap(struct fake_xen *x, const struct xen_add_to_physmap *a)
{
    if (x->physmap_rc)
        return x->physmap_rc;
    if (a->domid != XEN_DOMID_SELF || a->space != XEN_XENMAPSPACE_SHARED_INFO || a->idx != 0 ||
        a->gpfn != FAKE_SHARED_PA >> 12)
        return -XEN_EINVAL;
    *x->page = *recorded_shared_info();
    return 0;
}

static long fx_memory_map(struct fake_xen *x, struct xen_memory_map *m)
{
    size_t n = MIN((size_t)m->nr_entries, x->ne820);
    memcpy((void *)(uintptr_t)m->buffer, x->e820, n * sizeof(struct xen_e820_entry));
    m->nr_entries = (uint32_t)n;
    return 0;
}

static long fx_console(struct fake_xen *x, uint64_t cmd, uint64_t len, const char *buf)
{
    if (x->console_rc || cmd != XEN_CONSOLEIO_WRITE)
        return x->console_rc ? x->console_rc : -XEN_ENOSYS;
    for (uint64_t i = 0; i < len && x->console_len < FAKE_CONSOLE - 1; i++)
        x->console[x->console_len++] = buf[i];
    return 0;
}

static long fx_hypercall(void *ctx, unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
    struct fake_xen *x = ctx;
    if (x->msr_writes == 0) {
        x->calls_before_page++; // the real stubs would be int3 here
        return -XEN_ENOSYS;
    }
    switch (nr) {
    case XEN_HYPERCALL_XEN_VERSION:
        return a1 == XEN_XENVER_VERSION ? (long)REC_VERSION : -XEN_ENOSYS;
    case XEN_HYPERCALL_MEMORY_OP:
        if (a1 == XEN_XENMEM_ADD_TO_PHYSMAP)
            return fx_physmap(x, (const struct xen_add_to_physmap *)(uintptr_t)a2);
        if (a1 == XEN_XENMEM_MEMORY_MAP)
            return fx_memory_map(x, (struct xen_memory_map *)(uintptr_t)a2);
        return -XEN_ENOSYS;
    case XEN_HYPERCALL_CONSOLE_IO:
        return fx_console(x, a1, a2, (const char *)(uintptr_t)a3);
    case XEN_HYPERCALL_SCHED_OP:
        x->shutdowns++;
        x->shutdown_reason = ((const struct xen_sched_shutdown *)(uintptr_t)a2)->reason;
        return a1 == XEN_SCHEDOP_SHUTDOWN ? x->shutdown_rc : -XEN_ENOSYS;
    case XEN_HYPERCALL_HVM_OP: {
        struct xen_hvm_param *p = (struct xen_hvm_param *)(uintptr_t)a2;
        if (a1 != XEN_HVMOP_GET_PARAM || p->domid != XEN_DOMID_SELF)
            return -XEN_EINVAL;
        p->value = 0x100 + p->index;
        return 0;
    }
    default:
        return -XEN_ENOSYS;
    }
}

static uint64_t fx_tsc(void *ctx)
{
    return REC_TSC;
}

static struct xen_transport fake_transport(struct fake_xen *x)
{
    static struct xen_shared_info page __aligned(4096);
    memset(&page, 0xa5, sizeof page); // RAM contents before Xen takes the frame
    x->page = &page;
    return (struct xen_transport){
        .write_msr = fx_write_msr,
        .hypercall = fx_hypercall,
        .read_tsc = fx_tsc,
        .hypercall_page_pa = FAKE_PAGE_PA,
        .shared_info_pa = FAKE_SHARED_PA,
        .shared_info_va = &page,
        .ctx = x,
    };
}

static struct hv_info recorded_info(void)
{
    struct fake_cpu c;
    fake_init(&c);
    fake_xen(&c, BASE0, REC_MSR);
    return detect(&c);
}

static void xen_setup_on_fake(struct ktest *t)
{
    struct fake_xen x = {.ne820 = 2};
    x.e820[0] = (struct xen_e820_entry){0, 0x9f000, 1};
    x.e820[1] = (struct xen_e820_entry){0x100000, 0x7f60000, 1};
    struct xen_transport tp = fake_transport(&x);
    struct hv_info info = recorded_info();
    struct xen_state st;
    ASSERT_OK(xen_setup(&st, &info, &tp));
    EXPECT_EQ(x.calls_before_page, 0);
    EXPECT_EQ(x.msr_writes, 1);
    EXPECT_EQ(x.msr, REC_MSR);
    EXPECT_EQ(x.msr_value, FAKE_PAGE_PA);
    EXPECT_EQ(st.version, REC_VERSION);
    ASSERT_TRUE(st.shared == x.page);
    EXPECT_EQ(st.tsc_hz, xen_tsc_hz(REC_MUL, REC_SHIFT));
    uint64_t wc = REC_WC_SEC * NS_PER_SEC + REC_WC_NSEC;
    EXPECT_GT(st.boot_realtime_ns, wc + REC_SYSTEM_TIME);
    EXPECT_LT(st.boot_realtime_ns, wc + REC_SYSTEM_TIME + NS_PER_SEC);
    EXPECT_TRUE(st.console);

    EXPECT_OK(xen_console_write_on(&st, "hello, xen\n", 11));
    EXPECT_EQ(x.console_len, (size_t)11);
    EXPECT_EQ(memcmp(x.console, "hello, xen\n", 11), 0);

    uint64_t v = 0;
    EXPECT_OK(xen_hvm_get_param_on(&st, XEN_HVM_PARAM_CONSOLE_EVTCHN, &v));
    EXPECT_EQ(v, 0x100ull + XEN_HVM_PARAM_CONSOLE_EVTCHN);

    struct xen_e820_entry map[4];
    size_t n = 0;
    ASSERT_OK(xen_memory_map_on(&st, map, ARRAY_SIZE(map), &n));
    ASSERT_EQ(n, (size_t)2);
    EXPECT_EQ(map[1].addr, 0x100000ull);
    ASSERT_OK(xen_memory_map_on(&st, map, 1, &n));
    EXPECT_EQ(n, (size_t)1);

    x.shutdown_rc = -XEN_EPERM;
    EXPECT_STATUS(xen_shutdown_on(&st, XEN_SHUTDOWN_REBOOT), ERR_ACCESS_DENIED);
    EXPECT_EQ(x.shutdown_reason, (uint32_t)XEN_SHUTDOWN_REBOOT);
    x.shutdown_rc = 0; // a shutdown that returns did not happen
    EXPECT_STATUS(xen_shutdown_on(&st, XEN_SHUTDOWN_POWEROFF), ERR_BAD_STATE);
    EXPECT_EQ(x.shutdown_reason, (uint32_t)XEN_SHUTDOWN_POWEROFF);
}

static void xen_setup_failures(struct ktest *t)
{
    struct hv_info info = recorded_info();
    struct xen_state st;

    struct fake_xen x = {.physmap_rc = -XEN_EINVAL, .console_rc = -XEN_EPERM};
    struct xen_transport tp = fake_transport(&x);
    ASSERT_OK(xen_setup(&st, &info, &tp)); // the page works, the rest is optional
    EXPECT_NULL(st.shared);
    EXPECT_EQ(st.tsc_hz, 0ull);
    EXPECT_EQ(st.boot_realtime_ns, 0ull);
    EXPECT_FALSE(st.console);
    EXPECT_STATUS(xen_console_write_on(&st, "x", 1), ERR_NOT_SUPPORTED);

    x = (struct fake_xen){.msr_result = ERR_ACCESS_DENIED};
    tp = fake_transport(&x);
    EXPECT_STATUS(xen_setup(&st, &info, &tp), ERR_ACCESS_DENIED);

    x = (struct fake_xen){0};
    tp = fake_transport(&x);
    tp.hypercall_page_pa = FAKE_PAGE_PA + 8;
    EXPECT_STATUS(xen_setup(&st, &info, &tp), ERR_INVALID_ARGS);
    EXPECT_EQ(x.msr_writes, 0);

    struct hv_info none = {.detected = true, .primary = HV_FAMILY_KVM};
    x = (struct fake_xen){0};
    tp = fake_transport(&x);
    EXPECT_STATUS(xen_setup(&st, &none, &tp), ERR_NOT_SUPPORTED);
    EXPECT_EQ(x.msr_writes + x.calls_before_page, 0);
}

// A PVH dom0's version 0 start info plus Xen's E820 map make a version 1 one.
static void xen_start_info_v0(struct ktest *t)
{
    const struct hvm_start_info v0 = {.magic = HVM_START_MAGIC,
                                      .version = 0,
                                      .nr_modules = 1,
                                      .modlist_paddr = 0x1d7048,
                                      .cmdline_paddr = 0x1d7068,
                                      .rsdp_paddr = 0x8060f26};
    const struct xen_e820_entry e820[] = {
        {0, 0x9f000, BOOT_MEM_RAM},
        {0x9fc00, 0x400, BOOT_MEM_RESERVED},
        {0x100000, 0x7f60f26, BOOT_MEM_RAM},
    };
    struct hvm_memmap_entry map[3];
    struct hvm_start_info v1;
    ASSERT_OK(xen_start_info_upgrade(&v0, e820, 3, map, 3, 0x200000, &v1));
    EXPECT_EQ(v1.version, 1u);
    EXPECT_EQ(v1.magic, HVM_START_MAGIC);
    EXPECT_EQ(v1.modlist_paddr, v0.modlist_paddr);
    EXPECT_EQ(v1.cmdline_paddr, v0.cmdline_paddr);
    EXPECT_EQ(v1.rsdp_paddr, v0.rsdp_paddr);
    EXPECT_EQ(v1.memmap_paddr, 0x200000ull);
    EXPECT_EQ(v1.memmap_entries, 3u);
    EXPECT_EQ(map[2].addr, 0x100000ull);
    EXPECT_EQ(map[2].size, 0x7f60f26ull);
    EXPECT_EQ(map[1].type, (uint32_t)BOOT_MEM_RESERVED);
    EXPECT_EQ(map[0].reserved, 0u);

    EXPECT_STATUS(xen_start_info_upgrade(&v0, e820, 3, map, 2, 0x200000, &v1),
                  ERR_BUFFER_TOO_SMALL);
    EXPECT_STATUS(xen_start_info_upgrade(&v0, e820, 0, map, 3, 0x200000, &v1), ERR_INVALID_ARGS);
    struct hvm_start_info bad = v0;
    bad.magic = 0;
    EXPECT_STATUS(xen_start_info_upgrade(&bad, e820, 3, map, 3, 0x200000, &v1), ERR_INVALID_ARGS);
}

KTEST_SUITE(xen, KTEST_CASE(xen_cpuid_recorded), KTEST_CASE(xen_cpuid_behind_hyperv),
            KTEST_CASE(xen_cpuid_refusals), KTEST_CASE(xen_hypercall_page_layout),
            KTEST_CASE(xen_errno_mapping), KTEST_CASE(xen_tsc_rate),
            KTEST_CASE(xen_time_wrapped_stamp), KTEST_CASE(xen_time_version_retry),
            KTEST_CASE(xen_wallclock), KTEST_CASE(xen_setup_on_fake),
            KTEST_CASE(xen_setup_failures), KTEST_CASE(xen_start_info_v0));
