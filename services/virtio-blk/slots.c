// virtio-blk's request slots: see slots.h.
#include "slots.h"

unsigned blk_slots_for_queue(unsigned queue_size, unsigned max)
{
    unsigned n = queue_size / BLK_DESC_PER_SLOT;
    if (max > BLK_SLOTS_MAX)
        max = BLK_SLOTS_MAX;
    return n < max ? n : max;
}

unsigned blk_slots_resume_at(unsigned n)
{
    return n / 4 ? n / 4 : 1;
}

void blk_slots_init(struct blk_slots *s, unsigned n)
{
    if (n > BLK_SLOTS_MAX)
        n = BLK_SLOTS_MAX;
    s->n = s->nfree = n;
    // Slot 0 on top: the lowest numbers are handed out first.
    for (unsigned i = 0; i < n; i++) {
        s->free[i] = (uint8_t)(n - 1 - i);
        s->busy[i] = false;
    }
}

int blk_slot_take(struct blk_slots *s)
{
    if (!s->nfree)
        return -1;
    unsigned i = s->free[--s->nfree];
    s->busy[i] = true;
    return (int)i;
}

bool blk_slot_put(struct blk_slots *s, unsigned i)
{
    if (i >= s->n || !s->busy[i])
        return false;
    s->busy[i] = false;
    s->free[s->nfree++] = (uint8_t)i;
    return true;
}
