// The PAT as cpu.c programs it: entry 0 write-back, entry 1 write-combining
// (mapped with PWT alone, VM_WRITE_COMBINING), entry 3 uncached (PCD|PWT,
// VM_UNCACHED). The APs copy the boot CPU's PAT (smp_arch checks that).
#include "lib/ktest.h"
#include "x86.h"
#include "x86_cpu.h"

#define PAT_UC 0x00
#define PAT_WB 0x06

static void pat_entries(struct ktest *t)
{
    if (!x86_cpu_features.pat)
        KTEST_SKIP("no PAT");
    uint64_t pat = rdmsr(MSR_PAT);
    EXPECT_EQ(pat & 0xff, (uint64_t)PAT_WB);
    EXPECT_EQ((pat >> 8) & 0xff, (uint64_t)PAT_WC);
    EXPECT_EQ((pat >> 24) & 0xff, (uint64_t)PAT_UC);
}

KTEST_SUITE(pat, KTEST_CASE(pat_entries));
