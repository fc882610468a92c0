// nimbus:host
// Tests of the physical page allocator. The "live" cases use the allocator as
// it stands (in the kernel: the running system's) and leave its counts as
// they found them. The host-only cases re-initialise the pmm over fake memory
// maps: the arena of tests/host/phys.c backs fake physical [0, 64 MiB), and
// ranges above it exist only as metadata.
#include "lib/ktest.h"
#include "lib/string.h"
#include "mm/pmm.h"

#ifdef HOST_TEST
#include "mm/host_phys.h"
#endif

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static bool block_aligned(paddr_t pa, unsigned order)
{
    return (pa & ((PAGE_SIZE << order) - 1)) == 0;
}

static void expect_same_stats(struct ktest *t, const struct pmm_stats *now,
                              const struct pmm_stats *then)
{
    EXPECT_EQ(now->total_pages, then->total_pages);
    EXPECT_EQ(now->free_pages, then->free_pages);
    EXPECT_EQ(now->low_free_pages, then->low_free_pages);
    EXPECT_EQ(now->high_free_pages, then->high_free_pages);
    EXPECT_EQ(now->reserved_pages, then->reserved_pages);
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        EXPECT_EQ(now->free_blocks[o], then->free_blocks[o]);
}

// On the host the live cases need some pmm: the whole arena.
static void live_setup(struct ktest *t)
{
#ifdef HOST_TEST
    struct mem_range ram = {0, HOST_PHYS_ARENA_SIZE};
    host_phys_poison(0, HOST_PHYS_ARENA_SIZE, false);
    EXPECT_OK(pmm_init(&ram, 1, NULL, 0));
#endif
}

static void pmm_live_alloc_free_restores(struct ktest *t)
{
    struct pmm_stats base, mid, end;
    paddr_t pa[2 * 5];

    live_setup(t);
    pmm_get_stats(&base);
    ASSERT_GT(base.free_pages, 64u);
    for (unsigned i = 0; i < ARRAY_SIZE(pa); i++) {
        unsigned order = i % 5, flags = i >= 5 ? PMM_LOW : 0;
        ASSERT_OK(pmm_alloc(order, flags, &pa[i]));
        EXPECT_TRUE(block_aligned(pa[i], order));
        struct page *pg = pmm_page(pa[i]);
        ASSERT_NOT_NULL(pg);
        EXPECT_EQ(pg->state, PAGE_ALLOCATED);
        EXPECT_EQ(pg->order, order);
        EXPECT_EQ(pmm_page_phys(pg), pa[i]);
        for (unsigned j = 0; j < i; j++) // blocks never overlap
            EXPECT_TRUE(pa[i] + (PAGE_SIZE << order) <= pa[j] ||
                        pa[j] + (PAGE_SIZE << (j % 5)) <= pa[i]);
    }
    pmm_get_stats(&mid);
    EXPECT_EQ(mid.free_pages, base.free_pages - 2 * (1 + 2 + 4 + 8 + 16));
    for (unsigned i = 0; i < ARRAY_SIZE(pa); i++)
        pmm_free(pa[i], i % 5);
    pmm_get_stats(&end);
    expect_same_stats(t, &end, &base);
    EXPECT_OK(pmm_check(false));
}

static void pmm_live_low_flag_and_zones(struct ktest *t)
{
    struct pmm_stats base, end;
    paddr_t low[8], any;

    live_setup(t);
    pmm_get_stats(&base);
    for (unsigned i = 0; i < ARRAY_SIZE(low); i++) {
        ASSERT_OK(pmm_alloc(i % 3, PMM_LOW, &low[i]));
        EXPECT_LT(low[i] + (PAGE_SIZE << (i % 3)), PMM_LOW_LIMIT + 1);
    }
    // Without PMM_LOW the high zone comes first when it has memory.
    ASSERT_OK(pmm_alloc(0, 0, &any));
    if (base.high_free_pages)
        EXPECT_GE(any, PMM_LOW_LIMIT);
    else
        EXPECT_LT(any, PMM_LOW_LIMIT);
    pmm_free(any, 0);
    for (unsigned i = 0; i < ARRAY_SIZE(low); i++)
        pmm_free(low[i], i % 3);
    pmm_get_stats(&end);
    expect_same_stats(t, &end, &base);
}

static void pmm_live_zero_flag(struct ktest *t)
{
    struct pmm_stats base, end;
    paddr_t pa, pb;

    live_setup(t);
    pmm_get_stats(&base);
    ASSERT_OK(pmm_alloc(1, PMM_LOW, &pa));
    memset(phys_to_virt(pa), 0xa5, 2 * PAGE_SIZE);
    pmm_free(pa, 1);
    // The block just freed is the first candidate again; zeroed either way.
    ASSERT_OK(pmm_alloc(1, PMM_LOW | PMM_ZERO, &pb));
    const unsigned char *p = phys_to_virt(pb);
    size_t nonzero = 0;
    for (size_t i = 0; i < 2 * PAGE_SIZE; i++)
        nonzero += p[i] != 0;
    EXPECT_EQ(nonzero, 0u);
    pmm_free(pb, 1);
    pmm_get_stats(&end);
    expect_same_stats(t, &end, &base);
}

static void pmm_live_bad_frees_detected(struct ktest *t)
{
    struct pmm_stats base, end;
    paddr_t pa;

    live_setup(t);
    pmm_get_stats(&base);
    uint64_t errors = pmm_error_count();
    ASSERT_OK(pmm_alloc(2, 0, &pa));
    pmm_free(pa, 1);             // wrong order
    pmm_free(pa, 3);             // wrong order (and maybe misaligned)
    pmm_free(pa + PAGE_SIZE, 0); // inside the block
    pmm_free(pa + 8, 2);         // not page aligned
    EXPECT_EQ(pmm_error_count(), errors + 4);
    EXPECT_EQ(pmm_page(pa)->state, PAGE_ALLOCATED);
    pmm_free(pa, 2);
    EXPECT_EQ(pmm_error_count(), errors + 4);
    pmm_free(pa, 2);             // double free
    pmm_free(pa + PAGE_SIZE, 0); // a page inside a free block
    EXPECT_EQ(pmm_error_count(), errors + 6);
    pmm_free(base.meta_base, 0); // reserved: the metadata itself
    pmm_free(1ull << 50, 0);     // not memory at all
    pmm_free(pa, PMM_MAX_ORDER + 1);
    EXPECT_EQ(pmm_error_count(), errors + 9);
    pmm_get_stats(&end);
    expect_same_stats(t, &end, &base);
    EXPECT_OK(pmm_check(false));
}

// Single pages freed go to the order-0 cache: the next single page is the
// same one (no merge and split), a second free of it is caught, a larger
// allocation that needs the cached pages still gets them, and the figures
// (which drain the cache) come back exactly.
static void pmm_live_page_cache(struct ktest *t)
{
    struct pmm_stats base, end;
    paddr_t pa, again, pages[80], big;
    uint64_t errors;

    live_setup(t);
    pmm_get_stats(&base);
    errors = pmm_error_count();
    ASSERT_OK(pmm_alloc(0, 0, &pa));
    pmm_free(pa, 0);
    EXPECT_EQ(pmm_page(pa)->state, PAGE_ALLOCATED); // cached, not merged
    EXPECT_EQ(pmm_page(pa)->use, PAGE_CACHED);
    pmm_free(pa, 0); // double free of a cached page
    EXPECT_EQ(pmm_error_count(), errors + 1);
    ASSERT_OK(pmm_alloc(0, 0, &again));
    EXPECT_EQ(again, pa);
    EXPECT_EQ(pmm_page(pa)->use, PAGE_USE_NONE);
    // PMM_ZERO on a cached page zeroes it as well.
    memset(phys_to_virt(pa), 0xa5, PAGE_SIZE);
    pmm_free(pa, 0);
    ASSERT_OK(pmm_alloc(0, PMM_ZERO, &again));
    EXPECT_EQ(again, pa);
    EXPECT_EQ(((const unsigned char *)phys_to_virt(pa))[PAGE_SIZE - 1], 0);
    pmm_free(pa, 0);
    // More than the cache holds: the rest goes to the buddy lists.
    for (unsigned i = 0; i < ARRAY_SIZE(pages); i++)
        ASSERT_OK(pmm_alloc(0, 0, &pages[i]));
    for (unsigned i = 0; i < ARRAY_SIZE(pages); i++)
        pmm_free(pages[i], 0);
    EXPECT_EQ(pmm_error_count(), errors + 1);
    // A block of order 2 while pages are cached: found (from the buddy
    // lists, or once the cache is drained into them).
    ASSERT_OK(pmm_alloc(2, 0, &big));
    EXPECT_TRUE(block_aligned(big, 2));
    pmm_free(big, 2);
    pmm_get_stats(&end);
    expect_same_stats(t, &end, &base);
    EXPECT_OK(pmm_check(true));
}

static void pmm_live_invalid_args(struct ktest *t)
{
    paddr_t pa = 0;

    live_setup(t);
    EXPECT_STATUS(pmm_alloc(PMM_MAX_ORDER + 1, 0, &pa), ERR_INVALID_ARGS);
    EXPECT_STATUS(pmm_alloc(0, 1u << 7, &pa), ERR_INVALID_ARGS);
    EXPECT_STATUS(pmm_alloc(0, 0, NULL), ERR_INVALID_ARGS);
    EXPECT_NULL(pmm_page(1ull << 50));
    EXPECT_NULL(pmm_page(PMM_MAX_PHYS));
    struct pmm_stats st;
    pmm_get_stats(&st);
    EXPECT_EQ(pmm_page(st.meta_base)->state, PAGE_RESERVED);
    EXPECT_LE(st.free_pages + st.reserved_pages, st.total_pages);
}

#ifdef HOST_TEST

#define MAX_TRACKED 16384u // every page of the arena

static paddr_t tracked[MAX_TRACKED];
static uint8_t shadow[MAX_TRACKED]; // arena pages in use by a test allocation

static status_t init_map(const struct mem_range *ram, size_t nram, const struct mem_range *res,
                         size_t nres)
{
    host_phys_poison(0, HOST_PHYS_ARENA_SIZE, false);
    return pmm_init(ram, nram, res, nres);
}

// Allocates blocks of `order` until the pmm says no; returns how many.
static size_t alloc_all(struct ktest *t, unsigned order, unsigned flags, paddr_t *out, size_t max)
{
    size_t n = 0;
    paddr_t pa;

    while (n < max && pmm_alloc(order, flags, &pa) == OK) {
        EXPECT_TRUE(block_aligned(pa, order));
        out[n++] = pa;
    }
    return n;
}

// Frees out[0..n) in a scrambled order (a stride coprime to n).
static void free_scrambled(const paddr_t *pa, size_t n, unsigned order)
{
    size_t stride = 7919; // prime, larger than any n used here
    for (size_t i = 0; i < n; i++)
        pmm_free(pa[(i * stride) % n], order);
}

static void pmm_init_accounting(struct ktest *t)
{
    struct mem_range ram = {0, 16 * MiB};
    struct mem_range res[] = {{0, 1 * MiB}, {5 * MiB + 100, 3 * PAGE_SIZE}};
    struct pmm_stats st;

    ASSERT_OK(init_map(&ram, 1, res, ARRAY_SIZE(res)));
    pmm_get_stats(&st);
    uint64_t pages = 16 * MiB / PAGE_SIZE;
    uint64_t meta = (pages * sizeof(struct page) + PAGE_SIZE - 1) / PAGE_SIZE;
    EXPECT_EQ(st.total_pages, pages);
    EXPECT_EQ(st.meta_pages, meta);
    EXPECT_EQ(st.meta_base, 1 * MiB); // lowest free address at or above 1 MiB
    // 5 MiB + 100 for 3 pages touches 4 pages once rounded outwards.
    EXPECT_EQ(st.reserved_pages, 1 * MiB / PAGE_SIZE + 4 + meta);
    EXPECT_EQ(st.free_pages, pages - st.reserved_pages);
    EXPECT_EQ(st.low_free_pages, st.free_pages);
    EXPECT_EQ(st.high_free_pages, 0u);
    uint64_t sum = 0;
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        sum += st.free_blocks[o] << o;
    EXPECT_EQ(sum, st.free_pages);
    EXPECT_EQ(pmm_page(5 * MiB + 3 * PAGE_SIZE)->state, PAGE_RESERVED);
    EXPECT_NE(pmm_page(5 * MiB + 4 * PAGE_SIZE)->state, PAGE_RESERVED);
    EXPECT_NULL(pmm_page(16 * MiB));
    EXPECT_OK(pmm_check(true));
}

static void pmm_split_and_coalesce(struct ktest *t)
{
    // The small range takes the metadata, so [4 MiB, 8 MiB) is one
    // order-10 block and everything else is of lower order.
    struct mem_range ram[] = {{1 * MiB, 64 * 1024}, {4 * MiB, 4 * MiB}};
    struct pmm_stats base, st;
    paddr_t pa;

    ASSERT_OK(init_map(ram, ARRAY_SIZE(ram), NULL, 0));
    pmm_get_stats(&base);
    ASSERT_EQ(base.free_blocks[PMM_MAX_ORDER], 1u);
    for (unsigned o = 4; o < PMM_MAX_ORDER; o++)
        ASSERT_EQ(base.free_blocks[o], 0u);
    // Order 4 exists only inside the order-10 block: it splits 10 -> 4,
    // leaving one free buddy at each order 4..9.
    ASSERT_OK(pmm_alloc(4, 0, &pa));
    EXPECT_EQ(pa, 4 * MiB);
    pmm_get_stats(&st);
    EXPECT_EQ(st.free_blocks[PMM_MAX_ORDER], 0u);
    for (unsigned o = 4; o < PMM_MAX_ORDER; o++)
        EXPECT_EQ(st.free_blocks[o], 1u);
    pmm_free(pa, 4);
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);

    // Every single page, then all of them back in a scrambled order.
    size_t n = alloc_all(t, 0, 0, tracked, MAX_TRACKED);
    EXPECT_EQ(n, base.free_pages);
    pmm_get_stats(&st);
    EXPECT_EQ(st.free_pages, 0u);
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        EXPECT_EQ(st.free_blocks[o], 0u);
    memset(shadow, 0, sizeof(shadow));
    for (size_t i = 0; i < n; i++) {
        ASSERT_LT(tracked[i] / PAGE_SIZE, MAX_TRACKED);
        EXPECT_EQ(shadow[tracked[i] / PAGE_SIZE]++, 0); // each page handed out once
    }
    free_scrambled(tracked, n, 0);
    // The last single pages freed sit in the order-0 cache; the order-10
    // block needs them: the allocator drains the cache and merges.
    ASSERT_OK(pmm_alloc(PMM_MAX_ORDER, 0, &pa));
    EXPECT_EQ(pa, 4 * MiB);
    pmm_free(pa, PMM_MAX_ORDER);
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);
    EXPECT_OK(pmm_check(true));
}

static void pmm_exhaustion(struct ktest *t)
{
    // The reserved page leaves 7 pages that fit no order-3 block.
    struct mem_range ram = {0, 8 * MiB}, res = {2 * MiB + PAGE_SIZE, PAGE_SIZE};
    struct pmm_stats base, st;
    paddr_t pa;

    ASSERT_OK(init_map(&ram, 1, &res, 1));
    pmm_get_stats(&base);
    EXPECT_EQ(base.meta_base, 1 * MiB); // the first MiB is left alone
    size_t n = alloc_all(t, 3, 0, tracked, MAX_TRACKED);
    EXPECT_GT(n, 0u);
    EXPECT_STATUS(pmm_alloc(3, 0, &pa), ERR_NO_MEMORY);
    EXPECT_STATUS(pmm_alloc(PMM_MAX_ORDER, PMM_LOW, &pa), ERR_NO_MEMORY);
    pmm_get_stats(&st);
    EXPECT_EQ(st.free_pages, base.free_pages - 8 * n);
    for (unsigned o = 3; o <= PMM_MAX_ORDER; o++)
        EXPECT_EQ(st.free_blocks[o], 0u);
    // What is left is smaller pieces, and they can still be had.
    size_t m = alloc_all(t, 0, 0, tracked + n, MAX_TRACKED - n);
    EXPECT_EQ(m, 7u);
    EXPECT_EQ(m, st.free_pages);
    EXPECT_STATUS(pmm_alloc(0, 0, &pa), ERR_NO_MEMORY);
    for (size_t i = 0; i < m; i++)
        pmm_free(tracked[n + i], 0);
    free_scrambled(tracked, n, 3);
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);
    EXPECT_OK(pmm_check(true));
}

static void pmm_low_flag_never_high(struct ktest *t)
{
    struct mem_range ram[] = {{4 * GiB, 64 * MiB}, {0, 32 * MiB}};
    struct pmm_stats base, st;
    size_t n_low, n_high;
    paddr_t pa;

    ASSERT_OK(init_map(ram, ARRAY_SIZE(ram), NULL, 0));
    pmm_get_stats(&base);
    EXPECT_EQ(base.high_free_pages, 64 * MiB / PAGE_SIZE);
    EXPECT_EQ(base.total_pages, 96 * MiB / PAGE_SIZE);
    // Without PMM_LOW: all of the high zone first, then the low zone.
    n_high = alloc_all(t, 5, 0, tracked, 64 * MiB / (32 * PAGE_SIZE));
    for (size_t i = 0; i < n_high; i++)
        EXPECT_TRUE(tracked[i] >= 4 * GiB && tracked[i] < 4 * GiB + 64 * MiB);
    pmm_get_stats(&st);
    EXPECT_EQ(st.high_free_pages, 0u);
    ASSERT_OK(pmm_alloc(0, 0, &pa));
    EXPECT_LT(pa, 32 * MiB);
    pmm_free(pa, 0);
    free_scrambled(tracked, n_high, 5);
    // With PMM_LOW: never the high zone, though it is all free.
    n_low = alloc_all(t, 5, PMM_LOW, tracked, MAX_TRACKED);
    EXPECT_GT(n_low, 0u);
    for (size_t i = 0; i < n_low; i++)
        EXPECT_LT(tracked[i], 32 * MiB);
    pmm_get_stats(&st);
    EXPECT_EQ(st.high_free_pages, base.high_free_pages);
    EXPECT_STATUS(pmm_alloc(5, PMM_LOW, &pa), ERR_NO_MEMORY);
    ASSERT_OK(pmm_alloc(5, 0, &pa));
    EXPECT_GE(pa, 4 * GiB);
    pmm_free(pa, 5);
    free_scrambled(tracked, n_low, 5);
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);
}

// True if [pa, pa + PAGE_SIZE) meets [base, base + size).
static bool page_meets(paddr_t pa, paddr_t base, uint64_t size)
{
    return pa < base + size && base < pa + PAGE_SIZE;
}

static void pmm_reserved_and_unaligned_edges(struct ktest *t)
{
    struct mem_range ram = {1 * MiB + 123, 23 * MiB - 200}; // ends 77 bytes short of 24 MiB
    struct mem_range res[] = {
        {2 * MiB + 5, PAGE_SIZE}, // touches 2 pages
        {10 * MiB - 1, 2},        // touches 2 pages
        {40 * MiB, 1 * MiB},      // not RAM: no effect
        {23 * MiB, 7 * MiB},      // overlaps the end of RAM
        {12 * MiB + 4095, 1},     // one byte: one page
    };
    struct pmm_stats base, st;

    ASSERT_OK(init_map(&ram, 1, res, ARRAY_SIZE(res)));
    pmm_get_stats(&base);
    paddr_t lo = 1 * MiB + PAGE_SIZE, hi = 24 * MiB - PAGE_SIZE; // trimmed inwards
    EXPECT_EQ(base.total_pages, (hi - lo) / PAGE_SIZE);
    EXPECT_EQ(base.reserved_pages, 2 + 2 + (hi - 23 * MiB) / PAGE_SIZE + 1 + base.meta_pages);
    size_t n = alloc_all(t, 0, 0, tracked, MAX_TRACKED);
    EXPECT_EQ(n, base.free_pages);
    for (size_t i = 0; i < n; i++) {
        paddr_t pa = tracked[i];
        bool bad = pa < lo || pa + PAGE_SIZE > hi ||
                   page_meets(pa, base.meta_base, base.meta_pages * PAGE_SIZE);
        for (size_t r = 0; r < ARRAY_SIZE(res); r++)
            bad |= page_meets(pa, res[r].base, res[r].size);
        if (bad)
            KTEST_FAIL_(t, "handed out %#lx, which is reserved or not whole RAM", pa);
    }
    EXPECT_NULL(pmm_page(1 * MiB)); // the partial first page is not managed
    EXPECT_NULL(pmm_page(hi));      // nor the partial last one
    EXPECT_EQ(pmm_page(2 * MiB + PAGE_SIZE)->state, PAGE_RESERVED);
    EXPECT_EQ(pmm_page(10 * MiB)->state, PAGE_RESERVED);
    EXPECT_EQ(pmm_page(12 * MiB)->state, PAGE_RESERVED);
    free_scrambled(tracked, n, 0);
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);
    EXPECT_OK(pmm_check(true));
}

static void pmm_odd_memory_maps(struct ktest *t)
{
    // Unsorted, overlapping, adjacent, smaller than a page, and high.
    struct mem_range ram[] = {
        {16 * MiB, 4 * MiB},    {4 * GiB, 2 * GiB},     {2 * MiB, 4 * MiB}, {4 * MiB, 5 * MiB},
        {30 * MiB + 100, 2900}, {14 * MiB + 4000, 200}, {9 * MiB, 5 * MiB}, {3 * MiB, 1 * MiB},
    };
    struct pmm_stats base, st;
    paddr_t pa;

    ASSERT_OK(init_map(ram, ARRAY_SIZE(ram), NULL, 0));
    pmm_get_stats(&base);
    // The union is [2, 14) MiB, [16, 20) MiB and [4, 6) GiB.
    EXPECT_EQ(base.total_pages, (16 * MiB + 2 * GiB) / PAGE_SIZE);
    EXPECT_EQ(base.high_free_pages, 2 * GiB / PAGE_SIZE);
    EXPECT_NULL(pmm_page(14 * MiB)); // holes
    EXPECT_NULL(pmm_page(15 * MiB));
    EXPECT_NULL(pmm_page(30 * MiB));
    EXPECT_NULL(pmm_page(6 * GiB));
    EXPECT_NOT_NULL(pmm_page(6 * GiB - PAGE_SIZE));
    EXPECT_OK(pmm_check(true));

    // The high zone in 4 MiB blocks: all inside [4, 6) GiB, each once.
    size_t nhigh = 2 * GiB / (PAGE_SIZE << PMM_MAX_ORDER);
    memset(shadow, 0, sizeof(shadow));
    for (size_t i = 0; i < nhigh; i++) {
        ASSERT_OK(pmm_alloc(PMM_MAX_ORDER, 0, &pa));
        ASSERT_TRUE(pa >= 4 * GiB && pa < 6 * GiB && block_aligned(pa, PMM_MAX_ORDER));
        EXPECT_EQ(shadow[(pa - 4 * GiB) >> (PAGE_SHIFT + PMM_MAX_ORDER)]++, 0);
        tracked[i] = pa;
    }
    // Then the low pages, which must all lie in the union.
    size_t nlow = alloc_all(t, 0, 0, tracked + nhigh, MAX_TRACKED - nhigh);
    EXPECT_EQ(nlow, base.low_free_pages);
    for (size_t i = nhigh; i < nhigh + nlow; i++) {
        paddr_t p = tracked[i];
        EXPECT_TRUE((p >= 2 * MiB && p < 14 * MiB) || (p >= 16 * MiB && p < 20 * MiB));
    }
    EXPECT_STATUS(pmm_alloc(0, 0, &pa), ERR_NO_MEMORY);
    free_scrambled(tracked, nhigh, PMM_MAX_ORDER);
    free_scrambled(tracked + nhigh, nlow, 0);
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);
    EXPECT_OK(pmm_check(true));
}

// A QEMU-like map of a 6 GiB machine. Everything but the metadata is
// poisoned, so ASan catches the pmm touching memory it manages.
static void pmm_qemu_6g_touches_only_metadata(struct ktest *t)
{
    struct mem_range ram[] = {{0, 0x9fc00}, {1 * MiB, 3 * GiB - 1 * MiB}, {4 * GiB, 2 * GiB}};
    struct mem_range res[] = {{1 * MiB, 2 * MiB}, {0xf0000, 0x10000}};
    struct pmm_stats base, st;
    paddr_t pa[64];

    // Metadata covers [0, 3 GiB) and [4, 6) GiB, right after the kernel.
    uint64_t need = ((3 * GiB + 2 * GiB) / PAGE_SIZE * sizeof(struct page) + PAGE_SIZE - 1) &
                    ~(uint64_t)PAGE_MASK;
    ASSERT_LE(3 * MiB + need, HOST_PHYS_ARENA_SIZE);
    host_phys_poison(0, HOST_PHYS_ARENA_SIZE, true);
    host_phys_poison(3 * MiB, need, false);
    status_t s = pmm_init(ram, ARRAY_SIZE(ram), res, ARRAY_SIZE(res));
    host_phys_poison(0, HOST_PHYS_ARENA_SIZE, false);
    ASSERT_OK(s);
    host_phys_poison(0, HOST_PHYS_ARENA_SIZE, true);
    host_phys_poison(3 * MiB, need, false);

    pmm_get_stats(&base);
    EXPECT_EQ(base.meta_base, 3 * MiB);
    EXPECT_EQ(base.meta_pages, need / PAGE_SIZE);
    EXPECT_EQ(base.total_pages, (0x9f000 + 3 * GiB - 1 * MiB + 2 * GiB) / PAGE_SIZE);
    EXPECT_EQ(base.high_free_pages, 2 * GiB / PAGE_SIZE);
    // Most memory starts out in the largest blocks.
    EXPECT_GT(base.free_blocks[PMM_MAX_ORDER] << PMM_MAX_ORDER, base.free_pages * 99 / 100);
    for (unsigned i = 0; i < ARRAY_SIZE(pa); i++) {
        unsigned order = i % (PMM_MAX_ORDER + 1);
        ASSERT_OK(pmm_alloc(order, i & 1 ? PMM_LOW : 0, &pa[i]));
        EXPECT_TRUE(i & 1 ? pa[i] < 4 * GiB : pa[i] >= 4 * GiB);
        EXPECT_TRUE(block_aligned(pa[i], order));
    }
    for (unsigned i = 0; i < ARRAY_SIZE(pa); i++)
        pmm_free(pa[i], i % (PMM_MAX_ORDER + 1));
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);
    EXPECT_OK(pmm_check(true));
    host_phys_poison(0, HOST_PHYS_ARENA_SIZE, false);
}

static void expect_empty_pmm(struct ktest *t)
{
    struct pmm_stats st;
    paddr_t pa;

    pmm_get_stats(&st);
    EXPECT_EQ(st.total_pages, 0u);
    EXPECT_EQ(st.free_pages, 0u);
    EXPECT_STATUS(pmm_alloc(0, 0, &pa), ERR_NO_MEMORY);
    EXPECT_NULL(pmm_page(2 * MiB));
}

static void pmm_maps_that_fail(struct ktest *t)
{
    // No room below 4 GiB for the metadata of 1 TiB.
    struct mem_range huge[] = {{0, 64 * 1024}, {4 * GiB, 1ull << 40}};
    EXPECT_STATUS(init_map(huge, ARRAY_SIZE(huge), NULL, 0), ERR_NO_MEMORY);
    expect_empty_pmm(t);
    // Only high memory: nowhere below 4 GiB at all.
    struct mem_range high = {4 * GiB, 1 * GiB};
    EXPECT_STATUS(init_map(&high, 1, NULL, 0), ERR_NO_MEMORY);
    // All RAM reserved.
    struct mem_range ram = {1 * MiB, 1 * MiB}, res = {0, 4 * MiB};
    EXPECT_STATUS(init_map(&ram, 1, &res, 1), ERR_NO_MEMORY);
    expect_empty_pmm(t);
    // No RAM, or none that holds a whole page.
    EXPECT_STATUS(init_map(NULL, 0, NULL, 0), ERR_INVALID_ARGS);
    struct mem_range crumbs[] = {{100, 200}, {2 * PAGE_SIZE - 1, PAGE_SIZE}, {5 * MiB, 0}};
    EXPECT_STATUS(init_map(crumbs, ARRAY_SIZE(crumbs), NULL, 0), ERR_INVALID_ARGS);
    // More distinct ranges than the pmm tracks.
    static struct mem_range many[PMM_MAX_RANGES + 1];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = (struct mem_range){i * 2 * PAGE_SIZE, PAGE_SIZE};
    EXPECT_STATUS(init_map(many, ARRAY_SIZE(many), NULL, 0), ERR_OUT_OF_RANGE);
    expect_empty_pmm(t);
    // Exactly as many is fine.
    EXPECT_OK(init_map(many, PMM_MAX_RANGES, NULL, 0));
    EXPECT_OK(pmm_check(true));
    // Sizes that wrap around are cut at PMM_MAX_PHYS; RAM beyond it is ignored.
    struct mem_range ram2[] = {{0, 8 * MiB}, {1ull << 47, 1 * GiB}};
    struct mem_range res2 = {7 * MiB, UINT64_MAX};
    ASSERT_OK(init_map(ram2, ARRAY_SIZE(ram2), &res2, 1));
    struct pmm_stats st;
    pmm_get_stats(&st);
    EXPECT_EQ(st.total_pages, 8 * MiB / PAGE_SIZE);
    EXPECT_EQ(st.reserved_pages, 1 * MiB / PAGE_SIZE + st.meta_pages);
    EXPECT_EQ(pmm_page(7 * MiB)->state, PAGE_RESERVED);
    EXPECT_OK(pmm_check(true));
}

static void pmm_bad_frees_keep_lists_intact(struct ktest *t)
{
    struct mem_range ram[] = {{0, 8 * MiB}, {12 * MiB, 4 * MiB}};
    struct mem_range res = {0, 1 * MiB};
    struct pmm_stats base, st;
    paddr_t a, b;

    ASSERT_OK(init_map(ram, ARRAY_SIZE(ram), &res, 1));
    pmm_get_stats(&base);
    uint64_t errors = pmm_error_count();
    pmm_free(9 * MiB, 0);              // a hole
    pmm_free(512 * 1024, 0);           // reserved
    pmm_free(5 * MiB, 0);              // inside a free block: never allocated
    pmm_free(12 * MiB, PMM_MAX_ORDER); // a free block's head
    EXPECT_EQ(pmm_error_count(), errors + 4);
    ASSERT_OK(pmm_alloc(3, 0, &a));
    ASSERT_OK(pmm_alloc(0, 0, &b));
    pmm_page(a)->use = PAGE_SLAB; // an owner that forgot to let go
    pmm_free(a, 3);
    EXPECT_EQ(pmm_error_count(), errors + 5);
    pmm_page(a)->use = PAGE_USE_NONE;
    pmm_free(a, 3);
    pmm_free(b, 0);
    pmm_free(a, 3);
    pmm_free(b, 0);
    EXPECT_EQ(pmm_error_count(), errors + 7);
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);
    EXPECT_OK(pmm_check(true));
}

// Random allocations and frees against a shadow map of the arena.
static void pmm_random_stress(struct ktest *t)
{
    struct mem_range ram[] = {{0, 40 * MiB}, {48 * MiB, 16 * MiB - 12 * PAGE_SIZE}};
    struct mem_range res[] = {{0, 1 * MiB}, {20 * MiB + 77, 3 * MiB}};
    static uint8_t orders[MAX_TRACKED];
    struct pmm_stats base, st;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t live = 0;

    ASSERT_OK(init_map(ram, ARRAY_SIZE(ram), res, ARRAY_SIZE(res)));
    pmm_get_stats(&base);
    uint64_t errors = pmm_error_count();
    memset(shadow, 0, sizeof(shadow));
    for (int step = 0; step < 20000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (live && (x & 3) == 0) {
            size_t i = (x >> 8) % live;
            for (uint64_t p = 0; p < 1ull << orders[i]; p++)
                shadow[tracked[i] / PAGE_SIZE + p] = 0;
            pmm_free(tracked[i], orders[i]);
            tracked[i] = tracked[--live];
            orders[i] = orders[live];
            continue;
        }
        unsigned order = (x >> 20) % 7;
        paddr_t pa;
        if (pmm_alloc(order, (x >> 30) & 1 ? PMM_LOW : 0, &pa) != OK)
            continue;
        ASSERT_TRUE(block_aligned(pa, order));
        for (uint64_t p = 0; p < 1ull << order; p++)
            ASSERT_EQ(shadow[pa / PAGE_SIZE + p]++, 0);
        tracked[live] = pa;
        orders[live++] = (uint8_t)order;
        if (step % 2000 == 0)
            ASSERT_OK(pmm_check(true));
    }
    EXPECT_GT(live, 0u);
    while (live--)
        pmm_free(tracked[live], orders[live]);
    pmm_get_stats(&st);
    expect_same_stats(t, &st, &base);
    EXPECT_OK(pmm_check(true));
    EXPECT_EQ(pmm_error_count(), errors);
}

#define PMM_HOST_CASES                                                                 \
    , KTEST_CASE(pmm_init_accounting), KTEST_CASE(pmm_split_and_coalesce),             \
        KTEST_CASE(pmm_exhaustion), KTEST_CASE(pmm_low_flag_never_high),               \
        KTEST_CASE(pmm_reserved_and_unaligned_edges), KTEST_CASE(pmm_odd_memory_maps), \
        KTEST_CASE(pmm_qemu_6g_touches_only_metadata), KTEST_CASE(pmm_maps_that_fail), \
        KTEST_CASE(pmm_bad_frees_keep_lists_intact), KTEST_CASE(pmm_random_stress)
#else
#define PMM_HOST_CASES
#endif

KTEST_SUITE(pmm, KTEST_CASE(pmm_live_alloc_free_restores), KTEST_CASE(pmm_live_low_flag_and_zones),
            KTEST_CASE(pmm_live_zero_flag), KTEST_CASE(pmm_live_bad_frees_detected),
            KTEST_CASE(pmm_live_invalid_args), KTEST_CASE(pmm_live_page_cache) PMM_HOST_CASES);
