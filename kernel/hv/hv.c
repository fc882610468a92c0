// The kernel's hypervisor state: the global hv_info, filled from the live
// CPU at boot, and the accessors other subsystems call.
#include "hv/hv.h"
#include "hv/hyperv.h"
#include "hv/kvm.h"
#include "hv/xen.h"
#include "arch.h"
#include "lib/printk.h"
#include "sched/clock.h"

#define BOOT_LINE_MAX 512

struct hv_info hv_info;

static void live_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, struct hv_cpuid_regs *r)
{
    hv_cpuid(leaf, subleaf, r);
}

void hv_init(void)
{
    char line[BOOT_LINE_MAX];
    if (hv_info.detected)
        return;
    hv_detect(&hv_info, live_cpuid, NULL);
    hv_info_boot_line(&hv_info, line, sizeof(line));
    pr_info("%s", line);

    // Xen: hypercall page, shared info, clock, console, power (hv/xen.c).
    if (hv_info.primary == HV_FAMILY_XEN)
        xen_init();
}

// After the memory manager: the paravirtual clocks and helpers of whatever
// hv_init() found (they need pages from pmm). KVM first: kvmclock outrates
// the Hyper-V page when a host offers both.
void hv_init_late(void)
{
    kvm_init();
    hyperv_init();
}

// The per-CPU part on each other CPU: its kvmclock, steal time and PV EOI
// areas (the Hyper-V page is partition-wide).
void hv_init_cpu(void)
{
    kvm_cpu_init();
}

bool hv_feature_offered(enum hv_feature f)
{
    return hv_info_offers(&hv_info, f);
}

status_t hv_feature_set_used(enum hv_feature f)
{
    return hv_info_set_used(&hv_info, f);
}

void hv_report(void (*print)(const char *line, void *ctx), void *ctx)
{
    hv_info_report(&hv_info, print, ctx);
}

static void print_hvinfo_line(const char *line, void *ctx)
{
    pr_info("hvinfo: %s", line);
}

// Steal time of every CPU that registered its area, when KVM's is in use.
static void print_steal_times(void)
{
    if (!hv_info.features[HV_FEAT_KVM_STEAL_TIME].used)
        return;
    for (unsigned cpu = 0; cpu < arch_cpu_count(); cpu++)
        if (arch_cpu_online(cpu))
            pr_info("hvinfo: steal time: cpu%u %llu ns", cpu, (unsigned long long)hv_steal_ns(cpu));
}

void hv_print_report(void)
{
    hv_report(print_hvinfo_line, NULL);
    pr_info("hvinfo: clock: %s", clock_source_name());
    print_steal_times();
}

void hv_boot_line(char *buf, size_t n)
{
    hv_info_boot_line(&hv_info, buf, n);
}
