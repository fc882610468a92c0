// nimbus:host
// Xen guest support: the checks and arithmetic of the Xen interface and the
// bring-up sequence (hypercall page, shared info, time, console), written
// against struct xen_transport so the host tests can drive it with a fake
// Xen. The kernel's own instance (clock source, console sink, power
// methods) is at the end, outside the host build.
#include "hv/leaves.h"
#include "hv/xen.h"
#include "lib/compiler.h"
#include "lib/printk.h"

#define NS_PER_SEC 1000000000ull

status_t xen_cpuid_plan(const struct hv_info *info, struct xen_cpuid_plan *out)
{
    const struct hv_xen_info *x = &info->xen;
    if (info->primary != HV_FAMILY_XEN || x->base == 0)
        return ERR_NOT_SUPPORTED;
    if (x->hypercall_pages == 0 || x->msr_base == 0)
        return ERR_BAD_FORMAT; // no leaf base+2, or one that says nothing
    *out = (struct xen_cpuid_plan){
        .base = x->base,
        .major = x->major,
        .minor = x->minor,
        .hypercall_pages = x->hypercall_pages,
        .msr = x->msr_base,
        .domid_known = (x->hvm_features & XEN_HVM_DOMID_PRESENT) != 0,
        .domid = (uint16_t)x->domid,
    };
    return OK;
}

status_t xen_hypercall_msr_value(paddr_t page_pa, uint32_t index, uint64_t *value)
{
    if (!IS_ALIGNED(page_pa, XEN_HYPERCALL_PAGE_SIZE) || index > XEN_HYPERCALL_MSR_INDEX_MASK)
        return ERR_INVALID_ARGS;
    *value = page_pa | index;
    return OK;
}

status_t xen_hypercall_offset(unsigned nr, size_t *offset)
{
    if (nr >= XEN_HYPERCALL_MAX)
        return ERR_OUT_OF_RANGE;
    *offset = (size_t)nr * XEN_HYPERCALL_STUB_SIZE;
    return OK;
}

struct errno_status {
    int err;
    status_t status;
};

static const struct errno_status errno_statuses[] = {
    {XEN_EPERM, ERR_ACCESS_DENIED},      {XEN_EACCES, ERR_ACCESS_DENIED},
    {XEN_ENOENT, ERR_NOT_FOUND},         {XEN_ESRCH, ERR_NOT_FOUND},
    {XEN_ENODEV, ERR_NOT_FOUND},         {XEN_EIO, ERR_IO},
    {XEN_ENOMEM, ERR_NO_MEMORY},         {XEN_ENOSPC, ERR_NO_RESOURCES},
    {XEN_EFAULT, ERR_INVALID_ARGS},      {XEN_EINVAL, ERR_INVALID_ARGS},
    {XEN_EBUSY, ERR_SHOULD_WAIT},        {XEN_EEXIST, ERR_ALREADY_EXISTS},
    {XEN_ERANGE, ERR_OUT_OF_RANGE},      {XEN_ENOSYS, ERR_NOT_SUPPORTED},
    {XEN_EOPNOTSUPP, ERR_NOT_SUPPORTED},
};

status_t xen_status(long rc)
{
    if (rc >= 0)
        return OK;
    for (size_t i = 0; i < ARRAY_SIZE(errno_statuses); i++)
        if (-rc == errno_statuses[i].err)
            return errno_statuses[i].status;
    return ERR_INTERNAL;
}

// ns = ((delta << shift) * mul) >> 32, so one tick is mul * 2^shift / 2^32 ns.
uint64_t xen_tsc_hz(uint32_t mul, int8_t shift)
{
    if (mul == 0 || shift > 31 || shift < -31)
        return 0;
    uint64_t hz = (NS_PER_SEC << 32) / mul; // the rate for shift 0; fits 62 bits
    if (shift >= 0)
        return hz >> shift;
    if (hz > (UINT64_MAX >> -shift))
        return 0;
    return hz << -shift;
}

// Same protocol as the pvclock areas: (1) version, (2) fields, (3) retry if
// the version was odd or moved.
uint64_t xen_wallclock_base_ns(const volatile struct xen_shared_info *si, void (*relax)(void *ctx),
                               void *ctx)
{
    uint32_t version, sec, sec_hi, nsec;
    for (;;) {
        version = si->wc_version;
        barrier();
        sec = si->wc_sec;
        sec_hi = si->wc_sec_hi;
        nsec = si->wc_nsec;
        barrier();
        if (!pvclock_version_retry(version, si->wc_version))
            break;
        if (relax)
            relax(ctx);
    }
    return (((uint64_t)sec_hi << 32) | sec) * NS_PER_SEC + nsec;
}

uint64_t xen_system_time_ns(const volatile struct xen_shared_info *si, unsigned vcpu,
                            pvclock_tsc_fn read_tsc, void *ctx)
{
    if (vcpu >= XEN_LEGACY_MAX_VCPUS)
        return 0;
    return pvclock_read(&si->vcpu_info[vcpu].time, read_tsc, ctx, NULL);
}

uint64_t xen_realtime_ns(const volatile struct xen_shared_info *si, unsigned vcpu,
                         pvclock_tsc_fn read_tsc, void *ctx)
{
    uint64_t base = xen_wallclock_base_ns(si, NULL, NULL);
    return base + xen_system_time_ns(si, vcpu, read_tsc, ctx);
}

status_t xen_start_info_upgrade(const struct hvm_start_info *in, const struct xen_e820_entry *e820,
                                size_t n, struct hvm_memmap_entry *map, size_t max, paddr_t map_pa,
                                struct hvm_start_info *out)
{
    if (in->magic != HVM_START_MAGIC || n == 0)
        return ERR_INVALID_ARGS;
    if (n > max)
        return ERR_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < n; i++)
        map[i] = (struct hvm_memmap_entry){e820[i].addr, e820[i].size, e820[i].type, 0};
    *out = *in;
    out->version = 1;
    out->memmap_paddr = map_pa;
    out->memmap_entries = (uint32_t)n;
    out->reserved = 0;
    return OK;
}

// ---- bring-up ----

static long call(const struct xen_transport *tp, unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
    return tp->hypercall(tp->ctx, nr, a1, a2, a3);
}

static status_t install_hypercall_page(struct xen_state *st)
{
    uint64_t value;
    status_t s = xen_hypercall_msr_value(st->tp->hypercall_page_pa, 0, &value);
    if (s != OK)
        return s;
    return st->tp->write_msr(st->tp->ctx, st->plan.msr, value);
}

// Xen replaces the RAM frame at gpfn with its shared info page.
static status_t map_shared_info(struct xen_state *st)
{
    const struct xen_transport *tp = st->tp;
    if (!tp->shared_info_va || !IS_ALIGNED(tp->shared_info_pa, PAGE_SIZE))
        return ERR_INVALID_ARGS;
    struct xen_add_to_physmap xatp = {
        .domid = XEN_DOMID_SELF,
        .space = XEN_XENMAPSPACE_SHARED_INFO,
        .idx = 0,
        .gpfn = tp->shared_info_pa >> PAGE_SHIFT,
    };
    long rc = call(tp, XEN_HYPERCALL_MEMORY_OP, XEN_XENMEM_ADD_TO_PHYSMAP, (uintptr_t)&xatp, 0);
    if (rc < 0)
        return xen_status(rc);
    st->shared = (volatile struct xen_shared_info *)tp->shared_info_va;
    return OK;
}

// vcpu 0's rate and the time of day, both from shared info.
static void read_time(struct xen_state *st)
{
    const volatile struct pvclock_vcpu_time_info *t = &st->shared->vcpu_info[0].time;
    uint32_t version;
    uint32_t mul;
    int8_t shift;
    do {
        version = t->version;
        barrier();
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        barrier();
    } while (pvclock_version_retry(version, t->version));
    st->tsc_hz = xen_tsc_hz(mul, shift);
    if (st->shared->wc_sec || st->shared->wc_sec_hi)
        st->boot_realtime_ns = xen_realtime_ns(st->shared, 0, st->tp->read_tsc, st->tp->ctx);
}

status_t xen_setup(struct xen_state *st, const struct hv_info *info, const struct xen_transport *tp)
{
    *st = (struct xen_state){.tp = tp};
    status_t s = xen_cpuid_plan(info, &st->plan);
    if (s != OK)
        return s;
    if ((s = install_hypercall_page(st)) != OK)
        return s;
    long v = call(tp, XEN_HYPERCALL_XEN_VERSION, XEN_XENVER_VERSION, 0, 0);
    st->version = v > 0 ? (uint32_t)v : 0;
    if (map_shared_info(st) == OK)
        read_time(st);
    // A zero-length write: allowed for a domain that may use the console
    // (dom0, or any domain of a debug build), -EPERM for the others.
    st->console = call(tp, XEN_HYPERCALL_CONSOLE_IO, XEN_CONSOLEIO_WRITE, 0, (uintptr_t) "") == 0;
    return OK;
}

status_t xen_console_write_on(const struct xen_state *st, const char *s, size_t n)
{
    if (!st->console)
        return ERR_NOT_SUPPORTED;
    while (n) {
        size_t chunk = MIN(n, (size_t)INT32_MAX);
        long rc = call(st->tp, XEN_HYPERCALL_CONSOLE_IO, XEN_CONSOLEIO_WRITE, chunk, (uintptr_t)s);
        if (rc < 0)
            return xen_status(rc);
        s += chunk;
        n -= chunk;
    }
    return OK;
}

status_t xen_shutdown_on(const struct xen_state *st, uint32_t reason)
{
    struct xen_sched_shutdown arg = {.reason = reason};
    long rc = call(st->tp, XEN_HYPERCALL_SCHED_OP, XEN_SCHEDOP_SHUTDOWN, (uintptr_t)&arg, 0);
    // Success does not return for poweroff and reboot.
    return rc < 0 ? xen_status(rc) : ERR_BAD_STATE;
}

status_t xen_hvm_get_param_on(const struct xen_state *st, uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = {.domid = XEN_DOMID_SELF, .index = index};
    long rc = call(st->tp, XEN_HYPERCALL_HVM_OP, XEN_HVMOP_GET_PARAM, (uintptr_t)&p, 0);
    if (rc < 0)
        return xen_status(rc);
    *value = p.value;
    return OK;
}

status_t xen_memory_map_on(const struct xen_state *st, struct xen_e820_entry *e820, size_t max,
                           size_t *n)
{
    struct xen_memory_map m = {.nr_entries = (uint32_t)MIN(max, (size_t)UINT32_MAX),
                               .buffer = (uintptr_t)e820};
    long rc = call(st->tp, XEN_HYPERCALL_MEMORY_OP, XEN_XENMEM_MEMORY_MAP, (uintptr_t)&m, 0);
    if (rc < 0)
        return xen_status(rc);
    if (m.nr_entries > max)
        return ERR_BAD_STATE;
    *n = m.nr_entries;
    return OK;
}

#ifndef HOST_TEST
// ---- the kernel's Xen ----
#include "arch.h"
#include "dev/power.h"
#include "lib/klog.h"
#include "sched/clock.h"

#define XEN_CLOCK_RATING 300

static struct xen_state xen;
static bool xen_ready;

// The frame handed to Xen for shared info: a page of the kernel image, since
// hv_init runs before the page allocator exists. Xen takes the RAM frame
// away; the kernel's mappings of it show shared info from then on.
static uint8_t shared_info_page[PAGE_SIZE] __aligned(PAGE_SIZE);

static struct xen_transport live_transport = {
    .write_msr = xen_arch_write_msr,
    .hypercall = xen_arch_hypercall,
    .read_tsc = xen_arch_read_tsc,
};

const struct xen_state *xen_get_state(void)
{
    return xen_ready ? &xen : NULL;
}

// Each CPU reads its own vCPU's area, assuming CPU index n is vCPU n
// (true for the boot CPU; beyond the 32 legacy slots the read gives 0 and the
// monotonic clock holds still).
static uint64_t xen_clock_read_ns(void)
{
    return xen_system_time_ns(xen.shared, arch_cpu_index(), xen_arch_read_tsc, NULL);
}

static const struct clocksource xen_clocksource = {
    .name = "xen",
    .rating = XEN_CLOCK_RATING,
    .read_ns = xen_clock_read_ns,
};

// Console sink: printk hands every console line to Xen as well.
static void xen_console_sink(const char *s, size_t n)
{
    (void)xen_console_write_on(&xen, s, n);
}

status_t xen_poweroff(void)
{
    return xen_ready ? xen_shutdown_on(&xen, XEN_SHUTDOWN_POWEROFF) : ERR_NOT_SUPPORTED;
}

status_t xen_reboot(void)
{
    return xen_ready ? xen_shutdown_on(&xen, XEN_SHUTDOWN_REBOOT) : ERR_NOT_SUPPORTED;
}

// SCHEDOP_shutdown(poweroff) from dom0 only halts Xen: the machine stays on.
// Dom0 owns the platform, so its power-off is ACPI's (power.c's next step);
// its reboot goes through Xen, which resets the machine.
static const struct power_hv_ops xen_power_ops = {
    .name = "xen",
    .power_off = xen_poweroff,
    .reboot = xen_reboot,
};
static const struct power_hv_ops xen_dom0_power_ops = {
    .name = "xen",
    .reboot = xen_reboot,
};

static bool hardware_domain(void)
{
    return xen.plan.domid_known && xen.plan.domid == 0;
}

static void start_time(void)
{
    if (!xen.shared) {
        pr_warn("xen: no shared info page: staying on the TSC clock");
        return;
    }
    if (xen.tsc_hz)
        clock_set_tsc_hz(xen.tsc_hz, "xen");
    clock_register(&xen_clocksource);
    // Read afresh: time has passed since xen_setup looked.
    if (xen.boot_realtime_ns)
        clock_set_realtime(xen_realtime_ns(xen.shared, 0, xen_arch_read_tsc, NULL),
                           "xen-wallclock");
}

// Where xen_pvh_start_info builds its copy (read before the page allocator
// exists, through the boot mappings of the kernel image).
static struct hvm_start_info upgraded_start_info;
static struct hvm_memmap_entry upgraded_map[XEN_MEMMAP_MAX];
static struct xen_e820_entry xen_e820[XEN_MEMMAP_MAX];

paddr_t xen_pvh_start_info(paddr_t start_info)
{
    // Before arch_mmu_init the boot tables map the first 4 GiB directly.
    if (!xen_ready || start_info == 0 || start_info >= (4ull << 30) - sizeof(struct hvm_start_info))
        return start_info;
    const struct hvm_start_info *si = phys_to_virt(start_info);
    if (si->magic != HVM_START_MAGIC || si->version != 0)
        return start_info;
    size_t n;
    status_t s = xen_memory_map_on(&xen, xen_e820, ARRAY_SIZE(xen_e820), &n);
    if (s == OK)
        s = xen_start_info_upgrade(si, xen_e820, n, upgraded_map, ARRAY_SIZE(upgraded_map),
                                   virt_to_phys(upgraded_map), &upgraded_start_info);
    if (s != OK) {
        pr_warn("xen: no memory map from Xen: %s", status_str(s));
        return start_info;
    }
    pr_info("xen: start info version 0: memory map (%llu entries) from XENMEM_memory_map",
            (unsigned long long)n);
    return virt_to_phys(&upgraded_start_info);
}

void xen_init(void)
{
    live_transport.hypercall_page_pa = xen_arch_hypercall_page();
    live_transport.shared_info_pa = virt_to_phys(shared_info_page);
    live_transport.shared_info_va = shared_info_page;
    status_t s = xen_setup(&xen, &hv_info, &live_transport);
    if (s != OK) {
        pr_warn("xen: not using Xen's interfaces: %s", status_str(s));
        return;
    }
    xen_ready = true;
    hv_feature_set_used(HV_FEAT_XEN_HYPERCALL_PAGE);
    if (xen.console && console_add_sink(xen_console_sink) != OK)
        pr_warn("xen: no free console sink for the Xen console");
    start_time();
    power_set_hv_ops(hardware_domain() ? &xen_dom0_power_ops : &xen_power_ops);
    pr_info("xen: Xen %u.%u, domid %d, hypercall page at %#llx, shared info %s, TSC %llu kHz, "
            "console %s",
            xen.version >> 16, xen.version & 0xffff, xen.plan.domid_known ? xen.plan.domid : -1,
            (unsigned long long)live_transport.hypercall_page_pa, xen.shared ? "mapped" : "missing",
            (unsigned long long)(xen.tsc_hz / 1000), xen.console ? "yes" : "no");
}
#endif // !HOST_TEST
