// nimbus:host
// Channels (see obj/channel.h).
//
// Both endpoints live in one struct channel and share its lock. A message
// waits in the queue of the endpoint that will read it. A thread in
// chan_call leaves a caller record on its own endpoint, keyed by txid; a
// message arriving with that txid goes straight into the record and the
// caller alone is woken.
//
// Fast path of a call: the request's wake-up is a direct hand-off
// (wait_wake_sync_begin): a server blocked on the peer endpoint, directly or
// through a port, is moved to the caller's CPU, which switches to it when
// the caller blocks for the reply (if nothing else waits there); chan_reply_wait does the same for
// the reply when the server will block for its next request. Small messages
// come from a fixed pool (msg_pool) instead of the heap.
#include "obj/channel.h"
#include "lib/compiler.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/signal.h"

#define CHAN_RIGHTS                                                               \
    (RIGHT_READ | RIGHT_WRITE | RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_SIGNAL | \
     RIGHT_SIGNAL_PEER | RIGHT_WAIT | RIGHT_INSPECT)

struct chan_msg {
    struct list_node node; // in an endpoint queue (channel lock)
    uint32_t nbytes;
    uint32_t nhandles;       // handles owned by the message
    struct handle **handles; // same allocation
    unsigned char *data;
    bool pooled;    // from msg_pool
    uint8_t hslots; // pooled: handle slots it may write (the nhandles asked for)
};

// Messages of up to MSG_POOL_BYTES and MSG_POOL_HANDLES come from a fixed
// pool, so a call costs no heap allocation; when all are in use the heap
// serves. Static storage: the heap's leak checks do not see it.
//
// With SLAB_POISON the pool keeps the heap's write-after-free check: a free
// pooled message is SLAB_POISON_BYTE from m.nbytes to its end (only m.node,
// the free list link, is live). To stay cheap, pool_put poisons only what a
// message can have written (its header fields, the handle slots it asked
// for, its bytes rounded up to 8) and pool_take checks only what the new
// message will overwrite (header, its handle slots and bytes): a stray write
// further in stays visible until a larger message takes the slot. A broken
// pattern is reported like the heap's (slab_report_foreign).
#define MSG_POOL_SIZE    64
#define MSG_POOL_BYTES   256
#define MSG_POOL_HANDLES 4

struct pooled_msg {
    struct chan_msg m;
    struct handle *handles[MSG_POOL_HANDLES];
    unsigned char data[MSG_POOL_BYTES];
};

static struct {
    struct spinlock lock;
    struct list_node free; // struct pooled_msg via m.node (lock)
    bool ready;            // (lock) free list filled
    struct pooled_msg msgs[MSG_POOL_SIZE];
} msg_pool = {.lock = SPINLOCK_INIT("chan-msg-pool")};

#define POOL_POISON_WORD (0x0101010101010101ull * SLAB_POISON_BYTE)
// Poisoned header fields: struct chan_msg from nbytes up to handles[0].
#define POOL_HDR_OFF   offsetof(struct pooled_msg, m.nbytes)
#define POOL_HDR_BYTES (offsetof(struct pooled_msg, handles) - POOL_HDR_OFF)
_Static_assert(POOL_HDR_OFF % 8 == 0 && offsetof(struct pooled_msg, handles) % 8 == 0 &&
                   offsetof(struct pooled_msg, data) % 8 == 0 && MSG_POOL_BYTES % 8 == 0,
               "pool poison works in words");

// What a write looks up before anything moves; kept apart from the message,
// which the reader may free as soon as it is delivered.
struct send_scratch {
    uint32_t ncollected;         // objs[0..ncollected) carry references
    struct kobject **objs;       // the objects of the handles to send
    struct handle **hps;         // the handles to send
    struct nb_handle_info *info; // for typed channels
};

struct chan_caller {
    struct list_node node; // in the caller's endpoint's callers (channel lock)
    uint32_t txid;
    bool done;              // (channel lock)
    status_t status;        // (channel lock) valid once done
    struct chan_msg *reply; // (channel lock) set with status OK
    struct wait_queue wq;   // the caller blocks here (channel lock)
};

struct chan_ep {
    struct kobject obj;
    struct list_node queue;   // messages to read here (channel lock)
    uint32_t nmsgs, nbytes;   // queue size (channel lock)
    struct list_node callers; // struct chan_caller of calls made here (channel lock)
    bool closed;              // the last handle is gone (channel lock)
};

struct channel {
    struct spinlock lock;
    struct chan_ep ep[2]; // ep[0] is the client end of a typed channel
    const struct proto_desc *proto;
    uint32_t next_txid; // (lock)
    uint32_t alive;     // atomic: endpoints not yet destroyed
};

static uint64_t live_msgs; // atomic

uint64_t chan_live_messages(void)
{
    return __atomic_load_n(&live_msgs, __ATOMIC_RELAXED);
}

static struct channel *chan_of(struct kobject *o)
{
    return container_of(o->lock, struct channel, lock);
}

static struct chan_ep *to_ep(struct kobject *o)
{
    return container_of(o, struct chan_ep, obj);
}

static int side_of(struct chan_ep *e)
{
    return e == &chan_of(&e->obj)->ep[0] ? 0 : 1;
}

static struct chan_ep *peer_of(struct chan_ep *e)
{
    return &chan_of(&e->obj)->ep[1 - side_of(e)];
}

// ---- messages ----

// Word loops rather than memset: the spans are short (a 64-byte call message
// is 8 words) and a string instruction's start-up would cost more.
static inline __attribute__((always_inline)) void poison_words(void *p, size_t bytes)
{
    uint64_t *w = p;

#pragma GCC unroll 4
    for (size_t i = 0; i < bytes / 8; i++)
        w[i] = POOL_POISON_WORD;
}

// Poisons what a pooled message can have written. The attribute keeps gcc
// from turning the word loops back into memset calls.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static void
pool_poison(struct pooled_msg *pm, uint32_t hslots, uint32_t nbytes)
{
    poison_words((char *)pm + POOL_HDR_OFF, POOL_HDR_BYTES);
    poison_words(pm->handles, hslots * sizeof(pm->handles[0]));
    poison_words(pm->data, ALIGN_UP(nbytes, 8));
}

// Nonzero unless every word of p[0..bytes) is poison (no early exit: this is
// a hot path and the pattern is nearly always intact).
static uint64_t poison_broken(const void *p, size_t bytes)
{
    const uint64_t *w = p;
    uint64_t acc = 0;

#pragma GCC unroll 4
    for (size_t i = 0; i < bytes / 8; i++)
        acc |= w[i] ^ POOL_POISON_WORD;
    return acc;
}

// Checks what a message taken from the pool will overwrite.
static void pool_check(struct pooled_msg *pm, uint32_t hslots, uint32_t nbytes)
{
    if (poison_broken((char *)pm + POOL_HDR_OFF, POOL_HDR_BYTES) |
        poison_broken(pm->handles, hslots * sizeof(pm->handles[0])) |
        poison_broken(pm->data, ALIGN_UP(nbytes, 8)))
        slab_report_foreign("chan-msg-pool", pm, "object written after it was freed");
}

// A pooled message for nhandles handles and nbytes bytes, or NULL when the pool is empty.
static struct chan_msg *pool_take(uint32_t nhandles, uint32_t nbytes)
{
    struct list_node *n = NULL;

    irqstate_t s = spin_lock_irqsave(&msg_pool.lock);
    if (!msg_pool.ready) {
        list_init(&msg_pool.free);
        for (int i = 0; i < MSG_POOL_SIZE; i++) {
            if (SLAB_POISON)
                pool_poison(&msg_pool.msgs[i], MSG_POOL_HANDLES, MSG_POOL_BYTES);
            list_add_tail(&msg_pool.free, &msg_pool.msgs[i].m.node);
        }
        msg_pool.ready = true;
    }
    n = list_pop_head(&msg_pool.free);
    spin_unlock_irqrestore(&msg_pool.lock, s);
    if (!n)
        return NULL;
    struct pooled_msg *pm =
        container_of(list_entry(n, struct chan_msg, node), struct pooled_msg, m);
    if (SLAB_POISON)
        pool_check(pm, nhandles, nbytes);
    pm->m.handles = pm->handles;
    pm->m.data = pm->data;
    pm->m.pooled = true;
    pm->m.hslots = (uint8_t)nhandles;
    return &pm->m;
}

static void pool_put(struct chan_msg *m)
{
    if (SLAB_POISON)
        pool_poison(container_of(m, struct pooled_msg, m), m->hslots, m->nbytes);
    irqstate_t s = spin_lock_irqsave(&msg_pool.lock);
    list_add_head(&msg_pool.free, &m->node);
    spin_unlock_irqrestore(&msg_pool.lock, s);
}

static struct chan_msg *msg_new(uint32_t nbytes, uint32_t nhandles)
{
    struct chan_msg *m = NULL;

    if (nbytes <= MSG_POOL_BYTES && nhandles <= MSG_POOL_HANDLES)
        m = pool_take(nhandles, nbytes);
    if (!m) {
        m = kmalloc(sizeof(*m) + sizeof(struct handle *) * nhandles + nbytes);
        if (!m)
            return NULL;
        m->handles = (struct handle **)(m + 1);
        m->data = (unsigned char *)(m->handles + nhandles);
        m->pooled = false;
    }
    m->nbytes = nbytes;
    m->nhandles = 0;
    list_init(&m->node);
    __atomic_add_fetch(&live_msgs, 1, __ATOMIC_RELAXED);
    return m;
}

static status_t scratch_new(uint32_t n, struct send_scratch *sc)
{
    size_t per = sizeof(struct kobject *) + sizeof(struct handle *) + sizeof(struct nb_handle_info);

    sc->ncollected = 0;
    sc->objs = n ? kmalloc(per * n) : NULL;
    if (n && !sc->objs)
        return ERR_NO_MEMORY;
    sc->hps = (struct handle **)(sc->objs + n);
    sc->info = (struct nb_handle_info *)(sc->hps + n);
    return OK;
}

// Frees a message and the handles it owns. No locks held.
static void msg_free(struct chan_msg *m)
{
    for (uint32_t i = 0; i < m->nhandles; i++)
        handle_free(m->handles[i], ERR_CANCELED);
    if (m->pooled)
        pool_put(m);
    else
        kfree(m);
    __atomic_sub_fetch(&live_msgs, 1, __ATOMIC_RELAXED);
}

static void msg_free_list(struct list_node *l)
{
    struct list_node *n;

    while ((n = list_pop_head(l)))
        msg_free(list_entry(n, struct chan_msg, node));
}

static uint32_t msg_txid(const struct chan_msg *m)
{
    uint32_t txid = 0;

    if (m->nbytes >= sizeof(txid))
        memcpy(&txid, m->data, sizeof(txid));
    return txid;
}

// ---- endpoint state (channel lock held) ----

static bool queue_full(const struct chan_ep *e)
{
    return e->nmsgs >= CHAN_QUEUE_MAX_MSGS || e->nbytes >= CHAN_QUEUE_MAX_BYTES;
}

// Ends every call waiting on e with `status`.
static void callers_finish_locked(struct chan_ep *e, status_t status)
{
    struct list_node *n;

    while ((n = list_pop_head(&e->callers))) {
        struct chan_caller *c = list_entry(n, struct chan_caller, node);
        c->done = true;
        c->status = status;
        wait_queue_wake(&c->wq, 1, status);
    }
}

// Hands m to a call on dst waiting for its txid; false if there is none.
static bool deliver_to_caller_locked(struct chan_ep *dst, struct chan_msg *m)
{
    uint32_t txid = msg_txid(m);

    if (txid == 0)
        return false;
    list_for_each(it, &dst->callers)
    {
        struct chan_caller *c = list_entry(it, struct chan_caller, node);
        if (c->txid != txid)
            continue;
        list_remove(&c->node);
        c->done = true;
        c->status = OK;
        c->reply = m;
        wait_queue_wake(&c->wq, 1, OK);
        return true;
    }
    return false;
}

// Delivers m, written on src, to src's peer.
static void deliver_locked(struct chan_ep *src, struct chan_msg *m)
{
    struct chan_ep *dst = peer_of(src);

    if (deliver_to_caller_locked(dst, m))
        return;
    list_add_tail(&dst->queue, &m->node);
    dst->nmsgs++;
    dst->nbytes += m->nbytes;
    obj_signal_locked(&dst->obj, 0, SIGNAL_READABLE);
    if (queue_full(dst))
        obj_signal_locked(&src->obj, SIGNAL_WRITABLE, 0);
}

// Takes the head message off e's queue.
static void dequeue_locked(struct chan_ep *e, struct chan_msg *m)
{
    struct chan_ep *writer = peer_of(e);

    list_remove(&m->node);
    e->nmsgs--;
    e->nbytes -= m->nbytes;
    if (list_empty(&e->queue))
        obj_signal_locked(&e->obj, SIGNAL_READABLE, 0);
    if (!writer->closed && !queue_full(e))
        obj_signal_locked(&writer->obj, 0, SIGNAL_WRITABLE);
}

// ---- object ops ----

static struct kobject *chan_peer(struct kobject *o)
{
    struct chan_ep *p = peer_of(to_ep(o));
    return p->closed ? NULL : &p->obj;
}

// The last handle of e is gone: destroy its queue, end its calls, and tell
// the peer.
static void chan_on_zero_handles(struct kobject *o)
{
    struct chan_ep *e = to_ep(o), *p = peer_of(e);
    struct list_node dead = LIST_INIT(dead);

    irqstate_t s = obj_lock(o);
    e->closed = true;
    while (!list_empty(&e->queue))
        list_add_tail(&dead, list_pop_head(&e->queue));
    e->nmsgs = e->nbytes = 0;
    obj_signal_locked(o, SIGNAL_READABLE | SIGNAL_WRITABLE, 0);
    callers_finish_locked(e, ERR_CANCELED);
    if (!p->closed) {
        obj_signal_locked(&p->obj, SIGNAL_WRITABLE, SIGNAL_PEER_CLOSED);
        callers_finish_locked(p, ERR_PEER_CLOSED);
    }
    obj_unlock(o, s);
    msg_free_list(&dead); // their handles may lead to other objects' locks
}

static void chan_destroy(struct kobject *o)
{
    struct channel *c = chan_of(o);

    msg_free_list(&to_ep(o)->queue); // empty unless no handle was ever made
    if (__atomic_sub_fetch(&c->alive, 1, __ATOMIC_ACQ_REL) == 0)
        kfree(c);
}

static const struct kobject_ops chan_ops = {
    .type = OBJ_CHANNEL,
    .name = "channel",
    .default_rights = CHAN_RIGHTS,
    .user_signals = SIGNAL_USER_ALL,
    .on_zero_handles = chan_on_zero_handles,
    .destroy = chan_destroy,
    .peer = chan_peer,
};

static status_t chan_create_common(struct handle_table *t, const struct proto_desc *proto,
                                   handle_t *out0, handle_t *out1)
{
    struct channel *c = kmalloc(sizeof(*c));

    if (!c)
        return ERR_NO_MEMORY;
    c->lock = (struct spinlock)SPINLOCK_INIT("channel");
    c->proto = proto;
    c->next_txid = 0;
    c->alive = 2;
    for (int i = 0; i < 2; i++) {
        struct chan_ep *e = &c->ep[i];
        obj_init(&e->obj, &chan_ops, &c->lock);
        e->obj.signals = SIGNAL_WRITABLE;
        list_init(&e->queue);
        list_init(&e->callers);
        e->nmsgs = e->nbytes = 0;
        e->closed = false;
    }
    status_t st = handle_install_pair(t, &c->ep[0].obj, &c->ep[1].obj, CHAN_RIGHTS, out0, out1);
    obj_unref(&c->ep[0].obj);
    obj_unref(&c->ep[1].obj);
    return st;
}

status_t chan_create(struct handle_table *t, handle_t *out0, handle_t *out1)
{
    return chan_create_common(t, NULL, out0, out1);
}

status_t chan_create_typed(struct handle_table *t, const struct proto_desc *proto, handle_t *client,
                           handle_t *server)
{
    if (!proto)
        return ERR_INVALID_ARGS;
    return chan_create_common(t, proto, client, server);
}

// ---- writing ----

static status_t msg_out_decode(const struct nb_msg_out *m, bool is_call)
{
    if (!m || m->nbytes > CHAN_MAX_MSG_BYTES || m->nhandles > CHAN_MAX_MSG_HANDLES)
        return m ? ERR_OUT_OF_RANGE : ERR_INVALID_ARGS;
    if ((m->nbytes && !m->bytes) || (m->nhandles && !m->handles))
        return ERR_INVALID_ARGS;
    if (is_call && m->nbytes < sizeof(struct nb_msg_header))
        return ERR_INVALID_ARGS;
    return OK;
}

// Looks up handle i of the message for sending through e. Table lock held.
static status_t collect_one_locked(struct handle_table *t, struct chan_ep *e,
                                   const struct nb_msg_out *out, struct send_scratch *sc,
                                   uint32_t i)
{
    struct channel *c = chan_of(&e->obj);
    struct kobject *o;
    status_t st = handle_lookup_locked(t, out->handles[i], &sc->hps[i], &o);

    if (st != OK)
        return st;
    sc->objs[i] = o;
    sc->ncollected = i + 1;
    sc->info[i] = (struct nb_handle_info){o->ops->type, sc->hps[i]->rights};
    for (uint32_t j = 0; j < i; j++)
        if (out->handles[j] == out->handles[i])
            return ERR_INVALID_ARGS;
    if (o == &c->ep[0].obj || o == &c->ep[1].obj)
        return ERR_NOT_SUPPORTED;
    return handle_check(sc->hps[i], o, OBJ_ANY, RIGHT_TRANSFER);
}

// Decode of the handles to send.
static status_t collect_locked(struct handle_table *t, struct chan_ep *e,
                               const struct nb_msg_out *out, struct send_scratch *sc)
{
    status_t st = OK;

    for (uint32_t i = 0; i < out->nhandles && st == OK; i++)
        st = collect_one_locked(t, e, out, sc, i);
    return st;
}

// Decode against the channel's protocol, if it has one.
static status_t proto_decode(struct chan_ep *e, const struct nb_msg_out *out,
                             const struct send_scratch *sc)
{
    const struct proto_desc *d = chan_of(&e->obj)->proto;

    if (!d)
        return OK;
    enum proto_violation v =
        proto_check(d, side_of(e) == 1, out->bytes, out->nbytes, sc->info, out->nhandles);
    if (v == PROTO_OK)
        return OK;
    pr_debug("channel: %s message refused: %s\n", d->name, proto_violation_str(v));
    return ERR_PROTOCOL;
}

// How a write's wake-up goes (see the top of the file).
enum send_mode {
    SEND_PLAIN,
    SEND_CALL,       // the writer waits for the reply next: hand over the CPU
    SEND_REPLY_WAIT, // hand over the CPU if nothing waits to be read here
};

// Invoke of a write: moves the handles from the table into m and delivers
// it; for a call also registers the caller record. Table lock held.
static status_t send_locked(struct handle_table *t, struct chan_ep *e, const struct nb_msg_out *out,
                            struct send_scratch *sc, struct chan_msg *m, struct chan_caller *caller,
                            enum send_mode mode)
{
    struct channel *c = chan_of(&e->obj);
    status_t st = OK;

    irqstate_t s = obj_lock(&e->obj);
    if (e->closed || peer_of(e)->closed)
        st = ERR_PEER_CLOSED;
    else if (queue_full(peer_of(e)))
        st = ERR_SHOULD_WAIT;
    if (st == OK) {
        for (uint32_t i = 0; i < out->nhandles; i++)
            m->handles[i] = handle_detach_locked(t, out->handles[i]);
        m->nhandles = out->nhandles;
        if (caller) {
            caller->txid = NB_TXID_KERNEL_BIT | (c->next_txid++ & ~NB_TXID_KERNEL_BIT);
            memcpy(m->data, &caller->txid, sizeof(caller->txid));
            list_add_tail(&e->callers, &caller->node);
        }
        bool sync = mode == SEND_CALL || (mode == SEND_REPLY_WAIT && list_empty(&e->queue));
        if (sync)
            wait_wake_sync_begin();
        deliver_locked(e, m);
        if (sync)
            wait_wake_sync_end();
    }
    obj_unlock(&e->obj, s);
    return st;
}

// Decode and invoke of a write under the table lock. On success *eo is the
// endpoint, with a reference.
static status_t write_locked(struct handle_table *t, handle_t h, const struct nb_msg_out *out,
                             struct send_scratch *sc, struct chan_msg *m,
                             struct chan_caller *caller, enum send_mode mode, struct kobject **eo)
{
    struct handle *hp;
    status_t st = handle_lookup_locked(t, h, &hp, eo);

    if (st != OK)
        return st;
    st = handle_check(hp, *eo, OBJ_CHANNEL, RIGHT_WRITE);
    if (st == OK)
        st = collect_locked(t, to_ep(*eo), out, sc);
    if (st == OK)
        st = proto_decode(to_ep(*eo), out, sc);
    if (st == OK)
        st = send_locked(t, to_ep(*eo), out, sc, m, caller, mode);
    if (st != OK) {
        obj_unref(*eo);
        *eo = NULL;
    }
    return st;
}

// chan_write and the first half of chan_call. On success returns the
// endpoint with a reference in *eo.
static status_t chan_send(struct handle_table *t, handle_t h, const struct nb_msg_out *out,
                          struct chan_caller *caller, enum send_mode mode, struct kobject **eo)
{
    struct send_scratch sc;
    status_t st = msg_out_decode(out, caller != NULL);

    *eo = NULL;
    if (st != OK)
        return st;
    struct chan_msg *m = msg_new(out->nbytes, out->nhandles);
    if (!m)
        return ERR_NO_MEMORY;
    if (scratch_new(out->nhandles, &sc) != OK) {
        msg_free(m);
        return ERR_NO_MEMORY;
    }
    if (out->nbytes)
        memcpy(m->data, out->bytes, out->nbytes);
    handle_table_lock(t);
    st = write_locked(t, h, out, &sc, m, caller, mode, eo);
    handle_table_unlock(t);
    for (uint32_t i = 0; i < sc.ncollected; i++) {
        if (st == OK) // the handle left the table: waits through it end
            obj_cancel_waits(sc.objs[i], sc.hps[i], ERR_CANCELED);
        obj_unref(sc.objs[i]);
    }
    kfree(sc.objs);
    if (st != OK)
        msg_free(m);
    return st;
}

status_t chan_write(struct handle_table *t, handle_t h, const struct nb_msg_out *m)
{
    struct kobject *eo;
    status_t st = chan_send(t, h, m, NULL, SEND_PLAIN, &eo);

    if (eo)
        obj_unref(eo);
    return st;
}

// ---- reading ----

static status_t msg_in_decode(const struct nb_msg_in *in)
{
    if (!in || (in->bytes_cap && !in->bytes) || (in->handles_cap && !in->handles))
        return ERR_INVALID_ARGS;
    return OK;
}

// Reports m's sizes in *in; ERR_BUFFER_TOO_SMALL if it does not fit.
static status_t fits(const struct chan_msg *m, struct nb_msg_in *in)
{
    in->nbytes = m->nbytes;
    in->nhandles = m->nhandles;
    if (m->nbytes > in->bytes_cap || m->nhandles > in->handles_cap)
        return ERR_BUFFER_TOO_SMALL;
    return OK;
}

// Installs m's handles in t (room reserved) and hands them to *in.
// Table lock held.
static void install_handles_locked(struct handle_table *t, struct chan_msg *m, struct nb_msg_in *in)
{
    for (uint32_t i = 0; i < m->nhandles; i++)
        in->handles[i] = handle_attach_locked(t, m->handles[i]);
    m->nhandles = 0;
}

// Copies the bytes out and frees the (now handle-less) message.
static void msg_finish_read(struct chan_msg *m, struct nb_msg_in *in)
{
    if (m->nbytes)
        memcpy(in->bytes, m->data, m->nbytes);
    msg_free(m);
}

// Decode and invoke of a read under the table lock: takes the head message
// if it fits and its handles fit the table.
static status_t read_locked(struct handle_table *t, struct chan_ep *e, struct nb_msg_in *in,
                            struct chan_msg **out)
{
    status_t st;

    irqstate_t s = obj_lock(&e->obj);
    struct chan_msg *m =
        list_empty(&e->queue) ? NULL : list_entry(e->queue.next, struct chan_msg, node);
    if (!m) {
        st = peer_of(e)->closed ? ERR_PEER_CLOSED : ERR_SHOULD_WAIT;
    } else {
        st = fits(m, in);
        if (st == OK)
            st = handle_reserve_locked(t, m->nhandles);
        if (st == OK)
            dequeue_locked(e, m);
    }
    obj_unlock(&e->obj, s);
    if (st == OK) {
        install_handles_locked(t, m, in);
        *out = m;
    }
    return st;
}

status_t chan_read(struct handle_table *t, handle_t h, struct nb_msg_in *in)
{
    struct handle *hp;
    struct kobject *o;
    struct chan_msg *m = NULL;
    status_t st = msg_in_decode(in);

    if (st != OK)
        return st;
    handle_table_lock(t);
    st = handle_lookup_locked(t, h, &hp, &o);
    if (st != OK) {
        handle_table_unlock(t);
        return st;
    }
    st = handle_check(hp, o, OBJ_CHANNEL, RIGHT_READ);
    if (st == OK)
        st = read_locked(t, to_ep(o), in, &m);
    handle_table_unlock(t);
    if (st == OK)
        msg_finish_read(m, in);
    obj_unref(o);
    return st;
}

// ---- call ----

// Blocks until the caller record is done or the deadline passes.
static status_t call_wait(struct chan_ep *e, struct chan_caller *c, uint64_t deadline)
{
    irqstate_t s = obj_lock(&e->obj);
    while (!c->done) {
        status_t st = wait_queue_block(&c->wq, e->obj.lock, deadline);
        if (st == ERR_TIMED_OUT && !c->done) {
            list_remove(&c->node);
            c->done = true;
            c->status = ERR_TIMED_OUT;
        }
    }
    obj_unlock(&e->obj, s);
    return c->status;
}

// Receives a reply that went straight to the caller; destroys it when it
// does not fit the buffers or the table.
static status_t call_receive(struct handle_table *t, struct chan_msg *m, struct nb_msg_in *in)
{
    status_t st = fits(m, in);

    if (st == OK) {
        handle_table_lock(t);
        st = handle_reserve_locked(t, m->nhandles);
        if (st == OK)
            install_handles_locked(t, m, in);
        handle_table_unlock(t);
    }
    if (st == OK)
        msg_finish_read(m, in);
    else
        msg_free(m);
    return st;
}

status_t chan_call(struct handle_table *t, handle_t h, const struct nb_msg_out *req,
                   struct nb_msg_in *reply, uint64_t deadline)
{
    struct chan_caller c = {.done = false, .status = OK, .reply = NULL};
    struct kobject *eo;
    status_t st = msg_in_decode(reply);

    if (st != OK)
        return st;
    wait_queue_init(&c.wq);
    list_init(&c.node);
    st = chan_send(t, h, req, &c, SEND_CALL, &eo);
    if (st != OK)
        return st;
    st = call_wait(to_ep(eo), &c, deadline);
    if (st == OK)
        st = call_receive(t, c.reply, reply);
    obj_unref(eo);
    return st;
}

// ---- Byte streams for the kernel (Linux file descriptors, sys/fd.h) ----
//
// Added for sys/linux/fd.c: messages handed between an endpoint and the
// kernel without a handle table. The caller holds a handle to the endpoint
// (so it stays open) and has checked its rights.

struct chan_msg *chan_msg_alloc(uint32_t nbytes)
{
    return nbytes > CHAN_MAX_MSG_BYTES ? NULL : msg_new(nbytes, 0);
}

void *chan_msg_data(struct chan_msg *m)
{
    return m->data;
}

uint32_t chan_msg_size(const struct chan_msg *m)
{
    return m->nbytes;
}

void chan_msg_free(struct chan_msg *m)
{
    msg_free(m);
}

status_t chan_ep_send(struct kobject *o, struct chan_msg *m)
{
    struct send_scratch sc = {0, NULL, NULL, NULL};
    struct nb_msg_out out = {m->data, NULL, m->nbytes, 0};

    if (o->ops != &chan_ops || m->nhandles)
        return o->ops != &chan_ops ? ERR_WRONG_TYPE : ERR_INVALID_ARGS;
    struct chan_ep *e = to_ep(o);
    status_t st = proto_decode(e, &out, &sc);
    if (st != OK)
        return st;
    irqstate_t s = obj_lock(o);
    if (e->closed || peer_of(e)->closed)
        st = ERR_PEER_CLOSED;
    else if (queue_full(peer_of(e)))
        st = ERR_SHOULD_WAIT;
    else
        deliver_locked(e, m);
    obj_unlock(o, s);
    return st;
}

status_t chan_ep_take(struct kobject *o, struct chan_msg **out)
{
    struct chan_msg *m = NULL;
    status_t st = OK;

    if (o->ops != &chan_ops)
        return ERR_WRONG_TYPE;
    struct chan_ep *e = to_ep(o);
    irqstate_t s = obj_lock(o);
    if (list_empty(&e->queue)) {
        st = peer_of(e)->closed ? ERR_PEER_CLOSED : ERR_SHOULD_WAIT;
    } else {
        m = list_entry(e->queue.next, struct chan_msg, node);
        dequeue_locked(e, m);
    }
    obj_unlock(o, s);
    if (!m)
        return st;
    for (uint32_t i = 0; i < m->nhandles; i++) // a stream carries none: drop them
        handle_free(m->handles[i], ERR_CANCELED);
    m->nhandles = 0;
    *out = m;
    return OK;
}

// ---- reply and wait ----

status_t chan_reply_wait(struct handle_table *t, handle_t h, const struct nb_msg_out *reply,
                         struct nb_msg_in *in, uint64_t deadline)
{
    status_t st = msg_in_decode(in);

    if (st != OK)
        return st;
    if (reply) {
        struct kobject *eo;
        st = chan_send(t, h, reply, NULL, SEND_REPLY_WAIT, &eo);
        if (st != OK)
            return st;
        obj_unref(eo);
    }
    for (;;) {
        st = chan_read(t, h, in);
        if (st != ERR_SHOULD_WAIT)
            return st;
        st = obj_wait_one(t, h, SIGNAL_READABLE | SIGNAL_PEER_CLOSED, deadline, NULL);
        if (st != OK)
            return st;
    }
}
