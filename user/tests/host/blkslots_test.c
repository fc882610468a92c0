// virtio-blk's request slots on the host (services/virtio-blk/slots.c):
// how many a queue serves, taking and freeing them, refusing bad frees.
#include "../../../services/virtio-blk/slots.h"
#include "lib/ktest.h"

static void blkslots_for_queue(struct ktest *t)
{
    EXPECT_EQ(blk_slots_for_queue(256, 64), 64u); // QEMU's default queue: the cap
    EXPECT_EQ(blk_slots_for_queue(128, 64), 42u);
    EXPECT_EQ(blk_slots_for_queue(96, 64), 32u);
    EXPECT_EQ(blk_slots_for_queue(16, 64), 5u); // a small queue still works
    EXPECT_EQ(blk_slots_for_queue(3, 64), 1u);
    EXPECT_EQ(blk_slots_for_queue(2, 64), 0u); // too small for one request
    EXPECT_EQ(blk_slots_for_queue(1024, 500), (unsigned)BLK_SLOTS_MAX);
    EXPECT_EQ(blk_slots_for_queue(256, 8), 8u);
}

static void blkslots_take_put(struct ktest *t)
{
    struct blk_slots s;
    blk_slots_init(&s, 32);
    bool seen[32] = {false};
    for (int k = 0; k < 32; k++) {
        int i = blk_slot_take(&s);
        ASSERT_TRUE(i >= 0 && i < 32);
        EXPECT_FALSE(seen[i]);
        seen[i] = true;
    }
    EXPECT_EQ(s.nfree, 0u);
    EXPECT_EQ(blk_slot_take(&s), -1); // all busy
    ASSERT_TRUE(blk_slot_put(&s, 7));
    EXPECT_EQ(s.nfree, 1u);
    EXPECT_EQ(blk_slot_take(&s), 7); // the one freed
    ASSERT_TRUE(blk_slot_put(&s, 31));
    ASSERT_TRUE(blk_slot_put(&s, 0));
    EXPECT_EQ(s.nfree, 2u);
}

static void blkslots_bad_put(struct ktest *t)
{
    struct blk_slots s;
    blk_slots_init(&s, 4);
    EXPECT_FALSE(blk_slot_put(&s, 0)); // free already
    EXPECT_FALSE(blk_slot_put(&s, 4)); // no such slot
    EXPECT_FALSE(blk_slot_put(&s, 1000));
    EXPECT_EQ(s.nfree, 4u);
    int i = blk_slot_take(&s);
    EXPECT_EQ(i, 0);
    ASSERT_TRUE(blk_slot_put(&s, (unsigned)i));
    EXPECT_FALSE(blk_slot_put(&s, (unsigned)i)); // twice
    EXPECT_EQ(s.nfree, 4u);
    blk_slots_init(&s, 1000); // cut down to the most there can be
    EXPECT_EQ(s.n, (unsigned)BLK_SLOTS_MAX);
    blk_slots_init(&s, 0);
    EXPECT_EQ(blk_slot_take(&s), -1);
}

static void blkslots_resume_at(struct ktest *t)
{
    EXPECT_EQ(blk_slots_resume_at(64), 16u);
    EXPECT_EQ(blk_slots_resume_at(42), 10u);
    EXPECT_EQ(blk_slots_resume_at(5), 1u);
    EXPECT_EQ(blk_slots_resume_at(1), 1u); // never more than there are
    EXPECT_EQ(blk_slots_resume_at(0), 1u);
}

KTEST_SUITE(blkslots, KTEST_CASE(blkslots_resume_at), KTEST_CASE(blkslots_for_queue),
            KTEST_CASE(blkslots_take_put), KTEST_CASE(blkslots_bad_put));
