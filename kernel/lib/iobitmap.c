// nimbus:host
// I/O permission bitmaps and their per-CPU copies (lib/iobitmap.h).
#include "lib/iobitmap.h"
#include "lib/compiler.h"
#include "lib/string.h"
#include "mm/slab.h"

static uint64_t next_id = 1;

status_t iobitmap_create(struct iobitmap **out)
{
    struct iobitmap *bm = kzalloc(sizeof(*bm));
    uint8_t *bits = kmalloc(IOBITMAP_BYTES);
    if (!bm || !bits) {
        kfree(bm);
        kfree(bits);
        return ERR_NO_MEMORY;
    }
    memset(bits, 0xff, IOBITMAP_BYTES);
    bm->lock = (struct spinlock)SPINLOCK_INIT("iobitmap");
    bm->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    bm->bits = bits;
    *out = bm;
    return OK;
}

void iobitmap_destroy(struct iobitmap *bm)
{
    if (!bm)
        return;
    kfree(bm->bits);
    kfree(bm);
}

status_t iobitmap_allow(struct iobitmap *bm, uint64_t base, uint64_t count)
{
    if (count == 0)
        return ERR_INVALID_ARGS;
    if (base >= IOBITMAP_PORTS || count > IOBITMAP_PORTS - base)
        return ERR_OUT_OF_RANGE;
    uint32_t first = (uint32_t)base, end = (uint32_t)(base + count);
    irqstate_t s = spin_lock_irqsave(&bm->lock);
    uint32_t p = first;
    for (; p < end && (p & 7); p++) // head, bit by bit
        bm->bits[p / 8] &= (uint8_t) ~(1u << (p & 7));
    if (end - p >= 8) { // whole bytes
        memset(bm->bits + p / 8, 0, (end - p) / 8);
        p += (end - p) & ~7u;
    }
    for (; p < end; p++) // tail
        bm->bits[p / 8] &= (uint8_t) ~(1u << (p & 7));
    uint32_t hw = (end + 7) / 8;
    if (hw > bm->hw)
        __atomic_store_n(&bm->hw, hw, __ATOMIC_RELAXED);
    __atomic_store_n(&bm->gen, bm->gen + 1, __ATOMIC_RELEASE);
    spin_unlock_irqrestore(&bm->lock, s);
    return OK;
}

bool iobitmap_allowed(const struct iobitmap *bm, uint32_t port)
{
    return port < IOBITMAP_PORTS && !(bm->bits[port / 8] & (1u << (port & 7)));
}

void iobitmap_copy_init(struct iobitmap_copy *c, uint8_t *bytes)
{
    *c = (struct iobitmap_copy){.bytes = bytes};
    memset(bytes, 0xff, IOBITMAP_BYTES);
}

size_t iobitmap_copy_load(struct iobitmap_copy *c, const struct iobitmap *bm)
{
    if (!bm) {
        size_t n = c->hw;
        memset(c->bytes, 0xff, n);
        c->id = 0;
        c->gen = 0;
        c->hw = 0;
        return n;
    }
    uint32_t gen = __atomic_load_n(&bm->gen, __ATOMIC_ACQUIRE);
    if (c->id == bm->id && c->gen == gen)
        return 0;
    uint32_t hw = __atomic_load_n(&bm->hw, __ATOMIC_RELAXED);
    memcpy(c->bytes, bm->bits, hw);
    if (c->hw > hw)
        memset(c->bytes + hw, 0xff, c->hw - hw);
    size_t n = MAX(hw, c->hw);
    c->id = bm->id;
    c->gen = gen;
    c->hw = hw;
    return n;
}
