// The kernel's hypervisor state: the global hv_info, filled from the live
// CPU at boot, and the accessors other subsystems call.
#include "hv/hv.h"
#include "hv/hyperv.h"
#include "hv/kvm.h"
#include "hv/xen.h"
#include "arch.h"
#include "lib/fmt.h"
#include "lib/printk.h"
#include "lib/string.h"
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

// The whole `hvinfo` report: hv_report()'s lines, the clock source and
// (with KVM steal time) each online CPU's steal time.
static void report_all(void (*print)(const char *line, void *ctx), void *ctx)
{
    char line[96];
    hv_report(print, ctx);
    ksnprintf(line, sizeof(line), "clock: %s", clock_source_name());
    print(line, ctx);
    if (!hv_info.features[HV_FEAT_KVM_STEAL_TIME].used)
        return;
    for (unsigned cpu = 0; cpu < arch_cpu_count(); cpu++) {
        if (arch_cpu_online(cpu)) {
            ksnprintf(line, sizeof(line), "steal time: cpu%u %llu ns", cpu,
                      (unsigned long long)hv_steal_ns(cpu));
            print(line, ctx);
        }
    }
}

static void print_hvinfo_line(const char *line, void *ctx)
{
    pr_info("hvinfo: %s", line);
}

void hv_print_report(void)
{
    report_all(print_hvinfo_line, NULL);
}

struct text_sink {
    char *buf;
    size_t size, len; // len counts what did not fit too
};

static void append_line(const char *line, void *ctx)
{
    struct text_sink *t = ctx;
    size_t n = strlen(line);
    for (size_t i = 0; i <= n; i++, t->len++) // the line and its '\n'
        if (t->len < t->size)
            t->buf[t->len] = i < n ? line[i] : '\n';
}

size_t hv_report_text(char *buf, size_t size)
{
    struct text_sink t = {buf, size, 0};
    report_all(append_line, &t);
    return t.len;
}

void hv_boot_line(char *buf, size_t n)
{
    hv_info_boot_line(&hv_info, buf, n);
}
