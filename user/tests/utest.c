// utest: the native system calls from user space, in the manner of xv6's
// usertests. KTAP on stdout; exit status = failed cases.
//
// Wants from init (manifest): handles=log,initrd,self,vmex,ioport,irq.
// Without "initrd" the cases that start processes are skipped, without
// "self" those that make threads, without "ioport" and "irq" the device
// cases.
//
// `utest --child=echo` is the other end of channel_to_child_process.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/loop.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"
#include "nb/transport.h"
#include "nb/ioport.h"
#include "nimbus/object.h"
#include "proto/log.h"

#define PAGE         4096u
#define WAIT_LIMIT   (10 * NB_NSEC_PER_SEC) // no case waits longer for anything
#define THREAD_STACK (64u * 1024)

static const char *self_path = "/test/utest";

// Read-only data: the kernel must refuse to write here.
static const struct nb_handle_info readonly_info;

static handle_t self_process(void)
{
    return nb_bootstrap_peek(BOOTSTRAP_ROLE_PROCESS_SELF);
}

// ---- Threads without musl: they use nothing but system calls ----

struct raw_thread {
    handle_t h;
    void *stack;
};

typedef void (*raw_thread_fn)(uint64_t a1, uint64_t a2);

static status_t raw_thread_start(struct raw_thread *t, raw_thread_fn fn, uint64_t a1, uint64_t a2)
{
    status_t s = nb_thread_create(self_process(), "utest", 5, &t->h);
    if (s != OK)
        return s;
    t->stack = aligned_alloc(16, THREAD_STACK);
    if (!t->stack) {
        nb_handle_close(t->h);
        return ERR_NO_MEMORY;
    }
    // As if called: the return address slot below a 16-byte aligned top.
    uintptr_t sp = (uintptr_t)t->stack + THREAD_STACK - 8;
    return nb_thread_start(t->h, (uintptr_t)fn, sp, a1, a2);
}

static status_t raw_thread_join(struct raw_thread *t)
{
    signals_t seen;
    status_t s = nb_object_wait_one(t->h, SIGNAL_TERMINATED, nb_deadline_after(WAIT_LIMIT), &seen);
    if (s == OK) // its stack is no longer in use
        free(t->stack);
    nb_handle_close(t->h);
    return s;
}

// Answers `count` messages on ch with the same bytes reversed.
__attribute__((noreturn, no_stack_protector)) static void echo_thread(uint64_t ch, uint64_t count)
{
    uint8_t buf[256] = {0}, out[256];
    for (uint64_t n = 0; n < count; n++) {
        signals_t seen;
        struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
        if (nb_object_wait_one(ch, SIGNAL_READABLE, NB_DEADLINE_INFINITE, &seen) != OK ||
            nb_channel_read(ch, &in) != OK)
            break;
        for (uint32_t i = 0; i < in.nbytes; i++)
            out[i] = buf[in.nbytes - 1 - i];
        struct nb_msg_out reply = {out, NULL, in.nbytes, 0};
        nb_channel_write(ch, &reply);
    }
    nb_thread_exit();
}

// ---- Handles ----

static void handle_duplicate_close_info(struct ktest *t)
{
    handle_t ev, dup, weak, repl;
    struct nb_handle_info info;

    ASSERT_OK(nb_event_create(&ev));
    ASSERT_OK(nb_handle_info(ev, &info));
    EXPECT_EQ(info.type, (uint32_t)OBJ_EVENT);
    EXPECT_TRUE(info.rights & RIGHT_DUPLICATE);

    ASSERT_OK(nb_handle_duplicate(ev, RIGHT_SAME_RIGHTS, &dup));
    EXPECT_NE(dup, ev);
    ASSERT_OK(nb_handle_info(dup, &info));
    EXPECT_EQ(info.type, (uint32_t)OBJ_EVENT);

    // Rights only go down.
    ASSERT_OK(nb_handle_duplicate(ev, RIGHT_WAIT, &weak));
    ASSERT_OK(nb_handle_info(weak, &info));
    EXPECT_EQ(info.rights, RIGHT_WAIT);
    handle_t x;
    EXPECT_STATUS(nb_handle_duplicate(weak, RIGHT_WAIT, &x), ERR_ACCESS_DENIED);
    EXPECT_STATUS(nb_handle_duplicate(ev, RIGHT_WRITE, &x), ERR_INVALID_ARGS);

    // Replace kills the old value.
    ASSERT_OK(nb_handle_replace(dup, RIGHT_SAME_RIGHTS, &repl));
    EXPECT_STATUS(nb_handle_info(dup, &info), ERR_BAD_HANDLE);
    EXPECT_OK(nb_handle_info(repl, &info));

    // Signals cross handles of the same object.
    signals_t seen = 0;
    EXPECT_OK(nb_object_signal(ev, 0, SIGNAL_USER0));
    EXPECT_OK(nb_object_wait_one(weak, SIGNAL_USER0, NB_DEADLINE_POLL, &seen));
    EXPECT_TRUE(seen & SIGNAL_USER0);

    EXPECT_OK(nb_handle_close(repl));
    EXPECT_OK(nb_handle_close(weak));
    EXPECT_OK(nb_handle_close(ev));
    EXPECT_STATUS(nb_handle_close(ev), ERR_BAD_HANDLE);
    EXPECT_STATUS(nb_handle_close(HANDLE_INVALID), ERR_BAD_HANDLE);
    EXPECT_STATUS(nb_handle_close(0x7fffffff), ERR_BAD_HANDLE);
}

static void handle_wrong_type(struct ktest *t)
{
    handle_t ev;
    ASSERT_OK(nb_event_create(&ev));
    EXPECT_STATUS(nb_timer_set(ev, 0), ERR_WRONG_TYPE);
    uint64_t size;
    EXPECT_STATUS(nb_vmo_get_size(ev, &size), ERR_WRONG_TYPE);
    EXPECT_OK(nb_handle_close(ev));
    // A number beyond the native table.
    EXPECT_STATUS(nb_sys(NB_SYSCALL_LAST, 0, 0, 0, 0, 0, 0), ERR_BAD_SYSCALL);
}

// ---- Channels ----

static void channel_write_read(struct ktest *t)
{
    handle_t a, b, ev;
    uint8_t buf[64];
    handle_t got[4];
    struct nb_handle_info info;

    ASSERT_OK(nb_channel_create(0, &a, &b));
    ASSERT_OK(nb_event_create(&ev));
    struct nb_msg_out out = {"ping", &ev, 4, 1};
    ASSERT_OK(nb_channel_write(a, &out));
    EXPECT_STATUS(nb_handle_info(ev, &info), ERR_BAD_HANDLE); // moved out

    struct nb_msg_in small = {buf, got, 2, 4, 0, 0};
    EXPECT_STATUS(nb_channel_read(b, &small), ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(small.nbytes, 4u);
    EXPECT_EQ(small.nhandles, 1u);
    struct nb_msg_in in = {buf, got, sizeof(buf), 4, 0, 0};
    ASSERT_OK(nb_channel_read(b, &in));
    EXPECT_EQ(in.nbytes, 4u);
    EXPECT_TRUE(memcmp(buf, "ping", 4) == 0);
    ASSERT_EQ(in.nhandles, 1u);
    ASSERT_OK(nb_handle_info(got[0], &info));
    EXPECT_EQ(info.type, (uint32_t)OBJ_EVENT);
    EXPECT_STATUS(nb_channel_read(b, &in), ERR_SHOULD_WAIT);

    EXPECT_OK(nb_handle_close(a));
    EXPECT_STATUS(nb_channel_read(b, &in), ERR_PEER_CLOSED);
    struct nb_msg_out bytes_only = {"late", NULL, 4, 0};
    EXPECT_STATUS(nb_channel_write(b, &bytes_only), ERR_PEER_CLOSED);
    EXPECT_OK(nb_handle_close(b));
    EXPECT_OK(nb_handle_close(got[0]));
}

static void channel_between_threads(struct ktest *t)
{
    handle_t a, b;
    struct raw_thread th;
    static const char *const words[] = {"abc", "nimbus", "x"};

    if (self_process() == HANDLE_INVALID)
        KTEST_SKIP("no self handle");
    ASSERT_OK(nb_channel_create(0, &a, &b));
    ASSERT_OK(raw_thread_start(&th, echo_thread, b, ARRAY_SIZE(words)));
    for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
        char buf[32];
        signals_t seen;
        size_t len = strlen(words[i]);
        struct nb_msg_out out = {words[i], NULL, (uint32_t)len, 0};
        struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
        ASSERT_OK(nb_channel_write(a, &out));
        ASSERT_OK(nb_object_wait_one(a, SIGNAL_READABLE, nb_deadline_after(WAIT_LIMIT), &seen));
        ASSERT_OK(nb_channel_read(a, &in));
        ASSERT_EQ(in.nbytes, (uint32_t)len);
        for (size_t j = 0; j < len; j++)
            EXPECT_EQ(buf[j], words[i][len - 1 - j]);
    }
    EXPECT_OK(raw_thread_join(&th));
    EXPECT_OK(nb_handle_close(a));
    EXPECT_OK(nb_handle_close(b));
}

// A log server on a thread, called through the generated client stub and the
// channel transport (NB_SYS_CHANNEL_CALL).
static status_t fake_log_read(void *ctx, uint64_t seq, struct nb_msg_in *reply)
{
    (void)ctx;
    return log_read_response_encode(reply, OK, seq + 1, 1234, 6, "line", 4);
}

__attribute__((noreturn, no_stack_protector)) static void log_server_thread(uint64_t ch,
                                                                            uint64_t count)
{
    static const struct log_server_ops ops = {.read = fake_log_read};
    uint8_t req_buf[LOG_MAX_MSG_BYTES] = {0}, reply_buf[LOG_MAX_MSG_BYTES] = {0};
    for (uint64_t n = 0; n < count; n++) {
        signals_t seen;
        struct nb_msg_in req = {req_buf, NULL, sizeof(req_buf), 0, 0, 0};
        struct nb_msg_in reply = {reply_buf, NULL, sizeof(reply_buf), 0, 0, 0};
        if (nb_object_wait_one(ch, SIGNAL_READABLE, NB_DEADLINE_INFINITE, &seen) != OK ||
            nb_channel_read(ch, &req) != OK || log_dispatch(&ops, NULL, &req, &reply) != OK)
            break;
        struct nb_msg_out out = {reply.bytes, NULL, reply.nbytes, 0};
        nb_channel_write(ch, &out);
    }
    nb_thread_exit();
}

static void transport_call(struct ktest *t)
{
    handle_t a, b;
    struct raw_thread th;
    struct nb_channel_transport ct;
    uint8_t buf[LOG_MAX_MSG_BYTES];

    if (self_process() == HANDLE_INVALID)
        KTEST_SKIP("no self handle");
    ASSERT_OK(nb_channel_create(0, &a, &b));
    ASSERT_OK(raw_thread_start(&th, log_server_thread, b, 2));
    nb_channel_transport_init(&ct, a, buf, sizeof(buf));
    ct.timeout_ns = WAIT_LIMIT;
    for (uint64_t seq = 7; seq < 9; seq++) {
        status_t st;
        uint64_t next, ts;
        uint32_t level, len;
        const char *line;
        ASSERT_OK(log_read(&ct.tr, seq, &st, &next, &ts, &level, &line, &len));
        EXPECT_OK(st);
        EXPECT_EQ(next, seq + 1);
        EXPECT_EQ(ts, 1234u);
        EXPECT_EQ(level, 6u);
        ASSERT_EQ(len, 4u);
        EXPECT_TRUE(memcmp(line, "line", 4) == 0);
    }
    EXPECT_OK(raw_thread_join(&th));
    nb_handle_close(a);
    nb_handle_close(b);
}

// ---- Ports, timers and the event loop ----

static void port_wait_timer(struct ktest *t)
{
    handle_t port, timer;
    struct nb_port_packet pkt;

    ASSERT_OK(nb_port_create(&port));
    ASSERT_OK(nb_timer_create(&timer));
    uint64_t deadline = nb_deadline_after(20 * NB_NSEC_PER_MSEC);
    ASSERT_OK(nb_timer_set(timer, deadline));
    ASSERT_OK(nb_object_wait_async(timer, port, 0x1234, SIGNAL_SIGNALED, PORT_BIND_ONCE));
    EXPECT_STATUS(nb_port_wait(port, NB_DEADLINE_POLL, &pkt), ERR_TIMED_OUT);
    ASSERT_OK(nb_port_wait(port, nb_deadline_after(WAIT_LIMIT), &pkt));
    EXPECT_GE(nb_now(), deadline);
    EXPECT_EQ(pkt.key, 0x1234u);
    EXPECT_EQ(pkt.type, (uint32_t)PORT_PACKET_SIGNAL_ONCE);
    EXPECT_TRUE(pkt.signal.observed & SIGNAL_SIGNALED);
    // ONCE: nothing more.
    EXPECT_STATUS(nb_port_wait(port, nb_deadline_after(NB_NSEC_PER_MSEC), &pkt), ERR_TIMED_OUT);

    // A user packet comes back as queued.
    struct nb_port_packet user = {.key = 99, .type = PORT_PACKET_USER, .user = {{1, 2, 3, 4}}};
    ASSERT_OK(nb_port_queue(port, &user));
    ASSERT_OK(nb_port_wait(port, NB_DEADLINE_POLL, &pkt));
    EXPECT_EQ(pkt.key, 99u);
    EXPECT_EQ(pkt.user.u64[3], 4u);
    nb_handle_close(timer);
    nb_handle_close(port);
}

struct loop_record {
    char order[16];
    int n;
};

static void note(struct loop_record *r, char c)
{
    if (r->n < (int)sizeof(r->order) - 1)
        r->order[r->n++] = c;
}

static void on_task(struct nb_loop *loop, struct nb_task *task)
{
    (void)loop;
    note(task->ctx, 'T');
}

static void on_timer(struct nb_loop *loop, struct nb_loop_timer *tm)
{
    note(tm->ctx, 'Z');
    nb_loop_quit(loop);
}

static void on_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    char buf[8];
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    (void)loop;
    while (nb_channel_read(w->channel, &in) == OK)
        note(w->ctx, 'R');
}

static void on_peer_closed(struct nb_loop *loop, struct nb_channel_watch *w)
{
    (void)loop;
    note(w->ctx, 'C');
}

// A watch that cannot be armed again reports its channel as lost: the
// callback fills the port's bindings (PORT_MAX_BINDINGS, 4096) with edge
// bindings on an event, so re-arming after it fails.
struct rearm_record {
    handle_t ev, port;
    int readable, lost, bound;
};

static void rearm_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct rearm_record *r = w->ctx;
    char buf[8];
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    (void)loop;
    while (nb_channel_read(w->channel, &in) == OK)
        in = (struct nb_msg_in){buf, NULL, sizeof(buf), 0, 0, 0};
    r->readable++;
    while (nb_object_wait_async(r->ev, r->port, (1ull << 40) + (uint64_t)r->bound, SIGNAL_SIGNALED,
                                PORT_BIND_EDGE) == OK)
        r->bound++;
}

static void rearm_lost(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct rearm_record *r = w->ctx;
    r->lost++;
    nb_loop_quit(loop);
}

static void watch_rearm_failure(struct ktest *t)
{
    struct nb_loop loop;
    struct rearm_record rec = {0};
    handle_t a, b;

    ASSERT_OK(nb_loop_init(&loop));
    ASSERT_OK(nb_event_create(&rec.ev));
    rec.port = loop.port;
    ASSERT_OK(nb_channel_create(0, &a, &b));
    struct nb_channel_watch w = {
        .channel = b, .on_readable = rearm_readable, .on_peer_closed = rearm_lost, .ctx = &rec};
    struct nb_msg_out out = {"m", NULL, 1, 0};
    ASSERT_OK(nb_channel_write(a, &out));
    ASSERT_OK(nb_channel_watch_start(&loop, &w));
    EXPECT_OK(nb_loop_run(&loop, nb_deadline_after(WAIT_LIMIT)));
    EXPECT_EQ(rec.readable, 1);
    EXPECT_EQ(rec.lost, 1); // the peer is still there: the watch could not go on
    EXPECT_GT(rec.bound, 4000);
    EXPECT_FALSE(w.active);
    nb_handle_close(rec.ev); // drops its bindings
    nb_handle_close(a);
    nb_handle_close(b);
    nb_loop_destroy(&loop);
}

static void event_loop(struct ktest *t)
{
    struct nb_loop loop;
    struct loop_record rec = {0};
    struct nb_task task = {.fn = on_task, .ctx = &rec};
    struct nb_loop_timer tm;
    handle_t a, b;

    ASSERT_OK(nb_loop_init(&loop));
    ASSERT_OK(nb_channel_create(0, &a, &b));
    struct nb_channel_watch w = {
        .channel = b, .on_readable = on_readable, .on_peer_closed = on_peer_closed, .ctx = &rec};
    struct nb_msg_out out = {"m", NULL, 1, 0};
    ASSERT_OK(nb_channel_write(a, &out));
    ASSERT_OK(nb_channel_write(a, &out));
    ASSERT_OK(nb_channel_watch_start(&loop, &w));
    ASSERT_OK(nb_task_post(&loop, &task));
    EXPECT_STATUS(nb_task_post(&loop, &task), ERR_BAD_STATE);
    ASSERT_OK(nb_loop_timer_init(&tm, on_timer, &rec));
    ASSERT_OK(nb_loop_timer_start(&loop, &tm, nb_deadline_after(30 * NB_NSEC_PER_MSEC)));
    nb_handle_close(a); // the watch reports it after the messages

    EXPECT_OK(nb_loop_run(&loop, nb_deadline_after(WAIT_LIMIT)));
    rec.order[rec.n] = 0;
    // Both messages were read in one callback, the peer's going after them,
    // the task whenever its packet came, the timer last.
    char without_task[16];
    int k = 0;
    for (int i = 0; i < rec.n; i++)
        if (rec.order[i] != 'T')
            without_task[k++] = rec.order[i];
    without_task[k] = 0;
    EXPECT_STREQ(without_task, "RRCZ");
    EXPECT_TRUE(strchr(rec.order, 'T') != NULL);
    EXPECT_FALSE(w.active);

    // A stopped timer never fires.
    ASSERT_OK(nb_loop_timer_start(&loop, &tm, nb_deadline_after(NB_NSEC_PER_MSEC)));
    ASSERT_OK(nb_loop_timer_stop(&loop, &tm));
    EXPECT_STATUS(nb_loop_run(&loop, nb_deadline_after(20 * NB_NSEC_PER_MSEC)), ERR_TIMED_OUT);
    nb_loop_timer_destroy(&loop, &tm);
    nb_handle_close(b);
    nb_loop_destroy(&loop);
}

// ---- Memory ----

static void vmo_read_write(struct ktest *t)
{
    handle_t vmo;
    uint64_t size;
    char buf[8] = {0};

    ASSERT_OK(nb_vmo_create(3 * PAGE + 100, &vmo));
    ASSERT_OK(nb_vmo_get_size(vmo, &size));
    EXPECT_GE(size, 3 * PAGE + 100u);
    ASSERT_OK(nb_vmo_read(vmo, buf, PAGE, sizeof(buf))); // untouched: zeros
    EXPECT_EQ(buf[0], 0);
    ASSERT_OK(nb_vmo_write(vmo, "across", PAGE - 3, 6)); // spans two pages
    ASSERT_OK(nb_vmo_read(vmo, buf, PAGE - 3, 6));
    EXPECT_TRUE(memcmp(buf, "across", 6) == 0);
    EXPECT_STATUS(nb_vmo_read(vmo, buf, size - 2, 4), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_vmo_write(vmo, buf, UINT64_MAX - 1, 4), ERR_OUT_OF_RANGE);
    ASSERT_OK(nb_vmo_set_size(vmo, PAGE));
    EXPECT_STATUS(nb_vmo_read(vmo, buf, PAGE, 1), ERR_OUT_OF_RANGE);
    ASSERT_OK(nb_vmo_read(vmo, buf, PAGE - 3, 3));
    EXPECT_TRUE(memcmp(buf, "acr", 3) == 0);
    nb_handle_close(vmo);
}

static void vmo_map(struct ktest *t)
{
    handle_t vmo, ro;
    uintptr_t addr = 0;
    char buf[8];

    ASSERT_OK(nb_vmo_create(2 * PAGE, &vmo));
    ASSERT_OK(nb_vm_map(HANDLE_INVALID, vmo, 0, 2 * PAGE, NB_VM_READ | NB_VM_WRITE, &addr));
    ASSERT_NE(addr, 0u);
    EXPECT_EQ(addr % PAGE, 0u);
    volatile char *p = (volatile char *)addr;
    p[PAGE + 1] = 'm';
    ASSERT_OK(nb_vmo_read(vmo, buf, PAGE + 1, 1));
    EXPECT_EQ(buf[0], 'm');
    ASSERT_OK(nb_vmo_write(vmo, "w", 5, 1));
    EXPECT_EQ(p[5], 'w');
    EXPECT_OK(nb_vm_unmap(HANDLE_INVALID, addr, 2 * PAGE));

    // W^X, and rights: MAP with WRITE needs WRITE on the handle.
    uintptr_t a2 = 0;
    EXPECT_NE(nb_vm_map(HANDLE_INVALID, vmo, 0, PAGE, NB_VM_WRITE | NB_VM_EXEC, &a2), OK);
    ASSERT_OK(nb_handle_duplicate(vmo, RIGHT_READ | RIGHT_MAP, &ro));
    EXPECT_STATUS(nb_vm_map(HANDLE_INVALID, ro, 0, PAGE, NB_VM_READ | NB_VM_WRITE, &a2),
                  ERR_ACCESS_DENIED);
    EXPECT_OK(nb_vm_map(HANDLE_INVALID, ro, 0, PAGE, NB_VM_READ, &a2));
    EXPECT_EQ(((volatile char *)a2)[5], 'w');
    EXPECT_OK(nb_vm_unmap(HANDLE_INVALID, a2, PAGE));
    nb_handle_close(ro);
    nb_handle_close(vmo);
}

// ---- User copies across page boundaries ----

// The kernel copies to and from user memory 8 bytes per step, then the
// last 0-7 bytes one by one; a page fault in either part is served (a page
// not yet committed) or fails the call (nothing mapped there).
static void user_copy_edges(struct ktest *t)
{
    handle_t src, buf;
    uintptr_t a;
    char pattern[64], got[64];

    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (char)('A' + i % 26);
    ASSERT_OK(nb_vmo_create(PAGE, &src));
    ASSERT_OK(nb_vmo_write(src, pattern, 0, sizeof(pattern)));
    // Two fresh pages: nothing committed, so the copy faults in each.
    ASSERT_OK(nb_vmo_create(2 * PAGE, &buf));
    ASSERT_OK(nb_vm_map(HANDLE_INVALID, buf, 0, 2 * PAGE, NB_VM_READ | NB_VM_WRITE, &a));
    // 15 bytes from 9 before the boundary: the 8-byte step in the first
    // page, the tail crossing into the second.
    char *p = (char *)(a + PAGE - 9);
    EXPECT_OK(nb_vmo_read(src, p, 0, 15));
    EXPECT_EQ(memcmp(p, pattern, 15), 0);
    // 64 bytes from 20 before: an 8-byte step crosses the boundary.
    p = (char *)(a + PAGE - 20);
    EXPECT_OK(nb_vmo_read(src, p, 0, 64));
    EXPECT_EQ(memcmp(p, pattern, 64), 0);
    // And from user memory into the kernel (a write), across the boundary.
    EXPECT_OK(nb_vmo_write(src, (const char *)(a + PAGE - 13), 100, 27));
    EXPECT_OK(nb_vmo_read(src, got, 100, 27));
    EXPECT_EQ(memcmp(got, (const char *)(a + PAGE - 13), 27), 0);
    // Nothing mapped past the second page: a tail that runs into it, and
    // an 8-byte step that does, both fail the call.
    EXPECT_OK(nb_vm_unmap(HANDLE_INVALID, a + PAGE, PAGE));
    EXPECT_STATUS(nb_vmo_read(src, (char *)(a + PAGE - 9), 0, 15), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_vmo_read(src, (char *)(a + PAGE - 20), 0, 64), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_vmo_write(src, (const char *)(a + PAGE - 3), 0, 7), ERR_INVALID_ARGS);
    EXPECT_OK(nb_vm_unmap(HANDLE_INVALID, a, PAGE));
    nb_handle_close(buf);
    nb_handle_close(src);
}

// ---- Bad pointers: a status, never a crash ----

static void bad_pointers(struct ktest *t)
{
    static const uintptr_t bad[] = {
        8,                         // page zero
        0xffffffff80000000ull,     // kernel half
        0x0000800000000000ull,     // non-canonical
        0x00007ffffffffffcull,     // straddles the top of user space
        (uintptr_t)&readonly_info, // read-only for an output
    };
    handle_t ev, a, b, vmo;

    ASSERT_OK(nb_event_create(&ev));
    ASSERT_OK(nb_channel_create(0, &a, &b));
    ASSERT_OK(nb_vmo_create(PAGE, &vmo));
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        void *p = (void *)bad[i];
        EXPECT_STATUS(nb_handle_info(ev, p), ERR_INVALID_ARGS);
        EXPECT_STATUS(nb_vmo_read(vmo, p, 0, 16), ERR_INVALID_ARGS);
        EXPECT_STATUS(nb_vmo_get_size(vmo, p), ERR_INVALID_ARGS);
        EXPECT_STATUS(nb_port_create(p), ERR_INVALID_ARGS);
        if (bad[i] == (uintptr_t)&readonly_info)
            continue; // readable: fine as an input
        EXPECT_STATUS(nb_vmo_write(vmo, p, 0, 16), ERR_INVALID_ARGS);
        EXPECT_STATUS(nb_channel_write(a, p), ERR_INVALID_ARGS);
        struct nb_msg_out out = {p, NULL, 16, 0};
        EXPECT_STATUS(nb_channel_write(a, &out), ERR_INVALID_ARGS);
        EXPECT_STATUS(nb_debug_write(p, 16), ERR_INVALID_ARGS);
        handle_t proc;
        EXPECT_STATUS(nb_process_create(p, 4, &proc), ERR_INVALID_ARGS);
    }
    // Nothing was sent by the refused writes.
    char buf[16];
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    EXPECT_STATUS(nb_channel_read(b, &in), ERR_SHOULD_WAIT);
    nb_handle_close(vmo);
    nb_handle_close(a);
    nb_handle_close(b);
    nb_handle_close(ev);
}

// ---- Processes ----

static struct nb_initrd initrd;
static bool have_initrd;

static status_t start(const char *path, const char *arg, const uint32_t *roles, const handle_t *hs,
                      uint32_t n, handle_t *proc)
{
    const char *argv[] = {path, arg, NULL};
    struct nb_spawn sp = {
        .name = "utest-child", .argv = argv, .roles = roles, .handles = hs, .nhandles = n};
    status_t s = nb_initrd_find(&initrd, path, &sp.elf, &sp.elf_size);
    if (s != OK)
        return s;
    return nb_spawn(&sp, proc);
}

static status_t run_to_end(const char *path, const char *arg, struct nb_process_info *info)
{
    handle_t proc;
    status_t s = start(path, arg, NULL, NULL, 0, &proc);
    if (s != OK)
        return s;
    s = nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), info);
    if (s == ERR_TIMED_OUT)
        nb_task_kill(proc);
    nb_handle_close(proc);
    return s;
}

static void process_exit_status(struct ktest *t)
{
    struct nb_process_info info;
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    ASSERT_OK(run_to_end("/bin/hello", NULL, &info));
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_DEAD);
    EXPECT_EQ(info.flags, 0u);
    EXPECT_EQ(info.exit_code, 0);
    ASSERT_OK(run_to_end("/test/crash", NULL, &info)); // usage: exit(1)
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_DEAD);
    EXPECT_EQ(info.flags, 0u);
    EXPECT_EQ(info.exit_code, 1);
    EXPECT_STATUS(run_to_end("/etc/init.manifest", NULL, &info), ERR_BAD_FORMAT);
    EXPECT_STATUS(run_to_end("/no/such/program", NULL, &info), ERR_NOT_FOUND);
}

static void channel_to_child_process(struct ktest *t)
{
    handle_t a, b, proc;
    uint32_t role = BOOTSTRAP_ROLE_USER0;
    struct nb_process_info info;
    char buf[32];
    signals_t seen;

    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    ASSERT_OK(nb_channel_create(0, &a, &b));
    ASSERT_OK(start(self_path, "--child=echo", &role, &b, 1, &proc));
    struct nb_msg_out out = {"hello child", NULL, 11, 0};
    ASSERT_OK(nb_channel_write(a, &out));
    ASSERT_OK(nb_object_wait_one(a, SIGNAL_READABLE, nb_deadline_after(WAIT_LIMIT), &seen));
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    ASSERT_OK(nb_channel_read(a, &in));
    ASSERT_EQ(in.nbytes, 11u);
    EXPECT_TRUE(memcmp(buf, "dlihc olleh", 11) == 0);
    ASSERT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info));
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_DEAD);
    EXPECT_EQ(info.exit_code, 0);
    // The child's end went with it.
    EXPECT_OK(nb_object_wait_one(a, SIGNAL_PEER_CLOSED, NB_DEADLINE_POLL, &seen));
    nb_handle_close(proc);
    nb_handle_close(a);
}

// The child side: echo one message reversed on the channel given as user0.
static int child_echo(void)
{
    handle_t ch = nb_bootstrap_take(BOOTSTRAP_ROLE_USER0);
    if (ch == HANDLE_INVALID)
        return 10;
    uint8_t buf[64], out[64];
    signals_t seen;
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    if (nb_object_wait_one(ch, SIGNAL_READABLE, nb_deadline_after(WAIT_LIMIT), &seen) != OK ||
        nb_channel_read(ch, &in) != OK)
        return 11;
    for (uint32_t i = 0; i < in.nbytes; i++)
        out[i] = buf[in.nbytes - 1 - i];
    struct nb_msg_out msg = {out, NULL, in.nbytes, 0};
    return nb_channel_write(ch, &msg) == OK ? 0 : 12;
}

// A child blocked in object_wait_one or port_wait ends promptly when killed
// (the wait once turned the kill into OK and waited again, for ever).
static void kill_blocked_child(struct ktest *t, const char *mode)
{
    handle_t a, b, proc;
    uint32_t role = BOOTSTRAP_ROLE_USER0;
    struct nb_process_info info;
    signals_t seen;
    char buf[8];

    ASSERT_OK(nb_channel_create(0, &a, &b));
    ASSERT_OK(start(self_path, mode, &role, &b, 1, &proc));
    ASSERT_OK(nb_object_wait_one(a, SIGNAL_READABLE, nb_deadline_after(WAIT_LIMIT), &seen));
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    ASSERT_OK(nb_channel_read(a, &in));
    nb_nanosleep(nb_deadline_after(20 * NB_NSEC_PER_SEC / 1000)); // let it block
    ASSERT_OK(nb_task_kill(proc));
    ASSERT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info));
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_DEAD);
    EXPECT_EQ(info.exit_code, NB_EXIT_KILLED);
    nb_handle_close(proc);
    nb_handle_close(a);
}

static void kill_child_blocked_in_wait(struct ktest *t)
{
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    kill_blocked_child(t, "--child=block-wait");
    kill_blocked_child(t, "--child=block-port");
}

// The child side: says "ready" on user0, then waits for ever on an event
// nobody signals, or on a port nobody queues to.
static int child_block(bool port)
{
    handle_t ch = nb_bootstrap_take(BOOTSTRAP_ROLE_USER0), h;
    signals_t seen;
    struct nb_port_packet pkt;
    if (ch == HANDLE_INVALID)
        return 10;
    if ((port ? nb_port_create(&h) : nb_event_create(&h)) != OK)
        return 11;
    struct nb_msg_out msg = {"ready", NULL, 5, 0};
    if (nb_channel_write(ch, &msg) != OK)
        return 12;
    if (port)
        nb_port_wait(h, NB_DEADLINE_INFINITE, &pkt);
    else
        nb_object_wait_one(h, SIGNAL_SIGNALED, NB_DEADLINE_INFINITE, &seen);
    return 13; // a kill must not get here
}

// ---- Faults: the process dies, the kernel and this test go on ----

struct crash_case {
    const char *mode;
    int64_t exit_code; // NB_EXIT_FAULT_*
};

static void expect_crashes(struct ktest *t, const struct crash_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct nb_process_info info;
        status_t s = run_to_end("/test/crash", c[i].mode, &info);
        if (s != OK) {
            ktest_fail(t, __FILE__, __LINE__, "crash %s: %s", c[i].mode, status_str(s));
            continue;
        }
        if (info.state != NB_PROCESS_DEAD || !(info.flags & NB_PROCESS_FAULTED) ||
            info.exit_code != c[i].exit_code) {
            char how[160];
            nb_process_describe(&info, how, sizeof(how));
            ktest_fail(t, __FILE__, __LINE__, "crash %s: %s, expected a fault with exit code %lld",
                       c[i].mode, how, (long long)c[i].exit_code);
        }
    }
}

static void crash_memory_faults(struct ktest *t)
{
    static const struct crash_case c[] = {
        {"null-read", NB_EXIT_FAULT_SEGV},    {"null-write", NB_EXIT_FAULT_SEGV},
        {"rodata-write", NB_EXIT_FAULT_SEGV}, {"exec-data", NB_EXIT_FAULT_SEGV},
        {"exec-stack", NB_EXIT_FAULT_SEGV},   {"kernel-read", NB_EXIT_FAULT_SEGV},
        {"noncanonical", NB_EXIT_FAULT_SEGV}, {"stack-overflow", NB_EXIT_FAULT_SEGV},
    };
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    expect_crashes(t, c, ARRAY_SIZE(c));
}

static void crash_other_exceptions(struct ktest *t)
{
    static const struct crash_case c[] = {
        {"divide", NB_EXIT_FAULT_FPE},
        {"ud2", NB_EXIT_FAULT_ILL},
    };
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    expect_crashes(t, c, ARRAY_SIZE(c));
}

// ---- Devices: resources and I/O ports (docs/DEVICES.md) ----

#define COM1     0x3f8
#define COM1_IER (COM1 + 1) // interrupt enable
#define COM1_IIR (COM1 + 2) // interrupt identification (reading it clears THRE)
#define COM1_SCR (COM1 + 7) // scratch register: reads back what was written
#define IER_RX   0x01
#define IER_THRE 0x02 // transmitter empty: fires at once when the FIFO is empty
// COM1 is ISA IRQ 4, which QEMU's machines wire to GSI 4 (no MADT override).
#define COM1_GSI 4

static void resource_derive_and_info(struct ktest *t)
{
    handle_t io = nb_bootstrap_peek(BOOTSTRAP_ROLE_IOPORT), com1, h;
    struct nb_resource_info info;
    if (io == HANDLE_INVALID)
        KTEST_SKIP("no ioport handle");
    ASSERT_OK(nb_resource_info(io, &info));
    EXPECT_EQ(info.kind, (uint32_t)NB_RESOURCE_IOPORT);
    EXPECT_EQ(info.base, 0u);
    EXPECT_EQ(info.size, 0x10000u);
    ASSERT_OK(nb_resource_create(io, NB_RESOURCE_IOPORT, COM1, 8, &com1));
    ASSERT_OK(nb_resource_info(com1, &info));
    EXPECT_EQ(info.kind, (uint32_t)NB_RESOURCE_IOPORT);
    EXPECT_EQ(info.base, (uint64_t)COM1);
    EXPECT_EQ(info.size, 8u);
    struct nb_handle_info hi;
    ASSERT_OK(nb_handle_info(com1, &hi));
    EXPECT_EQ(hi.type, (uint32_t)OBJ_RESOURCE);
    EXPECT_EQ(hi.rights, RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT);
    EXPECT_STATUS(nb_resource_create(com1, NB_RESOURCE_IOPORT, COM1 - 1, 2, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_resource_create(com1, NB_RESOURCE_IRQ, 4, 1, &h), ERR_ACCESS_DENIED);
    EXPECT_STATUS(nb_resource_create(com1, NB_RESOURCE_POWER, 0, 0, &h), ERR_ACCESS_DENIED);
    EXPECT_STATUS(nb_resource_create(io, NB_RESOURCE_IOPORT, 0xffff, 2, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_resource_create(self_process(), NB_RESOURCE_IOPORT, 0, 1, &h),
                  self_process() == HANDLE_INVALID ? ERR_BAD_HANDLE : ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_resource_info(com1, (struct nb_resource_info *)8), ERR_INVALID_ARGS);
    nb_handle_close(com1);
}

// A thread already running (perhaps on another CPU) when its process gets
// the permission: it reads the scratch register once told to.
static volatile int port_go, port_seen = -1;

__attribute__((noreturn, no_stack_protector)) static void port_thread(uint64_t a1, uint64_t a2)
{
    while (!port_go)
        __asm__ volatile("pause");
    port_seen = nb_inb(COM1_SCR);
    nb_thread_exit();
}

static void ioport_com1_scratch(struct ktest *t)
{
    handle_t io = nb_bootstrap_peek(BOOTSTRAP_ROLE_IOPORT), com1;
    struct raw_thread th;
    bool threaded = false;
    if (io == HANDLE_INVALID)
        KTEST_SKIP("no ioport handle");
    if (self_process() != HANDLE_INVALID) {
        ASSERT_OK(raw_thread_start(&th, port_thread, 0, 0));
        threaded = true;
        nb_nanosleep(nb_deadline_after(20 * 1000 * 1000)); // let it spin
    }
    ASSERT_OK(nb_resource_create(io, NB_RESOURCE_IOPORT, COM1, 8, &com1));
    // Only inside the resource's range, and never empty.
    EXPECT_STATUS(nb_ioport_enable(com1, COM1 + 7, 2), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_ioport_enable(com1, 0x80, 1), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_ioport_enable(com1, COM1, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_ioport_enable(HANDLE_INVALID, COM1, 1), ERR_BAD_HANDLE);
    ASSERT_OK(nb_ioport_enable(com1, COM1_SCR, 1));
    nb_handle_close(com1); // the permission stays with the process
    uint8_t saved = nb_inb(COM1_SCR);
    nb_outb(COM1_SCR, 0xa5);
    EXPECT_EQ(nb_inb(COM1_SCR), 0xa5);
    nb_outb(COM1_SCR, 0x5a);
    EXPECT_EQ(nb_inb(COM1_SCR), 0x5a);
    // Every thread of the process has it (a fault would end utest).
    if (threaded) {
        port_go = 1;
        EXPECT_OK(raw_thread_join(&th));
        EXPECT_EQ(port_seen, 0x5a);
    }
    // Still there after other processes ran on this CPU.
    struct nb_process_info info;
    if (have_initrd)
        EXPECT_OK(run_to_end("/bin/hello", NULL, &info));
    EXPECT_EQ(nb_inb(COM1_SCR), 0x5a);
    nb_outb(COM1_SCR, saved);
}

// A process without the permission faults (run after ioport_com1_scratch:
// utest's own permission must not carry over to its child).
static void crash_ioport_without_permission(struct ktest *t)
{
    static const struct crash_case c[] = {{"ioport", NB_EXIT_FAULT_SEGV}};
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    expect_crashes(t, c, ARRAY_SIZE(c));
}

// Lets COM1 raise its transmitter-empty interrupt and stops it again.
static void com1_thre(bool on)
{
    if (!on)
        (void)nb_inb(COM1_IIR);
    nb_outb(COM1_IER, on ? IER_THRE : 0);
}

static void interrupt_com1(struct ktest *t)
{
    handle_t io = nb_bootstrap_peek(BOOTSTRAP_ROLE_IOPORT);
    handle_t irq = nb_bootstrap_peek(BOOTSTRAP_ROLE_IRQ);
    handle_t com1_io, com1_irq, intr, h, port;
    struct nb_handle_info hi;
    struct nb_port_packet pkt;
    signals_t seen;

    if (io == HANDLE_INVALID || irq == HANDLE_INVALID)
        KTEST_SKIP("no ioport or irq handle");
    ASSERT_OK(nb_resource_create(io, NB_RESOURCE_IOPORT, COM1, 8, &com1_io));
    ASSERT_OK(nb_ioport_enable(com1_io, COM1, 8));
    ASSERT_OK(nb_resource_create(irq, NB_RESOURCE_IRQ, COM1_GSI, 1, &com1_irq));
    EXPECT_STATUS(nb_interrupt_create(com1_irq, COM1_GSI + 1, 0, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_interrupt_create(com1_io, COM1_GSI, 0, &h), ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_interrupt_create(com1_irq, COM1_GSI, 0x10, &h), ERR_INVALID_ARGS);
    ASSERT_OK(nb_interrupt_create(com1_irq, COM1_GSI, NB_INTERRUPT_EDGE, &intr));
    EXPECT_STATUS(nb_interrupt_create(irq, COM1_GSI, 0, &h), ERR_ALREADY_EXISTS);
    ASSERT_OK(nb_handle_info(intr, &hi));
    EXPECT_EQ(hi.type, (uint32_t)OBJ_INTERRUPT);
    EXPECT_EQ(hi.rights,
              RIGHT_WAIT | RIGHT_INSPECT | RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_WRITE);
    // The kernel console gave its input up: the UART interrupts nothing.
    EXPECT_EQ(nb_inb(COM1_IER), 0);
    // Waiting on the object.
    EXPECT_STATUS(nb_object_wait_one(intr, SIGNAL_SIGNALED, NB_DEADLINE_POLL, &seen),
                  ERR_TIMED_OUT);
    com1_thre(true);
    EXPECT_OK(nb_object_wait_one(intr, SIGNAL_SIGNALED, nb_deadline_after(WAIT_LIMIT), &seen));
    com1_thre(false);
    EXPECT_OK(nb_interrupt_ack(intr));
    EXPECT_STATUS(nb_object_wait_one(intr, SIGNAL_SIGNALED, NB_DEADLINE_POLL, &seen),
                  ERR_TIMED_OUT);
    // Through a port.
    ASSERT_OK(nb_port_create(&port));
    ASSERT_OK(nb_object_wait_async(intr, port, 7, SIGNAL_SIGNALED, PORT_BIND_ONCE));
    com1_thre(true);
    EXPECT_OK(nb_port_wait(port, nb_deadline_after(WAIT_LIMIT), &pkt));
    com1_thre(false);
    EXPECT_EQ(pkt.key, 7u);
    EXPECT_EQ(pkt.signal.trigger, SIGNAL_SIGNALED);
    EXPECT_OK(nb_interrupt_ack(intr));
    // Closing gives the line back to the kernel console, receive interrupt on.
    EXPECT_OK(nb_handle_close(intr));
    EXPECT_EQ(nb_inb(COM1_IER), IER_RX);
    ASSERT_OK(nb_interrupt_create(com1_irq, COM1_GSI, NB_INTERRUPT_EDGE, &intr));
    EXPECT_OK(nb_handle_close(intr));
    EXPECT_STATUS(nb_interrupt_ack(intr), ERR_BAD_HANDLE);
    nb_handle_close(port);
    nb_handle_close(com1_irq);
    nb_handle_close(com1_io);
}

// NB_SYS_POWER refuses what is not a power resource, and unknown actions
// (those only with a power handle: initrd/etc/devices.manifest gives one).
static void power_refuses(struct ktest *t)
{
    handle_t io = nb_bootstrap_peek(BOOTSTRAP_ROLE_IOPORT);
    handle_t power = nb_bootstrap_peek(BOOTSTRAP_ROLE_POWER);
    EXPECT_STATUS(nb_power(HANDLE_INVALID, NB_POWER_OFF), ERR_BAD_HANDLE);
    if (io != HANDLE_INVALID)
        EXPECT_STATUS(nb_power(io, NB_POWER_REBOOT), ERR_WRONG_TYPE);
    if (power == HANDLE_INVALID)
        KTEST_SKIP("no power handle");
    EXPECT_STATUS(nb_power(power, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_power(power, 3), ERR_INVALID_ARGS);
}

KTEST_SUITE(utest, KTEST_CASE(handle_duplicate_close_info), KTEST_CASE(handle_wrong_type),
            KTEST_CASE(channel_write_read), KTEST_CASE(channel_between_threads),
            KTEST_CASE(transport_call), KTEST_CASE(port_wait_timer), KTEST_CASE(event_loop),
            KTEST_CASE(watch_rearm_failure), KTEST_CASE(vmo_read_write), KTEST_CASE(vmo_map),
            KTEST_CASE(bad_pointers), KTEST_CASE(user_copy_edges), KTEST_CASE(process_exit_status),
            KTEST_CASE(channel_to_child_process), KTEST_CASE(kill_child_blocked_in_wait),
            KTEST_CASE(crash_memory_faults), KTEST_CASE(crash_other_exceptions));

// A suite of its own, so that `utest devices` runs just these (the
// integration test of the console's input after an interrupt object).
KTEST_SUITE(devices, KTEST_CASE(resource_derive_and_info), KTEST_CASE(ioport_com1_scratch),
            KTEST_CASE(crash_ioport_without_permission), KTEST_CASE(interrupt_com1),
            KTEST_CASE(power_refuses));

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--child=echo"))
        return child_echo();
    if (argc > 1 && !strcmp(argv[1], "--child=block-wait"))
        return child_block(false);
    if (argc > 1 && !strcmp(argv[1], "--child=block-port"))
        return child_block(true);
    if (argc > 0 && argv[0][0])
        self_path = argv[0];
    handle_t rd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    have_initrd = rd != HANDLE_INVALID && nb_initrd_open(&initrd, rd) == OK;
    return ktest_run(argc > 1 ? argv[1] : NULL);
}
