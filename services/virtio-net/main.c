// virtio-net: a network driver serving the ethernet protocol
// (proto/ethernet.nidl, docs/VIRTIO.md) on its service channel.
//
//   virtio-net (--mmio ADDR --irq GSI | --pci BUS:DEV.FN)
//
// Roles: `service` (the first client connection) and those of vdrv.h.
// More clients come through the device manager's connect convention (a
// `connect` message carrying a channel, on any client channel): every
// client gets every received frame and link event, and may send (a raw
// interface, as packet sockets are), up to MAX_CLIENTS at once.
// Receive ring: queue 0, RX_BUFS buffers of BUF_BYTES posted at all times;
// transmit ring: queue 1, TX_BUFS slots. Each buffer holds the 12-byte
// virtio-net header followed by the frame (one descriptor). Checksum
// offload (CSUM, GUEST_CSUM) is negotiated when offered and passed through
// the header's flags, csum_start and csum_offset.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../virtio-common/vdrv.h"
#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/loop.h"
#include "nb/syscall.h"
#include "proto/devmgr.h"
#include "proto/ethernet.h"

#define VIRTIO_NET_F_CSUM       0 // the device completes partial checksums on transmit
#define VIRTIO_NET_F_GUEST_CSUM 1 // received headers may say DATA_VALID / NEEDS_CSUM
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_STATUS     16
#define VIRTIO_NET_S_LINK_UP    1
#define CFG_MAC                 0
#define CFG_STATUS              6

#define NET_HDR \
    12 // virtio 1.x: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers
#define HDR_FLAGS        0 // u8
#define HDR_CSUM_START   6 // le16
#define HDR_CSUM_OFFSET  8 // le16
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define BUF_BYTES        2048
#define RX_BUFS          32
#define TX_BUFS          16
#define QUEUE_WANT       64
#define MAX_CLIENTS      8

static struct {
    struct vdrv v;
    struct nb_virtq rxq, txq;
    struct vdrv_dma rx_ring, tx_ring, rx_mem, tx_mem;
    unsigned nrx, ntx;
    bool tx_busy[TX_BUFS];
    struct nb_loop loop;
    struct vdrv_irq irq;
    struct client {
        struct nb_channel_watch watch;
        bool open;
        uint64_t dropped; // frames its channel had no room for
    } clients[MAX_CLIENTS];
    uint64_t mac, rx_dropped; // rx_dropped: frames the driver dropped (bad lengths)
    uint32_t link_up, offloads;
} net;

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void post_rx(unsigned i)
{
    struct nb_virtq_buf b = {net.rx_mem.pa + (uint64_t)i * BUF_BYTES, BUF_BYTES};
    if (nb_virtq_add(&net.rxq, &b, 0, 1, (void *)(uintptr_t)(i + 1)) != OK)
        nb_logf("virtio-net: cannot post receive buffer %u", i);
}

// A frame or link event to every client.
static void send_event(struct nb_msg_in *m)
{
    struct nb_msg_out out = {.bytes = m->bytes, .nbytes = m->nbytes};
    for (unsigned i = 0; i < MAX_CLIENTS; i++)
        if (net.clients[i].open && nb_channel_write(net.clients[i].watch.channel, &out) != OK)
            net.clients[i].dropped++;
}

static void check_link(void)
{
    uint32_t up = 1;
    if (nb_virtio_has(&net.v.dev, VIRTIO_NET_F_STATUS))
        up = nb_virtio_config_read(&net.v.dev, CFG_STATUS, 2) & VIRTIO_NET_S_LINK_UP;
    if (up == net.link_up)
        return;
    net.link_up = up;
    nb_logf("virtio-net: link %s", up ? "up" : "down");
    uint8_t buf[ETHERNET_MAX_MSG_BYTES];
    struct nb_msg_in m = {.bytes = buf, .bytes_cap = sizeof(buf)};
    if (ethernet_link_request_encode(&m, up) == OK)
        send_event(&m);
}

// Takes back the transmit slots the device is done with (also from send
// when the ring looks full: the completion's interrupt may not have been
// handled yet).
static void reap_tx(void)
{
    void *cookie;
    uint32_t len;
    status_t s;
    while ((s = nb_virtq_get(&net.txq, &cookie, &len)) != ERR_SHOULD_WAIT) {
        if (s == ERR_BAD_STATE)
            break;
        uintptr_t i = (uintptr_t)cookie;
        if (i >= 1 && i <= net.ntx)
            net.tx_busy[i - 1] = false;
    }
}

static void drain(void)
{
    void *cookie;
    uint32_t len;
    status_t s;
    bool reposted = false;
    while ((s = nb_virtq_get(&net.rxq, &cookie, &len)) != ERR_SHOULD_WAIT) {
        if (s == ERR_BAD_STATE)
            break;
        if (!cookie)
            continue; // a bad used entry (counted by the queue)
        unsigned i = (unsigned)(uintptr_t)cookie - 1;
        if (s == OK && len >= NET_HDR + ETHERNET_FRAME_MIN && len - NET_HDR <= ETHERNET_FRAME_MAX) {
            static uint8_t buf[ETHERNET_MAX_MSG_BYTES];
            struct nb_msg_in m = {.bytes = buf, .bytes_cap = sizeof(buf)};
            const uint8_t *h = net.rx_mem.va + (size_t)i * BUF_BYTES;
            // Without GUEST_CSUM the device must leave the flags 0;
            // whatever it says is passed on only when negotiated.
            uint32_t flags = 0;
            uint16_t start = ETHERNET_CSUM_NONE, off = ETHERNET_CSUM_NONE;
            if (net.offloads & ETHERNET_OFFLOAD_RX_CSUM) {
                if (h[HDR_FLAGS] & HDR_F_DATA_VALID)
                    flags |= ETHERNET_FRAME_CSUM_VALID;
                if (h[HDR_FLAGS] & HDR_F_NEEDS_CSUM) {
                    start = get16(h + HDR_CSUM_START);
                    off = get16(h + HDR_CSUM_OFFSET);
                    if ((uint32_t)start + off + 2 <= len - NET_HDR)
                        flags |= ETHERNET_FRAME_CSUM_PARTIAL;
                    else
                        start = off = ETHERNET_CSUM_NONE; // outside the frame: say nothing
                }
            }
            if (ethernet_frame_request_encode(&m, flags, start, off, h + NET_HDR, len - NET_HDR) ==
                OK)
                send_event(&m);
        } else {
            net.rx_dropped++;
        }
        post_rx(i);
        reposted = true;
    }
    if (reposted)
        nb_virtq_kick(&net.rxq);
    reap_tx();
    if (net.rxq.broken || net.txq.broken) {
        nb_logf("virtio-net: the device broke a queue; stopping");
        nb_virtio_fail(&net.v.dev);
        nb_loop_quit(&net.loop);
    }
}

static status_t h_get_info(void *ctx, struct nb_msg_in *reply)
{
    const struct client *c = ctx;
    return ethernet_get_info_response_encode(reply, OK, net.mac, ETHERNET_FRAME_MAX, net.link_up,
                                             net.rx_dropped + c->dropped, net.offloads);
}

static status_t h_send(void *ctx, uint16_t csum_start, uint16_t csum_offset, const void *frame,
                       uint32_t len, struct nb_msg_in *reply)
{
    (void)ctx;
    if (len < ETHERNET_FRAME_MIN || len > ETHERNET_FRAME_MAX)
        return ethernet_send_response_encode(reply, ERR_INVALID_ARGS);
    bool csum = csum_start != ETHERNET_CSUM_NONE;
    if (csum && !(net.offloads & ETHERNET_OFFLOAD_TX_CSUM))
        return ethernet_send_response_encode(reply, ERR_NOT_SUPPORTED);
    if (csum && (uint32_t)csum_start + csum_offset + 2 > len)
        return ethernet_send_response_encode(reply, ERR_INVALID_ARGS);
    unsigned i = 0;
    while (i < net.ntx && net.tx_busy[i])
        i++;
    if (i == net.ntx) {
        reap_tx();
        i = 0;
        while (i < net.ntx && net.tx_busy[i])
            i++;
    }
    if (i == net.ntx)
        return ethernet_send_response_encode(reply, ERR_SHOULD_WAIT);
    uint8_t *p = net.tx_mem.va + (size_t)i * BUF_BYTES;
    memset(p, 0, NET_HDR);
    if (csum) {
        p[HDR_FLAGS] = HDR_F_NEEDS_CSUM;
        put16(p + HDR_CSUM_START, csum_start);
        put16(p + HDR_CSUM_OFFSET, csum_offset);
    }
    memcpy(p + NET_HDR, frame, len);
    struct nb_virtq_buf b = {net.tx_mem.pa + (uint64_t)i * BUF_BYTES, NET_HDR + len};
    status_t s = nb_virtq_add(&net.txq, &b, 1, 0, (void *)(uintptr_t)(i + 1));
    if (s == OK) {
        net.tx_busy[i] = true;
        nb_virtq_kick(&net.txq);
    } else if (s != ERR_SHOULD_WAIT) {
        s = ERR_IO;
    }
    return ethernet_send_response_encode(reply, s);
}

static const struct ethernet_server_ops ops = {.get_info = h_get_info, .send = h_send};

static void on_readable(struct nb_loop *loop, struct nb_channel_watch *w);
static void on_closed(struct nb_loop *loop, struct nb_channel_watch *w);

// Serves `channel` as a client; false (and the channel closed) when all
// MAX_CLIENTS are taken or it cannot be watched.
static bool client_add(handle_t channel)
{
    for (unsigned i = 0; i < MAX_CLIENTS; i++) {
        struct client *c = &net.clients[i];
        if (c->open)
            continue;
        *c = (struct client){.watch = {.channel = channel,
                                       .on_readable = on_readable,
                                       .on_peer_closed = on_closed,
                                       .ctx = c}};
        status_t s = nb_channel_watch_start(&net.loop, &c->watch);
        if (s == OK) {
            c->open = true;
            return true;
        }
        nb_logf("virtio-net: cannot watch a client: %s", status_str(s));
        break;
    }
    nb_handle_close(channel);
    return false;
}

static void on_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct client *c = w->ctx;
    (void)loop;
    for (;;) {
        static uint8_t buf[ETHERNET_MAX_MSG_BYTES], rbuf[ETHERNET_MAX_MSG_BYTES];
        handle_t hs[4];
        struct nb_msg_in m = {
            .bytes = buf, .handles = hs, .bytes_cap = sizeof(buf), .handles_cap = 4};
        status_t s = nb_channel_read(w->channel, &m);
        if (s != OK)
            return;
        handle_t client;
        if (devmgr_connect_request_decode(&m, &client) == OK) {
            if (!client_add(client))
                nb_logf("virtio-net: a new client refused (%u at most)", MAX_CLIENTS);
            continue;
        }
        for (uint32_t i = 0; i < m.nhandles; i++)
            nb_handle_close(hs[i]);
        struct nb_msg_in r = {.bytes = rbuf, .bytes_cap = sizeof(rbuf)};
        s = ethernet_dispatch(&ops, c, &m, &r);
        if (s != OK) {
            nb_logf("virtio-net: bad request: %s", status_str(s));
            continue;
        }
        if (r.nbytes) {
            struct nb_msg_out out = {.bytes = rbuf, .nbytes = r.nbytes};
            nb_channel_write(w->channel, &out);
        }
    }
}

static void on_closed(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct client *c = w->ctx;
    (void)loop; // the loop has stopped the watch already
    nb_handle_close(w->channel);
    c->open = false;
}

static status_t setup_device(void)
{
    struct nb_virtio_dev *d = &net.v.dev;
    status_t s =
        nb_virtio_negotiate(d, 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS |
                                   1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM);
    if (s != OK)
        return s;
    net.offloads = (nb_virtio_has(d, VIRTIO_NET_F_CSUM) ? ETHERNET_OFFLOAD_TX_CSUM : 0) |
                   (nb_virtio_has(d, VIRTIO_NET_F_GUEST_CSUM) ? ETHERNET_OFFLOAD_RX_CSUM : 0);
    if (nb_virtio_has(d, VIRTIO_NET_F_MAC)) {
        for (unsigned i = 0; i < 6; i++)
            net.mac |= nb_virtio_config_read(d, CFG_MAC + i, 1) << (8 * i);
    } else {
        net.mac = 0x010000424e02ull; // 02:4e:42:00:00:01, locally administered
    }
    if ((s = vdrv_queue(&net.v, &net.rxq, 0, QUEUE_WANT, &net.rx_ring)) != OK ||
        (s = vdrv_queue(&net.v, &net.txq, 1, QUEUE_WANT, &net.tx_ring)) != OK)
        return s;
    net.nrx = net.rxq.size < RX_BUFS ? net.rxq.size : RX_BUFS;
    net.ntx = net.txq.size < TX_BUFS ? net.txq.size : TX_BUFS;
    if ((s = vdrv_dma_alloc(&net.v, (size_t)net.nrx * BUF_BYTES, &net.rx_mem)) != OK ||
        (s = vdrv_dma_alloc(&net.v, (size_t)net.ntx * BUF_BYTES, &net.tx_mem)) != OK)
        return s;
    nb_virtio_driver_ok(d);
    for (unsigned i = 0; i < net.nrx; i++)
        post_rx(i);
    nb_virtq_kick(&net.rxq);
    return OK;
}

int main(int argc, char **argv)
{
    handle_t service;
    int rc = vdrv_start_service(&net.v, "virtio-net", VIRTIO_ID_NET, argc, argv, &service);
    if (rc != 0)
        return rc;
    net.link_up = 2; // unknown: the first check reports it
    status_t s = setup_device();
    if (s != OK) {
        nb_logf("virtio-net: device setup: %s", status_str(s));
        nb_virtio_fail(&net.v.dev);
        return 1;
    }
    if ((s = nb_loop_init(&net.loop)) != OK)
        return 1;
    if (!client_add(service))
        return 1;
    net.irq =
        (struct vdrv_irq){.v = &net.v, .loop = &net.loop, .serve = drain, .config = check_link};
    if (vdrv_irq_start(&net.irq) != OK)
        return 1;
    check_link();
    nb_logf("virtio-net: %02x:%02x:%02x:%02x:%02x:%02x, %u rx / %u tx buffers, %s, "
            "checksum offload: tx %s, rx %s",
            (unsigned)(net.mac & 0xff), (unsigned)(net.mac >> 8 & 0xff),
            (unsigned)(net.mac >> 16 & 0xff), (unsigned)(net.mac >> 24 & 0xff),
            (unsigned)(net.mac >> 32 & 0xff), (unsigned)(net.mac >> 40 & 0xff), net.nrx, net.ntx,
            net.v.dev.tr->name, net.offloads & ETHERNET_OFFLOAD_TX_CSUM ? "yes" : "no",
            net.offloads & ETHERNET_OFFLOAD_RX_CSUM ? "yes" : "no");
    s = nb_loop_run(&net.loop, NB_DEADLINE_INFINITE);
    nb_logf("virtio-net: event loop stopped: %s", status_str(s));
    nb_virtio_reset(&net.v.dev);
    return 1;
}
