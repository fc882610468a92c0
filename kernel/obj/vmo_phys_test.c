// nimbus:host
// Tests of device-memory vmos: physical vmos over fixed pages (no pmm
// pages, no reads or writes, no resizing), contiguous DMA vmos (one zeroed
// pmm block, freed with the vmo, or kept by the DMA resource it came from
// until that resource dies), their physical addresses and cache flags.
#include "lib/string.h"
#include "mm/mmu.h"
#include "mm/pmm.h"
#include "nimbus/resource.h"
#include "obj/objtest.h"
#include "obj/resource.h"
#include "obj/vmo.h"

static struct handle_table tab;

static void vmo_physical_pages_are_fixed(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v;
    struct vmo *vo;
    paddr_t pa;
    char c = 0;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    const paddr_t base = 0xfeb00000ull;
    ASSERT_OK(vmo_create_physical(&tab, base, 3 * PAGE_SIZE, NB_CACHE_UNCACHED, &v));
    EXPECT_OK(vmo_phys(&tab, v, 0, &pa));
    EXPECT_EQ(pa, base);
    EXPECT_OK(vmo_phys(&tab, v, 2 * PAGE_SIZE + 0x123, &pa));
    EXPECT_EQ(pa, base + 2 * PAGE_SIZE + 0x123);
    EXPECT_STATUS(vmo_phys(&tab, v, 3 * PAGE_SIZE, &pa), ERR_OUT_OF_RANGE);
    ASSERT_OK(vmo_get(&tab, v, RIGHT_NONE, &vo));
    EXPECT_OK(vmo_commit_page(vo, PAGE_SIZE + 5, &pa)); // the vm layer's view
    EXPECT_EQ(pa, base + PAGE_SIZE);
    EXPECT_EQ(vmo_committed_pages(vo), 0u); // owns no RAM
    EXPECT_EQ(vmo_map_flags(vo), VM_UNCACHED);
    obj_unref(vmo_obj(vo));
    EXPECT_STATUS(vmo_read(&tab, v, 0, &c, 1), ERR_NOT_SUPPORTED);
    EXPECT_STATUS(vmo_write(&tab, v, 0, &c, 1), ERR_NOT_SUPPORTED);
    EXPECT_STATUS(vmo_set_size(&tab, v, PAGE_SIZE), ERR_NOT_SUPPORTED);
    // Device memory is never made executable.
    struct kobject *vmex;
    handle_t hv, exe;
    ASSERT_OK(resource_create_kernel(NB_RESOURCE_VMEX, &vmex));
    ASSERT_OK(handle_install(&tab, vmex, RIGHT_DUPLICATE, &hv));
    obj_unref(vmex);
    EXPECT_STATUS(vmo_replace_as_executable(&tab, v, hv, &exe), ERR_NOT_SUPPORTED);
    EXPECT_TRUE(objtest_rights(&tab, v) != 0); // still there
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void vmo_physical_bad_arguments(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v;
    struct vmo *vo;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    EXPECT_STATUS(vmo_create_physical(&tab, 0xfeb00010, PAGE_SIZE, 0, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(vmo_create_physical(&tab, 0xfeb00000, 100, 0, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(vmo_create_physical(&tab, 0xfeb00000, 0, 0, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(vmo_create_physical(&tab, 0xfeb00000, PAGE_SIZE, NB_CACHE_CACHED + 1, &v),
                  ERR_INVALID_ARGS);
    EXPECT_STATUS(vmo_create_physical(&tab, UINT64_MAX - PAGE_SIZE + 1, 2 * PAGE_SIZE, 0, &v),
                  ERR_OUT_OF_RANGE);
    ASSERT_OK(vmo_create_physical(&tab, 0xfd000000, PAGE_SIZE, NB_CACHE_WRITE_COMBINING, &v));
    ASSERT_OK(vmo_get(&tab, v, RIGHT_NONE, &vo));
    EXPECT_EQ(vmo_map_flags(vo), VM_WRITE_COMBINING);
    obj_unref(vmo_obj(vo));
    ASSERT_OK(vmo_create_physical(&tab, 0xfd000000, PAGE_SIZE, NB_CACHE_CACHED, &v));
    ASSERT_OK(vmo_get(&tab, v, RIGHT_NONE, &vo));
    EXPECT_EQ(vmo_map_flags(vo), 0u);
    obj_unref(vmo_obj(vo));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void vmo_contiguous_block(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v;
    struct vmo *vo;
    paddr_t pa, first;
    struct pmm_stats before, during;
    uint64_t size;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    pmm_get_stats(&before);
    ASSERT_OK(
        vmo_create_contiguous(&tab, NULL, 3 * PAGE_SIZE + 1, &v)); // 4 pages: one order-2 block
    pmm_get_stats(&during);
    EXPECT_TRUE(before.free_pages - during.free_pages >= 4); // (and the page list's heap)
    ASSERT_OK(vmo_get_size(&tab, v, &size));
    EXPECT_EQ(size, 4 * PAGE_SIZE);
    ASSERT_OK(vmo_phys(&tab, v, 0, &first));
    EXPECT_EQ(first & (4 * PAGE_SIZE - 1), 0u); // naturally aligned block
    EXPECT_TRUE(first < PMM_LOW_LIMIT);
    for (uint64_t i = 0; i < 4; i++) {
        ASSERT_OK(vmo_phys(&tab, v, i * PAGE_SIZE + 7, &pa));
        EXPECT_EQ(pa, first + i * PAGE_SIZE + 7);
    }
    const unsigned char *p = phys_to_virt(first);
    bool zero = true;
    for (size_t i = 0; i < 4 * PAGE_SIZE; i++)
        zero = zero && p[i] == 0;
    EXPECT_TRUE(zero);
    // Reads and writes go through the direct map, like any RAM.
    ASSERT_OK(vmo_write(&tab, v, PAGE_SIZE + 3, "dma", 3));
    EXPECT_EQ(memcmp(p + PAGE_SIZE + 3, "dma", 3), 0);
    ASSERT_OK(vmo_get(&tab, v, RIGHT_NONE, &vo));
    EXPECT_EQ(vmo_committed_pages(vo), 4u);
    EXPECT_EQ(vmo_map_flags(vo), 0u); // cached
    obj_unref(vmo_obj(vo));
    EXPECT_STATUS(vmo_set_size(&tab, v, 8 * PAGE_SIZE), ERR_NOT_SUPPORTED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void vmo_contiguous_limits_and_rights(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v, plain, noinspect;
    paddr_t pa;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    EXPECT_STATUS(vmo_create_contiguous(&tab, NULL, 0, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(vmo_create_contiguous(&tab, NULL, VMO_CONTIGUOUS_MAX + 1, &v), ERR_OUT_OF_RANGE);
    ASSERT_OK(vmo_create_contiguous(&tab, NULL, 1, &v));
    ASSERT_OK(handle_duplicate(&tab, v, RIGHT_READ | RIGHT_MAP, &noinspect));
    EXPECT_STATUS(vmo_phys(&tab, noinspect, 0, &pa), ERR_ACCESS_DENIED);
    ASSERT_OK(vmo_create(&tab, PAGE_SIZE, &plain));
    EXPECT_STATUS(vmo_phys(&tab, plain, 0, &pa), ERR_NOT_SUPPORTED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

// A block made through a DMA resource outlives its vmo (a device may still
// write into it) and returns to the page allocator only with the resource;
// derived DMA resources keep their own quarantines.
static void vmo_contiguous_quarantined_until_resource_dies(struct ktest *t)
{
    struct obj_baseline b;
    struct kobject *dma, *child;
    handle_t hdma, hchild, v1, v2, v3;
    struct pmm_stats before, made, closed, released;
    paddr_t pa;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(resource_create_kernel(NB_RESOURCE_DMA, &dma));
    ASSERT_OK(handle_install(&tab, dma, RIGHT_DUPLICATE, &hdma));
    // A DMA resource derives DMA resources, and nothing else.
    EXPECT_STATUS(resource_create(&tab, hdma, NB_RESOURCE_MMIO, 0, PAGE_SIZE, &hchild),
                  ERR_ACCESS_DENIED);
    ASSERT_OK(resource_create(&tab, hdma, NB_RESOURCE_DMA, 0, 0, &hchild));
    ASSERT_OK(resource_get(&tab, hchild, NB_RESOURCE_DMA, &child));
    EXPECT_STATUS(resource_get(&tab, hchild, NB_RESOURCE_MMIO, &child), ERR_WRONG_TYPE);

    pmm_get_stats(&before);
    ASSERT_OK(vmo_create_contiguous(&tab, child, 8 * PAGE_SIZE, &v1));
    ASSERT_OK(vmo_create_contiguous(&tab, child, PAGE_SIZE, &v2));
    ASSERT_OK(vmo_create_contiguous(&tab, dma, PAGE_SIZE, &v3));
    ASSERT_OK(vmo_phys(&tab, v1, 0, &pa));
    pmm_get_stats(&made);
    EXPECT_OK(handle_close(&tab, v1));
    EXPECT_OK(handle_close(&tab, v2));
    EXPECT_OK(handle_close(&tab, v3));
    pmm_get_stats(&closed);
    EXPECT_EQ(closed.free_pages, made.free_pages); // nothing freed yet
    EXPECT_EQ(resource_dma_quarantined(child), 2u);
    EXPECT_EQ(resource_dma_quarantined(dma), 1u);
    // The block is still set aside: what a device writes there harms no one.
    memset(phys_to_virt(pa), 0x5a, 8 * PAGE_SIZE);

    EXPECT_OK(handle_close(&tab, hchild)); // the last reference is ours
    obj_unref(child);
    pmm_get_stats(&released);
    EXPECT_TRUE(released.free_pages >= closed.free_pages + 9);
    EXPECT_EQ(resource_dma_quarantined(dma), 1u); // the parent's own stays
    obj_unref(dma);                               // the handle still holds it
    handle_table_destroy(&tab);                   // and now the parent's goes too
    pmm_get_stats(&closed);
    EXPECT_TRUE(closed.free_pages >= released.free_pages + 1);
    EXPECT_TRUE(closed.free_pages + 2 >= before.free_pages); // (slab pages may stay cached)
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(vmo_phys, KTEST_CASE(vmo_contiguous_quarantined_until_resource_dies),
            KTEST_CASE(vmo_physical_pages_are_fixed), KTEST_CASE(vmo_physical_bad_arguments),
            KTEST_CASE(vmo_contiguous_block), KTEST_CASE(vmo_contiguous_limits_and_rights));
