// In-kernel tests of running out of memory: every allocation on the paths a
// small machine hits first (process and thread creation, program loading,
// page faults, channels with handles, VMOs) is made to fail in turn with the
// allocation failure injector. Each failure must come back as ERR_NO_MEMORY
// (or end the process with an "out of memory" report), free exactly what
// was taken, and leave no use-after-free behind (the slab poison checks and
// the pmm's bad-free checks count those).
#include "lib/ktest.h"
#include "lib/printk.h"
#include "mm/allocfail.h"
#include "mm/pmm.h"
#include "mm/slab.h"
#include "nimbus/channel.h"
#include "obj/channel.h"
#include "obj/handle.h"
#include "obj/vmo.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "sys/process.h"

#define SECOND      1000000000ull
#define MAX_STEPS   400 // more allocations than any of these paths makes
#define NB_EXIT_OOM NB_EXIT_KILLED

extern const char utprog_exit42[], utprog_exit42_end[];
extern const char utprog_touch_pages[], utprog_touch_pages_end[];

struct baseline {
    uint64_t free_pages, slab_errors, pmm_errors, procs, handles;
    unsigned threads;
};

static void settle(unsigned threads)
{
    for (int i = 0; i < 200 && sched_thread_count() > threads; i++)
        thread_sleep_ns(1000000); // exited threads are freed after their last switch
    slab_reclaim();
}

static void take_baseline(struct baseline *b)
{
    struct pmm_stats s;
    // Threads of earlier cases may still be ending on other CPUs: wait until
    // the count holds still.
    b->threads = sched_thread_count();
    for (int i = 0, still = 0; i < 200 && still < 5; i++) {
        thread_sleep_ns(2000000);
        unsigned n = sched_thread_count();
        still = n == b->threads ? still + 1 : 0;
        b->threads = n;
    }
    settle(b->threads);
    pmm_get_stats(&s);
    b->free_pages = s.free_pages;
    b->slab_errors = slab_error_count();
    b->pmm_errors = pmm_error_count();
    b->procs = process_live_count();
    b->handles = handle_live_count();
}

static void check_baseline(struct ktest *t, const struct baseline *b)
{
    struct pmm_stats s;
    settle(b->threads);
    pmm_get_stats(&s);
    EXPECT_EQ(slab_error_count(), b->slab_errors);
    EXPECT_EQ(pmm_error_count(), b->pmm_errors);
    EXPECT_EQ(process_live_count(), b->procs);
    EXPECT_EQ(handle_live_count(), b->handles);
    EXPECT_EQ(sched_thread_count(), b->threads);
    EXPECT_EQ(s.free_pages, b->free_pages);
}

// Creates, loads and runs a program, with the nth allocation of the calling
// thread failing. *code is the exit code when it ran.
static status_t run_failing(const char *start, const char *end, unsigned long nth, unsigned flags,
                            int64_t *code, unsigned long *injected)
{
    struct process *p;
    allocfail_arm(nth, flags);
    status_t st = process_create_kernel("lowmem", &p);
    if (st == OK) {
        st = process_load_blob(p, start, (size_t)(end - start));
        if (st == OK)
            st = process_wait(p, clock_monotonic_ns() + 10 * SECOND);
        *injected = allocfail_disarm();
        struct nb_process_info info;
        process_info(p, &info);
        *code = info.exit_code;
        if (st != OK)
            process_kill(p, -1, NB_PROCESS_KILLED);
        obj_unref(&p->obj);
    } else {
        *injected = allocfail_disarm();
    }
    return st;
}

// Every allocation of process creation and program loading fails in turn.
static void lowmem_process_start_each_failure(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct baseline b;
    int64_t code = 0;
    unsigned long injected = 0, n;
    status_t st;
    // Warm up: caches and lazily made kernel structures exist before counting.
    ASSERT_OK(run_failing(utprog_exit42, utprog_exit42_end, ~0ul, 0, &code, &injected));
    take_baseline(&b);
    for (n = 1; n <= MAX_STEPS; n++) {
        code = 0;
        st = run_failing(utprog_exit42, utprog_exit42_end, n, 0, &code, &injected);
        if (!injected) {
            ASSERT_OK(st); // past the last allocation: the whole path works
            EXPECT_EQ(code, 42);
            break;
        }
        if (st == OK) // the failure was absorbed (a cache, a retry): it still ran
            EXPECT_EQ(code, 42);
        else
            EXPECT_STATUS(st, ERR_NO_MEMORY);
        if (t->failures) {
            ktest_fail(t, __FILE__, __LINE__, "at allocation %lu", n);
            return;
        }
    }
    EXPECT_LE(n, (unsigned long)MAX_STEPS);
    pr_info("lowmem: process start: %lu allocations failed in turn", n - 1);
    check_baseline(t, &b);
}

// From the nth allocation on, every allocation fails, whoever makes it.
// Early n fail the loading; later ones land on the program's page faults,
// and a process whose fault finds no memory is ended with an out-of-memory
// report and NB_EXIT_KILLED while the system carries on.
static void lowmem_page_fault_ends_the_process(struct ktest *t)
{
    if (!user_mode_works())
        KTEST_SKIP("this hypervisor cannot run user mode");
    struct baseline b;
    int64_t code = 0;
    unsigned long injected = 0, n, oom_kills = 0;
    ASSERT_OK(run_failing(utprog_touch_pages, utprog_touch_pages_end, ~0ul, 0, &code, &injected));
    take_baseline(&b);
    for (n = 1; n <= MAX_STEPS; n++) {
        code = -1;
        status_t st = run_failing(utprog_touch_pages, utprog_touch_pages_end, n,
                                  ALLOCFAIL_STICKY | ALLOCFAIL_ANY_THREAD, &code, &injected);
        if (st != OK) {
            EXPECT_STATUS(st, ERR_NO_MEMORY);
        } else if (code == NB_EXIT_KILLED) {
            oom_kills++;
        } else {
            EXPECT_EQ(code, 0);
            if (!injected)
                break; // past the last allocation: ran to the end
        }
        if (t->failures) {
            ktest_fail(t, __FILE__, __LINE__, "at allocation %lu", n);
            return;
        }
    }
    EXPECT_LE(n, (unsigned long)MAX_STEPS);
    EXPECT_GT(oom_kills, 0ul); // some failures did land on page faults
    pr_info("lowmem: page faults: %lu steps, %lu out-of-memory kills", n - 1, oom_kills);
    check_baseline(t, &b);
}

// Channel writes carrying handles, and reads, with each allocation failing.
static void lowmem_channel_each_failure(struct ktest *t)
{
    static struct handle_table tab;
    struct baseline b;
    handle_t c0, c1, v, hs[1];
    unsigned long n, injected = 0;
    char buf[64] = {0};
    ASSERT_OK(handle_table_init(&tab, 64));
    take_baseline(&b);
    for (n = 1; n <= MAX_STEPS; n++) {
        allocfail_arm(n, 0);
        status_t st = chan_create(&tab, &c0, &c1);
        if (st == OK) {
            status_t sv = vmo_create(&tab, 3 * 4096, &v);
            if (sv == OK) {
                hs[0] = v;
                struct nb_msg_out m = {"hello", hs, 5, 1};
                status_t sw = chan_write(&tab, c0, &m);
                if (sw == OK) {
                    handle_t got[1];
                    struct nb_msg_in in = {buf, got, sizeof(buf), 1, 0, 0};
                    status_t sr = chan_read(&tab, c1, &in);
                    if (sr == OK)
                        EXPECT_OK(handle_close(&tab, got[0]));
                    else
                        EXPECT_STATUS(sr, ERR_NO_MEMORY);
                } else {
                    EXPECT_STATUS(sw, ERR_NO_MEMORY);
                    EXPECT_OK(handle_close(&tab, v)); // a failed write leaves the handle
                }
            } else {
                EXPECT_STATUS(sv, ERR_NO_MEMORY);
            }
            EXPECT_OK(handle_close(&tab, c0));
            EXPECT_OK(handle_close(&tab, c1));
        } else {
            EXPECT_STATUS(st, ERR_NO_MEMORY);
        }
        injected = allocfail_disarm();
        if (t->failures) {
            ktest_fail(t, __FILE__, __LINE__, "at allocation %lu", n);
            break;
        }
        if (!injected)
            break;
    }
    EXPECT_LE(n, (unsigned long)MAX_STEPS);
    pr_info("lowmem: channels: %lu allocations failed in turn", n - 1);
    EXPECT_EQ(handle_table_count(&tab), 0u);
    handle_table_destroy(&tab);
    check_baseline(t, &b);
}

// A process that never ran, dropped by its last holder (a spawn that failed
// for lack of memory and closed the handle): it is destroyed exactly once.
// It used to be torn down from process_destroy with a reference taken and
// dropped again at a count of zero, which destroyed it a second time and
// left the first destroy unlinking freed (poisoned) memory: the #GP with
// 0x6b6b6b6b6b6b6b6b in RDX seen in sys_handle_close at -m 5M.
static void lowmem_unstarted_process_destroyed_once(struct ktest *t)
{
    static struct handle_table tab;
    struct baseline b;
    struct process *p;
    handle_t h;
    ASSERT_OK(handle_table_init(&tab, 16));
    take_baseline(&b);
    ASSERT_OK(process_create_kernel("never-ran", &p));
    obj_unref(&p->obj);
    ASSERT_OK(process_create(&tab, "never-ran", &h));
    EXPECT_OK(handle_close(&tab, h));
    // With the object's memory poisoned on free, a second destroy shows up as
    // a bad free or a write after free.
    void *reuse = kmalloc(sizeof(struct process));
    kfree(reuse);
    handle_table_destroy(&tab);
    check_baseline(t, &b);
}

KTEST_SUITE(lowmem, KTEST_CASE(lowmem_unstarted_process_destroyed_once),
            KTEST_CASE(lowmem_process_start_each_failure),
            KTEST_CASE(lowmem_page_fault_ends_the_process),
            KTEST_CASE(lowmem_channel_each_failure));
