// stress: channels and ports under contention from many threads at once,
// for tools/testsuite.py's smp=4 user run (etc/smp.manifest). KTAP on
// stdout; exit status = failed cases. There is no pinning from user space:
// the threads (more than CPUs) are spread by the scheduler's placement.
//
// Each case runs its threads for RUN_NS, then stops them and checks that
// nothing was lost, duplicated or stuck:
//   * every call got the reply to its own request, and the servers served
//     exactly as many requests as the clients made (calls to servers on
//     nb_channel_reply_wait, and to a two-thread server on a port);
//   * every message written arrived once, in order per writer (back-
//     pressure included);
//   * every user packet queued on a port was taken exactly once.
// No wait is unbounded: one longer than WAIT_NS (a deadlock or a lost
// wake-up) fails the case, and threads that do not end within JOIN_NS fail
// it too (the process ends them when it exits).
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/ktest.h"
#include "nb/syscall.h"
#include "nb/time.h"

#define RUN_NS  (400 * NB_NSEC_PER_MSEC) // per case
#define WAIT_NS (3 * NB_NSEC_PER_SEC)    // the longest any single wait may take
#define JOIN_NS (5 * NB_NSEC_PER_SEC)

#define CHANNELS   4 // calls: one server thread each; callers: 1 on even, 2 on odd channels
#define CALLERS    6 // (a lone caller stalls for good if a wake-up is lost)
#define PORT_SRVS  2 // threads serving CHANNELS channels through one port
#define PRODUCERS  4 // port packets
#define CONSUMERS  3
#define MAX_SEQ    (1u << 15) // packets per producer at most (bitmap size)
#define WRITERS    2          // per channel, for the message case
#define READ_BURST 256        // a reader naps after this many, so queues fill up

#define STOP_KEY UINT64_MAX

// Failures seen by worker threads, reported by the case.
struct errors {
    unsigned count; // (atomic)
    char first[120];
};

static struct errors errs;

static void fail(const char *what, status_t s, uint64_t a, uint64_t b)
{
    if (__atomic_fetch_add(&errs.count, 1, __ATOMIC_RELAXED) == 0) {
        // Only the first one keeps its text; the rest are counted.
        char *p = errs.first;
        size_t n = sizeof(errs.first);
        snprintf(p, n, "%s: status %d (%llu, %llu)", what, s, (unsigned long long)a,
                 (unsigned long long)b);
    }
}

static void errors_reset(void)
{
    memset(&errs, 0, sizeof(errs));
}

#define EXPECT_NO_ERRORS()                                                           \
    do {                                                                             \
        unsigned n_ = __atomic_load_n(&errs.count, __ATOMIC_RELAXED);                \
        if (n_)                                                                      \
            KTEST_FAIL_(t, "%u failures in the threads; first: %s", n_, errs.first); \
    } while (0)

// A diagnostic line in the running case's KTAP.
static void note(const char *what, uint64_t n)
{
    char line[96];
    snprintf(line, sizeof(line), "    # %llu %s in %llu ms\n", (unsigned long long)n, what,
             (unsigned long long)(RUN_NS / NB_NSEC_PER_MSEC));
    ktest_output(line);
}

static uint64_t deadline(void)
{
    return nb_deadline_after(WAIT_NS);
}

static bool time_up(uint64_t end)
{
    return nb_now() >= end || __atomic_load_n(&errs.count, __ATOMIC_RELAXED) > 0;
}

// Starts n threads of fn(args[i]); false (and a failure) if one cannot start.
static bool start_all(pthread_t *th, unsigned n, void *(*fn)(void *), void *args, size_t size)
{
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&th[i], NULL, fn, (char *)args + i * size) != 0) {
            fail("pthread_create", ERR_NO_RESOURCES, i, n);
            for (unsigned j = 0; j < i; j++)
                pthread_detach(th[j]);
            return false;
        }
    }
    return true;
}

// Joins n threads, each within JOIN_NS; returns how many did not end.
static unsigned join_all(pthread_t *th, unsigned n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += JOIN_NS / NB_NSEC_PER_SEC;
    unsigned stuck = 0;
    for (unsigned i = 0; i < n; i++)
        stuck += pthread_timedjoin_np(th[i], NULL, &ts) != 0;
    return stuck;
}

// ---- Calls ----

struct request {
    struct nb_msg_header hdr; // txid set by the kernel
    uint32_t client, pad;
    uint64_t seq;
    uint64_t served_by; // filled in by the server
};

struct client {
    handle_t ch;
    uint32_t id;
    uint64_t end;
    uint64_t calls;
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    while (!time_up(c->end)) {
        struct request req = {.client = c->id, .seq = c->calls}, rep;
        struct nb_msg_out out = {&req, NULL, sizeof(req), 0};
        struct nb_msg_in in = {&rep, NULL, sizeof(rep), 0, 0, 0};
        status_t s = nb_channel_call(c->ch, &out, &in, deadline());
        if (s != OK) {
            fail("call", s, c->id, c->calls);
            break;
        }
        if (in.nbytes != sizeof(rep) || rep.client != c->id || rep.seq != c->calls ||
            rep.served_by == 0) {
            fail("call: not the reply to this request", ERR_INTERNAL, c->id, c->calls);
            break;
        }
        c->calls++;
    }
    return NULL;
}

struct turn_server {
    handle_t ch;
    uint64_t served;
};

// Serves one channel with nb_channel_reply_wait until its clients go.
static void *turn_server_main(void *arg)
{
    struct turn_server *s = arg;
    struct request req;
    struct nb_msg_in in = {&req, NULL, sizeof(req), 0, 0, 0};
    status_t st = nb_channel_reply_wait(s->ch, NULL, &in, NB_DEADLINE_INFINITE);
    while (st == OK) {
        if (in.nbytes != sizeof(req)) {
            fail("server: request size", ERR_INTERNAL, in.nbytes, 0);
            break;
        }
        s->served++;
        req.served_by = 1;
        struct nb_msg_out out = {&req, NULL, sizeof(req), 0};
        in = (struct nb_msg_in){&req, NULL, sizeof(req), 0, 0, 0};
        // No deadline: the wait ends when the clients' end closes.
        st = nb_channel_reply_wait(s->ch, &out, &in, NB_DEADLINE_INFINITE);
    }
    if (st != ERR_PEER_CLOSED)
        fail("server: reply_wait", st, s->served, 0);
    return NULL;
}

// Runs CALLERS callers on the CHANNELS channels for RUN_NS.
static void run_clients(struct ktest *t, handle_t *client_ends, uint64_t *calls)
{
    static const unsigned chan_of[CALLERS] = {0, 1, 1, 2, 3, 3};
    static struct client cl[CALLERS];
    pthread_t th[CALLERS];
    uint64_t end = nb_now() + RUN_NS;
    for (unsigned i = 0; i < CALLERS; i++)
        cl[i] = (struct client){.ch = client_ends[chan_of[i]], .id = i + 1, .end = end};
    if (!start_all(th, CALLERS, client_main, cl, sizeof(cl[0])))
        return;
    EXPECT_EQ(join_all(th, CALLERS), 0u);
    *calls = 0;
    for (unsigned i = 0; i < CALLERS; i++) {
        *calls += cl[i].calls;
        EXPECT_GT(cl[i].calls, 0u); // every client got through
    }
}

static void stress_calls_reply_wait(struct ktest *t)
{
    static struct turn_server srv[CHANNELS];
    pthread_t th[CHANNELS];
    handle_t ends[CHANNELS];
    errors_reset();
    for (unsigned i = 0; i < CHANNELS; i++) {
        srv[i] = (struct turn_server){0};
        ASSERT_OK(nb_channel_create(0, &ends[i], &srv[i].ch));
    }
    ASSERT_TRUE(start_all(th, CHANNELS, turn_server_main, srv, sizeof(srv[0])));
    uint64_t calls = 0;
    run_clients(t, ends, &calls);
    for (unsigned i = 0; i < CHANNELS; i++)
        EXPECT_OK(nb_handle_close(ends[i])); // the servers see the peer go
    EXPECT_EQ(join_all(th, CHANNELS), 0u);
    uint64_t served = 0;
    for (unsigned i = 0; i < CHANNELS; i++) {
        served += srv[i].served;
        nb_handle_close(srv[i].ch);
    }
    EXPECT_EQ(served, calls);
    EXPECT_GT(calls, 0u);
    EXPECT_NO_ERRORS();
    note("calls", calls);
}

// ---- Calls to a server of two threads on one port ----

struct port_server {
    handle_t port;
    handle_t *chans; // [CHANNELS], channel i bound with key i
    uint64_t served;
};

// Reads and answers everything on channel i, then asks for the next
// READABLE (a ONCE binding fires at once if more came meanwhile).
static status_t port_serve_channel(struct port_server *s, uint64_t i)
{
    for (;;) {
        struct request req;
        struct nb_msg_in in = {&req, NULL, sizeof(req), 0, 0, 0};
        status_t st = nb_channel_read(s->chans[i], &in);
        if (st == ERR_SHOULD_WAIT)
            break;
        if (st != OK)
            return st;
        req.served_by = 2;
        struct nb_msg_out out = {&req, NULL, sizeof(req), 0};
        if ((st = nb_channel_write(s->chans[i], &out)) != OK)
            return st;
        __atomic_add_fetch(&s->served, 1, __ATOMIC_RELAXED);
    }
    return nb_object_wait_async(s->chans[i], s->port, i, SIGNAL_READABLE, PORT_BIND_ONCE);
}

static void *port_server_main(void *arg)
{
    struct port_server *s = arg;
    for (;;) {
        struct nb_port_packet pkt;
        // No deadline: the stop packet ends it.
        status_t st = nb_port_wait(s->port, NB_DEADLINE_INFINITE, &pkt);
        if (st == OK && pkt.key == STOP_KEY)
            return NULL;
        if (st == OK && pkt.key >= CHANNELS)
            st = ERR_INTERNAL;
        if (st == OK)
            st = port_serve_channel(s, pkt.key);
        if (st != OK) {
            fail("port server", st, pkt.key, 0);
            return NULL;
        }
    }
}

static void stress_calls_port_server(struct ktest *t)
{
    static struct port_server srv;
    static handle_t server_ends[CHANNELS];
    pthread_t th[PORT_SRVS];
    handle_t ends[CHANNELS];
    errors_reset();
    srv = (struct port_server){.chans = server_ends};
    ASSERT_OK(nb_port_create(&srv.port));
    for (unsigned i = 0; i < CHANNELS; i++) {
        ASSERT_OK(nb_channel_create(0, &ends[i], &server_ends[i]));
        ASSERT_OK(
            nb_object_wait_async(server_ends[i], srv.port, i, SIGNAL_READABLE, PORT_BIND_ONCE));
    }
    // Both threads share one struct: the same port and channels.
    pthread_t *tp = th;
    for (unsigned i = 0; i < PORT_SRVS; i++)
        ASSERT_EQ(pthread_create(tp++, NULL, port_server_main, &srv), 0);
    uint64_t calls = 0;
    run_clients(t, ends, &calls);
    for (unsigned i = 0; i < PORT_SRVS; i++) {
        struct nb_port_packet stop = {.key = STOP_KEY, .type = PORT_PACKET_USER};
        EXPECT_OK(nb_port_queue(srv.port, &stop));
    }
    EXPECT_EQ(join_all(th, PORT_SRVS), 0u);
    EXPECT_EQ(__atomic_load_n(&srv.served, __ATOMIC_RELAXED), calls);
    EXPECT_GT(calls, 0u);
    for (unsigned i = 0; i < CHANNELS; i++) {
        nb_handle_close(ends[i]);
        nb_handle_close(server_ends[i]);
    }
    nb_handle_close(srv.port);
    EXPECT_NO_ERRORS();
    note("calls", calls);
}

// ---- Messages: writers with back-pressure, one reader per channel ----

struct msg {
    uint32_t writer;
    uint32_t pad;
    uint64_t seq;
};

struct writer {
    handle_t ch;
    uint32_t id; // 0 .. WRITERS - 1 on its channel
    uint64_t end;
    uint64_t sent;
    uint64_t full; // writes refused for a full queue
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    while (!time_up(w->end)) {
        struct msg m = {.writer = w->id, .seq = w->sent};
        struct nb_msg_out out = {&m, NULL, sizeof(m), 0};
        status_t s = nb_channel_write(w->ch, &out);
        if (s == ERR_SHOULD_WAIT) { // the reader's queue is full
            w->full++;
            s = nb_object_wait_one(w->ch, SIGNAL_WRITABLE, deadline(), NULL);
            if (s != OK) {
                fail("writer: wait for WRITABLE", s, w->id, w->sent);
                break;
            }
            continue;
        }
        if (s != OK) {
            fail("write", s, w->id, w->sent);
            break;
        }
        w->sent++;
    }
    return NULL;
}

struct reader {
    handle_t ch;
    uint64_t next[WRITERS]; // the sequence number expected from each writer
    uint64_t got;
};

// Reads until every writer's end is closed; sequence numbers must come
// one by one per writer.
static void *reader_main(void *arg)
{
    struct reader *r = arg;
    for (;;) {
        struct msg m;
        struct nb_msg_in in = {&m, NULL, sizeof(m), 0, 0, 0};
        status_t s = nb_channel_reply_wait(r->ch, NULL, &in, deadline());
        if (s == ERR_PEER_CLOSED)
            return NULL;
        if (s != OK) {
            fail("reader", s, 0, 0);
            return NULL;
        }
        if (in.nbytes != sizeof(m) || m.writer >= WRITERS || m.seq != r->next[m.writer]) {
            fail("reader: out of order", ERR_INTERNAL, m.writer, m.seq);
            return NULL;
        }
        r->next[m.writer]++;
        if (++r->got % READ_BURST == 0)
            nb_nanosleep(nb_deadline_after(2 * NB_NSEC_PER_MSEC));
    }
}

static void stress_messages_back_pressure(struct ktest *t)
{
    static struct reader rd[CHANNELS];
    static struct writer wr[CHANNELS * WRITERS];
    pthread_t rth[CHANNELS], wth[CHANNELS * WRITERS];
    handle_t ends[CHANNELS];
    uint64_t end = nb_now() + RUN_NS;
    errors_reset();
    for (unsigned i = 0; i < CHANNELS; i++) {
        rd[i] = (struct reader){0};
        ASSERT_OK(nb_channel_create(0, &ends[i], &rd[i].ch));
    }
    for (unsigned i = 0; i < CHANNELS * WRITERS; i++)
        wr[i] = (struct writer){.ch = ends[i / WRITERS], .id = i % WRITERS, .end = end};
    ASSERT_TRUE(start_all(rth, CHANNELS, reader_main, rd, sizeof(rd[0])));
    ASSERT_TRUE(start_all(wth, CHANNELS * WRITERS, writer_main, wr, sizeof(wr[0])));
    EXPECT_EQ(join_all(wth, CHANNELS * WRITERS), 0u);
    for (unsigned i = 0; i < CHANNELS; i++)
        EXPECT_OK(nb_handle_close(ends[i])); // readers drain, then see the peer go
    EXPECT_EQ(join_all(rth, CHANNELS), 0u);
    uint64_t total = 0, full = 0;
    for (unsigned i = 0; i < CHANNELS * WRITERS; i++) {
        EXPECT_EQ(rd[i / WRITERS].next[i % WRITERS], wr[i].sent); // none lost
        EXPECT_GT(wr[i].sent, 0u);
        total += wr[i].sent;
        full += wr[i].full;
    }
    EXPECT_GT(full, 0u); // back-pressure happened
    for (unsigned i = 0; i < CHANNELS; i++)
        nb_handle_close(rd[i].ch);
    EXPECT_NO_ERRORS();
    note("messages", total);
    note("writes refused for a full queue", full);
}

// ---- Port packets: producers and consumers on one port ----

struct packets {
    handle_t port;
    uint64_t end;
    uint64_t sent[PRODUCERS];
    uint64_t seen[PRODUCERS][MAX_SEQ / 64]; // bit per packet (atomic)
    uint64_t taken;                         // (atomic)
};

static struct packets pk;

static void *producer_main(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    while (!time_up(pk.end) && pk.sent[id] < MAX_SEQ) {
        struct nb_port_packet p = {.key = id, .type = PORT_PACKET_USER};
        p.user.u64[0] = pk.sent[id];
        status_t s = nb_port_queue(pk.port, &p);
        if (s == ERR_SHOULD_WAIT) { // the port's queue is full: let the consumers catch up
            nb_nanosleep(nb_deadline_after(100 * 1000));
            continue;
        }
        if (s != OK) {
            fail("port_queue", s, id, pk.sent[id]);
            break;
        }
        pk.sent[id]++;
    }
    return NULL;
}

static void *consumer_main(void *arg)
{
    for (;;) {
        struct nb_port_packet p;
        status_t s = nb_port_wait(pk.port, deadline(), &p);
        if (s != OK) {
            fail("port_wait", s, 0, 0);
            return NULL;
        }
        if (p.key == STOP_KEY)
            return NULL;
        uint64_t seq = p.user.u64[0];
        if (p.key >= PRODUCERS || seq >= MAX_SEQ) {
            fail("port_wait: bad packet", ERR_INTERNAL, p.key, seq);
            return NULL;
        }
        uint64_t bit = 1ull << (seq % 64);
        if (__atomic_fetch_or(&pk.seen[p.key][seq / 64], bit, __ATOMIC_RELAXED) & bit) {
            fail("port_wait: packet taken twice", ERR_INTERNAL, p.key, seq);
            return NULL;
        }
        __atomic_add_fetch(&pk.taken, 1, __ATOMIC_RELAXED);
    }
}

static void stress_port_packets(struct ktest *t)
{
    pthread_t pth[PRODUCERS], cth[CONSUMERS];
    errors_reset();
    memset(&pk, 0, sizeof(pk));
    ASSERT_OK(nb_port_create(&pk.port));
    pk.end = nb_now() + RUN_NS;
    for (uintptr_t i = 0; i < CONSUMERS; i++)
        ASSERT_EQ(pthread_create(&cth[i], NULL, consumer_main, NULL), 0);
    for (uintptr_t i = 0; i < PRODUCERS; i++)
        ASSERT_EQ(pthread_create(&pth[i], NULL, producer_main, (void *)i), 0);
    EXPECT_EQ(join_all(pth, PRODUCERS), 0u);
    for (unsigned i = 0; i < CONSUMERS; i++) { // queued after everything else
        struct nb_port_packet stop = {.key = STOP_KEY, .type = PORT_PACKET_USER};
        status_t s;
        while ((s = nb_port_queue(pk.port, &stop)) == ERR_SHOULD_WAIT)
            nb_nanosleep(nb_deadline_after(100 * 1000));
        EXPECT_OK(s);
    }
    EXPECT_EQ(join_all(cth, CONSUMERS), 0u);
    uint64_t sent = 0;
    for (unsigned i = 0; i < PRODUCERS; i++) {
        sent += pk.sent[i];
        for (uint64_t s = 0; s < pk.sent[i]; s++)
            if (!(pk.seen[i][s / 64] & (1ull << (s % 64)))) {
                KTEST_FAIL_(t, "packet %llu of producer %u never taken", (unsigned long long)s, i);
                break;
            }
    }
    EXPECT_EQ(__atomic_load_n(&pk.taken, __ATOMIC_RELAXED), sent);
    EXPECT_GT(sent, 0u);
    nb_handle_close(pk.port);
    EXPECT_NO_ERRORS();
    note("packets", sent);
}

KTEST_SUITE(stress, KTEST_CASE(stress_calls_reply_wait), KTEST_CASE(stress_calls_port_server),
            KTEST_CASE(stress_messages_back_pressure), KTEST_CASE(stress_port_packets));

int main(void)
{
    // init logs that it started us from another CPU, and the console mixes
    // concurrent writers character by character: let its line go first, so
    // the KTAP header stays whole.
    nb_nanosleep(nb_deadline_after(100 * NB_NSEC_PER_MSEC));
    return ktest_run(NULL);
}
