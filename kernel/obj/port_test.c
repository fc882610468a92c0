// nimbus:host
// Tests of ports: user packets, EDGE and ONCE bindings, coalescing,
// cancellation, limits, cleanup when either side closes, blocking waits.
#include "obj/channel.h"
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/port.h"
#include "obj/signal.h"

static struct handle_table tab;

static status_t poll_port(handle_t port, struct nb_port_packet *pkt)
{
    return port_wait(&tab, port, DEADLINE_NONE, pkt);
}

static void port_user_packets_in_order(struct ktest *t)
{
    struct obj_baseline b;
    handle_t port, weak;
    struct nb_port_packet pkt = {0};

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT);
    for (uint64_t i = 1; i <= 3; i++) {
        pkt.key = i;
        pkt.user.u64[0] = i * 10;
        ASSERT_OK(port_queue(&tab, port, &pkt));
    }
    signals_t seen;
    EXPECT_OK(obj_wait_one(&tab, port, SIGNAL_READABLE, DEADLINE_NONE, &seen));
    for (uint64_t i = 1; i <= 3; i++) {
        ASSERT_OK(poll_port(port, &pkt));
        EXPECT_EQ(pkt.key, i);
        EXPECT_EQ(pkt.type, (uint32_t)PORT_PACKET_USER);
        EXPECT_EQ(pkt.user.u64[0], i * 10);
    }
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT);
    EXPECT_STATUS(obj_wait_one(&tab, port, SIGNAL_READABLE, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    ASSERT_OK(handle_duplicate(&tab, port, RIGHT_WRITE, &weak));
    EXPECT_STATUS(poll_port(weak, &pkt), ERR_ACCESS_DENIED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void port_user_packet_limit(struct ktest *t)
{
    struct obj_baseline b;
    handle_t port;
    struct nb_port_packet pkt = {0};

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    for (uint32_t i = 0; i < PORT_MAX_USER_PACKETS; i++)
        ASSERT_OK(port_queue(&tab, port, &pkt));
    EXPECT_STATUS(port_queue(&tab, port, &pkt), ERR_SHOULD_WAIT);
    ASSERT_OK(poll_port(port, &pkt));
    EXPECT_OK(port_queue(&tab, port, &pkt));
    handle_table_destroy(&tab); // frees the queued packets
    objtest_expect_baseline(t, &b);
}

static void port_once_binding(struct ktest *t)
{
    struct obj_baseline b;
    handle_t port, ev, ev2;
    struct nb_port_packet pkt;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(port_bind(&tab, port, ev, 5, SIGNAL_SIGNALED, PORT_BIND_ONCE));
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT);
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER0)); // not watched
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT);
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_SIGNALED));
    ASSERT_OK(obj_signal(&tab, ev, SIGNAL_SIGNALED, 0));
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_SIGNALED));
    ASSERT_OK(poll_port(port, &pkt));
    EXPECT_EQ(pkt.key, 5u);
    EXPECT_EQ(pkt.type, (uint32_t)PORT_PACKET_SIGNAL_ONCE);
    EXPECT_EQ(pkt.signal.trigger, SIGNAL_SIGNALED);
    EXPECT_EQ(pkt.signal.observed, SIGNAL_SIGNALED | SIGNAL_USER0);
    EXPECT_EQ(pkt.signal.count, 1u);
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT); // once only
    EXPECT_EQ(port_live_bindings(), b.bindings);
    // Already asserted at bind time: the packet comes at once.
    ASSERT_OK(port_bind(&tab, port, ev, 6, SIGNAL_SIGNALED, PORT_BIND_ONCE));
    ASSERT_OK(poll_port(port, &pkt));
    EXPECT_EQ(pkt.key, 6u);
    // Bad binds.
    ASSERT_OK(event_create(&tab, &ev2));
    EXPECT_STATUS(port_bind(&tab, port, ev2, 1, 0, PORT_BIND_ONCE), ERR_INVALID_ARGS);
    EXPECT_STATUS(port_bind(&tab, port, ev2, 1, SIGNAL_SIGNALED, 9), ERR_INVALID_ARGS);
    EXPECT_STATUS(port_bind(&tab, port, port, 1, SIGNAL_READABLE, PORT_BIND_ONCE),
                  ERR_NOT_SUPPORTED);
    EXPECT_STATUS(port_bind(&tab, ev, ev2, 1, SIGNAL_SIGNALED, PORT_BIND_ONCE), ERR_WRONG_TYPE);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void port_edge_binding_coalesces_and_rearms(struct ktest *t)
{
    struct obj_baseline b;
    handle_t port, ev;
    struct nb_port_packet pkt;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER1));
    ASSERT_OK(port_bind(&tab, port, ev, 9, SIGNAL_USER1 | SIGNAL_USER2, PORT_BIND_EDGE));
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT); // level at bind time: no packet
    // Three rising edges before anyone reads: one packet, count 3.
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER2));
    ASSERT_OK(obj_signal(&tab, ev, SIGNAL_USER1 | SIGNAL_USER2, 0));
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER1));
    ASSERT_OK(obj_signal(&tab, ev, SIGNAL_USER1, SIGNAL_USER2));
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER0)); // not watched, no edge
    ASSERT_OK(poll_port(port, &pkt));
    EXPECT_EQ(pkt.key, 9u);
    EXPECT_EQ(pkt.type, (uint32_t)PORT_PACKET_SIGNAL_EDGE);
    EXPECT_EQ(pkt.signal.count, 3u);
    EXPECT_EQ(pkt.signal.observed, SIGNAL_USER2);
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT);
    // Re-armed: the next edge gives a new packet.
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER1));
    ASSERT_OK(poll_port(port, &pkt));
    EXPECT_EQ(pkt.signal.count, 1u);
    EXPECT_EQ(pkt.signal.observed, SIGNAL_USER0 | SIGNAL_USER1 | SIGNAL_USER2);
    EXPECT_STATUS(port_bind(&tab, port, ev, 9, SIGNAL_USER3, PORT_BIND_EDGE), ERR_ALREADY_EXISTS);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void port_cancel_by_key(struct ktest *t)
{
    struct obj_baseline b;
    handle_t port, ev;
    struct nb_port_packet pkt;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(port_bind(&tab, port, ev, 1, SIGNAL_USER0, PORT_BIND_EDGE));
    ASSERT_OK(port_bind(&tab, port, ev, 2, SIGNAL_USER0, PORT_BIND_EDGE));
    EXPECT_EQ(port_live_bindings(), b.bindings + 2);
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER0));
    // Cancelling key 1 drops its binding and its queued packet, not key 2's.
    EXPECT_OK(port_cancel(&tab, port, ev, 1));
    EXPECT_EQ(port_live_bindings(), b.bindings + 1);
    ASSERT_OK(poll_port(port, &pkt));
    EXPECT_EQ(pkt.key, 2u);
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT);
    EXPECT_STATUS(port_cancel(&tab, port, ev, 1), ERR_NOT_FOUND);
    EXPECT_OK(port_cancel(&tab, port, ev, 2));
    ASSERT_OK(obj_signal(&tab, ev, SIGNAL_USER0, 0));
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER0));
    EXPECT_STATUS(poll_port(port, &pkt), ERR_TIMED_OUT);
    EXPECT_EQ(port_live_bindings(), b.bindings);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void port_object_close_drops_bindings(struct ktest *t)
{
    struct obj_baseline b;
    handle_t port, ev, c0, c1;
    struct nb_port_packet pkt;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(port_bind(&tab, port, ev, 1, SIGNAL_USER0, PORT_BIND_EDGE));
    ASSERT_OK(port_bind(&tab, port, c0, 2, SIGNAL_READABLE | SIGNAL_PEER_CLOSED, PORT_BIND_ONCE));
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER0));
    ASSERT_OK(handle_close(&tab, ev)); // binding gone, queued packet stays
    ASSERT_OK(handle_close(&tab, c1));
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT] + 1); // held by the packet
    ASSERT_OK(poll_port(port, &pkt));
    EXPECT_EQ(pkt.key, 1u);
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT]);
    ASSERT_OK(poll_port(port, &pkt));
    EXPECT_EQ(pkt.key, 2u);
    EXPECT_EQ(pkt.signal.observed, SIGNAL_PEER_CLOSED);
    EXPECT_EQ(port_live_bindings(), b.bindings);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void port_close_drops_everything(struct ktest *t)
{
    struct obj_baseline b;
    handle_t port, ev, ev2;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(event_create(&tab, &ev2));
    ASSERT_OK(port_bind(&tab, port, ev, 1, SIGNAL_USER0, PORT_BIND_EDGE));
    ASSERT_OK(port_bind(&tab, port, ev2, 1, SIGNAL_USER0, PORT_BIND_ONCE));
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER0)); // a queued packet too
    struct nb_port_packet user = {.key = 3};
    ASSERT_OK(port_queue(&tab, port, &user));
    ASSERT_OK(handle_close(&tab, port));
    // The port is gone at once although bound objects live on.
    EXPECT_EQ(obj_live_count(OBJ_PORT), b.objs[OBJ_PORT]);
    EXPECT_EQ(port_live_bindings(), b.bindings);
    ASSERT_OK(obj_signal(&tab, ev2, 0, SIGNAL_USER0));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

struct port_waiter {
    handle_t port;
    status_t st;
    struct nb_port_packet pkt;
};

static void port_waiter_thread(void *p)
{
    struct port_waiter *w = p;
    w->st = port_wait(&tab, w->port, objtest_deadline_ms(2000), &w->pkt);
}

static void port_waiter_woken_by_bound_object(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct port_waiter w;
    handle_t port, ev;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(port_bind(&tab, port, ev, 42, SIGNAL_SIGNALED, PORT_BIND_ONCE));
    w.port = port;
    objtest_spawn(&th, port_waiter_thread, &w);
    EXPECT_TRUE(objtest_wait_blocked(&tab, port, 1));
    ASSERT_OK(obj_signal(&tab, ev, 0, SIGNAL_SIGNALED));
    objtest_join(&th);
    EXPECT_OK(w.st);
    EXPECT_EQ(w.pkt.key, 42u);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void port_close_cancels_waiter(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct port_waiter w;
    handle_t port;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(port_create(&tab, &port));
    w.port = port;
    objtest_spawn(&th, port_waiter_thread, &w);
    EXPECT_TRUE(objtest_wait_blocked(&tab, port, 1));
    ASSERT_OK(handle_close(&tab, port));
    objtest_join(&th);
    EXPECT_STATUS(w.st, ERR_CANCELED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(port, KTEST_CASE(port_user_packets_in_order), KTEST_CASE(port_user_packet_limit),
            KTEST_CASE(port_once_binding), KTEST_CASE(port_edge_binding_coalesces_and_rearms),
            KTEST_CASE(port_cancel_by_key), KTEST_CASE(port_object_close_drops_bindings),
            KTEST_CASE(port_close_drops_everything), KTEST_CASE(port_waiter_woken_by_bound_object),
            KTEST_CASE(port_close_cancels_waiter), );
