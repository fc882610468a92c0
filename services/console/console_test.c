// Tests of the console service's logic (suite console) over fake channels:
// opening terminals through the protocol, cooked and raw input, Ctrl-C and
// Ctrl-D, output processing, the foreground terminal, a full data channel,
// refused and malformed requests, and the start-up arguments. Every test
// ends by checking that no handle is left open.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "lib/ktest.h"
#include "proto/console.h"
#include "proto/devmgr.h"

// ---- Fake channels: handle h is endpoint h - 1; endpoints 2k and 2k+1
// are a pair. ----

#define FAKE_ENDS  (2 * (CON_TERMS_MAX + 8) * 2)
#define FAKE_QUEUE 32

struct fake_msg {
    char *bytes;
    uint32_t nbytes;
    handle_t handles[4];
    uint32_t nhandles;
};

struct fake_end {
    bool used, closed;
    struct fake_msg q[FAKE_QUEUE];
    unsigned head, count, cap; // cap: the queue's limit (FAKE_QUEUE unless a test lowers it)
    signals_t user;            // user signals set by the peer
};

static struct fake {
    struct fake_end ends[FAKE_ENDS];
    unsigned nends;
    char line[16384]; // what reached the serial line
    size_t line_len;
    char last_log[160];
    unsigned logs, attached, detached, writable_waits;
    bool fail_attach;
    status_t fail_create; // next channel_create fails with this (once)
    handle_t clients[4];  // what con_ops.connect handed over
    unsigned nclients;
    unsigned fail_reads; // the service's next reads fail with ERR_NO_MEMORY
    unsigned reads, backoffs;
    unsigned nomem_logs, again_logs; // log lines about a failed read, about recovering
    handle_t backoff_ch;             // the last con_ops.backoff's
    struct con_term *backoff_term;
} fk;

static struct fake_end *end_of(handle_t h)
{
    if (h == HANDLE_INVALID || h > fk.nends || !fk.ends[h - 1].used || fk.ends[h - 1].closed)
        return NULL;
    return &fk.ends[h - 1];
}

static struct fake_end *peer_of(handle_t h)
{
    return &fk.ends[(h - 1) ^ 1];
}

static status_t f_create(void *ctx, handle_t *a, handle_t *b)
{
    (void)ctx;
    if (fk.fail_create != OK) {
        status_t st = fk.fail_create;
        fk.fail_create = OK;
        return st;
    }
    if (fk.nends + 2 > FAKE_ENDS)
        return ERR_NO_RESOURCES;
    for (int i = 0; i < 2; i++)
        fk.ends[fk.nends + i] = (struct fake_end){.used = true, .cap = FAKE_QUEUE};
    *a = fk.nends + 1;
    *b = fk.nends + 2;
    fk.nends += 2;
    return OK;
}

static status_t f_write(void *ctx, handle_t h, const struct nb_msg_out *m)
{
    (void)ctx;
    if (!end_of(h))
        return ERR_BAD_HANDLE;
    struct fake_end *p = peer_of(h);
    if (p->closed)
        return ERR_PEER_CLOSED;
    if (p->count >= p->cap)
        return ERR_SHOULD_WAIT;
    if (m->nhandles > 4)
        return ERR_OUT_OF_RANGE;
    struct fake_msg *q = &p->q[(p->head + p->count++) % FAKE_QUEUE];
    q->bytes = malloc(m->nbytes + 1);
    memcpy(q->bytes, m->bytes, m->nbytes);
    q->nbytes = m->nbytes;
    q->nhandles = m->nhandles;
    for (uint32_t i = 0; i < m->nhandles; i++)
        q->handles[i] = m->handles[i];
    return OK;
}

static status_t f_read(void *ctx, handle_t h, struct nb_msg_in *m)
{
    (void)ctx;
    struct fake_end *e = end_of(h);
    if (!e)
        return ERR_BAD_HANDLE;
    if (!e->count)
        return peer_of(h)->closed ? ERR_PEER_CLOSED : ERR_SHOULD_WAIT;
    struct fake_msg *q = &e->q[e->head];
    m->nbytes = q->nbytes;
    m->nhandles = q->nhandles;
    if (q->nbytes > m->bytes_cap || q->nhandles > m->handles_cap)
        return ERR_BUFFER_TOO_SMALL;
    memcpy(m->bytes, q->bytes, q->nbytes);
    for (uint32_t i = 0; i < q->nhandles; i++)
        m->handles[i] = q->handles[i];
    free(q->bytes);
    e->head = (e->head + 1) % FAKE_QUEUE;
    e->count--;
    return OK;
}

// The service's reads (con_ops.channel_read); the test reads with f_read.
static status_t f_read_op(void *ctx, handle_t h, struct nb_msg_in *m)
{
    fk.reads++;
    if (fk.fail_reads) {
        fk.fail_reads--;
        return ERR_NO_MEMORY; // the message stays queued
    }
    return f_read(ctx, h, m);
}

static void f_backoff(void *ctx, handle_t ch, struct con_term *t)
{
    (void)ctx;
    fk.backoffs++;
    fk.backoff_ch = ch;
    fk.backoff_term = t;
}

static status_t f_signal_peer(void *ctx, handle_t h, signals_t clear, signals_t set)
{
    (void)ctx;
    if (!end_of(h))
        return ERR_BAD_HANDLE;
    struct fake_end *p = peer_of(h);
    if (p->closed)
        return ERR_PEER_CLOSED;
    p->user = (p->user & ~clear) | set;
    return OK;
}

static void f_close(void *ctx, handle_t h)
{
    (void)ctx;
    struct fake_end *e = end_of(h);
    if (!e)
        return;
    e->closed = true;
    while (e->count) {
        free(e->q[e->head].bytes);
        e->head = (e->head + 1) % FAKE_QUEUE;
        e->count--;
    }
}

static void f_line_write(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    if (n > sizeof(fk.line) - 1 - fk.line_len)
        n = sizeof(fk.line) - 1 - fk.line_len;
    memcpy(fk.line + fk.line_len, s, n);
    fk.line_len += n;
    fk.line[fk.line_len] = '\0';
}

static status_t f_attach(void *ctx, struct con_term *t)
{
    (void)ctx;
    if (fk.fail_attach)
        return ERR_NO_MEMORY;
    fk.attached++;
    t->io = &fk; // as main.c: set once watched
    return OK;
}

static void f_detach(void *ctx, struct con_term *t)
{
    (void)ctx;
    if (t->io) // only what was attached
        fk.detached++;
    t->io = NULL;
}

static void f_wait_writable(void *ctx, struct con_term *t)
{
    (void)ctx;
    (void)t;
    fk.writable_waits++;
}

static void f_log(void *ctx, const char *line)
{
    (void)ctx;
    snprintf(fk.last_log, sizeof(fk.last_log), "%s", line);
    fk.logs++;
    fk.nomem_logs += strstr(line, "reading a request: ERR_NO_MEMORY") != NULL;
    fk.again_logs += strstr(line, "reading requests again") != NULL;
}

static const struct con_ops fake_ops = {
    .channel_create = f_create,
    .channel_read = f_read_op,
    .channel_write = f_write,
    .signal_peer = f_signal_peer,
    .close = f_close,
    .line_write = f_line_write,
    .attach = f_attach,
    .detach = f_detach,
    .wait_writable = f_wait_writable,
    .log = f_log,
    .backoff = f_backoff,
};

static void f_connect(void *ctx, handle_t client)
{
    (void)ctx;
    if (fk.nclients < 4)
        fk.clients[fk.nclients++] = client;
}

// As the virtio console driver's: devmgr's connect is taken.
static const struct con_ops fake_ops_clients = {
    .channel_create = f_create,
    .channel_read = f_read_op,
    .channel_write = f_write,
    .signal_peer = f_signal_peer,
    .close = f_close,
    .line_write = f_line_write,
    .attach = f_attach,
    .detach = f_detach,
    .wait_writable = f_wait_writable,
    .log = f_log,
    .backoff = f_backoff,
    .connect = f_connect,
};

// ---- Helpers ----

static struct con con;
static handle_t service_client; // init's end

static void setup(struct ktest *t)
{
    for (unsigned i = 0; i < fk.nends; i++)
        f_close(NULL, i + 1);
    memset(&fk, 0, sizeof(fk));
    handle_t server;
    EXPECT_OK(f_create(NULL, &server, &service_client));
    EXPECT_OK(con_init(&con, &fake_ops, NULL, server));
}

static void clear_line(void)
{
    fk.line_len = 0;
    fk.line[0] = '\0';
}

static unsigned open_ends(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < fk.nends; i++)
        n += fk.ends[i].used && !fk.ends[i].closed;
    return n;
}

// Closes the test's ends, then the service: nothing may stay open.
static void teardown(struct ktest *t, handle_t *mine, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        f_close(NULL, mine[i]);
    f_close(NULL, service_client);
    con_destroy(&con);
    EXPECT_EQ(open_ends(), 0u);
    EXPECT_EQ(fk.attached, fk.detached);
}

// A request with txid 7 (any reply must carry it back) on ch.
static void send_request(struct ktest *t, handle_t ch, status_t (*encode)(struct nb_msg_in *),
                         const handle_t *handles, uint32_t nh)
{
    uint64_t buf[8];
    struct nb_msg_in m = {.bytes = buf, .bytes_cap = sizeof(buf)};
    ASSERT_OK(encode(&m));
    ((struct nb_msg_header *)buf)->txid = 7;
    struct nb_msg_out out = {.bytes = buf, .nbytes = m.nbytes, .handles = handles, .nhandles = nh};
    ASSERT_OK(f_write(NULL, ch, &out));
}

static status_t encode_mode_raw(struct nb_msg_in *m)
{
    return console_set_mode_request_encode(m, CONSOLE_MODE_RAW);
}

static status_t encode_mode_cooked(struct nb_msg_in *m)
{
    return console_set_mode_request_encode(m, CONSOLE_MODE_COOKED);
}

static status_t encode_mode_bad(struct nb_msg_in *m)
{
    return console_set_mode_request_encode(m, 5);
}

// Reads the reply on ch into buf/handles; checks the txid.
static status_t read_reply(struct ktest *t, handle_t ch, struct nb_msg_in *m, void *buf,
                           handle_t *handles)
{
    *m = (struct nb_msg_in){.bytes = buf, .handles = handles, .bytes_cap = 64, .handles_cap = 4};
    status_t st = f_read(NULL, ch, m);
    if (st == OK)
        EXPECT_EQ(((struct nb_msg_header *)buf)->txid, 7u);
    return st;
}

// Opens a terminal through the service channel: term[0] data, term[1] control.
static void open_term(struct ktest *t, handle_t term[2])
{
    uint64_t buf[8];
    handle_t hs[4];
    struct nb_msg_in m;
    send_request(t, service_client, console_open_request_encode, NULL, 0);
    con_service_readable(&con);
    ASSERT_OK(read_reply(t, service_client, &m, buf, hs));
    status_t st;
    const handle_t *got;
    uint32_t n;
    ASSERT_OK(console_open_response_decode(&m, &st, &got, &n));
    ASSERT_OK(st);
    ASSERT_EQ(n, 2u);
    term[0] = got[0];
    term[1] = got[1];
}

// The next message on the client's data end as a string; -1 if none.
static int next_input(handle_t data, char *out, size_t cap)
{
    struct nb_msg_in m = {.bytes = out, .bytes_cap = (uint32_t)cap - 1};
    if (f_read(NULL, data, &m) != OK)
        return -1;
    out[m.nbytes] = '\0';
    return (int)m.nbytes;
}

static void type(const char *s)
{
    con_input(&con, s, strlen(s));
}

static void write_output(struct ktest *t, handle_t data, const char *s, size_t n)
{
    struct nb_msg_out m = {.bytes = s, .nbytes = (uint32_t)n};
    EXPECT_OK(f_write(NULL, data, &m));
}

// ---- Tests ----

static void console_cooked_session(struct ktest *t)
{
    handle_t term[2];
    char buf[512];
    setup(t);
    open_term(t, term);
    EXPECT_EQ(con.nterms, 1u);
    EXPECT_TRUE(con_foreground(&con) != NULL);
    EXPECT_STREQ(fk.last_log, "console: terminal 1 opened (the foreground)");

    // A typed line: echoed with CR NL, delivered as one message on Enter.
    type("ls -l");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), -1);
    type("\r");
    EXPECT_STREQ(fk.line, "ls -l\r\n");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 6);
    EXPECT_STREQ(buf, "ls -l\n");

    // Two lines in one burst: two messages; editing keys work.
    clear_line();
    type("a\x7f"
         "b\nc\x15"
         "d\n");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 2);
    EXPECT_STREQ(buf, "b\n");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 2);
    EXPECT_STREQ(buf, "d\n");
    EXPECT_STREQ(fk.line, "a\b \bb\r\nc\b \bd\r\n");

    // Ctrl-D: a line without newline, then a zero-length end-of-input mark.
    type("ab\x04\x04");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 2);
    EXPECT_STREQ(buf, "ab");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 0);
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), -1);

    // Output: NL -> CR NL, handles in a stream message are closed.
    clear_line();
    write_output(t, term[0], "one\ntwo\n", 8);
    handle_t stray[2];
    ASSERT_OK(f_create(NULL, &stray[0], &stray[1]));
    struct nb_msg_out with_handle = {
        .bytes = "x", .nbytes = 1, .handles = &stray[0], .nhandles = 1};
    EXPECT_OK(f_write(NULL, term[0], &with_handle));
    con_data_readable(&con, con.last);
    EXPECT_STREQ(fk.line, "one\r\ntwo\r\nx");
    EXPECT_TRUE(end_of(stray[0]) == NULL);
    teardown(t, (handle_t[]){term[0], term[1], stray[1]}, 3);
}

static void console_ctrl_c(struct ktest *t)
{
    handle_t term[2];
    char buf[64];
    setup(t);
    open_term(t, term);
    type("half a line\x03");
    EXPECT_EQ(peer_of(con.last->data)->user, (signals_t)CON_INTERRUPT_SIGNAL);
    EXPECT_EQ(fk.ends[term[0] - 1].user, (signals_t)SIGNAL_USER0); // the client's end
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), -1);          // the line is gone
    EXPECT_STREQ(fk.line, "half a line^C\r\n");
    type("next\r");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 5);
    EXPECT_STREQ(buf, "next\n");
    teardown(t, term, 2);
}

static void console_control(struct ktest *t)
{
    handle_t term[2], hs[4];
    uint64_t rbuf[8];
    struct nb_msg_in m;
    status_t st;
    char buf[64];
    setup(t);
    con.rows = 50;
    con.cols = 132;
    open_term(t, term);

    send_request(t, term[1], console_get_size_request_encode, NULL, 0);
    con_control_readable(&con, con.last);
    ASSERT_OK(read_reply(t, term[1], &m, rbuf, hs));
    uint32_t rows, cols;
    ASSERT_OK(console_get_size_response_decode(&m, &st, &rows, &cols));
    EXPECT_OK(st);
    EXPECT_EQ(rows, 50u);
    EXPECT_EQ(cols, 132u);

    // Raw: the half-typed line is input at once, then bytes as typed, no
    // echo, Ctrl-C and Ctrl-D and CR are data; one message per burst.
    type("ab");
    clear_line();
    send_request(t, term[1], encode_mode_raw, NULL, 0);
    con_control_readable(&con, con.last);
    ASSERT_OK(read_reply(t, term[1], &m, rbuf, hs));
    ASSERT_OK(console_set_mode_response_decode(&m, &st));
    EXPECT_OK(st);
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 2);
    EXPECT_STREQ(buf, "ab");
    type("x\x03\x04\r");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 4);
    EXPECT_EQ(memcmp(buf, "x\x03\x04\r", 4), 0);
    EXPECT_EQ(fk.ends[term[0] - 1].user, 0u); // no interrupt in raw mode
    EXPECT_EQ(fk.line_len, 0u);               // no echo
    // Output is still processed.
    write_output(t, term[0], "\n", 1);
    con_data_readable(&con, con.last);
    EXPECT_STREQ(fk.line, "\r\n");

    // A mode that does not exist; then back to cooked.
    send_request(t, term[1], encode_mode_bad, NULL, 0);
    send_request(t, term[1], encode_mode_cooked, NULL, 0);
    con_control_readable(&con, con.last);
    ASSERT_OK(read_reply(t, term[1], &m, rbuf, hs));
    ASSERT_OK(console_set_mode_response_decode(&m, &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
    ASSERT_OK(read_reply(t, term[1], &m, rbuf, hs));
    ASSERT_OK(console_set_mode_response_decode(&m, &st));
    EXPECT_OK(st);
    clear_line();
    type("ok\r");
    EXPECT_STREQ(fk.line, "ok\r\n");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 3);

    // Without its control channel the terminal goes on.
    f_close(NULL, term[1]);
    con_control_closed(&con, con.last);
    EXPECT_EQ(con.last->control, HANDLE_INVALID);
    type("still\r");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 6);
    teardown(t, term, 1);
}

static void console_foreground(struct ktest *t)
{
    handle_t a[2], b[2];
    char buf[64];
    setup(t);
    type("nobody\r"); // no terminal: dropped, no echo
    EXPECT_EQ(fk.line_len, 0u);
    open_term(t, a);
    open_term(t, b);
    EXPECT_EQ(con.nterms, 2u);
    EXPECT_EQ(con_foreground(&con)->id, 2u);
    type("to b\r");
    EXPECT_EQ(next_input(b[0], buf, sizeof(buf)), 5);
    EXPECT_EQ(next_input(a[0], buf, sizeof(buf)), -1);
    // Output of a background terminal still reaches the line.
    clear_line();
    write_output(t, a[0], "bg", 2);
    con_data_readable(&con, con.first);
    EXPECT_STREQ(fk.line, "bg");
    // b goes: a is the foreground again.
    f_close(NULL, b[0]);
    f_close(NULL, b[1]);
    con_term_closed(&con, con.last);
    EXPECT_STREQ(fk.last_log, "console: terminal 2 closed; terminal 1 is the foreground");
    EXPECT_EQ(con.nterms, 1u);
    type("to a\r");
    EXPECT_EQ(next_input(a[0], buf, sizeof(buf)), 5);
    EXPECT_STREQ(buf, "to a\n");
    // Ctrl-C for a client already gone is not an error worth a log.
    f_close(NULL, a[0]);
    unsigned logs = fk.logs;
    type("\x03");
    EXPECT_EQ(fk.logs, logs);
    con_term_closed(&con, con.last);
    EXPECT_NULL(con_foreground(&con));
    teardown(t, (handle_t[]){a[1]}, 1);
}

static void console_full_channel(struct ktest *t)
{
    handle_t term[2];
    char buf[64];
    setup(t);
    open_term(t, term);
    fk.ends[term[0] - 1].cap = 2; // the client's queue takes two messages
    type("1\r2\r3\r");
    EXPECT_EQ(fk.writable_waits, 1u);
    EXPECT_TRUE(con.last->full);
    type("4\r"); // queued in the line discipline meanwhile
    EXPECT_EQ(fk.writable_waits, 1u);
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 2);
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 2);
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), -1);
    con_data_writable(&con, con.last);
    EXPECT_FALSE(con.last->full);
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 2);
    EXPECT_STREQ(buf, "3\n");
    EXPECT_EQ(next_input(term[0], buf, sizeof(buf)), 2);
    EXPECT_STREQ(buf, "4\n");
    teardown(t, term, 2);
}

static void console_output_budget(struct ktest *t)
{
    handle_t term[2];
    static char big[3000];
    setup(t);
    open_term(t, term);
    memset(big, 'o', sizeof(big));
    for (int i = 0; i < 3; i++)
        write_output(t, term[0], big, sizeof(big));
    con_data_readable(&con, con.last); // whole messages, about 4096 bytes
    EXPECT_EQ(fk.line_len, 6000u);
    con_data_readable(&con, con.last);
    EXPECT_EQ(fk.line_len, 9000u);
    EXPECT_EQ(fk.ends[con.last->data - 1].count, 0u);
    teardown(t, term, 2);
}

static status_t encode_unknown(struct nb_msg_in *m)
{
    memset(m->bytes, 0, 16);
    ((struct nb_msg_header *)m->bytes)->ordinal = 99;
    m->nbytes = 16;
    m->nhandles = 0;
    return OK;
}

static void console_refused_requests(struct ktest *t)
{
    handle_t term[2], hs[4];
    uint64_t rbuf[8];
    struct nb_msg_in m;
    status_t st;
    setup(t);
    open_term(t, term);

    // open on a control channel, terminal methods on the service channel.
    send_request(t, term[1], console_open_request_encode, NULL, 0);
    con_control_readable(&con, con.last);
    ASSERT_OK(read_reply(t, term[1], &m, rbuf, hs));
    const handle_t *got;
    uint32_t n;
    ASSERT_OK(console_open_response_decode(&m, &st, &got, &n));
    EXPECT_STATUS(st, ERR_NOT_SUPPORTED);
    EXPECT_EQ(n, 0u);
    send_request(t, service_client, encode_mode_raw, NULL, 0);
    send_request(t, service_client, console_get_size_request_encode, NULL, 0);
    con_service_readable(&con);
    ASSERT_OK(read_reply(t, service_client, &m, rbuf, hs));
    ASSERT_OK(console_set_mode_response_decode(&m, &st));
    EXPECT_STATUS(st, ERR_NOT_SUPPORTED);
    ASSERT_OK(read_reply(t, service_client, &m, rbuf, hs));
    uint32_t rows, cols;
    ASSERT_OK(console_get_size_response_decode(&m, &st, &rows, &cols));
    EXPECT_STATUS(st, ERR_NOT_SUPPORTED);

    // An unknown method: no reply, a log line. A request carrying a handle:
    // refused too, and the handle is closed.
    send_request(t, service_client, encode_unknown, NULL, 0);
    con_service_readable(&con);
    EXPECT_STATUS(read_reply(t, service_client, &m, rbuf, hs), ERR_SHOULD_WAIT);
    EXPECT_STREQ(fk.last_log, "console: service request refused: ERR_PROTOCOL");
    handle_t extra[2];
    ASSERT_OK(f_create(NULL, &extra[0], &extra[1]));
    send_request(t, service_client, console_open_request_encode, &extra[0], 1);
    con_service_readable(&con);
    EXPECT_STATUS(read_reply(t, service_client, &m, rbuf, hs), ERR_SHOULD_WAIT);
    EXPECT_TRUE(end_of(extra[0]) == NULL);
    EXPECT_EQ(con.nterms, 1u);
    teardown(t, (handle_t[]){term[0], term[1], extra[1]}, 3);
}

static void console_open_failures(struct ktest *t)
{
    handle_t terms[CON_TERMS_MAX][2], hs[4];
    uint64_t rbuf[8];
    struct nb_msg_in m;
    status_t st;
    const handle_t *got;
    uint32_t n;
    setup(t);

    // The terminal cannot be watched, or its channels made: an error reply,
    // nothing left open.
    fk.fail_attach = true;
    send_request(t, service_client, console_open_request_encode, NULL, 0);
    con_service_readable(&con);
    ASSERT_OK(read_reply(t, service_client, &m, rbuf, hs));
    ASSERT_OK(console_open_response_decode(&m, &st, &got, &n));
    EXPECT_STATUS(st, ERR_NO_MEMORY);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(con.nterms, 0u);
    fk.fail_attach = false;
    fk.fail_create = ERR_NO_RESOURCES;
    send_request(t, service_client, console_open_request_encode, NULL, 0);
    con_service_readable(&con);
    ASSERT_OK(read_reply(t, service_client, &m, rbuf, hs));
    ASSERT_OK(console_open_response_decode(&m, &st, &got, &n));
    EXPECT_STATUS(st, ERR_NO_RESOURCES);
    EXPECT_EQ(open_ends(), 2u); // just the service channel

    // The limit of terminals.
    for (int i = 0; i < CON_TERMS_MAX; i++)
        open_term(t, terms[i]);
    EXPECT_EQ(con.nterms, (unsigned)CON_TERMS_MAX);
    send_request(t, service_client, console_open_request_encode, NULL, 0);
    con_service_readable(&con);
    ASSERT_OK(read_reply(t, service_client, &m, rbuf, hs));
    ASSERT_OK(console_open_response_decode(&m, &st, &got, &n));
    EXPECT_STATUS(st, ERR_NO_RESOURCES);
    for (int i = 0; i < CON_TERMS_MAX; i++) {
        f_close(NULL, terms[i][0]);
        f_close(NULL, terms[i][1]);
    }
    while (con.first)
        con_term_closed(&con, con.first);

    // The opener went before its reply: the new terminal is dropped.
    send_request(t, service_client, console_open_request_encode, NULL, 0);
    f_close(NULL, service_client);
    con_service_readable(&con);
    EXPECT_EQ(con.nterms, 0u);
    EXPECT_STREQ(fk.last_log, "console: terminal 34: reply lost: ERR_PEER_CLOSED");
    teardown(t, NULL, 0);
}

// devmgr's connect (one handle, ordinal 3 = console's get_size) on ch.
static void send_connect(struct ktest *t, handle_t ch, handle_t client)
{
    uint64_t buf[4];
    handle_t h[1];
    struct nb_msg_in m = {.bytes = buf, .handles = h, .bytes_cap = sizeof(buf), .handles_cap = 1};
    ASSERT_OK(devmgr_connect_request_encode(&m, client));
    struct nb_msg_out out = {
        .bytes = buf, .nbytes = m.nbytes, .handles = m.handles, .nhandles = m.nhandles};
    ASSERT_OK(f_write(NULL, ch, &out));
}

static void console_clients(struct ktest *t)
{
    handle_t term[2], term2[2], a[2], b[2], hs[4];
    uint64_t rbuf[8];
    struct nb_msg_in m;
    setup(t);

    // Without a connect op (the serial console): refused, the handle closed.
    ASSERT_OK(f_create(NULL, &a[0], &a[1]));
    send_connect(t, service_client, a[0]);
    con_service_readable(&con);
    EXPECT_TRUE(end_of(a[0]) == NULL);
    EXPECT_STATUS(read_reply(t, service_client, &m, rbuf, hs), ERR_SHOULD_WAIT);
    EXPECT_STREQ(fk.last_log, "console: service request refused: ERR_PROTOCOL");
    f_close(NULL, a[1]);
    teardown(t, NULL, 0);

    // With one: the client's end is handed over, and a client channel is
    // served as the service channel is (open, and connect again).
    setup(t);
    con.ops = &fake_ops_clients;
    con.name = "virtio-console";
    ASSERT_OK(f_create(NULL, &a[0], &a[1]));
    send_connect(t, service_client, a[0]);
    con_service_readable(&con);
    ASSERT_EQ(fk.nclients, 1u);
    EXPECT_EQ(fk.clients[0], a[0]);
    EXPECT_TRUE(end_of(a[0]) != NULL);

    send_request(t, a[1], console_open_request_encode, NULL, 0);
    con_client_readable(&con, a[0]);
    ASSERT_OK(read_reply(t, a[1], &m, rbuf, hs));
    status_t st;
    const handle_t *got;
    uint32_t n;
    ASSERT_OK(console_open_response_decode(&m, &st, &got, &n));
    ASSERT_OK(st);
    ASSERT_EQ(n, 2u);
    term[0] = got[0];
    term[1] = got[1];
    EXPECT_STREQ(fk.last_log, "virtio-console: terminal 1 opened (the foreground)");
    // Terminal methods are refused on a client channel as on the service one.
    send_request(t, a[1], console_get_size_request_encode, NULL, 0);
    con_client_readable(&con, a[0]);
    ASSERT_OK(read_reply(t, a[1], &m, rbuf, hs));
    uint32_t rows, cols;
    ASSERT_OK(console_get_size_response_decode(&m, &st, &rows, &cols));
    EXPECT_STATUS(st, ERR_NOT_SUPPORTED);

    ASSERT_OK(f_create(NULL, &b[0], &b[1]));
    send_connect(t, a[1], b[0]);
    con_client_readable(&con, a[0]);
    ASSERT_EQ(fk.nclients, 2u);
    EXPECT_EQ(fk.clients[1], b[0]);
    open_term(t, term2); // the service channel still opens terminals
    EXPECT_EQ(con.nterms, 2u);
    // The client channels are the caller's: closing them leaves the terminals.
    for (int i = 0; i < 2; i++) {
        f_close(NULL, a[i]);
        f_close(NULL, b[i]);
    }
    EXPECT_EQ(con.nterms, 2u);
    teardown(t, (handle_t[]){term[0], term[1], term2[0], term2[1]}, 4);
}

static void console_arguments(struct ktest *t)
{
    struct con_config cfg;
    char err[160];
    char *none[] = {"console"};
    EXPECT_OK(con_parse_args(1, none, &cfg, err, sizeof(err)));
    EXPECT_EQ(cfg.port, 0x3f8u);
    EXPECT_EQ(cfg.gsi, 4u);
    EXPECT_EQ(cfg.rows, 24u);
    EXPECT_EQ(cfg.cols, 80u);
    char *all[] = {"console", "--port", "0x2f8", "--gsi", "3", "--size", "50x132"};
    EXPECT_OK(con_parse_args(7, all, &cfg, err, sizeof(err)));
    EXPECT_EQ(cfg.port, 0x2f8u);
    EXPECT_EQ(cfg.gsi, 3u);
    EXPECT_EQ(cfg.rows, 50u);
    EXPECT_EQ(cfg.cols, 132u);

    char *unknown[] = {"console", "--baud", "9600"};
    EXPECT_STATUS(con_parse_args(3, unknown, &cfg, err, sizeof(err)), ERR_INVALID_ARGS);
    EXPECT_STREQ(err, "unknown argument '--baud' (--port N, --gsi N, --size RxC)");
    char *missing[] = {"console", "--gsi"};
    EXPECT_STATUS(con_parse_args(2, missing, &cfg, err, sizeof(err)), ERR_INVALID_ARGS);
    EXPECT_STREQ(err, "--gsi wants a number in range, not '(nothing)'");
    char *port_high[] = {"console", "--port", "0xfffc"};
    EXPECT_STATUS(con_parse_args(3, port_high, &cfg, err, sizeof(err)), ERR_INVALID_ARGS);
    char *negative[] = {"console", "--gsi", "-1"};
    EXPECT_STATUS(con_parse_args(3, negative, &cfg, err, sizeof(err)), ERR_INVALID_ARGS);
    char *junk[] = {"console", "--gsi", "4x"};
    EXPECT_STATUS(con_parse_args(3, junk, &cfg, err, sizeof(err)), ERR_INVALID_ARGS);
    static const char *const bad_sizes[] = {"24",  "0x80",    "24x0",    "x80",
                                            "24x", "24x80x1", "99999x80"};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        char *size[] = {"console", "--size", (char *)bad_sizes[i]};
        EXPECT_STATUS(con_parse_args(3, size, &cfg, err, sizeof(err)), ERR_INVALID_ARGS);
    }
    EXPECT_STREQ(err, "--size wants ROWSxCOLS, not '99999x80'");
}

// A request that cannot be read for lack of memory stays queued: the
// service logs that once (not once per try), asks the I/O half to come back
// later (con_ops.backoff) instead of reading again at once, and serves the
// request when a read succeeds, saying so; a later failure logs again.
static void console_read_no_memory_backs_off(struct ktest *t)
{
    uint64_t buf[8];
    handle_t hs[4], term[2];
    struct nb_msg_in m;

    setup(t);
    send_request(t, service_client, console_open_request_encode, NULL, 0);
    fk.fail_reads = 3;
    for (int i = 0; i < 3; i++) {
        unsigned reads = fk.reads;
        con_service_readable(&con);
        EXPECT_EQ(fk.reads, reads + 1); // one try per call, no spinning
        EXPECT_EQ(fk.backoffs, (unsigned)i + 1);
        EXPECT_EQ(fk.backoff_ch, con.service);
        EXPECT_NULL(fk.backoff_term);
    }
    EXPECT_EQ(fk.logs, 1u);
    EXPECT_EQ(fk.nomem_logs, 1u);
    EXPECT_STATUS(read_reply(t, service_client, &m, buf, hs), ERR_SHOULD_WAIT);
    con_service_readable(&con); // memory again: the open is served
    ASSERT_OK(read_reply(t, service_client, &m, buf, hs));
    status_t st;
    const handle_t *got;
    uint32_t n;
    ASSERT_OK(console_open_response_decode(&m, &st, &got, &n));
    ASSERT_OK(st);
    ASSERT_EQ(n, 2u);
    term[0] = got[0];
    term[1] = got[1];
    EXPECT_EQ(fk.nomem_logs, 1u);
    EXPECT_EQ(fk.again_logs, 1u);
    EXPECT_EQ(fk.backoffs, 3u);

    // On a terminal's control channel: the back-off names the terminal.
    send_request(t, term[1], encode_mode_raw, NULL, 0);
    fk.fail_reads = 1;
    struct con_term *ft = con_foreground(&con);
    con_control_readable(&con, ft);
    EXPECT_EQ(fk.backoffs, 4u);
    EXPECT_EQ(fk.backoff_ch, ft->control);
    EXPECT_EQ(fk.backoff_term, ft);
    EXPECT_EQ(fk.nomem_logs, 2u); // a new episode is logged
    con_control_readable(&con, ft);
    ASSERT_OK(read_reply(t, term[1], &m, buf, hs));
    EXPECT_EQ(fk.again_logs, 2u);
    teardown(t, term, 2);
}

KTEST_SUITE(console, KTEST_CASE(console_cooked_session), KTEST_CASE(console_ctrl_c),
            KTEST_CASE(console_control), KTEST_CASE(console_foreground),
            KTEST_CASE(console_full_channel), KTEST_CASE(console_output_budget),
            KTEST_CASE(console_refused_requests), KTEST_CASE(console_open_failures),
            KTEST_CASE(console_clients), KTEST_CASE(console_arguments),
            KTEST_CASE(console_read_no_memory_backs_off));
