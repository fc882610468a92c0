// nimbus:host
// Events and event pairs.
#include "obj/event.h"
#include "mm/slab.h"

#define EVENT_RIGHTS       (RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_SIGNAL | RIGHT_WAIT | RIGHT_INSPECT)
#define EVENT_USER_SIGNALS (SIGNAL_SIGNALED | SIGNAL_USER_ALL)

struct event {
    struct kobject obj;
};

// Both sides of a pair in one allocation, sharing one lock.
struct eventpair {
    struct spinlock lock;
    struct kobject side[2];
    bool closed[2]; // side i's last handle is gone (lock)
    uint32_t alive; // atomic: sides not yet destroyed
};

static void event_destroy(struct kobject *o)
{
    kfree(container_of(o, struct event, obj));
}

static const struct kobject_ops event_ops = {
    .type = OBJ_EVENT,
    .name = "event",
    .default_rights = EVENT_RIGHTS,
    .user_signals = EVENT_USER_SIGNALS,
    .destroy = event_destroy,
};

status_t event_create(struct handle_table *t, handle_t *out)
{
    struct event *e = kmalloc(sizeof(*e));

    if (!e)
        return ERR_NO_MEMORY;
    obj_init(&e->obj, &event_ops, NULL);
    status_t st = handle_install(t, &e->obj, EVENT_RIGHTS, out);
    obj_unref(&e->obj);
    return st;
}

static int side_index(struct kobject *o)
{
    struct eventpair *ep = container_of(o->lock, struct eventpair, lock);
    return o == &ep->side[0] ? 0 : 1;
}

static struct eventpair *pair_of(struct kobject *o)
{
    return container_of(o->lock, struct eventpair, lock);
}

static struct kobject *eventpair_peer(struct kobject *o)
{
    struct eventpair *ep = pair_of(o);
    int other = 1 - side_index(o);
    return ep->closed[other] ? NULL : &ep->side[other];
}

static void eventpair_on_zero_handles(struct kobject *o)
{
    struct eventpair *ep = pair_of(o);
    int i = side_index(o);

    irqstate_t s = spin_lock_irqsave(&ep->lock);
    ep->closed[i] = true;
    if (!ep->closed[1 - i])
        obj_signal_locked(&ep->side[1 - i], 0, SIGNAL_PEER_CLOSED);
    spin_unlock_irqrestore(&ep->lock, s);
}

static void eventpair_destroy(struct kobject *o)
{
    struct eventpair *ep = pair_of(o);

    if (__atomic_sub_fetch(&ep->alive, 1, __ATOMIC_ACQ_REL) == 0)
        kfree(ep);
}

static const struct kobject_ops eventpair_ops = {
    .type = OBJ_EVENTPAIR,
    .name = "eventpair",
    .default_rights = EVENT_RIGHTS | RIGHT_SIGNAL_PEER,
    .user_signals = EVENT_USER_SIGNALS,
    .on_zero_handles = eventpair_on_zero_handles,
    .destroy = eventpair_destroy,
    .peer = eventpair_peer,
};

status_t eventpair_create(struct handle_table *t, handle_t *out0, handle_t *out1)
{
    struct eventpair *ep = kmalloc(sizeof(*ep));

    if (!ep)
        return ERR_NO_MEMORY;
    ep->lock = (struct spinlock)SPINLOCK_INIT("eventpair");
    ep->alive = 2;
    for (int i = 0; i < 2; i++) {
        obj_init(&ep->side[i], &eventpair_ops, &ep->lock);
        ep->closed[i] = false;
    }
    status_t st = handle_install_pair(t, &ep->side[0], &ep->side[1],
                                      EVENT_RIGHTS | RIGHT_SIGNAL_PEER, out0, out1);
    obj_unref(&ep->side[0]);
    obj_unref(&ep->side[1]);
    return st;
}
