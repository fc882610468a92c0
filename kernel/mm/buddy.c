// nimbus:host
// The buddy algorithm on one zone: free lists per order linked through the
// page metadata, splitting on allocation, coalescing with the buddy on free.
// Only the first page of a block records its state and order; the others
// stay PAGE_TAIL, so a block's state changes in O(1).
#include "mm/buddy.h"

#include "lib/compiler.h"

static uint32_t page_index(const struct buddy_zone *z, uint64_t pfn)
{
    return (uint32_t)(pfn - z->base_pfn);
}

// Pushes the free block at `pfn` on the list of its order.
static void list_push(struct buddy_zone *z, uint64_t pfn, unsigned order)
{
    uint32_t i = page_index(z, pfn), old = z->free_head[order];
    struct page *pg = &z->pages[i];

    pg->state = PAGE_FREE;
    pg->order = (uint8_t)order;
    pg->use = PAGE_USE_NONE;
    pg->link.prev = BUDDY_NONE;
    pg->link.next = old;
    if (old != BUDDY_NONE)
        z->pages[old].link.prev = i;
    z->free_head[order] = i;
    z->free_blocks[order]++;
    z->free_pages += 1ull << order;
}

// Unlinks the free block at `pfn`; it becomes PAGE_TAIL (the caller decides
// what it is next).
static void list_remove(struct buddy_zone *z, uint64_t pfn)
{
    struct page *pg = buddy_page(z, pfn);
    unsigned order = pg->order;

    if (pg->link.prev != BUDDY_NONE)
        z->pages[pg->link.prev].link.next = pg->link.next;
    else
        z->free_head[order] = pg->link.next;
    if (pg->link.next != BUDDY_NONE)
        z->pages[pg->link.next].link.prev = pg->link.prev;
    pg->state = PAGE_TAIL;
    pg->owner = NULL;
    z->free_blocks[order]--;
    z->free_pages -= 1ull << order;
}

void buddy_init(struct buddy_zone *z, const char *name, struct page *pages, uint64_t base_pfn,
                uint32_t npages)
{
    z->name = name;
    z->pages = pages;
    z->base_pfn = base_pfn;
    z->npages = npages;
    z->free_pages = 0;
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) {
        z->free_head[o] = BUDDY_NONE;
        z->free_blocks[o] = 0;
    }
}

// Frees the block at `pfn` (whose pages are all PAGE_TAIL), merging it with
// its buddy as long as the buddy is a free block of the same order.
static void insert_merge(struct buddy_zone *z, uint64_t pfn, unsigned order)
{
    while (order < PMM_MAX_ORDER) {
        uint64_t buddy = pfn ^ (1ull << order);
        if (!buddy_contains(z, buddy))
            break;
        const struct page *b = buddy_page(z, buddy);
        if (b->state != PAGE_FREE || b->order != order)
            break;
        list_remove(z, buddy);
        pfn = MIN(pfn, buddy);
        order++;
    }
    list_push(z, pfn, order);
}

// The largest order of an aligned block starting at `pfn` within `end`.
static unsigned fit_order(uint64_t pfn, uint64_t end)
{
    unsigned order = pfn ? (unsigned)__builtin_ctzll(pfn) : PMM_MAX_ORDER;

    order = MIN(order, (unsigned)PMM_MAX_ORDER);
    while (pfn + (1ull << order) > end)
        order--;
    return order;
}

void buddy_add_free(struct buddy_zone *z, uint64_t start, uint64_t end)
{
    while (start < end) {
        unsigned order = fit_order(start, end);
        insert_merge(z, start, order);
        start += 1ull << order;
    }
}

bool buddy_alloc(struct buddy_zone *z, unsigned order, uint64_t *pfn)
{
    unsigned k = order;

    while (k <= PMM_MAX_ORDER && z->free_head[k] == BUDDY_NONE)
        k++;
    if (k > PMM_MAX_ORDER)
        return false;
    uint64_t head = z->base_pfn + z->free_head[k];
    list_remove(z, head);
    // Split: the upper half of each level goes back on its free list.
    while (k > order) {
        k--;
        list_push(z, head + (1ull << k), k);
    }
    struct page *pg = buddy_page(z, head);
    pg->state = PAGE_ALLOCATED;
    pg->order = (uint8_t)order;
    pg->use = PAGE_USE_NONE;
    pg->owner = NULL;
    pg->owner_data = 0;
    *pfn = head;
    return true;
}

// The first page of the block (free or allocated) that contains `pfn`, or
// BUDDY_NONE if it lies in no block (reserved or absent).
static uint32_t containing_block(const struct buddy_zone *z, uint64_t pfn)
{
    for (unsigned k = 0; k <= PMM_MAX_ORDER; k++) {
        uint64_t h = pfn & ~((1ull << k) - 1);
        if (!buddy_contains(z, h))
            break;
        const struct page *pg = buddy_page(z, h);
        bool head = pg->state == PAGE_FREE || pg->state == PAGE_ALLOCATED;
        if (head && pfn < h + (1ull << pg->order))
            return page_index(z, h);
    }
    return BUDDY_NONE;
}

status_t buddy_check_free(const struct buddy_zone *z, uint64_t pfn, unsigned order,
                          const char **why)
{
    if (order > PMM_MAX_ORDER || (pfn & ((1ull << order) - 1))) {
        *why = "misaligned for its order";
        return ERR_INVALID_ARGS;
    }
    if (!buddy_contains(z, pfn)) {
        *why = "outside the zone";
        return ERR_INVALID_ARGS;
    }
    const struct page *pg = buddy_page(z, pfn);
    switch (pg->state) {
    case PAGE_ALLOCATED:
        if (pg->order == order)
            return OK;
        *why = "wrong order";
        return ERR_INVALID_ARGS;
    case PAGE_FREE:
        *why = "double free (block is already free)";
        return ERR_BAD_STATE;
    case PAGE_RESERVED:
        *why = "reserved page";
        return ERR_INVALID_ARGS;
    case PAGE_ABSENT:
        *why = "not RAM";
        return ERR_INVALID_ARGS;
    }
    uint32_t h = containing_block(z, pfn);
    if (h != BUDDY_NONE && z->pages[h].state == PAGE_FREE) {
        *why = "double free (page is inside a free block)";
        return ERR_BAD_STATE;
    }
    *why = "not the start of an allocated block";
    return ERR_INVALID_ARGS;
}

void buddy_free(struct buddy_zone *z, uint64_t pfn, unsigned order)
{
    struct page *pg = buddy_page(z, pfn);

    pg->state = PAGE_TAIL;
    insert_merge(z, pfn, order);
}

static status_t corrupt(const char **why, const char *what)
{
    *why = what;
    return ERR_BAD_STATE;
}

// Walks one free list: links, states, orders, alignment and length.
static status_t verify_list(const struct buddy_zone *z, unsigned order, uint64_t *pages,
                            const char **why)
{
    uint32_t prev = BUDDY_NONE, n = 0;

    for (uint32_t i = z->free_head[order]; i != BUDDY_NONE; i = z->pages[i].link.next) {
        const struct page *pg = &z->pages[i];
        if (i >= z->npages || ++n > z->npages)
            return corrupt(why, "free list runs outside the zone or loops");
        if (pg->state != PAGE_FREE || pg->order != order)
            return corrupt(why, "free list holds a page that is not a free block head");
        if (pg->link.prev != prev)
            return corrupt(why, "free list back link broken");
        if (((z->base_pfn + i) & ((1ull << order) - 1)) || i + (1ull << order) > z->npages)
            return corrupt(why, "free block misaligned or past the zone");
        prev = i;
    }
    if (n != z->free_blocks[order])
        return corrupt(why, "free list length differs from its count");
    *pages += (uint64_t)n << order;
    return OK;
}

// Walks every page: blocks may not overlap, and every free block head must
// be on a list (the per-list walk already proved each listed one is a head).
static status_t verify_pages(const struct buddy_zone *z, const char **why)
{
    uint64_t heads = 0, listed = 0;

    for (uint64_t i = 0; i < z->npages;) {
        const struct page *pg = &z->pages[i];
        if (pg->state != PAGE_FREE && pg->state != PAGE_ALLOCATED) {
            i++;
            continue;
        }
        uint64_t n = 1ull << pg->order;
        if (i + n > z->npages)
            return corrupt(why, "block runs past the zone");
        for (uint64_t j = i + 1; j < i + n; j++)
            if (z->pages[j].state != PAGE_TAIL)
                return corrupt(why, "blocks overlap");
        heads += pg->state == PAGE_FREE;
        i += n;
    }
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        listed += z->free_blocks[o];
    if (heads != listed)
        return corrupt(why, "free block not on any list");
    return OK;
}

status_t buddy_verify(const struct buddy_zone *z, bool deep, const char **why)
{
    uint64_t pages = 0;

    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) {
        status_t s = verify_list(z, o, &pages, why);
        if (s != OK)
            return s;
    }
    if (pages != z->free_pages)
        return corrupt(why, "free page count differs from the lists");
    return deep ? verify_pages(z, why) : OK;
}
