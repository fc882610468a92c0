// Ports: queues of packets, for waiting on many objects at once.
//
// port_bind(port, object, key, signals, mode) watches `signals` of the
// object; packets carry the key, the watched and observed signals and a
// count:
// - PORT_BIND_EDGE: one packet per 0->1 transition of a watched signal.
//   Signals already asserted at bind time give no packet. While the
//   binding's packet is still queued, further transitions are coalesced into
//   it (count goes up, observed is refreshed); once it is read, the binding
//   is re-armed by itself: the next transition queues a new packet. The
//   binding stays until cancelled or the object's last handle goes.
// - PORT_BIND_ONCE: one packet as soon as a watched signal is asserted (at
//   once if it already is), then the binding is removed.
// Packets live inside their binding, so signalling never allocates and a
// binding has at most one packet queued. User packets (port_queue) are
// bounded per port (PORT_MAX_USER_PACKETS, then ERR_SHOULD_WAIT).
//
// Closing the last handle of a bound object removes its bindings (packets
// already queued stay, and keep the object's memory until they are read). Closing the last handle
// of a port drops its queue and every binding to it. Ports cannot be bound to ports.
#pragma once

#include <stdint.h>

#include "nimbus/signals.h"
#include "obj/handle.h"
#include "obj/object.h"

#define PORT_MAX_USER_PACKETS 1024u
#define PORT_MAX_BINDINGS     4096u

// A new port (default rights READ, WRITE, DUPLICATE, TRANSFER, WAIT, INSPECT).
status_t port_create(struct handle_table *t, handle_t *out);

// Binds obj_h (needs RIGHT_WAIT) to port_h (needs RIGHT_WRITE). A binding is
// named by (object, port, key): binding the same key twice gives
// ERR_ALREADY_EXISTS. ERR_NOT_SUPPORTED for a port as object,
// ERR_INVALID_ARGS for no signals or a bad mode, ERR_NO_RESOURCES past
// PORT_MAX_BINDINGS.
status_t port_bind(struct handle_table *t, handle_t port_h, handle_t obj_h, uint64_t key,
                   signals_t signals, uint32_t mode);

// Removes the binding (obj_h, port_h, key) and any of its packets still
// queued. ERR_NOT_FOUND if there was neither.
status_t port_cancel(struct handle_table *t, handle_t port_h, handle_t obj_h, uint64_t key);

// Queues a user packet (type set to PORT_PACKET_USER). Needs RIGHT_WRITE.
status_t port_queue(struct handle_table *t, handle_t port_h, const struct nb_port_packet *pkt);

// Takes the oldest packet, blocking until `deadline` (DEADLINE_NONE: do not
// block; ERR_TIMED_OUT when nothing came). Needs RIGHT_READ. ERR_CANCELED if
// the handle is closed while waiting.
status_t port_wait(struct handle_table *t, handle_t port_h, uint64_t deadline,
                   struct nb_port_packet *out);

// Live bindings (leak checks).
uint64_t port_live_bindings(void);

// ---- For the object layer ----
// o's signals went from old to new: fire its bindings. o's lock held.
void port_notify_locked(struct kobject *o, signals_t old, signals_t new);
// o's last handle is gone: drop its bindings. No locks held.
void port_unbind_all(struct kobject *o);
