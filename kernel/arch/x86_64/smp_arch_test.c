// In-kernel tests of the x86_64 side of SMP: every CPU set up like the boot
// CPU, calls of a function on other CPUs, the start-up page unmapped again,
// and TLB shootdowns (a page unmapped or write-protected on one CPU must
// fault on another that had it cached).
#include "arch.h"
#include "lib/ktest.h"
#include "sched/ktest_cpu.h"
#include "lib/string.h"
#include "mm/mmu.h"
#include "mm/pmm.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "x86.h"
#include "x86_cpu.h"
#include "x86_irq.h"

#define MS             1000000ull
#define SECOND         1000000000ull
#define VEC_PF         14
#define MSR_STAR       0xc0000081
#define MSR_LSTAR      0xc0000082
#define MSR_SFMASK     0xc0000084
#define EFER_LMA       (1u << 10)
#define CR0_NW         (1ul << 29)
#define CR0_CD         (1ul << 30)
#define KERNEL_TEST_VA 0xffffff4000200000ull // kernel virtual area, unused
#define USER_TEST_VA   0x500000ull

#define NEED_CPUS(n)                                \
    do {                                            \
        if (arch_cpu_count() < (n))                 \
            KTEST_SKIP("needs " #n " CPUs online"); \
    } while (0)

struct table_ptr {
    uint16_t limit;
    uint64_t base;
} __packed;

struct cpu_state {
    bool seen;
    uint32_t index, apic_id;
    uint64_t cr0, cr4, efer, star, lstar, sfmask, pat, gs_base, self;
    uint64_t gdt, idt;
    uint16_t tr;
};

static struct cpu_state states[MAX_CPUS];

static void read_state(void *arg)
{
    struct cpu_state *s = &states[arch_cpu_index()];
    struct table_ptr gdt, idt;
    __asm__ volatile("sgdt %0; sidt %1; str %2" : "=m"(gdt), "=m"(idt), "=r"(s->tr));
    s->seen = true;
    s->index = arch_cpu_index();
    s->apic_id = x86_apic_id();
    s->cr0 = read_cr0();
    s->cr4 = read_cr4();
    s->efer = rdmsr(MSR_EFER);
    s->star = rdmsr(MSR_STAR);
    s->lstar = rdmsr(MSR_LSTAR);
    s->sfmask = rdmsr(MSR_SFMASK);
    s->pat = x86_cpu_features.pat ? rdmsr(MSR_PAT) : 0;
    s->gs_base = rdmsr(MSR_GS_BASE);
    s->self = (uint64_t)x86_this_cpu();
    s->gdt = gdt.base;
    s->idt = idt.base;
}

static void check_states(struct ktest *t)
{
    unsigned n = arch_cpu_count();
    memset(states, 0, sizeof(states));
    ASSERT_OK(arch_call_on_cpus(~0ull, read_state, NULL));
    const struct cpu_state *b = &states[0];
    const uint64_t cr4_bits = CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP | CR4_UMIP;
    for (unsigned c = 0; c < n; c++) {
        const struct cpu_state *s = &states[c];
        ASSERT_TRUE(s->seen);
        EXPECT_EQ(s->index, c);
        EXPECT_EQ(s->gs_base, (uint64_t)x86_cpus[c]);
        EXPECT_EQ(s->self, (uint64_t)x86_cpus[c]);
        EXPECT_EQ(s->apic_id, arch_cpu_hw_id(c));
        EXPECT_EQ(s->cr0 & (CR0_WP | CR0_PG | CR0_CD | CR0_NW), (uint64_t)(CR0_WP | CR0_PG));
        EXPECT_EQ(s->cr4 & cr4_bits, b->cr4 & cr4_bits);
        EXPECT_EQ(s->efer & (EFER_NXE | EFER_SCE | EFER_LME | EFER_LMA),
                  b->efer & (EFER_NXE | EFER_SCE | EFER_LME | EFER_LMA));
        EXPECT_EQ(s->star, b->star);
        EXPECT_EQ(s->lstar, b->lstar);
        EXPECT_EQ(s->sfmask, b->sfmask);
        EXPECT_EQ(s->pat, b->pat);
        EXPECT_EQ(s->gdt, (uint64_t)x86_cpus[c]->gdt);
        EXPECT_EQ(s->idt, b->idt);
        EXPECT_EQ(s->tr, (uint16_t)GDT_TSS);
        for (int k = 0; k < 3; k++) {
            EXPECT_NE(x86_cpus[c]->tss.ist[k], 0u);
            for (unsigned d = 0; d < c; d++)
                EXPECT_NE(x86_cpus[c]->tss.ist[k], x86_cpus[d]->tss.ist[k]);
        }
    }
    EXPECT_TRUE(b->efer & EFER_SCE);
    EXPECT_EQ(b->cr4 & CR4_SMEP, x86_cpu_features.smep ? (uint64_t)CR4_SMEP : 0);
}

static void smp_arch_cpus_set_up_like_the_boot_cpu(struct ktest *t)
{
    ktest_run_on_cpu0(t, check_states);
}

static unsigned call_count[MAX_CPUS];

static void count_call(void *arg)
{
    struct ktest *t = arg;
    EXPECT_FALSE(arch_irqs_enabled()); // it runs as an interrupt handler
    __atomic_fetch_add(&call_count[arch_cpu_index()], 1, __ATOMIC_RELAXED);
}

static void calls(struct ktest *t)
{
    unsigned n = arch_cpu_count();
    memset(call_count, 0, sizeof(call_count));
    ASSERT_OK(arch_call_on_cpus(~0ull, count_call, t));
    for (unsigned c = 0; c < n; c++)
        EXPECT_EQ(call_count[c], 1u);
    unsigned last = n - 1;
    ASSERT_OK(arch_call_on_cpus(1ull << last, count_call, t));
    for (unsigned c = 0; c < n; c++)
        EXPECT_EQ(call_count[c], c == last ? 2u : 1u);
    irqstate_t s = arch_irq_save();
    EXPECT_STATUS(arch_call_on_cpus(~0ull, count_call, t), ERR_BAD_STATE);
    arch_irq_restore(s);
}

static void smp_arch_call_on_cpus(struct ktest *t)
{
    ktest_run_on_cpu0(t, calls);
}

static void smp_arch_start_page_unmapped(struct ktest *t)
{
    paddr_t pa;
    EXPECT_STATUS(arch_mmu_query(arch_mmu_kernel_root(), AP_TRAMPOLINE_PA, &pa, NULL),
                  ERR_NOT_FOUND);
    EXPECT_EQ(((uint64_t *)phys_to_virt(arch_mmu_kernel_root()))[0], 0u);
}

// ---- TLB shootdown ----

// A thread on CPU 1 touches a page (caching its translation), waits while
// CPU 0 changes the mapping, then touches it again.
struct tlb_probe {
    vaddr_t va;
    bool write, user;
    int phase; // 1: touched once; 2: mapping changed (atomic)
    bool first_ok, second_ok;
    uint64_t first_value;
    struct fault_info fi;
};

#define RFLAGS_AC (1ul << 18)

// RFLAGS.AC lets the kernel touch user pages under SMAP. Set with POPF, not
// STAC: nested KVM cannot emulate STAC (REFERENCE.md).
static void set_ac(bool on)
{
    uint64_t f = read_rflags();
    f = on ? f | RFLAGS_AC : f & ~RFLAGS_AC;
    __asm__ volatile("pushq %0; popfq" ::"r"(f) : "memory", "cc");
}

static void touch(void *arg)
{
    struct tlb_probe *p = arg;
    if (p->user) // (a fault skips the reset: the catch restores RFLAGS)
        set_ac(true);
    if (p->write)
        *(volatile uint64_t *)p->va = 0x77;
    else
        p->first_value = *(volatile uint64_t *)p->va;
    if (p->user)
        set_ac(false);
}

static int toucher(void *arg)
{
    struct tlb_probe *p = arg;
    p->first_ok = arch_call_catching_faults(touch, p, &p->fi);
    __atomic_store_n(&p->phase, 1, __ATOMIC_RELEASE);
    uint64_t deadline = clock_monotonic_ns() + 5 * SECOND;
    // Busy, not blocked: blocking would switch address spaces and flush.
    while (__atomic_load_n(&p->phase, __ATOMIC_ACQUIRE) != 2 && clock_monotonic_ns() < deadline)
        arch_cpu_relax();
    p->second_ok = arch_call_catching_faults(touch, p, &p->fi);
    return 0;
}

static struct thread *start_toucher(struct ktest *t, struct tlb_probe *p, paddr_t root)
{
    struct thread *th;
    if (thread_create("t-tlb", toucher, p, PRIO_DEFAULT, &th) != OK)
        return NULL;
    th->aspace_root = root == arch_mmu_kernel_root() ? 0 : root;
    if (thread_set_cpu(th, 1, true) != OK) {
        thread_discard(th);
        return NULL;
    }
    thread_start(th);
    uint64_t deadline = clock_monotonic_ns() + 5 * SECOND;
    while (!__atomic_load_n(&p->phase, __ATOMIC_ACQUIRE) && clock_monotonic_ns() < deadline)
        thread_yield();
    return th;
}

// change: 0 unmap, 1 write-protect.
static void shootdown_case(struct ktest *t, paddr_t root, vaddr_t va, bool user, int change)
{
    paddr_t pa;
    unsigned uflag = user ? VM_USER : 0;
    ASSERT_OK(pmm_alloc(0, PMM_ZERO, &pa));
    *(uint64_t *)phys_to_virt(pa) = 0x5eed;
    ASSERT_OK(arch_mmu_map(root, va, pa, 1, VM_READ | VM_WRITE | uflag));
    struct tlb_probe p = {.va = va, .write = change == 1, .user = user};
    struct thread *th = start_toucher(t, &p, root);
    EXPECT_NOT_NULL(th);
    EXPECT_EQ(__atomic_load_n(&p.phase, __ATOMIC_ACQUIRE), 1);
    if (change == 0)
        EXPECT_OK(arch_mmu_unmap(root, va, 1));
    else
        EXPECT_OK(arch_mmu_protect(root, va, 1, VM_READ | uflag));
    __atomic_store_n(&p.phase, 2, __ATOMIC_RELEASE);
    if (th)
        EXPECT_OK(thread_join(th, clock_monotonic_ns() + 10 * SECOND, NULL));
    EXPECT_TRUE(p.first_ok);
    EXPECT_FALSE(p.second_ok); // a stale translation on CPU 1 would let it through
    EXPECT_EQ(p.fi.vector, VEC_PF);
    EXPECT_EQ(p.fi.addr, va);
    if (change == 0)
        EXPECT_EQ(p.first_value, 0x5eedu);
    else
        EXPECT_EQ(p.fi.error & 3, 3u); // present, write
    if (change == 1)
        EXPECT_OK(arch_mmu_unmap(root, va, 1));
    pmm_free(pa, 0);
}

static void kernel_shootdowns(struct ktest *t)
{
    shootdown_case(t, arch_mmu_kernel_root(), KERNEL_TEST_VA, false, 0);
    shootdown_case(t, arch_mmu_kernel_root(), KERNEL_TEST_VA, false, 1);
}

static void smp_arch_kernel_page_changes_reach_other_cpus(struct ktest *t)
{
    NEED_CPUS(2);
    ktest_run_on_cpu0(t, kernel_shootdowns);
}

static void user_shootdowns(struct ktest *t)
{
    paddr_t root;
    ASSERT_OK(arch_mmu_create_root(&root));
    shootdown_case(t, root, USER_TEST_VA, true, 0);
    shootdown_case(t, root, USER_TEST_VA, true, 1);
    arch_mmu_destroy_root(root); // waits until CPU 1 has switched away
}

static void smp_arch_user_page_changes_reach_other_cpus(struct ktest *t)
{
    NEED_CPUS(2);
    ktest_run_on_cpu0(t, user_shootdowns);
}

KTEST_SUITE(smp_arch, KTEST_CASE(smp_arch_cpus_set_up_like_the_boot_cpu),
            KTEST_CASE(smp_arch_call_on_cpus), KTEST_CASE(smp_arch_start_page_unmapped),
            KTEST_CASE(smp_arch_kernel_page_changes_reach_other_cpus),
            KTEST_CASE(smp_arch_user_page_changes_reach_other_cpus));
