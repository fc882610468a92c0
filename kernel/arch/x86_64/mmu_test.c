// In-kernel tests of the page tables: map, unmap, protect, and the kernel's
// own permissions (rodata and text not writable, data not executable).
#include "arch.h"
#include "lib/ktest.h"
#include "lib/string.h"
#include "mm/kstack.h"
#include "mm/mmu.h"
#include "mm/pmm.h"
#include "x86_cpu.h"

#define VEC_PF     14
#define PF_PRESENT 1u
#define PF_WRITE   2u
#define PF_FETCH   16u
#define SCRATCH_VA 0xffffff4000000000ull // kernel virtual area, unused by stacks

static const uint64_t test_rodata = 0x1234;
static uint8_t test_data[64] __aligned(16) = {0xc3}; // `ret`

static void write_u64(void *arg)
{
    *(volatile uint64_t *)arg = 0xdead;
}

static void read_u64(void *arg)
{
    (void)*(volatile uint64_t *)arg;
}

static void call_fn(void *arg)
{
    ((void (*)(void))arg)();
}

static void mmu_map_query_unmap(struct ktest *t)
{
    paddr_t root = arch_mmu_kernel_root(), pa, got;
    unsigned flags;
    ASSERT_OK(pmm_alloc(0, PMM_ZERO, &pa));
    ASSERT_OK(arch_mmu_map(root, SCRATCH_VA, pa, 1, VM_READ | VM_WRITE));
    ASSERT_OK(arch_mmu_query(root, SCRATCH_VA + 8, &got, &flags));
    EXPECT_EQ(got, pa + 8);
    EXPECT_EQ(flags & (VM_WRITE | VM_EXEC | VM_USER), VM_WRITE);
    *(volatile uint64_t *)SCRATCH_VA = 0x5a5a;
    EXPECT_EQ(*(uint64_t *)phys_to_virt(pa), 0x5a5au);
    EXPECT_STATUS(arch_mmu_map(root, SCRATCH_VA, pa, 1, VM_READ), ERR_ALREADY_EXISTS);
    ASSERT_OK(arch_mmu_unmap(root, SCRATCH_VA, 1));
    EXPECT_STATUS(arch_mmu_query(root, SCRATCH_VA, &got, NULL), ERR_NOT_FOUND);
    struct fault_info fi;
    EXPECT_FALSE(arch_call_catching_faults(read_u64, (void *)SCRATCH_VA, &fi));
    EXPECT_EQ(fi.vector, VEC_PF);
    EXPECT_EQ(fi.addr, SCRATCH_VA);
    pmm_free(pa, 0);
}

static void mmu_bad_arguments(struct ktest *t)
{
    paddr_t root = arch_mmu_kernel_root();
    EXPECT_STATUS(arch_mmu_map(root, SCRATCH_VA + 1, 0x200000, 1, VM_READ), ERR_INVALID_ARGS);
    EXPECT_STATUS(arch_mmu_map(root, SCRATCH_VA, 0x200001, 1, VM_READ), ERR_INVALID_ARGS);
    EXPECT_STATUS(arch_mmu_map(root, 0x0000800000000000ull, 0x200000, 1, VM_READ),
                  ERR_INVALID_ARGS);
    EXPECT_STATUS(arch_mmu_map(root, SCRATCH_VA, 0x200000, 1, VM_WRITE | VM_EXEC),
                  ERR_INVALID_ARGS); // W^X
    EXPECT_STATUS(arch_mmu_query(root, 0x0000800000000000ull, NULL, NULL), ERR_INVALID_ARGS);
    EXPECT_STATUS(arch_mmu_protect(root, SCRATCH_VA, 1, VM_READ), ERR_NOT_FOUND);
}

static void mmu_map_is_all_or_nothing(struct ktest *t)
{
    paddr_t root = arch_mmu_kernel_root(), pa;
    ASSERT_OK(pmm_alloc(1, PMM_ZERO, &pa));
    ASSERT_OK(arch_mmu_map(root, SCRATCH_VA + PAGE_SIZE, pa, 1, VM_READ));
    // The second page of the range is taken: nothing may be mapped.
    EXPECT_STATUS(arch_mmu_map(root, SCRATCH_VA, pa, 2, VM_READ), ERR_ALREADY_EXISTS);
    EXPECT_STATUS(arch_mmu_query(root, SCRATCH_VA, NULL, NULL), ERR_NOT_FOUND);
    ASSERT_OK(arch_mmu_unmap(root, SCRATCH_VA, 2));
    pmm_free(pa, 1);
}

static void mmu_protect_read_only(struct ktest *t)
{
    paddr_t root = arch_mmu_kernel_root(), pa;
    ASSERT_OK(pmm_alloc(0, PMM_ZERO, &pa));
    ASSERT_OK(arch_mmu_map(root, SCRATCH_VA, pa, 1, VM_READ | VM_WRITE));
    ASSERT_OK(arch_mmu_protect(root, SCRATCH_VA, 1, VM_READ));
    struct fault_info fi;
    EXPECT_FALSE(arch_call_catching_faults(write_u64, (void *)SCRATCH_VA, &fi));
    EXPECT_EQ(fi.vector, VEC_PF);
    EXPECT_EQ(fi.error & (PF_PRESENT | PF_WRITE), PF_PRESENT | PF_WRITE);
    EXPECT_EQ(*(uint64_t *)phys_to_virt(pa), 0u);
    arch_mmu_unmap(root, SCRATCH_VA, 1);
    pmm_free(pa, 0);
}

static void mmu_rodata_is_read_only(struct ktest *t)
{
    struct fault_info fi;
    EXPECT_FALSE(arch_call_catching_faults(write_u64, (void *)&test_rodata, &fi));
    EXPECT_EQ(fi.vector, VEC_PF);
    EXPECT_EQ(fi.addr, (uint64_t)&test_rodata);
    EXPECT_EQ(fi.error & (PF_PRESENT | PF_WRITE), PF_PRESENT | PF_WRITE);
    EXPECT_EQ(test_rodata, 0x1234u);
}

static void mmu_text_is_read_only(struct ktest *t)
{
    struct fault_info fi;
    EXPECT_FALSE(arch_call_catching_faults(write_u64, (void *)(uintptr_t)write_u64, &fi));
    EXPECT_EQ(fi.vector, VEC_PF);
}

static void mmu_direct_map_of_kernel_is_read_only(struct ktest *t)
{
    void *alias = phys_to_virt(virt_to_phys(&test_rodata));
    EXPECT_EQ(*(uint64_t *)alias, 0x1234u);
    struct fault_info fi;
    EXPECT_FALSE(arch_call_catching_faults(write_u64, alias, &fi));
    EXPECT_EQ(fi.vector, VEC_PF);
}

static void mmu_data_is_not_executable(struct ktest *t)
{
    if (!x86_cpu_features.nx)
        KTEST_SKIP("CPU without NX");
    struct fault_info fi;
    EXPECT_FALSE(arch_call_catching_faults(call_fn, test_data, &fi));
    EXPECT_EQ(fi.vector, VEC_PF);
    EXPECT_EQ(fi.addr, (uint64_t)test_data);
    EXPECT_EQ(fi.error & PF_FETCH, PF_FETCH);
}

static void mmu_direct_map_is_not_executable(struct ktest *t)
{
    if (!x86_cpu_features.nx)
        KTEST_SKIP("CPU without NX");
    paddr_t pa;
    ASSERT_OK(pmm_alloc(0, 0, &pa));
    uint8_t *p = phys_to_virt(pa);
    p[0] = 0xc3;
    struct fault_info fi;
    EXPECT_FALSE(arch_call_catching_faults(call_fn, p, &fi));
    EXPECT_EQ(fi.error & PF_FETCH, PF_FETCH);
    pmm_free(pa, 0);
}

static void mmu_high_memory_is_mapped(struct ktest *t)
{
    // Without PMM_LOW the high zone comes first: with RAM above 4 GiB the
    // block lands there and must be reachable through the direct map.
    struct pmm_stats st;
    pmm_get_stats(&st);
    if (!st.high_free_pages)
        KTEST_SKIP("no RAM above 4 GiB (boot with -m 6G)");
    paddr_t pa;
    ASSERT_OK(pmm_alloc(0, 0, &pa));
    EXPECT_GE(pa, 4ull << 30);
    volatile uint64_t *p = phys_to_virt(pa);
    *p = 0x600df00d;
    EXPECT_EQ(*p, 0x600df00du);
    pmm_free(pa, 0);
}

static void mmu_stack_guard_page(struct ktest *t)
{
    struct kstack ks;
    ASSERT_OK(kstack_alloc(&ks));
    EXPECT_EQ(ks.top - ks.base, (uint64_t)KSTACK_SIZE);
    *(volatile uint64_t *)(ks.top - 8) = 1;
    *(volatile uint64_t *)ks.base = 1;
    EXPECT_TRUE(kstack_is_guard(ks.base - 8));
    EXPECT_FALSE(kstack_is_guard(ks.base));
    struct fault_info fi;
    EXPECT_FALSE(arch_call_catching_faults(write_u64, (void *)(ks.base - 8), &fi));
    EXPECT_EQ(fi.vector, VEC_PF);
    EXPECT_EQ(fi.error & PF_PRESENT, 0u);
    vaddr_t base = ks.base;
    kstack_free(&ks);
    EXPECT_STATUS(arch_mmu_query(arch_mmu_kernel_root(), base, NULL, NULL), ERR_NOT_FOUND);
}

// Regression: unmapping kernel pages while a user address space is loaded
// must still flush them (they are global and shared). A stale entry made a
// reused kernel stack slot write into the freed page of a dead process.
static void mmu_kernel_unmap_flushes_under_user_root(struct ktest *t)
{
    paddr_t user_root;
    struct kstack ks;
    ASSERT_OK(arch_mmu_create_root(&user_root));
    ASSERT_OK(kstack_alloc(&ks));
    irqstate_t s = arch_irq_save();
    arch_mmu_activate(user_root);
    *(volatile uint64_t *)ks.base = 1; // the translation is now cached
    kstack_free(&ks);
    paddr_t old; // take the freed frames so the slot gets new ones
    ASSERT_OK(pmm_alloc(2, 0, &old));
    *(volatile uint64_t *)phys_to_virt(old) = 0;
    struct kstack again;
    status_t st = kstack_alloc(&again); // the same slot, other frames
    paddr_t pa = 0;
    if (st == OK) {
        *(volatile uint64_t *)again.base = 0xfeedface;
        arch_mmu_query(arch_mmu_kernel_root(), again.base, &pa, NULL);
    }
    arch_mmu_activate(arch_mmu_kernel_root());
    arch_irq_restore(s);
    ASSERT_OK(st);
    EXPECT_EQ(*(volatile uint64_t *)phys_to_virt(pa), 0xfeedfaceu);
    EXPECT_EQ(*(volatile uint64_t *)phys_to_virt(old), 0u);
    pmm_free(old, 2);
    kstack_free(&again);
    arch_mmu_destroy_root(user_root);
}

KTEST_SUITE(mmu, KTEST_CASE(mmu_map_query_unmap), KTEST_CASE(mmu_bad_arguments),
            KTEST_CASE(mmu_map_is_all_or_nothing), KTEST_CASE(mmu_protect_read_only),
            KTEST_CASE(mmu_rodata_is_read_only), KTEST_CASE(mmu_text_is_read_only),
            KTEST_CASE(mmu_direct_map_of_kernel_is_read_only),
            KTEST_CASE(mmu_data_is_not_executable), KTEST_CASE(mmu_direct_map_is_not_executable),
            KTEST_CASE(mmu_high_memory_is_mapped), KTEST_CASE(mmu_stack_guard_page),
            KTEST_CASE(mmu_kernel_unmap_flushes_under_user_root));
