// Spinlocks. Interrupt-safe variants save and restore the interrupt state.
//
// The lock is a test-and-set word: the fast paths are one compare-and-
// exchange to take it and one store to release it. Under KVM with
// KVM_FEATURE_PV_UNHALT and working hypercalls (spin_pv_enable, kvm.c), a
// waiter that has spun for a while halts instead, after setting
// SPIN_WAITERS in the word, and the releaser kicks it awake
// (KVM_HC_KICK_CPU); the state machine is in kernel/lib/spinlock.c.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "nimbus/status.h"

struct spinlock {
    volatile int locked; // SPIN_HELD | SPIN_WAITERS
    const char *name;
};

#define SPIN_HELD    1 // taken
#define SPIN_WAITERS 2 // a waiter may be halted: the releaser must kick it

#define SPINLOCK_INIT(n) \
    {                    \
        0, n             \
    }

// True once PV spinlocks are on (set once, while only the boot CPU runs).
extern bool spin_pv_active;

// The contended paths (spinlock.c). spin_lock_slow returns holding l; with
// `irqs_off` it returns with interrupts disabled, else as they were.
void spin_lock_slow(struct spinlock *l, bool irqs_off);
void spin_unlock_kick(struct spinlock *l);

// One attempt on a free lock without waiters.
static inline bool spin_trylock_fast(struct spinlock *l)
{
    int free = 0;
    return __atomic_compare_exchange_n(&l->locked, &free, SPIN_HELD, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static inline void spin_lock(struct spinlock *l)
{
    if (!spin_trylock_fast(l))
        spin_lock_slow(l, false);
}

static inline void spin_unlock(struct spinlock *l)
{
    if (!spin_pv_active) {
        __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
        return;
    }
    // A full barrier between the release and the look for halted waiters.
    if (__atomic_exchange_n(&l->locked, 0, __ATOMIC_SEQ_CST) & SPIN_WAITERS)
        spin_unlock_kick(l);
}

static inline irqstate_t spin_lock_irqsave(struct spinlock *l)
{
    irqstate_t s = arch_irq_save();
    if (!spin_trylock_fast(l)) {
        arch_irq_restore(s); // the slow path may halt with interrupts on if they were
        spin_lock_slow(l, true);
    }
    return s;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, irqstate_t s)
{
    spin_unlock(l);
    arch_irq_restore(s);
}

// ---- The halting slow path, for spinlock.c, its tests and kvm.c ----

// How waiters halt and are woken. Kernel: CPU index, hlt with interrupts on,
// KVM_HC_KICK_CPU. Host tests: thread index, a condition variable.
struct spin_pv {
    unsigned (*cpu)(void);      // the caller's CPU (< ncpus)
    void (*halt)(void);         // waits for a kick (may return early)
    void (*kick)(unsigned cpu); // wakes `cpu` from halt, or makes its next halt return
    unsigned spins;             // relax loops before halting
    unsigned ncpus;
    struct spinlock **waiting; // [ncpus]: the lock each CPU may be halted on (atomic)
    uint64_t halts, kicks;     // counters (atomic)
};

// Takes l, spinning and, with `may_halt` and pv, halting (pv NULL: spin
// only). Interrupts as the caller chose: the kernel passes may_halt only if
// they may be enabled while halted.
void spin_pv_acquire(struct spinlock *l, struct spin_pv *pv, bool may_halt);
// Releases l and kicks the CPUs halted on it.
void spin_pv_release(struct spinlock *l, struct spin_pv *pv);

// Kernel: turns PV spinlocks on with this kick (kvm.c; before the other
// CPUs start). ERR_BAD_STATE once other CPUs run.
#ifndef HOST_TEST
status_t spin_pv_enable(void (*kick)(unsigned cpu));
// Halts and kicks so far (kernel PV spinlocks).
void spin_pv_counts(uint64_t *halts, uint64_t *kicks);
#endif
