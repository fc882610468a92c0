// nimbus:host
// ChaCha20 (RFC 8439) and the generator built on it (lib/entropy.h).
#include "lib/entropy.h"
#include "lib/string.h"

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))

static void quarter(uint32_t *x, int a, int b, int c, int d)
{
    x[a] += x[b];
    x[d] = ROTL(x[d] ^ x[a], 16);
    x[c] += x[d];
    x[b] = ROTL(x[b] ^ x[c], 12);
    x[a] += x[b];
    x[d] = ROTL(x[d] ^ x[a], 8);
    x[c] += x[d];
    x[b] = ROTL(x[b] ^ x[c], 7);
}

void chacha20_block(const uint32_t key[CHACHA20_KEY_WORDS], uint32_t counter,
                    const uint32_t nonce[CHACHA20_NONCE_WORDS], uint8_t out[CHACHA20_BLOCK_BYTES])
{
    // "expand 32-byte k", key, counter, nonce.
    uint32_t in[16] = {0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u};
    for (int i = 0; i < CHACHA20_KEY_WORDS; i++)
        in[4 + i] = key[i];
    in[12] = counter;
    for (int i = 0; i < CHACHA20_NONCE_WORDS; i++)
        in[13 + i] = nonce[i];
    uint32_t x[16];
    memcpy(x, in, sizeof(x));
    for (int r = 0; r < 10; r++) { // 20 rounds: column then diagonal
        quarter(x, 0, 4, 8, 12);
        quarter(x, 1, 5, 9, 13);
        quarter(x, 2, 6, 10, 14);
        quarter(x, 3, 7, 11, 15);
        quarter(x, 0, 5, 10, 15);
        quarter(x, 1, 6, 11, 12);
        quarter(x, 2, 7, 8, 13);
        quarter(x, 3, 4, 9, 14);
    }
    for (int i = 0; i < 16; i++) {
        uint32_t v = x[i] + in[i];
        out[4 * i] = (uint8_t)v;
        out[4 * i + 1] = (uint8_t)(v >> 8);
        out[4 * i + 2] = (uint8_t)(v >> 16);
        out[4 * i + 3] = (uint8_t)(v >> 24);
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// The key from the first 32 bytes of a block.
static void take_key(struct entropy_pool *p, const uint8_t *block)
{
    for (int i = 0; i < CHACHA20_KEY_WORDS; i++)
        p->key[i] = le32(block + 4 * i);
}

// Domain separation in the nonce's last word: folds and reads never share
// a keystream.
#define NONCE_MIX  0x78696d00u // "\0mix"
#define NONCE_READ 0x64617200u // "\0rad"

void entropy_pool_mix(struct entropy_pool *p, const void *buf, size_t len, uint64_t bits)
{
    const uint8_t *b = buf;
    uint8_t block[CHACHA20_BLOCK_BYTES];
    do { // (also once for len 0: the fold still moves the key)
        size_t n = len < 32 ? len : 32;
        for (size_t i = 0; i < n; i++)
            p->key[i / 4] ^= (uint32_t)b[i] << (8 * (i % 4));
        uint32_t nonce[3] = {(uint32_t)p->mixes, (uint32_t)(p->mixes >> 32), NONCE_MIX};
        p->mixes++;
        chacha20_block(p->key, 0, nonce, block);
        take_key(p, block);
        b += n;
        len -= n;
    } while (len);
    memset(block, 0, sizeof(block));
    p->bits = p->bits + bits < p->bits ? UINT64_MAX : p->bits + bits;
}

void entropy_pool_read(struct entropy_pool *p, void *buf, size_t len)
{
    uint8_t *out = buf, block[CHACHA20_BLOCK_BYTES];
    uint32_t nonce[3] = {(uint32_t)p->requests, (uint32_t)(p->requests >> 32), NONCE_READ};
    p->requests++;
    // Block 0 becomes the next key; the caller's bytes come from 1 on. The
    // 32-bit counter caps one request at 256 GiB, more than any caller asks.
    uint32_t counter = 1;
    while (len) {
        chacha20_block(p->key, counter++, nonce, block);
        size_t n = len < sizeof(block) ? len : sizeof(block);
        memcpy(out, block, n);
        out += n;
        len -= n;
    }
    chacha20_block(p->key, 0, nonce, block);
    take_key(p, block);
    memset(block, 0, sizeof(block));
}
