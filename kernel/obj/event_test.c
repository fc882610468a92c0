// nimbus:host
// Tests of events, event pairs, signals and wait_one (blocking cases run on
// host threads).
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/signal.h"
#include "sched/clock.h"

static struct handle_table tab;

static void event_signal_and_clear(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev;
    signals_t seen = 0;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &ev));
    EXPECT_STATUS(obj_wait_one(&tab, ev, SIGNAL_SIGNALED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    EXPECT_EQ(seen, 0u);
    EXPECT_OK(obj_signal(&tab, ev, 0, SIGNAL_SIGNALED | SIGNAL_USER(3)));
    EXPECT_OK(obj_wait_one(&tab, ev, SIGNAL_USER(3), DEADLINE_NONE, &seen));
    EXPECT_EQ(seen, SIGNAL_SIGNALED | SIGNAL_USER(3));
    EXPECT_OK(obj_signal(&tab, ev, SIGNAL_SIGNALED, 0));
    EXPECT_OK(obj_wait_one(&tab, ev, SIGNAL_USER_ALL, DEADLINE_NONE, &seen));
    EXPECT_EQ(seen, SIGNAL_USER(3));
    // Kernel-owned signals cannot be set by hand.
    EXPECT_STATUS(obj_signal(&tab, ev, 0, SIGNAL_READABLE), ERR_INVALID_ARGS);
    EXPECT_STATUS(obj_signal(&tab, ev, SIGNAL_PEER_CLOSED, 0), ERR_INVALID_ARGS);
    // Events have no peer.
    EXPECT_STATUS(obj_signal_peer(&tab, ev, 0, SIGNAL_USER0), ERR_ACCESS_DENIED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void eventpair_peer_signals_and_closure(struct ktest *t)
{
    struct obj_baseline b;
    handle_t a, c;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(eventpair_create(&tab, &a, &c));
    EXPECT_OK(obj_signal_peer(&tab, a, 0, SIGNAL_USER1));
    EXPECT_OK(obj_wait_one(&tab, c, SIGNAL_USER1, DEADLINE_NONE, &seen));
    EXPECT_STATUS(obj_wait_one(&tab, a, SIGNAL_USER1, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    EXPECT_OK(handle_close(&tab, c));
    EXPECT_OK(obj_wait_one(&tab, a, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen));
    EXPECT_STATUS(obj_signal_peer(&tab, a, 0, SIGNAL_USER1), ERR_PEER_CLOSED);
    EXPECT_EQ(obj_live_count(OBJ_EVENTPAIR), b.objs[OBJ_EVENTPAIR] + 1);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void event_wait_on_closed_handle(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(handle_close(&tab, ev));
    EXPECT_STATUS(obj_wait_one(&tab, ev, SIGNAL_SIGNALED, objtest_deadline_ms(10), &seen),
                  ERR_BAD_HANDLE);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void event_wait_deadline_expires(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev;
    signals_t seen = 1;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &ev));
    uint64_t start = clock_monotonic_ns();
    EXPECT_STATUS(obj_wait_one(&tab, ev, SIGNAL_SIGNALED, start + 20000000ull, &seen),
                  ERR_TIMED_OUT);
    EXPECT_GE(clock_monotonic_ns() - start, 20000000ull);
    EXPECT_EQ(seen, 0u);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

struct waiter_arg {
    handle_t h;
    signals_t want;
    uint64_t deadline;
    status_t st;
    signals_t seen;
    volatile int done;
};

static void waiter_thread(void *p)
{
    struct waiter_arg *w = p;

    w->st = obj_wait_one(&tab, w->h, w->want, w->deadline, &w->seen);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

static void event_waiter_woken_by_signal(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th[2];
    struct waiter_arg w[2];
    handle_t ev;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &ev));
    for (int i = 0; i < 2; i++) {
        w[i] = (struct waiter_arg){.h = ev, .want = SIGNAL_USER(i), .deadline = DEADLINE_INFINITE};
        objtest_spawn(&th[i], waiter_thread, &w[i]);
    }
    EXPECT_TRUE(objtest_wait_blocked(&tab, ev, 2));
    EXPECT_EQ(w[0].done, 0);
    EXPECT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER(1)));
    EXPECT_TRUE(objtest_wait_for(&w[1].done, 1));
    objtest_sleep_ms(5);
    EXPECT_EQ(w[0].done, 0); // woken by the change, went back to sleep
    EXPECT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER(0)));
    for (int i = 0; i < 2; i++) {
        objtest_join(&th[i]);
        EXPECT_OK(w[i].st);
        EXPECT_TRUE(w[i].seen & SIGNAL_USER(i));
    }
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void event_close_cancels_waiter(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th, th2;
    struct waiter_arg w, w2;
    handle_t ev, dup;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(handle_duplicate(&tab, ev, RIGHT_SAME_RIGHTS, &dup));
    w = (struct waiter_arg){.h = ev, .want = SIGNAL_SIGNALED, .deadline = DEADLINE_INFINITE};
    w2 = (struct waiter_arg){.h = dup, .want = SIGNAL_SIGNALED, .deadline = DEADLINE_INFINITE};
    objtest_spawn(&th, waiter_thread, &w);
    objtest_spawn(&th2, waiter_thread, &w2);
    EXPECT_TRUE(objtest_wait_blocked(&tab, ev, 2));
    // Closing the handle one thread waits through cancels that wait only.
    EXPECT_OK(handle_close(&tab, ev));
    objtest_join(&th);
    EXPECT_STATUS(w.st, ERR_CANCELED);
    objtest_sleep_ms(5);
    EXPECT_EQ(w2.done, 0);
    EXPECT_OK(handle_close(&tab, dup));
    objtest_join(&th2);
    EXPECT_STATUS(w2.st, ERR_CANCELED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void eventpair_peer_close_wakes_waiter(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct waiter_arg w;
    handle_t a, c;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(eventpair_create(&tab, &a, &c));
    w = (struct waiter_arg){
        .h = a, .want = SIGNAL_PEER_CLOSED, .deadline = objtest_deadline_ms(2000)};
    objtest_spawn(&th, waiter_thread, &w);
    EXPECT_TRUE(objtest_wait_blocked(&tab, a, 1));
    EXPECT_OK(handle_close(&tab, c));
    objtest_join(&th);
    EXPECT_OK(w.st);
    EXPECT_TRUE(w.seen & SIGNAL_PEER_CLOSED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(event, KTEST_CASE(event_signal_and_clear),
            KTEST_CASE(eventpair_peer_signals_and_closure), KTEST_CASE(event_wait_on_closed_handle),
            KTEST_CASE(event_wait_deadline_expires), KTEST_CASE(event_waiter_woken_by_signal),
            KTEST_CASE(event_close_cancels_waiter),
            KTEST_CASE(eventpair_peer_close_wakes_waiter), );
