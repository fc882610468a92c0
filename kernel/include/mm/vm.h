// User address spaces: regions of the user half, each mapping a range of a
// VMO with fixed permissions (W^X). Pages appear on first touch (the page
// fault commits the VMO page and maps it), so anonymous memory is simply a
// fresh VMO: one mechanism for demand-zero and VMO-backed mappings.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/list.h"
#include "lib/spinlock.h"
#include "mm/mmu.h"
#include "mm/phys.h"
#include "nimbus/status.h"

#define USER_BASE      0x10000ull            // nothing is mapped below
#define USER_TOP       0x00007ffffffff000ull // first address past the user half
#define USER_MMAP_BASE 0x0000100000000000ull // where vm_map looks for room

struct vmo;

struct vm_region {
    struct list_node node; // in vm_aspace.regions, by address (aspace lock)
    vaddr_t base;
    uint64_t size;
    unsigned flags;  // VM_READ | VM_WRITE | VM_EXEC
    struct vmo *vmo; // a reference and a mapping count are held
    uint64_t offset; // of base in the vmo
};

struct vm_aspace {
    paddr_t root;
    struct spinlock lock;
    struct list_node regions; // (lock)
    uint64_t mapped_pages;    // pages with a page-table entry (lock)
};

status_t vm_aspace_create(struct vm_aspace **out);
// Unmaps everything and frees the page tables. Not active on any CPU.
void vm_aspace_destroy(struct vm_aspace *as);

// Maps [offset, offset + size) of vmo with `flags` (VM_READ/WRITE/EXEC; W+X
// refused). With `fixed`, exactly at *addr (ERR_ALREADY_EXISTS if anything is
// there); else at a free range, returned in *addr. ERR_OUT_OF_RANGE when the
// range is outside the vmo or the user half.
status_t vm_map(struct vm_aspace *as, struct vmo *vmo, uint64_t offset, uint64_t size,
                unsigned flags, bool fixed, vaddr_t *addr);

// Unmaps [addr, addr + size): regions are cut as needed; holes are fine.
status_t vm_unmap(struct vm_aspace *as, vaddr_t addr, uint64_t size);

// Changes permissions of [addr, addr + size), which must be fully mapped.
status_t vm_protect(struct vm_aspace *as, vaddr_t addr, uint64_t size, unsigned flags);

// Serves a page fault at addr for `access` (VM_READ, VM_WRITE or VM_EXEC).
// ERR_NOT_FOUND: no region; ERR_ACCESS_DENIED: the region forbids it;
// ERR_OUT_OF_RANGE: past the end of the vmo; ERR_NO_MEMORY.
status_t vm_fault(struct vm_aspace *as, vaddr_t addr, unsigned access);

// Bytes of user memory in regions.
uint64_t vm_mapped_bytes(struct vm_aspace *as);
