// virtio-blk: a block driver serving the block protocol (proto/block.nidl,
// docs/VIRTIO.md) on its service channel.
//
//   virtio-blk (--mmio ADDR --irq GSI | --pci BUS:DEV.FN)
//
// Roles: `service` (the server end of the block protocol's first
// connection), and those of vdrv.h (`mmio`, `irq` or `pci`, `dma`).
//
// Each request takes a slot: a header, a status byte and a 64 KiB bounce
// buffer in DMA memory (client vmos are not DMA memory: the driver copies
// with NB_SYS_VMO_READ/WRITE). A slot's request takes 3 descriptors: the
// driver asks for a queue of QUEUE_WANT and keeps as many requests at the
// device as the queue it gets can hold, at most MAX_SLOTS (slots.c). While
// every slot is busy, connections stop being read (their watch is stopped)
// until a quarter of the slots are free again. An answer that finds the
// client's channel full is held (in order, with any later ones) and sent
// when the channel is writable again; meanwhile that connection is not
// read, so what is held stays bounded by its requests in flight. The device is notified once per
// batch of requests read from a connection, not once per request.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../virtio-common/vdrv.h"
#include "slots.h"
#include "proto/block.h"
#include "proto/devmgr.h"
#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/loop.h"
#include "nb/syscall.h"

#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_BLK_F_DISCARD  13

#define VIRTIO_BLK_T_IN      0
#define VIRTIO_BLK_T_OUT     1
#define VIRTIO_BLK_T_FLUSH   4
#define VIRTIO_BLK_T_DISCARD 11

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_UNSUPP 2

#define CFG_CAPACITY 0
#define CFG_BLK_SIZE 20

#define MAX_SLOTS  BLK_SLOTS_MAX
#define QUEUE_WANT 256 // a power of two: room for MAX_SLOTS requests of 3 descriptors
#define SLOT_BYTES ((size_t)BLOCK_MAX_SECTORS * BLOCK_SECTOR_SIZE)
#define SLOT_META  64 // header 16, discard segment 16, status 1

struct blk_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
struct blk_discard {
    uint64_t sector;
    uint32_t sectors;
    uint32_t flags;
};

// An answer waiting for room in the client's channel.
struct held {
    uint8_t bytes[BLOCK_MAX_MSG_BYTES];
    handle_t handles[BLOCK_MAX_MSG_HANDLES];
    uint32_t nbytes, nhandles;
};
#define HELD_MAX (MAX_SLOTS + 1) // its requests in flight and one immediate answer

struct conn {
    handle_t ch;
    handle_t vmo;
    uint64_t vmo_size; // as last seen: asked again when a request passes it
    struct nb_channel_watch watch;
    struct nb_wait writable; // pending while answers are held
    struct held *held;       // HELD_MAX entries, allocated on first need
    unsigned nheld;
    struct conn *next_blocked;
    unsigned inflight;
    bool closed, blocked, watching;
};

struct slot {
    struct conn *c;
    uint32_t txid, ordinal;
    uint64_t offset;
    uint32_t bytes;
    uint8_t *meta; // DMA: header, discard segment, status
    uint64_t meta_pa;
    struct vdrv_dma data;
};

static struct {
    struct vdrv v;
    struct nb_virtq q;
    struct vdrv_dma ring, meta;
    struct slot slot[MAX_SLOTS];
    struct blk_slots slots; // which are free
    unsigned nslots;
    bool kick; // requests were added since the last notification
    struct nb_loop loop;
    struct vdrv_irq irq;
    uint64_t sectors;
    uint32_t block_size, flags;
    bool dead;
    struct conn *blocked; // connections waiting for a slot
    struct conn *cur;     // the connection a request came from (handlers)
    uint32_t cur_txid;
    bool deferred; // the handler submitted the request: answered on completion
} blk;

static void close_handles(const handle_t *hs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        nb_handle_close(hs[i]);
}

// Forgets the held answers (the client is gone).
static void drop_held(struct conn *c)
{
    for (unsigned i = 0; i < c->nheld; i++)
        close_handles(c->held[i].handles, c->held[i].nhandles);
    c->nheld = 0;
    nb_wait_stop(&blk.loop, &c->writable);
}

static void conn_free_if_done(struct conn *c)
{
    if (!c->closed || c->inflight || c->blocked)
        return;
    drop_held(c);
    if (c->watching)
        nb_channel_watch_stop(&blk.loop, &c->watch);
    if (c->vmo != HANDLE_INVALID)
        nb_handle_close(c->vmo);
    nb_handle_close(c->ch);
    free(c->held);
    free(c);
}

static void on_writable(struct nb_loop *loop, struct nb_wait *w, status_t status,
                        signals_t observed);

// Sends an answer (its handles go with it or are closed), or holds it
// while the client's channel is full.
static void send_answer(struct conn *c, const uint8_t *bytes, uint32_t nbytes, handle_t *hs,
                        uint32_t nhandles)
{
    if (c->closed) {
        close_handles(hs, nhandles);
        return;
    }
    if (!c->nheld) {
        struct nb_msg_out out = {
            .bytes = bytes, .handles = hs, .nbytes = nbytes, .nhandles = nhandles};
        status_t s = nb_channel_write(c->ch, &out);
        if (s == OK)
            return;
        if (s != ERR_SHOULD_WAIT) {
            if (s != ERR_PEER_CLOSED)
                nb_logf("virtio-blk: answer: %s", status_str(s));
            close_handles(hs, nhandles);
            return;
        }
    }
    if (!c->held && !(c->held = malloc(HELD_MAX * sizeof(*c->held)))) {
        nb_logf("virtio-blk: no memory to hold an answer: dropped");
        close_handles(hs, nhandles);
        return;
    }
    if (c->nheld == HELD_MAX || nbytes > sizeof(c->held[0].bytes) ||
        nhandles > BLOCK_MAX_MSG_HANDLES) {
        nb_logf("virtio-blk: too many answers held: dropped"); // not reached
        close_handles(hs, nhandles);
        return;
    }
    struct held *h = &c->held[c->nheld++];
    memcpy(h->bytes, bytes, nbytes);
    h->nbytes = nbytes;
    h->nhandles = nhandles;
    for (uint32_t i = 0; i < nhandles; i++)
        h->handles[i] = hs[i];
    if (!nb_wait_pending(&c->writable)) {
        c->writable = (struct nb_wait){.object = c->ch,
                                       .signals = SIGNAL_WRITABLE | SIGNAL_PEER_CLOSED,
                                       .fn = on_writable,
                                       .ctx = c};
        if (nb_wait_start(&blk.loop, &c->writable) != OK) {
            nb_logf("virtio-blk: cannot wait to answer: dropping the connection");
            c->closed = true;
            drop_held(c);
        }
    }
}

static void reply_status(struct conn *c, uint32_t ordinal, uint32_t txid, status_t st)
{
    if (c->closed)
        return;
    uint8_t buf[BLOCK_MAX_MSG_BYTES];
    struct nb_msg_in m = {.bytes = buf, .bytes_cap = sizeof(buf)};
    status_t s;
    switch (ordinal) {
    case BLOCK_READ_ORDINAL:
        s = block_read_response_encode(&m, st);
        break;
    case BLOCK_WRITE_ORDINAL:
        s = block_write_response_encode(&m, st);
        break;
    case BLOCK_FLUSH_ORDINAL:
        s = block_flush_response_encode(&m, st);
        break;
    default:
        s = block_discard_response_encode(&m, st);
        break;
    }
    if (s != OK)
        return;
    memcpy(buf, &txid, sizeof(txid));
    send_answer(c, buf, m.nbytes, NULL, 0);
}

static void watch_conn(struct conn *c);

// Reads the connections that waited for a slot again, once enough are free
// (blk_slots_resume_at).
static void unblock(void)
{
    if (blk.slots.nfree < blk_slots_resume_at(blk.nslots))
        return;
    while (blk.blocked) {
        struct conn *c = blk.blocked;
        blk.blocked = c->next_blocked;
        c->blocked = false;
        if (c->closed)
            conn_free_if_done(c);
        else if (!c->nheld) // else once its answers are out (on_writable)
            watch_conn(c);
    }
}

static void complete(struct slot *sl, status_t st)
{
    struct conn *c = sl->c;
    if (st == OK) {
        uint8_t dev = sl->meta[32];
        st = dev == VIRTIO_BLK_S_OK ? OK : dev == VIRTIO_BLK_S_UNSUPP ? ERR_NOT_SUPPORTED : ERR_IO;
    }
    if (st == OK && sl->ordinal == BLOCK_READ_ORDINAL && !c->closed) {
        if (c->vmo == HANDLE_INVALID)
            st = ERR_BAD_STATE;
        else if (nb_vmo_write(c->vmo, sl->data.va, sl->offset, sl->bytes) != OK)
            st = ERR_OUT_OF_RANGE;
    }
    reply_status(c, sl->ordinal, sl->txid, st);
    sl->c = NULL;
    blk_slot_put(&blk.slots, (unsigned)(sl - blk.slot));
    c->inflight--;
    conn_free_if_done(c);
}

static void fail_all(void)
{
    blk.dead = true;
    for (unsigned i = 0; i < blk.nslots; i++)
        if (blk.slots.busy[i])
            complete(&blk.slot[i], ERR_IO);
}

static void drain(void)
{
    void *cookie;
    uint32_t len;
    status_t s;
    while (!blk.dead && (s = nb_virtq_get(&blk.q, &cookie, &len)) != ERR_SHOULD_WAIT) {
        if (s == ERR_BAD_STATE || (s != OK && !cookie)) {
            nb_logf("virtio-blk: the device returned a bad used entry (%s)", status_str(s));
            if (s == ERR_BAD_STATE || blk.q.broken) {
                nb_virtio_fail(&blk.v.dev);
                fail_all();
            }
            continue;
        }
        complete(cookie, s == OK ? OK : ERR_IO);
    }
    unblock();
}

// ---- Requests.
static struct slot *take_slot(void)
{
    int i = blk_slot_take(&blk.slots);
    return i < 0 ? NULL : &blk.slot[i];
}

static void put_slot(struct slot *sl)
{
    blk_slot_put(&blk.slots, (unsigned)(sl - blk.slot));
}

// Adds sl's request (a slot taken by the caller: freed here on failure);
// the device is notified at the end of the batch (kick_if_needed).
static status_t submit(struct slot *sl, uint32_t ordinal, uint32_t type, uint64_t sector,
                       uint32_t count, uint64_t offset)
{
    if (blk.dead) {
        put_slot(sl);
        return ERR_IO;
    }
    struct conn *c = blk.cur;
    sl->c = c;
    sl->txid = blk.cur_txid;
    sl->ordinal = ordinal;
    sl->offset = offset;
    sl->bytes = count * BLOCK_SECTOR_SIZE;
    struct blk_hdr h = {.type = type, .sector = sector};
    memcpy(sl->meta, &h, sizeof(h));
    sl->meta[32] = 0xff;
    struct nb_virtq_buf b[3];
    unsigned out = 1, in = 0;
    b[0] = (struct nb_virtq_buf){sl->meta_pa, sizeof(h)};
    if (type == VIRTIO_BLK_T_OUT) {
        b[out++] = (struct nb_virtq_buf){sl->data.pa, sl->bytes};
    } else if (type == VIRTIO_BLK_T_IN) {
        b[out + in++] = (struct nb_virtq_buf){sl->data.pa, sl->bytes};
    } else if (type == VIRTIO_BLK_T_DISCARD) {
        struct blk_discard d = {.sector = sector, .sectors = count};
        memcpy(sl->meta + 16, &d, sizeof(d));
        b[out++] = (struct nb_virtq_buf){sl->meta_pa + 16, sizeof(d)};
    }
    b[out + in++] = (struct nb_virtq_buf){sl->meta_pa + 32, 1};
    status_t s = nb_virtq_add(&blk.q, b, out, in, sl);
    if (s != OK) {
        sl->c = NULL;
        put_slot(sl);
        return s == ERR_SHOULD_WAIT ? ERR_NO_RESOURCES : ERR_IO;
    }
    c->inflight++;
    blk.deferred = true;
    blk.kick = true;
    return OK;
}

static status_t submit_new(uint32_t ordinal, uint32_t type, uint64_t sector, uint32_t count)
{
    struct slot *sl = take_slot();
    if (!sl)
        return ERR_NO_RESOURCES; // not reached: connections wait for a free slot
    return submit(sl, ordinal, type, sector, count, 0);
}

static void kick_if_needed(void)
{
    if (blk.kick && !blk.dead)
        nb_virtq_kick(&blk.q);
    blk.kick = false;
}

static status_t check_range(uint64_t sector, uint32_t count)
{
    if (count == 0 || count > BLOCK_MAX_SECTORS)
        return ERR_INVALID_ARGS;
    if (sector >= blk.sectors || count > blk.sectors - sector)
        return ERR_OUT_OF_RANGE;
    return OK;
}

// Handlers: an immediate answer is encoded into reply; a submitted request
// leaves reply empty and is answered when the device completes it.
static status_t h_get_info(void *ctx, struct nb_msg_in *reply)
{
    (void)ctx;
    return block_get_info_response_encode(reply, blk.dead ? ERR_IO : OK, blk.sectors,
                                          blk.block_size, blk.flags, blk.nslots);
}

static status_t h_attach_vmo(void *ctx, handle_t vmo, struct nb_msg_in *reply)
{
    struct conn *c = ctx;
    if (c->vmo != HANDLE_INVALID)
        nb_handle_close(c->vmo);
    c->vmo = vmo;
    if (nb_vmo_get_size(vmo, &c->vmo_size) != OK)
        c->vmo_size = 0;
    return block_attach_vmo_response_encode(reply, OK);
}

static status_t h_rw(struct conn *c, uint32_t ordinal, uint64_t sector, uint32_t count,
                     uint64_t offset, struct nb_msg_in *reply)
{
    status_t st = check_range(sector, count);
    uint32_t bytes = count * BLOCK_SECTOR_SIZE;
    if (st == OK && c->vmo == HANDLE_INVALID)
        st = ERR_BAD_STATE;
    if (st == OK && ordinal == BLOCK_WRITE_ORDINAL && (blk.flags & BLOCK_FLAG_READ_ONLY))
        st = ERR_ACCESS_DENIED;
    if (st == OK && offset + bytes < offset)
        st = ERR_OUT_OF_RANGE;
    // The size seen before saves a system call per request. A vmo that has
    // grown since is asked again; one that has shrunk makes the copy fail
    // (ERR_OUT_OF_RANGE all the same).
    if (st == OK && (offset > c->vmo_size || c->vmo_size - offset < bytes) &&
        (nb_vmo_get_size(c->vmo, &c->vmo_size) != OK || offset > c->vmo_size ||
         c->vmo_size - offset < bytes))
        st = ERR_OUT_OF_RANGE;
    struct slot *sl = NULL;
    if (st == OK && !(sl = take_slot()))
        st = ERR_NO_RESOURCES; // not reached: connections wait for a free slot
    if (st == OK && ordinal == BLOCK_WRITE_ORDINAL &&
        nb_vmo_read(c->vmo, sl->data.va, offset, bytes) != OK) {
        put_slot(sl);
        st = ERR_OUT_OF_RANGE;
    }
    if (st == OK)
        st = submit(sl, ordinal, ordinal == BLOCK_READ_ORDINAL ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
                    sector, count, offset);
    if (st == OK)
        return OK;
    return ordinal == BLOCK_READ_ORDINAL ? block_read_response_encode(reply, st)
                                         : block_write_response_encode(reply, st);
}

static status_t h_read(void *ctx, uint64_t sector, uint32_t count, uint64_t offset,
                       struct nb_msg_in *reply)
{
    return h_rw(ctx, BLOCK_READ_ORDINAL, sector, count, offset, reply);
}

static status_t h_write(void *ctx, uint64_t sector, uint32_t count, uint64_t offset,
                        struct nb_msg_in *reply)
{
    return h_rw(ctx, BLOCK_WRITE_ORDINAL, sector, count, offset, reply);
}

static status_t h_flush(void *ctx, struct nb_msg_in *reply)
{
    (void)ctx;
    if (!(blk.flags & BLOCK_FLAG_FLUSH))
        return block_flush_response_encode(reply, blk.dead ? ERR_IO : OK);
    status_t st = submit_new(BLOCK_FLUSH_ORDINAL, VIRTIO_BLK_T_FLUSH, 0, 0);
    return st == OK ? OK : block_flush_response_encode(reply, st);
}

static status_t h_discard(void *ctx, uint64_t sector, uint32_t count, struct nb_msg_in *reply)
{
    (void)ctx;
    status_t st = check_range(sector, count);
    if (!(blk.flags & BLOCK_FLAG_DISCARD))
        st = ERR_NOT_SUPPORTED;
    else if (st == OK && (blk.flags & BLOCK_FLAG_READ_ONLY))
        st = ERR_ACCESS_DENIED;
    if (st == OK)
        st = submit_new(BLOCK_DISCARD_ORDINAL, VIRTIO_BLK_T_DISCARD, sector, count);
    return st == OK ? OK : block_discard_response_encode(reply, st);
}

static struct conn *conn_new(handle_t ch);

static status_t h_connect(void *ctx, struct nb_msg_in *reply)
{
    (void)ctx;
    handle_t mine, theirs;
    status_t s = nb_channel_create(0, &mine, &theirs);
    if (s != OK)
        return block_connect_response_encode(reply, s, HANDLE_INVALID);
    if (!conn_new(mine)) {
        nb_handle_close(mine);
        nb_handle_close(theirs);
        return block_connect_response_encode(reply, ERR_NO_MEMORY, HANDLE_INVALID);
    }
    return block_connect_response_encode(reply, OK, theirs);
}

static const struct block_server_ops ops = {
    .get_info = h_get_info,
    .attach_vmo = h_attach_vmo,
    .read = h_read,
    .write = h_write,
    .flush = h_flush,
    .discard = h_discard,
    .connect = h_connect,
};

// ---- Connections.

// Whether m is devmgr's `connect`: exactly a header and one handle (no
// block request has that shape).
static bool is_devmgr_connect(const struct nb_msg_in *m)
{
    struct nb_msg_header h;
    if (m->nbytes != DEVMGR_CONNECT_REQUEST_MIN_BYTES || m->nhandles != 1)
        return false;
    memcpy(&h, m->bytes, sizeof(h));
    return h.ordinal == DEVMGR_CONNECT_ORDINAL;
}

static void watch_off(struct conn *c)
{
    if (c->watching)
        nb_channel_watch_stop(&blk.loop, &c->watch);
    c->watching = false;
}

static void read_requests(struct conn *c)
{
    for (;;) {
        if (c->nheld) {
            // Answers wait for room: no more requests until they are out.
            watch_off(c);
            return;
        }
        if (blk.slots.nfree == 0) {
            // Wait for a slot before reading more.
            watch_off(c);
            c->blocked = true;
            c->next_blocked = NULL;
            struct conn **p = &blk.blocked;
            while (*p)
                p = &(*p)->next_blocked;
            *p = c;
            return;
        }
        uint8_t buf[BLOCK_MAX_MSG_BYTES], rbuf[BLOCK_MAX_MSG_BYTES];
        handle_t hs[BLOCK_MAX_MSG_HANDLES], rhs[BLOCK_MAX_MSG_HANDLES];
        struct nb_msg_in m = {.bytes = buf,
                              .handles = hs,
                              .bytes_cap = sizeof(buf),
                              .handles_cap = BLOCK_MAX_MSG_HANDLES};
        status_t s = nb_channel_read(c->ch, &m);
        if (s == ERR_SHOULD_WAIT)
            return;
        if (s != OK) {
            if (s != ERR_PEER_CLOSED)
                nb_logf("virtio-blk: channel read: %s", status_str(s));
            return;
        }
        struct nb_msg_in r = {.bytes = rbuf,
                              .handles = rhs,
                              .bytes_cap = sizeof(rbuf),
                              .handles_cap = BLOCK_MAX_MSG_HANDLES};
        struct nb_msg_header h;
        if (m.nbytes >= sizeof(h))
            memcpy(&h, buf, sizeof(h));
        if (is_devmgr_connect(&m)) {
            // devmgr's `connect` (proto/devmgr.nidl): a one-way message
            // carrying the server end of a new client's connection. Its
            // ordinal is block's `read`, told apart by its size and handle.
            handle_t client;
            if (devmgr_connect_request_decode(&m, &client) != OK || !conn_new(client)) {
                nb_logf("virtio-blk: cannot take a client connection");
                for (uint32_t i = 0; i < m.nhandles; i++)
                    nb_handle_close(hs[i]);
            }
            continue;
        }
        blk.cur = c;
        blk.cur_txid = m.nbytes >= sizeof(h) ? h.txid : 0;
        blk.deferred = false;
        s = block_dispatch(&ops, c, &m, &r);
        if (s == ERR_BAD_STATE && blk.deferred && !r.nbytes)
            s = OK; // the stubs' "no response encoded": it comes on completion
        if (s != OK) {
            nb_logf("virtio-blk: bad request: %s", status_str(s));
            for (uint32_t i = 0; i < m.nhandles; i++)
                nb_handle_close(hs[i]);
            continue;
        }
        if (r.nbytes)
            send_answer(c, rbuf, r.nbytes, rhs, r.nhandles);
    }
}

static void on_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    (void)loop;
    read_requests(w->ctx);
    kick_if_needed(); // one notification for what was read
}

static void on_closed(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct conn *c = w->ctx;
    (void)loop;
    c->watching = false; // a watch ends with the peer's close
    c->closed = true;
    drop_held(c);
    conn_free_if_done(c);
}

// Room in the client's channel: the held answers go out in order; once all
// are out the connection is read again (unless it waits for a slot).
static void on_writable(struct nb_loop *loop, struct nb_wait *w, status_t status,
                        signals_t observed)
{
    struct conn *c = w->ctx;
    (void)loop;
    if (status != OK || (observed & SIGNAL_PEER_CLOSED)) {
        c->closed = true;
        drop_held(c);
        conn_free_if_done(c);
        return;
    }
    unsigned sent = 0;
    while (sent < c->nheld) {
        struct held *h = &c->held[sent];
        struct nb_msg_out out = {
            .bytes = h->bytes, .handles = h->handles, .nbytes = h->nbytes, .nhandles = h->nhandles};
        status_t s = nb_channel_write(c->ch, &out);
        if (s == ERR_SHOULD_WAIT)
            break;
        if (s != OK) {
            if (s != ERR_PEER_CLOSED)
                nb_logf("virtio-blk: answer: %s", status_str(s));
            close_handles(h->handles, h->nhandles);
        }
        sent++;
    }
    memmove(c->held, c->held + sent, (c->nheld - sent) * sizeof(*c->held));
    c->nheld -= sent;
    if (c->nheld) {
        if (nb_wait_start(&blk.loop, &c->writable) != OK) {
            c->closed = true;
            drop_held(c);
            conn_free_if_done(c);
        }
        return;
    }
    if (!c->blocked && !c->closed)
        watch_conn(c);
}

// Starts reading c (nothing if it is being read: answers held while its
// watch ran can go out before the watch is stopped).
static void watch_conn(struct conn *c)
{
    if (c->watching)
        return;
    c->watch = (struct nb_channel_watch){
        .channel = c->ch, .on_readable = on_readable, .on_peer_closed = on_closed, .ctx = c};
    status_t s = nb_channel_watch_start(&blk.loop, &c->watch);
    c->watching = s == OK;
    if (s != OK) {
        nb_logf("virtio-blk: cannot watch a connection: %s", status_str(s));
        c->closed = true;
        conn_free_if_done(c);
    }
}

static struct conn *conn_new(handle_t ch)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ch = ch;
    c->vmo = HANDLE_INVALID;
    watch_conn(c);
    return c;
}

// ---- Start-up.
static status_t setup_device(void)
{
    struct nb_virtio_dev *d = &blk.v.dev;
    uint64_t want = 1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_BLK_F_BLK_SIZE |
                    1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_DISCARD;
    status_t s = nb_virtio_negotiate(d, want);
    if (s != OK)
        return s;
    blk.sectors = nb_virtio_config_read(d, CFG_CAPACITY, 8);
    blk.block_size = BLOCK_SECTOR_SIZE;
    if (nb_virtio_has(d, VIRTIO_BLK_F_BLK_SIZE)) {
        uint32_t bs = (uint32_t)nb_virtio_config_read(d, CFG_BLK_SIZE, 4);
        if (bs >= 512 && bs <= 65536 && !(bs & (bs - 1)))
            blk.block_size = bs;
    }
    if (nb_virtio_has(d, VIRTIO_BLK_F_RO))
        blk.flags |= BLOCK_FLAG_READ_ONLY;
    if (nb_virtio_has(d, VIRTIO_BLK_F_FLUSH))
        blk.flags |= BLOCK_FLAG_FLUSH;
    if (nb_virtio_has(d, VIRTIO_BLK_F_DISCARD))
        blk.flags |= BLOCK_FLAG_DISCARD;
    if ((s = vdrv_queue(&blk.v, &blk.q, 0, QUEUE_WANT, &blk.ring)) != OK)
        return s;
    blk.nslots = blk_slots_for_queue(blk.q.size, MAX_SLOTS);
    if (blk.nslots == 0)
        return ERR_NOT_SUPPORTED; // a queue too small for one request
    if ((s = vdrv_dma_alloc(&blk.v, (size_t)blk.nslots * SLOT_META, &blk.meta)) != OK)
        return s;
    for (unsigned i = 0; i < blk.nslots; i++) {
        blk.slot[i].meta = blk.meta.va + i * SLOT_META;
        blk.slot[i].meta_pa = blk.meta.pa + i * SLOT_META;
        if ((s = vdrv_dma_alloc(&blk.v, SLOT_BYTES, &blk.slot[i].data)) != OK)
            return s;
    }
    blk_slots_init(&blk.slots, blk.nslots);
    nb_virtio_driver_ok(d);
    return OK;
}

int main(int argc, char **argv)
{
    handle_t service;
    int rc = vdrv_start_service(&blk.v, "virtio-blk", VIRTIO_ID_BLOCK, argc, argv, &service);
    if (rc != 0)
        return rc;
    status_t s = setup_device();
    if (s != OK) {
        nb_logf("virtio-blk: device setup: %s", status_str(s));
        nb_virtio_fail(&blk.v.dev);
        return 1;
    }
    if ((s = nb_loop_init(&blk.loop)) != OK)
        return 1;
    blk.irq = (struct vdrv_irq){.v = &blk.v, .loop = &blk.loop, .serve = drain};
    if (vdrv_irq_start(&blk.irq) != OK)
        return 1;
    if (!conn_new(service))
        return 1;
    nb_logf("virtio-blk: %llu sectors (%s%s%s), %u requests in flight, %s",
            (unsigned long long)blk.sectors, blk.flags & BLOCK_FLAG_READ_ONLY ? "ro" : "rw",
            blk.flags & BLOCK_FLAG_FLUSH ? ", flush" : "",
            blk.flags & BLOCK_FLAG_DISCARD ? ", discard" : "", blk.nslots, blk.v.dev.tr->name);
    s = nb_loop_run(&blk.loop, NB_DEADLINE_INFINITE);
    nb_logf("virtio-blk: event loop stopped: %s", status_str(s));
    nb_virtio_reset(&blk.v.dev);
    return 1;
}
