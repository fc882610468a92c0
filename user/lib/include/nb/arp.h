// Ethernet + ARP (RFC 826) frames for IPv4 over Ethernet: building a
// request and parsing what comes back (docs/VIRTIO.md, "arping"). Pure
// code, tested on the host (user/tests/host/arp_test.c).
//
// IPv4 addresses are uint32_t with the first octet in the top byte
// (10.0.2.2 is 0x0a000202); MAC addresses are 6 bytes in wire order.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARP_FRAME_BYTES 42u // 14 bytes of Ethernet header + 28 of ARP
#define ARP_OP_REQUEST  1u
#define ARP_OP_REPLY    2u
#define ETHERTYPE_ARP   0x0806u

struct arp_packet {
    uint8_t eth_dst[6], eth_src[6];
    uint16_t op;
    uint8_t sha[6], tha[6]; // sender and target hardware addresses
    uint32_t spa, tpa;      // sender and target protocol (IPv4) addresses
};

// Writes a broadcast "who has tip, tell sip" frame from mac into buf;
// returns its length (ARP_FRAME_BYTES), or 0 when cap is too small.
size_t arp_build_request(uint8_t *buf, size_t cap, const uint8_t mac[6], uint32_t sip,
                         uint32_t tip);

// Parses an Ethernet frame holding an IPv4-over-Ethernet ARP packet; false
// for anything else (short frames, other ethertypes, other hardware or
// protocol types or lengths). Trailing padding is allowed.
bool arp_parse(const void *frame, size_t len, struct arp_packet *out);

// Whether p answers a request for tip sent from mac (a reply from tip,
// addressed to mac, or broadcast).
bool arp_is_reply(const struct arp_packet *p, uint32_t tip, const uint8_t mac[6]);

// Dotted quad "a.b.c.d" (each 0-255, decimal, no extra characters).
bool arp_parse_ipv4(const char *s, uint32_t *ip);

// "a.b.c.d" into out (16 bytes) and "xx:xx:xx:xx:xx:xx" into out (18 bytes).
void arp_format_ipv4(uint32_t ip, char out[16]);
void arp_format_mac(const uint8_t mac[6], char out[18]);

// The ethernet protocol's u64 MAC (first octet in the lowest byte) as bytes.
void arp_mac_from_u64(uint64_t v, uint8_t mac[6]);
