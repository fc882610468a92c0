// The Linux personality: the system call table, memory (brk, mmap), process
// and thread identity, time. File descriptors are in fd.c and fdcalls.c.
#include "lib/entropy.h"
#include "lib/klog.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/vmo.h"
#include "sched/clock.h"
#include "sys/linux.h"
#include "sys/process.h"
#include "sys/syscall.h"
#include "sys/usercopy.h"

#define LNX_NR_MAX 512

#define NR_read            0
#define NR_write           1
#define NR_close           3
#define NR_fstat           5
#define NR_poll            7
#define NR_lseek           8
#define NR_mmap            9
#define NR_mprotect        10
#define NR_munmap          11
#define NR_brk             12
#define NR_rt_sigaction    13
#define NR_rt_sigprocmask  14
#define NR_ioctl           16
#define NR_readv           19
#define NR_writev          20
#define NR_pipe            22
#define NR_sched_yield     24
#define NR_madvise         28
#define NR_dup             32
#define NR_dup2            33
#define NR_nanosleep       35
#define NR_getpid          39
#define NR_clone           56
#define NR_exit            60
#define NR_uname           63
#define NR_fcntl           72
#define NR_getuid          102
#define NR_getgid          104
#define NR_geteuid         107
#define NR_getegid         108
#define NR_getppid         110
#define NR_arch_prctl      158
#define NR_gettid          186
#define NR_futex           202
#define NR_set_tid_address 218
#define NR_clock_gettime   228
#define NR_clock_getres    229
#define NR_clock_nanosleep 230
#define NR_exit_group      231
#define NR_ppoll           271
#define NR_set_robust_list 273
#define NR_dup3            292
#define NR_pipe2           293
#define NR_getrandom       318

#define ARCH_SET_FS         0x1002
#define ARCH_GET_FS         0x1003
#define PROT_READ           1
#define PROT_WRITE          2
#define PROT_EXEC           4
#define MAP_PRIVATE         0x02
#define MAP_FIXED           0x10
#define MAP_ANONYMOUS       0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define BRK_MAX             (1ull << 30) // the break may grow by 1 GiB

#define CLONE_VM             0x00000100
#define CLONE_FS             0x00000200
#define CLONE_FILES          0x00000400
#define CLONE_SIGHAND        0x00000800
#define CLONE_THREAD         0x00010000
#define CLONE_SYSVSEM        0x00040000
#define CLONE_SETTLS         0x00080000
#define CLONE_PARENT_SETTID  0x00100000
#define CLONE_CHILD_CLEARTID 0x00200000
#define CLONE_DETACHED       0x00400000 // ignored, as by Linux
#define CLONE_CHILD_SETTID   0x01000000
// A thread of the same process: everything shared (what pthread_create asks).
#define CLONE_THREAD_NEEDS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
#define CLONE_THREAD_MAY                                                       \
    (CLONE_THREAD_NEEDS | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | \
     CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_CHILD_SETTID)
#define ROBUST_LIST_HEAD_SIZE 24 // struct robust_list_head on x86_64

int linux_errno(status_t st)
{
    switch (st) {
    case OK:
        return 0;
    case ERR_NO_MEMORY:
    case ERR_NO_RESOURCES:
        return LNX_ENOMEM;
    case ERR_ACCESS_DENIED:
        return LNX_EACCES;
    case ERR_TIMED_OUT:
        return LNX_ETIMEDOUT;
    case ERR_SHOULD_WAIT:
        return LNX_EAGAIN;
    case ERR_CANCELED:
        return LNX_EINTR;
    case ERR_NOT_FOUND:
        return LNX_ENOENT;
    case ERR_ALREADY_EXISTS:
        return LNX_EEXIST;
    case ERR_NOT_SUPPORTED:
        return LNX_ENOSYS;
    case ERR_BAD_HANDLE:
        return LNX_EBADF;
    default:
        return LNX_EINVAL;
    }
}

static int64_t err(status_t st)
{
    return -(int64_t)linux_errno(st);
}

// File descriptors (read, write, ioctl, ...): fdcalls.c.

// ---- Memory ----

// Maps a fresh anonymous vmo of `size` bytes.
static status_t map_anon(struct process *p, vaddr_t *addr, uint64_t size, unsigned flags,
                         bool fixed)
{
    struct vmo *v;
    status_t st = vmo_create_kernel(size, &v);
    if (st != OK)
        return st;
    st = vm_map(p->as, v, 0, size, flags, fixed, addr);
    obj_unref(vmo_obj(v));
    return st;
}

static unsigned prot_flags(uint64_t prot)
{
    return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) |
           (prot & PROT_EXEC ? VM_EXEC : 0);
}

static int64_t lnx_mmap(const uint64_t a[6])
{
    struct process *p = process_current();
    uint64_t len = ALIGN_UP(a[1], PAGE_SIZE), flags = a[3];
    if (!len || len < a[1] || (a[2] & PROT_WRITE && a[2] & PROT_EXEC))
        return !len || len < a[1] ? -LNX_EINVAL : -LNX_EACCES; // W^X
    if (!(flags & MAP_ANONYMOUS))
        return -LNX_ENOSYS; // file mappings come with the file service
    vaddr_t addr = a[0];
    bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
    if (fixed && (flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE))
        vm_unmap(p->as, addr, len); // MAP_FIXED replaces what was there
    status_t st = map_anon(p, &addr, len, prot_flags(a[2]), fixed);
    return st == OK ? (int64_t)addr : err(st);
}

static int64_t lnx_munmap(const uint64_t a[6])
{
    status_t st = vm_unmap(process_current()->as, a[0], ALIGN_UP(a[1], PAGE_SIZE));
    return err(st);
}

static int64_t lnx_mprotect(const uint64_t a[6])
{
    if (a[2] & PROT_WRITE && a[2] & PROT_EXEC)
        return -LNX_EACCES;
    status_t st =
        vm_protect(process_current()->as, a[0], ALIGN_UP(a[1], PAGE_SIZE), prot_flags(a[2]));
    return st == ERR_NOT_FOUND ? -LNX_ENOMEM : err(st);
}

static int64_t lnx_madvise(const uint64_t a[6])
{
    return 0; // advice only
}

// brk: grows by mapping anonymous memory right after the current break,
// shrinks by unmapping; returns the (possibly unchanged) break.
static int64_t lnx_brk(const uint64_t a[6])
{
    struct process *p = process_current();
    vaddr_t want = a[0], cur = ALIGN_UP(p->brk_cur, PAGE_SIZE);
    if (!p->brk_base || want < p->brk_base || want > p->brk_base + BRK_MAX)
        return (int64_t)p->brk_cur;
    vaddr_t need = ALIGN_UP(want, PAGE_SIZE);
    if (need > cur) {
        vaddr_t at = cur;
        if (map_anon(p, &at, need - cur, VM_READ | VM_WRITE, true) != OK)
            return (int64_t)p->brk_cur;
    } else if (need < cur) {
        vm_unmap(p->as, need, cur - need);
    }
    p->brk_cur = want;
    return (int64_t)want;
}

// ---- Identity, threads, signals ----

static int64_t lnx_getpid(const uint64_t a[6])
{
    return (int64_t)process_current()->pid;
}

static int64_t lnx_gettid(const uint64_t a[6])
{
    return (int64_t)thread_current()->id;
}

static int64_t lnx_zero(const uint64_t a[6])
{
    return 0; // uid, gid, euid, egid, ppid: the one user, no parent process ids yet
}

static int64_t lnx_set_tid_address(const uint64_t a[6])
{
    uthread_current()->clear_child_tid = a[0];
    return (int64_t)thread_current()->id;
}

static int64_t lnx_set_robust_list(const uint64_t a[6])
{
    if (a[1] != ROBUST_LIST_HEAD_SIZE)
        return -LNX_EINVAL;
    uthread_current()->robust_list = a[0];
    return 0;
}

static int64_t unsupported(uint64_t nr);

// The new thread's registers: the caller's at the system call, but rax = 0
// (clone returns 0 in the child) and its own stack.
static void clone_regs(struct user_regs *r, uint64_t stack)
{
    arch_user_regs_current(r);
    r->rax = 0;
    if (stack)
        r->rsp = stack;
}

// Stores tid at a user address for CLONE_PARENT_SETTID / CLONE_CHILD_SETTID
// (one address space: the parent writes both, before the child runs).
static bool clone_store_tid(uint64_t flags, uint64_t flag, uintptr_t at, uint32_t tid)
{
    return !(flags & flag) || copy_to_user(at, &tid, sizeof(tid)) == OK;
}

// clone(flags, stack, parent_tid, child_tid, tls): threads only; a new
// process (no CLONE_VM) waits for a fork of the process model.
static int64_t lnx_clone(const uint64_t a[6])
{
    uint64_t flags = a[0], tls = (flags & CLONE_SETTLS) ? a[4] : thread_current()->fs_base;
    if (!(flags & CLONE_VM))
        return unsupported(NR_clone);
    if ((flags & CLONE_THREAD_NEEDS) != CLONE_THREAD_NEEDS || (flags & ~CLONE_THREAD_MAY))
        return -LNX_EINVAL;
    if ((flags & CLONE_SETTLS) && tls && !user_range_ok(tls, 1))
        return -LNX_EPERM;
    struct uthread *ut;
    status_t st = uthread_create(process_current(), &ut);
    if (st != OK)
        return err(st);
    uint32_t tid = (uint32_t)ut->kt->id;
    struct user_regs r;
    clone_regs(&r, a[1]);
    if (flags & CLONE_CHILD_CLEARTID)
        ut->clear_child_tid = a[3];
    if (!clone_store_tid(flags, CLONE_PARENT_SETTID, a[2], tid) ||
        !clone_store_tid(flags, CLONE_CHILD_SETTID, a[3], tid))
        st = ERR_INVALID_ARGS;
    if (st == OK)
        st = uthread_start_regs(ut, &r, tls);
    obj_unref(&ut->obj); // the creation reference: a started thread keeps its own
    if (st == ERR_INVALID_ARGS)
        return -LNX_EFAULT;
    return st == OK ? (int64_t)tid : err(st);
}

static int64_t lnx_arch_prctl(const uint64_t a[6])
{
    struct thread *t = thread_current();
    if (a[0] == ARCH_SET_FS) {
        if (!user_range_ok(a[1], 1) && a[1] != 0)
            return -LNX_EPERM;
        t->fs_base = a[1];
        arch_prepare_switch(0, t->aspace_root, a[1]);
        return 0;
    }
    if (a[0] == ARCH_GET_FS)
        return copy_to_user(a[1], &t->fs_base, sizeof(t->fs_base)) == OK ? 0 : -LNX_EFAULT;
    return -LNX_EINVAL;
}

// Signals are not delivered yet (no kill between processes in the Linux
// personality): masks and handlers have nothing to act on, so setting them
// succeeds and reports an empty old state.
static int64_t lnx_rt_sigmask_or_action(const uint64_t a[6])
{
    if (a[2]) {
        uint64_t zero[4] = {0};
        if (copy_to_user(a[2], zero, a[3] == 8 ? 8 : sizeof(zero)) != OK)
            return -LNX_EFAULT;
    }
    return 0;
}

static int64_t lnx_exit(const uint64_t a[6])
{
    uthread_exit((int64_t)(a[0] & 0xff));
}

static int64_t lnx_exit_group(const uint64_t a[6])
{
    process_exit((int64_t)(a[0] & 0xff));
}

static int64_t lnx_sched_yield(const uint64_t a[6])
{
    thread_yield();
    return 0;
}

struct lnx_utsname {
    char f[6][65];
};

static int64_t lnx_uname(const uint64_t a[6])
{
    static const char *const fields[6] = {"Nimbus", "nimbus", "0.1", "#1", "x86_64", "(none)"};
    struct lnx_utsname u;
    memset(&u, 0, sizeof(u));
    for (int i = 0; i < 6; i++)
        kstrlcpy(u.f[i], fields[i], sizeof(u.f[i]));
    return copy_to_user(a[0], &u, sizeof(u)) == OK ? 0 : -LNX_EFAULT;
}

// ---- Random bytes ----

#define GRND_NONBLOCK 0x1
#define GRND_RANDOM   0x2
#define GRND_INSECURE 0x4
#define GETRANDOM_MAX 33554431 // Linux's cap per call (32 MiB - 1)

// getrandom(buf, len, flags): bytes from the kernel's pool. The pool is
// seeded at first use, so no call blocks and every flag gives the same
// bytes (GRND_NONBLOCK never sees EAGAIN); unknown flags, or RANDOM with
// INSECURE, are EINVAL. A fault after some bytes returns their count.
static int64_t lnx_getrandom(const uint64_t a[6])
{
    if ((a[2] & ~(uint64_t)(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) ||
        ((a[2] & GRND_RANDOM) && (a[2] & GRND_INSECURE)))
        return -LNX_EINVAL;
    uint64_t len = a[1] > GETRANDOM_MAX ? GETRANDOM_MAX : a[1], done = 0;
    uint8_t chunk[256];
    while (done < len) {
        size_t n = len - done < sizeof(chunk) ? (size_t)(len - done) : sizeof(chunk);
        entropy_get(chunk, n);
        if (copy_to_user(a[0] + done, chunk, n) != OK) {
            memset(chunk, 0, sizeof(chunk));
            return done ? (int64_t)done : -LNX_EFAULT;
        }
        done += n;
    }
    memset(chunk, 0, sizeof(chunk));
    return (int64_t)done;
}

// ---- Time ----

struct lnx_timespec {
    int64_t sec, nsec;
};

#define CLOCK_REALTIME_ID  0
#define CLOCK_MONOTONIC_ID 1
#define TIMER_ABSTIME      1

static int clock_read(uint64_t id, uint64_t *ns)
{
    switch (id) {
    case CLOCK_REALTIME_ID:
    case 5: // CLOCK_REALTIME_COARSE
        *ns = clock_realtime_ns();
        return 0;
    case CLOCK_MONOTONIC_ID:
    case 4: // CLOCK_MONOTONIC_RAW
    case 6: // CLOCK_MONOTONIC_COARSE
    case 7: // CLOCK_BOOTTIME
        *ns = clock_monotonic_ns();
        return 0;
    default:
        return -LNX_EINVAL;
    }
}

static int64_t lnx_clock_gettime(const uint64_t a[6])
{
    uint64_t ns;
    int r = clock_read(a[0], &ns);
    if (r)
        return r;
    struct lnx_timespec ts = {(int64_t)(ns / 1000000000ull), (int64_t)(ns % 1000000000ull)};
    return copy_to_user(a[1], &ts, sizeof(ts)) == OK ? 0 : -LNX_EFAULT;
}

static int64_t lnx_clock_getres(const uint64_t a[6])
{
    uint64_t ns;
    int r = clock_read(a[0], &ns);
    struct lnx_timespec ts = {0, 1};
    if (r || !a[1])
        return r;
    return copy_to_user(a[1], &ts, sizeof(ts)) == OK ? 0 : -LNX_EFAULT;
}

static int64_t sleep_until(uint64_t deadline)
{
    thread_sleep_until(deadline);
    return thread_current()->killed ? -LNX_EINTR : 0;
}

static int64_t lnx_nanosleep(const uint64_t a[6])
{
    struct lnx_timespec ts;
    if (copy_from_user(&ts, a[0], sizeof(ts)) != OK)
        return -LNX_EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
        return -LNX_EINVAL;
    return sleep_until(clock_monotonic_ns() + (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec);
}

static int64_t lnx_clock_nanosleep(const uint64_t a[6])
{
    struct lnx_timespec ts;
    uint64_t now;
    int r = clock_read(a[0], &now);
    if (r)
        return r;
    if (copy_from_user(&ts, a[2], sizeof(ts)) != OK)
        return -LNX_EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
        return -LNX_EINVAL;
    uint64_t t = (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
    uint64_t rel = (a[1] & TIMER_ABSTIME) ? (t > now ? t - now : 0) : t;
    return sleep_until(clock_monotonic_ns() + rel);
}

// ---- The table ----

#define LNX(nr, fn) [nr] = (fn)

static const sys_handler linux_table[LNX_NR_MAX] = {
    LNX(NR_read, linux_read),
    LNX(NR_write, linux_write),
    LNX(NR_close, linux_close),
    LNX(NR_poll, linux_poll),
    LNX(NR_lseek, linux_lseek),
    LNX(NR_mmap, lnx_mmap),
    LNX(NR_mprotect, lnx_mprotect),
    LNX(NR_munmap, lnx_munmap),
    LNX(NR_brk, lnx_brk),
    LNX(NR_rt_sigaction, lnx_rt_sigmask_or_action),
    LNX(NR_rt_sigprocmask, lnx_rt_sigmask_or_action),
    LNX(NR_ioctl, linux_ioctl),
    LNX(NR_readv, linux_readv),
    LNX(NR_writev, linux_writev),
    LNX(NR_pipe, linux_pipe),
    LNX(NR_dup, linux_dup),
    LNX(NR_dup2, linux_dup2),
    LNX(NR_fcntl, linux_fcntl),
    LNX(NR_ppoll, linux_ppoll),
    LNX(NR_dup3, linux_dup3),
    LNX(NR_pipe2, linux_pipe2),
    LNX(NR_sched_yield, lnx_sched_yield),
    LNX(NR_madvise, lnx_madvise),
    LNX(NR_nanosleep, lnx_nanosleep),
    LNX(NR_getpid, lnx_getpid),
    LNX(NR_clone, lnx_clone),
    LNX(NR_exit, lnx_exit),
    LNX(NR_uname, lnx_uname),
    LNX(NR_getuid, lnx_zero),
    LNX(NR_getgid, lnx_zero),
    LNX(NR_geteuid, lnx_zero),
    LNX(NR_getegid, lnx_zero),
    LNX(NR_getppid, lnx_zero),
    LNX(NR_arch_prctl, lnx_arch_prctl),
    LNX(NR_gettid, lnx_gettid),
    LNX(NR_futex, linux_futex),
    LNX(NR_set_tid_address, lnx_set_tid_address),
    LNX(NR_clock_gettime, lnx_clock_gettime),
    LNX(NR_clock_getres, lnx_clock_getres),
    LNX(NR_clock_nanosleep, lnx_clock_nanosleep),
    LNX(NR_exit_group, lnx_exit_group),
    LNX(NR_set_robust_list, lnx_set_robust_list),
    LNX(NR_getrandom, lnx_getrandom),
};

// Names of calls programs commonly make that are not implemented, for the
// one-time log line.
static const struct {
    uint16_t nr;
    const char *name;
} linux_names[] = {
    {2, "open"},
    {4, "stat"},
    {5, "fstat"},
    {6, "lstat"},
    {15, "rt_sigreturn"},
    {17, "pread64"},
    {21, "access"},
    {23, "select"},
    {41, "socket"},
    {42, "connect"},
    {56, "clone (without CLONE_VM)"},
    {57, "fork"},
    {58, "vfork"},
    {59, "execve"},
    {61, "wait4"},
    {62, "kill"},
    {79, "getcwd"},
    {80, "chdir"},
    {89, "readlink"},
    {96, "gettimeofday"},
    {97, "getrlimit"},
    {131, "sigaltstack"},
    {217, "getdents64"},
    {257, "openat"},
    {262, "newfstatat"},
    {270, "pselect6"},
    {302, "prlimit64"},
    {332, "statx"},
    {334, "rseq"},
};

static const char *linux_name(uint64_t nr)
{
    for (size_t i = 0; i < ARRAY_SIZE(linux_names); i++)
        if (linux_names[i].nr == nr)
            return linux_names[i].name;
    return "?";
}

static uint64_t reported[LNX_NR_MAX / 64];

// -ENOSYS, logged once per call number.
static int64_t unsupported(uint64_t nr)
{
    if (nr < LNX_NR_MAX &&
        !(__atomic_fetch_or(&reported[nr / 64], 1ull << (nr % 64), __ATOMIC_RELAXED) &
          (1ull << (nr % 64))))
        pr_warn("linux: unsupported system call %llu (%s) from %s[%llu]: -ENOSYS",
                (unsigned long long)nr, linux_name(nr), process_current()->name,
                (unsigned long long)process_current()->pid);
    return -LNX_ENOSYS;
}

int64_t linux_syscall(uint64_t nr, const uint64_t a[6])
{
    if (nr < LNX_NR_MAX && linux_table[nr])
        return linux_table[nr](a);
    return unsupported(nr);
}
