// nimbus:host
// The physical memory manager: turns the boot memory map into two buddy zones
// (below and above 4 GiB) sharing one page-metadata array, and serves
// pmm_alloc and pmm_free under one lock.
#include "mm/pmm.h"
#include "mm/allocfail.h"

#include "lib/compiler.h"
#include "lib/panic.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/buddy.h"

#define LOW_END_PFN    (PMM_LOW_LIMIT >> PAGE_SHIFT)
#define MAX_PFN        (PMM_MAX_PHYS >> PAGE_SHIFT)
#define META_FLOOR_PFN ((1ull << 20) >> PAGE_SHIFT) // keep the first MiB for real-mode users
#define NO_PFN         UINT64_MAX

enum { ZONE_LOW, ZONE_HIGH, NZONES };

static const char *const zone_names[NZONES] = {[ZONE_LOW] = "low", [ZONE_HIGH] = "high"};

// A half-open range of page frame numbers.
struct pfn_range {
    uint64_t start, end;
};

// Sorted, disjoint, non-adjacent ranges.
struct range_set {
    struct pfn_range r[PMM_MAX_RANGES];
    size_t n;
};

// Single free pages are kept in a small stack per zone instead of going back
// to the buddy lists: a page freed and allocated again (page faults, page
// tables, kernel stacks, slabs of processes that come and go) then costs a
// push and a pop rather than merging a block up to the top order and
// splitting it down again. Cached pages stay allocated blocks of order 0 to
// the buddy code, marked `use = PAGE_CACHED` (a second free of one is
// caught). pmm_get_stats and pmm_check first give them all back, so every
// figure and check sees plain buddy state.
#define PAGE_CACHE_MAX 64

struct page_cache {
    uint32_t n;
    uint64_t pfn[PAGE_CACHE_MAX];
};

static struct spinlock pmm_lock = SPINLOCK_INIT("pmm");
static struct buddy_zone zones[NZONES];       // (pmm_lock)
static struct page_cache page_caches[NZONES]; // (pmm_lock)
static uint64_t total_pages;                  // set by pmm_init
static uint64_t reserved_pages;               // set by pmm_init
static paddr_t meta_base;                     // set by pmm_init
static uint64_t meta_pages;                   // set by pmm_init
static uint64_t pmm_errors;                   // atomic

// pmm_init's working sets: it runs alone (early boot, or a host test).
static struct range_set ram_set, resv_set;

// Adds [start, end) to `s`, merging it with every range it overlaps or
// touches. False if the set is full.
static bool range_add(struct range_set *s, uint64_t start, uint64_t end)
{
    size_t j = 0;

    // Ranges in `s` are apart from each other, so one pass absorbs all
    // the ones [start, end) reaches, even as it grows.
    for (size_t i = 0; i < s->n; i++) {
        struct pfn_range r = s->r[i];
        if (r.end < start || r.start > end) {
            s->r[j++] = r;
            continue;
        }
        start = MIN(start, r.start);
        end = MAX(end, r.end);
    }
    s->n = j;
    if (s->n == PMM_MAX_RANGES)
        return false;
    size_t i = s->n++;
    for (; i > 0 && s->r[i - 1].start > start; i--)
        s->r[i] = s->r[i - 1];
    s->r[i] = (struct pfn_range){start, end};
    return true;
}

// The end of a byte range, saturated and capped at PMM_MAX_PHYS.
static uint64_t range_end(const struct mem_range *m)
{
    uint64_t end = m->size > UINT64_MAX - m->base ? UINT64_MAX : m->base + m->size;
    return MIN(end, PMM_MAX_PHYS);
}

// RAM is trimmed inwards to whole pages.
static status_t collect_ram(const struct mem_range *ram, size_t nram)
{
    for (size_t i = 0; ram && i < nram; i++) {
        if (ram[i].base >= PMM_MAX_PHYS)
            continue;
        uint64_t start = ALIGN_UP(ram[i].base, PAGE_SIZE) >> PAGE_SHIFT;
        uint64_t end = range_end(&ram[i]) >> PAGE_SHIFT;
        if (start < end && !range_add(&ram_set, start, end))
            return ERR_OUT_OF_RANGE;
    }
    return ram_set.n ? OK : ERR_INVALID_ARGS;
}

// Reserved ranges are rounded outwards to whole pages.
static status_t collect_reserved(const struct mem_range *res, size_t nres)
{
    for (size_t i = 0; res && i < nres; i++) {
        if (res[i].base >= PMM_MAX_PHYS || res[i].size == 0)
            continue;
        uint64_t start = res[i].base >> PAGE_SHIFT;
        uint64_t end = ALIGN_UP(range_end(&res[i]), PAGE_SIZE) >> PAGE_SHIFT;
        if (!range_add(&resv_set, start, end))
            return ERR_OUT_OF_RANGE;
    }
    return OK;
}

typedef void (*sweep_fn)(void *ctx, uint64_t start, uint64_t end, bool reserved);

// Visits all RAM in address order as pieces that are wholly free or wholly
// reserved.
static void sweep_ram(sweep_fn fn, void *ctx)
{
    size_t j = 0;

    for (size_t i = 0; i < ram_set.n; i++) {
        uint64_t cur = ram_set.r[i].start, end = ram_set.r[i].end, next;
        while (cur < end) {
            while (j < resv_set.n && resv_set.r[j].end <= cur)
                j++;
            const struct pfn_range *res = j < resv_set.n ? &resv_set.r[j] : NULL;
            bool reserved = res && res->start <= cur;
            if (reserved)
                next = MIN(res->end, end);
            else
                next = res ? MIN(res->start, end) : end;
            fn(ctx, cur, next, reserved);
            cur = next;
        }
    }
}

// The pfn span [start, end) of RAM that falls in [lo, hi); empty if none.
static struct pfn_range zone_span(uint64_t lo, uint64_t hi)
{
    struct pfn_range span = {NO_PFN, 0};

    for (size_t i = 0; i < ram_set.n; i++) {
        uint64_t s = MAX(ram_set.r[i].start, lo), e = MIN(ram_set.r[i].end, hi);
        if (s < e) {
            span.start = MIN(span.start, s);
            span.end = MAX(span.end, e);
        }
    }
    return span.start < span.end ? span : (struct pfn_range){0, 0};
}

struct meta_place {
    uint64_t floor, need, found;
};

// Takes the first free piece below 4 GiB that holds `need` pages above `floor`.
static void place_visit(void *ctx, uint64_t start, uint64_t end, bool reserved)
{
    struct meta_place *m = ctx;

    start = MAX(start, m->floor);
    end = MIN(end, LOW_END_PFN);
    if (!reserved && m->found == NO_PFN && start < end && end - start >= m->need)
        m->found = start;
}

static uint64_t place_metadata(uint64_t need)
{
    struct meta_place m = {META_FLOOR_PFN, need, NO_PFN};

    sweep_ram(place_visit, &m);
    if (m.found == NO_PFN) {
        m.floor = 0;
        sweep_ram(place_visit, &m);
    }
    return m.found;
}

// Marks the gaps between RAM ranges inside each zone's span as not RAM.
static void mark_holes(void)
{
    for (size_t z = 0; z < NZONES; z++) {
        struct buddy_zone *zone = &zones[z];
        uint64_t cur = zone->base_pfn, end = zone->base_pfn + zone->npages;
        for (size_t i = 0; i <= ram_set.n && cur < end; i++) {
            uint64_t gap_end = i < ram_set.n ? MIN(ram_set.r[i].start, end) : end;
            for (; cur < gap_end; cur++)
                buddy_page(zone, cur)->state = PAGE_ABSENT;
            if (i < ram_set.n)
                cur = MAX(cur, ram_set.r[i].end);
        }
    }
}

// Hands a free piece to its zone, or marks a reserved one, split at 4 GiB.
static void populate_visit(void *ctx, uint64_t start, uint64_t end, bool reserved)
{
    for (size_t z = 0; z < NZONES; z++) {
        uint64_t s = MAX(start, z == ZONE_LOW ? 0 : LOW_END_PFN);
        uint64_t e = MIN(end, z == ZONE_LOW ? LOW_END_PFN : NO_PFN);
        if (s >= e)
            continue;
        if (!reserved) {
            buddy_add_free(&zones[z], s, e);
            continue;
        }
        for (uint64_t p = s; p < e; p++)
            buddy_page(&zones[z], p)->state = PAGE_RESERVED;
    }
}

static void reset_state(void)
{
    for (size_t z = 0; z < NZONES; z++) {
        buddy_init(&zones[z], zone_names[z], NULL, 0, 0);
        page_caches[z].n = 0;
    }
    ram_set.n = resv_set.n = 0;
    total_pages = reserved_pages = meta_pages = 0;
    meta_base = 0;
}

// Carves the metadata array, then fills both zones. The sets are collected.
static status_t build_zones(void)
{
    struct pfn_range span[NZONES] = {zone_span(0, LOW_END_PFN), zone_span(LOW_END_PFN, MAX_PFN)};
    uint64_t npages =
        (span[ZONE_LOW].end - span[ZONE_LOW].start) + (span[ZONE_HIGH].end - span[ZONE_HIGH].start);
    uint64_t need = ALIGN_UP(npages * sizeof(struct page), PAGE_SIZE) >> PAGE_SHIFT;
    uint64_t at = place_metadata(need);

    if (at == NO_PFN) {
        pr_err("pmm: no room below 4 GiB for %lu KiB of page metadata\n", need * 4);
        return ERR_NO_MEMORY;
    }
    if (!range_add(&resv_set, at, at + need))
        return ERR_OUT_OF_RANGE;
    meta_base = at << PAGE_SHIFT;
    meta_pages = need;
    struct page *pages = phys_to_virt(meta_base);
    memset(pages, 0, need << PAGE_SHIFT);
    for (size_t z = 0; z < NZONES; z++) {
        uint32_t n = (uint32_t)(span[z].end - span[z].start);
        buddy_init(&zones[z], zone_names[z], pages, span[z].start, n);
        pages += n;
    }
    mark_holes();
    sweep_ram(populate_visit, NULL);
    return OK;
}

static status_t init_locked(const struct mem_range *ram, size_t nram,
                            const struct mem_range *reserved, size_t nreserved)
{
    status_t s = collect_ram(ram, nram);

    if (s == OK)
        s = collect_reserved(reserved, nreserved);
    if (s == OK)
        s = build_zones();
    if (s != OK)
        return s;
    for (size_t i = 0; i < ram_set.n; i++)
        total_pages += ram_set.r[i].end - ram_set.r[i].start;
    reserved_pages = total_pages - zones[ZONE_LOW].free_pages - zones[ZONE_HIGH].free_pages;
    return OK;
}

status_t pmm_init(const struct mem_range *ram, size_t nram, const struct mem_range *reserved,
                  size_t nreserved)
{
    irqstate_t irq = spin_lock_irqsave(&pmm_lock);
    reset_state();
    status_t s = init_locked(ram, nram, reserved, nreserved);
    if (s != OK)
        reset_state();
    spin_unlock_irqrestore(&pmm_lock, irq);
    if (s != OK) {
        pr_err("pmm: init failed: %s\n", status_str(s));
        return s;
    }
    pr_info("pmm: %lu MiB RAM, %lu MiB free below 4 GiB, %lu MiB above; metadata %lu KiB at "
            "%#lx\n",
            total_pages >> 8, zones[ZONE_LOW].free_pages >> 8, zones[ZONE_HIGH].free_pages >> 8,
            meta_pages * 4, meta_base);
    return OK;
}

// Takes a page from zone z's cache. pmm_lock held.
static bool cache_pop(size_t z, uint64_t *pfn)
{
    struct page_cache *c = &page_caches[z];
    if (!c->n)
        return false;
    *pfn = c->pfn[--c->n];
    buddy_page(&zones[z], *pfn)->use = PAGE_USE_NONE;
    return true;
}

// Gives every cached page back to the buddy lists. pmm_lock held.
static void cache_drain_locked(void)
{
    for (size_t z = 0; z < NZONES; z++) {
        struct page_cache *c = &page_caches[z];
        while (c->n) {
            uint64_t pfn = c->pfn[--c->n];
            buddy_page(&zones[z], pfn)->use = PAGE_USE_NONE;
            buddy_free(&zones[z], pfn, 0);
        }
    }
}

// The buddy path of pmm_alloc. pmm_lock held.
static bool alloc_locked(unsigned order, unsigned flags, uint64_t *pfn)
{
    if (order == 0 &&
        ((!(flags & PMM_LOW) && cache_pop(ZONE_HIGH, pfn)) || cache_pop(ZONE_LOW, pfn)))
        return true;
    return (!(flags & PMM_LOW) && buddy_alloc(&zones[ZONE_HIGH], order, pfn)) ||
           buddy_alloc(&zones[ZONE_LOW], order, pfn);
}

status_t pmm_alloc(unsigned order, unsigned flags, paddr_t *out)
{
    uint64_t pfn;

    if (order > PMM_MAX_ORDER || (flags & ~(PMM_LOW | PMM_ZERO)) || !out)
        return ERR_INVALID_ARGS;
    if (allocfail_should_fail())
        return ERR_NO_MEMORY;
    irqstate_t irq = spin_lock_irqsave(&pmm_lock);
    bool ok = alloc_locked(order, flags, &pfn);
    if (!ok && order > 0 && (page_caches[ZONE_LOW].n || page_caches[ZONE_HIGH].n)) {
        cache_drain_locked(); // cached pages may complete a larger block
        ok = alloc_locked(order, flags, &pfn);
    }
    spin_unlock_irqrestore(&pmm_lock, irq);
    if (!ok)
        return ERR_NO_MEMORY;
    *out = pfn << PAGE_SHIFT;
    if (flags & PMM_ZERO)
        memset(phys_to_virt(*out), 0, PAGE_SIZE << order);
    return OK;
}

static struct buddy_zone *zone_of(uint64_t pfn)
{
    for (size_t z = 0; z < NZONES; z++)
        if (buddy_contains(&zones[z], pfn))
            return &zones[z];
    return NULL;
}

// Decode step of pmm_free: no side effects. Caller holds pmm_lock.
static status_t check_free(paddr_t pa, unsigned order, const char **why)
{
    struct buddy_zone *z = zone_of(pa >> PAGE_SHIFT);

    if (pa & PAGE_MASK) {
        *why = "not page aligned";
        return ERR_INVALID_ARGS;
    }
    if (!z) {
        *why = "outside managed memory";
        return ERR_INVALID_ARGS;
    }
    status_t s = buddy_check_free(z, pa >> PAGE_SHIFT, order, why);
    if (s == OK && buddy_page(z, pa >> PAGE_SHIFT)->use == PAGE_CACHED) {
        *why = "double free (page is in the allocator's cache)";
        return ERR_BAD_STATE;
    }
    if (s == OK && buddy_page(z, pa >> PAGE_SHIFT)->use != PAGE_USE_NONE) {
        *why = "still marked as slab or kmalloc memory";
        return ERR_BAD_STATE;
    }
    return s;
}

void pmm_free(paddr_t pa, unsigned order)
{
    const char *why = NULL;

    irqstate_t irq = spin_lock_irqsave(&pmm_lock);
    status_t s = check_free(pa, order, &why);
    if (s == OK) {
        struct buddy_zone *z = zone_of(pa >> PAGE_SHIFT);
        struct page_cache *c = &page_caches[z - zones];
        if (order == 0 && c->n < PAGE_CACHE_MAX) {
            buddy_page(z, pa >> PAGE_SHIFT)->use = PAGE_CACHED;
            c->pfn[c->n++] = pa >> PAGE_SHIFT;
        } else {
            buddy_free(z, pa >> PAGE_SHIFT, order);
        }
    }
    const struct page *pg = s == OK ? NULL : pmm_page(pa & ~PAGE_MASK);
    bool wrong_order = pg && pg->state == PAGE_ALLOCATED && pg->order != order;
    unsigned held = pg ? pg->order : 0;
    spin_unlock_irqrestore(&pmm_lock, irq);
    if (s == OK)
        return;
    __atomic_fetch_add(&pmm_errors, 1, __ATOMIC_RELAXED);
    if (wrong_order)
        pr_err("pmm: bad free of %#lx order %u: %s (block has order %u)\n", pa, order, why, held);
    else
        pr_err("pmm: bad free of %#lx order %u: %s\n", pa, order, why);
}

void pmm_get_stats(struct pmm_stats *st)
{
    irqstate_t irq = spin_lock_irqsave(&pmm_lock);
    cache_drain_locked();
    *st = (struct pmm_stats){
        .total_pages = total_pages,
        .low_free_pages = zones[ZONE_LOW].free_pages,
        .high_free_pages = zones[ZONE_HIGH].free_pages,
        .reserved_pages = reserved_pages,
        .meta_base = meta_base,
        .meta_pages = meta_pages,
    };
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        for (size_t z = 0; z < NZONES; z++)
            st->free_blocks[o] += zones[z].free_blocks[o];
    spin_unlock_irqrestore(&pmm_lock, irq);
    st->free_pages = st->low_free_pages + st->high_free_pages;
}

uint64_t pmm_error_count(void)
{
    return __atomic_load_n(&pmm_errors, __ATOMIC_RELAXED);
}

status_t pmm_check(bool deep)
{
    const char *why = NULL;
    status_t s = OK;
    size_t z;

    irqstate_t irq = spin_lock_irqsave(&pmm_lock);
    cache_drain_locked();
    for (z = 0; z < NZONES && s == OK; z++)
        s = buddy_verify(&zones[z], deep, &why);
    spin_unlock_irqrestore(&pmm_lock, irq);
    if (s != OK)
        pr_err("pmm: zone %s corrupt: %s\n", zone_names[z - 1], why);
    return s;
}

struct page *pmm_page(paddr_t pa)
{
    struct buddy_zone *z = zone_of(pa >> PAGE_SHIFT);

    if (!z)
        return NULL;
    struct page *pg = buddy_page(z, pa >> PAGE_SHIFT);
    return pg->state == PAGE_ABSENT ? NULL : pg;
}

paddr_t pmm_page_phys(const struct page *pg)
{
    for (size_t z = 0; z < NZONES; z++) {
        const struct buddy_zone *zone = &zones[z];
        if (zone->npages && pg >= zone->pages && pg < zone->pages + zone->npages)
            return (zone->base_pfn + (uint64_t)(pg - zone->pages)) << PAGE_SHIFT;
    }
    ASSERT(!"pmm_page_phys: not a struct page of the pmm");
    return 0;
}
