// Wait queues on top of the scheduler, with optional deadlines.
#include "sched/clock.h"
#include "sched/thread.h"
#include "sched/timer.h"
#include "sched/wait.h"

struct waiter {
    struct list_node node; // in wq->waiters until woken (owner's lock)
    struct thread *thread;
    struct spinlock *lock; // the owner's lock, for the timeout path
    status_t result;       // (owner's lock)
    bool woken;            // (owner's lock)
    volatile bool timer_done;
};

static void wake_waiter(struct waiter *w, status_t result)
{
    list_remove(&w->node);
    w->woken = true;
    w->result = result;
    struct thread *self = thread_current();
    if (self->wake_sync) {
        self->wake_sync = false; // the first wake-up only
        sched_wake_sync(w->thread);
    } else {
        sched_wake(w->thread);
    }
}

void wait_wake_sync_begin(void)
{
    thread_current()->wake_sync = true;
}

void wait_wake_sync_end(void)
{
    thread_current()->wake_sync = false;
}

static void wait_timeout(struct ktimer *t, void *arg)
{
    struct waiter *w = arg;
    irqstate_t s = spin_lock_irqsave(w->lock);
    if (!w->woken)
        wake_waiter(w, ERR_TIMED_OUT);
    spin_unlock_irqrestore(w->lock, s);
    __atomic_store_n(&w->timer_done, true, __ATOMIC_RELEASE);
}

status_t wait_queue_block(struct wait_queue *wq, struct spinlock *lock, uint64_t deadline)
{
    if (thread_current()->killed)
        return ERR_CANCELED;
    if (deadline == DEADLINE_NONE || deadline <= clock_monotonic_ns())
        return ERR_TIMED_OUT;
    struct waiter w = {.thread = thread_current(), .lock = lock, .result = ERR_TIMED_OUT};
    struct ktimer timer;
    list_add_tail(&wq->waiters, &w.node);
    if (deadline != DEADLINE_INFINITE) {
        ktimer_init(&timer, wait_timeout, &w);
        ktimer_arm(&timer, deadline);
    }
    sched_block_unlock(lock);
    // (1) The timer must be gone before w leaves scope: cancel it, or wait
    // for a callback already running elsewhere. Done unlocked: the callback
    // takes `lock`.
    if (deadline != DEADLINE_INFINITE && !ktimer_cancel(&timer))
        while (!__atomic_load_n(&w.timer_done, __ATOMIC_ACQUIRE))
            arch_cpu_relax();
    spin_lock(lock);
    // (2) Not woken by the queue: thread_kill() woke us. Leave the queue.
    if (!w.woken) {
        list_remove(&w.node);
        w.result = ERR_CANCELED;
    }
    return w.result;
}

int wait_queue_wake(struct wait_queue *wq, int max, status_t result)
{
    int n = 0;
    while ((max < 0 || n < max) && !list_empty(&wq->waiters)) {
        wake_waiter(list_entry(wq->waiters.next, struct waiter, node), result);
        n++;
    }
    return n;
}

int wait_queue_count(const struct wait_queue *wq)
{
    int n = 0;
    list_for_each(it, &wq->waiters) n++;
    return n;
}
