// nimbus:host
// The contended side of spinlocks (lib/spinlock.h), with the paravirtual
// slow path: a waiter that spun `spins` times halts until the holder's
// release kicks it.
//
// Halting protocol, per lock word (SPIN_HELD | SPIN_WAITERS):
//   waiter:   (1) waiting[cpu] = l; (2) fetch-or SPIN_WAITERS; (3) if the
//             old word was not held, clear waiting[cpu] and try again;
//             else (4) halt, (5) clear waiting[cpu], try again.
//   releaser: exchange the word with 0 (a full barrier); if SPIN_WAITERS
//             was set, kick every CPU whose waiting[] is l.
// No wake-up is lost: if (2) comes before the releaser's exchange in the
// word's order, the releaser sees SPIN_WAITERS and, (1) being ordered
// before (2), the record; a kick that arrives before (4) makes the halt
// return at once (PV_UNHALT's contract, and the host tests' halt). If (2)
// comes after, it sees the lock free (3) or held by a newer holder, whose
// release then sees SPIN_WAITERS. Taking the lock keeps SPIN_WAITERS, so a
// release kicks whoever set it; waking more CPUs than needed only costs a
// retry. A CPU waits on one lock at a time in the halting part: nested
// waits (interrupt handlers) run with interrupts off and never halt.
#include "lib/spinlock.h"

bool spin_pv_active;

// One attempt: takes l if it is not held, keeping SPIN_WAITERS.
static bool try_take(struct spinlock *l)
{
    int v = __atomic_load_n(&l->locked, __ATOMIC_RELAXED);
    return !(v & SPIN_HELD) && __atomic_compare_exchange_n(&l->locked, &v, v | SPIN_HELD, false,
                                                           __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

// Steps (1)-(5) above; returns when it is worth trying again.
static void halt_on(struct spinlock *l, struct spin_pv *pv)
{
    unsigned cpu = pv->cpu();
    __atomic_store_n(&pv->waiting[cpu], l, __ATOMIC_RELAXED);
    int old = __atomic_fetch_or(&l->locked, SPIN_WAITERS, __ATOMIC_SEQ_CST);
    if (old & SPIN_HELD) {
        __atomic_add_fetch(&pv->halts, 1, __ATOMIC_RELAXED);
        pv->halt();
    }
    __atomic_store_n(&pv->waiting[cpu], NULL, __ATOMIC_RELAXED);
}

void spin_pv_acquire(struct spinlock *l, struct spin_pv *pv, bool may_halt)
{
    bool halting = pv && may_halt;
    for (;;) {
        unsigned spun = 0;
        for (;;) {
            if (try_take(l))
                return;
            while ((__atomic_load_n(&l->locked, __ATOMIC_RELAXED) & SPIN_HELD) &&
                   (!halting || spun < pv->spins)) {
                arch_cpu_relax();
                spun++;
            }
            if (halting && spun >= pv->spins)
                break;
        }
        halt_on(l, pv);
    }
}

// Kicks the CPUs halted (or about to halt) on l.
static void kick_waiters(struct spinlock *l, struct spin_pv *pv)
{
    for (unsigned c = 0; c < pv->ncpus; c++) {
        if (__atomic_load_n(&pv->waiting[c], __ATOMIC_ACQUIRE) == l) {
            __atomic_add_fetch(&pv->kicks, 1, __ATOMIC_RELAXED);
            pv->kick(c);
        }
    }
}

void spin_pv_release(struct spinlock *l, struct spin_pv *pv)
{
    if (__atomic_exchange_n(&l->locked, 0, __ATOMIC_SEQ_CST) & SPIN_WAITERS)
        kick_waiters(l, pv);
}

#ifdef HOST_TEST
// Host threads only spin (the PV path is tested through spin_pv_acquire).
void spin_lock_slow(struct spinlock *l, bool irqs_off)
{
    (void)irqs_off;
    spin_pv_acquire(l, NULL, false);
}

void spin_unlock_kick(struct spinlock *l)
{
    (void)l;
}
#else
// About 2^15 pause loops of spinning before a halt (what a lock holder
// preempted by the host costs its waiters; Linux's PV locks use the same).
#define PV_SPINS (1u << 15)

static unsigned this_cpu(void)
{
    return arch_cpu_index();
}

// Called with interrupts off (spin_lock_slow) where they may be enabled:
// enables them and halts (atomically), then disables them again.
static void halt_irqs_on(void)
{
    arch_idle();
    (void)arch_irq_save();
}

static struct spinlock *waiting[MAX_CPUS];
static struct spin_pv kernel_pv = {
    .cpu = this_cpu,
    .halt = halt_irqs_on,
    .spins = PV_SPINS,
    .ncpus = MAX_CPUS,
    .waiting = waiting,
};

// A waiter may halt only where interrupts may be enabled: it halts with them
// on, so that TLB shootdowns and other IPIs still reach it while it sleeps.
void spin_lock_slow(struct spinlock *l, bool irqs_off)
{
    bool may_halt = arch_irqs_enabled();
    irqstate_t s = arch_irq_save();
    spin_pv_acquire(l, spin_pv_active ? &kernel_pv : NULL, may_halt);
    if (!irqs_off)
        arch_irq_restore(s);
}

void spin_unlock_kick(struct spinlock *l)
{
    kick_waiters(l, &kernel_pv);
}

status_t spin_pv_enable(void (*kick)(unsigned cpu))
{
    if (!kick)
        return ERR_INVALID_ARGS;
    if (arch_cpu_count() > 1)
        return ERR_BAD_STATE; // a release already past the flag could miss a waiter
    kernel_pv.kick = kick;
    __atomic_store_n(&spin_pv_active, true, __ATOMIC_SEQ_CST);
    return OK;
}

void spin_pv_counts(uint64_t *halts, uint64_t *kicks)
{
    *halts = __atomic_load_n(&kernel_pv.halts, __ATOMIC_RELAXED);
    *kicks = __atomic_load_n(&kernel_pv.kicks, __ATOMIC_RELAXED);
}
#endif
