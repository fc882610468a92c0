// virtio-blk's request slots (services/virtio-blk/main.c): which of the
// driver's slots are free, and how many slots a queue of a given size can
// keep at the device. Pure logic, host-tested (user/tests/host/blkslots_test.c).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define BLK_SLOTS_MAX     64 // the most the driver has (4 MiB of 64 KiB bounce buffers)
#define BLK_DESC_PER_SLOT 3  // header, data (or discard segment), status

struct blk_slots {
    unsigned n, nfree;
    uint8_t free[BLK_SLOTS_MAX]; // a stack of free slot numbers
    bool busy[BLK_SLOTS_MAX];
};

// How many slots a queue of `queue_size` descriptors serves: each request
// takes BLK_DESC_PER_SLOT of them; at most `max` (and BLK_SLOTS_MAX).
unsigned blk_slots_for_queue(unsigned queue_size, unsigned max);
// n slots, all free (n at most BLK_SLOTS_MAX; more is cut down to it).
void blk_slots_init(struct blk_slots *s, unsigned n);
// How many of n slots must be free before connections that waited for a
// slot are read again: a quarter (at least 1). Reading them again for every
// freed slot would stop and restart their watches once per request while
// the device is saturated.
unsigned blk_slots_resume_at(unsigned n);
// A free slot's number, marked busy, or -1 when all are busy.
int blk_slot_take(struct blk_slots *s);
// Frees busy slot i; false (and nothing changes) if i is not a busy slot.
bool blk_slot_put(struct blk_slots *s, unsigned i);
