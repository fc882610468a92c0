// Rights: what a handle allows on its object. Rights are only ever reduced:
// duplicating, replacing or sending a handle can drop rights, never add them.
#pragma once

#include <stdint.h>

typedef uint32_t rights_t;

#define RIGHT_NONE        0u
#define RIGHT_READ        (1u << 0)  // read data: channel messages, port packets, vmo bytes
#define RIGHT_WRITE       (1u << 1)  // write data; set a timer; queue to or bind to a port
#define RIGHT_DUPLICATE   (1u << 2)  // duplicate the handle (also: wrap it revocably)
#define RIGHT_TRANSFER    (1u << 3)  // send the handle over a channel
#define RIGHT_MAP         (1u << 4)  // map a vmo (address spaces, next issue)
#define RIGHT_EXECUTE     (1u << 5)  // map a vmo executable
#define RIGHT_SIGNAL      (1u << 6)  // set or clear the object's user signals
#define RIGHT_SIGNAL_PEER (1u << 7)  // set or clear the peer's user signals
#define RIGHT_WAIT        (1u << 8)  // wait on signals, bind to a port
#define RIGHT_INSPECT     (1u << 9)  // query properties beyond type and rights
#define RIGHT_MANAGE      (1u << 10) // change configuration: resize a vmo, revoke

#define RIGHTS_ALL ((1u << 11) - 1)

// Passed as the rights of handle_duplicate / handle_replace: keep them all.
#define RIGHT_SAME_RIGHTS (1u << 31)
