// Wait queues: a thread blocks on one until another wakes it with a status,
// or until its deadline passes. The queue is protected by a spinlock that
// belongs to the object embedding it; callers hold that lock around every
// call here.
//
// The kernel implementation comes with the scheduler (kernel/sched/); the
// host test program has one built on pthreads (tests/host/), so blocking
// code is testable on the host with real threads.
#pragma once

#include <stdint.h>

#include "lib/list.h"
#include "lib/spinlock.h"
#include "nimbus/status.h"

#define DEADLINE_INFINITE UINT64_MAX // never time out
#define DEADLINE_NONE     0          // do not block at all

struct wait_queue {
    struct list_node waiters; // struct waiter, in arrival order (guarded by the owner's lock)
};

static inline void wait_queue_init(struct wait_queue *wq)
{
    list_init(&wq->waiters);
}

// Blocks the calling thread on wq until woken or until clock_monotonic_ns()
// reaches `deadline`. `lock` is held on entry (taken with spin_lock_irqsave,
// its saved state stays with the caller), released while asleep and held
// again on return. Returns the status passed to wait_queue_wake(), or
// ERR_TIMED_OUT. With DEADLINE_NONE (or any deadline already past) it returns
// ERR_TIMED_OUT at once without sleeping. Must not be called from an
// interrupt handler or a timer callback.
status_t wait_queue_block(struct wait_queue *wq, struct spinlock *lock, uint64_t deadline);

// Wakes up to `max` waiters (in arrival order; max < 0 means all), each of
// which returns `result` from wait_queue_block. Returns how many were woken.
// Safe from interrupt handlers and timer callbacks.
int wait_queue_wake(struct wait_queue *wq, int max, status_t result);

// Direct hand-off: between wait_wake_sync_begin() and wait_wake_sync_end(),
// with interrupts off throughout (under the lock of the object that wakes),
// the first thread a wake-up makes runnable gets the calling thread's CPU
// next if nothing else waits for it (sched_wake_sync): for a caller that
// blocks right afterwards, such as a channel call waking its server. Later
// wake-ups are plain ones.
void wait_wake_sync_begin(void);
void wait_wake_sync_end(void);

// Number of threads blocked on wq.
int wait_queue_count(const struct wait_queue *wq);
