// The CPU instructions the hypervisor drivers (kvm.c, hyperv.c) use: MSR
// access and a TSC read ordered after earlier loads. x86_64 only, kernel
// only (the host tests compile the drivers' pure parts without these).
#pragma once

#include <stdint.h>

static inline uint64_t hv_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void hv_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

// rdtsc that does not run ahead of the loads before it (a pvclock's or a
// reference TSC page's fields). `ctx` is unused: the shape of the clock
// readers' TSC callback.
static inline uint64_t hv_ordered_tsc(void *ctx)
{
    uint32_t lo, hi;
    (void)ctx;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return (uint64_t)hi << 32 | lo;
}
