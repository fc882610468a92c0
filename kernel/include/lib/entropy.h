// The kernel's entropy pool and random bytes (docs/DEVICES.md, "Entropy").
//
// The generator is ChaCha20 (RFC 8439) in counter mode keyed by a 256-bit
// pool key, with fast key erasure: after every request the key is replaced
// by keystream no caller saw, so output already given cannot be recomputed
// from a later state. Input (NB_SYS_ENTROPY_ADD, the boot seed) is folded
// into the key: key ^= input block, then key = the first 32 bytes of the
// ChaCha20 block under that key (a one-way step).
//
// The pool seeds itself on first use: RDSEED, else RDRAND when CPUID
// offers them, the TSC read between those and in a timing loop (jitter),
// the boot time and the kernel command line. So reads never block.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHACHA20_KEY_WORDS   8
#define CHACHA20_NONCE_WORDS 3
#define CHACHA20_BLOCK_BYTES 64

// The ChaCha20 block function (RFC 8439 section 2.3): 64 bytes of keystream
// for key, block counter and nonce (words as the RFC's little-endian
// reading of the key and nonce bytes).
void chacha20_block(const uint32_t key[CHACHA20_KEY_WORDS], uint32_t counter,
                    const uint32_t nonce[CHACHA20_NONCE_WORDS], uint8_t out[CHACHA20_BLOCK_BYTES]);

// A generator state, for the pool and the host tests.
struct entropy_pool {
    uint32_t key[CHACHA20_KEY_WORDS];
    uint64_t requests; // nonce for each request's keystream
    uint64_t mixes;    // nonce for each input fold
    uint64_t bits;     // entropy credited (estimate, saturating)
};

// Folds len bytes of input into p (credit `bits` of entropy).
void entropy_pool_mix(struct entropy_pool *p, const void *buf, size_t len, uint64_t bits);
// Fills buf from p and rekeys p.
void entropy_pool_read(struct entropy_pool *p, void *buf, size_t len);

// ---- The kernel's pool (kernel only; callers in thread or interrupt context) ----
// Adds input to the pool (NB_SYS_ENTROPY_ADD), seeding it first if needed.
void entropy_add(const void *buf, size_t len, uint64_t bits);
// Fills buf with random bytes; never blocks (seeds the pool on first use).
void entropy_get(void *buf, size_t len);
// Entropy credited so far (bits, an estimate).
uint64_t entropy_bits(void);
