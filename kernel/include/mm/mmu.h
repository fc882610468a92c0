// Page-table operations, implemented per architecture. Addresses and sizes
// are page aligned; `root` names an address space's top-level table.
#pragma once

#include <stddef.h>

#include "mm/phys.h"
#include "nimbus/status.h"

#define VM_READ            (1u << 0)
#define VM_WRITE           (1u << 1)
#define VM_EXEC            (1u << 2)
#define VM_USER            (1u << 3)
#define VM_UNCACHED        (1u << 4)
#define VM_WRITE_COMBINING (1u << 5) // PAT write-combining (uncached without PAT)

// Maps n pages at va to pa.. with `flags`. Fails with ERR_ALREADY_EXISTS if a
// page is already mapped (nothing is changed then), ERR_NO_MEMORY when a
// page table cannot be allocated, ERR_INVALID_ARGS for unaligned or
// non-canonical input, or W+X flags (W^X is enforced).
status_t arch_mmu_map(paddr_t root, vaddr_t va, paddr_t pa, size_t n, unsigned flags);

// Unmaps n pages (pages not mapped are skipped) and flushes the TLB.
status_t arch_mmu_unmap(paddr_t root, vaddr_t va, size_t n);

// Changes the permissions of n mapped pages; ERR_NOT_FOUND if one is not mapped.
status_t arch_mmu_protect(paddr_t root, vaddr_t va, size_t n, unsigned flags);

// Looks up one address: ERR_NOT_FOUND when unmapped.
status_t arch_mmu_query(paddr_t root, vaddr_t va, paddr_t *pa, unsigned *flags);

// A new address space: an empty user half, the kernel half shared.
status_t arch_mmu_create_root(paddr_t *root);
// Frees the page tables of the user half and the root (the pages they map
// belong to someone else). The root must not be active on any CPU.
void arch_mmu_destroy_root(paddr_t root);
// Makes root the active address space of this CPU.
void arch_mmu_activate(paddr_t root);

// The kernel's own address space.
paddr_t arch_mmu_kernel_root(void);

// Builds the kernel address space (image with per-section permissions, the
// direct map of all RAM) and switches to it. Needs pmm_init() first.
status_t arch_mmu_init(void);
