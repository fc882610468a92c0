// Signals: a word of state bits on every object, which threads wait on
// (wait_one, or bound to a port) and ports report in packets.
#pragma once

#include <stdint.h>

typedef uint32_t signals_t;

#define SIGNAL_NONE        0u
#define SIGNAL_READABLE    (1u << 0) // channel: a message queued; port: a packet queued
#define SIGNAL_WRITABLE    (1u << 1) // channel: the peer's queue has room
#define SIGNAL_PEER_CLOSED (1u << 2) // channel, event pair: the peer's last handle is gone
#define SIGNAL_SIGNALED    (1u << 3) // event (user set), timer (deadline reached)
#define SIGNAL_TERMINATED  (1u << 4) // process, thread (later issues)

#define SIGNAL_USER0    (1u << 24)
#define SIGNAL_USER1    (1u << 25)
#define SIGNAL_USER2    (1u << 26)
#define SIGNAL_USER3    (1u << 27)
#define SIGNAL_USER4    (1u << 28)
#define SIGNAL_USER5    (1u << 29)
#define SIGNAL_USER6    (1u << 30)
#define SIGNAL_USER7    (1u << 31)
#define SIGNAL_USER_ALL (0xffu << 24) // SIGNAL_USER0 .. SIGNAL_USER7
#define SIGNAL_USER(n)  (SIGNAL_USER0 << (n))

// How an object is bound to a port (port_bind).
#define PORT_BIND_EDGE 1 // one packet per 0->1 transition of a watched signal; stays bound
#define PORT_BIND_ONCE 2 // one packet once a watched signal is asserted; then unbound

// Packet types.
#define PORT_PACKET_SIGNAL_EDGE 1
#define PORT_PACKET_SIGNAL_ONCE 2
#define PORT_PACKET_USER        3

// What port_wait returns.
struct nb_port_packet {
    uint64_t key;  // chosen by whoever bound the object or queued the packet
    uint32_t type; // PORT_PACKET_*
    int32_t status;
    union {
        struct {
            signals_t trigger;  // the watched signals
            signals_t observed; // the object's signals when the packet was (last) updated
            uint64_t count;     // transitions coalesced into this packet (EDGE), else 1
        } signal;
        struct {
            uint64_t u64[4];
        } user;
    };
};

_Static_assert(sizeof(struct nb_port_packet) == 48, "nb_port_packet layout");
