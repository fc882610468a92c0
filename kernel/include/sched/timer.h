// Kernel timers: a callback at an absolute monotonic deadline (ns, as
// clock_monotonic_ns()). The kernel implementation (kernel/sched/) programs
// a one-shot hardware timer for the earliest deadline, so nothing ticks when
// no timer is armed; the host test program has one built on pthreads.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/list.h"
#include "nimbus/status.h"

struct ktimer;
// Runs in interrupt context (kernel) or on a timer thread (host): it may take
// irqsave spinlocks and wake wait queues, never block.
typedef void (*ktimer_fn)(struct ktimer *t, void *arg);

struct ktimer {
    struct list_node node; // in the timer list while armed (timer lock)
    uint64_t deadline;     // absolute, ns (timer lock)
    ktimer_fn fn;
    void *arg;
    bool armed; // (timer lock)
};

void ktimer_init(struct ktimer *t, ktimer_fn fn, void *arg);

// Arms (or re-arms) t for `deadline`; a deadline in the past fires as soon as
// possible.
void ktimer_arm(struct ktimer *t, uint64_t deadline);

// Disarms t. Returns true if it was armed and will not fire; false if it was
// not armed or its callback is already running. The kernel guarantees the
// callback is not running on another CPU when this returns true.
bool ktimer_cancel(struct ktimer *t);

// Called by the architecture's timer interrupt: runs every expired timer and
// programs the hardware for the next deadline.
void ktimer_interrupt(void);

// Starts the timer hardware (after the clock and the interrupt controller).
status_t ktimer_init_hw(void);
