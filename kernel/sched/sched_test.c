// In-kernel tests of threads, the scheduler, wait queues and timers.
#include "arch.h"
#include "lib/ktest.h"
#include "mm/kstack.h"
#include "mm/mmu.h"
#include "mm/pmm.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sched/ktest_cpu.h"
#include "sched/thread.h"
#include "sched/timer.h"

#define MS 1000000ull

static int return_arg(void *arg)
{
    return (int)(uintptr_t)arg;
}

static void sched_create_join_exit_code(struct ktest *t)
{
    struct thread *th;
    ASSERT_OK(thread_create("t-exit", return_arg, (void *)42, PRIO_DEFAULT, &th));
    thread_start(th);
    int code = 0;
    ASSERT_OK(thread_join(th, DEADLINE_INFINITE, &code));
    EXPECT_EQ(code, 42);
}

struct order_log {
    int seq[16];
    int n;
};

struct order_arg {
    struct order_log *log;
    int id;
    int rounds;
};

static int log_and_yield(void *arg)
{
    struct order_arg *a = arg;
    for (int i = 0; i < a->rounds; i++) {
        a->log->seq[a->log->n++] = a->id;
        thread_yield();
    }
    return 0;
}

// Ordering within one run queue: the threads are pinned to the caller's CPU.
static void sched_round_robin_same_priority(struct ktest *t)
{
    struct order_log log = {0};
    struct order_arg args[3];
    struct thread *th[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (struct order_arg){&log, i, 3};
        ASSERT_OK(thread_create("t-rr", log_and_yield, &args[i], PRIO_HIGH, &th[i]));
        ASSERT_OK(thread_set_cpu(th[i], arch_cpu_index(), true));
    }
    for (int i = 0; i < 3; i++)
        thread_start(th[i]);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(thread_join(th[i], DEADLINE_INFINITE, NULL));
    ASSERT_EQ(log.n, 9);
    for (int i = 0; i < 9; i++)
        EXPECT_EQ(log.seq[i], i % 3);
}

static void sched_higher_priority_first(struct ktest *t)
{
    struct order_log log = {0};
    struct order_arg lo = {&log, 1, 1}, hi = {&log, 2, 1};
    struct thread *tl, *th;
    ASSERT_OK(thread_create("t-lo", log_and_yield, &lo, PRIO_LOW, &tl));
    ASSERT_OK(thread_create("t-hi", log_and_yield, &hi, PRIO_HIGH, &th));
    ASSERT_OK(thread_set_cpu(tl, arch_cpu_index(), true));
    ASSERT_OK(thread_set_cpu(th, arch_cpu_index(), true));
    thread_start(tl);
    thread_start(th);
    ASSERT_OK(thread_join(tl, DEADLINE_INFINITE, NULL));
    ASSERT_OK(thread_join(th, DEADLINE_INFINITE, NULL));
    ASSERT_EQ(log.n, 2);
    EXPECT_EQ(log.seq[0], 2);
    EXPECT_EQ(log.seq[1], 1);
}

static void sched_sleep_never_returns_early(struct ktest *t)
{
    for (int i = 0; i < 5; i++) {
        uint64_t start = clock_monotonic_ns();
        thread_sleep_ns(2 * MS);
        uint64_t took = clock_monotonic_ns() - start;
        EXPECT_GE(took, 2 * MS);
        EXPECT_LT(took, 2000 * MS); // generous: only catches a lost wake-up
    }
}

struct wq_ctx {
    struct spinlock lock;
    struct wait_queue wq;
    status_t result[4];
    int order[4];
    int n;
};

struct wq_arg {
    struct wq_ctx *c;
    int id;
};

static int wq_waiter(void *arg)
{
    struct wq_arg *a = arg;
    irqstate_t s = spin_lock_irqsave(&a->c->lock);
    a->c->result[a->id] = wait_queue_block(&a->c->wq, &a->c->lock, DEADLINE_INFINITE);
    a->c->order[a->c->n++] = a->id;
    spin_unlock_irqrestore(&a->c->lock, s);
    return 0;
}

static void sched_wait_queue_wake_fifo(struct ktest *t)
{
    struct wq_ctx c = {.lock = SPINLOCK_INIT("t")};
    struct wq_arg args[3];
    struct thread *th[3];
    wait_queue_init(&c.wq);
    for (int i = 0; i < 3; i++) {
        args[i] = (struct wq_arg){&c, i};
        ASSERT_OK(thread_create("t-wq", wq_waiter, &args[i], PRIO_DEFAULT, &th[i]));
        ASSERT_OK(thread_set_cpu(th[i], arch_cpu_index(), true)); // arrive and leave in order
        thread_start(th[i]);
    }
    while (wait_queue_count(&c.wq) < 3)
        thread_yield();
    irqstate_t s = spin_lock_irqsave(&c.lock);
    EXPECT_EQ(wait_queue_wake(&c.wq, 2, ERR_CANCELED), 2);
    EXPECT_EQ(wait_queue_wake(&c.wq, -1, ERR_PEER_CLOSED), 1);
    EXPECT_EQ(wait_queue_wake(&c.wq, -1, OK), 0);
    spin_unlock_irqrestore(&c.lock, s);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(thread_join(th[i], DEADLINE_INFINITE, NULL));
    EXPECT_STATUS(c.result[0], ERR_CANCELED);
    EXPECT_STATUS(c.result[1], ERR_CANCELED);
    EXPECT_STATUS(c.result[2], ERR_PEER_CLOSED);
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(c.order[i], i);
}

// ---- Direct hand-off (wait_wake_sync_begin) ----

struct handoff {
    struct spinlock lock;
    struct wait_queue wq;
    int order[2];
    int n; // (lock)
};

static int handoff_sleeper(void *arg)
{
    struct handoff *h = arg;
    irqstate_t s = spin_lock_irqsave(&h->lock);
    wait_queue_block(&h->wq, &h->lock, DEADLINE_INFINITE);
    h->order[h->n++] = 1;
    spin_unlock_irqrestore(&h->lock, s);
    return 0;
}

static int handoff_bystander(void *arg)
{
    struct handoff *h = arg;
    irqstate_t s = spin_lock_irqsave(&h->lock);
    h->order[h->n++] = 2;
    spin_unlock_irqrestore(&h->lock, s);
    return 0;
}

// On CPU 0: a sleeper blocks, maybe a bystander of the same priority waits
// on the run queue, then the sleeper is woken and this thread yields. A
// hand-off happens only with nobody else waiting: it must not let the
// sleeper jump the queue (the bystander would starve behind a pair of
// threads handing the CPU to each other).
static void handoff_order(struct ktest *t, bool sync, bool bystander, uint64_t handoffs)
{
    struct handoff h = {.lock = SPINLOCK_INIT("t")};
    struct thread *sl, *by;
    struct sched_cpu_stats before, after;
    wait_queue_init(&h.wq);
    ASSERT_OK(thread_create("t-sleeper", handoff_sleeper, &h, PRIO_DEFAULT, &sl));
    ASSERT_OK(thread_create("t-bystander", handoff_bystander, &h, PRIO_DEFAULT, &by));
    ASSERT_OK(thread_set_cpu(sl, 0, true));
    ASSERT_OK(thread_set_cpu(by, 0, true));
    thread_start(sl);
    irqstate_t s = spin_lock_irqsave(&h.lock);
    while (wait_queue_count(&h.wq) < 1) {
        spin_unlock_irqrestore(&h.lock, s);
        thread_yield();
        s = spin_lock_irqsave(&h.lock);
    }
    if (bystander)
        thread_start(by); // queued; a kernel thread of equal priority does not preempt
    ASSERT_OK(sched_cpu_stats(0, &before));
    if (sync)
        wait_wake_sync_begin();
    EXPECT_EQ(wait_queue_wake(&h.wq, 1, OK), 1);
    if (sync)
        wait_wake_sync_end();
    ASSERT_OK(sched_cpu_stats(0, &after));
    spin_unlock_irqrestore(&h.lock, s);
    thread_yield();
    if (!bystander)
        thread_start(by);
    ASSERT_OK(thread_join(sl, DEADLINE_INFINITE, NULL));
    ASSERT_OK(thread_join(by, DEADLINE_INFINITE, NULL));
    ASSERT_EQ(h.n, 2);
    EXPECT_EQ(h.order[0], bystander ? 2 : 1); // the queue's order either way
    EXPECT_EQ(after.handoffs - before.handoffs, handoffs);
}

static void handoff_body(struct ktest *t)
{
    handoff_order(t, false, true, 0);
    handoff_order(t, true, true, 0);
    handoff_order(t, true, false, 1);
}

static void sched_sync_wake_never_jumps_the_queue(struct ktest *t)
{
    ktest_run_on_cpu0(t, handoff_body);
}

static void sched_wait_queue_deadline(struct ktest *t)
{
    struct spinlock lock = SPINLOCK_INIT("t");
    struct wait_queue wq;
    wait_queue_init(&wq);
    irqstate_t s = spin_lock_irqsave(&lock);
    EXPECT_STATUS(wait_queue_block(&wq, &lock, DEADLINE_NONE), ERR_TIMED_OUT);
    uint64_t start = clock_monotonic_ns();
    EXPECT_STATUS(wait_queue_block(&wq, &lock, start + 3 * MS), ERR_TIMED_OUT);
    EXPECT_GE(clock_monotonic_ns() - start, 3 * MS);
    EXPECT_EQ(wait_queue_count(&wq), 0);
    spin_unlock_irqrestore(&lock, s);
}

static void count_fire(struct ktimer *tm, void *arg)
{
    (*(volatile int *)arg)++;
}

static void sched_ktimer_fire_and_cancel(struct ktest *t)
{
    volatile int fired = 0, never = 0;
    struct ktimer a, b;
    ktimer_init(&a, count_fire, (void *)&fired);
    ktimer_init(&b, count_fire, (void *)&never);
    ktimer_arm(&b, clock_monotonic_ns() + 50 * MS);
    ktimer_arm(&a, clock_monotonic_ns() + 1 * MS);
    EXPECT_TRUE(ktimer_cancel(&b));
    EXPECT_FALSE(ktimer_cancel(&b));
    thread_sleep_ns(5 * MS);
    EXPECT_EQ(fired, 1);
    EXPECT_FALSE(ktimer_cancel(&a));
    ktimer_arm(&a, 0); // a past deadline fires at once
    thread_sleep_ns(1 * MS);
    EXPECT_EQ(fired, 2);
    EXPECT_EQ(never, 0);
}

static int short_lived(void *arg)
{
    thread_yield();
    return 0;
}

static void sched_many_threads_return_memory(struct ktest *t)
{
    struct pmm_stats before, after;
    unsigned threads = sched_thread_count();
    slab_reclaim(); // empty slabs kept for reuse would look like a leak
    pmm_get_stats(&before);
    for (int round = 0; round < 4; round++) {
        struct thread *th[50];
        for (int i = 0; i < 50; i++) {
            ASSERT_OK(thread_create("t-many", short_lived, NULL, PRIO_DEFAULT, &th[i]));
            thread_start(th[i]);
        }
        for (int i = 0; i < 50; i++)
            ASSERT_OK(thread_join(th[i], DEADLINE_INFINITE, NULL));
    }
    for (int i = 0; i < 20; i++) { // detached ones free themselves
        struct thread *d;
        ASSERT_OK(thread_create("t-detached", short_lived, NULL, PRIO_DEFAULT, &d));
        thread_detach(d);
        thread_start(d);
    }
    while (sched_thread_count() > threads)
        thread_sleep_ns(1 * MS);
    slab_reclaim();
    pmm_get_stats(&after);
    EXPECT_EQ(sched_thread_count(), threads);
    EXPECT_EQ(after.free_pages, before.free_pages);
}

static int tell_stack(void *arg)
{
    *(vaddr_t *)arg = thread_current()->stack.base;
    return 0;
}

// An ended thread's stack stays mapped in the reserve and the next thread
// gets it; past the reserve, stacks are mapped and unmapped one by one.
static void sched_thread_stacks_are_reused(struct ktest *t)
{
    vaddr_t first = 0, second = 0;
    struct thread *th;
    ASSERT_OK(thread_create("t-stack", tell_stack, &first, PRIO_DEFAULT, &th));
    thread_start(th);
    ASSERT_OK(thread_join(th, DEADLINE_INFINITE, NULL));
    ASSERT_NE(first, 0u);
    EXPECT_OK(arch_mmu_query(arch_mmu_kernel_root(), first, NULL, NULL)); // still mapped
    EXPECT_GT(kstack_reserve_free(), 0u);
    ASSERT_OK(thread_create("t-stack", tell_stack, &second, PRIO_DEFAULT, &th));
    thread_start(th);
    ASSERT_OK(thread_join(th, DEADLINE_INFINITE, NULL));
    EXPECT_EQ(second, first); // the last one back is the next one out

    static struct kstack ks[KSTACK_RESERVE + 4];
    unsigned left = kstack_reserve_free();
    for (unsigned i = 0; i < left + 4; i++) {
        ASSERT_OK(kstack_get(&ks[i]));
        EXPECT_EQ(ks[i].reserve, i < left);
        *(volatile uint64_t *)(ks[i].top - 8) = i; // mapped and writable
        *(volatile uint64_t *)ks[i].base = i;
        EXPECT_TRUE(kstack_is_guard(ks[i].base - 8));
    }
    EXPECT_EQ(kstack_reserve_free(), 0u);
    vaddr_t own = ks[left].base;
    for (unsigned i = 0; i < left + 4; i++)
        kstack_put(&ks[i]);
    EXPECT_EQ(kstack_reserve_free(), left);
    EXPECT_STATUS(arch_mmu_query(arch_mmu_kernel_root(), own, NULL, NULL), ERR_NOT_FOUND);
}

static void sched_join_deadline(struct ktest *t)
{
    struct thread *th;
    ASSERT_OK(thread_create("t-slow", return_arg, (void *)7, PRIO_LOW, &th));
    // Not started: joining with a deadline must time out, not hang.
    EXPECT_STATUS(thread_join(th, clock_monotonic_ns() + 2 * MS, NULL), ERR_TIMED_OUT);
    thread_start(th);
    int code;
    ASSERT_OK(thread_join(th, DEADLINE_INFINITE, &code));
    EXPECT_EQ(code, 7);
}

// ---- Steal time: runtime + steal is the wall time a thread spent on CPUs ----

#define BUSY_CPU_NS  (20 * MS)
#define BUSY_WALL_NS (2000 * MS) // gives up if the figures never grow
#define BUSY_YIELD   64          // iterations between yields (switches)

struct busy {
    uint64_t started;    // clock_monotonic_ns() before thread_start
    uint64_t run, steal; // the thread's last figures
    unsigned over_wall, run_back, steal_back, cpu_steal_back;
};

// Steal time charged on all CPUs (sched_cpu_stats), summed.
static uint64_t cpus_steal_ns(void)
{
    uint64_t ns = 0;
    for (unsigned c = 0; c < arch_cpu_count(); c++) {
        struct sched_cpu_stats st;
        if (sched_cpu_stats(c, &st) == OK)
            ns += st.steal_ns;
    }
    return ns;
}

// One sample: the bound and monotonicity checks, counted as failures.
static void busy_sample(struct busy *b, uint64_t *cpu_steal)
{
    uint64_t run, steal, total = cpus_steal_ns();
    thread_cpu_times(thread_current(), &run, &steal);
    uint64_t wall = clock_monotonic_ns() - b->started;
    b->over_wall += run + steal > wall;
    b->run_back += run < b->run;
    b->steal_back += steal < b->steal;
    b->cpu_steal_back += total < *cpu_steal;
    b->run = run;
    b->steal = steal;
    *cpu_steal = total;
}

// Spins (yielding now and then) until it has had BUSY_CPU_NS of CPU.
static int busy_spin(void *arg)
{
    struct busy *b = arg;
    uint64_t cpu_steal = 0;
    for (unsigned i = 0; b->run + b->steal < BUSY_CPU_NS; i++) {
        busy_sample(b, &cpu_steal);
        if (clock_monotonic_ns() - b->started > BUSY_WALL_NS)
            break;
        if (i % BUSY_YIELD == 0)
            thread_yield();
    }
    return 0;
}

// Under TCG steal is 0; under KVM it is read live from the host's area.
static void sched_runtime_plus_steal_within_wall(struct ktest *t)
{
    struct busy b = {0};
    struct thread *th;
    ASSERT_OK(thread_create("t-busy", busy_spin, &b, PRIO_DEFAULT, &th));
    b.started = clock_monotonic_ns();
    thread_start(th);
    ASSERT_OK(thread_join(th, DEADLINE_INFINITE, NULL));
    uint64_t wall = clock_monotonic_ns() - b.started;
    EXPECT_GE(b.run + b.steal, BUSY_CPU_NS);
    EXPECT_LE(b.run + b.steal, wall);
    EXPECT_EQ(b.over_wall, 0u);
    EXPECT_EQ(b.run_back, 0u);
    EXPECT_EQ(b.steal_back, 0u);
    EXPECT_EQ(b.cpu_steal_back, 0u);
}

KTEST_SUITE(sched, KTEST_CASE(sched_create_join_exit_code),
            KTEST_CASE(sched_round_robin_same_priority), KTEST_CASE(sched_higher_priority_first),
            KTEST_CASE(sched_sleep_never_returns_early), KTEST_CASE(sched_wait_queue_wake_fifo),
            KTEST_CASE(sched_sync_wake_never_jumps_the_queue),
            KTEST_CASE(sched_wait_queue_deadline), KTEST_CASE(sched_ktimer_fire_and_cancel),
            KTEST_CASE(sched_many_threads_return_memory),
            KTEST_CASE(sched_thread_stacks_are_reused), KTEST_CASE(sched_join_deadline),
            KTEST_CASE(sched_runtime_plus_steal_within_wall));
