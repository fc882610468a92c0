// Linux file descriptors of the Linux personality (docs/USERSPACE.md,
// "Standard input and output").
//
// A process's descriptor table maps fds 0 .. FD_MAX-1 to open file
// descriptions (struct fd_file), which dup() shares, as Linux does: the
// status flags (O_NONBLOCK) and the unread rest of a message belong to the
// description, the close-on-exec flag to the descriptor.
//
// A description is a byte stream over a channel endpoint: it owns a struct
// handle (in no handle table) that keeps the endpoint open; the endpoint's
// peer sees PEER_CLOSED once the last description holding it goes. Or it is
// the kernel console, standing in for an unbound fd 0, 1 or 2.
//
// Streams: each message is 1 to CHAN_MAX_MSG_BYTES bytes of data; a message
// of zero bytes is an end-of-file mark (read returns 0 once, the stream goes
// on); an empty queue with the peer gone is end of file for good. A read
// returns bytes of one message and keeps the rest for the next read; a write
// sends messages of at most CHAN_MAX_MSG_BYTES, blocking while the peer's
// queue is full, and fails with -EPIPE once the peer is gone.
//
// Results are Linux style: a count, or a negative LNX_E* errno.
//
// Locking: the table lock, then a description's lock; neither is held while
// blocking or copying to or from user memory. Blocking waits end when the
// thread is killed (-EINTR).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/spinlock.h"
#include "obj/handle.h"
#include "sched/wait.h"

#define FD_MAX 256 // descriptors per process (fixed for now)

// Linux values (x86_64).
#define LNX_O_RDONLY   0
#define LNX_O_WRONLY   1
#define LNX_O_RDWR     2
#define LNX_O_NONBLOCK 04000
#define LNX_O_CLOEXEC  02000000
#define LNX_FD_CLOEXEC 1
#define LNX_POLLIN     0x001
#define LNX_POLLOUT    0x004
#define LNX_POLLERR    0x008
#define LNX_POLLHUP    0x010
#define LNX_POLLNVAL   0x020

enum fd_kind {
    FD_CHANNEL,     // a byte stream over a channel endpoint
    FD_CONSOLE_IN,  // the kernel console's line discipline (unbound fd 0)
    FD_CONSOLE_OUT, // the kernel console (unbound fd 1 and 2)
};

// An open file description.
struct fd_file {
    uint32_t refs; // atomic: descriptors, and calls under way
    enum fd_kind kind;
    rights_t rights;  // RIGHT_READ and/or RIGHT_WRITE: what it may do (immutable)
    bool terminal;    // NB_FD_TERMINAL (immutable)
    struct handle *h; // FD_CHANNEL: the endpoint's handle, in no table (owned)
    struct spinlock lock;
    uint32_t status;         // (lock) LNX_O_NONBLOCK
    uint16_t winsize[4];     // (lock) terminals: rows, columns, x and y pixels
    bool reading;            // (lock) a reader owns `left`
    struct wait_queue rwait; // (lock) readers waiting for `reading` to clear
    struct chan_msg *left;   // (the owning reader) the rest of a partly read message
    uint32_t left_off;       // (the owning reader) where the rest starts
};

struct fd_table {
    struct spinlock lock;
    struct fd_file *files[FD_MAX]; // (lock) NULL: not open
    uint8_t fdflags[FD_MAX];       // (lock) LNX_FD_CLOEXEC
};

// Where the bytes of a read or write are: `n` pieces of the caller's memory,
// reached with `to` and `from` (copy_to_user and copy_from_user in the
// kernel; plain memory in host tests). A failing copy is -EFAULT.
struct fd_iov {
    uintptr_t base;
    uint64_t len;
};
struct fd_mem {
    status_t (*to)(uintptr_t dst, const void *src, size_t n);
    status_t (*from)(void *dst, uintptr_t src, size_t n);
};

// ---- Descriptions ----

// A stream description over the channel endpoint of hp, allowed `rights`
// (READ and/or WRITE, within hp's). Takes hp over on success only.
// -ENOMEM; -EINVAL if hp is not a channel endpoint (or revoked).
int fd_file_channel(struct handle *hp, rights_t rights, bool terminal, struct fd_file **out);
// The same in two steps, so that a handle can leave its table with nothing
// left to fail: an empty description (-ENOMEM), then the handle (checked by
// the caller: a channel endpoint, rights within hp's).
int fd_file_prepare(struct fd_file **out);
void fd_file_attach(struct fd_file *f, struct handle *hp, rights_t rights, bool terminal);
// A console description (FD_CONSOLE_IN or FD_CONSOLE_OUT); -ENOMEM.
int fd_file_console(enum fd_kind kind, struct fd_file **out);
void fd_file_ref(struct fd_file *f);
// Drops a reference; the last one closes the handle (the peer sees
// PEER_CLOSED if it was the endpoint's last) and frees any unread rest.
void fd_file_put(struct fd_file *f);

// ---- The table ----

void fd_table_init(struct fd_table *t);
// Closes every descriptor.
void fd_table_destroy(struct fd_table *t);

// Puts f (a new reference is taken) at `fd`, closing what was there, or,
// with fd < 0, at the lowest free descriptor >= min. Returns the descriptor,
// -EBADF (fd out of range), -EINVAL (min out of range) or -EMFILE.
int fd_install(struct fd_table *t, struct fd_file *f, int fd, int min, bool cloexec);
// The description at fd with a reference (drop with fd_file_put), or NULL.
struct fd_file *fd_get(struct fd_table *t, int fd);
// 0 or -EBADF.
int fd_close(struct fd_table *t, int fd);
// dup/dup2/dup3/F_DUPFD: oldfd's description also at newfd (closing what was
// there; newfd == oldfd changes nothing), or with newfd < 0 at the lowest
// free descriptor >= min. The new descriptor's close-on-exec flag is
// `cloexec`. Returns the new descriptor or -EBADF / -EINVAL / -EMFILE.
int fd_dup(struct fd_table *t, int oldfd, int newfd, int min, bool cloexec);
// F_GETFD / F_SETFD: LNX_FD_CLOEXEC, or -EBADF.
int fd_get_fdflags(struct fd_table *t, int fd);
int fd_set_fdflags(struct fd_table *t, int fd, int flags);
// Descriptors in use.
int fd_count(struct fd_table *t);

// ---- Description flags ----

// F_GETFL: the access mode (from the rights) and LNX_O_NONBLOCK.
int fd_get_status(struct fd_file *f);
// F_SETFL: only LNX_O_NONBLOCK changes; other bits are ignored.
void fd_set_status(struct fd_file *f, int flags);

// ---- Streams (FD_CHANNEL) ----

// Reads from one message into the pieces; the rest of the message stays for
// the next read. 0 at an end-of-file mark or at the end of the stream.
// Blocks while nothing is queued, unless O_NONBLOCK (-EAGAIN). -EBADF
// without RIGHT_READ, -EFAULT (nothing consumed), -EINTR (killed), -EIO
// (the handle was revoked).
int64_t fd_readv(struct fd_file *f, const struct fd_iov *iov, uint32_t n, const struct fd_mem *mem);
// Writes the pieces as messages of at most CHAN_MAX_MSG_BYTES bytes.
// Returns what was sent, or with nothing sent -EBADF (no RIGHT_WRITE),
// -EPIPE (peer gone), -EAGAIN (O_NONBLOCK, peer's queue full), -EFAULT,
// -EINTR, -EIO. Writing 0 bytes sends nothing.
int64_t fd_writev(struct fd_file *f, const struct fd_iov *iov, uint32_t n,
                  const struct fd_mem *mem);
// poll(2) events of the stream now: LNX_POLLIN (a message or a rest is
// there), LNX_POLLOUT (room in the peer's queue), LNX_POLLHUP (peer gone),
// LNX_POLLERR (writable description whose peer is gone).
unsigned fd_poll_events(struct fd_file *f);
// Blocks until o asserts one of `want`, the deadline passes, the wait
// through `via` (may be NULL) is cancelled or the thread is killed: OK,
// ERR_TIMED_OUT, ERR_REVOKED or ERR_CANCELED (killed, or via closed).
status_t fd_wait_signals(struct kobject *o, const struct handle *via, signals_t want,
                         uint64_t deadline);
// The signals of f's endpoint worth waiting on for `events`
// (LNX_POLLIN/LNX_POLLOUT), and the endpoint itself with a reference (NULL
// if revoked).
struct kobject *fd_wait_target(struct fd_file *f, unsigned events, signals_t *signals);
