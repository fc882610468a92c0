// nimbus:host
// Tests of resources: what a root and a range resource may derive, range
// arithmetic at the edges, rights, info, and the checks other calls use.
#include "obj/objtest.h"
#include "obj/resource.h"

#define RES_RIGHTS (RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT)

static struct handle_table tab;

// A kernel-made resource as a handle in tab with `rights`.
static handle_t give(struct ktest *t, uint32_t kind, uint64_t base, uint64_t size, rights_t rights)
{
    struct kobject *o;
    handle_t h = HANDLE_INVALID;
    status_t st = resource_create_kernel_range(kind, base, size, &o);
    if (st != OK) {
        KTEST_FAIL_(t, "resource_create_kernel_range(%u): %d", kind, st);
        return HANDLE_INVALID;
    }
    st = handle_install(&tab, o, rights, &h);
    obj_unref(o);
    if (st != OK)
        KTEST_FAIL_(t, "handle_install: %d", st);
    return h;
}

static void expect_info(struct ktest *t, handle_t h, uint32_t kind, uint64_t base, uint64_t size)
{
    struct nb_resource_info info;
    EXPECT_OK(resource_info(&tab, h, &info));
    EXPECT_EQ(info.kind, kind);
    EXPECT_EQ(info.base, base);
    EXPECT_EQ(info.size, size);
    EXPECT_EQ(info.reserved, 0u);
}

static void resource_kernel_ranges(struct ktest *t)
{
    struct obj_baseline b;
    struct kobject *o;
    uint64_t gsis = arch_irq_gsi_count();

    objtest_begin(&b);
    EXPECT_TRUE(resource_kind_has_range(NB_RESOURCE_IOPORT));
    EXPECT_TRUE(resource_kind_has_range(NB_RESOURCE_IRQ));
    EXPECT_FALSE(resource_kind_has_range(NB_RESOURCE_ROOT));
    EXPECT_FALSE(resource_kind_has_range(NB_RESOURCE_VMEX));
    EXPECT_EQ(resource_kind_limit(NB_RESOURCE_IOPORT), 0x10000u);
    EXPECT_EQ(resource_kind_limit(NB_RESOURCE_IRQ), gsis);
    EXPECT_EQ(resource_kind_limit(NB_RESOURCE_POWER), 0u);
    // Unknown kinds, ranges on kinds without one, empty and oversized ranges.
    EXPECT_STATUS(resource_create_kernel(0, &o), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_create_kernel(NB_RESOURCE_KIND_MAX + 1, &o), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_create_kernel_range(NB_RESOURCE_POWER, 0, 1, &o), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_create_kernel_range(NB_RESOURCE_ROOT, 5, 0, &o), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_create_kernel_range(NB_RESOURCE_IOPORT, 0, 0, &o), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_create_kernel_range(NB_RESOURCE_IOPORT, 0, 0x10001, &o),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create_kernel_range(NB_RESOURCE_IOPORT, 0xffff, 2, &o),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create_kernel_range(NB_RESOURCE_IOPORT, 0x10000, 1, &o),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create_kernel_range(NB_RESOURCE_IOPORT, UINT64_MAX, 2, &o),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create_kernel_range(NB_RESOURCE_IRQ, 0, gsis + 1, &o), ERR_OUT_OF_RANGE);
    ASSERT_OK(resource_create_kernel_range(NB_RESOURCE_IOPORT, 0xffff, 1, &o));
    obj_unref(o);
    if (gsis) {
        ASSERT_OK(resource_create_kernel_range(NB_RESOURCE_IRQ, 0, gsis, &o));
        obj_unref(o);
    }
    objtest_expect_baseline(t, &b);
}

static void resource_root_derives_any_kind(struct ktest *t)
{
    struct obj_baseline b;
    handle_t root, h;
    uint64_t gsis = arch_irq_gsi_count();

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 32));
    root = give(t, NB_RESOURCE_ROOT, 0, 0, RES_RIGHTS);
    expect_info(t, root, NB_RESOURCE_ROOT, 0, 0);
    for (uint32_t kind = 1; kind <= NB_RESOURCE_KIND_MAX; kind++) {
        uint64_t size = resource_kind_has_range(kind) ? resource_kind_limit(kind) : 0;
        if (resource_kind_has_range(kind) && !size)
            continue; // no IOAPIC: no IRQ resource
        ASSERT_OK(resource_create(&tab, root, kind, 0, size, &h));
        EXPECT_EQ(objtest_rights(&tab, h), RES_RIGHTS);
        expect_info(t, h, kind, 0, size);
        EXPECT_OK(handle_close(&tab, h));
    }
    ASSERT_OK(resource_create(&tab, root, NB_RESOURCE_IOPORT, 0x3f8, 8, &h));
    expect_info(t, h, NB_RESOURCE_IOPORT, 0x3f8, 8);
    EXPECT_OK(handle_close(&tab, h));
    // The root checks ranges against the kind's whole space.
    EXPECT_STATUS(resource_create(&tab, root, NB_RESOURCE_IOPORT, 0xfff0, 0x11, &h),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, root, NB_RESOURCE_IOPORT, 1, UINT64_MAX, &h),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, root, NB_RESOURCE_IRQ, gsis, 1, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, root, NB_RESOURCE_IOPORT, 0x60, 0, &h), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_create(&tab, root, NB_RESOURCE_POWER, 1, 1, &h), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_create(&tab, root, 0, 0, 0, &h), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_create(&tab, root, 99, 0, 0, &h), ERR_INVALID_ARGS);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void resource_range_derives_subranges(struct ktest *t)
{
    struct obj_baseline b;
    handle_t io, sub, h;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 32));
    io = give(t, NB_RESOURCE_IOPORT, 0x3f8, 8, RES_RIGHTS);
    ASSERT_OK(resource_create(&tab, io, NB_RESOURCE_IOPORT, 0x3f8, 8, &sub)); // all of it
    EXPECT_OK(handle_close(&tab, sub));
    ASSERT_OK(resource_create(&tab, io, NB_RESOURCE_IOPORT, 0x3ff, 1, &sub)); // the last port
    expect_info(t, sub, NB_RESOURCE_IOPORT, 0x3ff, 1);
    // A sub-range derives in turn, inside itself only.
    EXPECT_STATUS(resource_create(&tab, sub, NB_RESOURCE_IOPORT, 0x3fe, 1, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, sub, NB_RESOURCE_IOPORT, 0x3ff, 2, &h), ERR_OUT_OF_RANGE);
    ASSERT_OK(resource_create(&tab, sub, NB_RESOURCE_IOPORT, 0x3ff, 1, &h));
    EXPECT_OK(handle_close(&tab, h));
    EXPECT_OK(handle_close(&tab, sub));
    // Outside, straddling, overflowing, empty.
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_IOPORT, 0x3f7, 1, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_IOPORT, 0x3f7, 2, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_IOPORT, 0x3ff, 2, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_IOPORT, 0x400, 1, &h), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_IOPORT, 0x3f9, UINT64_MAX, &h),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_IOPORT, 0x3f8, 0, &h), ERR_INVALID_ARGS);
    // Only its own kind.
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_IRQ, 4, 1, &h), ERR_ACCESS_DENIED);
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_ROOT, 0, 0, &h), ERR_ACCESS_DENIED);
    EXPECT_STATUS(resource_create(&tab, io, NB_RESOURCE_POWER, 0, 0, &h), ERR_ACCESS_DENIED);
    // Kinds without a range derive nothing.
    handle_t power = give(t, NB_RESOURCE_POWER, 0, 0, RES_RIGHTS);
    handle_t vmex = give(t, NB_RESOURCE_VMEX, 0, 0, RES_RIGHTS);
    EXPECT_STATUS(resource_create(&tab, power, NB_RESOURCE_POWER, 0, 0, &h), ERR_ACCESS_DENIED);
    EXPECT_STATUS(resource_create(&tab, vmex, NB_RESOURCE_IOPORT, 0, 1, &h), ERR_ACCESS_DENIED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void resource_rights_and_types(struct ktest *t)
{
    struct obj_baseline b;
    struct nb_resource_info info;
    handle_t h;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 32));
    handle_t bare = give(t, NB_RESOURCE_ROOT, 0, 0, RIGHT_TRANSFER);
    EXPECT_STATUS(resource_create(&tab, bare, NB_RESOURCE_POWER, 0, 0, &h), ERR_ACCESS_DENIED);
    EXPECT_STATUS(resource_info(&tab, bare, &info), ERR_ACCESS_DENIED);
    EXPECT_STATUS(resource_create(&tab, HANDLE_INVALID, NB_RESOURCE_POWER, 0, 0, &h),
                  ERR_BAD_HANDLE);
    EXPECT_STATUS(resource_info(&tab, 12345, &info), ERR_BAD_HANDLE);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void resource_checks(struct ktest *t)
{
    struct obj_baseline b;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 32));
    handle_t io = give(t, NB_RESOURCE_IOPORT, 0x60, 0x10, RIGHT_NONE);
    handle_t root = give(t, NB_RESOURCE_ROOT, 0, 0, RES_RIGHTS);
    handle_t vmex = give(t, NB_RESOURCE_VMEX, 0, 0, RIGHT_NONE);
    EXPECT_OK(resource_check_range(&tab, io, NB_RESOURCE_IOPORT, 0x60, 0x10));
    EXPECT_OK(resource_check_range(&tab, io, NB_RESOURCE_IOPORT, 0x64, 1));
    EXPECT_OK(resource_check_range(&tab, io, NB_RESOURCE_IOPORT, 0x6f, 1));
    EXPECT_STATUS(resource_check_range(&tab, io, NB_RESOURCE_IOPORT, 0x5f, 1), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_check_range(&tab, io, NB_RESOURCE_IOPORT, 0x6f, 2), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_check_range(&tab, io, NB_RESOURCE_IOPORT, 0x70, 1), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_check_range(&tab, io, NB_RESOURCE_IOPORT, 0x61, UINT64_MAX),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_check_range(&tab, io, NB_RESOURCE_IOPORT, 0x60, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(resource_check_range(&tab, io, NB_RESOURCE_IRQ, 0, 1), ERR_WRONG_TYPE);
    // The root is not itself an I/O port resource: it makes them.
    EXPECT_STATUS(resource_check_range(&tab, root, NB_RESOURCE_IOPORT, 0x60, 1), ERR_WRONG_TYPE);
    EXPECT_STATUS(resource_check_range(&tab, vmex, NB_RESOURCE_VMEX, 0, 1), ERR_WRONG_TYPE);
    EXPECT_OK(resource_check(&tab, vmex, NB_RESOURCE_VMEX));
    EXPECT_STATUS(resource_check(&tab, io, NB_RESOURCE_VMEX), ERR_WRONG_TYPE);
    EXPECT_STATUS(resource_check(&tab, root, NB_RESOURCE_VMEX), ERR_WRONG_TYPE);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

// The driver kinds: MMIO (physical addresses below 2^46) and PCI (function
// ids) have ranges; DMA and ENTROPY do not.
static void resource_driver_kinds(struct ktest *t)
{
    struct obj_baseline b;
    handle_t root, mmio, pci, h, h2;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 32));
    EXPECT_TRUE(resource_kind_has_range(NB_RESOURCE_MMIO));
    EXPECT_TRUE(resource_kind_has_range(NB_RESOURCE_PCI));
    EXPECT_FALSE(resource_kind_has_range(NB_RESOURCE_DMA));
    EXPECT_FALSE(resource_kind_has_range(NB_RESOURCE_ENTROPY));
    EXPECT_EQ(resource_kind_limit(NB_RESOURCE_MMIO), 1ull << 46);
    EXPECT_EQ(resource_kind_limit(NB_RESOURCE_PCI), (uint64_t)NB_PCI_ID_LIMIT);
    root = give(t, NB_RESOURCE_ROOT, 0, 0, RES_RIGHTS);
    ASSERT_OK(resource_create(&tab, root, NB_RESOURCE_MMIO, 0xfeb00000, 0x1000, &mmio));
    expect_info(t, mmio, NB_RESOURCE_MMIO, 0xfeb00000, 0x1000);
    EXPECT_STATUS(resource_create(&tab, root, NB_RESOURCE_MMIO, (1ull << 46) - 0x1000, 0x2000, &h),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, mmio, NB_RESOURCE_MMIO, 0xfeb00800, 0x1000, &h),
                  ERR_OUT_OF_RANGE);
    ASSERT_OK(resource_create(&tab, mmio, NB_RESOURCE_MMIO, 0xfeb00800, 0x800, &h));
    EXPECT_OK(resource_check_range(&tab, mmio, NB_RESOURCE_MMIO, 0xfeb00000, 0x1000));
    EXPECT_STATUS(resource_check_range(&tab, mmio, NB_RESOURCE_MMIO, 0xfeaff000, 0x1000),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_check_range(&tab, mmio, NB_RESOURCE_PCI, 0xfeb00000, 1), ERR_WRONG_TYPE);
    uint32_t id = NB_PCI_ID(0, 0, 3, 0);
    ASSERT_OK(resource_create(&tab, root, NB_RESOURCE_PCI, id, 8, &pci)); // device 3, all functions
    EXPECT_OK(resource_check_range(&tab, pci, NB_RESOURCE_PCI, NB_PCI_ID(0, 0, 3, 7), 1));
    EXPECT_STATUS(resource_check_range(&tab, pci, NB_RESOURCE_PCI, NB_PCI_ID(0, 0, 4, 0), 1),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, root, NB_RESOURCE_PCI, NB_PCI_ID_LIMIT, 1, &h),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(resource_create(&tab, pci, NB_RESOURCE_MMIO, 0, 1, &h), ERR_ACCESS_DENIED);
    ASSERT_OK(resource_create(&tab, root, NB_RESOURCE_DMA, 0, 0, &h));
    EXPECT_OK(resource_check(&tab, h, NB_RESOURCE_DMA));
    // DMA derives DMA only (each driver gets its own: its own quarantine).
    EXPECT_STATUS(resource_create(&tab, h, NB_RESOURCE_ENTROPY, 0, 0, &h2), ERR_ACCESS_DENIED);
    EXPECT_STATUS(resource_create(&tab, h, NB_RESOURCE_DMA, 0, 1, &h2), ERR_INVALID_ARGS);
    ASSERT_OK(resource_create(&tab, h, NB_RESOURCE_DMA, 0, 0, &h2));
    EXPECT_OK(resource_check(&tab, h2, NB_RESOURCE_DMA));
    EXPECT_STATUS(resource_create(&tab, root, NB_RESOURCE_ENTROPY, 0, 1, &h), ERR_INVALID_ARGS);
    ASSERT_OK(resource_create(&tab, root, NB_RESOURCE_ENTROPY, 0, 0, &h));
    expect_info(t, h, NB_RESOURCE_ENTROPY, 0, 0);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(resource, KTEST_CASE(resource_kernel_ranges),
            KTEST_CASE(resource_root_derives_any_kind),
            KTEST_CASE(resource_range_derives_subranges), KTEST_CASE(resource_rights_and_types),
            KTEST_CASE(resource_checks), KTEST_CASE(resource_driver_kinds));
