// Spinlocks. Interrupt-safe variants save and restore the interrupt state.
#pragma once

#include <stdbool.h>

#include "arch.h"

struct spinlock {
    volatile int locked;
    const char *name;
};

#define SPINLOCK_INIT(n) \
    {                    \
        0, n             \
    }

static inline void spin_lock(struct spinlock *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            arch_cpu_relax();
}

static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

static inline irqstate_t spin_lock_irqsave(struct spinlock *l)
{
    irqstate_t s = arch_irq_save();
    spin_lock(l);
    return s;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, irqstate_t s)
{
    spin_unlock(l);
    arch_irq_restore(s);
}
