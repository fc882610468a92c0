// Kernel timers: a deadline-sorted list and a one-shot hardware timer set to
// the earliest deadline. Nothing is programmed while no timer is armed.
#include "arch.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "sched/clock.h"
#include "sched/timer.h"

static struct spinlock timer_lock = SPINLOCK_INIT("ktimer");
static struct list_node timers = LIST_INIT(timers); // by deadline (timer_lock)
static uint64_t programmed = UINT64_MAX;            // deadline in the hardware (timer_lock)

void ktimer_init(struct ktimer *t, ktimer_fn fn, void *arg)
{
    list_init(&t->node);
    t->deadline = 0;
    t->fn = fn;
    t->arg = arg;
    t->armed = false;
}

// Programs the hardware for the head of the list. Caller holds timer_lock.
static void reprogram(void)
{
    uint64_t next = UINT64_MAX;
    if (!list_empty(&timers))
        next = list_entry(timers.next, struct ktimer, node)->deadline;
    if (next != programmed) {
        programmed = next;
        arch_timer_set(next);
    }
}

void ktimer_arm(struct ktimer *t, uint64_t deadline)
{
    irqstate_t s = spin_lock_irqsave(&timer_lock);
    if (t->armed)
        list_remove(&t->node);
    t->deadline = deadline;
    t->armed = true;
    struct list_node *pos = &timers;
    list_for_each(it, &timers)
    {
        if (list_entry(it, struct ktimer, node)->deadline > deadline)
            break;
        pos = it;
    }
    list_insert_after(pos, &t->node);
    reprogram();
    spin_unlock_irqrestore(&timer_lock, s);
}

bool ktimer_cancel(struct ktimer *t)
{
    irqstate_t s = spin_lock_irqsave(&timer_lock);
    bool was = t->armed;
    if (was) {
        list_remove(&t->node);
        t->armed = false;
        reprogram();
    }
    spin_unlock_irqrestore(&timer_lock, s);
    return was;
}

void ktimer_interrupt(void)
{
    irqstate_t s = spin_lock_irqsave(&timer_lock);
    programmed = UINT64_MAX; // the one-shot has fired
    for (;;) {
        if (list_empty(&timers))
            break;
        struct ktimer *t = list_entry(timers.next, struct ktimer, node);
        if (t->deadline > clock_monotonic_ns())
            break;
        list_remove(&t->node);
        t->armed = false;
        // Run the callback unlocked: it may re-arm this or other timers.
        spin_unlock(&timer_lock);
        t->fn(t, t->arg);
        spin_lock(&timer_lock);
    }
    reprogram();
    spin_unlock_irqrestore(&timer_lock, s);
}

status_t ktimer_init_hw(void)
{
    status_t st = arch_timer_init();
    if (st == OK)
        pr_info("timer: %s", arch_timer_name());
    else
        pr_err("timer: no usable one-shot timer (%s)", status_str(st));
    return st;
}
