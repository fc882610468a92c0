// The buddy algorithm over one zone, used by pmm.c. It keeps its free lists
// in the zone's page-metadata array as index links and never touches the
// memory it manages. Callers serialize access (the pmm lock).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mm/pmm.h"

#define BUDDY_NONE UINT32_MAX // end of a free list

struct buddy_zone {
    const char *name;
    struct page *pages; // metadata of pfns [base_pfn, base_pfn + npages)
    uint64_t base_pfn;
    uint32_t npages;
    uint32_t free_head[PMM_MAX_ORDER + 1];   // first free block of each order, or BUDDY_NONE
    uint64_t free_blocks[PMM_MAX_ORDER + 1]; // length of each free list
    uint64_t free_pages;
};

// Sets up an empty zone over `pages`, which the caller has zeroed (every page
// PAGE_TAIL) and then marked PAGE_ABSENT or PAGE_RESERVED where needed.
void buddy_init(struct buddy_zone *z, const char *name, struct page *pages, uint64_t base_pfn,
                uint32_t npages);

// Hands pfns [start, end) to the zone as free memory, as the largest aligned
// blocks that fit, merged with free neighbours. The pages must be PAGE_TAIL.
void buddy_add_free(struct buddy_zone *z, uint64_t start, uint64_t end);

static inline bool buddy_contains(const struct buddy_zone *z, uint64_t pfn)
{
    return pfn - z->base_pfn < z->npages;
}

static inline struct page *buddy_page(const struct buddy_zone *z, uint64_t pfn)
{
    return &z->pages[pfn - z->base_pfn];
}

// Takes a block of 2^order pages, splitting a larger one if needed. Returns
// false when none is free.
bool buddy_alloc(struct buddy_zone *z, unsigned order, uint64_t *pfn);

// Decode step of a free: OK if [pfn, pfn + 2^order) is exactly one allocated
// block of this zone, else an error and a reason in *why. No side effects.
status_t buddy_check_free(const struct buddy_zone *z, uint64_t pfn, unsigned order,
                          const char **why);

// Invoke step: returns a block that buddy_check_free accepted, coalescing it
// with its free buddies.
void buddy_free(struct buddy_zone *z, uint64_t pfn, unsigned order);

// Checks the zone's invariants (see pmm_check). OK, or ERR_BAD_STATE and a
// reason in *why.
status_t buddy_verify(const struct buddy_zone *z, bool deep, const char **why);
