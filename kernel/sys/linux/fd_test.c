// nimbus:host
// Tests of Linux file descriptors (sys/fd.h): the descriptor table (dup,
// close, flags, limits), and byte streams over channels: partial reads,
// end-of-file marks and peer closure, EPIPE, O_NONBLOCK, back-pressure,
// blocking between threads, bad buffers, revocation, poll events.
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/channel.h"
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/revoke.h"
#include "obj/signal.h"
#include "sched/thread.h"
#include "sys/fd.h"
#include "sys/linux.h"

static struct handle_table tab;
static struct fd_table *ft;

// "User memory" for the tests: plain memory, but addresses below 4096 fault.
static status_t mem_to(uintptr_t dst, const void *src, size_t n)
{
    if (dst < 4096)
        return ERR_INVALID_ARGS;
    memcpy((void *)dst, src, n);
    return OK;
}

static status_t mem_from(void *dst, uintptr_t src, size_t n)
{
    if (src < 4096)
        return ERR_INVALID_ARGS;
    memcpy(dst, (const void *)src, n);
    return OK;
}

static const struct fd_mem mem = {mem_to, mem_from};

static int64_t rd(struct fd_file *f, void *buf, size_t n)
{
    struct fd_iov v = {(uintptr_t)buf, n};
    return fd_readv(f, &v, 1, &mem);
}

static int64_t wr(struct fd_file *f, const void *buf, size_t n)
{
    struct fd_iov v = {(uintptr_t)buf, n};
    return fd_writev(f, &v, 1, &mem);
}

// Takes h out of tab (as NB_SYS_FD_BIND does) into a new description.
static struct fd_file *file_of(handle_t h, rights_t rights, bool terminal)
{
    handle_table_lock(&tab);
    struct handle *hp = handle_detach_locked(&tab, h);
    handle_table_unlock(&tab);
    struct fd_file *f = NULL;
    if (hp && fd_file_channel(hp, rights, terminal, &f) != 0)
        handle_free(hp, ERR_CANCELED);
    return f;
}

// A pipe: the read end on *r, the write end on *w; *rn and *wn are extra
// handles to the two endpoints left in tab (to watch them).
static bool make_pipe(struct fd_file **r, struct fd_file **w, handle_t *rn, handle_t *wn)
{
    handle_t a, b;
    if (chan_create(&tab, &a, &b) != OK)
        return false;
    if (handle_duplicate(&tab, a, RIGHT_SAME_RIGHTS, rn) != OK ||
        handle_duplicate(&tab, b, RIGHT_SAME_RIGHTS, wn) != OK)
        return false;
    *r = file_of(a, RIGHT_READ, false);
    *w = file_of(b, RIGHT_WRITE, false);
    return *r && *w;
}

// In the kernel, threads of earlier suites (processes just killed on other
// CPUs, whose vCPUs the host may not run for a while) can still be reaped
// while a case runs. Once, before the first baseline: wait until the heap,
// the free pages and the thread count have held still for 200 ms (at most
// 5 s), so that the leak checks compare like with like.
static void settle(void)
{
#ifndef HOST_TEST
    static bool settled;
    struct obj_baseline prev, now;
    unsigned threads = sched_thread_count();
    int still = 0;
    if (settled)
        return;
    settled = true;
    objtest_snapshot(&prev);
    for (int i = 0; i < 2500 && still < 100; i++) {
        objtest_sleep_ms(2);
        objtest_snapshot(&now);
        bool same = now.heap_objs == prev.heap_objs && now.free_pages == prev.free_pages &&
                    sched_thread_count() == threads;
        still = same ? still + 1 : 0;
        prev = now;
        threads = sched_thread_count();
    }
#endif
}

static bool begin(struct ktest *t, struct obj_baseline *b)
{
    settle();
    objtest_begin(b);
    ft = kmalloc(sizeof(*ft));
    if (!ft || handle_table_init(&tab, 64) != OK)
        return false;
    fd_table_init(ft);
    return true;
}

static void end(struct ktest *t, struct obj_baseline *b)
{
    fd_table_destroy(ft);
    kfree(ft);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, b);
}

// ---- The table ----

static void fd_table_dup_close(struct ktest *t)
{
    struct obj_baseline b;
    struct fd_file *r, *w;
    handle_t rn, wn;
    signals_t seen;
    ASSERT_TRUE(begin(t, &b));
    ASSERT_TRUE(make_pipe(&r, &w, &rn, &wn));
    EXPECT_EQ(fd_install(ft, r, -1, 0, false), 0); // lowest free
    EXPECT_EQ(fd_install(ft, w, -1, 0, true), 1);
    fd_file_put(r);
    fd_file_put(w);
    EXPECT_EQ(fd_count(ft), 2);
    EXPECT_EQ(fd_get_fdflags(ft, 0), 0);
    EXPECT_EQ(fd_get_fdflags(ft, 1), LNX_FD_CLOEXEC);
    EXPECT_EQ(fd_set_fdflags(ft, 1, 0), 0);
    EXPECT_EQ(fd_get_fdflags(ft, 1), 0);
    EXPECT_EQ(fd_get_fdflags(ft, 7), -LNX_EBADF);
    EXPECT_EQ(fd_set_fdflags(ft, 7, 1), -LNX_EBADF);
    // dup: lowest free; dup2 onto an open fd replaces it; same fd: no-op.
    EXPECT_EQ(fd_dup(ft, 1, -1, 0, false), 2);
    EXPECT_EQ(fd_dup(ft, 1, -1, 10, true), 10);
    EXPECT_EQ(fd_get_fdflags(ft, 10), LNX_FD_CLOEXEC);
    EXPECT_EQ(fd_dup(ft, 1, 1, 0, false), 1);
    EXPECT_EQ(fd_dup(ft, 0, 2, 0, false), 2);
    EXPECT_EQ(fd_dup(ft, 5, -1, 0, false), -LNX_EBADF);
    EXPECT_EQ(fd_dup(ft, 1, FD_MAX, 0, false), -LNX_EBADF);
    EXPECT_EQ(fd_dup(ft, 1, -1, FD_MAX, false), -LNX_EINVAL);
    EXPECT_EQ(fd_dup(ft, -1, -1, 0, false), -LNX_EBADF);
    struct fd_file *f = fd_get(ft, 2);
    EXPECT_TRUE(f == fd_get(ft, 0)); // one description
    if (f) {
        fd_file_put(f);
        fd_file_put(f);
    }
    // The write end is at 1 and 10: the reader sees no closure until both go.
    EXPECT_EQ(fd_close(ft, 1), 0);
    EXPECT_EQ(fd_close(ft, 1), -LNX_EBADF);
    EXPECT_EQ(fd_close(ft, FD_MAX), -LNX_EBADF);
    EXPECT_EQ(fd_close(ft, -3), -LNX_EBADF);
    EXPECT_STATUS(obj_wait_one(&tab, rn, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    handle_close(&tab, wn);
    EXPECT_STATUS(obj_wait_one(&tab, rn, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    EXPECT_EQ(fd_close(ft, 10), 0);
    EXPECT_OK(obj_wait_one(&tab, rn, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen));
    EXPECT_EQ(fd_count(ft), 2); // 0 and 2: the read end
    handle_close(&tab, rn);
    end(t, &b);
}

static void fd_table_limits(struct ktest *t)
{
    struct obj_baseline b;
    struct fd_file *c;
    ASSERT_TRUE(begin(t, &b));
    ASSERT_EQ(fd_file_console(FD_CONSOLE_OUT, &c), 0);
    EXPECT_EQ(fd_install(ft, c, FD_MAX - 1, 0, false), FD_MAX - 1);
    EXPECT_EQ(fd_install(ft, c, FD_MAX, 0, false), -LNX_EBADF);
    EXPECT_EQ(fd_install(ft, c, -1, -1, false), -LNX_EINVAL);
    EXPECT_EQ(fd_install(ft, c, -1, FD_MAX - 1, false), -LNX_EMFILE);
    for (int i = 0; i < FD_MAX - 1; i++)
        EXPECT_EQ(fd_install(ft, c, -1, 0, false), i);
    EXPECT_EQ(fd_install(ft, c, -1, 0, false), -LNX_EMFILE);
    EXPECT_EQ(fd_dup(ft, 0, -1, 0, false), -LNX_EMFILE);
    EXPECT_EQ(fd_count(ft), FD_MAX);
    EXPECT_EQ(c->refs, (uint32_t)FD_MAX + 1);
    EXPECT_EQ(fd_get_status(c), LNX_O_WRONLY);
    fd_file_put(c);
    end(t, &b);
}

static void fd_description_flags(struct ktest *t)
{
    struct obj_baseline b;
    struct fd_file *r, *w, *c;
    handle_t rn, wn;
    ASSERT_TRUE(begin(t, &b));
    ASSERT_TRUE(make_pipe(&r, &w, &rn, &wn));
    EXPECT_EQ(fd_get_status(r), LNX_O_RDONLY);
    EXPECT_EQ(fd_get_status(w), LNX_O_WRONLY);
    fd_set_status(r, LNX_O_NONBLOCK | 0x400 /* O_APPEND: ignored */);
    EXPECT_EQ(fd_get_status(r), LNX_O_RDONLY | LNX_O_NONBLOCK);
    fd_set_status(r, 0);
    EXPECT_EQ(fd_get_status(r), LNX_O_RDONLY);
    ASSERT_EQ(fd_file_console(FD_CONSOLE_IN, &c), 0);
    EXPECT_EQ(fd_get_status(c), LNX_O_RDONLY);
    fd_file_put(c);
    // A channel with both rights, bound read-write.
    handle_t x, y;
    ASSERT_OK(chan_create(&tab, &x, &y));
    struct fd_file *rw = file_of(x, RIGHT_READ | RIGHT_WRITE, true);
    ASSERT_NOT_NULL(rw);
    EXPECT_EQ(fd_get_status(rw), LNX_O_RDWR);
    EXPECT_TRUE(rw->terminal);
    EXPECT_EQ(rw->winsize[0], 24);
    EXPECT_EQ(rw->winsize[1], 80);
    // Only channels, only rights the handle has.
    handle_t ev;
    struct fd_file *bad = NULL;
    ASSERT_OK(event_create(&tab, &ev));
    handle_table_lock(&tab);
    struct handle *hp = handle_detach_locked(&tab, ev);
    handle_table_unlock(&tab);
    EXPECT_EQ(fd_file_channel(hp, RIGHT_READ, false, &bad), -LNX_EINVAL);
    handle_free(hp, ERR_CANCELED);
    handle_t y2;
    ASSERT_OK(handle_replace(&tab, y, RIGHT_READ, &y2));
    handle_table_lock(&tab);
    hp = handle_detach_locked(&tab, y2);
    handle_table_unlock(&tab);
    EXPECT_EQ(fd_file_channel(hp, RIGHT_WRITE, false, &bad), -LNX_EINVAL);
    EXPECT_NULL(bad);
    handle_free(hp, ERR_CANCELED);
    fd_file_put(rw);
    fd_file_put(r);
    fd_file_put(w);
    handle_close(&tab, rn);
    handle_close(&tab, wn);
    end(t, &b);
}

// ---- Streams ----

static void fd_stream_partial_reads(struct ktest *t)
{
    struct obj_baseline b;
    struct fd_file *r, *w;
    handle_t rn, wn;
    char buf[16];
    ASSERT_TRUE(begin(t, &b));
    ASSERT_TRUE(make_pipe(&r, &w, &rn, &wn));
    EXPECT_EQ(wr(w, "hello world", 11), 11);
    EXPECT_EQ(wr(w, "next", 4), 4);
    EXPECT_EQ(wr(w, "", 0), 0); // sends nothing
    EXPECT_EQ(rd(r, buf, 0), 0);
    EXPECT_EQ(rd(r, buf, 5), 5);
    EXPECT_EQ(memcmp(buf, "hello", 5), 0);
    EXPECT_EQ(fd_poll_events(r), (unsigned)LNX_POLLIN); // the rest
    EXPECT_EQ(rd(r, buf, 3), 3);
    EXPECT_EQ(memcmp(buf, " wo", 3), 0);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 3); // the rest, not the next message
    EXPECT_EQ(memcmp(buf, "rld", 3), 0);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 4);
    EXPECT_EQ(memcmp(buf, "next", 4), 0);
    // readv: one message over several pieces; writev: one message.
    struct fd_iov out[3] = {{(uintptr_t) "ab", 2}, {(uintptr_t) "", 0}, {(uintptr_t) "cdef", 4}};
    EXPECT_EQ(fd_writev(w, out, 3, &mem), 6);
    char p1[1], p2[3], p3[8];
    struct fd_iov in[3] = {{(uintptr_t)p1, 1}, {(uintptr_t)p2, 3}, {(uintptr_t)p3, 8}};
    EXPECT_EQ(fd_readv(r, in, 3, &mem), 6);
    EXPECT_EQ(p1[0], 'a');
    EXPECT_EQ(memcmp(p2, "bcd", 3), 0);
    EXPECT_EQ(memcmp(p3, "ef", 2), 0);
    // Reads and writes need the right.
    EXPECT_EQ(rd(w, buf, 1), -LNX_EBADF);
    EXPECT_EQ(wr(r, "x", 1), -LNX_EBADF);
    fd_file_put(r);
    fd_file_put(w);
    handle_close(&tab, rn);
    handle_close(&tab, wn);
    end(t, &b);
}

static status_t send_raw(handle_t h, const void *p, uint32_t n)
{
    struct nb_msg_out m = {p, NULL, n, 0};
    return chan_write(&tab, h, &m);
}

static void fd_stream_end_of_file(struct ktest *t)
{
    struct obj_baseline b;
    char buf[8];
    handle_t a, c, ev;
    ASSERT_TRUE(begin(t, &b));
    ASSERT_OK(chan_create(&tab, &a, &c));
    struct fd_file *r = file_of(c, RIGHT_READ, false);
    ASSERT_NOT_NULL(r);
    fd_set_status(r, LNX_O_NONBLOCK);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), -LNX_EAGAIN);
    EXPECT_EQ(fd_poll_events(r), 0u);
    ASSERT_OK(send_raw(a, "abc", 3));
    ASSERT_OK(send_raw(a, "", 0)); // an end-of-file mark
    ASSERT_OK(send_raw(a, "def", 3));
    // A message with a handle: the bytes arrive, the handle is closed.
    ASSERT_OK(event_create(&tab, &ev));
    struct nb_msg_out m = {"gh", &ev, 2, 1};
    ASSERT_OK(chan_write(&tab, a, &m));
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 3);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 0);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 3); // the stream goes on
    EXPECT_EQ(memcmp(buf, "def", 3), 0);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 2);
    EXPECT_EQ(memcmp(buf, "gh", 2), 0);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), -LNX_EAGAIN);
    ASSERT_OK(send_raw(a, "last", 4));
    handle_close(&tab, a);
    EXPECT_EQ(fd_poll_events(r), (unsigned)(LNX_POLLIN | LNX_POLLHUP));
    EXPECT_EQ(rd(r, buf, 2), 2); // what was queued is still read
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 2);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 0); // end of file, for good
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 0);
    EXPECT_EQ(fd_poll_events(r), (unsigned)LNX_POLLHUP);
    fd_file_put(r);
    end(t, &b);
}

static void fd_stream_epipe_and_full(struct ktest *t)
{
    struct obj_baseline b;
    struct fd_file *r, *w;
    handle_t rn, wn;
    char buf[4];
    ASSERT_TRUE(begin(t, &b));
    ASSERT_TRUE(make_pipe(&r, &w, &rn, &wn));
    fd_set_status(w, LNX_O_NONBLOCK);
    EXPECT_EQ(fd_poll_events(w), (unsigned)LNX_POLLOUT);
    uint32_t sent = 0;
    while (wr(w, "x", 1) == 1 && sent < 1000)
        sent++;
    EXPECT_EQ(sent, CHAN_QUEUE_MAX_MSGS);
    EXPECT_EQ(wr(w, "x", 1), -LNX_EAGAIN);
    EXPECT_EQ(fd_poll_events(w), 0u);
    EXPECT_EQ(rd(r, buf, 1), 1);
    EXPECT_EQ(fd_poll_events(w), (unsigned)LNX_POLLOUT);
    EXPECT_EQ(wr(w, "y", 1), 1);
    // The reader goes (its description and the extra handle): EPIPE.
    fd_file_put(r);
    handle_close(&tab, rn);
    EXPECT_EQ(wr(w, "z", 1), -LNX_EPIPE);
    EXPECT_EQ(fd_poll_events(w), (unsigned)LNX_POLLERR);
    fd_set_status(w, 0);
    EXPECT_EQ(wr(w, "z", 1), -LNX_EPIPE); // blocking or not
    fd_file_put(w);
    handle_close(&tab, wn);
    end(t, &b);
}

static void fd_stream_big_writes(struct ktest *t)
{
    struct obj_baseline b;
    struct fd_file *r, *w;
    handle_t rn, wn;
    size_t n = CHAN_MAX_MSG_BYTES * 2 + 100;
    ASSERT_TRUE(begin(t, &b));
    unsigned char *src = kmalloc(n), *dst = kmalloc(n);
    ASSERT_TRUE(src && dst);
    for (size_t i = 0; i < n; i++)
        src[i] = (unsigned char)(i * 7 + 3);
    ASSERT_TRUE(make_pipe(&r, &w, &rn, &wn));
    EXPECT_EQ(wr(w, src, n), (int64_t)n); // three messages
    EXPECT_EQ(rd(r, dst, n), (int64_t)CHAN_MAX_MSG_BYTES);
    EXPECT_EQ(rd(r, dst + CHAN_MAX_MSG_BYTES, n), (int64_t)CHAN_MAX_MSG_BYTES);
    EXPECT_EQ(rd(r, dst + 2 * CHAN_MAX_MSG_BYTES, n), 100);
    EXPECT_EQ(memcmp(src, dst, n), 0);
    fd_file_put(r);
    fd_file_put(w);
    handle_close(&tab, rn);
    handle_close(&tab, wn);
    kfree(src);
    kfree(dst);
    end(t, &b);
}

static void fd_stream_bad_buffers(struct ktest *t)
{
    struct obj_baseline b;
    struct fd_file *r, *w;
    handle_t rn, wn;
    char buf[8];
    ASSERT_TRUE(begin(t, &b));
    ASSERT_TRUE(make_pipe(&r, &w, &rn, &wn));
    EXPECT_EQ(wr(w, (const void *)16, 4), -LNX_EFAULT); // nothing sent
    fd_set_status(r, LNX_O_NONBLOCK);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), -LNX_EAGAIN);
    EXPECT_EQ(wr(w, "data", 4), 4);
    EXPECT_EQ(rd(r, (void *)16, 4), -LNX_EFAULT); // the message stays
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 4);
    EXPECT_EQ(memcmp(buf, "data", 4), 0);
    // A bad second piece: what the first took is sent / kept.
    struct fd_iov out[2] = {{(uintptr_t) "ok", 2}, {16, 4}};
    EXPECT_EQ(fd_writev(w, out, 2, &mem), -LNX_EFAULT); // one message: not sent
    EXPECT_EQ(rd(r, buf, sizeof(buf)), -LNX_EAGAIN);
    EXPECT_EQ(wr(w, "abcd", 4), 4);
    struct fd_iov in[2] = {{(uintptr_t)buf, 2}, {16, 4}};
    EXPECT_EQ(fd_readv(r, in, 2, &mem), 2);
    EXPECT_EQ(rd(r, buf, sizeof(buf)), 2);
    EXPECT_EQ(memcmp(buf, "cd", 2), 0);
    struct fd_iov huge[2] = {{(uintptr_t)buf, UINT64_MAX / 2 + 1},
                             {(uintptr_t)buf, UINT64_MAX / 2}};
    EXPECT_EQ(fd_readv(r, huge, 2, &mem), -LNX_EINVAL);
    fd_file_put(r);
    fd_file_put(w);
    handle_close(&tab, rn);
    handle_close(&tab, wn);
    end(t, &b);
}

static void fd_stream_revoked(struct ktest *t)
{
    struct obj_baseline b;
    handle_t a, c, wrapped, revoker;
    char buf[4];
    ASSERT_TRUE(begin(t, &b));
    ASSERT_OK(chan_create(&tab, &a, &c));
    ASSERT_OK(handle_revocable_create(&tab, c, RIGHT_SAME_RIGHTS, &wrapped, &revoker));
    handle_close(&tab, c);
    struct fd_file *r = file_of(wrapped, RIGHT_READ | RIGHT_WRITE, false);
    ASSERT_NOT_NULL(r);
    ASSERT_OK(send_raw(a, "ab", 2));
    EXPECT_EQ(rd(r, buf, 1), 1);
    ASSERT_OK(handle_revoke(&tab, revoker));
    EXPECT_EQ(rd(r, buf, 1), 1); // the rest already taken
    EXPECT_EQ(rd(r, buf, 1), -LNX_EIO);
    EXPECT_EQ(wr(r, "x", 1), -LNX_EIO);
    EXPECT_EQ(fd_poll_events(r), (unsigned)LNX_POLLERR);
    fd_file_put(r);
    handle_close(&tab, revoker);
    handle_close(&tab, a);
    end(t, &b);
}

// ---- Blocking between threads ----

struct blocker {
    struct fd_file *f;
    char buf[8];
    int64_t result;
    volatile int done;
};

static void reader_thread(void *arg)
{
    struct blocker *bl = arg;
    bl->result = rd(bl->f, bl->buf, sizeof(bl->buf));
    __atomic_store_n(&bl->done, 1, __ATOMIC_RELEASE);
}

static void writer_thread(void *arg)
{
    struct blocker *bl = arg;
    int64_t total = 0;
    for (int i = 0; i < 200; i++) {
        int64_t r = wr(bl->f, "w", 1);
        if (r != 1) {
            total = r;
            break;
        }
        total++;
    }
    bl->result = total;
    __atomic_store_n(&bl->done, 1, __ATOMIC_RELEASE);
}

static void fd_stream_blocking(struct ktest *t)
{
    struct obj_baseline b;
    struct fd_file *r, *w;
    handle_t rn, wn;
    struct objtest_thread th;
    char buf[8];
    ASSERT_TRUE(begin(t, &b));
    ASSERT_TRUE(make_pipe(&r, &w, &rn, &wn));
    // A reader blocks until a write comes.
    struct blocker rb = {.f = r};
    objtest_spawn(&th, reader_thread, &rb);
    EXPECT_TRUE(objtest_wait_blocked(&tab, rn, 1));
    EXPECT_EQ(rb.done, 0);
    EXPECT_EQ(wr(w, "wake", 4), 4);
    objtest_join(&th);
    EXPECT_EQ(rb.result, 4);
    EXPECT_EQ(memcmp(rb.buf, "wake", 4), 0);
    // A writer blocks while the queue is full and goes on as it drains.
    struct blocker wb = {.f = w};
    objtest_spawn(&th, writer_thread, &wb);
    EXPECT_TRUE(objtest_wait_blocked(&tab, wn, 1));
    EXPECT_EQ(wb.done, 0);
    int got = 0;
    while (got < 200 && rd(r, buf, 1) == 1)
        got++;
    objtest_join(&th);
    EXPECT_EQ(got, 200);
    EXPECT_EQ(wb.result, 200);
    // A blocked reader sees the end of the stream when the writer goes.
    struct blocker eb = {.f = r};
    objtest_spawn(&th, reader_thread, &eb);
    EXPECT_TRUE(objtest_wait_blocked(&tab, rn, 1));
    fd_file_put(w);
    handle_close(&tab, wn);
    objtest_join(&th);
    EXPECT_EQ(eb.result, 0);
    fd_file_put(r);
    handle_close(&tab, rn);
    end(t, &b);
}

KTEST_SUITE(linux_fd, KTEST_CASE(fd_table_dup_close), KTEST_CASE(fd_table_limits),
            KTEST_CASE(fd_description_flags), KTEST_CASE(fd_stream_partial_reads),
            KTEST_CASE(fd_stream_end_of_file), KTEST_CASE(fd_stream_epipe_and_full),
            KTEST_CASE(fd_stream_big_writes), KTEST_CASE(fd_stream_bad_buffers),
            KTEST_CASE(fd_stream_revoked), KTEST_CASE(fd_stream_blocking));
