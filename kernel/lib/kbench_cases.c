// Benchmarks of kernel primitives: clock reads, allocation, thread switch,
// timer latency.
#include "arch.h"
#include "lib/kbench.h"
#include "mm/pmm.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "sched/timer.h"

static uint64_t bench_clock_read(uint64_t iters)
{
    volatile uint64_t sink = 0;
    uint64_t t0 = arch_cycles();
    for (uint64_t i = 0; i < iters; i++)
        sink += clock_monotonic_ns();
    return (arch_cycles() - t0) / iters;
}
KBENCH(clock_read, "clock_read", bench_clock_read, 10000);

static uint64_t bench_kmalloc_pair(uint64_t iters)
{
    uint64_t t0 = arch_cycles();
    for (uint64_t i = 0; i < iters; i++)
        kfree(kmalloc(64));
    return (arch_cycles() - t0) / iters;
}
KBENCH(kmalloc_pair, "kmalloc_kfree_64", bench_kmalloc_pair, 10000);

static uint64_t bench_page_pair(uint64_t iters)
{
    uint64_t t0 = arch_cycles();
    for (uint64_t i = 0; i < iters; i++) {
        paddr_t pa;
        if (pmm_alloc(0, 0, &pa) == OK)
            pmm_free(pa, 0);
    }
    return (arch_cycles() - t0) / iters;
}
KBENCH(page_pair, "page_alloc_free", bench_page_pair, 10000);

static volatile uint64_t switch_rounds;

static int yielder(void *arg)
{
    for (uint64_t i = 0; i < switch_rounds; i++)
        thread_yield();
    return 0;
}

// Two threads of the same priority yield to each other: 2 switches a round.
static uint64_t bench_thread_switch(uint64_t iters)
{
    struct thread *a, *b;
    switch_rounds = iters;
    if (thread_create("kb-a", yielder, NULL, PRIO_HIGH, &a) != OK)
        return 0;
    if (thread_create("kb-b", yielder, NULL, PRIO_HIGH, &b) != OK) {
        thread_discard(a);
        return 0;
    }
    uint64_t t0 = arch_cycles();
    thread_start(a);
    thread_start(b);
    thread_join(a, DEADLINE_INFINITE, NULL);
    uint64_t t1 = arch_cycles();
    thread_join(b, DEADLINE_INFINITE, NULL);
    return (t1 - t0) / (2 * iters);
}
KBENCH(thread_switch, "thread_switch", bench_thread_switch, 2000);

struct latency {
    uint64_t asked;     // deadline, ns
    uint64_t delivered; // clock when the callback ran, ns
};

static void note_delivery(struct ktimer *t, void *arg)
{
    struct latency *l = arg;
    l->delivered = clock_monotonic_ns();
}

// How late a timer callback runs after its deadline (100 us ahead), in
// cycles: the one-shot hardware path end to end.
static uint64_t bench_timer_latency(uint64_t iters)
{
    uint64_t total = 0;
    for (uint64_t i = 0; i < iters; i++) {
        struct latency l = {0};
        struct ktimer t;
        ktimer_init(&t, note_delivery, &l);
        l.asked = clock_monotonic_ns() + 100000;
        ktimer_arm(&t, l.asked);
        while (!READ_ONCE(l.delivered))
            thread_sleep_ns(10000); // block: the CPU idles until an interrupt
        total += l.delivered - l.asked;
    }
    // Reported in cycles like every case: convert ns back.
    return total / iters * (clock_tsc_hz() / 1000000) / 1000;
}
KBENCH(timer_latency, "timer_latency", bench_timer_latency, 16);
