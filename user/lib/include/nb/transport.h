// A struct nb_transport over a channel, so the generated protocol client
// stubs (proto/*.nidl) run from user space: call is NB_SYS_CHANNEL_CALL,
// write NB_SYS_CHANNEL_WRITE, close NB_SYS_HANDLE_CLOSE.
#pragma once

#include <stdint.h>

#include "nimbus/channel.h"
#include "nimbus/handle.h"

struct nb_channel_transport {
    struct nb_transport tr; // pass &ct.tr to the stubs
    handle_t channel;
    uint64_t timeout_ns; // per call; 0 waits for ever
};

// buf (buf_size bytes, at least the protocol's _MAX_MSG_BYTES) is where
// requests are built and replies land; it must outlive the transport.
void nb_channel_transport_init(struct nb_channel_transport *ct, handle_t channel, void *buf,
                               uint32_t buf_size);
