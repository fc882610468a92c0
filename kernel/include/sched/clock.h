// The kernel's monotonic clock. Until the hypervisor layer picks a better
// source, it is the TSC with a frequency from CPUID or calibrated against the
// PIT; time 0 is the PVH entry.
#pragma once

#include <stdint.h>

// Records the entry TSC and finds the TSC rate. Called once, first thing.
void clock_init_early(uint64_t entry_tsc);

// Nanoseconds since PVH entry (0 before clock_init_early).
uint64_t clock_monotonic_ns(void);

// Converts a TSC delta to nanoseconds.
uint64_t clock_cycles_to_ns(uint64_t cycles);

uint64_t clock_entry_tsc(void);
uint64_t clock_tsc_hz(void);
// How the TSC rate was found: "cpuid-15h", "cpuid-16h", "hv-leaf", "pit".
const char *clock_tsc_source(void);

// Architecture hook: finds the TSC frequency, returns 0 if it cannot.
uint64_t arch_tsc_hz(const char **source);
