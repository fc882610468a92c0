// The Linux personality: the Linux x86_64 system call ABI, enough for static
// musl programs. Errors are negative errno values, as Linux returns them.
#pragma once

#include <stdint.h>

#include "nimbus/status.h"

struct vm_aspace;
struct process;

// Linux errno values used here.
#define LNX_EPERM     1
#define LNX_ENOENT    2
#define LNX_ESRCH     3
#define LNX_EINTR     4
#define LNX_EIO       5
#define LNX_EBADF     9
#define LNX_EAGAIN    11
#define LNX_ENOMEM    12
#define LNX_EACCES    13
#define LNX_EFAULT    14
#define LNX_EEXIST    17
#define LNX_EINVAL    22
#define LNX_EMFILE    24
#define LNX_ENOTTY    25
#define LNX_ESPIPE    29
#define LNX_EPIPE     32
#define LNX_ERANGE    34
#define LNX_ENOSYS    38
#define LNX_ENOTSUP   95
#define LNX_ETIMEDOUT 110

// The errno for a Nimbus status.
int linux_errno(status_t st);

// ---- Futexes (futex.c): queues of threads keyed by (address space, user
// address), as Linux's futex(2) for threads of one process.

// futex(uaddr, op, val, timeout or val2, uaddr2, val3): WAIT, WAKE, REQUEUE,
// CMP_REQUEUE, WAIT_BITSET and WAKE_BITSET, private or not (the same here).
int64_t linux_futex(const uint64_t a[6]);

// Wakes up to `max` threads (max < 0: all) waiting on uaddr in as whose
// bitset meets `bitset`; returns how many.
int futex_wake(const struct vm_aspace *as, uintptr_t uaddr, int max, uint32_t bitset);

// CLONE_CHILD_CLEARTID at the end of a thread: stores 0 at uaddr and wakes
// one waiter there. Runs in the ending thread (its address space is live).
void linux_clear_child_tid(uintptr_t uaddr);

// ---- File descriptors (fdcalls.c, the table and streams in sys/fd.h) ----

// The Linux calls: read, write, readv, writev, close, dup, dup2, dup3, pipe,
// pipe2, fcntl, ioctl, lseek, poll, ppoll.
int64_t linux_read(const uint64_t a[6]);
int64_t linux_write(const uint64_t a[6]);
int64_t linux_readv(const uint64_t a[6]);
int64_t linux_writev(const uint64_t a[6]);
int64_t linux_close(const uint64_t a[6]);
int64_t linux_dup(const uint64_t a[6]);
int64_t linux_dup2(const uint64_t a[6]);
int64_t linux_dup3(const uint64_t a[6]);
int64_t linux_pipe(const uint64_t a[6]);
int64_t linux_pipe2(const uint64_t a[6]);
int64_t linux_fcntl(const uint64_t a[6]);
int64_t linux_ioctl(const uint64_t a[6]);
int64_t linux_lseek(const uint64_t a[6]);
int64_t linux_poll(const uint64_t a[6]);
int64_t linux_ppoll(const uint64_t a[6]);

// NB_SYS_FD_BIND (channel, fd, flags), a native call (status_t result).
int64_t linux_fd_bind(const uint64_t a[6]);

// Closes p's descriptors at its teardown.
void linux_fd_teardown(struct process *p);
