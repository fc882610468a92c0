// In-kernel tests of user mode: small programs run in their own processes,
// exit with codes, fault, pass bad pointers, get killed; memory comes back.
#include "lib/ktest.h"
#include "mm/pmm.h"
#include "mm/slab.h"
#include "obj/vmo.h"
#include "sched/clock.h"
#include "sys/process.h"

#define SECOND 1000000000ull

#define DECLARE_PROG(n) extern const char utprog_##n[], utprog_##n##_end[]
DECLARE_PROG(exit42);
DECLARE_PROG(hello);
DECLARE_PROG(null);
DECLARE_PROG(ud);
DECLARE_PROG(div);
DECLARE_PROG(write_code);
DECLARE_PROG(exec_stack);
DECLARE_PROG(bad_pointers);
DECLARE_PROG(spin);
DECLARE_PROG(linux);
DECLARE_PROG(touch_pages);
#define PROG(n) utprog_##n, utprog_##n##_end

static status_t load(struct process *p, const char *start, const char *end)
{
    return process_load_blob(p, start, (size_t)(end - start));
}

struct outcome {
    int64_t code;
    uint32_t flags;
};

static status_t run(const char *start, const char *end, struct outcome *out)
{
    struct process *p;
    status_t st = process_create_kernel("utest", &p);
    if (st != OK)
        return st;
    if ((st = load(p, start, end)) == OK)
        st = process_wait(p, clock_monotonic_ns() + 10 * SECOND);
    struct nb_process_info info;
    process_info(p, &info);
    out->code = info.exit_code;
    out->flags = info.flags;
    if (st != OK)
        process_kill(p, -1, NB_PROCESS_KILLED);
    obj_unref(&p->obj);
    return st;
}

static void user_exit_code(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct outcome o;
    ASSERT_OK(run(PROG(exit42), &o));
    EXPECT_EQ(o.code, 42);
    EXPECT_EQ(o.flags, 0u);
}

static void user_debug_write(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct outcome o;
    ASSERT_OK(run(PROG(hello), &o));
    EXPECT_EQ(o.code, 0);
}

static void user_faults_end_only_the_process(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    static const struct {
        const char *start, *end;
        int64_t code;
    } cases[] = {
        {PROG(null), NB_EXIT_FAULT_SEGV},       {PROG(ud), NB_EXIT_FAULT_ILL},
        {PROG(div), NB_EXIT_FAULT_FPE},         {PROG(write_code), NB_EXIT_FAULT_SEGV},
        {PROG(exec_stack), NB_EXIT_FAULT_SEGV},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct outcome o;
        ASSERT_OK(run(cases[i].start, cases[i].end, &o));
        EXPECT_EQ(o.code, cases[i].code);
        EXPECT_EQ(o.flags, (uint32_t)NB_PROCESS_FAULTED);
    }
}

static void user_bad_pointers_are_errors(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct outcome o;
    ASSERT_OK(run(PROG(bad_pointers), &o));
    EXPECT_EQ(o.code, 0);
}

static void user_linux_personality(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct outcome o;
    ASSERT_OK(run(PROG(linux), &o));
    EXPECT_EQ(o.code, 7);
}

static void user_demand_zero_pages(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct outcome o;
    ASSERT_OK(run(PROG(touch_pages), &o));
    EXPECT_EQ(o.code, 0);
}

static void user_kill_spinning_process(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct process *p;
    ASSERT_OK(process_create_kernel("spin", &p));
    ASSERT_OK(load(p, PROG(spin)));
    thread_sleep_ns(20 * 1000000ull); // it runs (and gets preempted) meanwhile
    struct nb_process_info info;
    process_info(p, &info);
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_RUNNING);
    EXPECT_GT(info.cpu_ns, 0u);
    process_kill(p, NB_EXIT_KILLED, NB_PROCESS_KILLED);
    EXPECT_OK(process_wait(p, clock_monotonic_ns() + 10 * SECOND));
    process_info(p, &info);
    EXPECT_EQ(info.exit_code, NB_EXIT_KILLED);
    EXPECT_EQ(info.flags, (uint32_t)NB_PROCESS_KILLED);
    obj_unref(&p->obj);
}

// The thread and process counts once threads and processes still ending
// on other CPUs are gone (the last thread of a process ends after
// process_wait sees it terminated; the process goes with its last
// reference after that).
static void settled_counts(unsigned *threads, uint64_t *procs)
{
    unsigned n = sched_thread_count();
    uint64_t p = process_live_count();
    for (int i = 0; i < 100; i++) {
        thread_sleep_ns(10 * 1000000ull);
        unsigned m = sched_thread_count();
        uint64_t q = process_live_count();
        if (m == n && q == p)
            break;
        n = m;
        p = q;
    }
    *threads = n;
    *procs = p;
}

// Waits (up to 100 ms) until no more threads or processes are left than
// the counts given: exited threads are freed after their last switch.
static void wait_for_counts(unsigned threads, uint64_t procs)
{
    for (int i = 0; i < 100 && (sched_thread_count() > threads || process_live_count() > procs);
         i++)
        thread_sleep_ns(1000000);
}

static void user_many_processes_return_memory(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct pmm_stats before, after;
    uint64_t procs;
    unsigned threads;
    settled_counts(&threads, &procs); // an earlier case's process may still be ending
    struct outcome o;
    ASSERT_OK(run(PROG(exit42), &o)); // warm the caches
    wait_for_counts(threads, procs);  // its thread may still be ending on another CPU
    slab_reclaim();
    pmm_get_stats(&before);
    for (int i = 0; i < 100; i++) {
        if (i % 10)
            ASSERT_OK(run(PROG(exit42), &o));
        else
            ASSERT_OK(run(PROG(null), &o));
        EXPECT_EQ(o.code, i % 10 ? 42 : NB_EXIT_FAULT_SEGV);
    }
    wait_for_counts(threads, procs);
    slab_reclaim();
    pmm_get_stats(&after);
    EXPECT_EQ(process_live_count(), procs);
    EXPECT_EQ(sched_thread_count(), threads);
    EXPECT_EQ(after.free_pages, before.free_pages);
}

KTEST_SUITE(user, KTEST_CASE(user_exit_code), KTEST_CASE(user_debug_write),
            KTEST_CASE(user_faults_end_only_the_process), KTEST_CASE(user_bad_pointers_are_errors),
            KTEST_CASE(user_linux_personality), KTEST_CASE(user_demand_zero_pages),
            KTEST_CASE(user_kill_spinning_process), KTEST_CASE(user_many_processes_return_memory));
