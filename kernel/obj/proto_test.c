// nimbus:host
// Tests of typed channels and the generated protocol code (proto/log.nidl,
// proto/launcher.nidl): every kind of violation is refused at write with
// nothing moved; generated stubs and dispatch work through a transport.
#include "lib/string.h"
#include "obj/channel.h"
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/proto.h"
#include "obj/signal.h"
#include "obj/vmo.h"
#include "proto/launcher.h"
#include "proto/log.h"

static struct handle_table tab;
static unsigned char msg[1024], sbuf[1024], cbuf[1024];

static uint32_t put_header(uint32_t ordinal)
{
    struct nb_msg_header h = {.txid = 0, .ordinal = ordinal};
    memset(msg, 0, sizeof(msg));
    memcpy(msg, &h, sizeof(h));
    return sizeof(h);
}

static void proto_check_finds_each_violation(struct ktest *t)
{
    const struct proto_desc *d = &launcher_proto_desc;
    struct nb_handle_info vmo_rm = {OBJ_VMO, RIGHT_READ | RIGHT_MAP | RIGHT_TRANSFER};
    struct nb_handle_info vmo_r = {OBJ_VMO, RIGHT_READ | RIGHT_TRANSFER};
    struct nb_handle_info ev = {OBJ_EVENT, RIGHTS_ALL};
    struct nb_handle_info many[LAUNCHER_HANDLES_MAX + 1];
    uint32_t fixed = LAUNCHER_CREATE_REQUEST_MIN_BYTES;

    put_header(LAUNCHER_CREATE_ORDINAL);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, &vmo_rm, 1), PROTO_OK);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed + LAUNCHER_NAME_MAX, &vmo_rm, 1), PROTO_OK);
    EXPECT_EQ((int)proto_check(d, false, msg, 8, &vmo_rm, 1), PROTO_SHORT_HEADER);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed - 1, &vmo_rm, 1), PROTO_TOO_SHORT);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed + LAUNCHER_NAME_MAX + 1, &vmo_rm, 1),
              PROTO_TOO_LONG);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, &vmo_rm, 0), PROTO_TOO_FEW_HANDLES);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, (struct nb_handle_info[]){vmo_rm, vmo_rm}, 2),
              PROTO_TOO_MANY_HANDLES);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, &ev, 1), PROTO_WRONG_HANDLE_TYPE);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, &vmo_r, 1), PROTO_MISSING_RIGHTS);
    // The server end may not send requests, the client end not responses.
    EXPECT_EQ((int)proto_check(d, true, msg, fixed, &vmo_rm, 1), PROTO_TOO_MANY_HANDLES);
    put_header(LAUNCHER_START_ORDINAL);
    EXPECT_EQ((int)proto_check(d, true, msg, LAUNCHER_START_RESPONSE_MIN_BYTES, NULL, 0), PROTO_OK);
    EXPECT_EQ((int)proto_check(d, false, msg, LAUNCHER_START_RESPONSE_MIN_BYTES, NULL, 0),
              PROTO_TOO_LONG);
    put_header(99);
    EXPECT_EQ((int)proto_check(d, false, msg, 64, NULL, 0), PROTO_UNKNOWN_ORDINAL);
    EXPECT_EQ((int)proto_check(&log_proto_desc, true, msg, 64, NULL, 0), PROTO_UNKNOWN_ORDINAL);
    put_header(LOG_WRITE_ORDINAL);
    EXPECT_EQ((int)proto_check(&log_proto_desc, true, msg, 64, NULL, 0), PROTO_UNKNOWN_ORDINAL);
    // Handle vectors: up to the bound, any type with TRANSFER.
    for (uint32_t i = 0; i <= LAUNCHER_HANDLES_MAX; i++)
        many[i] = ev;
    put_header(LAUNCHER_ADD_HANDLES_ORDINAL);
    fixed = LAUNCHER_ADD_HANDLES_REQUEST_MIN_BYTES;
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, many, 0), PROTO_OK);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, many, LAUNCHER_HANDLES_MAX), PROTO_OK);
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, many, LAUNCHER_HANDLES_MAX + 1),
              PROTO_TOO_MANY_HANDLES);
    many[3].rights = RIGHT_WAIT;
    EXPECT_EQ((int)proto_check(d, false, msg, fixed, many, 4), PROTO_MISSING_RIGHTS);
}

// Writes msg[0..n) with handles on a typed channel and expects ERR_PROTOCOL
// with nothing moved.
static void expect_refused(struct ktest *t, handle_t from, handle_t to, uint32_t n,
                           const handle_t *hs, uint32_t nh)
{
    struct nb_msg_out out = {msg, hs, n, nh};
    struct nb_msg_in in = {cbuf, NULL, sizeof(cbuf), 0, 0, 0};
    uint32_t count = handle_table_count(&tab);

    EXPECT_STATUS(chan_write(&tab, from, &out), ERR_PROTOCOL);
    EXPECT_EQ(handle_table_count(&tab), count);
    for (uint32_t i = 0; i < nh; i++)
        EXPECT_NE(objtest_rights(&tab, hs[i]), 0u);
    EXPECT_STATUS(chan_read(&tab, to, &in), ERR_SHOULD_WAIT);
}

static void proto_typed_channel_refuses_violations(struct ktest *t)
{
    struct obj_baseline b;
    handle_t client, server, v, v_ro, ev, got;
    uint32_t fixed = LAUNCHER_CREATE_REQUEST_MIN_BYTES;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 32));
    ASSERT_OK(chan_create_typed(&tab, &launcher_proto_desc, &client, &server));
    ASSERT_OK(vmo_create(&tab, 4096, &v));
    ASSERT_OK(handle_duplicate(&tab, v, RIGHT_READ | RIGHT_TRANSFER, &v_ro));
    ASSERT_OK(event_create(&tab, &ev));
    put_header(LAUNCHER_CREATE_ORDINAL);
    expect_refused(t, client, server, 8, &v, 1);                             // short header
    expect_refused(t, client, server, fixed - 4, &v, 1);                     // too short
    expect_refused(t, client, server, fixed + LAUNCHER_NAME_MAX + 1, &v, 1); // too long
    expect_refused(t, client, server, fixed, NULL, 0);                       // too few handles
    expect_refused(t, client, server, fixed, (handle_t[]){v, ev}, 2);        // too many
    expect_refused(t, client, server, fixed, &ev, 1);                        // wrong type
    expect_refused(t, client, server, fixed, &v_ro, 1);                      // missing rights
    put_header(1234);
    expect_refused(t, client, server, fixed, &v, 1); // unknown ordinal
    put_header(LAUNCHER_START_ORDINAL);
    expect_refused(t, server, client, LAUNCHER_START_RESPONSE_MIN_BYTES, &ev, 1); // not a process
    // A well-formed request goes through, with its handle.
    put_header(LAUNCHER_CREATE_ORDINAL);
    struct nb_msg_out out = {msg, &v, fixed, 1};
    ASSERT_OK(chan_write(&tab, client, &out));
    struct nb_msg_in in = {cbuf, &got, sizeof(cbuf), 1, 0, 0};
    ASSERT_OK(chan_read(&tab, server, &in));
    EXPECT_EQ(in.nhandles, 1u);
    EXPECT_EQ(objtest_rights(&tab, v), 0u);
    EXPECT_STATUS(chan_create_typed(&tab, NULL, &client, &server), ERR_INVALID_ARGS);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

// ---- generated stubs and dispatch over a single-threaded loopback ----

struct log_record {
    uint32_t level;
    char line[LOG_LINE_MAX];
    uint32_t len;
};

struct loopback {
    handle_t client, server;
    const struct log_server_ops *ops;
    struct log_record recs[4];
    uint32_t nrecs;
    status_t server_st;
};

static status_t test_log_write(void *ctx, uint32_t level, const char *line, uint32_t line_len)
{
    struct loopback *l = ctx;
    if (l->nrecs == ARRAY_SIZE(l->recs))
        return ERR_NO_RESOURCES;
    struct log_record *r = &l->recs[l->nrecs++];
    r->level = level;
    r->len = line_len;
    memcpy(r->line, line, line_len);
    return OK;
}

static status_t test_log_read(void *ctx, uint64_t seq, struct nb_msg_in *reply)
{
    struct loopback *l = ctx;
    if (seq >= l->nrecs)
        return log_read_response_encode(reply, ERR_SHOULD_WAIT, seq, 0, 0, NULL, 0);
    struct log_record *r = &l->recs[seq];
    return log_read_response_encode(reply, OK, seq, 1000 + seq, r->level, r->line, r->len);
}

static const struct log_server_ops test_log_ops = {.write = test_log_write, .read = test_log_read};

// Reads one request on the server end, dispatches it, writes any reply.
static status_t serve_one(struct loopback *l)
{
    handle_t hs[4], rh[4];
    struct nb_msg_in req = {sbuf, hs, sizeof(sbuf), 4, 0, 0};
    static unsigned char rbytes[1024];
    struct nb_msg_in reply = {rbytes, rh, sizeof(rbytes), 4, 0, 0};
    status_t st = chan_read(&tab, l->server, &req);

    if (st != OK)
        return st;
    st = log_dispatch(l->ops, l, &req, &reply);
    if (st != OK || reply.nbytes == 0)
        return st;
    struct nb_msg_out out = {reply.bytes, reply.handles, reply.nbytes, reply.nhandles};
    return chan_write(&tab, l->server, &out);
}

static status_t loop_write(void *ctx, const struct nb_msg_out *m)
{
    struct loopback *l = ctx;
    status_t st = chan_write(&tab, l->client, m);
    if (st == OK)
        l->server_st = serve_one(l);
    return st;
}

static status_t loop_call(void *ctx, const struct nb_msg_out *req, struct nb_msg_in *reply)
{
    struct loopback *l = ctx;
    status_t st = loop_write(ctx, req);
    return st == OK ? chan_read(&tab, l->client, reply) : st;
}

static void proto_log_stubs_and_dispatch(struct ktest *t)
{
    struct obj_baseline b;
    struct loopback l = {.ops = &test_log_ops};
    struct nb_transport tr = {&l, cbuf, sizeof(cbuf), loop_call, loop_write, NULL};
    status_t result;
    uint64_t seq, ts;
    uint32_t level, len;
    const char *line;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(chan_create_typed(&tab, &log_proto_desc, &l.client, &l.server));
    ASSERT_OK(log_write(&tr, 6, "first line", 10));
    EXPECT_OK(l.server_st);
    ASSERT_OK(log_write(&tr, 3, "second", 6));
    ASSERT_EQ(l.nrecs, 2u);
    ASSERT_OK(log_read(&tr, 1, &result, &seq, &ts, &level, &line, &len));
    EXPECT_OK(result);
    EXPECT_EQ(seq, 1u);
    EXPECT_EQ(ts, 1001u);
    EXPECT_EQ(level, 3u);
    ASSERT_EQ(len, 6u);
    EXPECT_EQ(memcmp(line, "second", 6), 0);
    ASSERT_OK(log_read(&tr, 5, &result, &seq, &ts, &level, &line, &len));
    EXPECT_STATUS(result, ERR_SHOULD_WAIT);
    EXPECT_EQ(len, 0u);
    // Stub-side checks: a line over the bound never leaves the client.
    static char longline[LOG_LINE_MAX + 1];
    EXPECT_STATUS(log_write(&tr, 1, longline, LOG_LINE_MAX + 1), ERR_OUT_OF_RANGE);
    struct nb_transport small = tr;
    small.buf_size = 16;
    EXPECT_STATUS(log_write(&small, 1, "x", 1), ERR_BUFFER_TOO_SMALL);
    // A server without a handler reports ERR_NOT_SUPPORTED.
    static const struct log_server_ops no_read = {.write = test_log_write};
    l.ops = &no_read;
    EXPECT_STATUS(log_read(&tr, 0, &result, &seq, &ts, &level, &line, &len), ERR_SHOULD_WAIT);
    EXPECT_STATUS(l.server_st, ERR_NOT_SUPPORTED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void proto_decode_rejects_malformed(struct ktest *t)
{
    handle_t hs[LAUNCHER_HANDLES_MAX];
    struct nb_msg_in m = {msg, hs, sizeof(msg), LAUNCHER_HANDLES_MAX, 0, 0};
    const char *name;
    uint32_t name_len;
    handle_t exe;

    ASSERT_OK(launcher_create_request_encode(&m, "init", 4, 77));
    EXPECT_EQ(m.nbytes, LAUNCHER_CREATE_REQUEST_MIN_BYTES + 4);
    EXPECT_EQ(m.nhandles, 1u);
    ASSERT_OK(launcher_create_request_decode(&m, &name, &name_len, &exe));
    EXPECT_EQ(name_len, 4u);
    EXPECT_EQ(memcmp(name, "init", 4), 0);
    EXPECT_EQ(exe, 77u);
    // A NUL inside a string, a length past the end, a trailing byte.
    msg[LAUNCHER_CREATE_REQUEST_MIN_BYTES + 1] = 0;
    EXPECT_STATUS(launcher_create_request_decode(&m, &name, &name_len, &exe), ERR_PROTOCOL);
    ASSERT_OK(launcher_create_request_encode(&m, "init", 4, 77));
    m.nbytes--;
    EXPECT_STATUS(launcher_create_request_decode(&m, &name, &name_len, &exe), ERR_PROTOCOL);
    m.nbytes += 2;
    EXPECT_STATUS(launcher_create_request_decode(&m, &name, &name_len, &exe), ERR_PROTOCOL);
    // Optional handles: absent and present.
    handle_t proc;
    status_t result;
    ASSERT_OK(launcher_start_response_encode(&m, ERR_NO_MEMORY, HANDLE_INVALID));
    EXPECT_EQ(m.nhandles, 0u);
    ASSERT_OK(launcher_start_response_decode(&m, &result, &proc));
    EXPECT_STATUS(result, ERR_NO_MEMORY);
    EXPECT_EQ(proc, HANDLE_INVALID);
    ASSERT_OK(launcher_start_response_encode(&m, OK, 99));
    ASSERT_OK(launcher_start_response_decode(&m, &result, &proc));
    EXPECT_EQ(proc, 99u);
    // Handle vectors.
    uint32_t ids[LAUNCHER_HANDLES_MAX] = {1, 2, 3}, ids_out[LAUNCHER_HANDLES_MAX];
    const handle_t *got;
    uint32_t n;
    ASSERT_OK(launcher_add_handles_request_encode(&m, ids, (handle_t[]){5, 6, 7}, 3));
    ASSERT_OK(launcher_add_handles_request_decode(&m, ids_out, &got, &n));
    EXPECT_EQ(n, 3u);
    EXPECT_EQ(got[2], 7u);
    EXPECT_EQ(ids_out[1], 2u);
    EXPECT_STATUS(launcher_add_handles_request_encode(&m, ids, hs, LAUNCHER_HANDLES_MAX + 1),
                  ERR_OUT_OF_RANGE);
}

// A log server on its own thread, serving until its channel's peer closes.
static void log_server_thread(void *p)
{
    struct loopback *l = p;
    signals_t seen;

    for (;;) {
        l->server_st = obj_wait_one(&tab, l->server, SIGNAL_READABLE | SIGNAL_PEER_CLOSED,
                                    objtest_deadline_ms(2000), &seen);
        if (l->server_st != OK || !(seen & SIGNAL_READABLE))
            return;
        l->server_st = serve_one(l);
        if (l->server_st != OK)
            return;
    }
}

struct call_ctx {
    handle_t client;
};

static status_t chan_transport_call(void *ctx, const struct nb_msg_out *req,
                                    struct nb_msg_in *reply)
{
    struct call_ctx *c = ctx;
    return chan_call(&tab, c->client, req, reply, objtest_deadline_ms(2000));
}

static status_t chan_transport_write(void *ctx, const struct nb_msg_out *m)
{
    struct call_ctx *c = ctx;
    return chan_write(&tab, c->client, m);
}

static void proto_log_over_threads(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct loopback l = {.ops = &test_log_ops};
    struct call_ctx c;
    struct nb_transport tr = {&c,  cbuf, sizeof(cbuf), chan_transport_call, chan_transport_write,
                              NULL};
    status_t result;
    uint64_t seq, ts;
    uint32_t level, len;
    const char *line;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(chan_create_typed(&tab, &log_proto_desc, &c.client, &l.server));
    objtest_spawn(&th, log_server_thread, &l);
    ASSERT_OK(log_write(&tr, 5, "over threads", 12));
    ASSERT_OK(log_read(&tr, 0, &result, &seq, &ts, &level, &line, &len));
    EXPECT_OK(result);
    EXPECT_EQ(len, 12u);
    EXPECT_EQ(memcmp(line, "over threads", 12), 0);
    ASSERT_OK(handle_close(&tab, c.client));
    objtest_join(&th);
    EXPECT_OK(l.server_st);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(proto, KTEST_CASE(proto_check_finds_each_violation),
            KTEST_CASE(proto_typed_channel_refuses_violations),
            KTEST_CASE(proto_log_stubs_and_dispatch), KTEST_CASE(proto_decode_rejects_malformed),
            KTEST_CASE(proto_log_over_threads), );
