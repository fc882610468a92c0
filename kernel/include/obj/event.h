// Events and event pairs: objects that carry nothing but signals.
// An event's user signals are SIGNALED and USER0..7; an event pair side's
// are USER0..7 plus SIGNALED, and each side sees PEER_CLOSED when the other
// side's last handle goes. Set them with obj_signal / obj_signal_peer, wait
// with obj_wait_one or a port.
#pragma once

#include "obj/handle.h"

// Default rights: DUPLICATE, TRANSFER, SIGNAL, WAIT, INSPECT (+ SIGNAL_PEER
// for event pairs).
status_t event_create(struct handle_table *t, handle_t *out);
status_t eventpair_create(struct handle_table *t, handle_t *out0, handle_t *out1);
