// Kernel threads and the scheduler. The kernel is not preemptible: a thread
// runs until it blocks, yields or exits (user threads are preempted on their
// way back to user mode). Priorities: higher runs first; equal priorities
// take turns. Each CPU has its own run queue; threads start on the least
// loaded CPU, idle CPUs take waiting threads from busy ones, and a thread
// may resume on another CPU after it blocked or yielded unless pinned.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sched/steal.h"

#include "arch.h"
#include "lib/list.h"
#include "lib/spinlock.h"
#include "mm/kstack.h"
#include "nimbus/status.h"
#include "sched/wait.h"

#define THREAD_NAME_MAX 32
#define PRIO_IDLE       0
#define PRIO_LOW        8
#define PRIO_DEFAULT    16
#define PRIO_HIGH       24
#define PRIO_MAX        31

enum thread_state {
    THREAD_NEW,     // created, not started
    THREAD_READY,   // on a run queue
    THREAD_RUNNING, // on a CPU
    THREAD_BLOCKED, // waiting (wait queue or sleep)
    THREAD_DEAD,    // exited, not yet reaped
};

struct thread {
    struct arch_context ctx; // saved while not running (run-queue lock)
    struct kstack stack;
    enum thread_state state; // (run-queue lock)
    int priority;
    unsigned cpu;              // run queue it belongs to (changes under both run-queue locks)
    bool pinned;               // runs only on `cpu` (set before start)
    bool placed;               // `cpu` chosen by thread_set_cpu (set before start)
    struct list_node rq_node;  // on a run queue while READY (run-queue lock)
    struct list_node all_node; // in the list of all threads (threads lock)
    char name[THREAD_NAME_MAX];
    int (*entry)(void *);
    void *arg;
    int exit_code;
    bool detached;               // freed by the scheduler when it exits
    volatile bool on_cpu;        // still running on its stack (cleared after the last switch away)
    struct spinlock lock;        // guards `exited` and `done`
    struct wait_queue exited;    // joiners (lock)
    bool done;                   // exited (lock)
    uint64_t runtime_ns;         // CPU time used, steal time excluded (run-queue lock)
    uint64_t steal_ns;           // host steal time while it ran (run-queue lock)
    uint64_t last_run;           // clock_monotonic_ns() when last switched in
    uint64_t last_steal;         // hv_steal_ns() of its CPU when last switched in
    struct steal_split run_seen; // readings of the current run so far (rq lock)
    uint64_t id;
    // User threads only (zero for kernel threads):
    paddr_t aspace_root;  // address space to run in
    uint64_t fs_base;     // user TLS base, saved at switch-out
    void *owner;          // the thread object of the user-space thread
    struct arch_fpu *fpu; // FPU/SSE registers while switched out (user threads)
    volatile bool killed; // asked to exit: waits end with ERR_CANCELED
    bool wake_sync;       // the next wake-up it makes hands over its CPU (interrupts off)
};

// Turns the running boot context into the first thread and creates the idle
// thread. Called once, after the timer hardware is up.
void sched_init(void);

// Creates a thread that will run entry(arg); it does not run until
// thread_start(). ERR_NO_MEMORY when there is no memory for it.
status_t thread_create(const char *name, int (*entry)(void *), void *arg, int priority,
                       struct thread **out);
void thread_start(struct thread *t);

// Makes t start on CPU `cpu` instead of the least loaded one; with `pinned`
// it never runs anywhere else. Before thread_start: ERR_BAD_STATE after,
// ERR_INVALID_ARGS for a CPU that is not online.
status_t thread_set_cpu(struct thread *t, unsigned cpu, bool pinned);

// Frees a thread that was created and never started.
void thread_discard(struct thread *t);

// Lets the thread free itself when it exits (no thread_join then).
void thread_detach(struct thread *t);

// Ends the calling thread with `code`.
__noreturn void thread_exit(int code);

// Waits until t exits (or the deadline passes: ERR_TIMED_OUT, t lives on),
// stores its exit code and frees it.
status_t thread_join(struct thread *t, uint64_t deadline, int *code);

struct thread *thread_current(void);
void thread_yield(void);

// Sleeps until clock_monotonic_ns() >= deadline.
void thread_sleep_until(uint64_t deadline);
void thread_sleep_ns(uint64_t ns);

// Internal to wait queues: blocks the current thread, releasing `lock`
// (held, with interrupts off) only once it is marked blocked. A thread
// already killed is not blocked: `lock` is released and it returns at once.
void sched_block_unlock(struct spinlock *lock);
// Makes a blocked thread runnable (no effect on other states).
void sched_wake(struct thread *t);
// Like sched_wake, for a waker that is about to block: a blocked thread
// that may run here (not pinned elsewhere) is moved to this CPU, with no
// IPI, so that the waker's block switches straight to it, provided nothing
// of its priority or higher waits here. Otherwise a plain sched_wake.
void sched_wake_sync(struct thread *t);

// Asks t to exit: sets its kill flag and ends any wait it is blocked in
// (with ERR_CANCELED). User threads act on it on their way back to user
// mode; kernel threads must check thread_current()->killed.
void thread_kill(struct thread *t);

// On the way back to user mode: switches away if a time slice ended or a
// higher-priority thread woke up.
void sched_preempt_point(void);

// CPU time t has used, including its current run if it is on a CPU now.
// Time the hypervisor ran something else on that CPU (steal time) is not
// counted; it goes to thread_cpu_times' *steal_ns.
uint64_t thread_runtime_ns(struct thread *t);
// Both of t's figures at one instant: *run_ns as thread_runtime_ns, and
// *steal_ns the steal time that accrued on its CPUs while it ran. Their sum
// is the wall time t spent on CPUs. Either pointer may be NULL.
void thread_cpu_times(struct thread *t, uint64_t *run_ns, uint64_t *steal_ns);

// Threads alive (not yet freed), for tests and `ps`.
unsigned sched_thread_count(void);

// Bringing up another CPU (the architecture calls these). On the boot CPU,
// before starting CPU `cpu`: its run queue and idle thread, whose stack top
// (*stack_top) the CPU starts on. Again for the same CPU: the same ones.
status_t sched_prepare_cpu(unsigned cpu, uint64_t *stack_top);
// On that CPU once its hardware is ready: becomes its idle thread and takes
// part in scheduling from then on.
__noreturn void sched_start_cpu(void);

struct sched_cpu_stats {
    bool online;         // the CPU schedules threads
    uint64_t idle_loops; // times its idle thread looked for work
    uint64_t switches;   // context switches
    uint64_t steals;     // threads it took from other CPUs' queues
    uint64_t handoffs;   // threads handed this CPU directly (sched_wake_sync)
    uint64_t steal_ns;   // host steal time charged to threads (idle too) at switches
    unsigned ready;      // threads waiting on its queue now
};
// ERR_INVALID_ARGS for cpu >= MAX_CPUS.
status_t sched_cpu_stats(unsigned cpu, struct sched_cpu_stats *out);
