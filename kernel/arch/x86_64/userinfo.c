// Facts about the CPU that the kernel passes to new programs.
#include <stdbool.h>

#include "sys/user.h"
#include "x86.h"

#define CPUID_1_ECX_RDRAND (1u << 30)

uint64_t arch_user_hwcap(void)
{
    return cpuid(CPUID_FEATURES, 0).edx;
}

static bool rdrand64(uint64_t *out)
{
    for (int i = 0; i < 10; i++) { // the instruction may fail transiently
        unsigned char ok;
        __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok));
        if (ok)
            return true;
    }
    return false;
}

uint64_t arch_random_seed(void)
{
    uint64_t v;
    if ((cpuid(CPUID_FEATURES, 0).ecx & CPUID_1_ECX_RDRAND) && rdrand64(&v))
        return v;
    // No RDRAND: mix TSC readings (their low bits jitter under emulation).
    v = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 8; i++)
        v = (v ^ rdtsc()) * 0xbf58476d1ce4e5b9ull;
    return v ^ (v >> 31);
}
