// nimbus:host
// Tests of vmos: reads and writes across pages, zero fill, resizing, the
// page lookup the vm layer will use, rights and memory accounting.
#include "lib/string.h"
#include "mm/pmm.h"
#include "obj/objtest.h"
#include "obj/vmo.h"

static struct handle_table tab;
static unsigned char buf[3 * 4096], back[3 * 4096];

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void vmo_read_write_across_pages(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v;
    uint64_t size;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(vmo_create(&tab, 5 * PAGE_SIZE + 100, &v));
    ASSERT_OK(vmo_get_size(&tab, v, &size));
    EXPECT_EQ(size, 5 * PAGE_SIZE + 100);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 7 + 1);
    ASSERT_OK(vmo_write(&tab, v, PAGE_SIZE - 10, buf, sizeof(buf)));
    memset(back, 0xee, sizeof(back));
    ASSERT_OK(vmo_read(&tab, v, PAGE_SIZE - 10, back, sizeof(back)));
    EXPECT_EQ(memcmp(buf, back, sizeof(buf)), 0);
    // Never-written pages read as zeros, and reading commits nothing.
    struct vmo *vo;
    ASSERT_OK(vmo_get(&tab, v, RIGHT_NONE, &vo));
    uint64_t committed = vmo_committed_pages(vo);
    EXPECT_EQ(committed, 4u);
    ASSERT_OK(vmo_read(&tab, v, 4 * PAGE_SIZE + 50, back, 100));
    EXPECT_TRUE(all_zero(back, 100));
    EXPECT_EQ(vmo_committed_pages(vo), committed);
    obj_unref(vmo_obj(vo));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void vmo_out_of_range(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(vmo_create(&tab, 1000, &v));
    EXPECT_STATUS(vmo_write(&tab, v, 999, buf, 2), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(vmo_read(&tab, v, 1001, buf, 0), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(vmo_read(&tab, v, UINT64_MAX, buf, 2), ERR_OUT_OF_RANGE);
    EXPECT_OK(vmo_read(&tab, v, 1000, buf, 0));
    EXPECT_OK(vmo_write(&tab, v, 999, buf, 1));
    EXPECT_STATUS(vmo_create(&tab, VMO_MAX_SIZE + 1, &v), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(vmo_set_size(&tab, v, VMO_MAX_SIZE + 1), ERR_OUT_OF_RANGE);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void vmo_resize_frees_and_zeroes(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v;
    struct vmo *vo;
    uint64_t size;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(vmo_create(&tab, 4 * PAGE_SIZE, &v));
    memset(buf, 0x5a, sizeof(buf));
    ASSERT_OK(vmo_write(&tab, v, 0, buf, 3 * PAGE_SIZE));
    ASSERT_OK(vmo_get(&tab, v, RIGHT_NONE, &vo));
    EXPECT_EQ(vmo_committed_pages(vo), 3u);
    ASSERT_OK(vmo_set_size(&tab, v, PAGE_SIZE + 10));
    EXPECT_EQ(vmo_committed_pages(vo), 2u);
    ASSERT_OK(vmo_get_size(&tab, v, &size));
    EXPECT_EQ(size, PAGE_SIZE + 10);
    EXPECT_STATUS(vmo_read(&tab, v, PAGE_SIZE, back, 11), ERR_OUT_OF_RANGE);
    ASSERT_OK(vmo_set_size(&tab, v, 3 * PAGE_SIZE));
    ASSERT_OK(vmo_read(&tab, v, 0, back, 3 * PAGE_SIZE));
    EXPECT_TRUE(back[PAGE_SIZE + 9] == 0x5a && back[0] == 0x5a);
    EXPECT_TRUE(all_zero(back + PAGE_SIZE + 10, 2 * PAGE_SIZE - 10));
    ASSERT_OK(vmo_set_size(&tab, v, 0));
    EXPECT_EQ(vmo_committed_pages(vo), 0u);
    obj_unref(vmo_obj(vo));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void vmo_commit_page_gives_the_backing_page(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v;
    struct vmo *vo;
    paddr_t pa, pa2;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(vmo_create(&tab, 2 * PAGE_SIZE, &v));
    ASSERT_OK(vmo_get(&tab, v, RIGHT_NONE, &vo));
    ASSERT_OK(vmo_write(&tab, v, PAGE_SIZE + 8, "nimbus", 6));
    ASSERT_OK(vmo_commit_page(vo, PAGE_SIZE + 100, &pa));
    EXPECT_EQ(pa & PAGE_MASK, 0u);
    EXPECT_EQ(memcmp((char *)phys_to_virt(pa) + 8, "nimbus", 6), 0);
    ASSERT_OK(vmo_commit_page(vo, 0, &pa2)); // commits a zero page
    EXPECT_NE(pa2, pa);
    EXPECT_TRUE(all_zero(phys_to_virt(pa2), PAGE_SIZE));
    EXPECT_STATUS(vmo_commit_page(vo, 2 * PAGE_SIZE, &pa), ERR_OUT_OF_RANGE);
    obj_unref(vmo_obj(vo));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void vmo_rights(struct ktest *t)
{
    struct obj_baseline b;
    handle_t v, ro;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(vmo_create(&tab, PAGE_SIZE, &v));
    EXPECT_FALSE(objtest_rights(&tab, v) & RIGHT_EXECUTE);
    ASSERT_OK(handle_duplicate(&tab, v, RIGHT_READ, &ro));
    EXPECT_OK(vmo_read(&tab, ro, 0, buf, 16));
    EXPECT_STATUS(vmo_write(&tab, ro, 0, buf, 16), ERR_ACCESS_DENIED);
    EXPECT_STATUS(vmo_set_size(&tab, ro, 0), ERR_ACCESS_DENIED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(vmo, KTEST_CASE(vmo_read_write_across_pages), KTEST_CASE(vmo_out_of_range),
            KTEST_CASE(vmo_resize_frees_and_zeroes),
            KTEST_CASE(vmo_commit_page_gives_the_backing_page), KTEST_CASE(vmo_rights));
