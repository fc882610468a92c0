// The in-kernel benchmark runner.
#include "arch.h"
#include "lib/kbench.h"
#include "lib/ktest.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "sched/clock.h"

#define ROUNDS 11

extern const struct kbench *const __start_kbench_cases[];
extern const struct kbench *const __stop_kbench_cases[];

static void sort(uint64_t *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

#define ROUND_NS 2000000ull // aim for rounds of at least 2 ms

// Operations per round: doubled from 16 until a round lasts ROUND_NS, at most
// b->iters. Keeps slow machines (emulated ring 0 under nested KVM) from
// spending minutes on one case.
static uint64_t pick_iters(const struct kbench *b)
{
    uint64_t n = 16;
    while (n < b->iters) {
        uint64_t per_op = b->run(n);
        if (clock_cycles_to_ns(per_op * n) >= ROUND_NS)
            break;
        n *= 2;
    }
    return MIN(n, b->iters);
}

static void run_one(const struct kbench *b)
{
    uint64_t cycles[ROUNDS];
    uint64_t iters = pick_iters(b); // also warms caches and lazily built state
    for (int r = 0; r < ROUNDS; r++)
        cycles[r] = b->run(iters);
    sort(cycles, ROUNDS);
    pr_info("kbench: %s median_ns=%llu min_ns=%llu max_ns=%llu median_cycles=%llu rounds=%d "
            "iters=%llu",
            b->name, (unsigned long long)clock_cycles_to_ns(cycles[ROUNDS / 2]),
            (unsigned long long)clock_cycles_to_ns(cycles[0]),
            (unsigned long long)clock_cycles_to_ns(cycles[ROUNDS - 1]),
            (unsigned long long)cycles[ROUNDS / 2], ROUNDS, (unsigned long long)iters);
}

void kbench_run(const char *filter)
{
    size_t n = ((uintptr_t)__stop_kbench_cases - (uintptr_t)__start_kbench_cases) /
               sizeof(__start_kbench_cases[0]);
    pr_info("kbench: start (clock %s, TSC %llu kHz)", clock_source_name(),
            (unsigned long long)(clock_tsc_hz() / 1000));
    for (size_t i = 0; i < n; i++)
        if (ktest_name_selected(filter, __start_kbench_cases[i]->name))
            run_one(__start_kbench_cases[i]);
    pr_info("kbench: done");
}
