// nimbus:host
// Tests of ChaCha20 against RFC 8439's test vectors, and of the generator
// built on it: determinism for equal input, input changing the stream, fast
// key erasure between requests.
#include "lib/entropy.h"
#include "lib/ktest.h"
#include "lib/string.h"

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
}

static void expect_block(struct ktest *t, const uint32_t *key, uint32_t counter,
                         const uint32_t *nonce, const char *hex)
{
    uint8_t got[64], want[64];
    chacha20_block(key, counter, nonce, got);
    hex_to_bytes(hex, want, sizeof(want));
    EXPECT_EQ(memcmp(got, want, sizeof(want)), 0);
}

static void chacha20_rfc8439_vectors(struct ktest *t)
{
    // Section 2.3.2: key 00 01 .. 1f, nonce 00 00 00 09 00 00 00 4a 00 00 00 00, counter 1.
    uint32_t key[8], nonce[3] = {0x09000000u, 0x4a000000u, 0};
    for (uint32_t i = 0; i < 8; i++)
        key[i] = (4 * i) | (4 * i + 1) << 8 | (4 * i + 2) << 16 | (4 * i + 3) << 24;
    expect_block(t, key, 1, nonce,
                 "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
                 "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
    // Appendix A.1, test vectors 1 and 2: all-zero key and nonce, counter 0 and 1.
    uint32_t zero_key[8] = {0}, zero_nonce[3] = {0};
    expect_block(t, zero_key, 0, zero_nonce,
                 "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
                 "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586");
    expect_block(t, zero_key, 1, zero_nonce,
                 "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
                 "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f");
    // Appendix A.1, test vector 3: the key's last byte 01, counter 1.
    zero_key[7] = 0x01000000u;
    expect_block(t, zero_key, 1, zero_nonce,
                 "3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a"
                 "8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0");
}

static void pool_is_deterministic_and_input_matters(struct ktest *t)
{
    struct entropy_pool a = {0}, b = {0}, c = {0};
    uint8_t ra[100], rb[100], rc[100];
    entropy_pool_mix(&a, "seed", 4, 8);
    entropy_pool_mix(&b, "seed", 4, 8);
    entropy_pool_mix(&c, "seee", 4, 8);
    EXPECT_EQ(a.bits, 8u);
    entropy_pool_read(&a, ra, sizeof(ra));
    entropy_pool_read(&b, rb, sizeof(rb));
    entropy_pool_read(&c, rc, sizeof(rc));
    EXPECT_EQ(memcmp(ra, rb, sizeof(ra)), 0); // same input, same stream
    EXPECT_NE(memcmp(ra, rc, sizeof(ra)), 0); // one bit of input changes it
    entropy_pool_read(&a, rb, sizeof(rb));    // the next request differs
    EXPECT_NE(memcmp(ra, rb, sizeof(ra)), 0);
    // Long input is folded 32 bytes at a time: all of it counts.
    uint8_t longin[100] = {0};
    struct entropy_pool d = {0}, e = {0};
    entropy_pool_mix(&d, longin, sizeof(longin), 0);
    longin[99] = 1;
    entropy_pool_mix(&e, longin, sizeof(longin), 0);
    EXPECT_NE(memcmp(d.key, e.key, sizeof(d.key)), 0);
    // Credit saturates.
    entropy_pool_mix(&d, NULL, 0, UINT64_MAX);
    entropy_pool_mix(&d, NULL, 0, 5);
    EXPECT_EQ(d.bits, UINT64_MAX);
}

static void pool_rekeys_after_each_read(struct ktest *t)
{
    struct entropy_pool a = {0}, b = {0};
    uint8_t one[64], two[32];
    entropy_pool_mix(&a, "k", 1, 0);
    b = a;
    uint32_t before[8];
    memcpy(before, a.key, sizeof(before));
    entropy_pool_read(&a, one, sizeof(one));
    EXPECT_NE(memcmp(before, a.key, sizeof(before)), 0); // old key gone
    // Output is not the raw key, nor the ChaCha20 block 0 the next key is taken from.
    EXPECT_NE(memcmp(one, a.key, 32), 0);
    // Two reads of 32 are not one read of 64 split: each request rekeys.
    entropy_pool_read(&b, two, sizeof(two));
    EXPECT_EQ(memcmp(one, two, 32), 0);
    entropy_pool_read(&b, two, sizeof(two));
    EXPECT_NE(memcmp(one + 32, two, 32), 0);
}

KTEST_SUITE(entropy, KTEST_CASE(chacha20_rfc8439_vectors),
            KTEST_CASE(pool_is_deterministic_and_input_matters),
            KTEST_CASE(pool_rekeys_after_each_read));
