// Kernel virtual area for MMIO: a bump allocator over a fixed window.
#include "lib/spinlock.h"
#include "mm/kva.h"
#include "mm/mmu.h"

#define KVA_MMIO_BASE 0xffffff2000000000ull
#define KVA_MMIO_SIZE (64ull << 30)

static struct spinlock kva_lock = SPINLOCK_INIT("kva");
static vaddr_t kva_next = KVA_MMIO_BASE; // (kva_lock)

status_t kva_map_mmio(paddr_t pa, size_t size, void **out)
{
    paddr_t base = ALIGN_DOWN(pa, PAGE_SIZE);
    size_t pages = (size_t)((ALIGN_UP(pa + size, PAGE_SIZE) - base) / PAGE_SIZE);
    if (!size || !pages)
        return ERR_INVALID_ARGS;
    irqstate_t s = spin_lock_irqsave(&kva_lock);
    if (kva_next + pages * PAGE_SIZE > KVA_MMIO_BASE + KVA_MMIO_SIZE) {
        spin_unlock_irqrestore(&kva_lock, s);
        return ERR_NO_RESOURCES;
    }
    vaddr_t va = kva_next;
    kva_next += (pages + 1) * PAGE_SIZE; // one unmapped page between mappings
    spin_unlock_irqrestore(&kva_lock, s);
    status_t st =
        arch_mmu_map(arch_mmu_kernel_root(), va, base, pages, VM_READ | VM_WRITE | VM_UNCACHED);
    if (st == OK)
        *out = (void *)(va + (pa - base));
    return st;
}
