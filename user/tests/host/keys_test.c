// Tests of the event loop's key table: keys of freed or reused slots, and
// of another kind, find nothing.
#include <stdlib.h>

#include "lib/ktest.h"
#include "nb/keys.h"

#define N 100

static void keys_add_take(struct ktest *t)
{
    struct nb_keys k;
    static int items[N];
    uint64_t key[N];

    nb_keys_init(&k);
    for (int i = 0; i < N; i++) {
        ASSERT_OK(nb_keys_add(&k, &items[i], 1 + i % 2, &key[i]));
        EXPECT_NE(key[i], 0u);
        for (int j = 0; j < i; j++)
            EXPECT_NE(key[i], key[j]);
    }
    EXPECT_EQ(k.count, (uint32_t)N);
    for (int i = 0; i < N; i++) {
        EXPECT_TRUE(nb_keys_get(&k, key[i], 1 + i % 2) == &items[i]);
        EXPECT_NULL(nb_keys_get(&k, key[i], 2 - i % 2)); // other kind
    }
    for (int i = 0; i < N; i += 2)
        EXPECT_TRUE(nb_keys_take(&k, key[i], 1) == &items[i]);
    for (int i = 0; i < N; i += 2) {
        EXPECT_NULL(nb_keys_take(&k, key[i], 1)); // twice
        EXPECT_NULL(nb_keys_get(&k, key[i], 1));
    }
    EXPECT_EQ(k.count, (uint32_t)N / 2);
    nb_keys_destroy(&k);
}

static void keys_reuse_and_forgery(struct ktest *t)
{
    struct nb_keys k;
    int a, b;
    uint64_t ka, kb;

    nb_keys_init(&k);
    ASSERT_OK(nb_keys_add(&k, &a, 1, &ka));
    EXPECT_TRUE(nb_keys_take(&k, ka, 1) == &a);
    ASSERT_OK(nb_keys_add(&k, &b, 1, &kb)); // same slot, new generation
    EXPECT_EQ((uint32_t)kb, (uint32_t)ka);
    EXPECT_NE(kb, ka);
    EXPECT_NULL(nb_keys_get(&k, ka, 1));
    EXPECT_TRUE(nb_keys_get(&k, kb, 1) == &b);
    // Keys nobody issued.
    EXPECT_NULL(nb_keys_get(&k, 0, 1));
    EXPECT_NULL(nb_keys_get(&k, UINT64_MAX, 1));
    EXPECT_NULL(nb_keys_get(&k, (uint64_t)1 << 32 | 5000, 1));
    EXPECT_NULL(nb_keys_take(&k, kb + 1, 1));
    // Bad registrations.
    uint64_t kx;
    EXPECT_STATUS(nb_keys_add(&k, NULL, 1, &kx), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_keys_add(&k, &a, 0, &kx), ERR_INVALID_ARGS);
    nb_keys_destroy(&k);
    EXPECT_NULL(nb_keys_get(&k, kb, 1));
}

KTEST_SUITE(keys, KTEST_CASE(keys_add_take), KTEST_CASE(keys_reuse_and_forgery));
