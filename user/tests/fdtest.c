// fdtest: Linux file descriptors over channels from user space
// (docs/USERSPACE.md, "Standard input and output"): pipes, partial reads,
// end of file, EPIPE, O_NONBLOCK, dup, fcntl, readv/writev, ioctl, poll,
// bad pointers, stdout bound to a channel, and child processes whose stdin
// and stdout are channels. KTAP on stdout; exit status = failed cases.
//
// Wants from init (manifest): handles=log?,initrd,vmex. Without "initrd"
// the cases that start processes are skipped.
//
// `fdtest --child=MODE` is the other end of the child cases: `out` prints to
// stdout and stderr, `cat` copies stdin to stdout until end of file, `tty`
// reports what it sees of its terminal.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/ktest.h"
#include "nb/bootstrap.h"
#include "nb/fd.h"
#include "nb/initrd.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"

#define WAIT_MS   10000 // no case waits longer for anything
#define BAD_PTR   ((void *)16)
#define QUEUE_MAX 128 // CHAN_QUEUE_MAX_MSGS

static const char *self_path = "/test/fdtest";

// The raw system call: the result or -errno, without libc in between.
static long sys(long nr, long a, long b, long c)
{
    long r = syscall(nr, a, b, c);
    return r < 0 ? -errno : r;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

// A channel end bound to the lowest free fd (found with dup).
static int bind_lowest(handle_t h, uint32_t flags)
{
    int fd = dup(1);
    if (fd < 0)
        return -1;
    close(fd);
    return nb_fd_bind(h, fd, flags) == OK ? fd : -1;
}

// Reads fd until end of file, at most cap bytes, giving up after WAIT_MS.
static long read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    uint64_t until = now_ms() + WAIT_MS;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        uint64_t now = now_ms();
        if (now >= until || poll(&p, 1, (int)(until - now)) != 1)
            return -ETIMEDOUT;
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0)
            return -errno;
        if (n == 0 || (got += (size_t)n) == cap)
            return (long)got;
    }
}

// ---- Pipes ----

static void pipe_write_read(struct ktest *t)
{
    int p[2];
    char buf[16];
    ASSERT_EQ(pipe(p), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFL), O_RDONLY);
    EXPECT_EQ(fcntl(p[1], F_GETFL), O_WRONLY);
    EXPECT_EQ(write(p[1], "hello world", 11), 11);
    EXPECT_EQ(write(p[1], "again", 5), 5);
    EXPECT_EQ(write(p[1], "", 0), 0); // sends nothing
    EXPECT_EQ(read(p[0], buf, 5), 5); // partial: the rest stays
    EXPECT_EQ(memcmp(buf, "hello", 5), 0);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 6); // the rest, one message at a time
    EXPECT_EQ(memcmp(buf, " world", 6), 0);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 5);
    EXPECT_EQ(memcmp(buf, "again", 5), 0);
    // Read and write only the ends they are for.
    EXPECT_EQ(sys(SYS_read, p[1], (long)buf, 1), -EBADF);
    EXPECT_EQ(sys(SYS_write, p[0], (long)"x", 1), -EBADF);
    // The writer goes: what was queued is read, then end of file for good.
    EXPECT_EQ(write(p[1], "last", 4), 4);
    EXPECT_EQ(close(p[1]), 0);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 4);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 0);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 0);
    EXPECT_EQ(close(p[0]), 0);
    EXPECT_EQ(sys(SYS_close, p[0], 0, 0), -EBADF);
}

static void pipe_epipe(struct ktest *t)
{
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(p[1], F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(close(p[0]), 0);
    EXPECT_EQ(sys(SYS_write, p[1], (long)"x", 1), -EPIPE);
    EXPECT_EQ(close(p[1]), 0);
}

static void pipe_nonblocking(struct ktest *t)
{
    int p[2];
    char buf[4];
    ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFL), O_RDONLY | O_NONBLOCK);
    EXPECT_EQ(sys(SYS_read, p[0], (long)buf, sizeof(buf)), -EAGAIN);
    int sent = 0;
    while (sent < 1000 && write(p[1], "x", 1) == 1)
        sent++;
    EXPECT_EQ(sent, QUEUE_MAX); // the peer's queue is full
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 1);
    EXPECT_EQ(write(p[1], "y", 1), 1); // room again
    // F_SETFL clears it (the other end keeps its own flags).
    EXPECT_EQ(fcntl(p[0], F_SETFL, 0), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFL), O_RDONLY);
    EXPECT_EQ(fcntl(p[1], F_GETFL), O_WRONLY | O_NONBLOCK);
    EXPECT_EQ(fcntl(p[1], F_SETFL, O_WRONLY), 0);
    EXPECT_EQ(fcntl(p[1], F_GETFL), O_WRONLY);
    close(p[0]);
    close(p[1]);
}

// ---- Descriptors ----

static void dup_and_close(struct ktest *t)
{
    int p[2];
    char buf[8];
    ASSERT_EQ(pipe(p), 0);
    int d = dup(p[1]);
    ASSERT_GT(d, p[1]);
    EXPECT_EQ(fcntl(d, F_GETFD), 0);
    EXPECT_EQ(dup2(p[1], 100), 100);
    EXPECT_EQ(dup2(100, 100), 100);
    EXPECT_EQ(sys(SYS_dup2, p[1], 256, 0), -EBADF);
    EXPECT_EQ(sys(SYS_dup2, 200, 201, 0), -EBADF);
    EXPECT_EQ(sys(SYS_dup3, 100, 100, O_CLOEXEC), -EINVAL);
    EXPECT_EQ(sys(SYS_dup3, 100, 101, 1), -EINVAL);
    EXPECT_EQ(dup3(100, 101, O_CLOEXEC), 101);
    EXPECT_EQ(fcntl(101, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(100, F_GETFD), 0);
    EXPECT_EQ(fcntl(p[1], F_DUPFD, 50), 50);
    EXPECT_EQ(fcntl(p[1], F_DUPFD_CLOEXEC, 50), 51);
    EXPECT_EQ(fcntl(51, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(sys(SYS_fcntl, p[1], F_DUPFD, 256), -EINVAL);
    // The copies share one description: one write end, six descriptors.
    EXPECT_EQ(write(101, "dup", 3), 3);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 3);
    EXPECT_EQ(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    EXPECT_EQ(fcntl(51, F_GETFL), O_WRONLY | O_NONBLOCK);
    // Until the last one closes, the reader sees no end of file.
    int fds[] = {p[1], d, 100, 101, 50};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        EXPECT_EQ(close(fds[i]), 0);
    EXPECT_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    EXPECT_EQ(sys(SYS_read, p[0], (long)buf, sizeof(buf)), -EAGAIN);
    EXPECT_EQ(close(51), 0);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 0);
    EXPECT_EQ(close(p[0]), 0);
    // Closed descriptors are free again, lowest first.
    int q[2];
    ASSERT_EQ(pipe(q), 0);
    EXPECT_EQ(q[0], p[0]);
    close(q[0]);
    close(q[1]);
    EXPECT_EQ(sys(SYS_close, 300, 0, 0), -EBADF);
    EXPECT_EQ(sys(SYS_close, -1, 0, 0), -EBADF);
    EXPECT_EQ(sys(SYS_dup, 77, 0, 0), -EBADF);
}

static void fcntl_and_lseek(struct ktest *t)
{
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    EXPECT_EQ(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(p[0], F_SETFD, 0), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFD), 0);
    EXPECT_EQ(sys(SYS_fcntl, p[0], F_GETLK, 0), -EINVAL);
    EXPECT_EQ(sys(SYS_fcntl, 99, F_GETFD, 0), -EBADF);
    EXPECT_EQ(sys(SYS_fcntl, 99, F_GETFL, 0), -EBADF);
    EXPECT_EQ(sys(SYS_lseek, p[0], 0, SEEK_SET), -ESPIPE);
    EXPECT_EQ(sys(SYS_lseek, 99, 0, SEEK_SET), -EBADF);
    close(p[0]);
    close(p[1]);
}

static void readv_writev(struct ktest *t)
{
    int p[2];
    char a[3], b[8], buf[16];
    ASSERT_EQ(pipe(p), 0);
    struct iovec out[3] = {{"one ", 4}, {"", 0}, {"two", 3}};
    EXPECT_EQ(writev(p[1], out, 3), 7);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 7); // one message
    EXPECT_EQ(memcmp(buf, "one two", 7), 0);
    EXPECT_EQ(write(p[1], "abcdefgh", 8), 8);
    struct iovec in[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
    EXPECT_EQ(readv(p[0], in, 2), 8);
    EXPECT_EQ(memcmp(a, "abc", 3), 0);
    EXPECT_EQ(memcmp(b, "defgh", 5), 0);
    EXPECT_EQ(sys(SYS_writev, p[1], (long)out, 1025), -EINVAL);
    close(p[0]);
    close(p[1]);
}

// ---- End-of-file marks: a bound channel ----

static void bound_channel_eof_mark(struct ktest *t)
{
    handle_t a, b;
    char buf[8];
    ASSERT_OK(nb_channel_create(0, &a, &b));
    int fd = bind_lowest(b, 0);
    ASSERT_GE(fd, 3);
    // b moved into the descriptor table: no longer a handle.
    struct nb_handle_info info;
    EXPECT_STATUS(nb_handle_info(b, &info), ERR_BAD_HANDLE);
    const char *msgs[] = {"abc", "", "def"};
    for (int i = 0; i < 3; i++) {
        struct nb_msg_out m = {msgs[i], NULL, (uint32_t)strlen(msgs[i]), 0};
        ASSERT_OK(nb_channel_write(a, &m));
    }
    EXPECT_EQ(read(fd, buf, sizeof(buf)), 3);
    EXPECT_EQ(read(fd, buf, sizeof(buf)), 0); // the mark: 0, once
    EXPECT_EQ(read(fd, buf, sizeof(buf)), 3); // the stream goes on
    EXPECT_EQ(memcmp(buf, "def", 3), 0);
    // A channel with both rights is read-write.
    EXPECT_EQ(fcntl(fd, F_GETFL), O_RDWR);
    EXPECT_EQ(write(fd, "back", 4), 4);
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    EXPECT_OK(nb_channel_read(a, &in));
    EXPECT_EQ(in.nbytes, 4u);
    nb_handle_close(a);
    EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
    EXPECT_EQ(sys(SYS_write, fd, (long)"x", 1), -EPIPE);
    close(fd);
    // Only channels; only descriptors in range; only known flags.
    handle_t ev;
    ASSERT_OK(nb_event_create(&ev));
    EXPECT_STATUS(nb_fd_bind(ev, 40, 0), ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_fd_bind(ev, 256, 0), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_fd_bind(ev, -1, 0), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_fd_bind(ev, 40, 0x80), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_fd_bind(12345, 40, 0), ERR_BAD_HANDLE);
    EXPECT_OK(nb_handle_info(ev, &info)); // still the caller's
    nb_handle_close(ev);
}

// ---- Terminals ----

static void ioctl_terminal(struct ktest *t)
{
    int p[2];
    struct winsize ws;
    struct termios tio;
    ASSERT_EQ(pipe(p), 0);
    EXPECT_FALSE(isatty(p[0]));
    EXPECT_EQ(errno, ENOTTY);
    EXPECT_EQ(sys(SYS_ioctl, p[1], TIOCGWINSZ, (long)&ws), -ENOTTY);
    EXPECT_EQ(sys(SYS_ioctl, p[1], TCGETS, (long)&tio), -ENOTTY);
    EXPECT_EQ(sys(SYS_ioctl, 99, TIOCGWINSZ, (long)&ws), -EBADF);
    close(p[0]);
    close(p[1]);
    // A channel bound as a terminal.
    handle_t a, b;
    ASSERT_OK(nb_channel_create(0, &a, &b));
    int fd = bind_lowest(b, NB_FD_TERMINAL);
    ASSERT_GE(fd, 3);
    EXPECT_TRUE(isatty(fd));
    ASSERT_EQ(ioctl(fd, TIOCGWINSZ, &ws), 0);
    EXPECT_EQ(ws.ws_row, 24);
    EXPECT_EQ(ws.ws_col, 80);
    ws.ws_row = 50;
    ws.ws_col = 132;
    EXPECT_EQ(ioctl(fd, TIOCSWINSZ, &ws), 0);
    memset(&ws, 0, sizeof(ws));
    EXPECT_EQ(ioctl(fd, TIOCGWINSZ, &ws), 0);
    EXPECT_EQ(ws.ws_row, 50);
    EXPECT_EQ(ws.ws_col, 132);
    ASSERT_EQ(tcgetattr(fd, &tio), 0);
    EXPECT_TRUE(tio.c_lflag & ICANON);
    EXPECT_TRUE(tio.c_lflag & ECHO);
    EXPECT_EQ(tio.c_cc[VINTR], 3);
    EXPECT_EQ(sys(SYS_ioctl, fd, TIOCGWINSZ, (long)BAD_PTR), -EFAULT);
    EXPECT_EQ(sys(SYS_ioctl, fd, 0x1234, 0), -ENOTTY);
    close(fd);
    nb_handle_close(a);
    // Unbound stdout (this test has no stdout role): the console, as before.
    EXPECT_TRUE(isatty(1));
}

// ---- Bad pointers: -EFAULT, nothing lost ----

static void bad_pointers(struct ktest *t)
{
    int p[2];
    char buf[8];
    ASSERT_EQ(pipe(p), 0);
    EXPECT_EQ(sys(SYS_write, p[1], (long)BAD_PTR, 4), -EFAULT);
    EXPECT_EQ(write(p[1], "kept", 4), 4);
    EXPECT_EQ(sys(SYS_read, p[0], (long)BAD_PTR, 4), -EFAULT);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 4); // the message stayed
    EXPECT_EQ(memcmp(buf, "kept", 4), 0);
    EXPECT_EQ(sys(SYS_readv, p[0], (long)BAD_PTR, 1), -EFAULT);
    EXPECT_EQ(sys(SYS_writev, p[1], (long)BAD_PTR, 1), -EFAULT);
    struct iovec bad = {BAD_PTR, 4};
    EXPECT_EQ(sys(SYS_writev, p[1], (long)&bad, 1), -EFAULT);
    EXPECT_EQ(sys(SYS_poll, (long)BAD_PTR, 1, 0), -EFAULT);
    EXPECT_EQ(sys(SYS_write, 1, (long)BAD_PTR, 4), -EFAULT); // the console too
    EXPECT_EQ(sys(SYS_pipe2, (long)BAD_PTR, 0, 0), -EFAULT);
    EXPECT_EQ(sys(SYS_pipe2, (long)p, 0x40, 0), -EINVAL); // O_CREAT: not for pipes
    int q[2];
    ASSERT_EQ(pipe(q), 0); // the failed pipe2 left no descriptors behind
    EXPECT_EQ(q[0], p[1] + 1);
    EXPECT_EQ(q[1], p[1] + 2);
    close(q[0]);
    close(q[1]);
    close(p[0]);
    close(p[1]);
}

// ---- poll ----

struct delayed_write {
    int fd;
    int ms;
};

static void *write_later(void *arg)
{
    struct delayed_write *d = arg;
    struct timespec ts = {0, d->ms * 1000000L};
    nanosleep(&ts, NULL);
    if (write(d->fd, "late", 4) != 4)
        return (void *)1;
    return NULL;
}

static void poll_pipes(struct ktest *t)
{
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    struct pollfd f[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {99, POLLIN, 0}};
    EXPECT_EQ(poll(f, 3, 0), 2);
    EXPECT_EQ(f[0].revents, 0);
    EXPECT_EQ(f[1].revents, POLLOUT);
    EXPECT_EQ(f[2].revents, POLLNVAL);
    // A timeout with nothing to read.
    uint64_t t0 = now_ms();
    EXPECT_EQ(poll(f, 1, 50), 0);
    EXPECT_GE(now_ms() - t0, 50u);
    struct timespec ts = {0, 20000000};
    EXPECT_EQ(ppoll(f, 1, &ts, NULL), 0);
    // Blocking until another thread writes.
    struct delayed_write d = {p[1], 50};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, write_later, &d), 0);
    EXPECT_EQ(poll(f, 1, WAIT_MS), 1);
    EXPECT_EQ(f[0].revents, POLLIN);
    void *ret;
    pthread_join(th, &ret);
    EXPECT_NULL(ret);
    // Blocking in read likewise.
    char buf[8];
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 4);
    ASSERT_EQ(pthread_create(&th, NULL, write_later, &d), 0);
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 4);
    pthread_join(th, &ret);
    // The writer goes: POLLHUP.
    close(p[1]);
    EXPECT_EQ(poll(f, 1, WAIT_MS), 1);
    EXPECT_EQ(f[0].revents, POLLHUP);
    close(p[0]);
    // The reader goes: POLLERR on the write end.
    ASSERT_EQ(pipe(p), 0);
    close(p[0]);
    struct pollfd w = {p[1], POLLOUT, 0};
    EXPECT_EQ(poll(&w, 1, 0), 1);
    EXPECT_EQ(w.revents, POLLERR);
    close(p[1]);
}

// ---- Back-pressure between threads ----

static void *write_many(void *arg)
{
    int fd = *(int *)arg;
    for (int i = 0; i < 3 * QUEUE_MAX; i++)
        if (write(fd, "m", 1) != 1)
            return (void *)1;
    return NULL;
}

static void blocking_writer(struct ktest *t)
{
    int p[2];
    char c;
    ASSERT_EQ(pipe(p), 0);
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, write_many, &p[1]), 0);
    int got = 0;
    while (got < 3 * QUEUE_MAX && read(p[0], &c, 1) == 1)
        got++;
    void *ret;
    pthread_join(th, &ret);
    EXPECT_NULL(ret);
    EXPECT_EQ(got, 3 * QUEUE_MAX);
    close(p[0]);
    close(p[1]);
}

// ---- stdout bound to a channel ----

static void stdout_to_channel(struct ktest *t)
{
    handle_t a, b;
    char buf[64];
    ASSERT_OK(nb_channel_create(0, &a, &b));
    fflush(stdout);
    int saved = dup(1);
    ASSERT_GE(saved, 3);
    ASSERT_OK(nb_fd_bind(a, 1, 0));
    int n = printf("to the channel %d\n", 42);
    int fr = fflush(stdout);
    int back = dup2(saved, 1); // before any KTAP line
    close(saved);
    EXPECT_EQ(back, 1);
    EXPECT_EQ(n, 18);
    EXPECT_EQ(fr, 0);
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    ASSERT_OK(nb_channel_read(b, &in));
    EXPECT_EQ(in.nbytes, 18u);
    EXPECT_EQ(memcmp(buf, "to the channel 42\n", 18), 0);
    // dup2 replaced the bound description: its end is closed.
    signals_t seen = 0;
    EXPECT_OK(nb_object_wait_one(b, SIGNAL_PEER_CLOSED, NB_DEADLINE_POLL, &seen));
    nb_handle_close(b);
}

// ---- Child processes ----

static struct nb_initrd initrd;
static bool have_initrd;

static status_t spawn(const char *mode, const uint32_t *roles, const handle_t *hs, uint32_t n,
                      handle_t *proc)
{
    char arg[32];
    snprintf(arg, sizeof(arg), "--child=%s", mode);
    const char *argv[] = {self_path, arg, NULL};
    struct nb_spawn sp = {
        .name = "fdtest-child", .argv = argv, .roles = roles, .handles = hs, .nhandles = n};
    status_t s = nb_initrd_find(&initrd, self_path, &sp.elf, &sp.elf_size);
    if (s != OK) {
        for (uint32_t i = 0; i < n; i++)
            nb_handle_close(hs[i]);
        return s;
    }
    return nb_spawn(&sp, proc);
}

static void expect_exit(struct ktest *t, handle_t proc, int64_t code)
{
    struct nb_process_info info;
    status_t s = nb_process_wait(proc, nb_deadline_after(WAIT_MS * NB_NSEC_PER_MSEC), &info);
    EXPECT_OK(s);
    if (s == OK) {
        EXPECT_EQ(info.flags, 0u);
        EXPECT_EQ(info.exit_code, code);
    } else {
        nb_task_kill(proc);
    }
    nb_handle_close(proc);
}

static void child_stdout_stderr(struct ktest *t)
{
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    handle_t out_r, out_w, err_r, err_w, proc;
    char buf[256];
    ASSERT_OK(nb_channel_create(0, &out_r, &out_w));
    ASSERT_OK(nb_channel_create(0, &err_r, &err_w));
    uint32_t roles[] = {BOOTSTRAP_ROLE_STDOUT, BOOTSTRAP_ROLE_STDERR};
    handle_t hs[] = {out_w, err_w};
    ASSERT_OK(spawn("out", roles, hs, 2, &proc));
    int ofd = bind_lowest(out_r, 0), efd = bind_lowest(err_r, 0);
    ASSERT_GE(ofd, 3);
    ASSERT_GE(efd, 3);
    long n = read_all(ofd, buf, sizeof(buf) - 1);
    ASSERT_GE(n, 0);
    buf[n] = 0;
    EXPECT_STREQ(buf, "out: line 1\nout: line 2 of 2\n");
    n = read_all(efd, buf, sizeof(buf) - 1);
    ASSERT_GE(n, 0);
    buf[n] = 0;
    EXPECT_STREQ(buf, "err: to stderr\n");
    expect_exit(t, proc, 0);
    close(ofd);
    close(efd);
}

static void child_stdout_stderr_one_channel(struct ktest *t)
{
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    handle_t r, w, w2, proc;
    char buf[256];
    ASSERT_OK(nb_channel_create(0, &r, &w));
    ASSERT_OK(nb_handle_duplicate(w, RIGHT_SAME_RIGHTS, &w2));
    uint32_t roles[] = {BOOTSTRAP_ROLE_STDOUT, BOOTSTRAP_ROLE_STDERR};
    handle_t hs[] = {w, w2};
    ASSERT_OK(spawn("out", roles, hs, 2, &proc));
    int fd = bind_lowest(r, 0);
    ASSERT_GE(fd, 3);
    long n = read_all(fd, buf, sizeof(buf) - 1);
    ASSERT_GE(n, 0);
    buf[n] = 0;
    // stderr is unbuffered. musl flushes stdout's first line (line-buffered
    // until its first write finds no terminal: TIOCGWINSZ fails), then keeps
    // the rest until exit.
    EXPECT_STREQ(buf, "out: line 1\nerr: to stderr\nout: line 2 of 2\n");
    expect_exit(t, proc, 0);
    close(fd);
}

static void child_stdin_until_eof(struct ktest *t)
{
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    handle_t in_r, in_w, out_r, out_w, proc;
    char buf[256];
    ASSERT_OK(nb_channel_create(0, &in_r, &in_w));
    ASSERT_OK(nb_channel_create(0, &out_r, &out_w));
    uint32_t roles[] = {BOOTSTRAP_ROLE_STDIN, BOOTSTRAP_ROLE_STDOUT};
    handle_t hs[] = {in_r, out_w};
    ASSERT_OK(spawn("cat", roles, hs, 2, &proc));
    int ifd = bind_lowest(in_w, 0), ofd = bind_lowest(out_r, 0);
    ASSERT_GE(ifd, 3);
    ASSERT_GE(ofd, 3);
    EXPECT_EQ(write(ifd, "first line\n", 11), 11);
    EXPECT_EQ(write(ifd, "second ", 7), 7);
    EXPECT_EQ(write(ifd, "line\n", 5), 5);
    close(ifd); // end of file for the child
    long n = read_all(ofd, buf, sizeof(buf) - 1);
    ASSERT_GE(n, 0);
    buf[n] = 0;
    EXPECT_STREQ(buf, "first line\nsecond line\n[23 bytes]\n");
    expect_exit(t, proc, 0);
    close(ofd);
}

static void child_blocked_in_read_is_killed(struct ktest *t)
{
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    handle_t in_r, in_w, proc;
    struct nb_process_info info;
    ASSERT_OK(nb_channel_create(0, &in_r, &in_w));
    uint32_t role = BOOTSTRAP_ROLE_STDIN;
    ASSERT_OK(spawn("cat", &role, &in_r, 1, &proc));
    // Wait until it reads (it has nothing to read), then kill it.
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    EXPECT_STATUS(nb_process_wait(proc, NB_DEADLINE_POLL, &info), ERR_TIMED_OUT);
    EXPECT_OK(nb_task_kill(proc));
    EXPECT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_MS * NB_NSEC_PER_MSEC), &info));
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_DEAD);
    EXPECT_EQ(info.flags, (uint32_t)NB_PROCESS_KILLED);
    // Its end of the stream is gone with it.
    signals_t seen = 0;
    EXPECT_OK(nb_object_wait_one(in_w, SIGNAL_PEER_CLOSED, NB_DEADLINE_POLL, &seen));
    nb_handle_close(proc);
    nb_handle_close(in_w);
}

static void child_terminal(struct ktest *t)
{
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    char buf[128];
    for (int tty = 0; tty < 2; tty++) {
        handle_t out_r, out_w, c0, c1, proc;
        ASSERT_OK(nb_channel_create(0, &out_r, &out_w));
        ASSERT_OK(nb_channel_create(0, &c0, &c1)); // stands for the console's control channel
        uint32_t roles[] = {BOOTSTRAP_ROLE_STDOUT, BOOTSTRAP_ROLE_TTY};
        handle_t hs[] = {out_w, c1};
        ASSERT_OK(spawn("tty", roles, hs, tty ? 2 : 1, &proc));
        if (!tty)
            nb_handle_close(c1);
        int fd = bind_lowest(out_r, 0);
        ASSERT_GE(fd, 3);
        long n = read_all(fd, buf, sizeof(buf) - 1);
        ASSERT_GE(n, 0);
        buf[n] = 0;
        // Unbound stdin and stderr stay the console (a terminal as before).
        EXPECT_STREQ(buf, tty ? "stdout tty 24x80, stdin tty, stderr tty\n"
                              : "stdout not a tty, stdin tty, stderr tty\n");
        expect_exit(t, proc, 0);
        close(fd);
        nb_handle_close(c0);
    }
}

// ---- The child modes ----

static int child_out(void)
{
    printf("out: line 1\n");
    fprintf(stderr, "err: to stderr\n");
    printf("out: line %d of %d\n", 2, 2);
    return 0; // exit flushes stdout
}

static int child_cat(void)
{
    char buf[64];
    size_t total = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof(buf))) > 0) {
        if (write(1, buf, (size_t)n) != n)
            return 2;
        total += (size_t)n;
    }
    if (n < 0)
        return 3;
    printf("[%zu bytes]\n", total);
    return 0;
}

static int child_tty(void)
{
    struct winsize ws;
    if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0)
        printf("stdout tty %dx%d", ws.ws_row, ws.ws_col);
    else
        printf("stdout not a tty");
    printf(", stdin %s, stderr %s\n", isatty(0) ? "tty" : "not a tty",
           isatty(2) ? "tty" : "not a tty");
    return 0;
}

KTEST_SUITE(fd_pipes, KTEST_CASE(pipe_write_read), KTEST_CASE(pipe_epipe),
            KTEST_CASE(pipe_nonblocking), KTEST_CASE(readv_writev), KTEST_CASE(bad_pointers),
            KTEST_CASE(poll_pipes), KTEST_CASE(blocking_writer));
KTEST_SUITE(fd_table, KTEST_CASE(dup_and_close), KTEST_CASE(fcntl_and_lseek),
            KTEST_CASE(bound_channel_eof_mark), KTEST_CASE(ioctl_terminal),
            KTEST_CASE(stdout_to_channel));
KTEST_SUITE(fd_children, KTEST_CASE(child_stdout_stderr),
            KTEST_CASE(child_stdout_stderr_one_channel), KTEST_CASE(child_stdin_until_eof),
            KTEST_CASE(child_blocked_in_read_is_killed), KTEST_CASE(child_terminal));

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--child=out"))
        return child_out();
    if (argc > 1 && !strcmp(argv[1], "--child=cat"))
        return child_cat();
    if (argc > 1 && !strcmp(argv[1], "--child=tty"))
        return child_tty();
    if (argc > 0 && argv[0][0])
        self_path = argv[0];
    handle_t rd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    have_initrd = rd != HANDLE_INVALID && nb_initrd_open(&initrd, rd) == OK;
    return ktest_run(argc > 1 ? argv[1] : NULL);
}
