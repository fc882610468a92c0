// virtio-console: a second console on a virtio console device (docs/VIRTIO.md,
// docs/CONSOLE.md). Port 0 only (no VIRTIO_CONSOLE_F_MULTIPORT): receiveq0
// (queue 0) brings typed bytes, transmitq0 (queue 1) takes output. On it
// runs the console service's logic (services/console/core.c through
// conloop.c): terminals with their line disciplines and the console
// protocol, served on the service channel and on every client channel
// devmgr connects (open("console", N) -> a channel speaking console.nidl).
//
//   virtio-console (--mmio ADDR --irq GSI [--irq-level] | --pci BUS:DEV.FN)
//
// Roles: `service` (the server end devmgr keeps the other end of) and
// those of vdrv.h (`mmio`, `irq` or `pci`, `dma`).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../console/conloop.h"
#include "../virtio-common/vdrv.h"
#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/loop.h"
#include "nb/syscall.h"
#include "nb/time.h"

// Feature bits and configuration layout (virtio 1.x, "Console Device").
#define VIRTIO_CONSOLE_F_SIZE      0
#define VIRTIO_CONSOLE_F_MULTIPORT 1 // not taken: port 0 only
#define CFG_COLS                   0 // le16
#define CFG_ROWS                   2 // le16

#define RXQ        0 // receiveq0
#define TXQ        1 // transmitq0
#define QUEUE_WANT 32
#define RX_BUFS    16
#define RX_BYTES   256
#define TX_BUFS    16
#define TX_BYTES   512 // the console's output pieces are at most this (core.c line_out)
#define TX_WAIT_NS (1000 * NB_NSEC_PER_MSEC) // for a transmit slot before taking the port as stuck
#define TX_POLL_NS (1 * NB_NSEC_PER_MSEC)

static struct {
    struct vdrv v;
    struct nb_virtq rxq, txq;
    struct vdrv_dma rx_ring, tx_ring, rx_mem, tx_mem;
    unsigned nrx, ntx;
    bool tx_busy[TX_BUFS];
    struct nb_loop loop;
    struct vdrv_irq irq;
    struct conloop cl;
    bool stuck;          // the host stopped taking output: it is dropped until a slot frees
    uint64_t tx_dropped; // bytes
} vc;

// ---- The device ----

static void post_rx(unsigned i)
{
    struct nb_virtq_buf b = {vc.rx_mem.pa + (uint64_t)i * RX_BYTES, RX_BYTES};
    if (nb_virtq_add(&vc.rxq, &b, 0, 1, (void *)(uintptr_t)(i + 1)) != OK)
        nb_logf("virtio-console: cannot post receive buffer %u", i);
}

// Takes back the transmit slots the device has sent.
static void reap_tx(void)
{
    void *cookie;
    uint32_t len;
    status_t s;
    while ((s = nb_virtq_get(&vc.txq, &cookie, &len)) != ERR_SHOULD_WAIT && s != ERR_BAD_STATE) {
        uintptr_t i = (uintptr_t)cookie; // NULL for a bad used entry: nothing to free
        if (i >= 1 && i <= vc.ntx)
            vc.tx_busy[i - 1] = false;
    }
}

static int free_tx_slot(void)
{
    for (unsigned i = 0; i < vc.ntx; i++)
        if (!vc.tx_busy[i])
            return (int)i;
    return -1;
}

// A free transmit slot, waiting up to TX_WAIT_NS for the device to finish
// one (polling its used ring: this runs inside the loop's callbacks). A
// port that stays full (a host side not reading) is taken as stuck: later
// output is dropped at once until a slot frees, so it never stalls the
// driver's input.
static int get_tx_slot(void)
{
    reap_tx();
    int i = free_tx_slot();
    if (i < 0 && !vc.stuck) {
        uint64_t until = nb_deadline_after(TX_WAIT_NS);
        while (i < 0 && nb_now() < until && !vc.txq.broken) {
            nb_nanosleep(nb_deadline_after(TX_POLL_NS));
            reap_tx();
            i = free_tx_slot();
        }
    }
    if ((i < 0) != vc.stuck)
        nb_logf("virtio-console: %s",
                i < 0 ? "output not taken for 1 s; dropping it" : "output taken again");
    vc.stuck = i < 0;
    return i;
}

// con_ops.line_write: processed output, queued in TX_BYTES pieces.
static void line_write(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    bool queued = false;
    while (n) {
        int i = get_tx_slot();
        if (i < 0) {
            vc.tx_dropped += n;
            break;
        }
        size_t len = n < TX_BYTES ? n : TX_BYTES;
        memcpy(vc.tx_mem.va + (size_t)i * TX_BYTES, s, len);
        struct nb_virtq_buf b = {vc.tx_mem.pa + (uint64_t)i * TX_BYTES, (uint32_t)len};
        if (nb_virtq_add(&vc.txq, &b, 1, 0, (void *)(uintptr_t)(i + 1)) != OK) {
            vc.tx_dropped += n;
            break;
        }
        vc.tx_busy[i] = true;
        queued = true;
        s += len;
        n -= len;
    }
    if (queued)
        nb_virtq_kick(&vc.txq);
}

// What the host typed, to the foreground terminal; each buffer goes back.
static void drain_rx(void)
{
    void *cookie;
    uint32_t len;
    status_t s;
    bool reposted = false;
    while ((s = nb_virtq_get(&vc.rxq, &cookie, &len)) != ERR_SHOULD_WAIT && s != ERR_BAD_STATE) {
        if (!cookie)
            continue; // a used entry the device got wrong (counted by the queue)
        unsigned i = (unsigned)(uintptr_t)cookie - 1;
        // A length past the buffer is a device error: the buffer is reposted unread.
        if (s == OK && len)
            con_input(&vc.cl.con, (const char *)vc.rx_mem.va + (size_t)i * RX_BYTES, len);
        post_rx(i);
        reposted = true;
    }
    if (reposted)
        nb_virtq_kick(&vc.rxq);
}

// The window size, where the device tells it (VIRTIO_CONSOLE_F_SIZE);
// else the console's default stays.
static void read_size(void)
{
    if (!nb_virtio_has(&vc.v.dev, VIRTIO_CONSOLE_F_SIZE))
        return;
    uint32_t cols = (uint32_t)nb_virtio_config_read(&vc.v.dev, CFG_COLS, 2);
    uint32_t rows = (uint32_t)nb_virtio_config_read(&vc.v.dev, CFG_ROWS, 2);
    if (rows && cols) {
        vc.cl.con.rows = rows;
        vc.cl.con.cols = cols;
    }
}

static void serve_device(void)
{
    drain_rx();
    reap_tx();
    if (vc.rxq.broken || vc.txq.broken) {
        nb_logf("virtio-console: the device broke a queue; stopping");
        nb_virtio_fail(&vc.v.dev);
        nb_loop_quit(&vc.loop);
    }
}

// ---- Start-up ----

static status_t setup_device(void)
{
    struct nb_virtio_dev *d = &vc.v.dev;
    status_t s = nb_virtio_negotiate(d, 1ull << VIRTIO_CONSOLE_F_SIZE);
    if (s != OK)
        return s;
    if ((s = vdrv_queue(&vc.v, &vc.rxq, RXQ, QUEUE_WANT, &vc.rx_ring)) != OK ||
        (s = vdrv_queue(&vc.v, &vc.txq, TXQ, QUEUE_WANT, &vc.tx_ring)) != OK)
        return s;
    vc.nrx = vc.rxq.size < RX_BUFS ? vc.rxq.size : RX_BUFS;
    vc.ntx = vc.txq.size < TX_BUFS ? vc.txq.size : TX_BUFS;
    if ((s = vdrv_dma_alloc(&vc.v, (size_t)vc.nrx * RX_BYTES, &vc.rx_mem)) != OK ||
        (s = vdrv_dma_alloc(&vc.v, (size_t)vc.ntx * TX_BYTES, &vc.tx_mem)) != OK)
        return s;
    // Sent output is reaped when slots are needed: no interrupt for it.
    nb_virtq_disable_cb(&vc.txq);
    nb_virtio_driver_ok(d);
    for (unsigned i = 0; i < vc.nrx; i++)
        post_rx(i);
    nb_virtq_kick(&vc.rxq);
    return OK;
}

int main(int argc, char **argv)
{
    handle_t service;
    int rc = vdrv_start_service(&vc.v, "virtio-console", VIRTIO_ID_CONSOLE, argc, argv, &service);
    if (rc != 0)
        return rc;
    status_t s = setup_device();
    if (s != OK) {
        nb_logf("virtio-console: device setup: %s", status_str(s));
        nb_virtio_fail(&vc.v.dev);
        return 1;
    }
    if ((s = nb_loop_init(&vc.loop)) != OK ||
        (s = conloop_start(&vc.cl, &vc.loop, "virtio-console", service, line_write, NULL, true)) !=
            OK) {
        nb_logf("virtio-console: cannot serve: %s", status_str(s));
        nb_virtio_reset(&vc.v.dev);
        return 1;
    }
    read_size();
    vc.irq =
        (struct vdrv_irq){.v = &vc.v, .loop = &vc.loop, .serve = serve_device, .config = read_size};
    if (vdrv_irq_start(&vc.irq) != OK) { // (serves what the host sent before the wait began)
        nb_virtio_reset(&vc.v.dev);
        return 1;
    }
    nb_logf("virtio-console: serving port 0 (%s, %ux%u%s, %u rx / %u tx buffers)",
            vc.v.dev.tr->name, vc.cl.con.rows, vc.cl.con.cols,
            nb_virtio_has(&vc.v.dev, VIRTIO_CONSOLE_F_SIZE) ? "" : " by default", vc.nrx, vc.ntx);
    s = nb_loop_run(&vc.loop, NB_DEADLINE_INFINITE);
    nb_logf("virtio-console: event loop stopped: %s", status_str(s));
    nb_virtio_reset(&vc.v.dev);
    return 1;
}
