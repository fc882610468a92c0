// Kernel stacks in fixed slots of the kernel virtual area: each slot is a
// guard page (never mapped) followed by KSTACK_SIZE of mapped stack.
#include <stdbool.h>

#include "lib/spinlock.h"
#include "mm/kstack.h"
#include "mm/mmu.h"
#include "mm/pmm.h"

#define KVA_STACKS   0xffffff0000000000ull // PML4 slot 510
#define SLOT_SIZE    (KSTACK_SIZE + PAGE_SIZE)
#define MAX_STACKS   4096
#define KSTACK_PAGES (KSTACK_SIZE / PAGE_SIZE)
#define KSTACK_ORDER 2 // 4 pages
_Static_assert(KSTACK_PAGES == (1u << KSTACK_ORDER), "stack order");

static struct spinlock kstack_lock = SPINLOCK_INIT("kstack");
static uint64_t used[MAX_STACKS / 64]; // guarded by kstack_lock
static uint64_t live;                  // atomic: stacks mapped

static int claim_slot(void)
{
    irqstate_t s = spin_lock_irqsave(&kstack_lock);
    for (int w = 0; w < MAX_STACKS / 64; w++) {
        if (used[w] == ~0ull)
            continue;
        int b = __builtin_ctzll(~used[w]);
        used[w] |= 1ull << b;
        spin_unlock_irqrestore(&kstack_lock, s);
        return w * 64 + b;
    }
    spin_unlock_irqrestore(&kstack_lock, s);
    return -1;
}

static void release_slot(int slot)
{
    irqstate_t s = spin_lock_irqsave(&kstack_lock);
    used[slot / 64] &= ~(1ull << (slot % 64));
    spin_unlock_irqrestore(&kstack_lock, s);
}

status_t kstack_alloc(struct kstack *ks)
{
    int slot = claim_slot();
    if (slot < 0)
        return ERR_NO_RESOURCES;
    paddr_t pa;
    vaddr_t base = KVA_STACKS + (uint64_t)slot * SLOT_SIZE + PAGE_SIZE;
    status_t st = pmm_alloc(KSTACK_ORDER, 0, &pa);
    if (st != OK) {
        release_slot(slot);
        return st;
    }
    st = arch_mmu_map(arch_mmu_kernel_root(), base, pa, KSTACK_PAGES, VM_READ | VM_WRITE);
    if (st != OK) {
        pmm_free(pa, KSTACK_ORDER);
        release_slot(slot);
        return st;
    }
    ks->base = base;
    ks->top = base + KSTACK_SIZE;
    ks->reserve = false;
    __atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
    return OK;
}

// ---- The reserve of mapped stacks ----
//
// Freeing a stack unmaps it from the kernel root, whose pages are global:
// every online CPU must flush (a shootdown). Threads therefore take their
// stacks from a reserve of KSTACK_RESERVE stacks mapped once at start-up,
// which go back to it when their thread ends and are never unmapped. Only
// when all of them are in use does a thread get a stack of its own, mapped
// for it and unmapped when it ends. So the memory held by stacks does not
// depend on which threads came and went: leak checks that compare free
// pages before and after see no difference. Guard pages are never mapped.
static struct kstack pool[KSTACK_RESERVE]; // free reserve stacks (kstack_lock)
static unsigned npool;                     // guarded by kstack_lock

void kstack_reserve_init(void)
{
    for (unsigned i = 0; i < KSTACK_RESERVE; i++) {
        struct kstack ks;
        if (kstack_alloc(&ks) != OK)
            return; // the reserve only saves work: run with a smaller one
        ks.reserve = true;
        kstack_put(&ks);
    }
}

status_t kstack_get(struct kstack *ks)
{
    irqstate_t s = spin_lock_irqsave(&kstack_lock);
    bool hit = npool > 0;
    if (hit)
        *ks = pool[--npool];
    spin_unlock_irqrestore(&kstack_lock, s);
    return hit ? OK : kstack_alloc(ks);
}

void kstack_put(struct kstack *ks)
{
    if (!ks->reserve) {
        kstack_free(ks);
        return;
    }
    irqstate_t s = spin_lock_irqsave(&kstack_lock);
    pool[npool++] = *ks; // room: the pool holds every reserve stack
    spin_unlock_irqrestore(&kstack_lock, s);
    *ks = (struct kstack){0};
}

unsigned kstack_reserve_free(void)
{
    irqstate_t s = spin_lock_irqsave(&kstack_lock);
    unsigned n = npool;
    spin_unlock_irqrestore(&kstack_lock, s);
    return n;
}

void kstack_free(struct kstack *ks)
{
    paddr_t pa;
    if (arch_mmu_query(arch_mmu_kernel_root(), ks->base, &pa, NULL) != OK)
        return;
    arch_mmu_unmap(arch_mmu_kernel_root(), ks->base, KSTACK_PAGES);
    pmm_free(pa, KSTACK_ORDER);
    release_slot((int)((ks->base - PAGE_SIZE - KVA_STACKS) / SLOT_SIZE));
    *ks = (struct kstack){0};
    __atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
}

// Stacks mapped now, the reserve's included (the memory stacks hold).
uint64_t kstack_live_count(void)
{
    return __atomic_load_n(&live, __ATOMIC_RELAXED);
}

int kstack_is_guard(vaddr_t va)
{
    if (va < KVA_STACKS || va >= KVA_STACKS + (uint64_t)MAX_STACKS * SLOT_SIZE)
        return 0;
    return (va - KVA_STACKS) % SLOT_SIZE < PAGE_SIZE;
}
