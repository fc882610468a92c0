// nimbus:host
// Linux file descriptors: the descriptor table and byte streams over
// channels (see sys/fd.h). The system calls are in fdcalls.c.
#include "sys/fd.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/channel.h"
#include "obj/revoke.h"
#include "sys/linux.h"

#define FD_RW_MAX 0x7ffff000ull // most bytes one call moves (as Linux)

// ---- Descriptions ----

static int file_new(enum fd_kind kind, rights_t rights, bool terminal, struct fd_file **out)
{
    struct fd_file *f = kzalloc(sizeof(*f));
    if (!f)
        return -LNX_ENOMEM;
    f->refs = 1;
    f->kind = kind;
    f->rights = rights;
    f->terminal = terminal;
    f->lock = (struct spinlock)SPINLOCK_INIT("fd");
    f->winsize[0] = 24; // rows and columns of a terminal until told otherwise
    f->winsize[1] = 80;
    wait_queue_init(&f->rwait);
    *out = f;
    return 0;
}

// The endpoint of hp with a reference; ERR_REVOKED once revoked.
static status_t handle_obj(struct handle *hp, struct kobject **o)
{
    if (hp->cell)
        return revoke_cell_get_obj(hp, o);
    *o = hp->obj;
    obj_ref(*o);
    return OK;
}

int fd_file_prepare(struct fd_file **out)
{
    return file_new(FD_CHANNEL, 0, false, out);
}

void fd_file_attach(struct fd_file *f, struct handle *hp, rights_t rights, bool terminal)
{
    f->h = hp;
    f->rights = rights & (RIGHT_READ | RIGHT_WRITE);
    f->terminal = terminal;
}

int fd_file_channel(struct handle *hp, rights_t rights, bool terminal, struct fd_file **out)
{
    struct kobject *o;
    if (handle_obj(hp, &o) != OK)
        return -LNX_EINVAL;
    bool chan = o->ops->type == OBJ_CHANNEL;
    obj_unref(o);
    if (!chan || (rights & ~(RIGHT_READ | RIGHT_WRITE)) || (rights & ~hp->rights))
        return -LNX_EINVAL;
    int r = fd_file_prepare(out);
    if (r == 0)
        fd_file_attach(*out, hp, rights, terminal);
    return r;
}

int fd_file_console(enum fd_kind kind, struct fd_file **out)
{
    return file_new(kind, kind == FD_CONSOLE_IN ? RIGHT_READ : RIGHT_WRITE, false, out);
}

void fd_file_ref(struct fd_file *f)
{
    __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
}

void fd_file_put(struct fd_file *f)
{
    if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (f->left)
        chan_msg_free(f->left);
    if (f->h)
        handle_free(f->h, ERR_CANCELED);
    kfree(f);
}

int fd_get_status(struct fd_file *f)
{
    int mode = (f->rights & RIGHT_READ) && (f->rights & RIGHT_WRITE) ? LNX_O_RDWR
               : (f->rights & RIGHT_WRITE)                           ? LNX_O_WRONLY
                                                                     : LNX_O_RDONLY;
    return mode | (int)__atomic_load_n(&f->status, __ATOMIC_RELAXED);
}

void fd_set_status(struct fd_file *f, int flags)
{
    __atomic_store_n(&f->status, (uint32_t)flags & LNX_O_NONBLOCK, __ATOMIC_RELAXED);
}

static bool nonblocking(struct fd_file *f)
{
    return __atomic_load_n(&f->status, __ATOMIC_RELAXED) & LNX_O_NONBLOCK;
}

// ---- The table ----

void fd_table_init(struct fd_table *t)
{
    memset(t, 0, sizeof(*t));
    t->lock = (struct spinlock)SPINLOCK_INIT("fd table");
}

void fd_table_destroy(struct fd_table *t)
{
    for (int fd = 0; fd < FD_MAX; fd++)
        fd_close(t, fd);
}

int fd_install(struct fd_table *t, struct fd_file *f, int fd, int min, bool cloexec)
{
    if (fd >= FD_MAX)
        return -LNX_EBADF;
    if (fd < 0 && (min < 0 || min >= FD_MAX))
        return -LNX_EINVAL;
    spin_lock(&t->lock);
    if (fd < 0) {
        for (fd = min; fd < FD_MAX && t->files[fd]; fd++)
            ;
        if (fd == FD_MAX) {
            spin_unlock(&t->lock);
            return -LNX_EMFILE;
        }
    }
    struct fd_file *old = t->files[fd];
    fd_file_ref(f);
    t->files[fd] = f;
    t->fdflags[fd] = cloexec ? LNX_FD_CLOEXEC : 0;
    spin_unlock(&t->lock);
    if (old)
        fd_file_put(old);
    return fd;
}

struct fd_file *fd_get(struct fd_table *t, int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return NULL;
    spin_lock(&t->lock);
    struct fd_file *f = t->files[fd];
    if (f)
        fd_file_ref(f);
    spin_unlock(&t->lock);
    return f;
}

int fd_close(struct fd_table *t, int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return -LNX_EBADF;
    spin_lock(&t->lock);
    struct fd_file *f = t->files[fd];
    t->files[fd] = NULL;
    t->fdflags[fd] = 0;
    spin_unlock(&t->lock);
    if (!f)
        return -LNX_EBADF;
    fd_file_put(f);
    return 0;
}

int fd_dup(struct fd_table *t, int oldfd, int newfd, int min, bool cloexec)
{
    struct fd_file *f = fd_get(t, oldfd);
    if (!f)
        return -LNX_EBADF;
    int r = newfd == oldfd ? newfd : fd_install(t, f, newfd, min, cloexec);
    fd_file_put(f);
    return r;
}

int fd_get_fdflags(struct fd_table *t, int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return -LNX_EBADF;
    spin_lock(&t->lock);
    int r = t->files[fd] ? t->fdflags[fd] : -LNX_EBADF;
    spin_unlock(&t->lock);
    return r;
}

int fd_set_fdflags(struct fd_table *t, int fd, int flags)
{
    if (fd < 0 || fd >= FD_MAX)
        return -LNX_EBADF;
    spin_lock(&t->lock);
    int r = t->files[fd] ? 0 : -LNX_EBADF;
    if (r == 0)
        t->fdflags[fd] = (uint8_t)(flags & LNX_FD_CLOEXEC);
    spin_unlock(&t->lock);
    return r;
}

int fd_count(struct fd_table *t)
{
    int n = 0;
    spin_lock(&t->lock);
    for (int fd = 0; fd < FD_MAX; fd++)
        n += t->files[fd] != NULL;
    spin_unlock(&t->lock);
    return n;
}

// ---- Streams ----

status_t fd_wait_signals(struct kobject *o, const struct handle *via, signals_t want,
                         uint64_t deadline)
{
    struct obj_waiter w;
    status_t st = OK;
    irqstate_t s = obj_lock(o);
    obj_waiter_add_locked(o, &w, via);
    while (!(o->signals & want) && st == OK) {
        st = w.cancel;
        if (st == OK) // OK: a signal changed; ERR_CANCELED: killed; or ERR_TIMED_OUT
            st = wait_queue_block(&o->waitq, o->lock, deadline);
        if (w.cancel != OK)
            st = w.cancel;
    }
    obj_waiter_remove_locked(&w);
    obj_unlock(o, s);
    return st;
}

// Waits through the description's own handle (revoking it ends the wait).
static status_t wait_for(struct kobject *o, const struct handle *hp, signals_t want)
{
    return fd_wait_signals(o, hp, want, DEADLINE_INFINITE);
}

static int stream_errno(status_t st)
{
    switch (st) {
    case ERR_SHOULD_WAIT:
        return -LNX_EAGAIN;
    case ERR_PEER_CLOSED:
        return -LNX_EPIPE;
    case ERR_CANCELED:
        return -LNX_EINTR;
    case ERR_NO_MEMORY:
        return -LNX_ENOMEM;
    default: // ERR_REVOKED, ERR_PROTOCOL (a typed channel)
        return -LNX_EIO;
    }
}

// Sum of the pieces' lengths, at most FD_RW_MAX; -EINVAL if they overflow.
static int64_t iov_total(const struct fd_iov *iov, uint32_t n)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (iov[i].len > (uint64_t)INT64_MAX - total)
            return -LNX_EINVAL;
        total += iov[i].len;
    }
    return (int64_t)MIN(total, FD_RW_MAX);
}

// Makes f the reader's: one reader at a time owns the unread rest.
static int reader_enter(struct fd_file *f)
{
    int r = 0;
    irqstate_t s = spin_lock_irqsave(&f->lock);
    while (f->reading && r == 0) {
        if (nonblocking(f))
            r = -LNX_EAGAIN;
        else if (wait_queue_block(&f->rwait, &f->lock, DEADLINE_INFINITE) == ERR_CANCELED)
            r = -LNX_EINTR; // killed
    }
    if (r == 0)
        f->reading = true;
    spin_unlock_irqrestore(&f->lock, s);
    return r;
}

static void reader_leave(struct fd_file *f)
{
    irqstate_t s = spin_lock_irqsave(&f->lock);
    f->reading = false;
    wait_queue_wake(&f->rwait, 1, OK);
    spin_unlock_irqrestore(&f->lock, s);
}

// Makes the next message f's unread rest: 1, or 0 at the end of the stream,
// or an errno. The reader owns f.
static int next_message(struct fd_file *f)
{
    struct kobject *o;
    struct chan_msg *m = NULL;
    status_t st = handle_obj(f->h, &o);
    if (st != OK)
        return -LNX_EIO;
    for (;;) {
        st = chan_ep_take(o, &m);
        if (st != ERR_SHOULD_WAIT || nonblocking(f))
            break;
        st = wait_for(o, f->h, SIGNAL_READABLE | SIGNAL_PEER_CLOSED);
        if (st != OK)
            break;
    }
    obj_unref(o);
    if (st == ERR_PEER_CLOSED)
        return 0;
    if (st != OK)
        return stream_errno(st);
    f->left_off = 0;
    __atomic_store_n(&f->left, m, __ATOMIC_RELEASE);
    return 1;
}

static void drop_left(struct fd_file *f)
{
    struct chan_msg *m = f->left;
    __atomic_store_n(&f->left, NULL, __ATOMIC_RELEASE);
    chan_msg_free(m);
}

// Copies the unread rest of f's message into the pieces; the count, or
// -EFAULT if nothing could be copied.
static int64_t copy_out_left(struct fd_file *f, const struct fd_iov *iov, uint32_t n,
                             uint64_t total, const struct fd_mem *mem)
{
    uint32_t size = chan_msg_size(f->left);
    const unsigned char *data = (const unsigned char *)chan_msg_data(f->left) + f->left_off;
    uint64_t avail = MIN(size - f->left_off, total), done = 0;
    for (uint32_t i = 0; i < n && done < avail; i++) {
        uint64_t len = MIN(iov[i].len, avail - done);
        if (len && mem->to(iov[i].base, data + done, (size_t)len) != OK) {
            if (done == 0)
                return -LNX_EFAULT; // the message stays, whole
            break;
        }
        done += len;
    }
    f->left_off += (uint32_t)done;
    if (f->left_off == size)
        drop_left(f);
    return (int64_t)done;
}

int64_t fd_readv(struct fd_file *f, const struct fd_iov *iov, uint32_t n, const struct fd_mem *mem)
{
    if (f->kind != FD_CHANNEL || !(f->rights & RIGHT_READ))
        return -LNX_EBADF;
    int64_t total = iov_total(iov, n);
    if (total <= 0)
        return total; // (a read of 0 bytes consumes nothing, not even a mark)
    int64_t r = reader_enter(f);
    if (r)
        return r;
    r = f->left ? 1 : next_message(f);
    if (r == 1 && chan_msg_size(f->left) == 0) {
        drop_left(f); // an end-of-file mark: 0, once
        r = 0;
    } else if (r == 1) {
        r = copy_out_left(f, iov, n, (uint64_t)total, mem);
    }
    reader_leave(f);
    return r;
}

// Sends m (on success it belongs to the channel), waiting for room unless
// the description is non-blocking.
static status_t send_blocking(struct fd_file *f, struct kobject *o, struct chan_msg *m)
{
    for (;;) {
        status_t st = chan_ep_send(o, m);
        if (st != ERR_SHOULD_WAIT || nonblocking(f))
            return st;
        st = wait_for(o, f->h, SIGNAL_WRITABLE | SIGNAL_PEER_CLOSED);
        if (st != OK)
            return st;
    }
}

// Gathers `size` bytes from the pieces, from piece *i at offset *off on.
static int gather(void *dst, uint32_t size, const struct fd_iov *iov, uint32_t n, uint32_t *i,
                  uint64_t *off, const struct fd_mem *mem)
{
    for (uint32_t got = 0; got < size;) {
        while (*i < n && *off == iov[*i].len) {
            (*i)++;
            *off = 0;
        }
        if (*i == n)
            return -LNX_EFAULT; // (cannot happen: size is within the total)
        uint64_t len = MIN(iov[*i].len - *off, (uint64_t)(size - got));
        if (mem->from((unsigned char *)dst + got, iov[*i].base + *off, (size_t)len) != OK)
            return -LNX_EFAULT;
        got += (uint32_t)len;
        *off += len;
    }
    return 0;
}

int64_t fd_writev(struct fd_file *f, const struct fd_iov *iov, uint32_t n, const struct fd_mem *mem)
{
    if (f->kind != FD_CHANNEL || !(f->rights & RIGHT_WRITE))
        return -LNX_EBADF;
    int64_t total = iov_total(iov, n);
    if (total <= 0)
        return total;
    struct kobject *o;
    if (handle_obj(f->h, &o) != OK)
        return -LNX_EIO;
    uint64_t done = 0, off = 0;
    uint32_t i = 0;
    int r = 0;
    while (done < (uint64_t)total && r == 0) {
        uint32_t size = (uint32_t)MIN((uint64_t)total - done, CHAN_MAX_MSG_BYTES);
        struct chan_msg *m = chan_msg_alloc(size);
        if (!m) {
            r = -LNX_ENOMEM;
            break;
        }
        r = gather(chan_msg_data(m), size, iov, n, &i, &off, mem);
        if (r == 0) {
            status_t st = send_blocking(f, o, m);
            r = st == OK ? 0 : stream_errno(st);
        }
        if (r == 0)
            done += size;
        else
            chan_msg_free(m);
    }
    obj_unref(o);
    return done ? (int64_t)done : r;
}

unsigned fd_poll_events(struct fd_file *f)
{
    if (f->kind != FD_CHANNEL)
        return f->kind == FD_CONSOLE_IN ? LNX_POLLIN : LNX_POLLOUT;
    struct kobject *o;
    if (handle_obj(f->h, &o) != OK)
        return LNX_POLLERR;
    irqstate_t s = obj_lock(o);
    signals_t sig = o->signals;
    obj_unlock(o, s);
    obj_unref(o);
    unsigned ev = 0;
    bool closed = sig & SIGNAL_PEER_CLOSED;
    if (f->rights & RIGHT_READ) {
        if (__atomic_load_n(&f->left, __ATOMIC_ACQUIRE) || (sig & SIGNAL_READABLE))
            ev |= LNX_POLLIN;
        if (closed)
            ev |= LNX_POLLHUP;
    }
    if (f->rights & RIGHT_WRITE) {
        if (closed)
            ev |= LNX_POLLERR;
        else if (sig & SIGNAL_WRITABLE)
            ev |= LNX_POLLOUT;
    }
    return ev;
}

struct kobject *fd_wait_target(struct fd_file *f, unsigned events, signals_t *signals)
{
    struct kobject *o;
    if (f->kind != FD_CHANNEL || handle_obj(f->h, &o) != OK)
        return NULL;
    *signals = SIGNAL_PEER_CLOSED | (events & LNX_POLLIN ? SIGNAL_READABLE : 0) |
               (events & LNX_POLLOUT ? SIGNAL_WRITABLE : 0);
    return o;
}
