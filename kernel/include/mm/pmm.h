// The physical page allocator: a buddy allocator per zone over the boot
// memory map. Zone "low" is RAM below 4 GiB, zone "high" RAM from 4 GiB up.
// Blocks are 2^order pages, naturally aligned (pfn a multiple of 2^order).
//
// Every page of a zone's span has a struct page in one array that pmm_init
// carves out of RAM below 4 GiB; the allocator keeps its free lists in that
// array and never touches the memory it manages (except for PMM_ZERO).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/phys.h"
#include "nimbus/status.h"

struct mem_range {
    paddr_t base;
    uint64_t size;
};

#define PMM_MAX_ORDER 10 // largest block = 2^10 pages (4 MiB)

#define PMM_LOW  (1u << 0) // must lie below 4 GiB (early page tables, 32-bit DMA)
#define PMM_ZERO (1u << 1) // zero the block through the direct map

#define PMM_LOW_LIMIT  (4ull << 30) // first address of the high zone
#define PMM_MAX_PHYS   (1ull << 44) // RAM beyond 16 TiB is ignored
#define PMM_MAX_RANGES 128          // distinct RAM or reserved ranges after merging

// pmm_init takes ownership of the RAM described by `ram` (any order, may
// overlap, may be unaligned: trimmed inwards to whole pages) minus `reserved`
// (may overlap RAM or not, may be unaligned: rounded outwards). It carves its
// page-metadata array out of free RAM below 4 GiB, at the lowest address at
// or above 1 MiB where it fits (below 1 MiB only if nothing else fits); that
// memory counts as reserved. The metadata is written through phys_to_virt, so
// the direct map must cover it (see pmm_get_stats: meta_base, meta_pages).
//
// Returns ERR_INVALID_ARGS when there is no whole page of RAM, ERR_NO_MEMORY
// when the metadata does not fit below 4 GiB, ERR_OUT_OF_RANGE for more than
// PMM_MAX_RANGES distinct ranges; on failure the allocator is left empty.
//
// Calling pmm_init again discards all state, including live allocations.
// Only the host tests do that.
status_t pmm_init(const struct mem_range *ram, size_t nram, const struct mem_range *reserved,
                  size_t nreserved);

// Allocates 2^order contiguous pages. Without PMM_LOW the high zone is tried
// first, then the low zone. Returns ERR_INVALID_ARGS for order > PMM_MAX_ORDER,
// unknown flags or a NULL `out`; ERR_NO_MEMORY when no block is free.
status_t pmm_alloc(unsigned order, unsigned flags, paddr_t *out);

// Frees a block from pmm_alloc with the same order. A bad free (unaligned,
// outside managed memory, reserved, not the start of an allocated block, the
// wrong order, a double free, a page still marked as slab or kmalloc memory)
// is reported with pr_err, counted in pmm_error_count() and ignored.
void pmm_free(paddr_t pa, unsigned order);

struct pmm_stats {
    uint64_t total_pages;    // whole pages of RAM in the zones
    uint64_t free_pages;     // low_free_pages + high_free_pages
    uint64_t low_free_pages; // free below 4 GiB
    uint64_t high_free_pages;
    uint64_t reserved_pages;                 // RAM never handed out: reserved ranges and metadata
    uint64_t free_blocks[PMM_MAX_ORDER + 1]; // free blocks per order, both zones
    paddr_t meta_base;                       // the page-metadata array
    uint64_t meta_pages;
};

void pmm_get_stats(struct pmm_stats *st);

// Bad frees detected so far.
uint64_t pmm_error_count(void);

// Checks the free lists of both zones (links, states, alignment, counts);
// `deep` also walks every page to prove no two blocks overlap. Returns
// ERR_BAD_STATE, after a pr_err saying what is wrong, on corruption. For tests.
status_t pmm_check(bool deep);

// What a page is, from the allocator's point of view.
enum page_state {
    PAGE_TAIL = 0,  // inside a block but not its first page
    PAGE_FREE,      // first page of a free block
    PAGE_ALLOCATED, // first page of an allocated block
    PAGE_RESERVED,  // RAM that is never handed out
    PAGE_ABSENT,    // not RAM: a hole in a zone's span
};

// What the owner of an allocated block uses it for (page.use).
enum page_use {
    PAGE_USE_NONE = 0,
    PAGE_SLAB,   // every page of a slab; owner is its struct slab
    PAGE_LARGE,  // first page of a page-backed kmalloc block; order is its size
    PAGE_CACHED, // a free page in the allocator's order-0 cache (pmm.c)
};

// Per-page metadata. The allocator owns state, order and (on free pages) the
// links; whoever allocated a block owns use, owner and owner_data of its
// pages, and must reset use to PAGE_USE_NONE before freeing it.
struct page {
    union {
        struct {
            uint32_t next, prev; // PAGE_FREE: free-list neighbours, zone page indices (pmm lock)
        } link;
        void *owner; // allocated pages: the owner's pointer
    };
    uint8_t state; // enum page_state (pmm lock)
    uint8_t order; // PAGE_FREE, PAGE_ALLOCATED: block order (pmm lock)
    uint8_t use;   // enum page_use (owner)
    uint8_t unused;
    uint32_t owner_data; // allocated pages: free for the owner
};

_Static_assert(sizeof(struct page) == 16, "struct page layout");

// The metadata of the page holding `pa`; NULL outside managed memory (not
// RAM, or never given to pmm_init). Reserved pages have metadata too.
struct page *pmm_page(paddr_t pa);

// The physical address of the page described by `pg` (from pmm_page).
paddr_t pmm_page_phys(const struct page *pg);
