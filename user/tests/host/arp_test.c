// nb/arp.h on the host: building an ARP request byte for byte, parsing
// QEMU user networking's reply, rejecting malformed frames, dotted quads.
#include <string.h>

#include "lib/ktest.h"
#include "nb/arp.h"

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t gw_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

static void arp_request_bytes(struct ktest *t)
{
    uint8_t f[64];
    static const uint8_t want[ARP_FRAME_BYTES] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
        10,   0,    2,    15,   0,    0,    0,    0,    0,    0,    10,   0,    2,    2};
    ASSERT_EQ(arp_build_request(f, sizeof(f), our_mac, 0x0a00020f, 0x0a000202), ARP_FRAME_BYTES);
    EXPECT_TRUE(memcmp(f, want, sizeof(want)) == 0);
    EXPECT_EQ(arp_build_request(f, ARP_FRAME_BYTES - 1, our_mac, 1, 2), 0u);
    struct arp_packet p;
    ASSERT_TRUE(arp_parse(f, ARP_FRAME_BYTES, &p));
    EXPECT_EQ(p.op, ARP_OP_REQUEST);
    EXPECT_EQ(p.spa, 0x0a00020fu);
    EXPECT_EQ(p.tpa, 0x0a000202u);
    EXPECT_FALSE(arp_is_reply(&p, 0x0a000202, our_mac)); // a request, not a reply
}

// A reply as slirp sends it (padded to 60 bytes).
static size_t make_reply(uint8_t *f)
{
    memset(f, 0, 60);
    memcpy(f, our_mac, 6);
    memcpy(f + 6, gw_mac, 6);
    f[12] = 0x08, f[13] = 0x06, f[15] = 1, f[16] = 8, f[18] = 6, f[19] = 4, f[21] = 2;
    memcpy(f + 22, gw_mac, 6);
    f[28] = 10, f[29] = 0, f[30] = 2, f[31] = 2;
    memcpy(f + 32, our_mac, 6);
    f[38] = 10, f[39] = 0, f[40] = 2, f[41] = 15;
    return 60;
}

static void arp_reply_parse(struct ktest *t)
{
    uint8_t f[60];
    size_t n = make_reply(f);
    struct arp_packet p;
    ASSERT_TRUE(arp_parse(f, n, &p));
    EXPECT_EQ(p.op, ARP_OP_REPLY);
    EXPECT_TRUE(memcmp(p.sha, gw_mac, 6) == 0);
    EXPECT_TRUE(memcmp(p.tha, our_mac, 6) == 0);
    EXPECT_EQ(p.spa, 0x0a000202u);
    EXPECT_EQ(p.tpa, 0x0a00020fu);
    EXPECT_TRUE(arp_is_reply(&p, 0x0a000202, our_mac));
    EXPECT_FALSE(arp_is_reply(&p, 0x0a000203, our_mac));
    static const uint8_t other[6] = {2, 0, 0, 0, 0, 1};
    EXPECT_FALSE(arp_is_reply(&p, 0x0a000202, other));
    memset(f, 0xff, 6); // broadcast replies count too
    ASSERT_TRUE(arp_parse(f, n, &p));
    EXPECT_TRUE(arp_is_reply(&p, 0x0a000202, other));
    char s[18];
    arp_format_mac(p.sha, s);
    EXPECT_STREQ(s, "52:55:0a:00:02:02");
}

static void arp_reject(struct ktest *t)
{
    uint8_t f[60];
    struct arp_packet p;
    size_t n = make_reply(f);
    EXPECT_FALSE(arp_parse(f, ARP_FRAME_BYTES - 1, &p)); // short
    EXPECT_FALSE(arp_parse(f, 0, &p));
    EXPECT_FALSE(arp_parse(NULL, 60, &p));
    f[13] = 0x00; // IPv4, not ARP
    EXPECT_FALSE(arp_parse(f, n, &p));
    n = make_reply(f);
    f[15] = 6; // hardware type
    EXPECT_FALSE(arp_parse(f, n, &p));
    n = make_reply(f);
    f[17] = 0xdd; // protocol type
    EXPECT_FALSE(arp_parse(f, n, &p));
    n = make_reply(f);
    f[18] = 8; // hardware length
    EXPECT_FALSE(arp_parse(f, n, &p));
    n = make_reply(f);
    f[19] = 16; // protocol length
    EXPECT_FALSE(arp_parse(f, n, &p));
}

static void arp_ipv4_text(struct ktest *t)
{
    uint32_t ip = 0;
    ASSERT_TRUE(arp_parse_ipv4("10.0.2.2", &ip));
    EXPECT_EQ(ip, 0x0a000202u);
    ASSERT_TRUE(arp_parse_ipv4("255.255.255.255", &ip));
    EXPECT_EQ(ip, 0xffffffffu);
    ASSERT_TRUE(arp_parse_ipv4("0.0.0.0", &ip));
    EXPECT_EQ(ip, 0u);
    static const char *bad[] = {"",       "10.0.2",     "10.0.2.2.1", "256.0.0.1",
                                "1..2.3", "10.0.2.2x",  "a.b.c.d",    "1.2.3.",
                                ".1.2.3", "1.2.3.0004", "-1.2.3.4",   " 1.2.3.4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_FALSE(arp_parse_ipv4(bad[i], &ip));
    char s[16];
    arp_format_ipv4(0x0a00020f, s);
    EXPECT_STREQ(s, "10.0.2.15");
    uint8_t mac[6];
    arp_mac_from_u64(0x563412005452ull, mac);
    EXPECT_TRUE(memcmp(mac, our_mac, 6) == 0);
}

KTEST_SUITE(arp, KTEST_CASE(arp_request_bytes), KTEST_CASE(arp_reply_parse), KTEST_CASE(arp_reject),
            KTEST_CASE(arp_ipv4_text));
