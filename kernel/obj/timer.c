// nimbus:host
// Timer objects on top of ktimer.
#include "obj/timer.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sched/timer.h"

#define TIMER_RIGHTS \
    (RIGHT_READ | RIGHT_WRITE | RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_WAIT | RIGHT_INSPECT)

struct timer_obj {
    struct kobject obj;
    struct ktimer kt;
    uint64_t deadline; // of the current arming (lock)
    bool armed;        // (lock) set by timer_set, cleared by cancel or firing
};

static struct timer_obj *to_timer(struct kobject *o)
{
    return container_of(o, struct timer_obj, obj);
}

// ktimer callback: asserts SIGNALED if this arming is still current, then
// drops the reference the arming held. A callback of an arming that was
// replaced while it ran finds the deadline not reached and does nothing.
static void timer_fire(struct ktimer *kt, void *arg)
{
    struct timer_obj *tm = arg;

    irqstate_t s = obj_lock(&tm->obj);
    if (tm->armed && clock_monotonic_ns() >= tm->deadline) {
        tm->armed = false;
        obj_signal_locked(&tm->obj, 0, SIGNAL_SIGNALED);
    }
    obj_unlock(&tm->obj, s);
    obj_unref(&tm->obj);
}

// Disarms; true if the arming's reference is now the caller's to drop.
// Object lock held.
static bool timer_disarm_locked(struct timer_obj *tm)
{
    tm->armed = false;
    return ktimer_cancel(&tm->kt);
}

static void timer_on_zero_handles(struct kobject *o)
{
    struct timer_obj *tm = to_timer(o);

    irqstate_t s = obj_lock(o);
    bool drop = timer_disarm_locked(tm);
    obj_unlock(o, s);
    if (drop)
        obj_unref(o);
}

static void timer_destroy(struct kobject *o)
{
    kfree(to_timer(o));
}

static const struct kobject_ops timer_ops = {
    .type = OBJ_TIMER,
    .name = "timer",
    .default_rights = TIMER_RIGHTS,
    .on_zero_handles = timer_on_zero_handles,
    .destroy = timer_destroy,
};

status_t timer_create(struct handle_table *t, handle_t *out)
{
    struct timer_obj *tm = kmalloc(sizeof(*tm));

    if (!tm)
        return ERR_NO_MEMORY;
    obj_init(&tm->obj, &timer_ops, NULL);
    ktimer_init(&tm->kt, timer_fire, tm);
    tm->deadline = 0;
    tm->armed = false;
    status_t st = handle_install(t, &tm->obj, TIMER_RIGHTS, out);
    obj_unref(&tm->obj);
    return st;
}

status_t timer_set(struct handle_table *t, handle_t h, uint64_t deadline)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_TIMER, RIGHT_WRITE, &o);

    if (st != OK)
        return st;
    struct timer_obj *tm = to_timer(o);
    irqstate_t s = obj_lock(o);
    if (!timer_disarm_locked(tm))
        obj_ref(o); // the new arming's reference; else the old one carries over
    obj_signal_locked(o, SIGNAL_SIGNALED, 0);
    tm->deadline = deadline;
    tm->armed = true;
    ktimer_arm(&tm->kt, deadline);
    obj_unlock(o, s);
    obj_unref(o);
    return OK;
}

status_t timer_cancel(struct handle_table *t, handle_t h)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_TIMER, RIGHT_WRITE, &o);

    if (st != OK)
        return st;
    irqstate_t s = obj_lock(o);
    bool drop = timer_disarm_locked(to_timer(o));
    obj_signal_locked(o, SIGNAL_SIGNALED, 0);
    obj_unlock(o, s);
    if (drop)
        obj_unref(o);
    obj_unref(o);
    return OK;
}
