// The hypervisor layer: which hypervisors the kernel runs under (CPUID
// leaves 0x40000000 + 0x100 * k), what each offers, and which of those
// offers the kernel uses. hv_init() fills the global hv_info once at boot;
// afterwards only the "used" flags change (hv_feature_set_used()).
//
// The detection code is pure: it reads CPUID through a caller-supplied
// function, the live CPU (hv_cpuid) in the kernel, recorded tables in tests.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

struct hv_cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

// Architecture hook: CPUID(leaf, subleaf) on the running CPU. Implemented in
// kernel/arch/x86_64/hv_cpuid.c.
void hv_cpuid(uint32_t leaf, uint32_t subleaf, struct hv_cpuid_regs *r);

// Where hv_detect() reads CPUID from.
typedef void (*hv_cpuid_fn)(void *ctx, uint32_t leaf, uint32_t subleaf, struct hv_cpuid_regs *r);

enum hv_family {
    HV_FAMILY_NONE,    // bare metal: CPUID.1:ECX[31] clear
    HV_FAMILY_HIDDEN,  // hypervisor bit set but no signature leaves (kvm=off)
    HV_FAMILY_UNKNOWN, // a signature not in the list below
    HV_FAMILY_KVM,
    HV_FAMILY_XEN,
    HV_FAMILY_HYPERV,
    HV_FAMILY_VMWARE,
    HV_FAMILY_TCG,
    HV_FAMILY_BHYVE,
    HV_FAMILY_ACRN,
    HV_FAMILY_QNX,
    HV_FAMILY_PARALLELS,
    HV_FAMILY_COUNT
};

// Named features of every family. "Offered" comes from CPUID; "used" is set
// by the code that turns the feature on.
enum hv_feature {
    // KVM, leaf base+1 EAX (EDX for the hint).
    HV_FEAT_KVM_CLOCKSOURCE,
    HV_FEAT_KVM_NOP_IO_DELAY,
    HV_FEAT_KVM_CLOCKSOURCE2,
    HV_FEAT_KVM_ASYNC_PF,
    HV_FEAT_KVM_STEAL_TIME,
    HV_FEAT_KVM_PV_EOI,
    HV_FEAT_KVM_PV_UNHALT,
    HV_FEAT_KVM_PV_TLB_FLUSH,
    HV_FEAT_KVM_ASYNC_PF_VMEXIT,
    HV_FEAT_KVM_PV_SEND_IPI,
    HV_FEAT_KVM_POLL_CONTROL,
    HV_FEAT_KVM_PV_SCHED_YIELD,
    HV_FEAT_KVM_ASYNC_PF_INT,
    HV_FEAT_KVM_MSI_EXT_DEST_ID,
    HV_FEAT_KVM_MAP_GPA_RANGE,
    HV_FEAT_KVM_MIGRATION_CONTROL,
    HV_FEAT_KVM_CLOCK_STABLE,
    HV_FEAT_KVM_HINT_REALTIME,
    // Xen, leaves base+2..base+4.
    HV_FEAT_XEN_HYPERCALL_PAGE,
    HV_FEAT_XEN_PT_PRESERVE_AD,
    HV_FEAT_XEN_TSC_EMULATED,
    HV_FEAT_XEN_TSC_RELIABLE,
    HV_FEAT_XEN_RDTSCP,
    HV_FEAT_XEN_APIC_VIRT,
    HV_FEAT_XEN_X2APIC_VIRT,
    HV_FEAT_XEN_IOMMU_MAPPINGS,
    HV_FEAT_XEN_VCPU_ID,
    HV_FEAT_XEN_DOMID,
    HV_FEAT_XEN_EXT_DEST_ID,
    HV_FEAT_XEN_UPCALL_VECTOR,
    // Hyper-V, leaf 3 (privileges EAX, features EDX) and leaf 4.
    HV_FEAT_HYPERV_VP_RUNTIME,
    HV_FEAT_HYPERV_TIME_REF_COUNT,
    HV_FEAT_HYPERV_SYNIC,
    HV_FEAT_HYPERV_STIMER,
    HV_FEAT_HYPERV_APIC_MSRS,
    HV_FEAT_HYPERV_HYPERCALL,
    HV_FEAT_HYPERV_VP_INDEX,
    HV_FEAT_HYPERV_RESET,
    HV_FEAT_HYPERV_REFERENCE_TSC,
    HV_FEAT_HYPERV_GUEST_IDLE,
    HV_FEAT_HYPERV_FREQUENCY_MSRS,
    HV_FEAT_HYPERV_REENLIGHTENMENT,
    HV_FEAT_HYPERV_XMM_HYPERCALL,
    HV_FEAT_HYPERV_CRASH_MSRS,
    HV_FEAT_HYPERV_STIMER_DIRECT,
    HV_FEAT_HYPERV_REC_LOCAL_FLUSH,
    HV_FEAT_HYPERV_REC_REMOTE_FLUSH,
    HV_FEAT_HYPERV_REC_APIC_MSRS,
    HV_FEAT_HYPERV_REC_RESET,
    HV_FEAT_HYPERV_REC_RELAXED_TIMING,
    HV_FEAT_HYPERV_REC_X2APIC_MSRS,
    HV_FEAT_HYPERV_REC_NO_AUTO_EOI,
    HV_FEAT_HYPERV_REC_CLUSTER_IPI,
    HV_FEAT_HYPERV_REC_EX_MASKS,
    // Any family: leaf base+0x10 gives the TSC frequency.
    HV_FEAT_TSC_FREQ_LEAF,
    HV_FEATURE_COUNT
};

#define HV_SIGNATURE_LEN 12
#define HV_MAX_RANGES    16

// One non-empty range of hypervisor leaves.
struct hv_range {
    enum hv_family family;
    uint32_t base;                        // leaf holding the signature
    uint32_t max_leaf;                    // highest leaf read, within the range
    bool max_leaf_clamped;                // EAX pointed outside the range
    uint8_t signature[HV_SIGNATURE_LEN];  // EBX ECX EDX bytes, as returned
    char printable[HV_SIGNATURE_LEN + 1]; // same, trailing NULs cut, others '.'
};

struct hv_kvm_info {
    uint32_t base;     // 0 if KVM was not found
    uint32_t features; // leaf base+1 EAX
    uint32_t hints;    // leaf base+1 EDX
};

struct hv_xen_info {
    uint32_t base;
    uint16_t major, minor;
    uint32_t hypercall_pages, msr_base, features1; // leaf base+2
    uint32_t time_flags, tsc_mode, tsc_khz;        // leaf base+3
    uint32_t hvm_features, vcpu_id, domid;         // leaf base+4
};

struct hv_hyperv_info {
    uint32_t base;
    uint32_t interface;       // "Hv#1" for the TLFS interface
    uint32_t privileges;      // leaf 3 EAX: synthetic MSR access
    uint32_t hypercall_privs; // leaf 3 EBX
    uint32_t features;        // leaf 3 EDX
    uint32_t recommendations; // leaf 4 EAX
    uint32_t spin_retries;    // leaf 4 EBX (0xffffffff: never notify)
    uint32_t max_vps;         // leaf 5 EAX
};

struct hv_timing_info {
    uint32_t leaf;    // the base+0x10 leaf that answered, 0 if none
    uint32_t tsc_khz; // EAX
    uint32_t bus_khz; // EBX
};

struct hv_feature_state {
    bool offered; // written by hv_detect()
    bool used;    // set by the feature's user, never cleared
};

// Everything found out about the hypervisor. The global instance is written
// by hv_init() on the boot CPU before other CPUs start; afterwards only
// features[].used changes.
struct hv_info {
    bool detected;          // hv_detect() has filled this
    bool hypervisor_bit;    // CPUID.1:ECX[31]
    enum hv_family primary; // whose paravirtual interfaces to use
    uint32_t primary_base;  // its base leaf, 0 without one
    size_t nranges;         // non-empty ranges, lowest base first
    struct hv_range ranges[HV_MAX_RANGES];
    struct hv_kvm_info kvm;
    struct hv_xen_info xen;
    struct hv_hyperv_info hyperv;
    struct hv_timing_info timing;
    uint64_t tsc_khz;           // from the hypervisor, 0 if it did not say
    const char *tsc_khz_source; // "timing leaf", "xen time leaf" or NULL
    struct hv_feature_state features[HV_FEATURE_COUNT];
};

extern struct hv_info hv_info;

// Runs detection on the live CPU, fills hv_info and logs the boot line.
// Boot CPU, once, early (after arch_early_init); later calls do nothing.
void hv_init(void);

// Boot CPU, once, after the memory manager and before the timer starts:
// turns on the paravirtual clocks and helpers of the hypervisor found
// (kvmclock, steal time, PV EOI, PV IPIs; the Hyper-V reference TSC page).
void hv_init_late(void);
// Every other CPU, early in its bring-up (before it takes interrupts): the
// per-CPU part of hv_init_late().
void hv_init_cpu(void);

// hv_info queries. A feature out of range is neither offered nor usable.
bool hv_feature_offered(enum hv_feature f);
// Records that the caller turned f on. ERR_INVALID_ARGS for an unknown f,
// ERR_NOT_SUPPORTED if the hypervisor does not offer it (nothing recorded).
status_t hv_feature_set_used(enum hv_feature f);

// Renders the `hvinfo` report of hv_info, one line per call of print (the
// line has no newline and lives only for the call).
void hv_report(void (*print)(const char *line, void *ctx), void *ctx);
// Logs hv_report() at LOG_INFO, each line prefixed "hvinfo: ", then the
// clock source and (with KVM steal time) each online CPU's steal time. Boot
// CPU, after hv_init_late() so the "used" flags are final.
void hv_print_report(void);
// The same report as text (no "hvinfo: " prefix), one line per '\n', into
// buf (not terminated); returns its full length, which may exceed size
// (then only the first size bytes are written).
size_t hv_report_text(char *buf, size_t size);
// The one-line summary logged at boot, e.g.
// "hv: KVM at 0x40000000 (features: clocksource2 steal-time pv-eoi)".
// Always NUL-terminated; a list that does not fit ends in "...".
void hv_boot_line(char *buf, size_t n);

// The same on any struct hv_info (these are what the host tests exercise).
void hv_detect(struct hv_info *info, hv_cpuid_fn cpuid, void *ctx);
bool hv_info_offers(const struct hv_info *info, enum hv_feature f);
// Sets features[].offered from the per-family words (part of hv_detect).
void hv_info_derive_features(struct hv_info *info);
status_t hv_info_set_used(struct hv_info *info, enum hv_feature f);
void hv_info_report(const struct hv_info *info, void (*print)(const char *line, void *ctx),
                    void *ctx);
void hv_info_boot_line(const struct hv_info *info, char *buf, size_t n);

// Names: "KVM", "Xen", "Hyper-V", ...; features as in the boot line
// ("steal-time"). NULL for values out of range.
const char *hv_family_name(enum hv_family family);
const char *hv_feature_name(enum hv_feature f);
// The family a feature belongs to (HV_FAMILY_NONE for generic ones).
enum hv_family hv_feature_family(enum hv_feature f);
// Base leaf of the first range of `family`, 0 if there is none.
uint32_t hv_info_family_base(const struct hv_info *info, enum hv_family family);
