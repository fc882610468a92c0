// In-kernel tests of exception handling: faults taken on purpose are caught
// and described correctly, and the kernel goes on.
#include "arch.h"
#include "lib/ksyms.h"
#include "lib/ktest.h"
#include "lib/string.h"
#include "x86.h"

#define VEC_DE 0
#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14

static volatile uint64_t zero;

static void do_nothing(void *arg)
{
    *(int *)arg = 42;
}

static void do_ud(void *arg)
{
    __builtin_trap();
}

static void do_divide(void *arg)
{
    *(volatile uint64_t *)arg = 100 / zero;
}

static void do_noncanonical(void *arg)
{
    *(volatile uint64_t *)arg = *(volatile uint64_t *)(uintptr_t)(0x8000000000000000ull + zero);
}

static void do_null(void *arg)
{
    *(volatile uint64_t *)arg = *(volatile uint64_t *)(uintptr_t)(16 + zero);
}

static void traps_no_fault_returns_true(struct ktest *t)
{
    struct fault_info fi = {.vector = -1};
    int v = 0;
    EXPECT_TRUE(arch_call_catching_faults(do_nothing, &v, &fi));
    EXPECT_EQ(v, 42);
    EXPECT_EQ(fi.vector, -1);
}

static void traps_invalid_opcode(struct ktest *t)
{
    struct fault_info fi;
    ASSERT_FALSE(arch_call_catching_faults(do_ud, NULL, &fi));
    EXPECT_EQ(fi.vector, VEC_UD);
    EXPECT_STREQ(fi.name, "#UD invalid opcode");
    uint64_t off;
    const char *fn = ksym_lookup(fi.ip, &off, NULL);
    EXPECT_STREQ(fn, "do_ud");
}

static void traps_divide_error(struct ktest *t)
{
    struct fault_info fi;
    uint64_t out = 0;
    ASSERT_FALSE(arch_call_catching_faults(do_divide, &out, &fi));
    EXPECT_EQ(fi.vector, VEC_DE);
    EXPECT_EQ(out, 0u);
}

static void traps_general_protection(struct ktest *t)
{
    struct fault_info fi;
    uint64_t out;
    ASSERT_FALSE(arch_call_catching_faults(do_noncanonical, &out, &fi));
    EXPECT_EQ(fi.vector, VEC_GP);
}

static void traps_null_dereference(struct ktest *t)
{
    struct fault_info fi;
    uint64_t out;
    ASSERT_FALSE(arch_call_catching_faults(do_null, &out, &fi));
    EXPECT_EQ(fi.vector, VEC_PF);
    EXPECT_EQ(fi.addr, 16u);
    EXPECT_EQ(fi.error & 1, 0u); // not present
    EXPECT_EQ(fi.error & 2, 0u); // a read
}

struct nested {
    struct fault_info inner;
    bool inner_ret;
};

static void do_nested(void *arg)
{
    struct nested *n = arg;
    n->inner_ret = arch_call_catching_faults(do_ud, NULL, &n->inner);
    do_divide((void *)&zero); // the outer catch must still be armed
}

static void traps_nested_catches(struct ktest *t)
{
    struct nested n = {0};
    struct fault_info outer;
    ASSERT_FALSE(arch_call_catching_faults(do_nested, &n, &outer));
    EXPECT_FALSE(n.inner_ret);
    EXPECT_EQ(n.inner.vector, VEC_UD);
    EXPECT_EQ(outer.vector, VEC_DE);
}

static void traps_many_in_a_row(struct ktest *t)
{
    // Each catch unwinds its frame: 1000 faults must not leak stack.
    for (int i = 0; i < 1000; i++) {
        struct fault_info fi;
        ASSERT_FALSE(arch_call_catching_faults(do_ud, NULL, &fi));
    }
    int v = 0;
    struct fault_info fi;
    EXPECT_TRUE(arch_call_catching_faults(do_nothing, &v, &fi));
}

static void traps_ksyms_lookup(struct ktest *t)
{
    uint64_t off = 99, size = 0;
    const char *name = ksym_lookup((uint64_t)traps_ksyms_lookup + 3, &off, &size);
    EXPECT_STREQ(name, "traps_ksyms_lookup");
    EXPECT_EQ(off, 3u);
    EXPECT_GT(size, 3u);
    EXPECT_EQ(ksym_address("traps_ksyms_lookup"), (uint64_t)traps_ksyms_lookup);
    EXPECT_NULL(ksym_lookup(0x1000, &off, NULL));
}

KTEST_SUITE(traps, KTEST_CASE(traps_no_fault_returns_true), KTEST_CASE(traps_invalid_opcode),
            KTEST_CASE(traps_divide_error), KTEST_CASE(traps_general_protection),
            KTEST_CASE(traps_null_dereference), KTEST_CASE(traps_nested_catches),
            KTEST_CASE(traps_many_in_a_row), KTEST_CASE(traps_ksyms_lookup));
