// The kernel's clocks. The monotonic clock counts nanoseconds since the PVH
// entry; it starts on the TSC (rate from CPUID or calibrated against the
// PIT) and moves to the best clock source the hypervisor layer registers
// (kvmclock, Xen vcpu time, Hyper-V reference TSC page ...). It never goes
// backwards, on any CPU, including across a change of source.
#pragma once

#include <stdint.h>

#include "nimbus/status.h"

// Records the entry TSC and finds the TSC rate. Called once, first thing.
void clock_init_early(uint64_t entry_tsc);

// Nanoseconds since PVH entry (0 before clock_init_early).
uint64_t clock_monotonic_ns(void);

// Converts a TSC delta to nanoseconds (with the TSC rate found at boot).
uint64_t clock_cycles_to_ns(uint64_t cycles);

uint64_t clock_entry_tsc(void);
uint64_t clock_tsc_hz(void);
// How the TSC rate was found: "cpuid-15h", "cpuid-16h", "hv-leaf", "pit".
const char *clock_tsc_source(void);

// Architecture hook: finds the TSC frequency, returns 0 if it cannot.
uint64_t arch_tsc_hz(const char **source);

// A source of monotonic time. read_ns() returns nanoseconds from any origin,
// must never go backwards on one CPU and must be callable with interrupts
// off. Higher rating wins; the TSC source has rating 100.
struct clocksource {
    const char *name;
    int rating;
    uint64_t (*read_ns)(void);
};

// Switches to cs when it rates higher than the current source. The switch
// keeps the monotonic clock continuous.
void clock_register(const struct clocksource *cs);
const char *clock_source_name(void);

// Replaces the TSC rate (a hypervisor that states it exactly, e.g. kvmclock's
// mul/shift or the timing leaf, beats calibration). Keeps time continuous.
void clock_set_tsc_hz(uint64_t hz, const char *source);

// Wall-clock time: nanoseconds since 1970-01-01 UTC, or 0 when unknown.
uint64_t clock_realtime_ns(void);
// Sets the wall clock from a reading taken now (a wall-clock source calls it:
// the KVM wall clock, the CMOS RTC).
void clock_set_realtime(uint64_t unix_ns, const char *source);
const char *clock_realtime_source(void);
