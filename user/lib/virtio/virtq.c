// libvirtio split virtqueues (docs/VIRTIO.md). Ring memory is shared with
// the device and read through volatile pointers; everything the driver must
// trust (free list, chain links, lengths, which heads are in flight) lives
// in the private slot array.
#include <stdlib.h>
#include <string.h>

#include "nb/virtio.h"

#define AVAIL_FLAGS 0
#define AVAIL_IDX   1
#define AVAIL_RING  2
#define USED_FLAGS  0
#define USED_IDX    1

static size_t avail_off(uint16_t size)
{
    return (size_t)size * sizeof(struct nb_virtq_desc);
}

static size_t used_off(uint16_t size)
{
    return (avail_off(size) + 2 * (3 + (size_t)size) + 3) & ~(size_t)3;
}

size_t nb_virtq_mem_size(uint16_t size)
{
    size_t end = used_off(size) + 6 + 8 * (size_t)size;
    return (end + 15) & ~(size_t)15;
}

status_t nb_virtq_init(struct nb_virtq *q, struct nb_virtio_dev *d, uint16_t index, uint16_t size,
                       void *mem, uint64_t paddr)
{
    if (!q || !d || !d->tr || !mem || size == 0 || (size & (size - 1)) || (paddr & 15) ||
        ((uintptr_t)mem & 15))
        return ERR_INVALID_ARGS;
    uint16_t max = d->tr->queue_max(d, index);
    if (max == 0)
        return ERR_NOT_FOUND;
    if (size > max)
        return ERR_OUT_OF_RANGE;
    memset(q, 0, sizeof(*q));
    q->slot = calloc(size, sizeof(*q->slot));
    if (!q->slot)
        return ERR_NO_MEMORY;
    memset(mem, 0, nb_virtq_mem_size(size));
    uint8_t *m = mem;
    q->dev = d;
    q->index = index;
    q->size = size;
    q->desc = (volatile struct nb_virtq_desc *)m;
    q->avail = (volatile uint16_t *)(m + avail_off(size));
    q->used = (volatile uint16_t *)(m + used_off(size));
    q->used_ring = (volatile struct nb_virtq_used_elem *)(q->used + 2);
    q->used_event = &q->avail[AVAIL_RING + size];
    q->avail_event = (volatile uint16_t *)(q->used_ring + size);
    q->event_idx = nb_virtio_has(d, VIRTIO_F_EVENT_IDX);
    q->cb_enabled = true;
    for (uint16_t i = 0; i < size; i++)
        q->slot[i].next = (uint16_t)(i + 1 < size ? i + 1 : 0);
    q->free_head = 0;
    q->num_free = size;
    status_t s =
        d->tr->queue_enable(d, index, size, paddr, paddr + avail_off(size), paddr + used_off(size));
    if (s != OK) {
        free(q->slot);
        q->slot = NULL;
    }
    return s;
}

void nb_virtq_destroy(struct nb_virtq *q)
{
    free(q->slot);
    q->slot = NULL;
    q->num_free = 0;
}

status_t nb_virtq_add(struct nb_virtq *q, const struct nb_virtq_buf *bufs, unsigned out,
                      unsigned in, void *cookie)
{
    unsigned n = out + in;
    if (!q->slot || !bufs || n == 0 || n > q->size || out > q->size || in > q->size)
        return ERR_INVALID_ARGS;
    uint64_t in_len = 0;
    for (unsigned k = 0; k < n; k++) {
        if (bufs[k].len == 0)
            return ERR_INVALID_ARGS;
        if (k >= out)
            in_len += bufs[k].len;
    }
    if (q->broken)
        return ERR_BAD_STATE;
    if (q->num_free < n)
        return ERR_SHOULD_WAIT;
    uint16_t head = q->free_head, i = head;
    for (unsigned k = 0; k < n; k++) {
        uint16_t flags =
            (uint16_t)((k >= out ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        q->desc[i].addr = bufs[k].paddr;
        q->desc[i].len = bufs[k].len;
        q->desc[i].flags = flags;
        q->desc[i].next = q->slot[i].next;
        if (k + 1 < n)
            i = q->slot[i].next;
    }
    q->free_head = q->slot[i].next;
    q->num_free = (uint16_t)(q->num_free - n);
    q->slot[head].cookie = cookie;
    q->slot[head].in_len = in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)in_len;
    q->slot[head].count = (uint16_t)n;
    q->slot[head].busy = true;
    q->chains++;
    q->avail[AVAIL_RING + (q->avail_idx & (q->size - 1))] = head;
    nb_vio_wmb(); // the ring entry before the index
    q->avail_idx++;
    q->avail[AVAIL_IDX] = q->avail_idx;
    return OK;
}

bool nb_virtq_kick(struct nb_virtq *q)
{
    nb_vio_mb(); // the new index is visible before we read the device's wish
    uint16_t old = q->kicked_idx, now = q->avail_idx;
    bool need;
    if (old == now)
        return false;
    if (q->event_idx) {
        uint16_t event = *q->avail_event;
        need = (uint16_t)(now - event - 1) < (uint16_t)(now - old);
    } else {
        need = !(q->used[USED_FLAGS] & VIRTQ_USED_F_NO_NOTIFY);
    }
    q->kicked_idx = now;
    if (need) {
        q->notifications++;
        q->dev->tr->notify(q->dev, q->index);
    }
    return need;
}

status_t nb_virtq_get(struct nb_virtq *q, void **cookie, uint32_t *len)
{
    *cookie = NULL;
    *len = 0;
    if (!q->slot || q->broken)
        return ERR_BAD_STATE;
    uint16_t used_idx = q->used[USED_IDX];
    if (used_idx == q->last_used)
        return ERR_SHOULD_WAIT;
    if ((uint16_t)(used_idx - q->last_used) > q->chains) {
        q->broken = true;
        q->device_errors++;
        return ERR_IO_DATA_INTEGRITY;
    }
    nb_vio_rmb(); // the index before the entry
    volatile struct nb_virtq_used_elem *e = &q->used_ring[q->last_used & (q->size - 1)];
    uint32_t id = e->id, wrote = e->len;
    q->last_used++;
    if (q->event_idx && q->cb_enabled) {
        *q->used_event = q->last_used;
        nb_vio_mb();
    }
    if (id >= q->size || !q->slot[id].busy) {
        q->device_errors++;
        return ERR_IO_DATA_INTEGRITY;
    }
    struct nb_virtq_slot *h = &q->slot[id];
    uint16_t last = (uint16_t)id;
    for (uint16_t k = 1; k < h->count; k++)
        last = q->slot[last].next;
    q->slot[last].next = q->free_head;
    q->free_head = (uint16_t)id;
    q->num_free = (uint16_t)(q->num_free + h->count);
    h->busy = false;
    q->chains--;
    *cookie = h->cookie;
    h->cookie = NULL;
    if (wrote > h->in_len) {
        *len = h->in_len;
        q->device_errors++;
        return ERR_IO_DATA_INTEGRITY;
    }
    *len = wrote;
    return OK;
}

void nb_virtq_disable_cb(struct nb_virtq *q)
{
    q->cb_enabled = false;
    if (!q->event_idx)
        q->avail[AVAIL_FLAGS] = VIRTQ_AVAIL_F_NO_INTERRUPT;
}

bool nb_virtq_enable_cb(struct nb_virtq *q)
{
    q->cb_enabled = true;
    if (q->event_idx)
        *q->used_event = q->last_used;
    else
        q->avail[AVAIL_FLAGS] = 0;
    nb_vio_mb(); // the wish is visible before we look for more work
    return q->used[USED_IDX] != q->last_used;
}
