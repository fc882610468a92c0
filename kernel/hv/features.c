// nimbus:host
// The named hypervisor features: one table saying, for each, which CPUID
// word and bit offers it, plus the offered/used bookkeeping.
#include "hv/hv.h"
#include "hv/leaves.h"
#include "lib/compiler.h"

// The CPUID words features are read from.
enum hv_word {
    WORD_KVM_FEATURES,
    WORD_KVM_HINTS,
    WORD_XEN_HYPERCALL_PAGES,
    WORD_XEN_FEATURES1,
    WORD_XEN_TIME,
    WORD_XEN_HVM,
    WORD_HYPERV_PRIVILEGES,
    WORD_HYPERV_FEATURES,
    WORD_HYPERV_RECOMMENDATIONS,
    WORD_TIMING_TSC_KHZ,
};

#define ANY_BIT 0xffffffffu // offered when the word is non-zero

struct feature_desc {
    const char *name;
    enum hv_family family;
    enum hv_word word;
    uint32_t mask;
};

#define KVM(n, w, m)           \
    {                          \
        n, HV_FAMILY_KVM, w, m \
    }
#define XEN(n, w, m)           \
    {                          \
        n, HV_FAMILY_XEN, w, m \
    }
#define HYPERV(n, w, m)           \
    {                             \
        n, HV_FAMILY_HYPERV, w, m \
    }

static const struct feature_desc features[HV_FEATURE_COUNT] = {
    [HV_FEAT_KVM_CLOCKSOURCE] = KVM("clocksource", WORD_KVM_FEATURES, KVM_FEATURE_CLOCKSOURCE),
    [HV_FEAT_KVM_NOP_IO_DELAY] = KVM("nop-io-delay", WORD_KVM_FEATURES, KVM_FEATURE_NOP_IO_DELAY),
    [HV_FEAT_KVM_CLOCKSOURCE2] = KVM("clocksource2", WORD_KVM_FEATURES, KVM_FEATURE_CLOCKSOURCE2),
    [HV_FEAT_KVM_ASYNC_PF] = KVM("async-pf", WORD_KVM_FEATURES, KVM_FEATURE_ASYNC_PF),
    [HV_FEAT_KVM_STEAL_TIME] = KVM("steal-time", WORD_KVM_FEATURES, KVM_FEATURE_STEAL_TIME),
    [HV_FEAT_KVM_PV_EOI] = KVM("pv-eoi", WORD_KVM_FEATURES, KVM_FEATURE_PV_EOI),
    [HV_FEAT_KVM_PV_UNHALT] = KVM("pv-unhalt", WORD_KVM_FEATURES, KVM_FEATURE_PV_UNHALT),
    [HV_FEAT_KVM_PV_TLB_FLUSH] = KVM("pv-tlb-flush", WORD_KVM_FEATURES, KVM_FEATURE_PV_TLB_FLUSH),
    [HV_FEAT_KVM_ASYNC_PF_VMEXIT] =
        KVM("async-pf-vmexit", WORD_KVM_FEATURES, KVM_FEATURE_ASYNC_PF_VMEXIT),
    [HV_FEAT_KVM_PV_SEND_IPI] = KVM("pv-send-ipi", WORD_KVM_FEATURES, KVM_FEATURE_PV_SEND_IPI),
    [HV_FEAT_KVM_POLL_CONTROL] = KVM("poll-control", WORD_KVM_FEATURES, KVM_FEATURE_POLL_CONTROL),
    [HV_FEAT_KVM_PV_SCHED_YIELD] =
        KVM("pv-sched-yield", WORD_KVM_FEATURES, KVM_FEATURE_PV_SCHED_YIELD),
    [HV_FEAT_KVM_ASYNC_PF_INT] = KVM("async-pf-int", WORD_KVM_FEATURES, KVM_FEATURE_ASYNC_PF_INT),
    [HV_FEAT_KVM_MSI_EXT_DEST_ID] =
        KVM("msi-ext-dest-id", WORD_KVM_FEATURES, KVM_FEATURE_MSI_EXT_DEST_ID),
    [HV_FEAT_KVM_MAP_GPA_RANGE] =
        KVM("map-gpa-range", WORD_KVM_FEATURES, KVM_FEATURE_HC_MAP_GPA_RANGE),
    [HV_FEAT_KVM_MIGRATION_CONTROL] =
        KVM("migration-control", WORD_KVM_FEATURES, KVM_FEATURE_MIGRATION_CONTROL),
    [HV_FEAT_KVM_CLOCK_STABLE] =
        KVM("clock-stable", WORD_KVM_FEATURES, KVM_FEATURE_CLOCKSOURCE_STABLE),
    [HV_FEAT_KVM_HINT_REALTIME] = KVM("hint-realtime", WORD_KVM_HINTS, KVM_HINTS_REALTIME),

    [HV_FEAT_XEN_HYPERCALL_PAGE] = XEN("xen-hypercall-page", WORD_XEN_HYPERCALL_PAGES, ANY_BIT),
    [HV_FEAT_XEN_PT_PRESERVE_AD] =
        XEN("xen-pt-preserve-ad", WORD_XEN_FEATURES1, XEN_FEAT1_MMU_PT_UPDATE_PRESERVE_AD),
    [HV_FEAT_XEN_TSC_EMULATED] = XEN("xen-tsc-emulated", WORD_XEN_TIME, XEN_TIME_TSC_EMULATED),
    [HV_FEAT_XEN_TSC_RELIABLE] = XEN("xen-tsc-reliable", WORD_XEN_TIME, XEN_TIME_TSC_RELIABLE),
    [HV_FEAT_XEN_RDTSCP] = XEN("xen-rdtscp", WORD_XEN_TIME, XEN_TIME_RDTSCP),
    [HV_FEAT_XEN_APIC_VIRT] = XEN("xen-apic-virt", WORD_XEN_HVM, XEN_HVM_APIC_ACCESS_VIRT),
    [HV_FEAT_XEN_X2APIC_VIRT] = XEN("xen-x2apic-virt", WORD_XEN_HVM, XEN_HVM_X2APIC_VIRT),
    [HV_FEAT_XEN_IOMMU_MAPPINGS] = XEN("xen-iommu-mappings", WORD_XEN_HVM, XEN_HVM_IOMMU_MAPPINGS),
    [HV_FEAT_XEN_VCPU_ID] = XEN("xen-vcpu-id", WORD_XEN_HVM, XEN_HVM_VCPU_ID_PRESENT),
    [HV_FEAT_XEN_DOMID] = XEN("xen-domid", WORD_XEN_HVM, XEN_HVM_DOMID_PRESENT),
    [HV_FEAT_XEN_EXT_DEST_ID] = XEN("xen-ext-dest-id", WORD_XEN_HVM, XEN_HVM_EXT_DEST_ID),
    [HV_FEAT_XEN_UPCALL_VECTOR] = XEN("xen-upcall-vector", WORD_XEN_HVM, XEN_HVM_UPCALL_VECTOR),

    [HV_FEAT_HYPERV_VP_RUNTIME] =
        HYPERV("hv-runtime", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_VP_RUNTIME),
    [HV_FEAT_HYPERV_TIME_REF_COUNT] =
        HYPERV("hv-time-ref-count", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_TIME_REF_COUNT),
    [HV_FEAT_HYPERV_SYNIC] = HYPERV("hv-synic", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_SYNIC),
    [HV_FEAT_HYPERV_STIMER] =
        HYPERV("hv-stimer", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_SYNTHETIC_TIMERS),
    [HV_FEAT_HYPERV_APIC_MSRS] =
        HYPERV("hv-apic-msrs", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_APIC_MSRS),
    [HV_FEAT_HYPERV_HYPERCALL] =
        HYPERV("hv-hypercall", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_HYPERCALL_MSRS),
    [HV_FEAT_HYPERV_VP_INDEX] = HYPERV("hv-vpindex", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_VP_INDEX),
    [HV_FEAT_HYPERV_RESET] = HYPERV("hv-reset", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_RESET),
    [HV_FEAT_HYPERV_REFERENCE_TSC] =
        HYPERV("hv-reference-tsc", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_REFERENCE_TSC),
    [HV_FEAT_HYPERV_GUEST_IDLE] =
        HYPERV("hv-guest-idle", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_GUEST_IDLE),
    [HV_FEAT_HYPERV_FREQUENCY_MSRS] =
        HYPERV("hv-frequencies", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_FREQUENCY_MSRS),
    [HV_FEAT_HYPERV_REENLIGHTENMENT] =
        HYPERV("hv-reenlightenment", WORD_HYPERV_PRIVILEGES, HYPERV_PRIV_REENLIGHTENMENT),
    [HV_FEAT_HYPERV_XMM_HYPERCALL] =
        HYPERV("hv-xmm-input", WORD_HYPERV_FEATURES, HYPERV_FEAT_XMM_HYPERCALL_INPUT),
    [HV_FEAT_HYPERV_CRASH_MSRS] =
        HYPERV("hv-crash", WORD_HYPERV_FEATURES, HYPERV_FEAT_GUEST_CRASH_MSRS),
    [HV_FEAT_HYPERV_STIMER_DIRECT] =
        HYPERV("hv-stimer-direct", WORD_HYPERV_FEATURES, HYPERV_FEAT_DIRECT_STIMER),
    [HV_FEAT_HYPERV_REC_LOCAL_FLUSH] =
        HYPERV("hv-rec-local-flush", WORD_HYPERV_RECOMMENDATIONS, HYPERV_REC_LOCAL_FLUSH_HYPERCALL),
    [HV_FEAT_HYPERV_REC_REMOTE_FLUSH] = HYPERV("hv-rec-remote-flush", WORD_HYPERV_RECOMMENDATIONS,
                                               HYPERV_REC_REMOTE_FLUSH_HYPERCALL),
    [HV_FEAT_HYPERV_REC_APIC_MSRS] =
        HYPERV("hv-rec-apic-msrs", WORD_HYPERV_RECOMMENDATIONS, HYPERV_REC_APIC_MSRS),
    [HV_FEAT_HYPERV_REC_RESET] =
        HYPERV("hv-rec-reset", WORD_HYPERV_RECOMMENDATIONS, HYPERV_REC_RESET_MSR),
    [HV_FEAT_HYPERV_REC_RELAXED_TIMING] =
        HYPERV("hv-relaxed", WORD_HYPERV_RECOMMENDATIONS, HYPERV_REC_RELAXED_TIMING),
    [HV_FEAT_HYPERV_REC_X2APIC_MSRS] =
        HYPERV("hv-rec-x2apic-msrs", WORD_HYPERV_RECOMMENDATIONS, HYPERV_REC_X2APIC_MSRS),
    [HV_FEAT_HYPERV_REC_NO_AUTO_EOI] =
        HYPERV("hv-no-auto-eoi", WORD_HYPERV_RECOMMENDATIONS, HYPERV_REC_DEPRECATE_AUTO_EOI),
    [HV_FEAT_HYPERV_REC_CLUSTER_IPI] =
        HYPERV("hv-cluster-ipi", WORD_HYPERV_RECOMMENDATIONS, HYPERV_REC_CLUSTER_IPI),
    [HV_FEAT_HYPERV_REC_EX_MASKS] =
        HYPERV("hv-ex-processor-masks", WORD_HYPERV_RECOMMENDATIONS, HYPERV_REC_EX_PROCESSOR_MASKS),

    [HV_FEAT_TSC_FREQ_LEAF] = {"tsc-freq-leaf", HV_FAMILY_NONE, WORD_TIMING_TSC_KHZ, ANY_BIT},
};

static const char *const family_names[HV_FAMILY_COUNT] = {
    [HV_FAMILY_NONE] = "none",       [HV_FAMILY_HIDDEN] = "hidden",
    [HV_FAMILY_UNKNOWN] = "unknown", [HV_FAMILY_KVM] = "KVM",
    [HV_FAMILY_XEN] = "Xen",         [HV_FAMILY_HYPERV] = "Hyper-V",
    [HV_FAMILY_VMWARE] = "VMware",   [HV_FAMILY_TCG] = "TCG",
    [HV_FAMILY_BHYVE] = "bhyve",     [HV_FAMILY_ACRN] = "ACRN",
    [HV_FAMILY_QNX] = "QNX",         [HV_FAMILY_PARALLELS] = "Parallels",
};

static bool valid_feature(enum hv_feature f)
{
    return (unsigned)f < HV_FEATURE_COUNT;
}

const char *hv_family_name(enum hv_family family)
{
    return (unsigned)family < HV_FAMILY_COUNT ? family_names[family] : NULL;
}

const char *hv_feature_name(enum hv_feature f)
{
    return valid_feature(f) ? features[f].name : NULL;
}

enum hv_family hv_feature_family(enum hv_feature f)
{
    return valid_feature(f) ? features[f].family : HV_FAMILY_NONE;
}

static uint32_t word_value(const struct hv_info *info, enum hv_word w)
{
    switch (w) {
    case WORD_KVM_FEATURES:
        return info->kvm.features;
    case WORD_KVM_HINTS:
        return info->kvm.hints;
    case WORD_XEN_HYPERCALL_PAGES:
        return info->xen.hypercall_pages;
    case WORD_XEN_FEATURES1:
        return info->xen.features1;
    case WORD_XEN_TIME:
        return info->xen.time_flags;
    case WORD_XEN_HVM:
        return info->xen.hvm_features;
    case WORD_HYPERV_PRIVILEGES:
        return info->hyperv.privileges;
    case WORD_HYPERV_FEATURES:
        return info->hyperv.features;
    case WORD_HYPERV_RECOMMENDATIONS:
        return info->hyperv.recommendations;
    case WORD_TIMING_TSC_KHZ:
        return info->timing.tsc_khz;
    }
    return 0;
}

void hv_info_derive_features(struct hv_info *info)
{
    for (size_t f = 0; f < HV_FEATURE_COUNT; f++)
        info->features[f].offered = (word_value(info, features[f].word) & features[f].mask) != 0;
}

bool hv_info_offers(const struct hv_info *info, enum hv_feature f)
{
    return valid_feature(f) && info->features[f].offered;
}

status_t hv_info_set_used(struct hv_info *info, enum hv_feature f)
{
    if (!valid_feature(f))
        return ERR_INVALID_ARGS;
    if (!info->features[f].offered)
        return ERR_NOT_SUPPORTED;
    info->features[f].used = true;
    return OK;
}
