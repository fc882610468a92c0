// I/O permission bitmaps: which of the 65536 I/O ports a process may use
// with in/out, one bit per port, a set bit denying (the layout of the x86
// TSS's bitmap, so it is copied there as is). Every CPU holds a copy in its
// TSS for the user thread it runs; iobitmap_copy_load brings that copy up to
// date touching only the bytes that matter: a bitmap records its high-water
// byte (every byte from there on is 0xff) and the copy its own.
//
// Permissions are only ever added. Changes are serialised by the bitmap's
// lock; a CPU may load a bitmap while it changes (it then sees at least the
// bits of the generation it records, and reloads at the next change).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/spinlock.h"
#include "nimbus/status.h"

#define IOBITMAP_PORTS 65536u
#define IOBITMAP_BYTES (IOBITMAP_PORTS / 8)

struct iobitmap {
    struct spinlock lock; // serialises iobitmap_allow
    uint64_t id;          // unique for the kernel's life: copies name their source by it
    uint32_t gen;         // bumped by every change, after the bits (atomic)
    uint32_t hw;          // bytes [hw, IOBITMAP_BYTES) are all 0xff (atomic)
    uint8_t *bits;        // IOBITMAP_BYTES
};

// A new bitmap denying every port. ERR_NO_MEMORY.
status_t iobitmap_create(struct iobitmap **out);
void iobitmap_destroy(struct iobitmap *bm);

// Allows ports [base, base + count): ERR_INVALID_ARGS for count 0,
// ERR_OUT_OF_RANGE past port 0xffff.
status_t iobitmap_allow(struct iobitmap *bm, uint64_t base, uint64_t count);
bool iobitmap_allowed(const struct iobitmap *bm, uint32_t port);

// A CPU's copy (the bytes live in its TSS).
struct iobitmap_copy {
    uint8_t *bytes; // IOBITMAP_BYTES
    uint64_t id;    // the bitmap shown (0: none: every byte 0xff)
    uint32_t gen;   // its generation when loaded
    uint32_t hw;    // bytes [hw, IOBITMAP_BYTES) are 0xff
};

// Points c at `bytes` and fills them with 0xff (nothing allowed).
void iobitmap_copy_init(struct iobitmap_copy *c, uint8_t *bytes);
// Makes c show bm (NULL: nothing allowed). Returns the number of bytes
// written: 0 when c was up to date, else at most the larger high-water mark.
size_t iobitmap_copy_load(struct iobitmap_copy *c, const struct iobitmap *bm);
