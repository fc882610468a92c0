// Kernel timers: a callback at an absolute monotonic deadline (ns, as
// clock_monotonic_ns()). The kernel implementation (kernel/sched/) keeps a
// list per CPU and programs that CPU's one-shot hardware timer for its
// earliest deadline, so nothing ticks when no timer is armed; a timer fires
// on the CPU that armed it last. The host test program has one built on
// pthreads.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/list.h"
#include "nimbus/status.h"

struct ktimer;
// Runs in interrupt context (kernel) or on a timer thread (host): it may take
// irqsave spinlocks and wake wait queues, never block.
typedef void (*ktimer_fn)(struct ktimer *t, void *arg);

// Fields marked (base lock) are guarded by the lock of the timer list of
// CPU `cpu`.
struct ktimer {
    struct list_node node; // in the timer list of `cpu` while armed (base lock)
    uint64_t deadline;     // absolute, ns (base lock)
    ktimer_fn fn;
    void *arg;
    bool armed;   // (base lock)
    unsigned cpu; // the CPU it was armed on last (base lock; changes under both)
};

void ktimer_init(struct ktimer *t, ktimer_fn fn, void *arg);

// Arms (or re-arms) t for `deadline` on the calling CPU; a deadline in the
// past fires as soon as possible.
void ktimer_arm(struct ktimer *t, uint64_t deadline);

// Disarms t, from any CPU. Returns true if it was armed and will not fire;
// false if it was not armed or its callback is already running. The kernel
// guarantees the callback is not running on another CPU when this returns
// true (it waits for a run of a callback that re-armed its own timer), so
// the caller must not hold a lock that callback takes.
bool ktimer_cancel(struct ktimer *t);

// Called by the architecture's timer interrupt: runs every expired timer of
// this CPU and programs its hardware for the next deadline.
void ktimer_interrupt(void);

// Starts the timer hardware of the boot CPU (after the clock and the
// interrupt controller); other CPUs start theirs as they come up.
status_t ktimer_init_hw(void);
