// Processes and user threads: kernel objects reached through handles.
//
// A process is an address space, a handle table and its threads; it is
// TERMINATED when its last thread ends (exit, kill or fault), at which point
// its handles are closed and its memory freed, while the process object
// lives on for as long as handles to it exist (to read the exit code).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mm/vm.h"
#include "nimbus/process.h"
#include "obj/handle.h"
#include "obj/log.h"
#include "sched/thread.h"

struct fd_table;

struct process {
    struct kobject obj;
    uint64_t pid;
    char name[NB_PROCESS_NAME_MAX];
    struct handle_table handles;
    struct vm_aspace *as;
    struct list_node threads;        // struct uthread (obj lock)
    uint32_t nthreads;               // (obj lock) created and not yet ended
    uint32_t running;                // (obj lock) started and not yet ended
    uint32_t state;                  // NB_PROCESS_* (obj lock)
    uint32_t flags;                  // NB_PROCESS_KILLED/FAULTED (obj lock)
    int64_t exit_code;               // (obj lock)
    uint64_t cpu_ns;                 // CPU time of ended threads (obj lock)
    struct list_node all_node;       // in the list of all processes (process list lock)
    struct logobj_bucket log_bucket; // rate limit of its log lines (log object's lock)
    // Linux personality: the program break.
    vaddr_t brk_base, brk_cur, brk_limit;
    // I/O ports it may use (NB_SYS_IOPORT_ENABLE), or NULL (sys/ioport.h).
    struct iobitmap *iobitmap;
    // Linux personality: file descriptors (sys/fd.h), made on first use,
    // freed at teardown (atomic pointer).
    struct fd_table *fds;
};

struct uthread {
    struct kobject obj;
    struct process *proc;       // a reference is held
    struct thread *kt;          // the scheduler's thread
    struct list_node proc_node; // in proc->threads (proc obj lock)
    bool started, ended;        // (proc obj lock)
    struct user_regs regs;      // what it enters user mode with (set once, at start)
    // Linux personality (written by the thread itself, or before it starts):
    uintptr_t clear_child_tid; // set_tid_address / CLONE_CHILD_CLEARTID
    uintptr_t robust_list;     // set_robust_list (kept, not walked)
};

// A new process named `name` with an empty address space, in state NEW, as
// a handle in t (default rights: all but EXECUTE and MAP).
status_t process_create(struct handle_table *t, const char *name, handle_t *out);
// The same for the kernel itself (no handle); one reference held.
status_t process_create_kernel(const char *name, struct process **out);
// The same without a process id (pid 0, never found by process_get_by_pid):
// the boot-time user-mode probe, so that init, the first real process, is
// pid 1.
status_t process_create_kernel_nopid(const char *name, struct process **out);

// Creates a thread in p (not started).
status_t uthread_create(struct process *p, struct uthread **out);
// Starts a thread at entry with stack, rdi = arg1, rsi = arg2.
status_t uthread_start(struct uthread *ut, uint64_t entry, uint64_t stack, uint64_t arg1,
                       uint64_t arg2);
// Starts a thread with the user registers *regs and user TLS base fs_base.
// ERR_BAD_STATE if it was started before or its process is ending.
status_t uthread_start_regs(struct uthread *ut, const struct user_regs *regs, uint64_t fs_base);

// Starts p's first thread; `bootstrap` (a handle of the caller's table t, or
// HANDLE_INVALID) moves into p's table and its value there is passed as
// arg1. ERR_BAD_STATE unless p is NEW.
status_t process_start(struct process *p, struct handle_table *t, handle_t bootstrap,
                       uint64_t entry, uint64_t stack, uint64_t arg2);

// Starts p's first thread with a handle already in p's table as arg1 (the
// kernel launching /init).
status_t process_start_handle(struct process *p, handle_t arg1, uint64_t entry, uint64_t stack);

// Ends every thread of p with `code` (flags say why).
void process_kill(struct process *p, int64_t code, uint32_t flags);

// Ends the calling user thread; the last thread of a process ends it with
// `code`.
__noreturn void uthread_exit(int64_t code);
// Ends the calling thread's whole process.
__noreturn void process_exit(int64_t code);

// The process of the calling thread, or NULL for a kernel thread.
struct process *process_current(void);
struct uthread *uthread_current(void);

// From a handle, with a reference (drop with obj_unref).
status_t process_get(struct handle_table *t, handle_t h, rights_t need, struct process **out);
status_t uthread_get(struct handle_table *t, handle_t h, rights_t need, struct uthread **out);

void process_info(struct process *p, struct nb_process_info *out);

// Waits (kernel callers) until p is TERMINATED or the deadline passes.
status_t process_wait(struct process *p, uint64_t deadline);

// Fills out[0 .. min(max, n)) with the info of every process object that
// exists (DEAD ones too, until their last handle goes), oldest first;
// returns n.
size_t process_list(struct nb_process_info *out, size_t max);

// The process with id `pid`, with a reference (drop with obj_unref);
// ERR_NOT_FOUND if there is none or it is DEAD.
status_t process_get_by_pid(uint64_t pid, struct process **out);

// Calls fn for every process (process list lock held: fn must not block).
void process_for_each(void (*fn)(struct process *p, void *ctx), void *ctx);
uint64_t process_live_count(void);

// Whether user mode works on this machine: runs a tiny program once (the
// first call) that makes a system call. False under hypervisors that cannot
// deliver SYSCALL from user mode (nested KVM of the project's machines).
bool user_mode_works(void);

// Loads a raw code blob at 0x400000 with a stack and starts it (tests and
// the probe above).
status_t process_load_blob(struct process *p, const void *code, size_t n);
