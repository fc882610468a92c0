// nimbus:host
// Tests of the spinlock slow path with halting waiters (lib/spinlock.h):
// the protocol step by step on one thread, then contention with real
// halts and kicks. On the host the "CPUs" are threads that halt on a
// condition variable; in the guest they are kernel threads pinned one per
// CPU that halt with hlt and are kicked by a reschedule IPI.
#include "lib/ktest.h"
#include "lib/spinlock.h"
#include "sched/clock.h"

#ifdef HOST_TEST
#include <pthread.h>
#include <time.h>
#else
#include "sched/thread.h"
#endif

#define SIM_CPUS   4
#define ROUNDS     500
#define CS_NS      20000         // the critical section outlasts a waiter's spins
#define HALT_LIMIT 2000000000ull // ns a halted waiter may wait for its kick

static struct spinlock *sim_waiting[SIM_CPUS];

// ---- One thread: the protocol's steps ----

static unsigned step_cpu(void)
{
    return 2;
}

static struct spinlock step_lock;
static struct spin_pv step_pv;
static unsigned step_kicked[SIM_CPUS];
static int step_halts_seen_word;

static void step_kick(unsigned cpu)
{
    step_kicked[cpu]++;
}

// "Halted": the holder releases the lock meanwhile, which must kick us.
static void step_halt(void)
{
    step_halts_seen_word = step_lock.locked;
    spin_pv_release(&step_lock, &step_pv);
}

static void spin_pv_protocol_steps(struct ktest *t)
{
    step_pv = (struct spin_pv){.cpu = step_cpu,
                               .halt = step_halt,
                               .kick = step_kick,
                               .spins = 8,
                               .ncpus = SIM_CPUS,
                               .waiting = sim_waiting};
    step_lock = (struct spinlock)SPINLOCK_INIT("step");
    for (int i = 0; i < SIM_CPUS; i++)
        step_kicked[i] = 0;
    // Uncontended: no halt, no kick, nothing recorded.
    spin_pv_acquire(&step_lock, &step_pv, true);
    EXPECT_EQ(step_lock.locked, SPIN_HELD);
    spin_pv_release(&step_lock, &step_pv);
    EXPECT_EQ(step_lock.locked, 0);
    EXPECT_EQ(step_pv.halts, 0u);
    // Held by "another CPU": spin, mark the word, halt; the release kicks
    // this CPU and it takes the lock.
    step_lock.locked = SPIN_HELD;
    spin_pv_acquire(&step_lock, &step_pv, true);
    EXPECT_EQ(step_halts_seen_word, SPIN_HELD | SPIN_WAITERS);
    EXPECT_EQ(step_pv.halts, 1u);
    EXPECT_EQ(step_pv.kicks, 1u);
    EXPECT_EQ(step_kicked[2], 1u);
    EXPECT_EQ(step_lock.locked, SPIN_HELD); // the release cleared the mark
    EXPECT_NULL(sim_waiting[2]);
    spin_pv_release(&step_lock, &step_pv);
    EXPECT_EQ(step_pv.kicks, 1u); // nobody marked it: no kick
    // A free lock that still carries the mark is taken, and its release
    // kicks (nobody: the record is gone) without harm.
    step_lock.locked = SPIN_WAITERS;
    spin_pv_acquire(&step_lock, &step_pv, true);
    EXPECT_EQ(step_lock.locked, SPIN_HELD | SPIN_WAITERS);
    spin_pv_release(&step_lock, &step_pv);
    EXPECT_EQ(step_lock.locked, 0);
    EXPECT_EQ(step_pv.kicks, 1u);
}

// ---- Contention ----

struct contend {
    struct spinlock lock;
    struct spin_pv pv;
    volatile uint64_t counter; // (lock) incremented without atomics
    unsigned ncpus;
    unsigned ready; // (atomic) threads started
};

static struct contend con;

// The critical section: a read, some time, a write, so that a broken lock
// loses increments and the others pile up waiting.
static void contend_round(void)
{
    uint64_t v = con.counter, until = clock_monotonic_ns() + CS_NS;
    while (clock_monotonic_ns() < until)
        ;
    con.counter = v + 1;
}

#ifdef HOST_TEST
static __thread unsigned sim_self;
static pthread_mutex_t sim_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sim_cond = PTHREAD_COND_INITIALIZER;
static bool sim_kicked[SIM_CPUS]; // (sim_mutex) a kick not yet consumed by a halt
static unsigned sim_overslept;    // (sim_mutex) halts that ended without a kick

static unsigned sim_cpu(void)
{
    return sim_self;
}

// Like PV_UNHALT: a kick made before the halt makes it return at once.
static void sim_halt(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(HALT_LIMIT / 1000000000ull);
    pthread_mutex_lock(&sim_mutex);
    int rc = 0;
    while (!sim_kicked[sim_self] && rc == 0)
        rc = pthread_cond_timedwait(&sim_cond, &sim_mutex, &ts);
    if (!sim_kicked[sim_self])
        sim_overslept++;
    sim_kicked[sim_self] = false;
    pthread_mutex_unlock(&sim_mutex);
}

static void sim_kick(unsigned cpu)
{
    pthread_mutex_lock(&sim_mutex);
    sim_kicked[cpu] = true;
    pthread_cond_broadcast(&sim_cond);
    pthread_mutex_unlock(&sim_mutex);
}

static void *contender(void *arg)
{
    sim_self = (unsigned)(uintptr_t)arg;
    __atomic_add_fetch(&con.ready, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&con.ready, __ATOMIC_RELAXED) < con.ncpus)
        ;
    for (int i = 0; i < ROUNDS; i++) {
        spin_pv_acquire(&con.lock, &con.pv, true);
        contend_round();
        spin_pv_release(&con.lock, &con.pv);
    }
    return NULL;
}

static void spin_pv_contention_no_lost_kick(struct ktest *t)
{
    pthread_t th[SIM_CPUS];
    con = (struct contend){.lock = SPINLOCK_INIT("contend"), .ncpus = SIM_CPUS};
    con.pv = (struct spin_pv){.cpu = sim_cpu,
                              .halt = sim_halt,
                              .kick = sim_kick,
                              .spins = 4,
                              .ncpus = SIM_CPUS,
                              .waiting = sim_waiting};
    sim_overslept = 0;
    for (unsigned i = 0; i < SIM_CPUS; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, contender, (void *)(uintptr_t)i), 0);
    for (unsigned i = 0; i < SIM_CPUS; i++)
        pthread_join(th[i], NULL);
    EXPECT_EQ(con.counter, (uint64_t)SIM_CPUS * ROUNDS);
    EXPECT_EQ(sim_overslept, 0u); // every halt ended with its kick
    EXPECT_GT(con.pv.halts, 0u);
    EXPECT_GT(con.pv.kicks, 0u);
    EXPECT_EQ(con.lock.locked, 0);
}
#else
static struct spinlock *cpu_waiting[MAX_CPUS];

static unsigned kernel_cpu(void)
{
    return arch_cpu_index();
}

// Interrupts are off in the slow path: on, hlt (atomically), off again.
static void kernel_halt(void)
{
    arch_idle();
    (void)arch_irq_save();
}

static void kernel_kick(unsigned cpu)
{
    arch_send_reschedule(cpu);
}

static int contender(void *arg)
{
    __atomic_add_fetch(&con.ready, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&con.ready, __ATOMIC_RELAXED) < con.ncpus)
        arch_cpu_relax();
    for (int i = 0; i < ROUNDS; i++) {
        irqstate_t s = arch_irq_save();
        spin_pv_acquire(&con.lock, &con.pv, true);
        contend_round();
        spin_pv_release(&con.lock, &con.pv);
        arch_irq_restore(s);
    }
    return 0;
}

// One contender per CPU; a lost kick leaves a CPU halted for good (nothing
// else wakes it here), which the join deadline catches.
static void spin_pv_contention_no_lost_kick(struct ktest *t)
{
    unsigned n = arch_cpu_count();
    if (n < 2)
        KTEST_SKIP("needs 2 CPUs online");
    struct thread *th[MAX_CPUS];
    con = (struct contend){.lock = SPINLOCK_INIT("contend"), .ncpus = n};
    con.pv = (struct spin_pv){.cpu = kernel_cpu,
                              .halt = kernel_halt,
                              .kick = kernel_kick,
                              .spins = 4,
                              .ncpus = MAX_CPUS,
                              .waiting = cpu_waiting};
    for (unsigned i = 0; i < n; i++) {
        ASSERT_OK(thread_create("t-spin", contender, NULL, PRIO_HIGH, &th[i]));
        ASSERT_OK(thread_set_cpu(th[i], i, true));
    }
    for (unsigned i = 0; i < n; i++)
        thread_start(th[i]);
    for (unsigned i = 0; i < n; i++) {
        status_t st = thread_join(th[i], clock_monotonic_ns() + HALT_LIMIT * 10, NULL);
        EXPECT_OK(st);
        while (st != OK) { // a lost kick: wake everyone until it ends
            for (unsigned c = 0; c < n; c++)
                kernel_kick(c);
            st = thread_join(th[i], clock_monotonic_ns() + HALT_LIMIT / 100, NULL);
        }
    }
    EXPECT_EQ(con.counter, (uint64_t)n * ROUNDS);
    EXPECT_GT(con.pv.halts, 0u);
    EXPECT_GT(con.pv.kicks, 0u);
    EXPECT_EQ(con.lock.locked, 0);
}
#endif

KTEST_SUITE(spinlock, KTEST_CASE(spin_pv_protocol_steps),
            KTEST_CASE(spin_pv_contention_no_lost_kick));
