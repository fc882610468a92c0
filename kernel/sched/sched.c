// Threads and the scheduler: per-CPU run queues with one FIFO per priority.
//
// Switch protocol: the run-queue lock is held (interrupts off) across
// arch_context_switch; the thread that resumes finishes the switch
// (finish_switch) and releases it. Lock order: object locks, then the
// run-queue lock, then allocator locks.
#include "lib/panic.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "sched/timer.h"

#define MAX_CPUS 64

struct runqueue {
    struct spinlock lock;
    struct list_node queues[PRIO_MAX + 1]; // READY threads per priority (lock)
    uint32_t ready_mask;                   // bit p: queues[p] not empty (lock)
    struct thread *current;                // (lock)
    struct thread *idle;
    struct thread *prev; // the thread switched away from, until finish_switch
    bool need_resched;   // a switch is due at the next preemption point (lock)
    struct ktimer slice; // ends the time slice of a user thread
};

#define TIME_SLICE_NS (10 * 1000000ull)

static struct runqueue runqueues[MAX_CPUS];
static struct thread boot_thread;
static struct spinlock threads_lock = SPINLOCK_INIT("threads");
static struct list_node all_threads = LIST_INIT(all_threads); // (threads_lock)
static unsigned thread_count;                                 // (threads_lock)
static uint64_t next_thread_id = 1;

static struct runqueue *this_rq(void)
{
    return &runqueues[arch_cpu_index()];
}

struct thread *thread_current(void)
{
    return this_rq()->current;
}

static void enqueue(struct runqueue *rq, struct thread *t)
{
    t->state = THREAD_READY;
    list_add_tail(&rq->queues[t->priority], &t->rq_node);
    rq->ready_mask |= 1u << t->priority;
    struct thread *cur = rq->current;
    // Preempt the idle thread, a lower priority, or (round robin) a user
    // thread of the same priority. Kernel threads only switch when they block
    // or yield.
    if (cur && (cur == rq->idle || t->priority > cur->priority ||
                (cur->aspace_root && t->priority == cur->priority)))
        rq->need_resched = true;
}

static struct thread *dequeue(struct runqueue *rq)
{
    if (!rq->ready_mask)
        return NULL;
    int p = 31 - __builtin_clz(rq->ready_mask);
    struct list_node *n = list_pop_head(&rq->queues[p]);
    if (list_empty(&rq->queues[p]))
        rq->ready_mask &= ~(1u << p);
    return list_entry(n, struct thread, rq_node);
}

static void free_thread(struct thread *t)
{
    irqstate_t s = spin_lock_irqsave(&threads_lock);
    list_remove(&t->all_node);
    thread_count--;
    spin_unlock_irqrestore(&threads_lock, s);
    kstack_free(&t->stack);
    kfree(t);
}

// Runs on the thread just switched to, with rq->lock held.
static void finish_switch(struct runqueue *rq)
{
    struct thread *prev = rq->prev;
    rq->prev = NULL;
    if (!prev)
        return;
    __atomic_store_n(&prev->on_cpu, false, __ATOMIC_RELEASE);
    if (prev->state == THREAD_DEAD && prev->detached)
        free_thread(prev); // nothing runs on its stack any more
}

// Picks the next thread and switches to it. rq->lock held, interrupts off;
// returns (with the lock held) when the caller runs again.
static void schedule_locked(struct runqueue *rq)
{
    struct thread *prev = rq->current;
    uint64_t now = clock_monotonic_ns();
    prev->runtime_ns += now - prev->last_run;
    if (prev->state == THREAD_RUNNING && prev != rq->idle)
        enqueue(rq, prev);
    struct thread *next = dequeue(rq);
    if (!next)
        next = rq->idle;
    next->last_run = now;
    if (next == prev) {
        prev->state = THREAD_RUNNING;
        return;
    }
    next->state = THREAD_RUNNING;
    next->on_cpu = true;
    rq->prev = prev;
    rq->current = next;
    rq->need_resched = false;
    if (prev->aspace_root)
        prev->fs_base = arch_read_fs_base();
    arch_prepare_switch(next->stack.top, next->aspace_root, next->fs_base);
    // Threads of equal priority waiting: give a user thread a time slice.
    if (next->aspace_root && (rq->ready_mask >> next->priority))
        ktimer_arm(&rq->slice, now + TIME_SLICE_NS);
    arch_context_switch(&prev->ctx, &next->ctx);
    finish_switch(rq);
}

void sched_preempt_point(void)
{
    struct runqueue *rq = this_rq();
    if (READ_ONCE(rq->need_resched))
        thread_yield();
}

void thread_kill(struct thread *t)
{
    t->killed = true;
    sched_wake(t); // a blocked thread returns ERR_CANCELED from its wait
}

static void slice_expired(struct ktimer *tm, void *arg)
{
    struct runqueue *rq = arg;
    rq->need_resched = true;
}

void thread_yield(void)
{
    struct runqueue *rq = this_rq();
    irqstate_t s = spin_lock_irqsave(&rq->lock);
    schedule_locked(rq);
    spin_unlock_irqrestore(&rq->lock, s);
}

void sched_block_unlock(struct spinlock *lock)
{
    struct runqueue *rq = this_rq();
    spin_lock(&rq->lock);
    rq->current->state = THREAD_BLOCKED;
    spin_unlock(lock);
    schedule_locked(rq);
    spin_unlock(&rq->lock);
}

void sched_wake(struct thread *t)
{
    struct runqueue *rq = &runqueues[t->cpu];
    irqstate_t s = spin_lock_irqsave(&rq->lock);
    if (t->state == THREAD_BLOCKED)
        enqueue(rq, t);
    spin_unlock_irqrestore(&rq->lock, s);
}

// First code of every new thread.
static void thread_trampoline(void)
{
    struct runqueue *rq = this_rq();
    finish_switch(rq);
    spin_unlock(&rq->lock);
    arch_irq_enable();
    struct thread *t = rq->current;
    thread_exit(t->entry(t->arg));
}

static void register_thread(struct thread *t, const char *name, int priority)
{
    kstrlcpy(t->name, name, sizeof(t->name));
    t->priority = priority < PRIO_IDLE ? PRIO_IDLE : priority > PRIO_MAX ? PRIO_MAX : priority;
    t->cpu = arch_cpu_index();
    t->lock = (struct spinlock)SPINLOCK_INIT("thread");
    list_init(&t->rq_node);
    wait_queue_init(&t->exited);
    t->id = __atomic_fetch_add(&next_thread_id, 1, __ATOMIC_RELAXED);
    irqstate_t s = spin_lock_irqsave(&threads_lock);
    list_add_tail(&all_threads, &t->all_node);
    thread_count++;
    spin_unlock_irqrestore(&threads_lock, s);
}

status_t thread_create(const char *name, int (*entry)(void *), void *arg, int priority,
                       struct thread **out)
{
    struct thread *t = kzalloc(sizeof(*t));
    if (!t)
        return ERR_NO_MEMORY;
    status_t st = kstack_alloc(&t->stack);
    if (st != OK) {
        kfree(t);
        return st;
    }
    t->entry = entry;
    t->arg = arg;
    t->state = THREAD_NEW;
    arch_context_init(&t->ctx, t->stack.top, thread_trampoline);
    register_thread(t, name, priority);
    *out = t;
    return OK;
}

void thread_start(struct thread *t)
{
    struct runqueue *rq = &runqueues[t->cpu];
    irqstate_t s = spin_lock_irqsave(&rq->lock);
    if (t->state == THREAD_NEW)
        enqueue(rq, t);
    spin_unlock_irqrestore(&rq->lock, s);
}

void thread_exit(int code)
{
    struct thread *t = thread_current();
    if (t == &boot_thread || t == this_rq()->idle)
        panic("sched: the %s thread cannot exit", t->name);
    irqstate_t s = spin_lock_irqsave(&t->lock);
    (void)s; // this thread never runs again
    t->exit_code = code;
    t->done = true;
    wait_queue_wake(&t->exited, -1, OK);
    struct runqueue *rq = this_rq();
    spin_lock(&rq->lock);
    t->state = THREAD_DEAD;
    spin_unlock(&t->lock);
    schedule_locked(rq);
    panic("sched: a dead thread ran again");
}

status_t thread_join(struct thread *t, uint64_t deadline, int *code)
{
    irqstate_t s = spin_lock_irqsave(&t->lock);
    status_t st = OK;
    while (!t->done && st == OK)
        st = wait_queue_block(&t->exited, &t->lock, deadline);
    bool done = t->done;
    spin_unlock_irqrestore(&t->lock, s);
    if (!done)
        return ERR_TIMED_OUT;
    while (__atomic_load_n(&t->on_cpu, __ATOMIC_ACQUIRE))
        arch_cpu_relax(); // it is switching away for the last time
    if (code)
        *code = t->exit_code;
    free_thread(t);
    return OK;
}

void thread_discard(struct thread *t)
{
    if (t->state != THREAD_NEW)
        panic("sched: discarding thread %s that was started", t->name);
    free_thread(t);
}

void thread_detach(struct thread *t)
{
    irqstate_t s = spin_lock_irqsave(&t->lock);
    bool done = t->done;
    if (!done)
        t->detached = true; // freed by finish_switch after its last switch
    spin_unlock_irqrestore(&t->lock, s);
    if (done)
        thread_join(t, DEADLINE_INFINITE, NULL);
}

void thread_sleep_until(uint64_t deadline)
{
    struct wait_queue wq;
    struct spinlock lock = SPINLOCK_INIT("sleep");
    wait_queue_init(&wq);
    irqstate_t s = spin_lock_irqsave(&lock);
    while (clock_monotonic_ns() < deadline && !thread_current()->killed)
        wait_queue_block(&wq, &lock, deadline);
    spin_unlock_irqrestore(&lock, s);
}

void thread_sleep_ns(uint64_t ns)
{
    thread_sleep_until(clock_monotonic_ns() + ns);
}

unsigned sched_thread_count(void)
{
    return thread_count;
}

static int idle_main(void *arg)
{
    struct runqueue *rq = this_rq();
    for (;;) {
        irqstate_t s = spin_lock_irqsave(&rq->lock);
        if (rq->ready_mask) {
            schedule_locked(rq);
            spin_unlock_irqrestore(&rq->lock, s);
            continue;
        }
        spin_unlock(&rq->lock);
        arch_idle(); // interrupts on, halt until one arrives
    }
    return 0;
}

void sched_init(void)
{
    struct runqueue *rq = this_rq();
    rq->lock = (struct spinlock)SPINLOCK_INIT("runqueue");
    for (int p = 0; p <= PRIO_MAX; p++)
        list_init(&rq->queues[p]);
    ktimer_init(&rq->slice, slice_expired, rq);
    register_thread(&boot_thread, "boot", PRIO_DEFAULT);
    boot_thread.state = THREAD_RUNNING;
    boot_thread.on_cpu = true;
    boot_thread.last_run = clock_monotonic_ns();
    rq->current = &boot_thread;
    struct thread *idle;
    if (thread_create("idle", idle_main, NULL, PRIO_IDLE, &idle) != OK)
        panic("sched: no memory for the idle thread");
    idle->state = THREAD_RUNNING; // never on a queue: picked when nothing else is
    rq->idle = idle;
}
