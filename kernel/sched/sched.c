// Threads and the scheduler: per-CPU run queues with one FIFO per priority.
//
// Switch protocol: the run-queue lock is held (interrupts off) across
// arch_context_switch; the thread that resumes finishes the switch
// (finish_switch) and releases the lock of the run queue it resumed on,
// which is another CPU's if it moved meanwhile. Lock order: object locks,
// then run-queue locks (two at once: lower CPU first), then timer and
// allocator locks.
//
// SMP: thread_start puts a thread on the least loaded CPU; a woken thread
// goes back to the queue of its CPU, which is interrupted if it is idle or
// must preempt. A thread queued behind a busy CPU makes an idle CPU look
// for work: an idle CPU takes the best unpinned thread waiting on the
// longest other queue. thread->cpu changes only with both run-queue locks
// held, so holding either keeps it stable; a READY or BLOCKED thread found
// under its queue's lock has finished switching out.
#include "hv/kvm.h"
#include "lib/panic.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "sched/timer.h"
#include "sys/ioport.h"

struct runqueue {
    struct spinlock lock;
    struct list_node queues[PRIO_MAX + 1]; // READY threads per priority (lock)
    uint32_t ready_mask;                   // bit p: queues[p] not empty (lock)
    unsigned nr_ready;                     // threads on the queues (lock; read unlocked as a hint)
    struct thread *current;                // (lock; read unlocked as a hint)
    struct thread *idle;
    struct thread *prev; // the thread switched away from, until finish_switch
    bool need_resched;   // a switch is due at the next preemption point (lock)
    bool online;         // takes threads (set once, by the CPU itself)
    unsigned cpu;
    struct ktimer slice;          // ends the time slice of a user thread
    struct sched_cpu_stats stats; // (lock)
};

#define TIME_SLICE_NS (10 * 1000000ull)

static struct runqueue runqueues[MAX_CPUS];
static unsigned cpus_online;      // run queues online: CPUs 0 .. cpus_online - 1
static unsigned placement_cursor; // round robin among equally loaded CPUs
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

static void lock_two(struct runqueue *a, struct runqueue *b)
{
    spin_lock(a->cpu < b->cpu ? &a->lock : &b->lock);
    spin_lock(a->cpu < b->cpu ? &b->lock : &a->lock);
}

// Locks the run queue t belongs to. Interrupts off.
static struct runqueue *lock_thread_rq(struct thread *t)
{
    for (;;) {
        struct runqueue *rq = &runqueues[READ_ONCE(t->cpu)];
        spin_lock(&rq->lock);
        if (READ_ONCE(t->cpu) == rq->cpu)
            return rq;
        spin_unlock(&rq->lock); // it moved meanwhile
    }
}

static void queue_thread(struct runqueue *rq, struct thread *t)
{
    t->state = THREAD_READY;
    list_add_tail(&rq->queues[t->priority], &t->rq_node);
    rq->ready_mask |= 1u << t->priority;
    rq->nr_ready++;
}

static void unqueue_thread(struct runqueue *rq, struct thread *t)
{
    list_remove(&t->rq_node);
    if (list_empty(&rq->queues[t->priority]))
        rq->ready_mask &= ~(1u << t->priority);
    rq->nr_ready--;
}

static struct thread *dequeue(struct runqueue *rq)
{
    if (!rq->ready_mask)
        return NULL;
    int p = 31 - __builtin_clz(rq->ready_mask);
    struct thread *t = list_entry(rq->queues[p].next, struct thread, rq_node);
    unqueue_thread(rq, t);
    return t;
}

static bool cpu_idle(struct runqueue *rq)
{
    return READ_ONCE(rq->current) == rq->idle && !READ_ONCE(rq->nr_ready);
}

// A thread waits on busy rq: interrupt an idle CPU so that it takes it.
static void kick_idle_cpu(struct runqueue *rq)
{
    unsigned n = READ_ONCE(cpus_online), self = arch_cpu_index();
    for (unsigned i = 1; i < n; i++) {
        struct runqueue *other = &runqueues[(rq->cpu + i) % n];
        if (other->cpu != self && cpu_idle(other)) {
            arch_send_reschedule(other->cpu);
            return;
        }
    }
}

// Whether t, made runnable on rq, preempts what rq's CPU runs: the idle
// thread, a lower priority, or (round robin) a user thread of the same
// priority. Kernel threads only switch when they block or yield.
static bool preempts(struct runqueue *rq, struct thread *t)
{
    struct thread *cur = rq->current;
    return cur && (cur == rq->idle || t->priority > cur->priority ||
                   (cur->aspace_root && t->priority == cur->priority));
}

// Puts t on rq and decides who runs it: rq's CPU at once (idle, or a
// preemption is due), else maybe an idle CPU. rq->lock held.
static void enqueue(struct runqueue *rq, struct thread *t)
{
    queue_thread(rq, t);
    if (preempts(rq, t)) {
        rq->need_resched = true;
        arch_send_reschedule(rq->cpu); // (nothing if it is this CPU)
    } else if (!t->pinned) {
        kick_idle_cpu(rq);
    }
}

static void free_thread(struct thread *t)
{
    irqstate_t s = spin_lock_irqsave(&threads_lock);
    list_remove(&t->all_node);
    spin_unlock_irqrestore(&threads_lock, s);
    kstack_put(&t->stack);
    kfree(t->fpu);
    kfree(t);
    // Counted out last: once the count drops, its memory is back (tests
    // on other CPUs rely on that).
    s = spin_lock_irqsave(&threads_lock);
    thread_count--;
    spin_unlock_irqrestore(&threads_lock, s);
}

// Runs on the thread just switched to, with rq->lock held.
static void finish_switch(struct runqueue *rq)
{
    struct thread *prev = rq->prev;
    rq->prev = NULL;
    if (!prev)
        return;
    // Decided before on_cpu drops: from then on a joiner may free prev.
    bool reap = prev->state == THREAD_DEAD && prev->detached;
    __atomic_store_n(&prev->on_cpu, false, __ATOMIC_RELEASE);
    if (reap)
        free_thread(prev); // nothing runs on its stack any more
}

// Steal time that accrued during t's current run, given the wall time and
// the CPU's steal counter now: never more than the run itself (the counter
// starts late on a CPU that registers its area after switching in), and
// neither runtime nor steal going back on an earlier reading of the run
// (sched/steal.h). t's run queue lock held.
static uint64_t run_steal(struct thread *t, uint64_t now, uint64_t steal_now)
{
    uint64_t stolen = steal_now > t->last_steal ? steal_now - t->last_steal : 0;
    return steal_split(&t->run_seen, now - t->last_run, stolen);
}

// Closes prev's run at `now`: wall time split into runtime and steal.
static void account_run(struct runqueue *rq, struct thread *prev, uint64_t now, uint64_t steal_now)
{
    uint64_t stolen = run_steal(prev, now, steal_now);
    prev->runtime_ns += now - prev->last_run - stolen;
    prev->steal_ns += stolen;
    rq->stats.steal_ns += stolen;
}

// Picks the next thread and switches to it. rq->lock held, interrupts off.
// Returns when the caller runs again, with the lock of the run queue it now
// runs on held (another one if it moved).
static struct runqueue *schedule_locked(struct runqueue *rq)
{
    struct thread *prev = rq->current;
    uint64_t now = clock_monotonic_ns();
    uint64_t steal_now = hv_steal_ns(rq->cpu);
    account_run(rq, prev, now, steal_now);
    bool requeue = prev->state == THREAD_RUNNING && prev != rq->idle;
    if (requeue)
        queue_thread(rq, prev);
    struct thread *next = dequeue(rq);
    if (!next)
        next = rq->idle;
    next->last_run = now;
    next->last_steal = steal_now;
    next->run_seen = (struct steal_split){0};
    rq->need_resched = false;
    if (next == prev) {
        prev->state = THREAD_RUNNING;
        return rq;
    }
    if (requeue && !prev->pinned)
        kick_idle_cpu(rq); // prev waits now: an idle CPU may take it
    next->state = THREAD_RUNNING;
    next->on_cpu = true;
    rq->prev = prev;
    rq->current = next;
    rq->stats.switches++;
    if (prev->aspace_root)
        prev->fs_base = arch_read_fs_base();
    arch_prepare_switch(next->stack.top, next->aspace_root, next->fs_base);
    if (next->owner)
        user_switch_in(next->owner); // per-process CPU state: the I/O permission bitmap
    // Threads of equal priority waiting: give a user thread a time slice.
    if (next->aspace_root && (rq->ready_mask >> next->priority))
        ktimer_arm(&rq->slice, now + TIME_SLICE_NS);
    if (prev->fpu)
        arch_fpu_save(prev->fpu);
    if (next->fpu)
        arch_fpu_restore(next->fpu);
    arch_context_switch(&prev->ctx, &next->ctx);
    rq = this_rq();
    finish_switch(rq);
    return rq;
}

void sched_preempt_point(void)
{
    struct runqueue *rq = this_rq();
    if (READ_ONCE(rq->need_resched))
        thread_yield();
}

void thread_kill(struct thread *t)
{
    __atomic_store_n(&t->killed, true, __ATOMIC_SEQ_CST);
    irqstate_t s = arch_irq_save();
    struct runqueue *rq = lock_thread_rq(t);
    if (t->state == THREAD_BLOCKED)
        enqueue(rq, t); // its wait returns ERR_CANCELED
    else if (t->state == THREAD_RUNNING)
        arch_send_reschedule(rq->cpu); // into the kernel, to see the kill on the way out
    spin_unlock(&rq->lock);
    arch_irq_restore(s);
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
    rq = schedule_locked(rq);
    spin_unlock_irqrestore(&rq->lock, s);
}

void sched_block_unlock(struct spinlock *lock)
{
    struct runqueue *rq = this_rq();
    spin_lock(&rq->lock);
    // A kill that came after the caller's check but before this lock does
    // not find us blocked: do not block (the caller sees it was not woken).
    if (READ_ONCE(rq->current->killed)) {
        spin_unlock(lock);
        spin_unlock(&rq->lock);
        return;
    }
    rq->current->state = THREAD_BLOCKED;
    spin_unlock(lock);
    rq = schedule_locked(rq);
    spin_unlock(&rq->lock);
}

void sched_wake(struct thread *t)
{
    irqstate_t s = arch_irq_save();
    struct runqueue *rq = lock_thread_rq(t);
    if (t->state == THREAD_BLOCKED)
        enqueue(rq, t);
    spin_unlock(&rq->lock);
    arch_irq_restore(s);
}

// Locks this CPU's run queue and, if t belongs to another one, that one
// too (lower CPU first); returns t's. Interrupts off.
static struct runqueue *lock_self_and_thread_rq(struct runqueue *self, struct thread *t)
{
    for (;;) {
        struct runqueue *rq = &runqueues[READ_ONCE(t->cpu)];
        if (rq == self)
            spin_lock(&self->lock);
        else
            lock_two(self, rq);
        if (READ_ONCE(t->cpu) == rq->cpu)
            return rq;
        spin_unlock(&self->lock); // it moved meanwhile
        if (rq != self)
            spin_unlock(&rq->lock);
    }
}

// Direct hand-off (wait_wake_sync_begin): a blocked thread comes to this
// CPU and waits for the waker to block; no IPI, no idle CPU kicked. A
// BLOCKED thread found under its queue's lock has switched out, so it may
// move (both locks held). If the waker runs on after all, the usual
// preemption rule applies on its way back to user mode. Only when nothing of
// its priority or higher waits here, so that it is next: putting it ahead of
// waiting threads would starve them (a caller and its server handing the
// CPU back and forth would never let them run), and behind them the pull
// gains nothing; then it is a plain wake-up where it was.
void sched_wake_sync(struct thread *t)
{
    irqstate_t s = arch_irq_save();
    struct runqueue *self = this_rq();
    struct runqueue *rq = lock_self_and_thread_rq(self, t);
    if (t->state == THREAD_BLOCKED) {
        if ((rq != self && t->pinned) || (self->ready_mask >> t->priority)) {
            enqueue(rq, t);
        } else {
            t->cpu = self->cpu;
            queue_thread(self, t);
            if (preempts(self, t))
                self->need_resched = true;
            self->stats.handoffs++;
        }
    }
    if (rq != self)
        spin_unlock(&rq->lock);
    spin_unlock(&self->lock);
    arch_irq_restore(s);
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
    status_t st = kstack_get(&t->stack);
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

status_t thread_set_cpu(struct thread *t, unsigned cpu, bool pinned)
{
    if (t->state != THREAD_NEW)
        return ERR_BAD_STATE;
    if (cpu >= MAX_CPUS || !READ_ONCE(runqueues[cpu].online))
        return ERR_INVALID_ARGS;
    t->cpu = cpu; // nobody else looks at a thread before it starts
    t->pinned = pinned;
    t->placed = true;
    return OK;
}

// The least loaded online CPU (running thread plus waiting ones), the next
// one in turn among equals. A hint: loads are read unlocked.
static unsigned select_cpu(void)
{
    unsigned n = READ_ONCE(cpus_online), best = 0, best_load = ~0u;
    unsigned start = __atomic_fetch_add(&placement_cursor, 1, __ATOMIC_RELAXED) % n;
    for (unsigned i = 0; i < n; i++) {
        struct runqueue *rq = &runqueues[(start + i) % n];
        unsigned load = READ_ONCE(rq->nr_ready) + (READ_ONCE(rq->current) != rq->idle);
        if (load < best_load) {
            best = rq->cpu;
            best_load = load;
        }
    }
    return best;
}

void thread_start(struct thread *t)
{
    if (t->state != THREAD_NEW)
        return;
    if (!t->placed)
        t->cpu = select_cpu();
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

void thread_cpu_times(struct thread *t, uint64_t *run_ns, uint64_t *steal_ns)
{
    irqstate_t s = arch_irq_save();
    struct runqueue *rq = lock_thread_rq(t);
    uint64_t run = t->runtime_ns, steal = t->steal_ns;
    if (t->state == THREAD_RUNNING && t != rq->idle) {
        uint64_t now = clock_monotonic_ns();
        uint64_t stolen = run_steal(t, now, hv_steal_ns(rq->cpu));
        run += now - t->last_run - stolen;
        steal += stolen;
    }
    spin_unlock(&rq->lock);
    arch_irq_restore(s);
    if (run_ns)
        *run_ns = run;
    if (steal_ns)
        *steal_ns = steal;
}

uint64_t thread_runtime_ns(struct thread *t)
{
    uint64_t ns;
    thread_cpu_times(t, &ns, NULL);
    return ns;
}

unsigned sched_thread_count(void)
{
    return thread_count;
}

// The best unpinned thread waiting on rq, or NULL. rq->lock held.
static struct thread *pick_movable(struct runqueue *rq)
{
    for (int p = PRIO_MAX; p >= 0; p--) {
        if (!(rq->ready_mask & (1u << p)))
            continue;
        list_for_each(it, &rq->queues[p])
        {
            struct thread *t = list_entry(it, struct thread, rq_node);
            if (!t->pinned)
                return t;
        }
    }
    return NULL;
}

// The other CPU with the most threads waiting beyond what it can run now.
static struct runqueue *busiest(struct runqueue *self)
{
    struct runqueue *best = NULL;
    unsigned n = READ_ONCE(cpus_online), best_wait = 0;
    for (unsigned i = 0; i < n; i++) {
        struct runqueue *rq = &runqueues[i];
        unsigned ready = READ_ONCE(rq->nr_ready);
        unsigned waiting = READ_ONCE(rq->current) == rq->idle && ready ? ready - 1 : ready;
        if (rq != self && waiting > best_wait) {
            best = rq;
            best_wait = waiting;
        }
    }
    return best;
}

// On an idle CPU with nothing queued: moves a thread waiting on the busiest
// other queue here. rq->lock held on entry and on return.
static void steal_work(struct runqueue *rq)
{
    struct runqueue *victim = busiest(rq);
    if (!victim)
        return;
    spin_unlock(&rq->lock);
    lock_two(rq, victim);
    struct thread *t = rq->ready_mask ? NULL : pick_movable(victim);
    if (t) {
        unqueue_thread(victim, t);
        t->cpu = rq->cpu; // both locks held
        queue_thread(rq, t);
        rq->stats.steals++;
    }
    spin_unlock(&victim->lock);
}

static int idle_main(void *arg)
{
    struct runqueue *rq = this_rq();
    for (;;) {
        irqstate_t s = spin_lock_irqsave(&rq->lock);
        rq->stats.idle_loops++;
        if (!rq->ready_mask)
            steal_work(rq);
        if (rq->ready_mask) {
            rq = schedule_locked(rq);
            spin_unlock_irqrestore(&rq->lock, s);
            continue;
        }
        spin_unlock(&rq->lock);
        arch_idle(); // interrupts on, halt until one arrives
    }
    return 0;
}

static void rq_init(struct runqueue *rq, unsigned cpu)
{
    rq->lock = (struct spinlock)SPINLOCK_INIT("runqueue");
    rq->cpu = cpu;
    for (int p = 0; p <= PRIO_MAX; p++)
        list_init(&rq->queues[p]);
    ktimer_init(&rq->slice, slice_expired, rq);
}

// The idle thread of CPU `cpu`: never on a queue, picked when nothing else is.
static status_t create_idle(struct runqueue *rq)
{
    struct thread *idle;
    status_t st = thread_create("idle", idle_main, NULL, PRIO_IDLE, &idle);
    if (st != OK)
        return st;
    idle->cpu = rq->cpu;
    idle->pinned = true;
    idle->state = THREAD_RUNNING;
    rq->idle = idle;
    return OK;
}

// Counts a CPU in once it schedules. CPUs come online in index order.
static void set_online(struct runqueue *rq)
{
    WRITE_ONCE(rq->online, true);
    __atomic_fetch_add(&cpus_online, 1, __ATOMIC_RELEASE);
}

void sched_init(void)
{
    kstack_reserve_init();
    struct runqueue *rq = this_rq();
    rq_init(rq, arch_cpu_index());
    register_thread(&boot_thread, "boot", PRIO_DEFAULT);
    boot_thread.state = THREAD_RUNNING;
    boot_thread.on_cpu = true;
    boot_thread.last_run = clock_monotonic_ns();
    boot_thread.last_steal = hv_steal_ns(rq->cpu);
    rq->current = &boot_thread;
    if (create_idle(rq) != OK)
        panic("sched: no memory for the idle thread");
    set_online(rq);
}

status_t sched_prepare_cpu(unsigned cpu, uint64_t *stack_top)
{
    if (cpu >= MAX_CPUS)
        return ERR_INVALID_ARGS;
    struct runqueue *rq = &runqueues[cpu];
    if (!rq->idle) {
        rq_init(rq, cpu);
        status_t st = create_idle(rq);
        if (st != OK)
            return st;
    }
    *stack_top = rq->idle->stack.top;
    return OK;
}

void sched_start_cpu(void)
{
    struct runqueue *rq = this_rq();
    struct thread *idle = rq->idle;
    idle->on_cpu = true;
    idle->last_run = clock_monotonic_ns();
    idle->last_steal = hv_steal_ns(rq->cpu);
    rq->current = idle;
    arch_prepare_switch(idle->stack.top, 0, 0);
    set_online(rq);
    idle_main(NULL);
    panic("sched: the idle loop ended");
}

status_t sched_cpu_stats(unsigned cpu, struct sched_cpu_stats *out)
{
    if (cpu >= MAX_CPUS)
        return ERR_INVALID_ARGS;
    struct runqueue *rq = &runqueues[cpu];
    if (!READ_ONCE(rq->online)) {
        *out = (struct sched_cpu_stats){0};
        return OK;
    }
    irqstate_t s = spin_lock_irqsave(&rq->lock);
    *out = rq->stats;
    out->online = true;
    out->ready = rq->nr_ready;
    spin_unlock_irqrestore(&rq->lock, s);
    return OK;
}
