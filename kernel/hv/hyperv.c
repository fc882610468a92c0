// nimbus:host
// Hyper-V reference time: the guest OS identity and the reference TSC page
// with its reference-counter fallback (pure, host-tested), then the kernel
// part that maps the page and registers the clock source. The kernel part
// has not run live (see hv/hyperv.h).
#include "hv/hyperv.h"

uint64_t hyperv_guest_os_id(uint32_t version, uint16_t build)
{
    return HYPERV_GUEST_OS_OPEN_SOURCE | (uint64_t)version << HYPERV_GUEST_OS_VERSION_SHIFT | build;
}

uint64_t hyperv_reference_tsc_msr(uint64_t old, paddr_t page)
{
    return (page & HYPERV_REF_TSC_PAGE_MASK) | (old & HYPERV_REF_TSC_KEEP_MASK) |
           HYPERV_REF_TSC_ENABLE;
}

uint64_t hyperv_ref_time_100ns(const volatile struct hyperv_tsc_page *page, pvclock_tsc_fn read_tsc,
                               hyperv_ref_count_fn ref_count, void *ctx)
{
    uint64_t t;
    if (hyperv_tsc_page_read(page, read_tsc, ctx, &t) == OK)
        return t;
    return ref_count(ctx);
}

#ifndef HOST_TEST
#include "hv/cpu.h"
#include "hv/hv.h"
#include "hv/kvm.h"
#include "lib/printk.h"
#include "mm/pmm.h"
#include "sched/clock.h"

#define HYPERV_CLOCK_RATING 250

static volatile struct hyperv_tsc_page *tsc_page; // NULL: not in use

static uint64_t ref_count_msr(void *ctx)
{
    return hv_rdmsr(HV_X64_MSR_TIME_REF_COUNT);
}

uint64_t hyperv_clock_read_ns(void)
{
    if (!tsc_page)
        return 0;
    return hyperv_ref_time_100ns(tsc_page, hv_ordered_tsc, ref_count_msr, NULL) *
           HYPERV_REF_TIME_UNIT_NS;
}

bool hyperv_clock_active(void)
{
    return tsc_page != NULL;
}

static const struct clocksource hyperv_source = {
    .name = "hyperv-tsc-page",
    .rating = HYPERV_CLOCK_RATING,
    .read_ns = hyperv_clock_read_ns,
};

// The TLFS wants the guest's identity reported before hypercalls; set it
// if nobody (firmware) has.
static void report_guest_os(void)
{
    if (!hv_feature_offered(HV_FEAT_HYPERV_HYPERCALL))
        return;
    if (!hv_rdmsr(HV_X64_MSR_GUEST_OS_ID))
        hv_wrmsr(HV_X64_MSR_GUEST_OS_ID, hyperv_guest_os_id(NIMBUS_HYPERV_VERSION, 0));
}

static void take_tsc_frequency(void)
{
    if (!hv_feature_offered(HV_FEAT_HYPERV_FREQUENCY_MSRS) ||
        !(hv_info.hyperv.features & HYPERV_FEAT_EDX_FREQUENCY_MSRS))
        return;
    uint64_t hz = hv_rdmsr(HV_X64_MSR_TSC_FREQUENCY);
    if (!hz)
        return;
    clock_set_tsc_hz(hz, "hyperv-msr");
    hv_feature_set_used(HV_FEAT_HYPERV_FREQUENCY_MSRS);
}

// Both privileges are needed: the page, and the counter that the TLFS read
// falls back to whenever the page's sequence is 0.
void hyperv_init(void)
{
    paddr_t pa;
    if (tsc_page || !hv_info.hyperv.base)
        return;
    report_guest_os();
    if (kvm_clock_active())
        return; // kvmclock outrates the page and already gave the TSC rate
    take_tsc_frequency();
    if (!hv_feature_offered(HV_FEAT_HYPERV_REFERENCE_TSC) ||
        !hv_feature_offered(HV_FEAT_HYPERV_TIME_REF_COUNT))
        return;
    if (pmm_alloc(0, PMM_ZERO, &pa) != OK) {
        pr_warn("hyperv: no memory for the reference TSC page");
        return;
    }
    hv_wrmsr(HV_X64_MSR_REFERENCE_TSC,
             hyperv_reference_tsc_msr(hv_rdmsr(HV_X64_MSR_REFERENCE_TSC), pa));
    tsc_page = phys_to_virt(pa);
    clock_register(&hyperv_source);
    hv_feature_set_used(HV_FEAT_HYPERV_REFERENCE_TSC);
    hv_feature_set_used(HV_FEAT_HYPERV_TIME_REF_COUNT);
    pr_info("hyperv: reference TSC page at %#llx (sequence %u)", (unsigned long long)pa,
            tsc_page->tsc_sequence);
}
#endif // !HOST_TEST
