// The kernel heap: slab caches of fixed-size objects, and kmalloc on top of
// them (size classes up to KMALLOC_MAX_CLASS bytes, whole buddy blocks above).
// Slab pages come from pmm_alloc and are used through the direct map.
//
// Debug checks (always on): a double free, a free of a pointer that is not
// the start of an object, a free to the wrong cache, and a free of memory the
// heap does not own are reported with pr_err (naming the cache and the
// address), counted in slab_error_count() and otherwise ignored. With
// SLAB_POISON, freed objects are filled with SLAB_POISON_BYTE and checked when
// handed out again: a write after free is reported and counted the same way.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/pmm.h"
#include "nimbus/status.h"

#ifndef SLAB_POISON
#define SLAB_POISON 1
#endif
#define SLAB_POISON_BYTE 0x6b

#define SLAB_NAME_MAX     24 // cache names are copied and truncated to this (with the NUL)
#define SLAB_MAX_ORDER    3  // a slab is at most 2^3 pages
#define KMALLOC_MAX_CLASS 2048
#define KMALLOC_MAX_SIZE  (PAGE_SIZE << PMM_MAX_ORDER) // 4 MiB

struct slab_cache;

// Sets up the kmalloc caches; call after pmm_init. Calling it again forgets
// every cache and allocation (host tests only).
status_t slab_init(void);

// A dedicated cache of objects of `size` bytes aligned to `align` (a power of
// two up to PAGE_SIZE; 0 means 8). Returns NULL on bad arguments, when an
// object does not fit a slab of 2^SLAB_MAX_ORDER pages, or on no memory.
struct slab_cache *slab_cache_create(const char *name, size_t size, size_t align);

// Destroys a dedicated cache and returns its pages. ERR_BAD_STATE (and the
// cache stays) while objects are still allocated; ERR_INVALID_ARGS for the
// kmalloc caches.
status_t slab_cache_destroy(struct slab_cache *c);

// An object of the cache, or NULL when out of memory. IRQ-safe.
void *slab_alloc(struct slab_cache *c);

// Returns an object to its cache. NULL is ignored; bad frees are reported.
void slab_free(struct slab_cache *c, void *p);

// n bytes, aligned to 16, and to the size class itself when that is a power
// of two (16 ... 2048); above KMALLOC_MAX_CLASS a whole buddy block, page
// aligned. NULL for n == 0, n > KMALLOC_MAX_SIZE, or when out of memory.
void *kmalloc(size_t n);

// kmalloc, with the whole usable size (ksize) zeroed.
void *kzalloc(size_t n);

// Frees memory from kmalloc, kzalloc or slab_alloc. NULL is ignored; bad
// frees are reported.
void kfree(void *p);

// The usable size of an allocation (at least what was asked for); 0 for a
// pointer the heap did not hand out.
size_t ksize(const void *p);

// Gives the pages of the empty slabs every cache keeps for reuse back to the
// pmm. Returns how many pages were freed.
size_t slab_reclaim(void);

struct slab_cache_stats {
    const char *name;   // valid while the cache exists
    size_t obj_size;    // usable bytes per object (0 for "kmalloc-large")
    size_t objs_in_use; // allocated objects (blocks for "kmalloc-large")
    size_t objs_total;  // objects the cache's slabs hold
    size_t pages;       // pages held
};

// Fills out[0..max) with one entry per cache (the kmalloc caches, the
// dedicated caches, then "kmalloc-large" for page-backed kmalloc blocks) and
// returns the number of entries there are, which may exceed `max`.
size_t slab_stats(struct slab_cache_stats *out, size_t max);

// Bad frees and writes after free detected so far.
uint64_t slab_error_count(void);

// For an allocator that keeps its own free objects (the channel message
// pool): reports `what` at `p` of pool `owner` like a heap error, counted in
// slab_error_count().
void slab_report_foreign(const char *owner, const void *p, const char *what);
