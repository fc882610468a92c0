// In-kernel tests of the entropy pool: reads differ, the pool is seeded
// (credited) by the first use, input is accepted.
#include "lib/entropy.h"
#include "lib/ktest.h"
#include "lib/string.h"

static void entropy_reads_differ(struct ktest *t)
{
    uint8_t a[64], b[64], zero[64] = {0};
    entropy_get(a, sizeof(a));
    entropy_get(b, sizeof(b));
    EXPECT_NE(memcmp(a, b, sizeof(a)), 0);
    EXPECT_NE(memcmp(a, zero, sizeof(a)), 0);
    EXPECT_TRUE(entropy_bits() >= 64); // at least the timing jitter's credit
    uint64_t before = entropy_bits();
    entropy_add("more", 4, 8);
    EXPECT_EQ(entropy_bits(), before + 8);
    entropy_get(a, 1); // odd sizes
    entropy_get(b, 0);
}

KTEST_SUITE(entropy_live, KTEST_CASE(entropy_reads_differ));
