// Protocol descriptors for typed channels, generated from proto/*.nidl by
// proto/idlgen.py. A channel created with a descriptor has a client end
// (whose writes must be requests) and a server end (responses and events);
// the kernel checks every message at write and refuses one that breaks the
// protocol with ERR_PROTOCOL, moving nothing.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nimbus/channel.h"
#include "nimbus/handle.h"
#include "nimbus/object.h"
#include "nimbus/rights.h"

enum proto_dir {
    PROTO_DIR_REQUEST = 1,  // client -> server
    PROTO_DIR_RESPONSE = 2, // server -> client, same ordinal as the request
    PROTO_DIR_EVENT = 3,    // server -> client, unsolicited
};

// What one handle slot of a message must hold.
struct proto_handle_desc {
    uint32_t type;   // OBJ_*, or OBJ_ANY
    rights_t rights; // rights the handle must have (at least)
};

struct proto_msg_desc {
    uint32_t ordinal;
    uint32_t dir;       // enum proto_dir
    uint32_t min_bytes; // header included
    uint32_t max_bytes;
    uint32_t min_handles; // handle fields; handle vectors add up to max_handles
    uint32_t max_handles;
    const struct proto_handle_desc *handles; // max_handles entries, in message order
};

struct proto_desc {
    const char *name;
    uint32_t nmsgs;
    const struct proto_msg_desc *msgs;
};

enum proto_violation {
    PROTO_OK = 0,
    PROTO_SHORT_HEADER,      // fewer bytes than struct nb_msg_header
    PROTO_UNKNOWN_ORDINAL,   // no message with this ordinal in this direction
    PROTO_TOO_SHORT,         // below min_bytes
    PROTO_TOO_LONG,          // above max_bytes
    PROTO_TOO_FEW_HANDLES,   // below min_handles
    PROTO_TOO_MANY_HANDLES,  // above max_handles
    PROTO_WRONG_HANDLE_TYPE, // a handle's object type differs from its slot's
    PROTO_MISSING_RIGHTS,    // a handle lacks rights its slot requires
};

// Checks a message written by the client (from_server false) or the server
// end against d. hs[i] describes the i-th handle of the message.
enum proto_violation proto_check(const struct proto_desc *d, bool from_server, const void *bytes,
                                 uint32_t nbytes, const struct nb_handle_info *hs, uint32_t nh);

const char *proto_violation_str(enum proto_violation v);

// The descriptor of message `ordinal` in direction dir, or NULL.
const struct proto_msg_desc *proto_find(const struct proto_desc *d, uint32_t ordinal, uint32_t dir);
