// nimbus:host
// Tests of timer objects: expiry asserts SIGNALED, cancel and re-arm, and
// an armed timer does not outlive its last handle.
#include "obj/objtest.h"
#include "obj/port.h"
#include "obj/signal.h"
#include "obj/timer.h"
#include "sched/clock.h"

static struct handle_table tab;

static void timer_fires_at_deadline(struct ktest *t)
{
    struct obj_baseline b;
    handle_t tm;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(timer_create(&tab, &tm));
    uint64_t start = clock_monotonic_ns();
    uint64_t deadline = start + 10000000ull;
    ASSERT_OK(timer_set(&tab, tm, deadline));
    EXPECT_STATUS(obj_wait_one(&tab, tm, SIGNAL_SIGNALED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    EXPECT_OK(obj_wait_one(&tab, tm, SIGNAL_SIGNALED, objtest_deadline_ms(2000), &seen));
    EXPECT_GE(clock_monotonic_ns(), deadline);
    // Setting again clears SIGNALED until the new deadline.
    ASSERT_OK(timer_set(&tab, tm, clock_monotonic_ns() + 5000000ull));
    EXPECT_STATUS(obj_wait_one(&tab, tm, SIGNAL_SIGNALED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    EXPECT_OK(obj_wait_one(&tab, tm, SIGNAL_SIGNALED, objtest_deadline_ms(2000), &seen));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void timer_past_deadline_fires_at_once(struct ktest *t)
{
    struct obj_baseline b;
    handle_t tm;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(timer_create(&tab, &tm));
    ASSERT_OK(timer_set(&tab, tm, 1));
    EXPECT_OK(obj_wait_one(&tab, tm, SIGNAL_SIGNALED, objtest_deadline_ms(2000), &seen));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void timer_cancel_prevents_firing(struct ktest *t)
{
    struct obj_baseline b;
    handle_t tm;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(timer_create(&tab, &tm));
    ASSERT_OK(timer_set(&tab, tm, objtest_deadline_ms(5)));
    ASSERT_OK(timer_cancel(&tab, tm));
    EXPECT_STATUS(obj_wait_one(&tab, tm, SIGNAL_SIGNALED, objtest_deadline_ms(20), &seen),
                  ERR_TIMED_OUT);
    EXPECT_OK(timer_cancel(&tab, tm)); // cancelling a disarmed timer is fine
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void timer_closed_while_armed(struct ktest *t)
{
    struct obj_baseline b;
    handle_t tm, weak;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(timer_create(&tab, &tm));
    ASSERT_OK(handle_duplicate(&tab, tm, RIGHT_WAIT, &weak));
    EXPECT_STATUS(timer_set(&tab, weak, 1), ERR_ACCESS_DENIED);
    EXPECT_OK(handle_close(&tab, weak));
    ASSERT_OK(timer_set(&tab, tm, objtest_deadline_ms(1000)));
    EXPECT_OK(handle_close(&tab, tm));
    // The arming's reference went with the last handle: nothing stays alive.
    EXPECT_EQ(obj_live_count(OBJ_TIMER), b.objs[OBJ_TIMER]);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void timer_through_port(struct ktest *t)
{
    struct obj_baseline b;
    handle_t tm, port;
    struct nb_port_packet pkt;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(timer_create(&tab, &tm));
    ASSERT_OK(port_create(&tab, &port));
    ASSERT_OK(port_bind(&tab, port, tm, 77, SIGNAL_SIGNALED, PORT_BIND_ONCE));
    ASSERT_OK(timer_set(&tab, tm, objtest_deadline_ms(5)));
    ASSERT_OK(port_wait(&tab, port, objtest_deadline_ms(2000), &pkt));
    EXPECT_EQ(pkt.key, 77u);
    EXPECT_EQ(pkt.type, (uint32_t)PORT_PACKET_SIGNAL_ONCE);
    EXPECT_TRUE(pkt.signal.observed & SIGNAL_SIGNALED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(timer, KTEST_CASE(timer_fires_at_deadline),
            KTEST_CASE(timer_past_deadline_fires_at_once), KTEST_CASE(timer_cancel_prevents_firing),
            KTEST_CASE(timer_closed_while_armed), KTEST_CASE(timer_through_port));
