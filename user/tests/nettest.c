// nettest: the virtio-net driver end to end (docs/VIRTIO.md, "virtio-net").
// Starts /bin/virtio-net itself with the device's resources and keeps the
// client end of its service channel; checks the MAC and the link, sends an
// ARP request for QEMU user networking's gateway and expects the reply,
// pings it (checksums in software, a wrong one, and by the device when it
// offers checksum offload), runs /bin/arping over duplicates of the
// channel, and last kills the driver with sends in flight and a client
// waiting, and starts it again. KTAP on stdout.
//
//   nettest --mmio ADDR --irq GSI
//
// Wants from init: handles=log?,initrd,vmex, and either mmio, irq, dma or
// root_resource (then it derives them as blktest does).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/arp.h"
#include "nb/bootstrap.h"
#include "drvtest.h"
#include "nb/initrd.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"
#include "nimbus/resource.h"
#include "proto/devmgr.h"
#include "proto/ethernet.h"

#define WAIT_LIMIT    (30 * NB_NSEC_PER_SEC)
#define ARP_LIMIT     (10 * NB_NSEC_PER_SEC)
#define GATEWAY       0x0a000202u // 10.0.2.2
#define GUEST         0x0a00020fu // 10.0.2.15
#define UDP_PEER      0x0a000203u // 10.0.2.3: the tap test's echo service (tests/integration)
#define NOISE_TRIGGER 0x0a000262u // 10.0.2.98: asked for, the tap test's peer sends frames
#define PING_LIMIT    (5 * NB_NSEC_PER_SEC)
#define KILL_LIMIT    (5 * NB_NSEC_PER_SEC)

static handle_t client = HANDLE_INVALID, driver = HANDLE_INVALID;
static const char *a_addr, *a_gsi;
static const char *dargv[] = {"/bin/virtio-net", "--mmio", NULL, "--irq", NULL, NULL};
static struct drvtest dt = {.test = "nettest", .program = "/bin/virtio-net", .argv = dargv};
static uint8_t msg[ETHERNET_MAX_MSG_BYTES];
static uint8_t mac[6], gw_mac[6];
static bool have_gw_mac;
static uint32_t link_events, link_state = 2, next_txid = 1, offloads;

// Reads one message by the deadline into msg (link events are noted and
// skipped): OK, ERR_TIMED_OUT or the channel's error.
static status_t read_msg(uint64_t deadline, struct nb_msg_in *m, struct nb_msg_header *h)
{
    for (;;) {
        *m = (struct nb_msg_in){.bytes = msg, .bytes_cap = sizeof(msg)};
        status_t s = nb_channel_read(client, m);
        if (s == OK) {
            if (m->nbytes < sizeof(*h))
                continue;
            memcpy(h, msg, sizeof(*h));
            uint32_t up;
            if (h->ordinal == ETHERNET_LINK_ORDINAL && !h->txid &&
                ethernet_link_request_decode(m, &up) == OK) {
                link_events++;
                link_state = up;
                continue;
            }
            return OK;
        }
        if (s != ERR_SHOULD_WAIT)
            return s;
        signals_t obs;
        // PEER_CLOSED too: a driver that dies must end the wait at once.
        if ((s = nb_object_wait_one(client, SIGNAL_READABLE | SIGNAL_PEER_CLOSED, deadline,
                                    &obs)) != OK)
            return s;
    }
}

// Writes the request in m with a fresh txid and waits for its response
// (frames that arrive meanwhile are dropped).
static status_t call(struct nb_msg_in *m)
{
    struct nb_msg_header h;
    memcpy(&h, m->bytes, sizeof(h));
    uint32_t txid = h.txid = next_txid++;
    memcpy(m->bytes, &h, sizeof(h));
    struct nb_msg_out out = {.bytes = m->bytes, .nbytes = m->nbytes};
    status_t s = nb_channel_write(client, &out);
    uint64_t deadline = nb_deadline_after(WAIT_LIMIT);
    while (s == OK) {
        if ((s = read_msg(deadline, m, &h)) == OK && h.txid == txid)
            return OK;
    }
    return s;
}

static status_t send_csum(const void *frame, uint32_t len, uint16_t cstart, uint16_t coff,
                          status_t *st)
{
    struct nb_msg_in m = {.bytes = msg, .bytes_cap = sizeof(msg)};
    status_t s = ethernet_send_request_encode(&m, cstart, coff, frame, len);
    if (s == OK && (s = call(&m)) == OK)
        s = ethernet_send_response_decode(&m, st);
    return s;
}

static status_t send_frame(const void *frame, uint32_t len, status_t *st)
{
    struct nb_msg_in m = {.bytes = msg, .bytes_cap = sizeof(msg)};
    status_t s = ethernet_send_request_encode(&m, ETHERNET_CSUM_NONE, 0, frame, len);
    if (s == OK && (s = call(&m)) == OK)
        s = ethernet_send_response_decode(&m, st);
    return s;
}

static void net_info(struct ktest *t)
{
    struct nb_msg_in m = {.bytes = msg, .bytes_cap = sizeof(msg)};
    ASSERT_OK(ethernet_get_info_request_encode(&m));
    ASSERT_OK(call(&m));
    status_t st;
    uint64_t mac64, dropped;
    uint32_t fmax, up;
    ASSERT_OK(ethernet_get_info_response_decode(&m, &st, &mac64, &fmax, &up, &dropped, &offloads));
    ASSERT_OK(st);
    arp_mac_from_u64(mac64, mac);
    char s[18];
    arp_format_mac(mac, s);
    printf("# mac %s, frame_max %u, link %s, %llu dropped, offloads%s%s\n", s, fmax,
           up ? "up" : "down", (unsigned long long)dropped,
           offloads & ETHERNET_OFFLOAD_TX_CSUM ? " tx-csum" : "",
           offloads & ETHERNET_OFFLOAD_RX_CSUM ? " rx-csum" : "");
    EXPECT_EQ(offloads & ~(uint32_t)(ETHERNET_OFFLOAD_TX_CSUM | ETHERNET_OFFLOAD_RX_CSUM), 0u);
    EXPECT_EQ(mac64 >> 48, 0u);
    EXPECT_NE(mac64, 0u);
    EXPECT_FALSE(mac[0] & 1); // not multicast
    EXPECT_EQ(fmax, (uint32_t)ETHERNET_FRAME_MAX);
    EXPECT_EQ(up, 1u);
    // The driver announces the link once at start (read before the reply).
    EXPECT_EQ(link_events, 1u);
    EXPECT_EQ(link_state, 1u);
}

static void net_bad_send(struct ktest *t)
{
    status_t st;
    uint8_t small[ETHERNET_FRAME_MIN - 1] = {0};
    ASSERT_OK(send_frame(small, sizeof(small), &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
    ASSERT_OK(send_frame(small, 0, &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
    // A checksum request: refused without the offload; with it, the field
    // must lie inside the frame (never sent: all of them are refused).
    uint8_t frame[ARP_FRAME_BYTES];
    size_t n = arp_build_request(frame, sizeof(frame), mac, GUEST, 0x0a000263);
    if (!(offloads & ETHERNET_OFFLOAD_TX_CSUM)) {
        ASSERT_OK(send_csum(frame, (uint32_t)n, 14, 2, &st));
        EXPECT_STATUS(st, ERR_NOT_SUPPORTED);
        return;
    }
    ASSERT_OK(send_csum(frame, (uint32_t)n, (uint16_t)(n - 1), 0, &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
    ASSERT_OK(send_csum(frame, (uint32_t)n, 14, (uint16_t)(n - 15), &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
    ASSERT_OK(send_csum(frame, (uint32_t)n, 0xfffe, 0xffff, &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
    ASSERT_OK(send_csum(small, sizeof(small), 0, 0, &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
}

// Sends a request for tip every second until a reply or the limit.
static status_t arp_roundtrip(uint32_t tip, struct arp_packet *reply, uint64_t *ns)
{
    uint64_t end = nb_deadline_after(ARP_LIMIT);
    while (nb_now() < end) {
        uint8_t frame[ARP_FRAME_BYTES];
        size_t n = arp_build_request(frame, sizeof(frame), mac, GUEST, tip);
        status_t st, s;
        while ((s = send_frame(frame, (uint32_t)n, &st)) == OK && st == ERR_SHOULD_WAIT &&
               nb_now() < end)
            nb_nanosleep(nb_deadline_after(NB_NSEC_PER_SEC / 100)); // the ring is full
        if (s != OK)
            return s;
        if (st != OK)
            return st;
        uint64_t t0 = nb_now(), until = t0 + NB_NSEC_PER_SEC;
        for (;;) {
            struct nb_msg_in m;
            struct nb_msg_header h;
            s = read_msg(until < end ? until : end, &m, &h);
            if (s == ERR_TIMED_OUT)
                break;
            if (s != OK)
                return s;
            const void *f;
            uint32_t len, flags;
            uint16_t cs, co;
            if (h.ordinal == ETHERNET_FRAME_ORDINAL &&
                ethernet_frame_request_decode(&m, &flags, &cs, &co, &f, &len) == OK &&
                arp_parse(f, len, reply) && arp_is_reply(reply, tip, mac)) {
                *ns = nb_now() - t0;
                return OK;
            }
        }
    }
    return ERR_TIMED_OUT;
}

static void net_arp_gateway(struct ktest *t)
{
    struct arp_packet p;
    uint64_t ns = 0;
    ASSERT_OK(arp_roundtrip(GATEWAY, &p, &ns));
    char s[18];
    arp_format_mac(p.sha, s);
    printf("# 10.0.2.2 is at %s (%llu us)\n", s, (unsigned long long)(ns / 1000));
    static const uint8_t slirp_gw[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
    EXPECT_TRUE(memcmp(p.sha, slirp_gw, 6) == 0);
    EXPECT_TRUE(memcmp(p.tha, mac, 6) == 0);
    EXPECT_EQ(p.tpa, GUEST);
    memcpy(gw_mac, p.sha, 6);
    have_gw_mac = true;
    // A second round trip: the receive buffer was posted again.
    ASSERT_OK(arp_roundtrip(GATEWAY, &p, &ns));
}

// Hands the driver a new client channel the way devmgr does (a `connect`
// message on an existing client channel); our end in *mine.
static status_t connect_client(handle_t *mine)
{
    handle_t theirs;
    status_t s = nb_channel_create(0, mine, &theirs);
    if (s != OK)
        return s;
    uint8_t buf[DEVMGR_MAX_MSG_BYTES];
    handle_t hs[1];
    struct nb_msg_in m = {.bytes = buf, .handles = hs, .bytes_cap = sizeof(buf), .handles_cap = 1};
    if ((s = devmgr_connect_request_encode(&m, theirs)) != OK) {
        nb_handle_close(theirs);
        return s;
    }
    struct nb_msg_out out = {
        .bytes = m.bytes, .handles = m.handles, .nbytes = m.nbytes, .nhandles = m.nhandles};
    return nb_channel_write(client, &out);
}

// A second client through the connect convention: it asks and gets the
// answer, and the first client sees the same frames (every client gets
// every frame). Eight clients at most: a ninth is closed.
static void net_more_clients(struct ktest *t)
{
    handle_t first = client, second, extra[7];
    struct arp_packet p;
    uint64_t ns;
    ASSERT_OK(connect_client(&second));
    client = second;
    struct nb_msg_in m = {.bytes = msg, .bytes_cap = sizeof(msg)};
    status_t st = ERR_INTERNAL, s = ethernet_get_info_request_encode(&m);
    if (s == OK && (s = call(&m)) == OK) {
        uint64_t mac64, dropped;
        uint32_t fmax, up, offl;
        s = ethernet_get_info_response_decode(&m, &st, &mac64, &fmax, &up, &dropped, &offl);
    }
    EXPECT_OK(s);
    EXPECT_OK(st);
    s = arp_roundtrip(GATEWAY, &p, &ns);
    client = first;
    EXPECT_OK(s);
    // The reply went to the first client as well.
    bool seen = false;
    uint64_t end = nb_deadline_after(WAIT_LIMIT);
    while (!seen) {
        struct nb_msg_header h;
        const void *f;
        uint32_t len, flags;
        uint16_t cs, co;
        if ((s = read_msg(end, &m, &h)) != OK)
            break;
        seen = h.ordinal == ETHERNET_FRAME_ORDINAL &&
               ethernet_frame_request_decode(&m, &flags, &cs, &co, &f, &len) == OK &&
               arp_parse(f, len, &p) && arp_is_reply(&p, GATEWAY, mac);
    }
    EXPECT_TRUE(seen);
    nb_handle_close(second);
    // The service channel and seven more are the most; the ninth is closed.
    for (unsigned i = 0; i < 7; i++)
        ASSERT_OK(connect_client(&extra[i]));
    handle_t ninth;
    ASSERT_OK(connect_client(&ninth));
    signals_t obs = 0;
    EXPECT_OK(nb_object_wait_one(ninth, SIGNAL_PEER_CLOSED, nb_deadline_after(WAIT_LIMIT), &obs));
    EXPECT_TRUE(obs & SIGNAL_PEER_CLOSED);
    for (unsigned i = 0; i < 7; i++) { // still served
        obs = 0;
        nb_object_wait_one(extra[i], SIGNAL_PEER_CLOSED, NB_DEADLINE_POLL, &obs);
        EXPECT_FALSE(obs & SIGNAL_PEER_CLOSED);
        nb_handle_close(extra[i]);
    }
    nb_handle_close(ninth);
}

// ---- IPv4, ICMP and UDP, as much as the ping and echo cases need.

#define IP_OFF   14
#define L4_OFF   (IP_OFF + 20)
#define PAYLOAD  32
#define ICMP_ID  0x4e42
#define UDP_PORT 7 // echo

// The one's-complement sum of len bytes (big-endian 16-bit words) added to sum.
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// The sum of the UDP pseudo-header for an IPv4 frame (addresses, protocol, length).
static uint32_t pseudo_sum(const uint8_t *f, uint16_t l4_len)
{
    return sum16(f + IP_OFF + 12, 8, 0) + 17u + l4_len;
}

// Ethernet + IPv4 header (its checksum filled) for proto with l4_len bytes after it.
static size_t build_ip(uint8_t *f, const uint8_t dst_mac[6], uint32_t dst, uint8_t proto,
                       uint16_t l4_len)
{
    static uint16_t ip_id = 1;
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, mac, 6);
    put_be16(f + 12, 0x0800);
    uint8_t *ip = f + IP_OFF;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put_be16(ip + 2, (uint16_t)(20 + l4_len));
    put_be16(ip + 4, ip_id++);
    ip[8] = 64;
    ip[9] = proto;
    put_be16(ip + 12, GUEST >> 16);
    put_be16(ip + 14, (uint16_t)GUEST);
    put_be16(ip + 16, (uint16_t)(dst >> 16));
    put_be16(ip + 18, (uint16_t)dst);
    put_be16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
    return L4_OFF + l4_len;
}

enum csum_mode { CSUM_SOFTWARE, CSUM_WRONG, CSUM_DEVICE };

// An echo request to the gateway with seq; the ICMP checksum computed
// here, deliberately wrong, or left 0 for the device (csum_start at the
// ICMP header, csum_offset 2). Returns the send's status.
static status_t send_ping(uint16_t seq, enum csum_mode mode)
{
    uint8_t f[L4_OFF + 8 + PAYLOAD];
    size_t n = build_ip(f, gw_mac, GATEWAY, 1, 8 + PAYLOAD);
    uint8_t *icmp = f + L4_OFF;
    memset(icmp, 0, 8);
    icmp[0] = 8; // echo request
    put_be16(icmp + 4, ICMP_ID);
    put_be16(icmp + 6, seq);
    for (unsigned i = 0; i < PAYLOAD; i++)
        icmp[8 + i] = (uint8_t)(seq + i * 3);
    uint16_t c = (uint16_t)~fold(sum16(icmp, 8 + PAYLOAD, 0));
    if (mode == CSUM_WRONG)
        c ^= 0x0101;
    if (mode != CSUM_DEVICE)
        put_be16(icmp + 2, c);
    status_t st, s;
    uint16_t cstart = mode == CSUM_DEVICE ? L4_OFF : ETHERNET_CSUM_NONE;
    uint16_t coff = mode == CSUM_DEVICE ? 2 : 0;
    uint64_t end = nb_deadline_after(PING_LIMIT);
    while ((s = send_csum(f, (uint32_t)n, cstart, coff, &st)) == OK && st == ERR_SHOULD_WAIT &&
           nb_now() < end)
        nb_nanosleep(nb_deadline_after(NB_NSEC_PER_SEC / 100));
    return s != OK ? s : st;
}

// Whether the frame f (flags from its event) holds a checksum that is right
// at l4 (len bytes with the pseudo-header sum psum), completing a partial one.
static bool l4_csum_ok(uint8_t *f, uint32_t flags, uint16_t cstart, uint16_t coff, size_t l4,
                       size_t len, uint32_t psum)
{
    if (flags & ETHERNET_FRAME_CSUM_VALID)
        return true;
    if (flags & ETHERNET_FRAME_CSUM_PARTIAL) {
        if (cstart != l4 || cstart + coff + 2u > l4 + len)
            return false;
        put_be16(f + cstart + coff, (uint16_t)~fold(sum16(f + cstart, l4 + len - cstart, 0)));
    }
    return fold(sum16(f + l4, len, psum)) == 0xffff;
}

// Waits until the limit for the echo reply with seq: OK, ERR_TIMED_OUT, or
// ERR_IO for a reply whose checksums are wrong.
static status_t wait_reply(uint8_t proto, uint16_t seq, uint64_t limit, uint32_t *flags_out)
{
    uint64_t end = nb_deadline_after(limit);
    for (;;) {
        struct nb_msg_in m;
        struct nb_msg_header h;
        status_t s = read_msg(end, &m, &h);
        if (s != OK)
            return s;
        const void *fv;
        uint32_t len, flags;
        uint16_t cs, co;
        if (h.ordinal != ETHERNET_FRAME_ORDINAL ||
            ethernet_frame_request_decode(&m, &flags, &cs, &co, &fv, &len) != OK ||
            len < L4_OFF + 8u)
            continue;
        uint8_t *f = (uint8_t *)fv; // our own copy, in msg
        uint8_t *ip = f + IP_OFF;
        if (get_be16(f + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != proto ||
            get_be32(ip + 16) != GUEST || memcmp(f, mac, 6) != 0)
            continue;
        uint16_t iplen = get_be16(ip + 2);
        if (iplen < 28 || IP_OFF + (uint32_t)iplen > len)
            continue;
        uint8_t *l4 = f + L4_OFF;
        size_t l4len = iplen - 20u;
        bool match = proto == 1
                         ? l4[0] == 0 && get_be16(l4 + 4) == ICMP_ID && get_be16(l4 + 6) == seq
                         : get_be16(l4) == UDP_PORT && l4len >= 8 + 2u && get_be16(l4 + 8) == seq;
        if (!match)
            continue;
        *flags_out = flags;
        bool ip_ok = (flags & ETHERNET_FRAME_CSUM_VALID) || fold(sum16(ip, 20, 0)) == 0xffff;
        uint32_t psum = proto == 1 ? 0 : pseudo_sum(f, (uint16_t)l4len);
        if (!ip_ok || !l4_csum_ok(f, flags, cs, co, L4_OFF, l4len, psum))
            return ERR_IO;
        return OK;
    }
}

// Ping the gateway with the checksum computed here: slirp (and the tap
// test's peer) answer only a right one.
static void net_ping_gateway(struct ktest *t)
{
    ASSERT_TRUE(have_gw_mac);
    uint32_t flags = 0;
    status_t s = ERR_TIMED_OUT;
    for (uint16_t seq = 1; seq <= 3 && s == ERR_TIMED_OUT; seq++) {
        uint64_t t0 = nb_now();
        ASSERT_OK(send_ping(seq, CSUM_SOFTWARE));
        if ((s = wait_reply(1, seq, NB_NSEC_PER_SEC * 2, &flags)) == OK)
            printf("# ping 10.0.2.2 seq %u: reply in %llu us, flags %#x\n", seq,
                   (unsigned long long)((nb_now() - t0) / 1000), flags);
    }
    EXPECT_OK(s);
    if (!(offloads & ETHERNET_OFFLOAD_RX_CSUM))
        EXPECT_EQ(flags, 0u);
}

// A wrong checksum gets no answer: this is what makes the offload case
// below mean something.
static void net_ping_bad_checksum(struct ktest *t)
{
    ASSERT_TRUE(have_gw_mac);
    uint32_t flags;
    ASSERT_OK(send_ping(100, CSUM_WRONG));
    EXPECT_STATUS(wait_reply(1, 100, NB_NSEC_PER_SEC * 2, &flags), ERR_TIMED_OUT);
    // And the right one right after it still is.
    ASSERT_OK(send_ping(101, CSUM_SOFTWARE));
    EXPECT_OK(wait_reply(1, 101, PING_LIMIT, &flags));
}

// The device fills in the ICMP checksum (left 0: ICMP has no pseudo-header).
static void net_ping_offload(struct ktest *t)
{
    if (!(offloads & ETHERNET_OFFLOAD_TX_CSUM))
        KTEST_SKIP("the device offers no transmit checksum offload");
    ASSERT_TRUE(have_gw_mac);
    uint32_t flags;
    status_t s = ERR_TIMED_OUT;
    for (uint16_t seq = 200; seq < 203 && s == ERR_TIMED_OUT; seq++) {
        ASSERT_OK(send_ping(seq, CSUM_DEVICE));
        s = wait_reply(1, seq, NB_NSEC_PER_SEC * 2, &flags);
    }
    EXPECT_OK(s);
    printf("# ping with the checksum by the device: %s\n", status_str(s));
}

// UDP to the tap test's echo service (10.0.2.3 port 7, the host's own
// stack): our checksum by the device, and the echo's flags as the device
// gave them (a partial checksum is completed and checked here).
static void net_udp_echo_offload(struct ktest *t)
{
    if (!(offloads & ETHERNET_OFFLOAD_RX_CSUM) || !(offloads & ETHERNET_OFFLOAD_TX_CSUM))
        KTEST_SKIP("the device offers no checksum offload");
    struct arp_packet p;
    uint64_t ns;
    ASSERT_OK(arp_roundtrip(UDP_PEER, &p, &ns));
    uint32_t flags = 0;
    status_t s = ERR_TIMED_OUT;
    for (uint16_t seq = 300; seq < 303 && s == ERR_TIMED_OUT; seq++) {
        uint8_t f[L4_OFF + 8 + PAYLOAD];
        size_t n = build_ip(f, p.sha, UDP_PEER, 17, 8 + PAYLOAD);
        uint8_t *udp = f + L4_OFF;
        put_be16(udp, UDP_PORT);
        put_be16(udp + 2, UDP_PORT);
        put_be16(udp + 4, 8 + PAYLOAD);
        put_be16(udp + 8, seq);
        for (unsigned i = 2; i < PAYLOAD; i++)
            udp[8 + i] = (uint8_t)i;
        // The field holds the pseudo-header sum; the device adds the rest.
        put_be16(udp + 6, fold(pseudo_sum(f, 8 + PAYLOAD)));
        status_t st;
        ASSERT_OK(send_csum(f, (uint32_t)n, L4_OFF, 6, &st));
        ASSERT_OK(st);
        s = wait_reply(17, seq, NB_NSEC_PER_SEC * 2, &flags);
    }
    EXPECT_OK(s);
    printf("# udp echo from 10.0.2.3: %s, flags %#x%s%s\n", status_str(s), flags,
           flags & ETHERNET_FRAME_CSUM_VALID ? " csum-valid" : "",
           flags & ETHERNET_FRAME_CSUM_PARTIAL ? " csum-partial" : "");
}

// Many frames back to back: the transmit ring fills (ERR_SHOULD_WAIT is
// allowed) and drains; the link still answers afterwards.
static void net_tx_burst(struct ktest *t)
{
    uint32_t ok = 0, full = 0;
    for (int i = 0; i < 64; i++) {
        uint8_t frame[ARP_FRAME_BYTES];
        size_t n = arp_build_request(frame, sizeof(frame), mac, GUEST, 0x0a000263); // .99
        status_t st;
        ASSERT_OK(send_frame(frame, (uint32_t)n, &st));
        if (st == OK)
            ok++;
        else if (st == ERR_SHOULD_WAIT)
            full++;
        else
            EXPECT_OK(st);
    }
    printf("# 64 sends: %u queued, %u while the ring was full\n", ok, full);
    EXPECT_GE(ok, 1u);
    struct arp_packet p;
    uint64_t ns;
    EXPECT_OK(arp_roundtrip(GATEWAY, &p, &ns));
}

// /bin/arping over a duplicate of our channel; its output comes back on
// *mine. OK or why it could not start.
static status_t start_arping(const char **args, handle_t *proc, handle_t *mine)
{
    handle_t conn;
    status_t s = nb_handle_duplicate(client, RIGHT_SAME_RIGHTS, &conn);
    if (s != OK)
        return s;
    const char *argv[8] = {"/bin/arping"};
    for (int i = 0; args[i] && i < 6; i++)
        argv[i + 1] = args[i];
    return drvtest_start_command(&dt, argv, conn, proc, mine);
}

// Collects arping's output into out until it ends (the limit from now),
// copying it into the log; returns its exit code, -1 when it did not end.
static int finish_arping(handle_t proc, handle_t mine, uint64_t limit, char *out, size_t cap)
{
    int code = drvtest_finish_command(proc, mine, nb_deadline_after(limit), out, cap);
    for (const char *line = out; *line;) { // arping's output into the log
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        printf("# arping: %.*s\n", len, line);
        line += len + (nl ? 1 : 0);
    }
    return code;
}

static int run_arping(const char **args, char *out, size_t cap)
{
    handle_t proc, mine;
    out[0] = 0;
    if (start_arping(args, &proc, &mine) != OK)
        return -1;
    return finish_arping(proc, mine, WAIT_LIMIT, out, cap);
}

static void net_arping(struct ktest *t)
{
    static char out[4096];
    const char *ok[] = {"-c", "2", "-w", "10", "10.0.2.2", NULL};
    ASSERT_EQ(run_arping(ok, out, sizeof(out)), 0);
    EXPECT_NOT_NULL(strstr(out, "reply from 10.0.2.2 at 52:55:0a:00:02:02 in "));
    // Nobody has 10.0.2.99: no reply, exit 1.
    const char *none[] = {"-c", "1", "-w", "2", "10.0.2.99", NULL};
    EXPECT_EQ(run_arping(none, out, sizeof(out)), 1);
    EXPECT_NOT_NULL(strstr(out, "1 requests, 0 replies"));
    const char *bad[] = {"10.0.2", NULL};
    EXPECT_EQ(run_arping(bad, out, sizeof(out)), 2);
    const char *bad2[] = {"-c", "0", "10.0.2.2", NULL};
    EXPECT_EQ(run_arping(bad2, out, sizeof(out)), 2);
}

static status_t spawn_driver(void);

// After the driver's death, before a new driver resets the device: fresh
// contiguous (DMA) memory, just freed by the dead driver and handed out
// again, filled with a pattern. Frames that arrive meanwhile (the tap
// test's peer sends 40 over 200 ms when it sees an ARP request for
// NOISE_TRIGGER) must not land in it; today they do (docs/VIRTIO.md, "Not
// done yet"), so this only reports.
static void dma_after_death_check(void)
{
    enum { VMOS = 8, BYTES = 65536 };
    static uint8_t pat[BYTES], back[BYTES];
    memset(pat, 0x55, sizeof(pat));
    handle_t v[VMOS];
    unsigned n = 0, changed = 0;
    for (; n < VMOS; n++) {
        if (nb_vmo_create_contiguous(dt.res[2], BYTES, 0, &v[n]) != OK ||
            nb_vmo_write(v[n], pat, 0, sizeof(pat)) != OK)
            break;
    }
    nb_nanosleep(nb_deadline_after(NB_NSEC_PER_SEC / 2));
    for (unsigned k = 0; k < n; k++) {
        if (nb_vmo_read(v[k], back, 0, sizeof(back)) == OK) {
            for (unsigned b = 0; b < sizeof(back); b++)
                changed += back[b] != 0x55;
        }
        nb_handle_close(v[k]);
    }
    printf("# DMA after the driver's death: %u bytes of %u new 64 KiB contiguous vmos changed in "
           "500 ms\n",
           changed, n);
}

// Kill the driver with sends in flight, /bin/arping waiting for a reply and
// this client waiting for a frame: every request is answered or the
// channel says ERR_PEER_CLOSED within KILL_LIMIT, arping ends with an
// error, and a new driver on the same device (reset and set up afresh)
// works.
static void net_kill_in_flight(struct ktest *t)
{
    struct nb_handle_info hi;
    ASSERT_OK(nb_handle_info(driver, &hi));
    ASSERT_TRUE(hi.rights & RIGHT_MANAGE); // what NB_SYS_TASK_KILL needs
    handle_t aproc, aout;
    const char *args[] = {"-c", "100", "-w", "60", "10.0.2.99", NULL};
    ASSERT_OK(start_arping(args, &aproc, &aout));
    nb_nanosleep(nb_deadline_after(NB_NSEC_PER_SEC / 2)); // arping is waiting for a reply
    enum { N = 24, TXID0 = 0x5000 };
    uint8_t trigger[ARP_FRAME_BYTES];
    status_t tst;
    size_t tn = arp_build_request(trigger, sizeof(trigger), mac, GUEST, NOISE_TRIGGER);
    ASSERT_OK(send_frame(trigger, (uint32_t)tn, &tst));
    for (uint32_t r = 0; r < N; r++) {
        uint8_t frame[ARP_FRAME_BYTES];
        size_t n = arp_build_request(frame, sizeof(frame), mac, GUEST, 0x0a000263);
        struct nb_msg_in m = {.bytes = msg, .bytes_cap = sizeof(msg)};
        ASSERT_OK(ethernet_send_request_encode(&m, ETHERNET_CSUM_NONE, 0, frame, (uint32_t)n));
        struct nb_msg_header h;
        memcpy(&h, msg, sizeof(h));
        h.txid = TXID0 + r;
        memcpy(msg, &h, sizeof(h));
        struct nb_msg_out out = {.bytes = msg, .nbytes = m.nbytes};
        ASSERT_OK(nb_channel_write(client, &out));
    }
    uint64_t t0 = nb_now();
    ASSERT_OK(nb_task_kill(driver));
    uint32_t answered = 0, bad = 0, frames = 0;
    status_t s;
    for (;;) {
        struct nb_msg_in m;
        struct nb_msg_header h;
        if ((s = read_msg(t0 + KILL_LIMIT, &m, &h)) != OK)
            break;
        status_t st;
        if (h.ordinal == ETHERNET_SEND_ORDINAL && h.txid >= TXID0 && h.txid < TXID0 + N &&
            ethernet_send_response_decode(&m, &st) == OK) {
            answered++;
            if (st != OK && st != ERR_SHOULD_WAIT)
                bad++;
        } else {
            frames++;
        }
    }
    uint64_t ms = (nb_now() - t0) / 1000000;
    printf("# killed with %u sends in flight: %u answered before, then %s after %llu ms (%u "
           "other messages)\n",
           N, answered, status_str(s), (unsigned long long)ms, frames);
    EXPECT_STATUS(s, ERR_PEER_CLOSED);
    EXPECT_EQ(bad, 0u);
    EXPECT_LE(answered, (uint32_t)N);
    // arping (60 s to go) ends at once: its wait ended with ERR_PEER_CLOSED
    // (said on its stderr, the console).
    static char out[4096];
    int code = finish_arping(aproc, aout, KILL_LIMIT, out, sizeof(out));
    printf("# arping ended with %d after %llu ms\n", code,
           (unsigned long long)((nb_now() - t0) / 1000000));
    EXPECT_EQ(code, 1);
    EXPECT_NOT_NULL(strstr(out, "ARPING 10.0.2.99"));
    struct nb_process_info info;
    ASSERT_OK(nb_process_wait(driver, nb_deadline_after(KILL_LIMIT), &info));
    char how[96];
    nb_process_describe(&info, how, sizeof(how));
    printf("# the driver %s\n", how);
    nb_handle_close(driver);
    nb_handle_close(client);
    driver = client = HANDLE_INVALID;
    dma_after_death_check();

    // Again on the same device: it is reset and set up afresh.
    link_events = 0;
    ASSERT_OK(spawn_driver());
    net_info(t);
    struct arp_packet p;
    uint64_t ns;
    ASSERT_OK(arp_roundtrip(GATEWAY, &p, &ns));
    printf("# after the restart 10.0.2.2 answers in %llu us\n", (unsigned long long)(ns / 1000));
    uint32_t flags;
    ASSERT_OK(send_ping(400, CSUM_SOFTWARE));
    EXPECT_OK(wait_reply(1, 400, PING_LIMIT, &flags));
}

KTEST_SUITE(net, KTEST_CASE(net_info), KTEST_CASE(net_bad_send), KTEST_CASE(net_arp_gateway),
            KTEST_CASE(net_ping_gateway), KTEST_CASE(net_ping_bad_checksum),
            KTEST_CASE(net_ping_offload), KTEST_CASE(net_udp_echo_offload),
            KTEST_CASE(net_tx_burst), KTEST_CASE(net_arping), KTEST_CASE(net_more_clients),
            KTEST_CASE(net_kill_in_flight));

// Starts /bin/virtio-net (drvtest.h); `client` is our end of its service
// channel.
static status_t spawn_driver(void)
{
    return drvtest_spawn(&dt, &client, &driver);
}

static status_t start_driver(int argc, char **argv)
{
    uint64_t addr = 0, gsi = 0;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--mmio"))
            addr = strtoull(a_addr = argv[i + 1], NULL, 0);
        if (!strcmp(argv[i], "--irq"))
            gsi = strtoull(a_gsi = argv[i + 1], NULL, 0);
    }
    if (!addr || !a_gsi) {
        fprintf(stderr, "nettest: usage: nettest --mmio ADDR --irq GSI\n");
        return ERR_INVALID_ARGS;
    }
    dargv[2] = a_addr;
    dargv[4] = a_gsi;
    status_t s = drvtest_open(&dt, addr, gsi);
    if (s != OK)
        return s;
    return spawn_driver();
}

int main(int argc, char **argv)
{
    if (nb_bootstrap_load() != OK) {
        fputs("nettest: no bootstrap message\n", stderr);
        return 1;
    }
    if (start_driver(argc, argv) != OK)
        return 1;
    int failed = ktest_run(NULL);
    nb_handle_close(client);
    if (driver != HANDLE_INVALID)
        nb_task_kill(driver);
    return failed ? 1 : 0;
}
