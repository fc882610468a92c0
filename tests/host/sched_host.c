// Host implementations of sched/wait.h, sched/timer.h and
// clock_monotonic_ns() on pthreads, so that blocking kernel code runs on real
// threads under the sanitizers.
//
// Wait queues: one global mutex (wait_mutex) plus a condition variable per
// waiter. Lost-wakeup-free protocol:
//   (1) the blocker, holding the queue's spinlock, links its waiter record
//       and takes wait_mutex before releasing the spinlock;
//   (2) a waker holds the spinlock (callers' contract), unlinks the record,
//       then sets `woken` and signals under wait_mutex, so it cannot slip in
//       between the blocker's check of `woken` and its cond wait;
//   (3) on a timeout the blocker retakes the spinlock and, if no waker got
//       there first, unlinks itself.
// Lock order: any spinlock -> wait_mutex; nobody takes a spinlock while
// holding wait_mutex.
//
// Timers: a list sorted by deadline under timer_mutex and one timer thread
// that sleeps until the earliest deadline and runs callbacks without locks.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/list.h"
#include "sched/clock.h"
#include "sched/timer.h"
#include "sched/wait.h"

struct waiter {
    struct list_node node; // in wq->waiters (queue owner's spinlock)
    pthread_cond_t cond;
    bool woken;      // (wait_mutex)
    status_t result; // (wait_mutex)
};

static pthread_mutex_t wait_mutex = PTHREAD_MUTEX_INITIALIZER;

uint64_t clock_monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec deadline_to_timespec(uint64_t deadline)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000ull),
                          .tv_nsec = (long)(deadline % 1000000000ull)};
    return ts;
}

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

// Sleeps on w->cond until woken or the deadline; wait_mutex held throughout.
static void sleep_until_woken(struct waiter *w, uint64_t deadline)
{
    struct timespec ts = deadline_to_timespec(deadline);

    while (!w->woken) {
        if (deadline == DEADLINE_INFINITE) {
            pthread_cond_wait(&w->cond, &wait_mutex);
        } else if (pthread_cond_timedwait(&w->cond, &wait_mutex, &ts) == ETIMEDOUT) {
            break;
        }
    }
}

status_t wait_queue_block(struct wait_queue *wq, struct spinlock *lock, uint64_t deadline)
{
    struct waiter w = {.woken = false, .result = OK};

    if (deadline == DEADLINE_NONE || clock_monotonic_ns() >= deadline)
        return ERR_TIMED_OUT;
    cond_init_monotonic(&w.cond);
    list_add_tail(&wq->waiters, &w.node); // (1)
    pthread_mutex_lock(&wait_mutex);
    spin_unlock(lock);
    sleep_until_woken(&w, deadline);
    pthread_mutex_unlock(&wait_mutex);
    spin_lock(lock); // (3)
    pthread_mutex_lock(&wait_mutex);
    bool woken = w.woken;
    status_t result = w.result;
    pthread_mutex_unlock(&wait_mutex);
    if (!woken) {
        list_remove(&w.node);
        result = ERR_TIMED_OUT;
    }
    pthread_cond_destroy(&w.cond);
    return result;
}

int wait_queue_wake(struct wait_queue *wq, int max, status_t result)
{
    int n = 0;

    while (max < 0 || n < max) {
        struct list_node *node = list_pop_head(&wq->waiters);
        if (!node)
            break;
        struct waiter *w = list_entry(node, struct waiter, node);
        pthread_mutex_lock(&wait_mutex); // (2)
        w->woken = true;
        w->result = result;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&wait_mutex);
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

// A scheduling hint only: host threads have no CPU to hand over.
void wait_wake_sync_begin(void) {}
void wait_wake_sync_end(void) {}

static pthread_mutex_t timer_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond;
static struct list_node timer_list = LIST_INIT(timer_list); // by deadline (timer_mutex)
static pthread_once_t timer_once = PTHREAD_ONCE_INIT;

// The earliest armed timer, or NULL. timer_mutex held.
static struct ktimer *timer_first(void)
{
    return list_empty(&timer_list) ? NULL : list_entry(timer_list.next, struct ktimer, node);
}

static void *timer_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&timer_mutex);
    for (;;) {
        struct ktimer *t = timer_first();
        if (!t) {
            pthread_cond_wait(&timer_cond, &timer_mutex);
            continue;
        }
        if (clock_monotonic_ns() < t->deadline) {
            struct timespec ts = deadline_to_timespec(t->deadline);
            pthread_cond_timedwait(&timer_cond, &timer_mutex, &ts);
            continue;
        }
        ktimer_fn fn = t->fn;
        void *fn_arg = t->arg;
        list_remove(&t->node);
        t->armed = false;
        pthread_mutex_unlock(&timer_mutex);
        fn(t, fn_arg); // t may be freed or re-armed from here on
        pthread_mutex_lock(&timer_mutex);
    }
    return NULL;
}

static void timer_start(void)
{
    pthread_t th;

    cond_init_monotonic(&timer_cond);
    if (pthread_create(&th, NULL, timer_thread, NULL) != 0) {
        fputs("sched_host: cannot start the timer thread\n", stderr);
        abort();
    }
    pthread_detach(th);
}

void ktimer_init(struct ktimer *t, ktimer_fn fn, void *arg)
{
    list_init(&t->node);
    t->deadline = 0;
    t->fn = fn;
    t->arg = arg;
    t->armed = false;
}

void ktimer_arm(struct ktimer *t, uint64_t deadline)
{
    pthread_once(&timer_once, timer_start);
    pthread_mutex_lock(&timer_mutex);
    if (t->armed)
        list_remove(&t->node);
    t->deadline = deadline;
    t->armed = true;
    struct list_node *pos = &timer_list;
    list_for_each(it, &timer_list)
    {
        if (list_entry(it, struct ktimer, node)->deadline > deadline)
            break;
        pos = it;
    }
    list_insert_after(pos, &t->node);
    pthread_cond_signal(&timer_cond);
    pthread_mutex_unlock(&timer_mutex);
}

bool ktimer_cancel(struct ktimer *t)
{
    bool was_armed;

    pthread_mutex_lock(&timer_mutex);
    was_armed = t->armed;
    if (was_armed) {
        list_remove(&t->node);
        t->armed = false;
    }
    pthread_mutex_unlock(&timer_mutex);
    return was_armed;
}
