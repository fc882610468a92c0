// Kernel timers: a deadline-sorted list per CPU (a "base") and that CPU's
// one-shot hardware timer set to its earliest deadline. Nothing is
// programmed while a CPU has no timer armed.
//
// A timer's fields are guarded by the lock of the base of t->cpu, the CPU it
// was armed on last; re-arming it from another CPU takes both locks (lower
// CPU first) and moves it. A CPU programs only its own hardware: one whose
// earliest timer was cancelled from elsewhere takes one early interrupt.
#include "arch.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "sched/clock.h"
#include "sched/timer.h"

struct timer_base {
    struct spinlock lock;
    struct list_node timers; // armed, by deadline (lock)
    uint64_t programmed;     // deadline in the hardware (lock)
    struct ktimer *running;  // whose callback runs now (lock; read unlocked by cancel)
};

static struct timer_base bases[MAX_CPUS];
static bool bases_ready;

static void bases_init(void)
{
    if (bases_ready)
        return; // first used on the boot CPU, before any other runs
    for (unsigned i = 0; i < MAX_CPUS; i++) {
        bases[i].lock = (struct spinlock)SPINLOCK_INIT("ktimer");
        list_init(&bases[i].timers);
        bases[i].programmed = UINT64_MAX;
    }
    bases_ready = true;
}

void ktimer_init(struct ktimer *t, ktimer_fn fn, void *arg)
{
    bases_init();
    list_init(&t->node);
    t->deadline = 0;
    t->fn = fn;
    t->arg = arg;
    t->armed = false;
    t->cpu = arch_cpu_index();
}

static void lock_pair(struct timer_base *a, struct timer_base *b)
{
    if (!b || a == b) {
        spin_lock(&a->lock);
    } else {
        spin_lock(a < b ? &a->lock : &b->lock);
        spin_lock(a < b ? &b->lock : &a->lock);
    }
}

static void unlock_pair(struct timer_base *a, struct timer_base *b)
{
    if (b && a != b)
        spin_unlock(&b->lock);
    spin_unlock(&a->lock);
}

// Locks the base t belongs to (and `other`, if not NULL); t->cpu is stable
// while that lock is held. Interrupts off.
static struct timer_base *lock_home(struct ktimer *t, struct timer_base *other)
{
    for (;;) {
        unsigned cpu = READ_ONCE(t->cpu);
        struct timer_base *home = &bases[cpu];
        lock_pair(home, other);
        if (READ_ONCE(t->cpu) == cpu)
            return home;
        unlock_pair(home, other);
    }
}

// Programs this CPU's hardware for the head of its list. Lock held.
static void reprogram(struct timer_base *b)
{
    uint64_t next = UINT64_MAX;
    if (!list_empty(&b->timers))
        next = list_entry(b->timers.next, struct ktimer, node)->deadline;
    if (next != b->programmed) {
        b->programmed = next;
        arch_timer_set(next);
    }
}

static void insert_sorted(struct timer_base *b, struct ktimer *t)
{
    struct list_node *pos = &b->timers;
    list_for_each(it, &b->timers)
    {
        if (list_entry(it, struct ktimer, node)->deadline > t->deadline)
            break;
        pos = it;
    }
    list_insert_after(pos, &t->node);
}

void ktimer_arm(struct ktimer *t, uint64_t deadline)
{
    irqstate_t s = arch_irq_save();
    unsigned cpu = arch_cpu_index();
    struct timer_base *local = &bases[cpu];
    struct timer_base *home = lock_home(t, local);
    if (t->armed)
        list_remove(&t->node);
    t->cpu = cpu;
    t->deadline = deadline;
    t->armed = true;
    insert_sorted(local, t);
    reprogram(local);
    unlock_pair(home, local);
    arch_irq_restore(s);
}

// A timer re-armed by its own callback may be cancelled while that callback
// still runs on another CPU: wait for it to return.
static void wait_callback_done(struct ktimer *t)
{
    unsigned self = arch_cpu_index();
    for (unsigned cpu = 0; cpu < MAX_CPUS; cpu++)
        while (cpu != self && __atomic_load_n(&bases[cpu].running, __ATOMIC_ACQUIRE) == t)
            arch_cpu_relax();
}

bool ktimer_cancel(struct ktimer *t)
{
    irqstate_t s = arch_irq_save();
    struct timer_base *home = lock_home(t, NULL);
    bool was = t->armed;
    if (was) {
        list_remove(&t->node);
        t->armed = false;
        if (home == &bases[arch_cpu_index()])
            reprogram(home);
    }
    spin_unlock(&home->lock);
    if (was)
        wait_callback_done(t);
    arch_irq_restore(s);
    return was;
}

void ktimer_interrupt(void)
{
    struct timer_base *b = &bases[arch_cpu_index()];
    irqstate_t s = spin_lock_irqsave(&b->lock);
    b->programmed = UINT64_MAX; // the one-shot has fired
    for (;;) {
        if (list_empty(&b->timers))
            break;
        struct ktimer *t = list_entry(b->timers.next, struct ktimer, node);
        if (t->deadline > clock_monotonic_ns())
            break;
        list_remove(&t->node);
        t->armed = false;
        __atomic_store_n(&b->running, t, __ATOMIC_RELAXED);
        // Run the callback unlocked: it may re-arm this or other timers.
        spin_unlock(&b->lock);
        t->fn(t, t->arg);
        spin_lock(&b->lock);
        __atomic_store_n(&b->running, NULL, __ATOMIC_RELEASE);
    }
    reprogram(b);
    spin_unlock_irqrestore(&b->lock, s);
}

status_t ktimer_init_hw(void)
{
    bases_init();
    status_t st = arch_timer_init();
    if (st == OK)
        pr_info("timer: %s", arch_timer_name());
    else
        pr_err("timer: no usable one-shot timer (%s)", status_str(st));
    return st;
}
