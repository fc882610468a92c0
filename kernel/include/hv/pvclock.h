// Paravirtual time arithmetic: the KVM/Xen pvclock area, the Hyper-V
// reference TSC page and the KVM steal time area. The readers follow each
// interface's version protocol; they touch no hardware themselves (the
// caller passes the TSC reader), so the host tests drive them with fakes.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nimbus/status.h"

// Reads the TSC. In the kernel it must not execute before the loads that
// precede the call (an ordered rdtsc: lfence; rdtsc, or rdtscp).
typedef uint64_t (*pvclock_tsc_fn)(void *ctx);

// KVM (MSR_KVM_SYSTEM_TIME_NEW) and Xen (vcpu_time_info) per-vCPU time area.
// The hypervisor makes version odd while it updates the rest.
struct pvclock_vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;     // TSC when system_time was sampled
    uint64_t system_time;       // ns
    uint32_t tsc_to_system_mul; // 32.32 fixed point, after the shift
    int8_t tsc_shift;           // >0: shift the delta left, <0: right
    uint8_t flags;              // PVCLOCK_*
    uint8_t pad[2];
};
_Static_assert(sizeof(struct pvclock_vcpu_time_info) == 32, "pvclock area layout");

#define PVCLOCK_TSC_STABLE_BIT (1u << 0)
#define PVCLOCK_GUEST_STOPPED  (1u << 1)

// The pvclock scaling of a TSC delta: shift by `shift`, then multiply by
// mul / 2^32 with a 128-bit product. Shifts of 64 or more give 0.
uint64_t pvclock_scale_delta(uint64_t delta, uint32_t mul, int8_t shift);

// System time in ns from a consistent snapshot of the area and a TSC value.
// A TSC behind tsc_timestamp counts as no time elapsed.
uint64_t pvclock_time_at(const struct pvclock_vcpu_time_info *snap, uint64_t tsc);

// Reads the area (retrying while version is odd or changes under the read)
// and returns system time in ns; *flags (if not NULL) gets the area's flags.
uint64_t pvclock_read(const volatile struct pvclock_vcpu_time_info *area, pvclock_tsc_fn read_tsc,
                      void *ctx, uint8_t *flags);

// The version check of the protocol: true if a read that started at version
// `start` must be repeated because the area now has version `now`.
bool pvclock_version_retry(uint32_t start, uint32_t now);

// Finds mul and shift such that pvclock_scale_delta(d, mul, shift) is
// d * to_hz / from_hz, rounded down, to within one part in 2^31 (e.g. a TSC
// rate to 1e9 for nanoseconds). mul is in [2^31, 2^32). ERR_INVALID_ARGS if
// either rate is 0; ERR_OUT_OF_RANGE if the ratio needs |shift| > 63.
status_t pvclock_mul_shift(uint64_t from_hz, uint64_t to_hz, uint32_t *mul, int8_t *shift);

// Hyper-V reference TSC page (its first 24 bytes; the page is 4 KiB).
// time = ((tsc * tsc_scale) >> 64) + tsc_offset, in 100 ns units. A sequence
// of 0 means the page is not valid now: read HV_X64_MSR_TIME_REF_COUNT.
struct hyperv_tsc_page {
    uint32_t tsc_sequence;
    uint32_t reserved1;
    uint64_t tsc_scale; // 64.64 fixed point
    int64_t tsc_offset;
};
_Static_assert(sizeof(struct hyperv_tsc_page) == 24, "reference TSC page layout");

#define HYPERV_TSC_PAGE_INVALID 0u

// The formula alone: the high half of the 128-bit product, plus the offset.
uint64_t hyperv_tsc_scale(uint64_t tsc, uint64_t scale, int64_t offset);

// Reads the page (retrying while tsc_sequence changes under the read) into
// *time_100ns. ERR_BAD_STATE if the sequence is 0: fall back to the MSR.
status_t hyperv_tsc_page_read(const volatile struct hyperv_tsc_page *page, pvclock_tsc_fn read_tsc,
                              void *ctx, uint64_t *time_100ns);

// KVM steal time area (MSR_KVM_STEAL_TIME, 64-byte aligned): time this vCPU
// was runnable but not running. Same odd/changed version protocol.
struct kvm_steal_time {
    uint64_t steal; // ns
    uint32_t version;
    uint32_t flags;
    uint8_t preempted; // KVM_VCPU_*
    uint8_t pad8[3];
    uint32_t pad[11];
};
_Static_assert(sizeof(struct kvm_steal_time) == 64, "steal time area layout");

#define KVM_VCPU_PREEMPTED (1u << 0)
#define KVM_VCPU_FLUSH_TLB (1u << 1)

// Returns the steal time in ns. relax (may be NULL) runs before every retry,
// e.g. to pause the CPU while the hypervisor finishes an update.
uint64_t kvm_steal_time_read(const volatile struct kvm_steal_time *st, void (*relax)(void *ctx),
                             void *ctx);
