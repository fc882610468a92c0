// The monotonic and wall clocks: a registered clock source, kept continuous
// across source changes and never going backwards across CPUs.
#include "arch.h"
#include "lib/printk.h"
#include "sched/clock.h"

static uint64_t entry_tsc;
static uint64_t tsc_hz;
static uint64_t ns_mult; // ns = (cycles * ns_mult) >> 32
static const char *tsc_source = "none";

static const struct clocksource *source; // NULL: the TSC
static int64_t source_offset;            // added to source->read_ns()
static uint64_t last_ns;                 // the largest value handed out (atomic)

static uint64_t realtime_base; // unix ns at monotonic realtime_mono
static uint64_t realtime_mono;
static const char *realtime_source = "none";

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

static uint64_t raw_ns(void)
{
    if (source)
        return (uint64_t)((int64_t)source->read_ns() + source_offset);
    if (!ns_mult)
        return 0;
    return clock_cycles_to_ns(arch_cycles() - entry_tsc);
}

uint64_t clock_monotonic_ns(void)
{
    uint64_t now = raw_ns();
    uint64_t last = __atomic_load_n(&last_ns, __ATOMIC_RELAXED);
    // Hand out max(now, last): another CPU's clock may be a little ahead.
    while (now > last)
        if (__atomic_compare_exchange_n(&last_ns, &last, now, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return now;
    return last;
}

void clock_register(const struct clocksource *cs)
{
    int current = source ? source->rating : 100;
    if (cs->rating <= current)
        return;
    irqstate_t s = arch_irq_save();
    uint64_t now = clock_monotonic_ns();
    source_offset = (int64_t)now - (int64_t)cs->read_ns();
    source = cs;
    arch_irq_restore(s);
    pr_info("clock: monotonic clock now on %s", cs->name);
}

const char *clock_source_name(void)
{
    return source ? source->name : "tsc";
}

void clock_set_tsc_hz(uint64_t hz, const char *why)
{
    if (!hz)
        return;
    irqstate_t s = arch_irq_save();
    uint64_t now = clock_monotonic_ns();
    tsc_hz = hz;
    tsc_source = why;
    ns_mult = (1000000000ull << 32) / hz;
    // Re-base so the TSC-derived time continues from `now`.
    uint64_t cycles = now / 1000000000ull * hz + now % 1000000000ull * hz / 1000000000ull;
    entry_tsc = arch_cycles() - cycles;
    arch_irq_restore(s);
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

void clock_set_realtime(uint64_t unix_ns, const char *why)
{
    irqstate_t s = arch_irq_save();
    realtime_mono = clock_monotonic_ns();
    realtime_base = unix_ns;
    realtime_source = why;
    arch_irq_restore(s);
}

uint64_t clock_realtime_ns(void)
{
    if (!realtime_base)
        return 0;
    return realtime_base + (clock_monotonic_ns() - realtime_mono);
}

const char *clock_realtime_source(void)
{
    return realtime_source;
}
