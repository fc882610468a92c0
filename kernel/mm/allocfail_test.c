// nimbus:host
// Tests of the allocation failure injector itself.
#include "lib/ktest.h"
#include "mm/allocfail.h"
#include "mm/pmm.h"
#include "mm/slab.h"
#ifdef HOST_TEST
#include "mm/host_phys.h"
#endif

static void setup(struct ktest *t)
{
#ifdef HOST_TEST
    EXPECT_OK(host_mm_init(HOST_PHYS_ARENA_SIZE)); // a fresh heap over the arena
#endif
}

static void allocfail_fails_the_nth(struct ktest *t)
{
    void *p[4];
    setup(t);
    kfree(kmalloc(64)); // the cache keeps a slab: no page allocation below
    allocfail_arm(3, 0);
    for (int i = 0; i < 4; i++)
        p[i] = kmalloc(64);
    EXPECT_EQ(allocfail_disarm(), 1ul);
    EXPECT_NOT_NULL(p[0]);
    EXPECT_NOT_NULL(p[1]);
    EXPECT_NULL(p[2]);
    EXPECT_NOT_NULL(p[3]);
    for (int i = 0; i < 4; i++)
        kfree(p[i]);
}

static void allocfail_sticky_and_pmm(struct ktest *t)
{
    paddr_t pa = 0;
    void *a, *b;
    setup(t);
    kfree(kmalloc(32));
    allocfail_arm(2, ALLOCFAIL_STICKY);
    a = kmalloc(32);
    b = kmalloc(32);
    status_t st = pmm_alloc(0, 0, &pa);
    EXPECT_EQ(allocfail_seen(), 3ul);
    EXPECT_EQ(allocfail_disarm(), 2ul);
    EXPECT_NOT_NULL(a);
    EXPECT_NULL(b);
    EXPECT_STATUS(st, ERR_NO_MEMORY);
    kfree(a);
    // Disarmed: allocations work again.
    ASSERT_OK(pmm_alloc(0, 0, &pa));
    pmm_free(pa, 0);
}

KTEST_SUITE(allocfail, KTEST_CASE(allocfail_fails_the_nth), KTEST_CASE(allocfail_sticky_and_pmm));
