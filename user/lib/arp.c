// Ethernet + ARP frames (nb/arp.h): pure code, tested on the host.
#include "nb/arp.h"

#include <stdio.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

size_t arp_build_request(uint8_t *buf, size_t cap, const uint8_t mac[6], uint32_t sip, uint32_t tip)
{
    if (cap < ARP_FRAME_BYTES)
        return 0;
    memset(buf, 0xff, 6); // broadcast
    memcpy(buf + 6, mac, 6);
    put16(buf + 12, ETHERTYPE_ARP);
    uint8_t *a = buf + 14;
    put16(a, 1);          // hardware type: Ethernet
    put16(a + 2, 0x0800); // protocol type: IPv4
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, ARP_OP_REQUEST);
    memcpy(a + 8, mac, 6);
    put32(a + 14, sip);
    memset(a + 18, 0, 6);
    put32(a + 24, tip);
    return ARP_FRAME_BYTES;
}

bool arp_parse(const void *frame, size_t len, struct arp_packet *out)
{
    const uint8_t *f = frame;
    if (!f || len < ARP_FRAME_BYTES || get16(f + 12) != ETHERTYPE_ARP)
        return false;
    const uint8_t *a = f + 14;
    if (get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4)
        return false;
    memcpy(out->eth_dst, f, 6);
    memcpy(out->eth_src, f + 6, 6);
    out->op = get16(a + 6);
    memcpy(out->sha, a + 8, 6);
    out->spa = get32(a + 14);
    memcpy(out->tha, a + 18, 6);
    out->tpa = get32(a + 24);
    return true;
}

bool arp_is_reply(const struct arp_packet *p, uint32_t tip, const uint8_t mac[6])
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (p->op != ARP_OP_REPLY || p->spa != tip)
        return false;
    return !memcmp(p->eth_dst, mac, 6) || !memcmp(p->eth_dst, bcast, 6);
}

bool arp_parse_ipv4(const char *s, uint32_t *ip)
{
    uint32_t v = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (*s != '.')
                return false;
            s++;
        }
        unsigned n = 0, digits = 0;
        while (*s >= '0' && *s <= '9') {
            n = n * 10 + (unsigned)(*s++ - '0');
            if (++digits > 3 || n > 255)
                return false;
        }
        if (!digits)
            return false;
        v = v << 8 | n;
    }
    if (*s)
        return false;
    *ip = v;
    return true;
}

void arp_format_ipv4(uint32_t ip, char out[16])
{
    snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 0xff, ip >> 8 & 0xff, ip & 0xff);
}

void arp_format_mac(const uint8_t mac[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
}

void arp_mac_from_u64(uint64_t v, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)(v >> (8 * i));
}
