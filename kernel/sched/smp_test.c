// In-kernel tests of the scheduler on several CPUs: every CPU online and
// idling, placement and pinning, cross-CPU wake-ups through channels, idle
// CPUs taking waiting threads, per-CPU timers, and user processes running in
// parallel and killed on another CPU. Cases needing more CPUs than are
// online skip themselves.
#include "arch.h"
#include "dev/acpi.h"
#include "lib/ktest.h"
#include "sched/ktest_cpu.h"
#include "lib/string.h"
#include "obj/channel.h"
#include "obj/signal.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "sched/timer.h"
#include "sys/process.h"

#define US     1000ull
#define MS     1000000ull
#define SECOND 1000000000ull

#define NEED_CPUS(n)                                \
    do {                                            \
        if (arch_cpu_count() < (n))                 \
            KTEST_SKIP("needs " #n " CPUs online"); \
    } while (0)

static uint64_t now(void)
{
    return clock_monotonic_ns();
}

// CPUs the firmware lists as enabled (1 without ACPI).
static unsigned expected_cpus(void)
{
    const struct acpi_info *ai = acpi();
    if (!ai || !ai->madt.present)
        return 1;
    unsigned n = 0;
    for (uint32_t i = 0; i < ai->madt.ncpus; i++)
        n += ai->madt.cpus[i].enabled;
    return n < MAX_CPUS ? n : MAX_CPUS;
}

static int sleep_and_tell_cpu(void *arg)
{
    thread_sleep_ns(MS);
    return (int)arch_cpu_index();
}

static void smp_cpus_online_and_idling(struct ktest *t)
{
    unsigned n = arch_cpu_count();
    EXPECT_EQ(n, expected_cpus());
    for (unsigned c = 0; c < n; c++) {
        EXPECT_TRUE(arch_cpu_online(c));
        for (unsigned d = 0; d < c; d++)
            EXPECT_NE(arch_cpu_hw_id(c), arch_cpu_hw_id(d));
        // A thread sleeping there leaves the CPU to its idle thread.
        struct thread *th;
        int where = -1;
        ASSERT_OK(thread_create("t-idle", sleep_and_tell_cpu, NULL, PRIO_DEFAULT, &th));
        ASSERT_OK(thread_set_cpu(th, c, true));
        thread_start(th);
        ASSERT_OK(thread_join(th, now() + 5 * SECOND, &where));
        EXPECT_EQ(where, (int)c);
        struct sched_cpu_stats st;
        ASSERT_OK(sched_cpu_stats(c, &st));
        EXPECT_TRUE(st.online);
        EXPECT_GT(st.idle_loops, 0u);
    }
    EXPECT_FALSE(arch_cpu_online(n));
    if (n < MAX_CPUS) {
        struct sched_cpu_stats st;
        ASSERT_OK(sched_cpu_stats(n, &st));
        EXPECT_FALSE(st.online);
    }
    EXPECT_STATUS(sched_cpu_stats(MAX_CPUS, &(struct sched_cpu_stats){0}), ERR_INVALID_ARGS);
}

static int pinned_worker(void *arg)
{
    unsigned *where = arg;
    where[0] = arch_cpu_index();
    thread_yield();
    thread_sleep_ns(MS);
    where[1] = arch_cpu_index();
    return 0;
}

static void smp_pinned_threads_stay(struct ktest *t)
{
    unsigned n = arch_cpu_count();
    struct thread *th[MAX_CPUS];
    unsigned where[MAX_CPUS][2];
    for (unsigned c = 0; c < n; c++) {
        where[c][0] = where[c][1] = ~0u;
        ASSERT_OK(thread_create("t-pin", pinned_worker, where[c], PRIO_DEFAULT, &th[c]));
        ASSERT_OK(thread_set_cpu(th[c], c, true));
        thread_start(th[c]);
        EXPECT_STATUS(thread_set_cpu(th[c], c, true), ERR_BAD_STATE);
    }
    for (unsigned c = 0; c < n; c++) {
        ASSERT_OK(thread_join(th[c], now() + 5 * SECOND, NULL));
        EXPECT_EQ(where[c][0], c);
        EXPECT_EQ(where[c][1], c);
    }
    struct thread *x;
    ASSERT_OK(thread_create("t-nowhere", pinned_worker, NULL, PRIO_DEFAULT, &x));
    EXPECT_STATUS(thread_set_cpu(x, n, false), ERR_INVALID_ARGS);
    EXPECT_STATUS(thread_set_cpu(x, MAX_CPUS, false), ERR_INVALID_ARGS);
    thread_discard(x);
}

struct spread {
    unsigned n;       // workers
    unsigned arrived; // workers running so far (atomic)
    uint64_t deadline;
    unsigned cpu[MAX_CPUS];
};

struct spread_arg {
    struct spread *s;
    unsigned id;
};

// Busy (never blocking) until every worker runs: they can all run at once
// only on different CPUs.
static int spread_worker(void *arg)
{
    struct spread_arg *a = arg;
    struct spread *s = a->s;
    __atomic_fetch_add(&s->arrived, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&s->arrived, __ATOMIC_ACQUIRE) < s->n && now() < s->deadline)
        arch_cpu_relax();
    s->cpu[a->id] = arch_cpu_index();
    return 0;
}

static void smp_threads_spread_over_all_cpus(struct ktest *t)
{
    NEED_CPUS(2);
    static struct spread s;
    struct spread_arg args[MAX_CPUS];
    struct thread *th[MAX_CPUS];
    s = (struct spread){.n = arch_cpu_count(), .deadline = now() + 5 * SECOND};
    for (unsigned i = 0; i < s.n; i++) {
        args[i] = (struct spread_arg){&s, i};
        ASSERT_OK(thread_create("t-spread", spread_worker, &args[i], PRIO_DEFAULT, &th[i]));
        thread_start(th[i]);
    }
    for (unsigned i = 0; i < s.n; i++)
        ASSERT_OK(thread_join(th[i], now() + 10 * SECOND, NULL));
    EXPECT_EQ(s.arrived, s.n);
    uint64_t seen = 0;
    for (unsigned i = 0; i < s.n; i++)
        seen |= 1ull << s.cpu[i];
    EXPECT_EQ(seen, s.n == 64 ? ~0ull : (1ull << s.n) - 1);
}

struct steal {
    unsigned done; // (atomic)
    unsigned cpu[MAX_CPUS];
};

struct steal_arg {
    struct steal *s;
    unsigned id;
};

static int steal_worker(void *arg)
{
    struct steal_arg *a = arg;
    a->s->cpu[a->id] = arch_cpu_index();
    __atomic_fetch_add(&a->s->done, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static uint64_t total_steals(void)
{
    uint64_t n = 0;
    for (unsigned c = 0; c < arch_cpu_count(); c++) {
        struct sched_cpu_stats st;
        if (sched_cpu_stats(c, &st) == OK)
            n += st.steals;
    }
    return n;
}

// Threads queued behind this (busy, non-preemptible) thread run only if
// idle CPUs take them.
static void smp_idle_cpus_take_waiting_threads(struct ktest *t)
{
    NEED_CPUS(2);
    unsigned here = arch_cpu_index(), n = arch_cpu_count() - 1;
    struct steal s = {0};
    struct steal_arg args[MAX_CPUS];
    struct thread *th[MAX_CPUS];
    uint64_t steals = total_steals();
    for (unsigned i = 0; i < n; i++) {
        args[i] = (struct steal_arg){&s, i};
        ASSERT_OK(thread_create("t-steal", steal_worker, &args[i], PRIO_DEFAULT, &th[i]));
        ASSERT_OK(thread_set_cpu(th[i], here, false));
        thread_start(th[i]);
    }
    uint64_t deadline = now() + 2 * SECOND;
    while (__atomic_load_n(&s.done, __ATOMIC_ACQUIRE) < n && now() < deadline)
        arch_cpu_relax();
    EXPECT_EQ(__atomic_load_n(&s.done, __ATOMIC_ACQUIRE), n);
    for (unsigned i = 0; i < n; i++)
        ASSERT_OK(thread_join(th[i], now() + 5 * SECOND, NULL));
    for (unsigned i = 0; i < n; i++)
        EXPECT_NE(s.cpu[i], here);
    EXPECT_GE(total_steals() - steals, (uint64_t)n);
}

// ---- Cross-CPU wake-ups: tokens around a ring of channels ----

#define RING_MAX  (2 * MAX_CPUS)
#define RING_STOP UINT64_MAX

struct ring {
    struct handle_table tab;
    unsigned n;
    handle_t in[RING_MAX], out[RING_MAX]; // member i reads in[i], writes out[i] (to i + 1)
    uint64_t hops[RING_MAX];              // (atomic)
    status_t result[RING_MAX];
};

struct ring_arg {
    struct ring *r;
    unsigned id;
};

static status_t ring_send(struct ring *r, handle_t h, uint64_t v)
{
    struct nb_msg_out m = {&v, NULL, sizeof(v), 0};
    return chan_write(&r->tab, h, &m);
}

// Blocks (no deadline: a lost wake-up would hang here) for one message.
static status_t ring_recv(struct ring *r, handle_t h, uint64_t *v)
{
    for (;;) {
        struct nb_msg_in m = {v, NULL, sizeof(*v), 0, 0, 0};
        status_t st = chan_read(&r->tab, h, &m);
        if (st != ERR_SHOULD_WAIT)
            return st;
        st = obj_wait_one(&r->tab, h, SIGNAL_READABLE, DEADLINE_INFINITE, NULL);
        if (st != OK)
            return st;
    }
}

static int ring_member(void *arg)
{
    struct ring_arg *a = arg;
    struct ring *r = a->r;
    unsigned i = a->id;
    for (;;) {
        uint64_t v;
        status_t st = ring_recv(r, r->in[i], &v);
        if (st == OK && v == RING_STOP)
            return 0;
        if (st == OK)
            st = ring_send(r, r->out[i], v + 1);
        if (st != OK) {
            r->result[i] = st;
            return 1;
        }
        __atomic_fetch_add(&r->hops[i], 1, __ATOMIC_RELAXED);
    }
}

static uint64_t ring_hops(struct ring *r)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < r->n; i++)
        sum += __atomic_load_n(&r->hops[i], __ATOMIC_RELAXED);
    return sum;
}

// Runs `tokens` tokens around the ring for `ns`; false if it stalled for
// 0.7 s (a lost wake-up stops a lone token for good).
static bool ring_watch(struct ring *r, uint64_t ns)
{
    uint64_t end = now() + ns, last = 0, still = 0;
    while (now() < end) {
        thread_sleep_ns(50 * MS);
        uint64_t h = ring_hops(r);
        still = h == last ? still + 50 * MS : 0;
        last = h;
        if (still >= 700 * MS)
            return false;
    }
    return true;
}

// Reads what is left on every channel: tokens and the sum of their values.
static void ring_drain(struct ring *r, unsigned *tokens, uint64_t *sum)
{
    *tokens = 0;
    *sum = 0;
    for (unsigned i = 0; i < r->n; i++) {
        uint64_t v;
        struct nb_msg_in m = {&v, NULL, sizeof(v), 0, 0, 0};
        while (chan_read(&r->tab, r->in[i], &m) == OK) {
            if (v != RING_STOP) {
                (*tokens)++;
                *sum += v;
            }
            m = (struct nb_msg_in){&v, NULL, sizeof(v), 0, 0, 0};
        }
    }
}

static void ring_run(struct ktest *t, unsigned tokens, uint64_t ns)
{
    static struct ring r;
    static struct ring_arg args[RING_MAX];
    struct thread *th[RING_MAX];
    unsigned ncpu = arch_cpu_count();
    memset(&r, 0, sizeof(r));
    r.n = 2 * ncpu; // neighbours are always on different CPUs
    ASSERT_OK(handle_table_init(&r.tab, HANDLE_TABLE_DEFAULT_MAX));
    for (unsigned i = 0; i < r.n; i++)
        ASSERT_OK(chan_create(&r.tab, &r.out[i], &r.in[(i + 1) % r.n]));
    for (unsigned i = 0; i < r.n; i++) {
        args[i] = (struct ring_arg){&r, i};
        ASSERT_OK(thread_create("t-ring", ring_member, &args[i], PRIO_DEFAULT, &th[i]));
        ASSERT_OK(thread_set_cpu(th[i], i % ncpu, true));
        thread_start(th[i]);
    }
    for (unsigned k = 0; k < tokens; k++)
        ASSERT_OK(ring_send(&r, r.out[(k * r.n / tokens) % r.n], 0));
    EXPECT_TRUE(ring_watch(&r, ns));
    for (unsigned i = 0; i < r.n; i++)
        EXPECT_OK(ring_send(&r, r.out[(i + r.n - 1) % r.n], RING_STOP));
    for (unsigned i = 0; i < r.n; i++) {
        int code = -1;
        status_t st = thread_join(th[i], now() + 10 * SECOND, &code);
        EXPECT_OK(st); // else a member never woke up
        if (st != OK) {
            thread_kill(th[i]);
            ASSERT_OK(thread_join(th[i], DEADLINE_INFINITE, &code));
        }
        EXPECT_EQ(code, 0);
        EXPECT_OK(r.result[i]);
        EXPECT_GT(r.hops[i], 0u);
    }
    unsigned left;
    uint64_t sum;
    ring_drain(&r, &left, &sum);
    EXPECT_EQ(left, tokens);       // none lost, none made up
    EXPECT_EQ(sum, ring_hops(&r)); // each hop added one
    EXPECT_GE(ring_hops(&r), 10ull * r.n);
    handle_table_destroy(&r.tab);
}

static void smp_one_token_ring_never_stalls(struct ktest *t)
{
    NEED_CPUS(2);
    ring_run(t, 1, 1 * SECOND);
}

static void smp_many_tokens_ring_conserves_them(struct ktest *t)
{
    NEED_CPUS(2);
    ring_run(t, 2 * arch_cpu_count() - 1, 1 * SECOND);
}

// ---- Channel calls: the direct hand-off to a blocked server ----

#define CALLS 20

struct callsrv {
    struct handle_table tab;
    handle_t client, server;
    unsigned cpu[CALLS]; // where the server got request i
    unsigned served;
    status_t st;
};

// Serves requests with chan_reply_wait until the client goes.
static int callsrv_main(void *arg)
{
    struct callsrv *c = arg;
    struct nb_msg_header msg;
    struct nb_msg_in in = {&msg, NULL, sizeof(msg), 0, 0, 0};
    struct nb_msg_out out = {&msg, NULL, sizeof(msg), 0};
    status_t st = chan_reply_wait(&c->tab, c->server, NULL, &in, now() + 10 * SECOND);
    while (st == OK) {
        if (c->served < CALLS)
            c->cpu[c->served] = arch_cpu_index();
        c->served++;
        in = (struct nb_msg_in){&msg, NULL, sizeof(msg), 0, 0, 0};
        st = chan_reply_wait(&c->tab, c->server, &out, &in, now() + 10 * SECOND);
    }
    c->st = st;
    return 0;
}

// On CPU 0: CALLS calls to a server placed on CPU 1 (pinned there or not).
// *here gets how many requests the server took on CPU 0, *handoffs CPU 0's
// count of direct hand-offs meanwhile.
static void calls_to_server(struct ktest *t, bool pinned, unsigned *here, uint64_t *handoffs)
{
    static struct callsrv c;
    struct thread *th;
    struct sched_cpu_stats before, after;
    memset(&c, 0, sizeof(c));
    ASSERT_OK(handle_table_init(&c.tab, 16));
    ASSERT_OK(chan_create(&c.tab, &c.client, &c.server));
    ASSERT_OK(thread_create("t-callsrv", callsrv_main, &c, PRIO_DEFAULT, &th));
    ASSERT_OK(thread_set_cpu(th, 1, pinned));
    thread_start(th);
    for (int i = 0; i < 200 && READ_ONCE(th->state) != THREAD_BLOCKED; i++)
        thread_sleep_ns(MS); // until it waits for the first request
    ASSERT_OK(sched_cpu_stats(0, &before));
    for (int i = 0; i < CALLS; i++) {
        struct nb_msg_header req = {0}, rep;
        struct nb_msg_out out = {&req, NULL, sizeof(req), 0};
        struct nb_msg_in in = {&rep, NULL, sizeof(rep), 0, 0, 0};
        EXPECT_OK(chan_call(&c.tab, c.client, &out, &in, now() + 5 * SECOND));
        EXPECT_EQ(in.nbytes, (uint32_t)sizeof(rep));
    }
    ASSERT_OK(sched_cpu_stats(0, &after));
    *handoffs = after.handoffs - before.handoffs;
    EXPECT_OK(handle_close(&c.tab, c.client));
    EXPECT_OK(thread_join(th, now() + 5 * SECOND, NULL));
    EXPECT_STATUS(c.st, ERR_PEER_CLOSED);
    EXPECT_EQ(c.served, (unsigned)CALLS);
    *here = 0;
    for (int i = 0; i < CALLS; i++)
        *here += c.cpu[i] == 0;
    handle_table_destroy(&c.tab);
}

static void handoff_body(struct ktest *t)
{
    uint64_t handoffs = 0;
    unsigned here = 0;
    // Unpinned: the server comes to the caller's CPU. (An idle CPU could
    // take it off the queue in the instant before the caller blocks, so
    // allow a few exceptions.)
    calls_to_server(t, false, &here, &handoffs);
    EXPECT_GE(here, (unsigned)CALLS * 3 / 4);
    EXPECT_GE(handoffs, (uint64_t)CALLS * 3 / 4);
    // Pinned elsewhere: plain wake-ups, and it stays there.
    here = CALLS;
    calls_to_server(t, true, &here, &handoffs);
    EXPECT_EQ(here, 0u);
}

static void smp_call_hands_cpu_to_waiting_server(struct ktest *t)
{
    NEED_CPUS(2);
    ktest_run_on_cpu0(t, handoff_body);
}

// ---- Waking an idle CPU ----

struct sleeper {
    struct spinlock lock;
    struct wait_queue wq;
    uint64_t woken_at;
    status_t result;
};

static int sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    irqstate_t st = spin_lock_irqsave(&s->lock);
    s->result = wait_queue_block(&s->wq, &s->lock, DEADLINE_INFINITE);
    s->woken_at = now();
    spin_unlock_irqrestore(&s->lock, st);
    return 0;
}

// A thread blocked on an otherwise idle CPU (halted: no timer armed there)
// runs soon after a wake-up from CPU 0: the reschedule IPI.
static void wake_idle_cpu(struct ktest *t)
{
    unsigned other = 1;
    struct sleeper s = {.lock = SPINLOCK_INIT("t-sleeper")};
    wait_queue_init(&s.wq);
    struct thread *th;
    ASSERT_OK(thread_create("t-sleeper", sleeper_main, &s, PRIO_DEFAULT, &th));
    ASSERT_OK(thread_set_cpu(th, other, true));
    thread_start(th);
    uint64_t deadline = now() + 5 * SECOND;
    for (;;) {
        irqstate_t st = spin_lock_irqsave(&s.lock);
        int waiting = wait_queue_count(&s.wq);
        spin_unlock_irqrestore(&s.lock, st);
        if (waiting || now() > deadline)
            break;
        thread_sleep_ns(MS);
    }
    thread_sleep_ns(20 * MS); // the other CPU halts meanwhile
    irqstate_t st = spin_lock_irqsave(&s.lock);
    uint64_t woke = now();
    EXPECT_EQ(wait_queue_wake(&s.wq, 1, OK), 1);
    spin_unlock_irqrestore(&s.lock, st);
    status_t jst = thread_join(th, now() + 5 * SECOND, NULL);
    ASSERT_OK(jst);
    EXPECT_OK(s.result);
    EXPECT_LT(s.woken_at - woke, SECOND); // (without the IPI: never)
}

static void smp_wake_up_reaches_idle_cpu(struct ktest *t)
{
    NEED_CPUS(2);
    ktest_run_on_cpu0(t, wake_idle_cpu);
}

// ---- Per-CPU timers ----

struct timer_probe {
    struct ktimer tm[3];
    unsigned cpu;
    int fired;  // (atomic)
    int on_cpu; // fired on the arming CPU (atomic)
};

static void probe_fire(struct ktimer *tm, void *arg)
{
    struct timer_probe *p = arg;
    if (arch_cpu_index() == p->cpu)
        __atomic_fetch_add(&p->on_cpu, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&p->fired, 1, __ATOMIC_RELEASE);
}

static int arm_three(void *arg)
{
    struct timer_probe *p = arg;
    p->cpu = arch_cpu_index();
    for (int k = 0; k < 3; k++) {
        ktimer_init(&p->tm[k], probe_fire, p);
        ktimer_arm(&p->tm[k], now() + (uint64_t)(k + 1) * MS);
    }
    uint64_t deadline = now() + 2 * SECOND;
    while (__atomic_load_n(&p->fired, __ATOMIC_ACQUIRE) < 3 && now() < deadline)
        thread_sleep_ns(MS);
    return 0;
}

static void smp_timers_fire_on_the_arming_cpu(struct ktest *t)
{
    unsigned n = arch_cpu_count();
    static struct timer_probe p[MAX_CPUS];
    struct thread *th[MAX_CPUS];
    memset(p, 0, sizeof(p));
    for (unsigned c = 0; c < n; c++) {
        ASSERT_OK(thread_create("t-timers", arm_three, &p[c], PRIO_DEFAULT, &th[c]));
        ASSERT_OK(thread_set_cpu(th[c], c, true));
        thread_start(th[c]);
    }
    for (unsigned c = 0; c < n; c++) {
        ASSERT_OK(thread_join(th[c], now() + 5 * SECOND, NULL));
        EXPECT_EQ(p[c].cpu, c);
        EXPECT_EQ(p[c].fired, 3);
        EXPECT_EQ(p[c].on_cpu, 3);
    }
}

static int arm_one_far(void *arg)
{
    struct timer_probe *p = arg;
    p->cpu = arch_cpu_index();
    ktimer_arm(&p->tm[0], now() + 50 * MS);
    return 0;
}

// Cancelled, or re-armed, from CPU 0 while queued on CPU 1.
static void cancel_rearm_across(struct ktest *t)
{
    unsigned other = 1;
    struct timer_probe p = {0};
    struct thread *th;
    ktimer_init(&p.tm[0], probe_fire, &p);
    ASSERT_OK(thread_create("t-arm", arm_one_far, &p, PRIO_DEFAULT, &th));
    ASSERT_OK(thread_set_cpu(th, other, true));
    thread_start(th);
    ASSERT_OK(thread_join(th, now() + 5 * SECOND, NULL));
    EXPECT_TRUE(ktimer_cancel(&p.tm[0]));
    EXPECT_FALSE(ktimer_cancel(&p.tm[0]));
    thread_sleep_ns(80 * MS);
    EXPECT_EQ(p.fired, 0);
    // Armed there again, then moved here by re-arming: fires here.
    ASSERT_OK(thread_create("t-arm", arm_one_far, &p, PRIO_DEFAULT, &th));
    ASSERT_OK(thread_set_cpu(th, other, true));
    thread_start(th);
    ASSERT_OK(thread_join(th, now() + 5 * SECOND, NULL));
    EXPECT_EQ(p.cpu, other);
    p.cpu = arch_cpu_index();
    ktimer_arm(&p.tm[0], now() + MS);
    uint64_t deadline = now() + 2 * SECOND;
    while (__atomic_load_n(&p.fired, __ATOMIC_ACQUIRE) < 1 && now() < deadline)
        thread_sleep_ns(MS);
    thread_sleep_ns(80 * MS); // past the first deadline: it must not fire there too
    EXPECT_EQ(p.fired, 1);
    EXPECT_EQ(p.on_cpu, 1);
}

static void smp_timer_cancel_and_rearm_across_cpus(struct ktest *t)
{
    NEED_CPUS(2);
    ktest_run_on_cpu0(t, cancel_rearm_across);
}

struct rearm {
    struct ktimer tm;
    int in_callback; // (atomic)
    int runs;        // (atomic)
    bool stop;       // do not re-arm (atomic)
};

// Re-arms itself at once, then stays busy for a while: a cancel from
// another CPU mostly finds it armed while this still runs.
static void rearm_fire(struct ktimer *tm, void *arg)
{
    struct rearm *r = arg;
    __atomic_store_n(&r->in_callback, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&r->runs, 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
        ktimer_arm(tm, now() + 300 * US); // (leaves the CPU some time between runs)
    uint64_t end = now() + 200 * US;
    while (now() < end)
        arch_cpu_relax();
    __atomic_store_n(&r->in_callback, 0, __ATOMIC_SEQ_CST);
}

static int arm_rearming(void *arg)
{
    struct rearm *r = arg;
    ktimer_arm(&r->tm, now());
    return 0;
}

// Stops a self-re-arming timer for good (also when a check failed).
static void rearm_stop(struct rearm *r)
{
    __atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
    ktimer_cancel(&r->tm);
    while (__atomic_load_n(&r->in_callback, __ATOMIC_SEQ_CST))
        arch_cpu_relax();
    ktimer_cancel(&r->tm);
}

static void cancel_while_running(struct ktest *t)
{
    unsigned other = 1;
    static struct rearm r;
    for (int round = 0; round < 10; round++) {
        struct thread *th;
        memset(&r, 0, sizeof(r));
        ktimer_init(&r.tm, rearm_fire, &r);
        ASSERT_OK(thread_create("t-rearm", arm_rearming, &r, PRIO_DEFAULT, &th));
        ASSERT_OK(thread_set_cpu(th, other, true));
        thread_start(th);
        uint64_t deadline = now() + 2 * SECOND;
        while (__atomic_load_n(&r.runs, __ATOMIC_RELAXED) < 3 && now() < deadline)
            arch_cpu_relax();
        EXPECT_GE(__atomic_load_n(&r.runs, __ATOMIC_RELAXED), 3);
        // False while its callback runs before re-arming; true once it was
        // armed, and then that callback has returned.
        bool cancelled = false;
        while (!(cancelled = ktimer_cancel(&r.tm)) && now() < deadline)
            arch_cpu_relax();
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(__atomic_load_n(&r.in_callback, __ATOMIC_SEQ_CST), 0);
        int runs = __atomic_load_n(&r.runs, __ATOMIC_RELAXED);
        thread_sleep_ns(2 * MS);
        EXPECT_EQ(__atomic_load_n(&r.runs, __ATOMIC_RELAXED), runs);
        rearm_stop(&r);
        ASSERT_OK(thread_join(th, now() + 5 * SECOND, NULL));
    }
}

static void smp_timer_cancel_waits_for_running_callback(struct ktest *t)
{
    NEED_CPUS(2);
    ktest_run_on_cpu0(t, cancel_while_running);
}

// ---- User processes ----

extern const char utprog_spin[], utprog_spin_end[];

// The CPU p's (only) thread belongs to.
static unsigned process_cpu(struct process *p)
{
    irqstate_t s = obj_lock(&p->obj);
    unsigned cpu = ~0u;
    if (!list_empty(&p->threads))
        cpu = READ_ONCE(list_entry(p->threads.next, struct uthread, proc_node)->kt->cpu);
    obj_unlock(&p->obj, s);
    return cpu;
}

static void smp_user_processes_run_in_parallel_and_die_promptly(struct ktest *t)
{
    NEED_CPUS(2);
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    unsigned n = arch_cpu_count();
    struct process *p[MAX_CPUS];
    uint64_t started[MAX_CPUS];
    size_t size = (size_t)((uintptr_t)utprog_spin_end - (uintptr_t)utprog_spin);
    for (unsigned i = 0; i < n; i++) {
        ASSERT_OK(process_create_kernel("smp-spin", &p[i]));
        started[i] = now();
        ASSERT_OK(process_load_blob(p[i], utprog_spin, size));
    }
    thread_sleep_ns(300 * MS);
    // (1) Each had (nearly) a CPU of its own: CPU time close to wall time.
    for (unsigned i = 0; i < n; i++) {
        struct nb_process_info info;
        process_info(p[i], &info);
        EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_RUNNING);
        EXPECT_GT(info.cpu_ns, (now() - started[i]) * 7 / 10);
    }
    // (2) One running on another CPU ends soon after the kill: that CPU is
    // interrupted (it would spin in user mode forever otherwise).
    unsigned victim = 0;
    for (unsigned i = 0; i < n; i++)
        if (process_cpu(p[i]) != arch_cpu_index())
            victim = i;
    uint64_t t0 = now();
    process_kill(p[victim], NB_EXIT_KILLED, NB_PROCESS_KILLED);
    EXPECT_OK(process_wait(p[victim], t0 + 5 * SECOND));
    EXPECT_LT(now() - t0, SECOND);
    for (unsigned i = 0; i < n; i++) {
        process_kill(p[i], NB_EXIT_KILLED, NB_PROCESS_KILLED);
        EXPECT_OK(process_wait(p[i], now() + 5 * SECOND));
        struct nb_process_info info;
        process_info(p[i], &info);
        EXPECT_EQ(info.exit_code, NB_EXIT_KILLED);
        obj_unref(&p[i]->obj);
    }
}

KTEST_SUITE(smp, KTEST_CASE(smp_cpus_online_and_idling), KTEST_CASE(smp_pinned_threads_stay),
            KTEST_CASE(smp_threads_spread_over_all_cpus),
            KTEST_CASE(smp_idle_cpus_take_waiting_threads),
            KTEST_CASE(smp_one_token_ring_never_stalls),
            KTEST_CASE(smp_many_tokens_ring_conserves_them),
            KTEST_CASE(smp_call_hands_cpu_to_waiting_server),
            KTEST_CASE(smp_wake_up_reaches_idle_cpu), KTEST_CASE(smp_timers_fire_on_the_arming_cpu),
            KTEST_CASE(smp_timer_cancel_and_rearm_across_cpus),
            KTEST_CASE(smp_timer_cancel_waits_for_running_callback),
            KTEST_CASE(smp_user_processes_run_in_parallel_and_die_promptly));
