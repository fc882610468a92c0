// CPUID leaves and bits of the hypervisor interfaces Nimbus knows. Sources:
// the Intel SDM (leaf 1), the KVM CPUID documentation, Xen's public
// arch-x86/cpuid.h, the Hyper-V TLFS (feature discovery), VMware's timing
// leaf. Leaves are given as offsets from the base of their range
// (0x40000000 + 0x100 * k), since Xen and KVM may sit above a Hyper-V range.
#pragma once

// Architectural leaves.
#define HV_CPUID_LEAF_FEATURES    0x1
#define HV_CPUID_1_ECX_HYPERVISOR (1u << 31)

// The hypervisor ranges: up to 16 of 256 leaves each.
#define HV_LEAF_FIRST_BASE 0x40000000u
#define HV_LEAF_RANGE_STEP 0x100u
#define HV_LEAF_MAX_RANGES 16
// Leaf base+0: EAX = highest leaf of the range, EBX ECX EDX = signature.
#define HV_LEAF_SIGNATURE 0x0
// Leaf base+0x10 (VMware; QEMU with vmware-cpuid-freq; ACRN): EAX = TSC
// kHz, EBX = APIC bus kHz.
#define HV_LEAF_TIMING 0x10

// KVM. Old hosts report max leaf 0 at base+0: read it as base+1.
#define KVM_LEAF_FEATURES              1 // EAX features, EDX hints
#define KVM_FEATURE_CLOCKSOURCE        (1u << 0)
#define KVM_FEATURE_NOP_IO_DELAY       (1u << 1)
#define KVM_FEATURE_CLOCKSOURCE2       (1u << 3)
#define KVM_FEATURE_ASYNC_PF           (1u << 4)
#define KVM_FEATURE_STEAL_TIME         (1u << 5)
#define KVM_FEATURE_PV_EOI             (1u << 6)
#define KVM_FEATURE_PV_UNHALT          (1u << 7)
#define KVM_FEATURE_PV_TLB_FLUSH       (1u << 9)
#define KVM_FEATURE_ASYNC_PF_VMEXIT    (1u << 10)
#define KVM_FEATURE_PV_SEND_IPI        (1u << 11)
#define KVM_FEATURE_POLL_CONTROL       (1u << 12)
#define KVM_FEATURE_PV_SCHED_YIELD     (1u << 13)
#define KVM_FEATURE_ASYNC_PF_INT       (1u << 14)
#define KVM_FEATURE_MSI_EXT_DEST_ID    (1u << 15)
#define KVM_FEATURE_HC_MAP_GPA_RANGE   (1u << 16)
#define KVM_FEATURE_MIGRATION_CONTROL  (1u << 17)
#define KVM_FEATURE_CLOCKSOURCE_STABLE (1u << 24)
#define KVM_HINTS_REALTIME             (1u << 0)

// Xen (at the first free range: 0x40000100 when Viridian is on).
#define XEN_LEAF_VERSION                    1 // EAX = major << 16 | minor
#define XEN_LEAF_HYPERCALL                  2 // EAX pages, EBX MSR base, ECX features
#define XEN_LEAF_TIME                       3 // subleaf 0: EAX flags, EBX mode, ECX kHz
#define XEN_LEAF_HVM                        4 // subleaf 0: EAX flags, EBX vcpu, ECX domid
#define XEN_VERSION_MAJOR_SHIFT             16
#define XEN_VERSION_MINOR_MASK              0xffffu
#define XEN_FEAT1_MMU_PT_UPDATE_PRESERVE_AD (1u << 0)
#define XEN_TIME_TSC_EMULATED               (1u << 0)
#define XEN_TIME_TSC_RELIABLE               (1u << 1)
#define XEN_TIME_RDTSCP                     (1u << 2)
#define XEN_HVM_APIC_ACCESS_VIRT            (1u << 0)
#define XEN_HVM_X2APIC_VIRT                 (1u << 1)
#define XEN_HVM_IOMMU_MAPPINGS              (1u << 2)
#define XEN_HVM_VCPU_ID_PRESENT             (1u << 3)
#define XEN_HVM_DOMID_PRESENT               (1u << 4)
#define XEN_HVM_EXT_DEST_ID                 (1u << 5)
#define XEN_HVM_UPCALL_VECTOR               (1u << 6)

// Hyper-V (always at 0x40000000 when present).
#define HYPERV_LEAF_INTERFACE       1           // EAX = "Hv#1"
#define HYPERV_LEAF_FEATURES        3           // EAX/EBX privileges, EDX features
#define HYPERV_LEAF_RECOMMENDATIONS 4           // EAX hints, EBX spin retries
#define HYPERV_LEAF_LIMITS          5           // EAX max virtual processors
#define HYPERV_INTERFACE_HV1        0x31237648u // "Hv#1"
// Leaf 3 EAX: the partition's access to synthetic MSRs.
#define HYPERV_PRIV_VP_RUNTIME       (1u << 0)
#define HYPERV_PRIV_TIME_REF_COUNT   (1u << 1)
#define HYPERV_PRIV_SYNIC            (1u << 2)
#define HYPERV_PRIV_SYNTHETIC_TIMERS (1u << 3)
#define HYPERV_PRIV_APIC_MSRS        (1u << 4)
#define HYPERV_PRIV_HYPERCALL_MSRS   (1u << 5)
#define HYPERV_PRIV_VP_INDEX         (1u << 6)
#define HYPERV_PRIV_RESET            (1u << 7)
#define HYPERV_PRIV_REFERENCE_TSC    (1u << 9)
#define HYPERV_PRIV_GUEST_IDLE       (1u << 10)
#define HYPERV_PRIV_FREQUENCY_MSRS   (1u << 11)
#define HYPERV_PRIV_REENLIGHTENMENT  (1u << 13)
// Leaf 3 EDX: features.
#define HYPERV_FEAT_XMM_HYPERCALL_INPUT (1u << 4)
#define HYPERV_FEAT_GUEST_CRASH_MSRS    (1u << 10)
#define HYPERV_FEAT_DIRECT_STIMER       (1u << 19)
// Leaf 4 EAX: what the hypervisor recommends.
#define HYPERV_REC_LOCAL_FLUSH_HYPERCALL  (1u << 1)
#define HYPERV_REC_REMOTE_FLUSH_HYPERCALL (1u << 2)
#define HYPERV_REC_APIC_MSRS              (1u << 3)
#define HYPERV_REC_RESET_MSR              (1u << 4)
#define HYPERV_REC_RELAXED_TIMING         (1u << 5)
#define HYPERV_REC_X2APIC_MSRS            (1u << 8)
#define HYPERV_REC_DEPRECATE_AUTO_EOI     (1u << 9)
#define HYPERV_REC_CLUSTER_IPI            (1u << 10)
#define HYPERV_REC_EX_PROCESSOR_MASKS     (1u << 11)
