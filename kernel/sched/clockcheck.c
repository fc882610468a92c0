// clockcheck=SECONDS: prints the monotonic clock, sleeps, prints it again
// (the host compares the elapsed time with its own), and with several CPUs
// passes a token round the CPUs, each reading the clock in turn, counting
// any reading lower than the one before it.
#include "arch.h"
#include "init/cmdline.h"
#include "lib/parse.h"
#include "lib/printk.h"
#include "sched/clock.h"
#include "sched/clockcheck.h"
#include "sched/thread.h"

#define NS_PER_SEC         1000000000ull
#define CLOCKCHECK_MAX_SEC 3600
#define HANDOFF_ROUNDS     500              // per CPU; a hand-off may cost a host reschedule
#define HANDOFF_GIVE_UP_NS (5 * NS_PER_SEC) // one turn this late: a CPU is not coming

static uint64_t check_seconds; // 0: not asked for

static status_t set_clockcheck(const char *val, size_t len, bool has_val)
{
    uint64_t v;
    status_t st = parse_u64(val, len, false, &v);
    if (st != OK)
        return st;
    if (v == 0 || v > CLOCKCHECK_MAX_SEC)
        return ERR_OUT_OF_RANGE;
    check_seconds = v;
    return OK;
}
CMDLINE_PARAM(clockcheck_param, "clockcheck", set_clockcheck,
              "SECONDS: time a sleep of this length and compare the clock across CPUs");

// The token hand-off. Turn t belongs to the t-th CPU of cpus[] (mod ncpus);
// its holder reads the clock, compares with the previous holder's reading
// and passes the token on with release ordering, so readings are ordered.
struct handoff {
    unsigned cpus[64];
    unsigned ncpus;
    uint64_t turn;      // atomic: whose turn, counting up to HANDOFF_ROUNDS * ncpus
    uint64_t last_ns;   // the previous holder's reading (written by the holder)
    uint64_t backwards; // readings below last_ns (written by the holder)
    bool gave_up;       // some CPU waited past HANDOFF_GIVE_UP_NS (atomic)
};

static unsigned slot_of(const struct handoff *h, unsigned cpu)
{
    for (unsigned i = 0; i < h->ncpus; i++)
        if (h->cpus[i] == cpu)
            return i;
    return h->ncpus;
}

// Waits for turn `t`; false if the wait took too long (another CPU gave up
// or never came).
static bool wait_turn(struct handoff *h, uint64_t t)
{
    uint64_t start = clock_monotonic_ns();
    while (__atomic_load_n(&h->turn, __ATOMIC_ACQUIRE) != t) {
        if (__atomic_load_n(&h->gave_up, __ATOMIC_RELAXED))
            return false;
        if (clock_monotonic_ns() - start > HANDOFF_GIVE_UP_NS) {
            __atomic_store_n(&h->gave_up, true, __ATOMIC_RELAXED);
            return false;
        }
        arch_cpu_relax();
    }
    return true;
}

// On every CPU at once (arch_call_on_cpus, interrupts off).
static void handoff_cpu(void *arg)
{
    struct handoff *h = arg;
    unsigned slot = slot_of(h, arch_cpu_index());
    if (slot == h->ncpus)
        return;
    for (uint64_t t = slot; t < (uint64_t)HANDOFF_ROUNDS * h->ncpus; t += h->ncpus) {
        if (!wait_turn(h, t))
            return;
        uint64_t now = clock_monotonic_ns();
        if (t > 0 && now < h->last_ns)
            h->backwards++;
        h->last_ns = now;
        __atomic_store_n(&h->turn, t + 1, __ATOMIC_RELEASE);
    }
}

static void check_cross_cpu(void)
{
    static struct handoff h;
    uint64_t mask = 0;
    h = (struct handoff){0};
    for (unsigned cpu = 0; cpu < arch_cpu_count() && h.ncpus < 64; cpu++)
        if (arch_cpu_online(cpu)) {
            h.cpus[h.ncpus++] = cpu;
            mask |= 1ull << cpu;
        }
    if (h.ncpus < 2) {
        pr_info("clockcheck: cross-cpu skipped (1 CPU)");
        return;
    }
    status_t st = arch_call_on_cpus(mask, handoff_cpu, &h);
    if (st != OK || h.gave_up) {
        pr_err("clockcheck: cross-cpu hand-off did not complete (%s)",
               st != OK ? status_str(st) : "a CPU did not take its turn");
        return;
    }
    pr_info("clockcheck: cross-cpu cpus=%u readings=%llu backwards=%llu", h.ncpus,
            (unsigned long long)h.turn, (unsigned long long)h.backwards);
}

void clockcheck_run(void)
{
    if (!check_seconds)
        return;
    uint64_t start = clock_monotonic_ns();
    pr_info("clockcheck: start mono_ns=%llu source=%s", (unsigned long long)start,
            clock_source_name());
    thread_sleep_ns(check_seconds * NS_PER_SEC);
    uint64_t end = clock_monotonic_ns();
    pr_info("clockcheck: end mono_ns=%llu elapsed_ns=%llu", (unsigned long long)end,
            (unsigned long long)(end - start));
    check_cross_cpu();
}
