// nimbus:host
// Signalling and waiting on one object.
#include "obj/signal.h"

// Decode shared by obj_signal and obj_signal_peer.
static status_t signal_decode(struct handle_table *t, handle_t h, rights_t need, signals_t mask,
                              struct kobject **o)
{
    status_t st = handle_get(t, h, OBJ_ANY, need, o);

    if (st != OK)
        return st;
    if (mask & ~(*o)->ops->user_signals) {
        obj_unref(*o);
        return ERR_INVALID_ARGS;
    }
    return OK;
}

status_t obj_signal(struct handle_table *t, handle_t h, signals_t clear, signals_t set)
{
    struct kobject *o;
    status_t st = signal_decode(t, h, RIGHT_SIGNAL, clear | set, &o);

    if (st != OK)
        return st;
    irqstate_t s = obj_lock(o);
    obj_signal_locked(o, clear, set);
    obj_unlock(o, s);
    obj_unref(o);
    return OK;
}

status_t obj_signal_peer(struct handle_table *t, handle_t h, signals_t clear, signals_t set)
{
    struct kobject *o;
    status_t st = signal_decode(t, h, RIGHT_SIGNAL_PEER, clear | set, &o);

    if (st != OK)
        return st;
    if (!o->ops->peer) {
        obj_unref(o);
        return ERR_NOT_SUPPORTED;
    }
    irqstate_t s = obj_lock(o); // peers share the lock
    struct kobject *peer = o->ops->peer(o);
    if (peer)
        obj_signal_locked(peer, clear, set);
    obj_unlock(o, s);
    obj_unref(o);
    return peer ? OK : ERR_PEER_CLOSED;
}

status_t obj_wait_begin(struct handle_table *t, handle_t h, uint32_t type, rights_t need,
                        struct obj_waiter *w, struct kobject **o, irqstate_t *s)
{
    struct handle *hp;

    handle_table_lock(t);
    status_t st = handle_lookup_locked(t, h, &hp, o);
    if (st != OK) {
        handle_table_unlock(t);
        return st;
    }
    st = handle_check(hp, *o, type, need);
    if (st == OK) {
        // Registered before the table lock goes: closing h after this point
        // finds the record and cancels it.
        *s = obj_lock(*o);
        obj_waiter_add_locked(*o, w, hp);
    }
    handle_table_unlock(t);
    if (st != OK)
        obj_unref(*o);
    return st;
}

void obj_wait_end(struct kobject *o, struct obj_waiter *w, irqstate_t s)
{
    obj_waiter_remove_locked(w);
    obj_unlock(o, s);
    obj_unref(o);
}

status_t obj_wait_one(struct handle_table *t, handle_t h, signals_t want, uint64_t deadline,
                      signals_t *observed)
{
    struct obj_waiter w;
    struct kobject *o;
    irqstate_t s;
    status_t st = obj_wait_begin(t, h, OBJ_ANY, RIGHT_WAIT, &w, &o, &s);

    if (st != OK)
        return st;
    while (!(o->signals & want)) {
        st = obj_block_locked(o, &w, deadline);
        if (st != OK)
            break;
    }
    if (observed)
        *observed = o->signals;
    obj_wait_end(o, &w, s);
    return st;
}
