// The early monotonic clock: TSC cycles scaled to nanoseconds.
#include "arch.h"
#include "sched/clock.h"

static uint64_t entry_tsc;
static uint64_t tsc_hz;
static uint64_t ns_mult; // ns = (cycles * ns_mult) >> 32
static const char *tsc_source = "none";

void clock_init_early(uint64_t tsc)
{
    entry_tsc = tsc;
    tsc_hz = arch_tsc_hz(&tsc_source);
    if (tsc_hz)
        ns_mult = (1000000000ull << 32) / tsc_hz;
}

uint64_t clock_cycles_to_ns(uint64_t cycles)
{
    return (uint64_t)(((unsigned __int128)cycles * ns_mult) >> 32);
}

uint64_t clock_monotonic_ns(void)
{
    if (!ns_mult)
        return 0;
    return clock_cycles_to_ns(arch_cycles() - entry_tsc);
}

uint64_t clock_entry_tsc(void)
{
    return entry_tsc;
}

uint64_t clock_tsc_hz(void)
{
    return tsc_hz;
}

const char *clock_tsc_source(void)
{
    return tsc_source;
}
