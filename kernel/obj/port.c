// nimbus:host
// Ports and port bindings (see obj/port.h).
//
// A binding is reference counted: one reference while it is on its object's
// list (on_obj), one while its packet is queued (queued), plus temporary
// ones. It is on its port's list (on_port) from bind until it is freed, so
// the port can find every binding when its last handle goes. The binding
// holds references on the object and on the port; the last binding_unref
// drops them, so it must run with no object or port lock held.
#include "obj/port.h"
#include "lib/panic.h"
#include "mm/slab.h"
#include "obj/signal.h"

#define PORT_RIGHTS \
    (RIGHT_READ | RIGHT_WRITE | RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_WAIT | RIGHT_INSPECT)

struct port {
    struct kobject obj;
    struct list_node queue; // struct port_item, oldest first (lock)
    struct list_node bound; // struct port_binding.port_node (lock)
    uint32_t nuser;         // user packets queued (lock)
    uint32_t nbindings;     // (lock)
    bool closed;            // the last handle is gone (lock)
};

struct port_item {
    struct list_node node; // in port.queue (port lock)
    bool user;             // a kmalloc'd user packet, else inside a binding
    struct nb_port_packet pkt;
};

struct port_binding {
    uint32_t refs; // atomic
    struct kobject *obj;
    struct port *port;
    uint64_t key;
    signals_t trigger;
    uint32_t mode;
    struct list_node obj_node;  // in obj->bindings (object lock)
    struct list_node port_node; // in port->bound (port lock)
    bool on_obj;                // (object lock)
    bool on_port;               // (port lock)
    bool queued;                // item is in port->queue (port lock)
    struct port_item item;
};

static uint64_t live_bindings; // atomic

uint64_t port_live_bindings(void)
{
    return __atomic_load_n(&live_bindings, __ATOMIC_RELAXED);
}

static struct port *to_port(struct kobject *o)
{
    return container_of(o, struct port, obj);
}

// Drops a binding reference; the last one frees it. No object or port lock.
static void binding_unref(struct port_binding *b)
{
    if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    irqstate_t s = obj_lock(&b->port->obj);
    if (b->on_port) {
        list_remove(&b->port_node);
        b->port->nbindings--;
    }
    obj_unlock(&b->port->obj, s);
    obj_unref(b->obj);
    obj_unref(&b->port->obj);
    kfree(b);
    __atomic_sub_fetch(&live_bindings, 1, __ATOMIC_RELAXED);
}

// Drops a reference that cannot be the last one (see port_notify_locked).
// When it is, the reference counting is broken (or b was freed and its
// memory reused): stop with what the binding looked like.
static void binding_unref_not_last(struct port_binding *b)
{
    uint32_t left = __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
    if (left == 0)
        panic("port: last reference of a binding dropped while it fires (key %#llx, mode %u, "
              "trigger %#x, queued %d, on_port %d, on_obj %d, port closed %d, object %s)",
              (unsigned long long)b->key, b->mode, (unsigned)b->trigger, b->queued, b->on_port,
              b->on_obj, b->port->closed, b->obj->ops->name);
}

// Appends an item and asserts READABLE. Port lock held.
static void port_enqueue_locked(struct port *p, struct port_item *it)
{
    list_add_tail(&p->queue, &it->node);
    obj_signal_locked(&p->obj, 0, SIGNAL_READABLE);
}

static void port_dequeue_locked(struct port *p, struct port_item *it)
{
    list_remove(&it->node);
    if (list_empty(&p->queue))
        obj_signal_locked(&p->obj, SIGNAL_READABLE, 0);
}

// Queues b's packet for signals `now`, or coalesces into the queued one.
// Port lock held, port not closed. Takes a reference when newly queued.
static void binding_queue_locked(struct port_binding *b, signals_t now)
{
    struct nb_port_packet *pkt = &b->item.pkt;

    if (b->queued) {
        pkt->signal.count++;
        pkt->signal.observed = now;
        return;
    }
    pkt->key = b->key;
    pkt->type = b->mode == PORT_BIND_ONCE ? PORT_PACKET_SIGNAL_ONCE : PORT_PACKET_SIGNAL_EDGE;
    pkt->status = OK;
    pkt->signal.trigger = b->trigger;
    pkt->signal.observed = now;
    pkt->signal.count = 1;
    b->queued = true;
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
    port_enqueue_locked(b->port, &b->item);
}

// A ONCE binding whose signals are asserted: unbind it and queue its packet.
// Object lock held. The on_obj reference is dropped before the port lock
// is: until then b is held by its queued packet's reference (taken just
// now) or, if the port is closing, by the port cleanup's temporary one
// (taken when it set `closed`, dropped only after it has taken the object
// lock we hold). Once the port lock is released, a port_wait on another CPU
// may take the packet and drop its reference at once: dropping ours after
// the unlock could find it the last (the assertion a 4-vCPU stress run hit).
static void binding_fire_once_locked(struct port_binding *b, signals_t now)
{
    struct port *p = b->port;

    list_remove(&b->obj_node);
    b->on_obj = false;
    irqstate_t s = obj_lock(&p->obj);
    if (!p->closed)
        binding_queue_locked(b, now);
    binding_unref_not_last(b);
    obj_unlock(&p->obj, s);
}

// An EDGE binding saw a rising edge. Object lock held.
static void binding_fire_edge_locked(struct port_binding *b, signals_t now)
{
    struct port *p = b->port;
    irqstate_t s = obj_lock(&p->obj);

    if (!p->closed)
        binding_queue_locked(b, now);
    obj_unlock(&p->obj, s);
}

void port_notify_locked(struct kobject *o, signals_t old, signals_t new)
{
    list_for_each_safe(it, tmp, &o->bindings)
    {
        struct port_binding *b = list_entry(it, struct port_binding, obj_node);
        if (b->mode == PORT_BIND_ONCE && (new & b->trigger))
            binding_fire_once_locked(b, new);
        else if (b->mode == PORT_BIND_EDGE && (new & ~old & b->trigger))
            binding_fire_edge_locked(b, new);
    }
}

void port_unbind_all(struct kobject *o)
{
    struct list_node gone = LIST_INIT(gone);
    struct list_node *n;

    irqstate_t s = obj_lock(o);
    while ((n = list_pop_head(&o->bindings))) {
        list_entry(n, struct port_binding, obj_node)->on_obj = false;
        list_add_tail(&gone, n);
    }
    obj_unlock(o, s);
    while ((n = list_pop_head(&gone)))
        binding_unref(list_entry(n, struct port_binding, obj_node));
}

// Takes references on b unless it is already dying. Port lock held.
static bool binding_ref_live(struct port_binding *b)
{
    uint32_t n = __atomic_load_n(&b->refs, __ATOMIC_RELAXED);

    while (n != 0)
        if (__atomic_compare_exchange_n(&b->refs, &n, n + 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return true;
    return false;
}

// Empties the queue into `user` (user packets) and `bindings` (bindings
// whose queued reference the caller must drop). Port lock held.
static void port_drain_locked(struct port *p, struct list_node *user, struct list_node *bindings)
{
    struct list_node *n;

    while ((n = list_pop_head(&p->queue))) {
        struct port_item *it = list_entry(n, struct port_item, node);
        if (it->user) {
            list_add_tail(user, n);
        } else {
            container_of(it, struct port_binding, item)->queued = false;
            list_add_tail(bindings, n);
        }
    }
    obj_signal_locked(&p->obj, SIGNAL_READABLE, 0);
}

// Takes b off its object's list if it is still there, dropping that reference.
static void binding_detach_from_obj(struct port_binding *b)
{
    irqstate_t s = obj_lock(b->obj);
    bool was_on = b->on_obj;
    if (was_on) {
        list_remove(&b->obj_node);
        b->on_obj = false;
    }
    obj_unlock(b->obj, s);
    if (was_on)
        binding_unref(b);
}

// The port's last handle is gone. (1) Under the port lock: mark it closed,
// drain the queue and pin every live binding with a temporary reference.
// (2) Without it: free user packets, drop queued references, and take each
// pinned binding off its object (object lock, then drop the pin).
static void port_on_zero_handles(struct kobject *o)
{
    struct port *p = to_port(o);
    struct list_node user = LIST_INIT(user), queued = LIST_INIT(queued);
    struct list_node pinned = LIST_INIT(pinned);
    struct list_node *n;

    irqstate_t s = obj_lock(o); // (1)
    p->closed = true;
    port_drain_locked(p, &user, &queued);
    p->nuser = 0;
    list_for_each_safe(it, tmp, &p->bound)
    {
        struct port_binding *b = list_entry(it, struct port_binding, port_node);
        if (!binding_ref_live(b))
            continue; // its last unref is waiting for our lock
        list_remove(&b->port_node);
        b->on_port = false;
        p->nbindings--;
        list_add_tail(&pinned, &b->port_node);
    }
    obj_unlock(o, s);
    while ((n = list_pop_head(&user))) // (2)
        kfree(list_entry(n, struct port_item, node));
    while ((n = list_pop_head(&queued)))
        binding_unref(
            container_of(list_entry(n, struct port_item, node), struct port_binding, item));
    while ((n = list_pop_head(&pinned))) {
        struct port_binding *b = list_entry(n, struct port_binding, port_node);
        binding_detach_from_obj(b);
        binding_unref(b);
    }
}

static void port_destroy(struct kobject *o)
{
    struct port *p = to_port(o);

    ASSERT(list_empty(&p->queue) && list_empty(&p->bound));
    kfree(p);
}

static const struct kobject_ops port_ops = {
    .type = OBJ_PORT,
    .name = "port",
    .default_rights = PORT_RIGHTS,
    .on_zero_handles = port_on_zero_handles,
    .destroy = port_destroy,
};

status_t port_create(struct handle_table *t, handle_t *out)
{
    struct port *p = kmalloc(sizeof(*p));

    if (!p)
        return ERR_NO_MEMORY;
    obj_init(&p->obj, &port_ops, NULL);
    list_init(&p->queue);
    list_init(&p->bound);
    p->nuser = 0;
    p->nbindings = 0;
    p->closed = false;
    status_t st = handle_install(t, &p->obj, PORT_RIGHTS, out);
    obj_unref(&p->obj);
    return st;
}

// Decode shared by bind and cancel: the port and the object, with references.
static status_t bind_decode(struct handle_table *t, handle_t port_h, handle_t obj_h,
                            rights_t obj_need, struct port **p, struct kobject **o)
{
    struct kobject *po;
    status_t st = handle_get(t, port_h, OBJ_PORT, RIGHT_WRITE, &po);

    if (st != OK)
        return st;
    st = handle_get(t, obj_h, OBJ_ANY, obj_need, o);
    if (st == OK && (*o)->ops->type == OBJ_PORT) {
        obj_unref(*o);
        st = ERR_NOT_SUPPORTED;
    }
    if (st != OK) {
        obj_unref(po);
        return st;
    }
    *p = to_port(po);
    return OK;
}

// The binding of o to p under key, or NULL. Object lock held.
static struct port_binding *binding_find_locked(struct kobject *o, struct port *p, uint64_t key)
{
    list_for_each(it, &o->bindings)
    {
        struct port_binding *b = list_entry(it, struct port_binding, obj_node);
        if (b->port == p && b->key == key)
            return b;
    }
    return NULL;
}

// Links a new binding to its port. Object lock held.
static status_t binding_link_port_locked(struct port_binding *b)
{
    struct port *p = b->port;
    status_t st = OK;

    irqstate_t s = obj_lock(&p->obj);
    if (p->closed)
        st = ERR_BAD_STATE;
    else if (p->nbindings >= PORT_MAX_BINDINGS)
        st = ERR_NO_RESOURCES;
    if (st == OK) {
        list_add_tail(&p->bound, &b->port_node);
        b->on_port = true;
        p->nbindings++;
    }
    obj_unlock(&p->obj, s);
    return st;
}

// Invoke part of port_bind: b holds the references from decode.
static status_t bind_invoke(struct port_binding *b)
{
    struct kobject *o = b->obj;
    status_t st = OK;

    irqstate_t s = obj_lock(o);
    if (o->no_handles)
        st = ERR_CANCELED;
    else if (binding_find_locked(o, b->port, b->key))
        st = ERR_ALREADY_EXISTS;
    if (st == OK)
        st = binding_link_port_locked(b);
    if (st == OK) {
        list_add_tail(&o->bindings, &b->obj_node);
        b->on_obj = true;
        if (b->mode == PORT_BIND_ONCE && (o->signals & b->trigger))
            binding_fire_once_locked(b, o->signals);
    }
    obj_unlock(o, s);
    return st;
}

status_t port_bind(struct handle_table *t, handle_t port_h, handle_t obj_h, uint64_t key,
                   signals_t signals, uint32_t mode)
{
    struct port *p;
    struct kobject *o;

    if (signals == 0 || (mode != PORT_BIND_EDGE && mode != PORT_BIND_ONCE))
        return ERR_INVALID_ARGS;
    status_t st = bind_decode(t, port_h, obj_h, RIGHT_WAIT, &p, &o);
    if (st != OK)
        return st;
    struct port_binding *b = kzalloc(sizeof(*b));
    if (!b) {
        obj_unref(o);
        obj_unref(&p->obj);
        return ERR_NO_MEMORY;
    }
    *b = (struct port_binding){
        .refs = 1, .obj = o, .port = p, .key = key, .trigger = signals, .mode = mode};
    list_init(&b->obj_node);
    list_init(&b->port_node);
    __atomic_add_fetch(&live_bindings, 1, __ATOMIC_RELAXED);
    st = bind_invoke(b);
    if (st != OK)
        binding_unref(b); // drops the references taken by decode
    return st;
}

// Removes queued packets of (o, key) from p into `drop`. Port lock held.
static int unqueue_key_locked(struct port *p, struct kobject *o, uint64_t key,
                              struct list_node *drop)
{
    int n = 0;

    list_for_each_safe(it, tmp, &p->queue)
    {
        struct port_item *item = list_entry(it, struct port_item, node);
        struct port_binding *b = container_of(item, struct port_binding, item);
        if (item->user || b->obj != o || b->key != key)
            continue;
        port_dequeue_locked(p, item);
        b->queued = false;
        list_add_tail(drop, &item->node);
        n++;
    }
    return n;
}

status_t port_cancel(struct handle_table *t, handle_t port_h, handle_t obj_h, uint64_t key)
{
    struct port *p;
    struct kobject *o;
    struct list_node drop = LIST_INIT(drop);
    struct list_node *n;
    status_t st = bind_decode(t, port_h, obj_h, RIGHT_NONE, &p, &o);

    if (st != OK)
        return st;
    irqstate_t s = obj_lock(o);
    struct port_binding *b = binding_find_locked(o, p, key);
    if (b) {
        list_remove(&b->obj_node);
        b->on_obj = false;
    }
    irqstate_t ps = obj_lock(&p->obj);
    int found = unqueue_key_locked(p, o, key, &drop);
    obj_unlock(&p->obj, ps);
    obj_unlock(o, s);
    if (b)
        binding_unref(b);
    while ((n = list_pop_head(&drop)))
        binding_unref(
            container_of(list_entry(n, struct port_item, node), struct port_binding, item));
    obj_unref(o);
    obj_unref(&p->obj);
    return b || found ? OK : ERR_NOT_FOUND;
}

status_t port_queue(struct handle_table *t, handle_t port_h, const struct nb_port_packet *pkt)
{
    struct kobject *o;
    status_t st = handle_get(t, port_h, OBJ_PORT, RIGHT_WRITE, &o);

    if (st != OK)
        return st;
    struct port *p = to_port(o);
    struct port_item *it = kmalloc(sizeof(*it));
    if (!it) {
        obj_unref(o);
        return ERR_NO_MEMORY;
    }
    it->user = true;
    it->pkt = *pkt;
    it->pkt.type = PORT_PACKET_USER;
    irqstate_t s = obj_lock(o);
    if (p->closed)
        st = ERR_BAD_STATE;
    else if (p->nuser >= PORT_MAX_USER_PACKETS)
        st = ERR_SHOULD_WAIT;
    if (st == OK) {
        p->nuser++;
        port_enqueue_locked(p, it);
    }
    obj_unlock(o, s);
    if (st != OK)
        kfree(it);
    obj_unref(o);
    return st;
}

// Takes the oldest item; returns what the caller must release after
// unlocking (a user item to free or a binding to unref). Port lock held.
static void port_take_locked(struct port *p, struct nb_port_packet *out, struct port_item **user,
                             struct port_binding **binding)
{
    struct port_item *it = list_entry(p->queue.next, struct port_item, node);

    port_dequeue_locked(p, it);
    *out = it->pkt;
    if (it->user) {
        p->nuser--;
        *user = it;
    } else {
        *binding = container_of(it, struct port_binding, item);
        (*binding)->queued = false;
    }
}

status_t port_wait(struct handle_table *t, handle_t port_h, uint64_t deadline,
                   struct nb_port_packet *out)
{
    struct obj_waiter w;
    struct kobject *o;
    struct port_item *user = NULL;
    struct port_binding *b = NULL;
    irqstate_t s;
    status_t st = obj_wait_begin(t, port_h, OBJ_PORT, RIGHT_READ, &w, &o, &s);

    if (st != OK)
        return st;
    struct port *p = to_port(o);
    while (list_empty(&p->queue)) {
        st = obj_block_locked(o, &w, deadline);
        if (st != OK)
            break;
    }
    if (st == OK)
        port_take_locked(p, out, &user, &b);
    obj_wait_end(o, &w, s);
    kfree(user);
    if (b)
        binding_unref(b);
    return st;
}
