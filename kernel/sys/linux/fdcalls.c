// Linux file descriptor system calls (read, write, readv, writev, close, dup,
// dup2, dup3, pipe, pipe2, fcntl, ioctl, lseek, poll, ppoll) and the native
// NB_SYS_FD_BIND. The table and the streams are in fd.c (sys/fd.h).
//
// A process has no table until it first needs one; until then fds 0, 1 and 2
// are the kernel console (read(0) through the line discipline, writes to 1
// and 2 to the console) and every other fd is -EBADF. A new table starts
// with console descriptions at 0, 1 and 2 (1 and 2 share one), which
// binding, dup2 or close replace.
#include "dev/console.h"
#include "dev/ldisc.h"
#include "lib/klog.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "nimbus/syscall.h"
#include "obj/channel.h"
#include "obj/port.h"
#include "sched/clock.h"
#include "sys/fd.h"
#include "sys/linux.h"
#include "sys/process.h"
#include "sys/usercopy.h"

#define IOV_MAX         1024 // pieces per readv/writev (Linux's UIO_MAXIOV)
#define IOV_ON_STACK    8
#define POLL_MAX        1024 // pollfds per poll
#define F_DUPFD         0
#define F_GETFD         1
#define F_SETFD         2
#define F_GETFL         3
#define F_SETFL         4
#define F_DUPFD_CLOEXEC 1030
#define TCGETS          0x5401
#define TIOCGWINSZ      0x5413
#define TIOCSWINSZ      0x5414

static const struct fd_mem user_mem = {copy_to_user, copy_from_user};

// ---- The table ----

// The caller's table, made on first use; NULL without memory.
static struct fd_table *table_get(void)
{
    struct process *p = process_current();
    struct fd_table *t = __atomic_load_n(&p->fds, __ATOMIC_ACQUIRE);
    if (t)
        return t;
    struct fd_file *in = NULL, *out = NULL;
    t = kmalloc(sizeof(*t));
    if (!t || fd_file_console(FD_CONSOLE_IN, &in) || fd_file_console(FD_CONSOLE_OUT, &out)) {
        if (in)
            fd_file_put(in);
        kfree(t);
        return NULL;
    }
    fd_table_init(t);
    fd_install(t, in, 0, 0, false);
    fd_install(t, out, 1, 0, false);
    fd_install(t, out, 2, 0, false);
    fd_file_put(in);
    fd_file_put(out);
    struct fd_table *expected = NULL;
    if (!__atomic_compare_exchange_n(&p->fds, &expected, t, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        fd_table_destroy(t); // another thread was first
        kfree(t);
        return expected;
    }
    return t;
}

void linux_fd_teardown(struct process *p)
{
    struct fd_table *t = p->fds;
    p->fds = NULL;
    if (t) {
        fd_table_destroy(t);
        kfree(t);
    }
}

// What fd is: its description with a reference (*f, drop with put()), or,
// for a process without a table, the console it implies for 0, 1 and 2 (*f
// NULL). -EBADF if it is not open.
static int lookup(uint64_t fd, struct fd_file **f, enum fd_kind *kind)
{
    struct fd_table *t = __atomic_load_n(&process_current()->fds, __ATOMIC_ACQUIRE);
    *f = NULL;
    if (!t) {
        if (fd > 2)
            return -LNX_EBADF;
        *kind = fd == 0 ? FD_CONSOLE_IN : FD_CONSOLE_OUT;
        return 0;
    }
    *f = fd < FD_MAX ? fd_get(t, (int)fd) : NULL;
    if (!*f)
        return -LNX_EBADF;
    *kind = (*f)->kind;
    return 0;
}

static void put(struct fd_file *f)
{
    if (f)
        fd_file_put(f);
}

// ---- The console stand-ins ----

static int64_t console_writev(const struct fd_iov *iov, uint32_t n)
{
    char tmp[256];
    int64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        for (uint64_t done = 0; done < iov[i].len;) {
            size_t len = (size_t)MIN(iov[i].len - done, sizeof(tmp));
            if (copy_from_user(tmp, iov[i].base + done, len) != OK)
                return total ? total : -LNX_EFAULT;
            console_write(tmp, len);
            done += len;
            total += (int64_t)len;
        }
    }
    return total;
}

// A line typed on the serial console (canonical mode, dev/console.c), at
// most as much as asked; 0 at an end of input (Ctrl-D).
static int64_t console_readv(const struct fd_iov *iov, uint32_t n)
{
    char tmp[LDISC_LINE_MAX];
    uint64_t want = 0;
    for (uint32_t i = 0; i < n; i++)
        want += MIN(iov[i].len, sizeof(tmp));
    if (want == 0)
        return 0;
    size_t got;
    status_t st = console_read(tmp, (size_t)MIN(want, sizeof(tmp)), &got);
    if (st != OK)
        return -(int64_t)linux_errno(st);
    size_t done = 0;
    for (uint32_t i = 0; i < n && done < got; i++) {
        size_t len = (size_t)MIN(iov[i].len, got - done);
        if (len && copy_to_user(iov[i].base, tmp + done, len) != OK)
            return done ? (int64_t)done : -LNX_EFAULT;
        done += len;
    }
    return (int64_t)done;
}

// ---- read, write, readv, writev ----

static int64_t do_readv(uint64_t fd, const struct fd_iov *iov, uint32_t n)
{
    struct fd_file *f;
    enum fd_kind kind;
    int64_t r = lookup(fd, &f, &kind);
    if (r)
        return r;
    if (kind == FD_CONSOLE_IN)
        r = console_readv(iov, n);
    else if (kind == FD_CONSOLE_OUT)
        r = -LNX_EBADF;
    else
        r = fd_readv(f, iov, n, &user_mem);
    put(f);
    return r;
}

static int64_t do_writev(uint64_t fd, const struct fd_iov *iov, uint32_t n)
{
    struct fd_file *f;
    enum fd_kind kind;
    int64_t r = lookup(fd, &f, &kind);
    if (r)
        return r;
    if (kind == FD_CONSOLE_OUT)
        r = console_writev(iov, n);
    else if (kind == FD_CONSOLE_IN)
        r = -LNX_EBADF;
    else
        r = fd_writev(f, iov, n, &user_mem);
    put(f);
    return r;
}

int64_t linux_read(const uint64_t a[6])
{
    struct fd_iov v = {a[1], a[2]};
    return do_readv(a[0], &v, 1);
}

int64_t linux_write(const uint64_t a[6])
{
    struct fd_iov v = {a[1], a[2]};
    return do_writev(a[0], &v, 1);
}

// readv and writev: the iovec array copied in (struct iovec is two u64s).
static int64_t vector_io(const uint64_t a[6], bool write)
{
    if (a[2] > IOV_MAX)
        return -LNX_EINVAL;
    uint32_t n = (uint32_t)a[2];
    struct fd_iov stack[IOV_ON_STACK];
    struct fd_iov *iov = n <= IOV_ON_STACK ? stack : kmalloc(n * sizeof(*iov));
    if (!iov)
        return -LNX_ENOMEM;
    int64_t r;
    if (copy_from_user(iov, a[1], n * sizeof(*iov)) != OK)
        r = -LNX_EFAULT;
    else
        r = write ? do_writev(a[0], iov, n) : do_readv(a[0], iov, n);
    if (iov != stack)
        kfree(iov);
    return r;
}

int64_t linux_readv(const uint64_t a[6])
{
    return vector_io(a, false);
}

int64_t linux_writev(const uint64_t a[6])
{
    return vector_io(a, true);
}

// ---- close, dup, dup2, dup3, fcntl, lseek ----

int64_t linux_close(const uint64_t a[6])
{
    struct fd_table *t = __atomic_load_n(&process_current()->fds, __ATOMIC_ACQUIRE);
    if (!t && a[0] > 2)
        return -LNX_EBADF;
    if (!t && !(t = table_get()))
        return -LNX_ENOMEM;
    return a[0] < FD_MAX ? fd_close(t, (int)a[0]) : -LNX_EBADF;
}

static int64_t dup_to(uint64_t oldfd, uint64_t newfd, int min, bool cloexec)
{
    struct fd_table *t = table_get();
    if (!t)
        return -LNX_ENOMEM;
    if (oldfd >= FD_MAX || (newfd != (uint64_t)-1 && newfd >= FD_MAX))
        return -LNX_EBADF;
    return fd_dup(t, (int)oldfd, newfd == (uint64_t)-1 ? -1 : (int)newfd, min, cloexec);
}

int64_t linux_dup(const uint64_t a[6])
{
    return dup_to(a[0], (uint64_t)-1, 0, false);
}

int64_t linux_dup2(const uint64_t a[6])
{
    if ((uint32_t)a[1] >= FD_MAX)
        return -LNX_EBADF;
    return dup_to(a[0], (uint32_t)a[1], 0, false);
}

int64_t linux_dup3(const uint64_t a[6])
{
    if (a[2] & ~(uint64_t)LNX_O_CLOEXEC || (uint32_t)a[0] == (uint32_t)a[1])
        return -LNX_EINVAL;
    if ((uint32_t)a[1] >= FD_MAX)
        return -LNX_EBADF;
    return dup_to(a[0], (uint32_t)a[1], 0, a[2] & LNX_O_CLOEXEC);
}

int64_t linux_fcntl(const uint64_t a[6])
{
    struct fd_table *t = table_get();
    if (!t)
        return -LNX_ENOMEM;
    if (a[0] >= FD_MAX)
        return -LNX_EBADF;
    int fd = (int)a[0];
    switch ((uint32_t)a[1]) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        if (a[2] >= FD_MAX) // (also a negative int)
            return fd_get_fdflags(t, fd) < 0 ? -LNX_EBADF : -LNX_EINVAL;
        return fd_dup(t, fd, -1, (int)a[2], (uint32_t)a[1] == F_DUPFD_CLOEXEC);
    case F_GETFD:
        return fd_get_fdflags(t, fd);
    case F_SETFD:
        return fd_set_fdflags(t, fd, (int)a[2]);
    case F_GETFL:
    case F_SETFL: {
        struct fd_file *f = fd_get(t, fd);
        if (!f)
            return -LNX_EBADF;
        int r = 0;
        if ((uint32_t)a[1] == F_GETFL)
            r = fd_get_status(f);
        else
            fd_set_status(f, (int)a[2]);
        fd_file_put(f);
        return r;
    }
    default:
        return fd_get_fdflags(t, fd) < 0 ? -LNX_EBADF : -LNX_EINVAL;
    }
}

int64_t linux_lseek(const uint64_t a[6])
{
    struct fd_file *f;
    enum fd_kind kind;
    int r = lookup(a[0], &f, &kind);
    put(f);
    return r ? r : -LNX_ESPIPE; // streams and terminals only
}

// ---- pipe, pipe2 ----

// The two ends of a new channel as handles in no table.
static status_t channel_pair(struct handle **h0, struct handle **h1)
{
    struct handle_table tmp;
    handle_t v0, v1;
    status_t st = handle_table_init(&tmp, 2);
    if (st != OK)
        return st;
    st = chan_create(&tmp, &v0, &v1);
    if (st == OK) {
        handle_table_lock(&tmp);
        *h0 = handle_detach_locked(&tmp, v0);
        *h1 = handle_detach_locked(&tmp, v1);
        handle_table_unlock(&tmp);
    }
    handle_table_destroy(&tmp);
    return st;
}

static int64_t make_pipe(uintptr_t ufds, uint64_t flags)
{
    if (flags & ~(uint64_t)(LNX_O_CLOEXEC | LNX_O_NONBLOCK))
        return -LNX_EINVAL;
    struct fd_table *t = table_get();
    struct handle *h0, *h1;
    struct fd_file *rd = NULL, *wr = NULL;
    if (!t || channel_pair(&h0, &h1) != OK)
        return -LNX_ENOMEM;
    if (fd_file_channel(h0, RIGHT_READ, false, &rd) != 0)
        handle_free(h0, ERR_CANCELED);
    if (fd_file_channel(h1, RIGHT_WRITE, false, &wr) != 0)
        handle_free(h1, ERR_CANCELED);
    int fds[2] = {-LNX_ENOMEM, -LNX_ENOMEM};
    if (rd && wr) {
        fd_set_status(rd, (int)flags);
        fd_set_status(wr, (int)flags);
        fds[0] = fd_install(t, rd, -1, 0, flags & LNX_O_CLOEXEC);
        if (fds[0] >= 0)
            fds[1] = fd_install(t, wr, -1, 0, flags & LNX_O_CLOEXEC);
    }
    put(rd);
    put(wr);
    int64_t r = fds[0] < 0 ? fds[0] : fds[1] < 0 ? fds[1] : 0;
    if (r == 0 && copy_to_user(ufds, fds, sizeof(fds)) != OK)
        r = -LNX_EFAULT;
    if (r != 0) {
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                fd_close(t, fds[i]);
    }
    return r;
}

int64_t linux_pipe(const uint64_t a[6])
{
    return make_pipe(a[0], 0);
}

int64_t linux_pipe2(const uint64_t a[6])
{
    return make_pipe(a[0], a[1]);
}

// ---- ioctl ----

// The kernel's struct termios (TCGETS): a terminal in canonical mode with
// echo, as the console's line discipline behaves by default.
struct lnx_termios {
    uint32_t iflag, oflag, cflag, lflag;
    uint8_t line, cc[19];
};

static const struct lnx_termios default_termios = {
    .iflag = 0000400 | 0002000,                    // ICRNL, IXON
    .oflag = 0000001 | 0000004,                    // OPOST, ONLCR
    .cflag = 0000017 | 0000060 | 0000200,          // B38400, CS8, CREAD
    .lflag = 0000001 | 0000002 | 0000010 | 0000020 // ISIG, ICANON, ECHO, ECHOE,
             | 0000040 | 0001000 | 0100000,        // ECHOK, ECHOCTL, IEXTEN
    .cc = {3, 034, 0177, 025, 4, 0, 1, 0, 021, 023, 032, 0, 022, 017, 027, 026, 0},
};

int64_t linux_ioctl(const uint64_t a[6])
{
    struct fd_file *f;
    enum fd_kind kind;
    int64_t r = lookup(a[0], &f, &kind);
    if (r)
        return r;
    uint16_t ws[4] = {24, 80, 0, 0}; // the serial console's size as far as we know
    uint32_t cmd = (uint32_t)a[1];
    if (kind != FD_CHANNEL) { // the console stand-ins: as before there were descriptors
        r = cmd == TIOCGWINSZ ? (copy_to_user(a[2], ws, sizeof(ws)) == OK ? 0 : -LNX_EFAULT)
                              : -LNX_ENOTTY;
    } else if (!f->terminal) {
        r = -LNX_ENOTTY;
    } else if (cmd == TIOCGWINSZ) {
        irqstate_t s = spin_lock_irqsave(&f->lock);
        memcpy(ws, f->winsize, sizeof(ws));
        spin_unlock_irqrestore(&f->lock, s);
        r = copy_to_user(a[2], ws, sizeof(ws)) == OK ? 0 : -LNX_EFAULT;
    } else if (cmd == TIOCSWINSZ) {
        r = copy_from_user(ws, a[2], sizeof(ws)) == OK ? 0 : -LNX_EFAULT;
        if (r == 0) {
            irqstate_t s = spin_lock_irqsave(&f->lock);
            memcpy(f->winsize, ws, sizeof(ws));
            spin_unlock_irqrestore(&f->lock, s);
        }
    } else if (cmd == TCGETS) {
        r = copy_to_user(a[2], &default_termios, sizeof(default_termios)) == OK ? 0 : -LNX_EFAULT;
    } else {
        r = -LNX_ENOTTY; // modes go through the console's control channel
    }
    put(f);
    return r;
}

// ---- poll, ppoll ----

struct lnx_pollfd {
    int32_t fd;
    int16_t events, revents;
};

// Fills in revents; returns how many have any.
static int poll_scan(struct lnx_pollfd *pf, uint32_t n)
{
    int ready = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct fd_file *f;
        enum fd_kind kind;
        unsigned ev;
        pf[i].revents = 0;
        if (pf[i].fd < 0)
            continue;
        if (lookup((uint64_t)pf[i].fd, &f, &kind) != 0)
            ev = LNX_POLLNVAL;
        else if (!f) // a console stand-in: input may block (no way to ask)
            ev = kind == FD_CONSOLE_IN ? LNX_POLLIN : LNX_POLLOUT;
        else
            ev = fd_poll_events(f);
        if (ev != LNX_POLLNVAL)
            ev &= (unsigned)(uint16_t)pf[i].events | LNX_POLLHUP | LNX_POLLERR;
        put(f);
        pf[i].revents = (int16_t)ev;
        ready += ev != 0;
    }
    return ready;
}

// Binds the endpoint of every polled stream to a port in a private handle
// table and sleeps until one of them signals, or the deadline. 0 to scan
// again, or an errno.
static int poll_block(struct lnx_pollfd *pf, uint32_t n, uint64_t deadline)
{
    struct handle_table tmp;
    handle_t port;
    struct kobject *po = NULL;
    status_t st = handle_table_init(&tmp, n + 1);
    if (st != OK)
        return -LNX_ENOMEM;
    st = port_create(&tmp, &port);
    for (uint32_t i = 0; i < n && st == OK; i++) {
        struct fd_file *f = pf[i].fd >= 0 ? fd_get(process_current()->fds, pf[i].fd) : NULL;
        signals_t want;
        struct kobject *o = f ? fd_wait_target(f, (uint16_t)pf[i].events, &want) : NULL;
        handle_t h;
        put(f);
        if (!o)
            continue;
        st = handle_install(&tmp, o, RIGHT_WAIT, &h);
        if (st == OK)
            st = port_bind(&tmp, port, h, i, want, PORT_BIND_ONCE);
        obj_unref(o);
    }
    if (st == OK)
        st = handle_get(&tmp, port, OBJ_PORT, 0, &po);
    if (st == OK && poll_scan(pf, n) == 0) // (a signal may have come before its binding)
        st = fd_wait_signals(po, NULL, SIGNAL_READABLE, deadline);
    if (po)
        obj_unref(po);
    handle_table_destroy(&tmp);
    if (st == ERR_CANCELED)
        return -LNX_EINTR; // killed
    return st == OK || st == ERR_TIMED_OUT ? 0 : -LNX_ENOMEM;
}

static int64_t do_poll(uintptr_t ufds, uint64_t nfds, uint64_t deadline)
{
    if (nfds > POLL_MAX)
        return -LNX_EINVAL;
    uint32_t n = (uint32_t)nfds;
    struct lnx_pollfd *pf = kmalloc(MAX(n, 1u) * sizeof(*pf));
    if (!pf)
        return -LNX_ENOMEM;
    int64_t r = copy_from_user(pf, ufds, n * sizeof(*pf)) == OK ? 0 : -LNX_EFAULT;
    if (r == 0 && n > 0 && !process_current()->fds && !table_get())
        r = -LNX_ENOMEM;
    while (r == 0) {
        int ready = poll_scan(pf, n);
        if (ready || clock_monotonic_ns() >= deadline) {
            r = ready;
            break;
        }
        if (n == 0) { // a plain sleep
            thread_sleep_until(deadline);
            r = thread_current()->killed ? -LNX_EINTR : 0;
        } else {
            r = poll_block(pf, n, deadline);
        }
        if (r == 0 && clock_monotonic_ns() >= deadline) {
            r = poll_scan(pf, n);
            break;
        }
    }
    if (r >= 0 && copy_to_user(ufds, pf, n * sizeof(*pf)) != OK)
        r = -LNX_EFAULT;
    kfree(pf);
    return r;
}

static uint64_t deadline_after(uint64_t ns)
{
    uint64_t now = clock_monotonic_ns();
    return ns >= DEADLINE_INFINITE - now ? DEADLINE_INFINITE : now + ns;
}

int64_t linux_poll(const uint64_t a[6])
{
    int32_t ms = (int32_t)a[2];
    uint64_t deadline = ms < 0 ? DEADLINE_INFINITE : deadline_after((uint64_t)ms * 1000000ull);
    return do_poll(a[0], a[1], deadline);
}

int64_t linux_ppoll(const uint64_t a[6])
{
    struct {
        int64_t sec, nsec;
    } ts;
    uint64_t deadline = DEADLINE_INFINITE;
    if (a[2]) { // the signal mask (a[3]) has nothing to mask: no signals yet
        if (copy_from_user(&ts, a[2], sizeof(ts)) != OK)
            return -LNX_EFAULT;
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
            return -LNX_EINVAL;
        uint64_t sec = MIN((uint64_t)ts.sec, 1ull << 32);
        deadline = deadline_after(sec * 1000000000ull + (uint64_t)ts.nsec);
    }
    return do_poll(a[0], a[1], deadline);
}

// ---- NB_SYS_FD_BIND ----

int64_t linux_fd_bind(const uint64_t a[6])
{
    handle_t h = (handle_t)a[0];
    int32_t fd = (int32_t)a[1];
    uint32_t flags = (uint32_t)a[2];
    if (flags & ~NB_FD_TERMINAL)
        return ERR_INVALID_ARGS;
    if (fd < 0 || fd >= FD_MAX)
        return ERR_OUT_OF_RANGE;
    struct fd_table *ft = table_get();
    struct fd_file *f;
    if (!ft || fd_file_prepare(&f) != 0)
        return ERR_NO_MEMORY;
    struct handle_table *t = &process_current()->handles;
    struct handle *hp = NULL;
    struct kobject *o;
    rights_t rights = 0;
    handle_table_lock(t);
    status_t st = handle_lookup_locked(t, h, &hp, &o);
    bool ref = st == OK;
    if (st == OK)
        st = handle_check(hp, o, OBJ_CHANNEL, 0);
    if (st == OK) {
        rights = hp->rights & (RIGHT_READ | RIGHT_WRITE);
        st = rights ? OK : ERR_ACCESS_DENIED;
    }
    if (st == OK)
        hp = handle_detach_locked(t, h);
    handle_table_unlock(t);
    if (st == OK) // the handle left the table: waits through it end
        obj_cancel_waits(o, hp, ERR_CANCELED);
    if (ref)
        obj_unref(o);
    if (st != OK) {
        fd_file_put(f);
        return st;
    }
    fd_file_attach(f, hp, rights, flags & NB_FD_TERMINAL);
    fd_install(ft, f, fd, 0, false);
    fd_file_put(f);
    return OK;
}
