// nimbus:host
// Tests of channels: messages with bytes and handles, handle moves and
// their failure atomicity, limits and back-pressure, peer closure, and call.
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/channel.h"
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/signal.h"
#include "obj/vmo.h"

static struct handle_table tab, tab2;
static unsigned char big[CHAN_MAX_MSG_BYTES + 1], rbuf[CHAN_MAX_MSG_BYTES];
static handle_t hbuf[CHAN_MAX_MSG_HANDLES + 1];

static status_t write_bytes(struct handle_table *tb, handle_t h, const void *p, uint32_t n)
{
    struct nb_msg_out m = {p, NULL, n, 0};
    return chan_write(tb, h, &m);
}

static status_t write_handles(struct handle_table *tb, handle_t h, const handle_t *hs, uint32_t n)
{
    struct nb_msg_out m = {"x", hs, 1, n};
    return chan_write(tb, h, &m);
}

static status_t read_msg(struct handle_table *tb, handle_t h, struct nb_msg_in *in)
{
    *in = (struct nb_msg_in){rbuf, hbuf, sizeof(rbuf), CHAN_MAX_MSG_HANDLES, 0, 0};
    return chan_read(tb, h, in);
}

static void chan_bytes_round_trip(struct ktest *t)
{
    struct obj_baseline b;
    struct nb_msg_in in;
    handle_t c0, c1;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    EXPECT_OK(obj_wait_one(&tab, c0, SIGNAL_WRITABLE, DEADLINE_NONE, &seen));
    EXPECT_STATUS(read_msg(&tab, c1, &in), ERR_SHOULD_WAIT);
    ASSERT_OK(write_bytes(&tab, c0, "hello", 5));
    ASSERT_OK(write_bytes(&tab, c0, "", 0));
    ASSERT_OK(write_bytes(&tab, c1, "back", 4));
    EXPECT_OK(obj_wait_one(&tab, c1, SIGNAL_READABLE, DEADLINE_NONE, &seen));
    ASSERT_OK(read_msg(&tab, c1, &in));
    EXPECT_EQ(in.nbytes, 5u);
    EXPECT_EQ(in.nhandles, 0u);
    EXPECT_EQ(memcmp(rbuf, "hello", 5), 0);
    ASSERT_OK(read_msg(&tab, c1, &in));
    EXPECT_EQ(in.nbytes, 0u);
    EXPECT_STATUS(obj_wait_one(&tab, c1, SIGNAL_READABLE, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    ASSERT_OK(read_msg(&tab, c0, &in));
    EXPECT_EQ(memcmp(rbuf, "back", 4), 0);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_handles_move_between_tables(struct ktest *t)
{
    struct obj_baseline b;
    struct nb_msg_in in;
    handle_t c0, c1, ev, v;
    struct nb_handle_info info;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(handle_table_init(&tab2, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(handle_move(&tab, c1, &tab2, &c1));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(vmo_create(&tab, 100, &v));
    ASSERT_OK(handle_replace(&tab, v, RIGHT_READ | RIGHT_TRANSFER, &v));
    ASSERT_OK(write_handles(&tab, c0, (handle_t[]){ev, v}, 2));
    // Gone from the sender's table, not yet in the reader's.
    EXPECT_STATUS(handle_get_info(&tab, ev, &info), ERR_BAD_HANDLE);
    EXPECT_STATUS(handle_get_info(&tab, v, &info), ERR_BAD_HANDLE);
    EXPECT_EQ(handle_table_count(&tab), 1u);
    EXPECT_EQ(handle_table_count(&tab2), 1u);
    ASSERT_OK(read_msg(&tab2, c1, &in));
    EXPECT_EQ(in.nhandles, 2u);
    EXPECT_EQ(handle_table_count(&tab2), 3u);
    ASSERT_OK(handle_get_info(&tab2, hbuf[0], &info));
    EXPECT_EQ(info.type, (uint32_t)OBJ_EVENT);
    ASSERT_OK(handle_get_info(&tab2, hbuf[1], &info));
    EXPECT_EQ(info.type, (uint32_t)OBJ_VMO);
    EXPECT_EQ(info.rights, RIGHT_READ | RIGHT_TRANSFER); // rights travel unchanged
    EXPECT_OK(vmo_read(&tab2, hbuf[1], 0, rbuf, 100));
    handle_table_destroy(&tab2);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_failed_write_moves_nothing(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1, ev, weak, v;
    struct nb_msg_in in;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(vmo_create(&tab, 10, &v));
    ASSERT_OK(handle_duplicate(&tab, ev, RIGHT_WAIT | RIGHT_DUPLICATE, &weak));
    uint32_t count = handle_table_count(&tab);
    // A handle without TRANSFER, a bad one, a repeated one: nothing moves.
    EXPECT_STATUS(write_handles(&tab, c0, (handle_t[]){v, weak}, 2), ERR_ACCESS_DENIED);
    EXPECT_STATUS(write_handles(&tab, c0, (handle_t[]){v, 12345}, 2), ERR_BAD_HANDLE);
    EXPECT_STATUS(write_handles(&tab, c0, (handle_t[]){v, ev, v}, 3), ERR_INVALID_ARGS);
    // A channel's own endpoints cannot travel through it.
    EXPECT_STATUS(write_handles(&tab, c0, &c0, 1), ERR_NOT_SUPPORTED);
    EXPECT_STATUS(write_handles(&tab, c0, (handle_t[]){v, c1}, 2), ERR_NOT_SUPPORTED);
    EXPECT_EQ(handle_table_count(&tab), count);
    EXPECT_NE(objtest_rights(&tab, v), 0u);
    EXPECT_NE(objtest_rights(&tab, c1), 0u);
    EXPECT_STATUS(read_msg(&tab, c1, &in), ERR_SHOULD_WAIT);
    // Peer closed: refused, and the handles stay too.
    ASSERT_OK(handle_close(&tab, c1));
    EXPECT_STATUS(write_handles(&tab, c0, &v, 1), ERR_PEER_CLOSED);
    EXPECT_NE(objtest_rights(&tab, v), 0u);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_size_limits(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1;
    struct nb_msg_in in;
    static handle_t evs[CHAN_MAX_MSG_HANDLES + 1];

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 256));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    memset(big, 0xab, sizeof(big));
    EXPECT_STATUS(write_bytes(&tab, c0, big, CHAN_MAX_MSG_BYTES + 1), ERR_OUT_OF_RANGE);
    ASSERT_OK(write_bytes(&tab, c0, big, CHAN_MAX_MSG_BYTES));
    for (uint32_t i = 0; i <= CHAN_MAX_MSG_HANDLES; i++)
        ASSERT_OK(event_create(&tab, &evs[i]));
    EXPECT_STATUS(write_handles(&tab, c0, evs, CHAN_MAX_MSG_HANDLES + 1), ERR_OUT_OF_RANGE);
    ASSERT_OK(write_handles(&tab, c0, evs, CHAN_MAX_MSG_HANDLES));
    // Too small a buffer: sizes reported, message stays.
    in = (struct nb_msg_in){rbuf, hbuf, 10, 0, 0, 0};
    EXPECT_STATUS(chan_read(&tab, c1, &in), ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(in.nbytes, CHAN_MAX_MSG_BYTES);
    ASSERT_OK(read_msg(&tab, c1, &in));
    EXPECT_EQ(in.nbytes, CHAN_MAX_MSG_BYTES);
    EXPECT_EQ(rbuf[CHAN_MAX_MSG_BYTES - 1], 0xab);
    in = (struct nb_msg_in){rbuf, hbuf, sizeof(rbuf), 3, 0, 0};
    EXPECT_STATUS(chan_read(&tab, c1, &in), ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(in.nhandles, CHAN_MAX_MSG_HANDLES);
    ASSERT_OK(read_msg(&tab, c1, &in));
    EXPECT_EQ(in.nhandles, CHAN_MAX_MSG_HANDLES);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_reader_table_full(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1, ev, ev2;
    struct nb_msg_in in;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 4));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(write_handles(&tab, c0, &ev, 1));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(event_create(&tab, &ev2)); // table full now
    EXPECT_STATUS(read_msg(&tab, c1, &in), ERR_NO_RESOURCES);
    ASSERT_OK(handle_close(&tab, ev2));
    ASSERT_OK(read_msg(&tab, c1, &in)); // still queued
    EXPECT_EQ(in.nhandles, 1u);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_back_pressure(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1;
    struct nb_msg_in in;
    signals_t seen;
    uint32_t n = 0;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    while (write_bytes(&tab, c0, "m", 1) == OK)
        n++;
    EXPECT_EQ(n, CHAN_QUEUE_MAX_MSGS);
    EXPECT_STATUS(write_bytes(&tab, c0, "m", 1), ERR_SHOULD_WAIT);
    EXPECT_STATUS(obj_wait_one(&tab, c0, SIGNAL_WRITABLE, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    EXPECT_OK(write_bytes(&tab, c1, "other way", 9)); // the other direction is independent
    ASSERT_OK(read_msg(&tab, c1, &in));
    EXPECT_OK(obj_wait_one(&tab, c0, SIGNAL_WRITABLE, DEADLINE_NONE, &seen));
    while (read_msg(&tab, c1, &in) == OK)
        ;
    // The byte bound: big messages fill it long before the message bound.
    n = 0;
    while (write_bytes(&tab, c0, big, CHAN_MAX_MSG_BYTES) == OK)
        n++;
    EXPECT_EQ(n, CHAN_QUEUE_MAX_BYTES / CHAN_MAX_MSG_BYTES);
    EXPECT_STATUS(obj_wait_one(&tab, c0, SIGNAL_WRITABLE, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    handle_table_destroy(&tab); // destroys the queued messages
    objtest_expect_baseline(t, &b);
}

static void chan_peer_closed(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1, ev;
    struct nb_msg_in in;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(write_bytes(&tab, c1, "last words", 10));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(write_handles(&tab, c0, &ev, 1)); // queued at c1, dies with it
    ASSERT_OK(handle_close(&tab, c1));
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT]); // destroyed with the message
    EXPECT_OK(obj_wait_one(&tab, c0, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen));
    EXPECT_FALSE(seen & SIGNAL_WRITABLE);
    EXPECT_STATUS(write_bytes(&tab, c0, "x", 1), ERR_PEER_CLOSED);
    ASSERT_OK(read_msg(&tab, c0, &in)); // what was queued is still readable
    EXPECT_EQ(in.nbytes, 10u);
    EXPECT_STATUS(read_msg(&tab, c0, &in), ERR_PEER_CLOSED);
    EXPECT_STATUS(obj_signal_peer(&tab, c0, 0, SIGNAL_USER0), ERR_PEER_CLOSED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_endpoint_dies_in_flight(struct ktest *t)
{
    struct obj_baseline b;
    handle_t a0, a1, b0, b1;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(chan_create(&tab, &a0, &a1));
    ASSERT_OK(chan_create(&tab, &b0, &b1));
    // a0 travels inside channel b; when b's reader closes, the message and
    // a0 with it are destroyed, and a1 learns that its peer is gone.
    ASSERT_OK(write_handles(&tab, b0, &a0, 1));
    EXPECT_STATUS(obj_wait_one(&tab, a1, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    EXPECT_OK(handle_close(&tab, b1));
    EXPECT_OK(obj_wait_one(&tab, a1, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen));
    EXPECT_OK(handle_close(&tab, b0));
    EXPECT_OK(handle_close(&tab, a1));
    EXPECT_EQ(obj_live_count(OBJ_CHANNEL), b.objs[OBJ_CHANNEL]);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_call_times_out_and_reply_queues(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1;
    struct nb_msg_header hdr = {.txid = 0, .ordinal = 7};
    struct nb_msg_out req = {&hdr, NULL, sizeof(hdr), 0};
    struct nb_msg_in reply = {rbuf, hbuf, sizeof(rbuf), 4, 0, 0}, in;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    struct nb_msg_out tiny = {"ab", NULL, 2, 0};
    EXPECT_STATUS(chan_call(&tab, c0, &tiny, &reply, DEADLINE_NONE), ERR_INVALID_ARGS);
    EXPECT_STATUS(chan_call(&tab, c0, &req, &reply, objtest_deadline_ms(5)), ERR_TIMED_OUT);
    // The request reached the server with a kernel txid.
    ASSERT_OK(read_msg(&tab, c1, &in));
    struct nb_msg_header got;
    memcpy(&got, rbuf, sizeof(got));
    EXPECT_TRUE(got.txid & NB_TXID_KERNEL_BIT);
    EXPECT_EQ(got.ordinal, 7u);
    // A reply after the caller gave up is queued like any message.
    ASSERT_OK(write_bytes(&tab, c1, &got, sizeof(got)));
    ASSERT_OK(read_msg(&tab, c0, &in));
    EXPECT_EQ(in.nbytes, (uint32_t)sizeof(got));
    ASSERT_OK(handle_close(&tab, c1));
    EXPECT_STATUS(chan_call(&tab, c0, &req, &reply, DEADLINE_NONE), ERR_PEER_CLOSED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

struct server {
    handle_t ep;
    int replies;      // how many requests to answer
    bool noise;       // send an unrelated message before each reply
    bool close_first; // close instead of answering
    status_t st;
};

// Answers requests: echoes the header with "ok" and the request's handles.
static void server_thread(void *p)
{
    struct server *s = p;
    static unsigned char sbuf[256];
    handle_t hs[8] = {0};

    for (int i = 0; i < s->replies; i++) {
        signals_t seen;
        s->st = obj_wait_one(&tab2, s->ep, SIGNAL_READABLE, objtest_deadline_ms(2000), &seen);
        if (s->st != OK)
            return;
        struct nb_msg_in in = {sbuf, hs, sizeof(sbuf) - 2, 8, 0, 0};
        s->st = chan_read(&tab2, s->ep, &in);
        if (s->st != OK)
            return;
        objtest_sleep_ms(2); // let the caller block first
        if (s->close_first) {
            s->st = handle_close(&tab2, s->ep);
            return;
        }
        if (s->noise) {
            struct nb_msg_header other = {.txid = 1234, .ordinal = 99};
            struct nb_msg_out m = {&other, NULL, sizeof(other), 0};
            chan_write(&tab2, s->ep, &m);
        }
        memcpy(sbuf + sizeof(struct nb_msg_header), "ok", 2);
        struct nb_msg_out out = {sbuf, hs, sizeof(struct nb_msg_header) + 2, in.nhandles};
        s->st = chan_write(&tab2, s->ep, &out);
    }
}

static void chan_call_gets_its_reply(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct server srv = {.replies = 3, .noise = true};
    handle_t c0, c1, ev;
    unsigned char req[sizeof(struct nb_msg_header) + 4] = {0};
    struct nb_msg_in reply, in;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(handle_table_init(&tab2, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(handle_move(&tab, c1, &tab2, &srv.ep));
    objtest_spawn(&th, server_thread, &srv);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(event_create(&tab, &ev));
        struct nb_msg_out out = {req, &ev, sizeof(req), 1};
        reply = (struct nb_msg_in){rbuf, hbuf, sizeof(rbuf), 4, 0, 0};
        ASSERT_OK(chan_call(&tab, c0, &out, &reply, objtest_deadline_ms(2000)));
        EXPECT_EQ(reply.nbytes, (uint32_t)sizeof(struct nb_msg_header) + 2);
        EXPECT_EQ(memcmp(rbuf + sizeof(struct nb_msg_header), "ok", 2), 0);
        EXPECT_EQ(reply.nhandles, 1u); // the event came back
        EXPECT_NE(objtest_rights(&tab, hbuf[0]), 0u);
    }
    objtest_join(&th);
    EXPECT_OK(srv.st);
    // The unrelated messages stayed queued for normal reads.
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(read_msg(&tab, c0, &in));
        struct nb_msg_header h;
        memcpy(&h, rbuf, sizeof(h));
        EXPECT_EQ(h.txid, 1234u);
    }
    handle_table_destroy(&tab2);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_call_peer_closes(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct server srv = {.replies = 1, .close_first = true};
    handle_t c0, c1;
    struct nb_msg_header hdr = {0};
    struct nb_msg_out out = {&hdr, NULL, sizeof(hdr), 0};
    struct nb_msg_in reply = {rbuf, hbuf, sizeof(rbuf), 4, 0, 0};

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(handle_table_init(&tab2, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(handle_move(&tab, c1, &tab2, &srv.ep));
    objtest_spawn(&th, server_thread, &srv);
    EXPECT_STATUS(chan_call(&tab, c0, &out, &reply, objtest_deadline_ms(2000)), ERR_PEER_CLOSED);
    objtest_join(&th);
    EXPECT_OK(srv.st);
    handle_table_destroy(&tab2);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

struct caller {
    handle_t ep;
    status_t st;
};

static void caller_thread(void *p)
{
    struct caller *c = p;
    struct nb_msg_header hdr = {0};
    struct nb_msg_out out = {&hdr, NULL, sizeof(hdr), 0};
    static unsigned char buf[64];
    struct nb_msg_in reply = {buf, NULL, sizeof(buf), 0, 0, 0};

    c->st = chan_call(&tab, c->ep, &out, &reply, objtest_deadline_ms(2000));
}

// Waits for READABLE on c->ep and reads the message.
static void reader_wait_thread(void *p)
{
    struct caller *c = p;
    signals_t seen;
    static unsigned char buf[64];
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};

    c->st = obj_wait_one(&tab, c->ep, SIGNAL_READABLE, objtest_deadline_ms(2000), &seen);
    if (c->st == OK)
        c->st = chan_read(&tab, c->ep, &in);
}

static void chan_call_own_close_cancels(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct caller c;
    handle_t c0, c1;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    c.ep = c0;
    objtest_spawn(&th, caller_thread, &c);
    EXPECT_OK(obj_wait_one(&tab, c1, SIGNAL_READABLE, objtest_deadline_ms(2000), &seen));
    objtest_sleep_ms(2);
    EXPECT_OK(handle_close(&tab, c0)); // the caller's endpoint goes away under it
    objtest_join(&th);
    EXPECT_STATUS(c.st, ERR_CANCELED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_reader_woken_by_write(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct caller c; // reused: a thread waiting for READABLE through obj_wait_one
    handle_t c0, c1;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    c.ep = c1;
    objtest_spawn(&th, reader_wait_thread, &c);
    EXPECT_TRUE(objtest_wait_blocked(&tab, c1, 1));
    ASSERT_OK(write_bytes(&tab, c0, "wake", 4));
    objtest_join(&th);
    EXPECT_OK(c.st);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

// ---- chan_reply_wait: a server's turn in one call ----

struct turn_server {
    handle_t ep;
    int served;
    status_t st;
};

// Echoes each request (bytes and handles) back with chan_reply_wait until
// the client goes.
static void turn_server_thread(void *p)
{
    struct turn_server *s = p;
    static unsigned char sbuf[64];
    handle_t hs[4];
    struct nb_msg_in in = {sbuf, hs, sizeof(sbuf), 4, 0, 0};

    s->st = chan_reply_wait(&tab2, s->ep, NULL, &in, objtest_deadline_ms(2000));
    while (s->st == OK) {
        s->served++;
        struct nb_msg_out out = {sbuf, hs, in.nbytes, in.nhandles};
        in = (struct nb_msg_in){sbuf, hs, sizeof(sbuf), 4, 0, 0};
        s->st = chan_reply_wait(&tab2, s->ep, &out, &in, objtest_deadline_ms(2000));
    }
}

static void chan_reply_wait_serves_calls(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct turn_server srv = {0};
    handle_t c0, c1, ev;
    unsigned char req[sizeof(struct nb_msg_header) + 4] = {0};

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(handle_table_init(&tab2, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(handle_move(&tab, c1, &tab2, &srv.ep));
    objtest_spawn(&th, turn_server_thread, &srv);
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(event_create(&tab, &ev));
        memcpy(req + sizeof(struct nb_msg_header), &i, sizeof(i));
        struct nb_msg_out out = {req, &ev, sizeof(req), 1};
        struct nb_msg_in reply = {rbuf, hbuf, sizeof(rbuf), 4, 0, 0};
        ASSERT_OK(chan_call(&tab, c0, &out, &reply, objtest_deadline_ms(2000)));
        EXPECT_EQ(reply.nbytes, (uint32_t)sizeof(req));
        EXPECT_EQ(memcmp(rbuf + sizeof(struct nb_msg_header), &i, sizeof(i)), 0);
        ASSERT_EQ(reply.nhandles, 1u); // the event came back
        EXPECT_NE(objtest_rights(&tab, hbuf[0]), 0u);
        EXPECT_OK(handle_close(&tab, hbuf[0]));
    }
    EXPECT_OK(handle_close(&tab, c0));
    objtest_join(&th);
    EXPECT_EQ(srv.served, 10);
    EXPECT_STATUS(srv.st, ERR_PEER_CLOSED);
    handle_table_destroy(&tab2);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void chan_reply_wait_errors(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1, ro, ev;
    struct nb_msg_in in = {rbuf, hbuf, sizeof(rbuf), 4, 0, 0};
    struct nb_msg_out reply = {"re", NULL, 2, 0};

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    EXPECT_STATUS(chan_reply_wait(&tab, c1, NULL, NULL, DEADLINE_NONE), ERR_INVALID_ARGS);
    EXPECT_STATUS(chan_reply_wait(&tab, 12345, NULL, &in, DEADLINE_NONE), ERR_BAD_HANDLE);
    // Nothing queued: a poll times out, but the reply went out first.
    EXPECT_STATUS(chan_reply_wait(&tab, c1, &reply, &in, DEADLINE_NONE), ERR_TIMED_OUT);
    EXPECT_STATUS(chan_reply_wait(&tab, c1, NULL, &in, objtest_deadline_ms(3)), ERR_TIMED_OUT);
    ASSERT_OK(read_msg(&tab, c0, &in));
    EXPECT_EQ(memcmp(rbuf, "re", 2), 0);
    // A queued message is read at once; one too big stays queued.
    ASSERT_OK(write_bytes(&tab, c0, "next", 4));
    in = (struct nb_msg_in){rbuf, hbuf, 2, 4, 0, 0};
    EXPECT_STATUS(chan_reply_wait(&tab, c1, NULL, &in, DEADLINE_NONE), ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(in.nbytes, 4u);
    in = (struct nb_msg_in){rbuf, hbuf, sizeof(rbuf), 4, 0, 0};
    EXPECT_OK(chan_reply_wait(&tab, c1, &reply, &in, DEADLINE_NONE));
    EXPECT_EQ(memcmp(rbuf, "next", 4), 0);
    ASSERT_OK(read_msg(&tab, c0, &in));
    // Rights: a handle without WRITE cannot reply, and nothing is read then.
    ASSERT_OK(handle_duplicate(&tab, c1, RIGHT_READ | RIGHT_WAIT, &ro));
    ASSERT_OK(write_bytes(&tab, c0, "kept", 4));
    EXPECT_STATUS(chan_reply_wait(&tab, ro, &reply, &in, DEADLINE_NONE), ERR_ACCESS_DENIED);
    EXPECT_OK(chan_reply_wait(&tab, ro, NULL, &in, DEADLINE_NONE));
    EXPECT_EQ(memcmp(rbuf, "kept", 4), 0);
    // A failed reply keeps its handles; the peer's going ends the wait.
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(write_bytes(&tab, c0, "last", 4));
    ASSERT_OK(handle_close(&tab, c0));
    struct nb_msg_out with_ev = {"x", &ev, 1, 1};
    EXPECT_STATUS(chan_reply_wait(&tab, c1, &with_ev, &in, DEADLINE_NONE), ERR_PEER_CLOSED);
    EXPECT_NE(objtest_rights(&tab, ev), 0u);
    EXPECT_OK(chan_reply_wait(&tab, c1, NULL, &in, DEADLINE_NONE)); // still queued
    EXPECT_EQ(memcmp(rbuf, "last", 4), 0);
    EXPECT_STATUS(chan_reply_wait(&tab, c1, NULL, &in, DEADLINE_INFINITE), ERR_PEER_CLOSED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

// More small messages in flight than the message pool holds, and messages
// just past its size and handle limits: all arrive intact, in order, and
// everything goes back (the baseline check).
static void chan_many_small_messages(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1, ev[5];
    struct nb_msg_in in;
    static unsigned char msg[257];

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 32));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    for (uint32_t i = 0; i < 100; i++) {
        memset(msg, (int)i, sizeof(msg));
        ASSERT_OK(write_bytes(&tab, c0, msg, 1 + i % 2 * 255 + (i == 99)));
    }
    for (int i = 0; i < 5; i++)
        ASSERT_OK(event_create(&tab, &ev[i]));
    ASSERT_OK(write_handles(&tab, c0, ev, 5));
    for (uint32_t i = 0; i < 100; i++) {
        ASSERT_OK(read_msg(&tab, c1, &in));
        EXPECT_EQ(in.nbytes, 1 + i % 2 * 255 + (i == 99));
        EXPECT_EQ(rbuf[0], (unsigned char)i);
        EXPECT_EQ(rbuf[in.nbytes - 1], (unsigned char)i);
    }
    ASSERT_OK(read_msg(&tab, c1, &in));
    EXPECT_EQ(in.nhandles, 5u);
    EXPECT_EQ(chan_live_messages(), b.msgs);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

// The small-message pool keeps the heap's write-after-free check: a write
// into a freed pooled message is reported (slab_error_count) when the slot is
// handed out again, at once if the new message covers the written byte, else
// when a larger one takes the slot; a clean reuse reports nothing.
static void chan_pool_use_after_free_detected(struct ktest *t)
{
    if (!SLAB_POISON)
        KTEST_SKIP("built without SLAB_POISON");
    struct chan_msg *a = chan_msg_alloc(16);
    ASSERT_NOT_NULL(a);
    volatile unsigned char *data = chan_msg_data(a);
    uint64_t errors = slab_error_count();
    memset(chan_msg_data(a), 0x5a, 16);
    chan_msg_free(a);
    struct chan_msg *b = chan_msg_alloc(16); // the pool is LIFO: a again, clean
    ASSERT_EQ(b, a);
    EXPECT_EQ(slab_error_count(), errors);
    chan_msg_free(b);
    data[3] = 1; // the bug: a write after free
    b = chan_msg_alloc(16);
    ASSERT_EQ(b, a);
    EXPECT_EQ(slab_error_count(), errors + 1);
    chan_msg_free(b);
    data[200] = 1; // past what a 16-byte message checks...
    b = chan_msg_alloc(16);
    ASSERT_EQ(b, a);
    EXPECT_EQ(slab_error_count(), errors + 1);
    chan_msg_free(b);
    b = chan_msg_alloc(256); // ...until a message that large takes the slot
    ASSERT_EQ(b, a);
    EXPECT_EQ(slab_error_count(), errors + 2);
    chan_msg_free(b);
    b = chan_msg_alloc(256); // freeing poisoned it again
    ASSERT_EQ(b, a);
    EXPECT_EQ(slab_error_count(), errors + 2);
    chan_msg_free(b);
}

KTEST_SUITE(channel, KTEST_CASE(chan_bytes_round_trip),
            KTEST_CASE(chan_handles_move_between_tables),
            KTEST_CASE(chan_failed_write_moves_nothing), KTEST_CASE(chan_size_limits),
            KTEST_CASE(chan_reader_table_full), KTEST_CASE(chan_back_pressure),
            KTEST_CASE(chan_peer_closed), KTEST_CASE(chan_endpoint_dies_in_flight),
            KTEST_CASE(chan_call_times_out_and_reply_queues), KTEST_CASE(chan_call_gets_its_reply),
            KTEST_CASE(chan_call_peer_closes), KTEST_CASE(chan_call_own_close_cancels),
            KTEST_CASE(chan_reader_woken_by_write), KTEST_CASE(chan_reply_wait_serves_calls),
            KTEST_CASE(chan_reply_wait_errors), KTEST_CASE(chan_many_small_messages),
            KTEST_CASE(chan_pool_use_after_free_detected), );
