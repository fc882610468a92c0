// nimbus:host
// The kernel log ring: variable-sized records in a byte ring, oldest dropped
// first. A record never wraps: when it does not fit before the end, the rest
// of the ring is skipped and it starts at offset 0.
#include <stdbool.h>

#include "lib/compiler.h"
#include "lib/klog.h"
#include "lib/string.h"

#define KLOG_RING_SIZE (64 * 1024)

struct klog_hdr {
    uint64_t seq;
    uint64_t ts_ns;
    uint16_t len; // bytes of text following the header
    uint8_t level;
    uint8_t pad[5];
};

_Static_assert(sizeof(struct klog_hdr) == 24, "klog_hdr layout");

static uint8_t ring[KLOG_RING_SIZE] __aligned(8);
// Live records are [head, tail) when not wrapped, else [head, wrap_at) then
// [0, tail).
static size_t head, tail, wrap_at;
static bool wrapped;
static uint64_t count;    // records in the ring
static uint64_t next_seq; // sequence of the next record

static size_t rec_size(size_t len)
{
    return ALIGN_UP(sizeof(struct klog_hdr) + len, (size_t)8);
}

static struct klog_hdr *hdr_at(size_t off)
{
    return (struct klog_hdr *)(void *)&ring[off];
}

// Drops the oldest record.
static void drop_oldest(void)
{
    head += rec_size(hdr_at(head)->len);
    count--;
    if (count == 0) {
        head = tail = wrap_at = 0;
        wrapped = false;
    } else if (wrapped && head == wrap_at) {
        head = 0;
        wrapped = false;
    }
}

void klog_append(int level, uint64_t ts_ns, const char *text, size_t len)
{
    if (len > KLOG_LINE_MAX - 1)
        len = KLOG_LINE_MAX - 1;
    size_t need = rec_size(len);
    if (!wrapped && tail + need > KLOG_RING_SIZE) {
        wrap_at = tail;
        tail = 0;
        wrapped = count != 0;
        if (!wrapped)
            head = 0;
    }
    while (wrapped && tail + need > head)
        drop_oldest();
    struct klog_hdr *h = hdr_at(tail);
    *h = (struct klog_hdr){
        .seq = next_seq++, .ts_ns = ts_ns, .len = (uint16_t)len, .level = (uint8_t)level};
    memcpy(h + 1, text, len);
    tail += need;
    count++;
}

int klog_read(uint64_t *seq, struct klog_entry *out)
{
    size_t off = head;
    for (uint64_t i = 0; i < count; i++) {
        if (wrapped && off == wrap_at)
            off = 0;
        const struct klog_hdr *h = hdr_at(off);
        if (h->seq >= *seq) {
            out->seq = h->seq;
            out->ts_ns = h->ts_ns;
            out->level = h->level;
            memcpy(out->text, h + 1, h->len);
            out->text[h->len] = 0;
            *seq = h->seq + 1;
            return 1;
        }
        off += rec_size(h->len);
    }
    return 0;
}

uint64_t klog_next_seq(void)
{
    return next_seq;
}

void klog_reset(void)
{
    head = tail = wrap_at = 0;
    wrapped = false;
    count = 0;
    next_seq = 0;
}
