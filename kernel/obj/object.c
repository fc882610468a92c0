// nimbus:host
// The common part of kernel objects: references, handle counts, signals and
// the waiter records that let closing a handle cancel waits made through it.
#include "obj/object.h"
#include "lib/panic.h"
#include "obj/port.h"

static uint64_t live_objects[OBJ_TYPE_COUNT]; // atomic
static uint64_t next_koid = 1;                // atomic

void obj_init(struct kobject *o, const struct kobject_ops *ops, struct spinlock *shared_lock)
{
    ASSERT(ops->type < OBJ_TYPE_COUNT && ops->destroy);
    o->ops = ops;
    o->own_lock = (struct spinlock)SPINLOCK_INIT(ops->name);
    o->lock = shared_lock ? shared_lock : &o->own_lock;
    o->refs = 1;
    o->handles = 0;
    o->signals = 0;
    o->koid = __atomic_fetch_add(&next_koid, 1, __ATOMIC_RELAXED);
    o->no_handles = false;
    wait_queue_init(&o->waitq);
    list_init(&o->waiters);
    list_init(&o->bindings);
    __atomic_add_fetch(&live_objects[ops->type], 1, __ATOMIC_RELAXED);
}

void obj_unref(struct kobject *o)
{
    uint32_t type = o->ops->type;

    if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    ASSERT(o->handles == 0);
    o->ops->destroy(o);
    __atomic_sub_fetch(&live_objects[type], 1, __ATOMIC_RELAXED);
}

void obj_handle_added(struct kobject *o)
{
    __atomic_add_fetch(&o->handles, 1, __ATOMIC_RELAXED);
}

// Cancels the waits made through h. Object lock held.
static void cancel_waits_via_locked(struct kobject *o, const struct handle *h, status_t cancel)
{
    bool any = false;

    list_for_each(it, &o->waiters)
    {
        struct obj_waiter *w = list_entry(it, struct obj_waiter, node);
        if (w->via == h && w->cancel == OK) {
            w->cancel = cancel;
            any = true;
        }
    }
    if (any)
        wait_queue_wake(&o->waitq, -1, OK);
}

// The last handle is gone: wake every waiter, drop port bindings, tell the type.
static void obj_zero_handles(struct kobject *o)
{
    irqstate_t s = obj_lock(o);
    o->no_handles = true;
    list_for_each(it, &o->waiters)
    {
        struct obj_waiter *w = list_entry(it, struct obj_waiter, node);
        if (w->cancel == OK)
            w->cancel = ERR_CANCELED;
    }
    wait_queue_wake(&o->waitq, -1, OK);
    obj_unlock(o, s);
    port_unbind_all(o);
    if (o->ops->on_zero_handles)
        o->ops->on_zero_handles(o);
}

void obj_cancel_waits(struct kobject *o, const struct handle *h, status_t cancel)
{
    irqstate_t s = obj_lock(o);
    if (!list_empty(&o->waiters))
        cancel_waits_via_locked(o, h, cancel);
    obj_unlock(o, s);
}

void obj_handle_removed(struct kobject *o, const struct handle *h, status_t cancel)
{
    obj_cancel_waits(o, h, cancel);
    if (__atomic_sub_fetch(&o->handles, 1, __ATOMIC_ACQ_REL) == 0)
        obj_zero_handles(o);
}

void obj_signal_locked(struct kobject *o, signals_t clear, signals_t set)
{
    signals_t old = o->signals;
    signals_t new = (old & ~clear) | set;

    if (new == old)
        return;
    o->signals = new;
    wait_queue_wake(&o->waitq, -1, OK);
    if (!list_empty(&o->bindings))
        port_notify_locked(o, old, new);
}

void obj_waiter_add_locked(struct kobject *o, struct obj_waiter *w, const struct handle *via)
{
    w->via = via;
    w->cancel = o->no_handles ? ERR_CANCELED : OK;
    list_add_tail(&o->waiters, &w->node);
}

void obj_waiter_remove_locked(struct obj_waiter *w)
{
    list_remove(&w->node);
}

status_t obj_block_locked(struct kobject *o, struct obj_waiter *w, uint64_t deadline)
{
    if (w->cancel != OK)
        return w->cancel;
    status_t st = wait_queue_block(&o->waitq, o->lock, deadline);
    if (w->cancel != OK)
        return w->cancel;
    // ERR_CANCELED: the thread was killed (it would never block again).
    return st == ERR_TIMED_OUT || st == ERR_CANCELED ? st : OK;
}

uint64_t obj_live_count(uint32_t type)
{
    return type < OBJ_TYPE_COUNT ? __atomic_load_n(&live_objects[type], __ATOMIC_RELAXED) : 0;
}

uint64_t obj_live_total(void)
{
    uint64_t n = 0;

    for (uint32_t i = 0; i < OBJ_TYPE_COUNT; i++)
        n += obj_live_count(i);
    return n;
}
