// nimbus:host
// Tests of the slab allocator and kmalloc. In the kernel they run on the live
// heap: they use their own dedicated caches, free everything they take, and
// check the pmm's free page count returns to where it was. On the host each
// case starts from a fresh pmm over the arena; the host-only cases shrink it
// to exhaust memory.
#include "lib/ktest.h"
#include "lib/string.h"
#include "mm/pmm.h"
#include "mm/slab.h"

#ifdef HOST_TEST
#include "mm/host_phys.h"
#endif

#define MAX_OBJS 1024u

static void *objs[MAX_OBJS];
static struct slab_cache_stats stats[64];
static char not_heap[64];

static void slab_setup(struct ktest *t)
{
#ifdef HOST_TEST
    EXPECT_OK(host_mm_init(HOST_PHYS_ARENA_SIZE));
#endif
}

// Free pmm pages once every cache has let go of its spare empty slabs.
static uint64_t settled_free_pages(void)
{
    struct pmm_stats st;

    slab_reclaim();
    pmm_get_stats(&st);
    return st.free_pages;
}

// The stats entry of the cache called `name`, or NULL.
static const struct slab_cache_stats *find_stats(const char *name)
{
    size_t n = MIN(slab_stats(stats, ARRAY_SIZE(stats)), ARRAY_SIZE(stats));

    for (size_t i = 0; i < n; i++)
        if (ktest_str_equal(stats[i].name, name))
            return &stats[i];
    return NULL;
}

// Objects in use in the cache called `name`; SIZE_MAX if there is no such cache.
static size_t in_use(const char *name)
{
    const struct slab_cache_stats *st = find_stats(name);
    return st ? st->objs_in_use : SIZE_MAX;
}

static bool all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return false;
    return true;
}

static void slab_reuses_freed_objects(struct ktest *t)
{
    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    struct slab_cache *c = slab_cache_create("test-reuse", 64, 0);
    ASSERT_NOT_NULL(c);
    void *a = slab_alloc(c);
    ASSERT_NOT_NULL(a);
    slab_free(c, a);
    void *b = slab_alloc(c);
    EXPECT_EQ(b, a);
    slab_free(c, b);
    EXPECT_OK(slab_cache_destroy(c));

    void *p = kmalloc(100);
    ASSERT_NOT_NULL(p);
    kfree(p);
    void *q = kmalloc(100);
    EXPECT_EQ(q, p);
    kfree(q);
    EXPECT_EQ(settled_free_pages(), free0);
}

static const size_t odd_sizes[] = {1,    7,    8,    15,   16,   17,   31,   33,  47,  48,   49,
                                   63,   64,   65,   95,   100,  127,  128,  129, 191, 200,  255,
                                   256,  257,  383,  400,  511,  512,  513,  700, 767, 1000, 1023,
                                   1024, 1025, 1500, 1536, 1537, 2000, 2047, 2048};

static void slab_every_size_class(struct ktest *t)
{
    size_t n = ARRAY_SIZE(odd_sizes);

    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    for (size_t i = 0; i < n; i++) {
        size_t want = odd_sizes[i];
        objs[i] = kmalloc(want);
        ASSERT_NOT_NULL(objs[i]);
        size_t got = ksize(objs[i]);
        EXPECT_GE(got, want);
        EXPECT_LE(got, MAX(16u, want + want / 2 + 16));
        EXPECT_EQ((uintptr_t)objs[i] % 16, 0u);
        if ((got & (got - 1)) == 0) // power-of-two classes are naturally aligned
            EXPECT_EQ((uintptr_t)objs[i] % got, 0u);
        memset(objs[i], (int)i + 1, got);
    }
    // Nothing overlaps: every allocation still holds its own pattern.
    for (size_t i = 0; i < n; i++)
        EXPECT_TRUE(all_bytes(objs[i], ksize(objs[i]), (unsigned char)(i + 1)));
    for (size_t i = 0; i < n; i++)
        kfree(objs[i]);
    EXPECT_EQ(settled_free_pages(), free0);
}

static void slab_dedicated_cache_alignment(struct ktest *t)
{
    static const size_t shapes[][2] = {{40, 64},    {24, 8},      {100, 128}, {8, 0},
                                       {3000, 512}, {4096, 4096}, {1, 1},     {17, 16}};

    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    for (size_t s = 0; s < ARRAY_SIZE(shapes); s++) {
        size_t size = shapes[s][0], align = MAX(shapes[s][1], 8u);
        struct slab_cache *c = slab_cache_create("test-align", size, shapes[s][1]);
        ASSERT_NOT_NULL(c);
        for (size_t i = 0; i < 20; i++) {
            objs[i] = slab_alloc(c);
            ASSERT_NOT_NULL(objs[i]);
            EXPECT_EQ((uintptr_t)objs[i] % align, 0u);
            EXPECT_EQ(ksize(objs[i]), ALIGN_UP(size, align));
            memset(objs[i], (int)i, size);
        }
        for (size_t i = 0; i < 20; i++) {
            EXPECT_TRUE(all_bytes(objs[i], size, (unsigned char)i));
            slab_free(c, objs[i]);
        }
        EXPECT_OK(slab_cache_destroy(c));
    }
    EXPECT_NULL(slab_cache_create("bad", 0, 8));
    EXPECT_NULL(slab_cache_create("bad", 64, 3));
    EXPECT_NULL(slab_cache_create("bad", 64, 2 * PAGE_SIZE));
    EXPECT_NULL(slab_cache_create("bad", 1 << 20, 8));
    EXPECT_NULL(slab_cache_create(NULL, 64, 8));
    EXPECT_EQ(settled_free_pages(), free0);
}

static void slab_large_allocations(struct ktest *t)
{
    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    uint64_t errors = slab_error_count();
    void *a = kmalloc(KMALLOC_MAX_CLASS + 1);
    void *b = kmalloc(5000);
    void *c = kmalloc(KMALLOC_MAX_SIZE);
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(b);
    ASSERT_NOT_NULL(c);
    EXPECT_EQ((uintptr_t)a % PAGE_SIZE, 0u);
    EXPECT_EQ((uintptr_t)b % PAGE_SIZE, 0u);
    EXPECT_EQ(ksize(a), PAGE_SIZE);
    EXPECT_EQ(ksize(b), 2 * PAGE_SIZE);
    EXPECT_EQ(ksize(c), KMALLOC_MAX_SIZE);
    memset(c, 0x5a, KMALLOC_MAX_SIZE);
    const struct slab_cache_stats *st = find_stats("kmalloc-large");
    ASSERT_NOT_NULL(st);
    EXPECT_GE(st->objs_in_use, 3u);
    EXPECT_GE(st->pages, 1u + 2u + (KMALLOC_MAX_SIZE / PAGE_SIZE));
    EXPECT_NULL(kmalloc(KMALLOC_MAX_SIZE + 1));
    EXPECT_NULL(kmalloc(SIZE_MAX));
    EXPECT_NULL(kzalloc(SIZE_MAX));
    EXPECT_NULL(kmalloc(0));
    EXPECT_NULL(kzalloc(0));
    // A pointer into the middle of a block is not the block.
    EXPECT_EQ(ksize((char *)b + 16), 0u);
    EXPECT_EQ(ksize((char *)b + PAGE_SIZE), 0u);
    kfree((char *)b + 16);
    kfree((char *)b + PAGE_SIZE);
    EXPECT_EQ(slab_error_count(), errors + 2);
    EXPECT_EQ(ksize(b), 2 * PAGE_SIZE);
    kfree(a);
    kfree(b);
    kfree(c);
    kfree(b); // double free of a page-backed block
    EXPECT_EQ(slab_error_count(), errors + 3);
    EXPECT_EQ(settled_free_pages(), free0);
}

static void slab_kzalloc_zeroes(struct ktest *t)
{
    static const size_t sizes[] = {24, 500, 2048, 3000, 9000};

    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        void *p = kmalloc(sizes[i]);
        ASSERT_NOT_NULL(p);
        memset(p, 0xee, ksize(p));
        kfree(p);
        // Most likely the very same memory, dirty from before.
        void *q = kzalloc(sizes[i]);
        ASSERT_NOT_NULL(q);
        EXPECT_TRUE(all_bytes(q, ksize(q), 0));
        kfree(q);
    }
    EXPECT_EQ(settled_free_pages(), free0);
}

static void slab_many_objects_across_slabs(struct ktest *t)
{
    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    struct slab_cache *c = slab_cache_create("test-many", 200, 8);
    ASSERT_NOT_NULL(c);
    for (size_t i = 0; i < MAX_OBJS; i++) {
        objs[i] = slab_alloc(c);
        ASSERT_NOT_NULL(objs[i]);
        memset(objs[i], (int)(i * 7 + 1), 200);
    }
    const struct slab_cache_stats *st = find_stats("test-many");
    ASSERT_NOT_NULL(st);
    EXPECT_EQ(st->obj_size, 200u);
    EXPECT_EQ(st->objs_in_use, (size_t)MAX_OBJS);
    EXPECT_GE(st->objs_total, (size_t)MAX_OBJS);
    EXPECT_GE(st->pages * PAGE_SIZE, MAX_OBJS * 200u);
    EXPECT_GT(st->pages, 8u); // several slabs
    for (size_t i = 0; i < MAX_OBJS; i++)
        EXPECT_TRUE(all_bytes(objs[i], 200, (unsigned char)(i * 7 + 1)));
    for (size_t i = 0; i < MAX_OBJS; i++)
        slab_free(c, objs[(i * 577) % MAX_OBJS]); // 577 is prime: a scrambled order
    st = find_stats("test-many");
    ASSERT_NOT_NULL(st);
    EXPECT_EQ(st->objs_in_use, 0u);
    EXPECT_LE(st->pages, 1u << SLAB_MAX_ORDER); // empty slabs went back, but for a spare
    EXPECT_OK(slab_cache_destroy(c));
    EXPECT_NULL(find_stats("test-many"));
    EXPECT_EQ(settled_free_pages(), free0);
}

static void slab_double_free_detected(struct ktest *t)
{
    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    struct slab_cache *c = slab_cache_create("test-dfree", 96, 0);
    ASSERT_NOT_NULL(c);
    void *a = slab_alloc(c), *b = slab_alloc(c);
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(b);
    uint64_t errors = slab_error_count();
    slab_free(c, a);
    slab_free(c, a);
    EXPECT_EQ(slab_error_count(), errors + 1);
    EXPECT_EQ(in_use("test-dfree"), 1u);
    // The free lists are intact: two new objects are distinct, and not b.
    void *x = slab_alloc(c), *y = slab_alloc(c);
    ASSERT_NOT_NULL(x);
    ASSERT_NOT_NULL(y);
    EXPECT_NE(x, y);
    EXPECT_NE(x, b);
    EXPECT_NE(y, b);
    slab_free(c, x);
    slab_free(c, y);
    slab_free(c, b);
    EXPECT_EQ(slab_error_count(), errors + 1);
    EXPECT_OK(slab_cache_destroy(c));

    void *p = kmalloc(32);
    ASSERT_NOT_NULL(p);
    kfree(p);
    kfree(p);
    EXPECT_EQ(slab_error_count(), errors + 2);
    void *q = kmalloc(32), *r = kmalloc(32);
    EXPECT_NE(q, r);
    kfree(q);
    kfree(r);
    EXPECT_EQ(slab_error_count(), errors + 2);
    EXPECT_EQ(settled_free_pages(), free0);
}

static void slab_bad_pointers_detected(struct ktest *t)
{
    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    struct slab_cache *c = slab_cache_create("test-badptr", 64, 64);
    struct slab_cache *other = slab_cache_create("test-other", 64, 64);
    ASSERT_NOT_NULL(c);
    ASSERT_NOT_NULL(other);
    char *a = slab_alloc(c);
    ASSERT_NOT_NULL(a);
    void *k = kmalloc(64);
    ASSERT_NOT_NULL(k);
    uint64_t errors = slab_error_count();
    slab_free(c, a + 1);                                          // not an object start
    slab_free(c, (void *)((uintptr_t)a & ~(uintptr_t)PAGE_MASK)); // the slab header
    slab_free(other, a);                                          // wrong cache
    slab_free(c, k);                                              // a kmalloc object
    slab_free(c, not_heap);                                       // not heap memory
    kfree(not_heap);
    kfree(a + 8);
    slab_free(NULL, a);
    EXPECT_EQ(slab_error_count(), errors + 8);
    EXPECT_EQ(ksize(a + 8), 0u);
    EXPECT_EQ(ksize(not_heap), 0u);
    EXPECT_EQ(ksize(NULL), 0u);
    EXPECT_EQ(in_use("test-badptr"), 1u);
    EXPECT_EQ(in_use("test-other"), 0u);
    kfree(a); // kfree takes any slab object
    kfree(k);
    kfree(NULL);
    slab_free(c, NULL);
    EXPECT_EQ(slab_error_count(), errors + 8);
    EXPECT_OK(slab_cache_destroy(c));
    EXPECT_OK(slab_cache_destroy(other));
    EXPECT_EQ(settled_free_pages(), free0);
}

static void slab_use_after_free_detected(struct ktest *t)
{
    if (!SLAB_POISON)
        KTEST_SKIP("built without SLAB_POISON");
    slab_setup(t);
    struct slab_cache *c = slab_cache_create("test-uaf", 48, 0);
    ASSERT_NOT_NULL(c);
    void *keep = slab_alloc(c), *a = slab_alloc(c);
    ASSERT_NOT_NULL(keep);
    ASSERT_NOT_NULL(a);
    uint64_t errors = slab_error_count();
    slab_free(c, a);
    ((volatile char *)a)[40] = 1; // the bug: a write after free
    void *b = slab_alloc(c);      // lowest free object: a again
    EXPECT_EQ(b, a);
    EXPECT_EQ(slab_error_count(), errors + 1);
    void *d = slab_alloc(c); // untouched poison: no report
    EXPECT_EQ(slab_error_count(), errors + 1);
    slab_free(c, d);
    slab_free(c, b);
    slab_free(c, keep);
    EXPECT_OK(slab_cache_destroy(c));
}

static void slab_stats_and_destroy(struct ktest *t)
{
    slab_setup(t);
    uint64_t free0 = settled_free_pages();
    size_t ncaches = slab_stats(NULL, 0);
    EXPECT_GT(ncaches, 14u); // size classes, the cache of caches, kmalloc-large
    EXPECT_NOT_NULL(find_stats("kmalloc-16"));
    EXPECT_NOT_NULL(find_stats("kmalloc-2048"));
    struct slab_cache *c = slab_cache_create("test-stats-with-a-long-name", 72, 8);
    ASSERT_NOT_NULL(c);
    EXPECT_EQ(slab_stats(NULL, 0), ncaches + 1);
    const char *name = "test-stats-with-a-long-name";
    char shortened[SLAB_NAME_MAX];
    kstrlcpy(shortened, name, sizeof(shortened));
    void *p[3] = {slab_alloc(c), slab_alloc(c), slab_alloc(c)};
    const struct slab_cache_stats *st = find_stats(shortened);
    ASSERT_NOT_NULL(st);
    EXPECT_EQ(st->obj_size, 72u);
    EXPECT_EQ(st->objs_in_use, 3u);
    EXPECT_GE(st->pages, 1u);
    EXPECT_STATUS(slab_cache_destroy(c), ERR_BAD_STATE);
    EXPECT_NOT_NULL(find_stats(shortened));
    for (size_t i = 0; i < 3; i++)
        slab_free(c, p[i]);
    EXPECT_OK(slab_cache_destroy(c));
    EXPECT_NULL(find_stats(shortened));
    EXPECT_EQ(slab_stats(NULL, 0), ncaches);
    EXPECT_STATUS(slab_cache_destroy(NULL), ERR_INVALID_ARGS);
    EXPECT_EQ(settled_free_pages(), free0);
}

#ifdef HOST_TEST

static void slab_exhaustion_returns_null(struct ktest *t)
{
    size_t n = 0, slab_objs;

    ASSERT_OK(host_mm_init(2 << 20)); // a 2 MiB machine
    uint64_t free0 = settled_free_pages();
    // Slab objects until memory runs out, then single pages for the rest.
    while (n < MAX_OBJS && (objs[n] = kmalloc(2000)) != NULL)
        memset(objs[n], (int)n, 2000), n++;
    slab_objs = n;
    while (n < MAX_OBJS && (objs[n] = kmalloc(PAGE_SIZE)) != NULL)
        memset(objs[n], (int)n, PAGE_SIZE), n++;
    ASSERT_LT(n, (size_t)MAX_OBJS); // memory ran out first
    EXPECT_GT(slab_objs, 0u);
    EXPECT_EQ(settled_free_pages(), 0u);
    EXPECT_NULL(kmalloc(16));
    EXPECT_NULL(kmalloc(5000));
    EXPECT_NULL(kzalloc(3000));
    EXPECT_NULL(slab_cache_create("test-exhaust", 512, 0));
    for (size_t i = 0; i < n; i++)
        EXPECT_TRUE(all_bytes(objs[i], i < slab_objs ? 2000 : PAGE_SIZE, (unsigned char)i));
    for (size_t i = 0; i < n; i++)
        kfree(objs[i]);
    void *p = kmalloc(5000);
    EXPECT_NOT_NULL(p);
    kfree(p);
    EXPECT_EQ(settled_free_pages(), free0);
}

// Random kmalloc and kfree of all sizes, each allocation holding a pattern.
static void slab_random_stress(struct ktest *t)
{
    static size_t sizes[MAX_OBJS];
    uint64_t x = 0x2545f4914f6cdd1dull;

    ASSERT_OK(host_mm_init(HOST_PHYS_ARENA_SIZE));
    uint64_t free0 = settled_free_pages(), errors = slab_error_count();
    memset(objs, 0, sizeof(objs));
    for (int step = 0; step < 50000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t i = (x >> 4) % MAX_OBJS;
        if (objs[i]) {
            ASSERT_TRUE(all_bytes(objs[i], sizes[i], (unsigned char)i));
            kfree(objs[i]);
            objs[i] = NULL;
            continue;
        }
        sizes[i] = (x >> 20) % 8 ? (x >> 24) % 700 + 1 : (x >> 24) % 20000 + 1;
        objs[i] = kmalloc(sizes[i]);
        ASSERT_NOT_NULL(objs[i]);
        ASSERT_GE(ksize(objs[i]), sizes[i]);
        memset(objs[i], (int)i & 0xff, sizes[i]);
    }
    for (size_t i = 0; i < MAX_OBJS; i++) {
        if (objs[i])
            EXPECT_TRUE(all_bytes(objs[i], sizes[i], (unsigned char)i));
        kfree(objs[i]);
    }
    EXPECT_EQ(slab_error_count(), errors);
    EXPECT_EQ(settled_free_pages(), free0);
    EXPECT_OK(pmm_check(true));
}

#define SLAB_HOST_CASES , KTEST_CASE(slab_exhaustion_returns_null), KTEST_CASE(slab_random_stress)
#else
#define SLAB_HOST_CASES
#endif

KTEST_SUITE(slab, KTEST_CASE(slab_reuses_freed_objects), KTEST_CASE(slab_every_size_class),
            KTEST_CASE(slab_dedicated_cache_alignment), KTEST_CASE(slab_large_allocations),
            KTEST_CASE(slab_kzalloc_zeroes), KTEST_CASE(slab_many_objects_across_slabs),
            KTEST_CASE(slab_double_free_detected), KTEST_CASE(slab_bad_pointers_detected),
            KTEST_CASE(slab_use_after_free_detected),
            KTEST_CASE(slab_stats_and_destroy) SLAB_HOST_CASES);
