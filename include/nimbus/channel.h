// Channels: message passing between a pair of endpoints, and the transport
// interface that generated protocol stubs call through.
#pragma once

#include <stdint.h>

#include "nimbus/handle.h"
#include "nimbus/status.h"

#define CHAN_MAX_MSG_BYTES   65536u // bytes per message
#define CHAN_MAX_MSG_HANDLES 64u    // handles per message

// Every message of a typed channel, and every message sent with call, starts
// with this header. txid 0 means "no reply expected"; call assigns txids with
// NB_TXID_KERNEL_BIT set, so user-chosen txids keep that bit clear.
struct nb_msg_header {
    uint32_t txid;
    uint32_t ordinal; // which method (typed channels)
    uint32_t flags;   // 0 for now
    uint32_t reserved;
};

#define NB_TXID_KERNEL_BIT 0x80000000u

// A message to send.
struct nb_msg_out {
    const void *bytes;
    const handle_t *handles;
    uint32_t nbytes;
    uint32_t nhandles;
};

// Room for a message to receive; nbytes and nhandles report what the message
// holds (also when the room was too small).
struct nb_msg_in {
    void *bytes;
    handle_t *handles;
    uint32_t bytes_cap;
    uint32_t handles_cap;
    uint32_t nbytes;
    uint32_t nhandles;
};

// What generated client stubs send through: a channel in the kernel tests,
// a syscall wrapper in user space. `buf` (buf_size bytes) is scratch space
// for the request and the reply; call must accept the reply landing in the
// same buffer the request came from.
struct nb_transport {
    void *ctx;
    void *buf;
    uint32_t buf_size;
    // Sends req, waits for the reply with the same txid (assigned by the
    // transport) and receives it into *reply.
    status_t (*call)(void *ctx, const struct nb_msg_out *req, struct nb_msg_in *reply);
    // Sends a message that expects no reply.
    status_t (*write)(void *ctx, const struct nb_msg_out *msg);
    // Closes handles a stub received but could not hand back (a malformed
    // reply). May be NULL.
    void (*close)(void *ctx, const handle_t *handles, uint32_t n);
};

_Static_assert(sizeof(struct nb_msg_header) == 16, "nb_msg_header layout");
