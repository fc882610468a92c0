// Host test program only: the arena that stands in for physical memory. Fake
// physical addresses [0, HOST_PHYS_ARENA_SIZE) are backed by it; phys_to_virt
// of anything else aborts, and virt_to_phys of a pointer outside it returns
// HOST_PHYS_INVALID (an address no test memory map contains).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mm/phys.h"
#include "nimbus/status.h"

#define HOST_PHYS_ARENA_SIZE (64ull << 20)
#define HOST_PHYS_INVALID    0xfffffffffffff000ull

// Marks [pa, pa + size) of the arena inaccessible (ASan) or accessible again,
// to prove code does not touch memory it should not.
void host_phys_poison(paddr_t pa, uint64_t size, bool poison);

// Resets the memory managers for a test: pmm over arena bytes [0, ram_bytes)
// with nothing reserved, then slab_init.
status_t host_mm_init(uint64_t ram_bytes);
