// Channels: pairs of endpoints carrying messages of bytes and handles.
//
// Writing moves the listed handles out of the writer's table into the
// message (all or nothing: on any failure every handle stays where it was);
// reading installs them in the reader's table. Messages queue at the
// receiving endpoint, bounded by CHAN_QUEUE_MAX_MSGS and
// CHAN_QUEUE_MAX_BYTES: a write is refused with ERR_SHOULD_WAIT while the
// peer's queue is full, and WRITABLE is deasserted meanwhile (the last
// message accepted may overshoot the byte bound by up to one message).
//
// Closing an endpoint's last handle destroys the messages queued to it, with
// their handles, and asserts PEER_CLOSED on the other endpoint (which can
// still read what was queued to it). Sending an endpoint of a channel
// through that same channel is refused (ERR_NOT_SUPPORTED).
//
// Status codes: ERR_OUT_OF_RANGE for more than CHAN_MAX_MSG_BYTES or
// CHAN_MAX_MSG_HANDLES; ERR_INVALID_ARGS for a handle listed twice;
// ERR_ACCESS_DENIED for a handle without RIGHT_TRANSFER; ERR_PROTOCOL for a
// message a typed channel refuses (see obj/proto.h).
#pragma once

#include <stdint.h>

#include "nimbus/channel.h"
#include "obj/handle.h"
#include "obj/proto.h"

#define CHAN_QUEUE_MAX_MSGS  128u
#define CHAN_QUEUE_MAX_BYTES (256u * 1024)

// An untyped channel. Default rights: READ, WRITE, DUPLICATE, TRANSFER,
// SIGNAL, SIGNAL_PEER, WAIT, INSPECT.
status_t chan_create(struct handle_table *t, handle_t *out0, handle_t *out1);

// A channel whose messages are checked against `proto`: `client` may write
// requests, `server` responses and events.
status_t chan_create_typed(struct handle_table *t, const struct proto_desc *proto, handle_t *client,
                           handle_t *server);

// Queues a message to the peer (needs RIGHT_WRITE). ERR_PEER_CLOSED once the
// peer's last handle is gone; ERR_SHOULD_WAIT while its queue is full.
status_t chan_write(struct handle_table *t, handle_t h, const struct nb_msg_out *m);

// Takes the oldest message (needs RIGHT_READ). ERR_SHOULD_WAIT when none is
// queued, ERR_PEER_CLOSED when none is queued and the peer is gone,
// ERR_BUFFER_TOO_SMALL (m->nbytes and m->nhandles give the sizes; the
// message stays queued), ERR_NO_RESOURCES when the table cannot take its
// handles (the message stays queued).
status_t chan_read(struct handle_table *t, handle_t h, struct nb_msg_in *m);

// Writes req (at least a struct nb_msg_header; its txid is replaced by a
// fresh one) and waits until `deadline` for the message carrying that txid,
// which is received into *reply and never queued. Other messages stay
// queued for chan_read. ERR_TIMED_OUT (a late reply is then queued like any
// message), ERR_PEER_CLOSED, ERR_CANCELED if the endpoint's last handle
// goes; ERR_BUFFER_TOO_SMALL or ERR_NO_RESOURCES (the reply is destroyed).
status_t chan_call(struct handle_table *t, handle_t h, const struct nb_msg_out *req,
                   struct nb_msg_in *reply, uint64_t deadline);

// A server's turn: writes `reply` (if not NULL; as chan_write, and a write
// error ends the call before anything is read), then waits until `deadline`
// for a message on h and reads it into *in as chan_read. Needs RIGHT_READ
// and RIGHT_WAIT, and RIGHT_WRITE with a reply. ERR_PEER_CLOSED once
// nothing is queued and the peer is gone, ERR_TIMED_OUT, ERR_CANCELED if h
// is closed meanwhile; ERR_BUFFER_TOO_SMALL and ERR_NO_RESOURCES as
// chan_read (the message stays queued). When the reply wakes a caller
// blocked in chan_call and nothing is queued for h, the caller gets this CPU
// as soon as this thread blocks.
status_t chan_reply_wait(struct handle_table *t, handle_t h, const struct nb_msg_out *reply,
                         struct nb_msg_in *in, uint64_t deadline);

// Messages alive (queued, in a reply, being built) for leak checks.
uint64_t chan_live_messages(void);

// ---- Byte streams for the kernel (Linux file descriptors, sys/fd.h) ----
// The caller holds a handle to the endpoint `o` and checked its rights.
struct chan_msg;

// A message of nbytes bytes and no handles, to fill and send (NULL: no
// memory, or more than CHAN_MAX_MSG_BYTES).
struct chan_msg *chan_msg_alloc(uint32_t nbytes);
void *chan_msg_data(struct chan_msg *m);
uint32_t chan_msg_size(const struct chan_msg *m);
void chan_msg_free(struct chan_msg *m);

// Queues m to o's peer; on success m belongs to the channel. ERR_SHOULD_WAIT
// while the peer's queue is full, ERR_PEER_CLOSED, ERR_PROTOCOL (typed
// channel), ERR_WRONG_TYPE if o is not a channel endpoint.
status_t chan_ep_send(struct kobject *o, struct chan_msg *m);

// Takes the oldest message queued at o (its handles, if any, are closed);
// the caller frees it with chan_msg_free. ERR_SHOULD_WAIT when none is
// queued, ERR_PEER_CLOSED when none is queued and the peer is gone.
status_t chan_ep_take(struct kobject *o, struct chan_msg **out);
