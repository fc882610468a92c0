// Hyper-V reference time (TLFS, "Timers" and "Hypercall Interface"): the
// partition reference TSC page, registered as a clock source (rating 250)
// with the reference counter MSR as the TLFS fallback, and the TSC
// frequency MSR. Also the guest OS identity the TLFS asks a guest to report.
//
// Host-tested only: QEMU's hv-time enlightenment crashes QEMU on this
// project's nested KVM, so no live run has exercised hyperv_init().
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hv/pvclock.h"
#include "mm/phys.h"

// Synthetic MSRs.
#define HV_X64_MSR_GUEST_OS_ID    0x40000000
#define HV_X64_MSR_TIME_REF_COUNT 0x40000020 // 100 ns units since partition creation
#define HV_X64_MSR_REFERENCE_TSC  0x40000021 // page GPA | enable
#define HV_X64_MSR_TSC_FREQUENCY  0x40000022 // Hz

// HV_X64_MSR_REFERENCE_TSC: bits 63:12 page number, 11:1 preserved, 0 enable.
#define HYPERV_REF_TSC_ENABLE    (1ull << 0)
#define HYPERV_REF_TSC_KEEP_MASK 0xffeull
#define HYPERV_REF_TSC_PAGE_MASK (~0xfffull)

// Leaf 0x40000003 EDX bit 8: the frequency MSRs are implemented (access
// also needs the AccessFrequencyRegs privilege, HV_FEAT_HYPERV_FREQUENCY_MSRS).
#define HYPERV_FEAT_EDX_FREQUENCY_MSRS (1u << 8)

// Guest OS identity, the TLFS encoding for open-source systems: bit 63 open
// source, 62:56 OS type (allocated by Microsoft; none is for Nimbus, so 0),
// 55:48 OS id, 47:16 version, 15:0 build.
#define HYPERV_GUEST_OS_OPEN_SOURCE   (1ull << 63)
#define HYPERV_GUEST_OS_VERSION_SHIFT 16
#define NIMBUS_HYPERV_VERSION         0x00000100u // 0.1.0: major << 16 | minor << 8 | patch

#define HYPERV_REF_TIME_UNIT_NS 100

// The guest OS id value for a version and build.
uint64_t hyperv_guest_os_id(uint32_t version, uint16_t build);

// The value that maps the reference TSC page at `page` and enables it,
// keeping the reserved bits of the MSR's old value.
uint64_t hyperv_reference_tsc_msr(uint64_t old, paddr_t page);

// Reads the reference counter MSR.
typedef uint64_t (*hyperv_ref_count_fn)(void *ctx);

// Reference time in 100 ns units: from the page while its sequence is
// valid, else from the reference counter (the TLFS read loop).
uint64_t hyperv_ref_time_100ns(const volatile struct hyperv_tsc_page *page, pvclock_tsc_fn read_tsc,
                               hyperv_ref_count_fn ref_count, void *ctx);

// Kernel only.

// Boot CPU, after the memory manager (hv_init_late calls it): when the
// partition may use the reference TSC page and the reference counter, maps
// the page and registers the "hyperv-tsc-page" clock source; takes the TSC
// rate from the frequency MSR when it is offered. Does nothing elsewhere.
void hyperv_init(void);

// The clock source's reading in ns (0 when not in use).
uint64_t hyperv_clock_read_ns(void);
bool hyperv_clock_active(void);
