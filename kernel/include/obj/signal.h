// Signals and waiting on one object, for any object type.
#pragma once

#include <stdint.h>

#include "obj/handle.h"
#include "obj/object.h"

// Sets and clears user signals of h's object (needs RIGHT_SIGNAL). Only the
// type's user signals may be given (SIGNAL_USER0..7, and SIGNALED for
// events), else ERR_INVALID_ARGS.
status_t obj_signal(struct handle_table *t, handle_t h, signals_t clear, signals_t set);

// The same on the peer of a channel endpoint or event pair side (needs
// RIGHT_SIGNAL_PEER). ERR_NOT_SUPPORTED for objects without a peer,
// ERR_PEER_CLOSED once the peer is gone.
status_t obj_signal_peer(struct handle_table *t, handle_t h, signals_t clear, signals_t set);

// Waits until one of `want` is asserted on h's object (needs RIGHT_WAIT), or
// until `deadline` (ERR_TIMED_OUT; DEADLINE_NONE polls). ERR_CANCELED if h is
// closed, sent or replaced meanwhile (or the object's last handle goes),
// ERR_REVOKED if h is revoked. *observed (may be NULL) gets the signals seen
// last, whatever the outcome.
status_t obj_wait_one(struct handle_table *t, handle_t h, signals_t want, uint64_t deadline,
                      signals_t *observed);

// For blocking object operations: looks h up (type, rights) and registers w
// as a waiter through it, atomically with respect to closing h. Returns with
// the object's lock held (irq state in *s) and a reference on *o.
status_t obj_wait_begin(struct handle_table *t, handle_t h, uint32_t type, rights_t need,
                        struct obj_waiter *w, struct kobject **o, irqstate_t *s);
// Unregisters w, unlocks and drops the reference.
void obj_wait_end(struct kobject *o, struct obj_waiter *w, irqstate_t s);
