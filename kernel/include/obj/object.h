// Kernel objects: the common part of every object reached through handles.
//
// Lifetime: `refs` counts references (handles, kernel users, port bindings);
// the last obj_unref destroys the object at once. `handles` counts the
// handles (struct handle) naming it, in tables or in flight inside channel
// messages; when it drops to zero the object is told (on_zero_handles), which
// is how channel and event pair peers learn of closure.
//
// Locking: every object has a lock, taken with spin_lock_irqsave (timer
// callbacks take object locks). Peers (channel endpoints, event pair sides)
// share one lock. Order: handle table -> revocation cell; handle table ->
// object -> port. Never two objects' locks, except an object then a port.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/list.h"
#include "lib/spinlock.h"
#include "nimbus/handle.h"
#include "nimbus/object.h"
#include "nimbus/rights.h"
#include "nimbus/signals.h"
#include "nimbus/status.h"
#include "sched/wait.h"

struct kobject;
struct handle;

// What varies between object types.
struct kobject_ops {
    uint32_t type;           // OBJ_*
    const char *name;        // for logs
    rights_t default_rights; // rights of the handle a create call returns
    signals_t user_signals;  // what obj_signal may set and clear
    // The last handle is gone (no locks held). May be NULL.
    void (*on_zero_handles)(struct kobject *o);
    // The last reference is gone: free the object (no locks held).
    void (*destroy)(struct kobject *o);
    // Peer objects only: the peer, or NULL once it is gone. Object lock held.
    struct kobject *(*peer)(struct kobject *o);
};

struct kobject {
    const struct kobject_ops *ops;
    struct spinlock *lock;     // &own_lock, or a lock shared with a peer
    uint32_t refs;             // atomic
    uint32_t handles;          // atomic
    signals_t signals;         // (lock)
    uint64_t koid;             // unique among all objects ever made (1, 2, ...); immutable
    bool no_handles;           // (lock) the handle count has dropped to zero
    struct wait_queue waitq;   // threads in obj_wait_one or port_wait (lock)
    struct list_node waiters;  // struct obj_waiter of those threads (lock)
    struct list_node bindings; // struct port_binding watching this object (lock)
    struct spinlock own_lock;
};

// A thread waiting on an object through a handle, so that closing, sending
// or revoking that handle cancels the wait.
struct obj_waiter {
    struct list_node node;    // in kobject.waiters (object lock)
    const struct handle *via; // the handle waited through (identity only)
    status_t cancel;          // OK, or why the wait was cancelled (object lock)
};

// Sets up the common part with one reference and no handles. `shared_lock`
// is NULL for an object with its own lock.
void obj_init(struct kobject *o, const struct kobject_ops *ops, struct spinlock *shared_lock);

static inline void obj_ref(struct kobject *o)
{
    __atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
}

// Drops a reference; the last one destroys the object. No object lock held.
void obj_unref(struct kobject *o);

// Called by the handle layer when a handle to o is created / goes away.
void obj_handle_added(struct kobject *o);
void obj_handle_removed(struct kobject *o, const struct handle *h, status_t cancel);

// Cancels, with status `cancel`, the waits made through h (h leaves its
// table: closed, sent or revoked). Takes the object lock.
void obj_cancel_waits(struct kobject *o, const struct handle *h, status_t cancel);

// Changes o's signals, waking waiters and notifying port bindings when they
// change. Object lock held.
void obj_signal_locked(struct kobject *o, signals_t clear, signals_t set);

// Waiter records (object lock held).
void obj_waiter_add_locked(struct kobject *o, struct obj_waiter *w, const struct handle *via);
void obj_waiter_remove_locked(struct obj_waiter *w);

// Blocks on o->waitq until a signal changes, the wait is cancelled or the
// deadline passes. Object lock held (taken irqsave). Returns w->cancel if
// cancelled, ERR_TIMED_OUT, or OK (re-check the condition).
status_t obj_block_locked(struct kobject *o, struct obj_waiter *w, uint64_t deadline);

// Live objects per type (for leak checks).
uint64_t obj_live_count(uint32_t type);
uint64_t obj_live_total(void);

static inline irqstate_t obj_lock(struct kobject *o)
{
    return spin_lock_irqsave(o->lock);
}

static inline void obj_unlock(struct kobject *o, irqstate_t s)
{
    spin_unlock_irqrestore(o->lock, s);
}
