// Physical addresses and the direct map of all RAM.
#pragma once

#include <stdint.h>

typedef uint64_t paddr_t;
typedef uint64_t vaddr_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1ul << PAGE_SHIFT)
#define PAGE_MASK  (PAGE_SIZE - 1)

// Start of the direct map: physical address p is mapped at DIRECT_MAP_BASE + p.
#define DIRECT_MAP_BASE 0xffff800000000000ull
// Where the kernel image is linked: physical p of the image is at KERNEL_VMA + p.
#define KERNEL_VMA 0xffffffff80000000ull

#ifndef HOST_TEST
static inline void *phys_to_virt(paddr_t p)
{
    return (void *)(uintptr_t)(DIRECT_MAP_BASE + p);
}

static inline paddr_t virt_to_phys(const void *v)
{
    uintptr_t a = (uintptr_t)v;
    return a >= KERNEL_VMA ? a - KERNEL_VMA : a - DIRECT_MAP_BASE;
}
#else
// The host test program backs a window of fake physical memory with an arena.
void *phys_to_virt(paddr_t p);
paddr_t virt_to_phys(const void *v);
#endif
