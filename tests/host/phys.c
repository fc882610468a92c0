// Host stand-in for the direct map: fake physical memory [0, 64 MiB) lives in
// an aligned arena. Dereferencing any other fake physical address is a test
// bug and aborts loudly.
#include <stdio.h>
#include <stdlib.h>

#include "mm/host_phys.h"
#include "mm/pmm.h"
#include "mm/slab.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#define ARENA_ALIGN (2ul << 20)

static unsigned char *arena;

static unsigned char *arena_base(void)
{
    if (!arena) {
        arena = aligned_alloc(ARENA_ALIGN, HOST_PHYS_ARENA_SIZE);
        if (!arena) {
            fputs("host phys: cannot allocate the arena\n", stderr);
            abort();
        }
    }
    return arena;
}

void *phys_to_virt(paddr_t p)
{
    if (p >= HOST_PHYS_ARENA_SIZE) {
        fprintf(stderr, "host phys: phys_to_virt(%#lx) is outside the %llu MiB arena\n", p,
                HOST_PHYS_ARENA_SIZE >> 20);
        abort();
    }
    return arena_base() + p;
}

paddr_t virt_to_phys(const void *v)
{
    uintptr_t a = (uintptr_t)v, base = (uintptr_t)arena_base();

    if (a >= base && a - base < HOST_PHYS_ARENA_SIZE)
        return a - base;
    return HOST_PHYS_INVALID;
}

void host_phys_poison(paddr_t pa, uint64_t size, bool poison)
{
    if (pa >= HOST_PHYS_ARENA_SIZE || size > HOST_PHYS_ARENA_SIZE - pa) {
        fprintf(stderr, "host phys: poison window %#lx+%#lx is outside the arena\n", pa, size);
        abort();
    }
#ifdef __SANITIZE_ADDRESS__
    if (poison)
        ASAN_POISON_MEMORY_REGION(arena_base() + pa, size);
    else
        ASAN_UNPOISON_MEMORY_REGION(arena_base() + pa, size);
#else
    (void)poison;
#endif
}

status_t host_mm_init(uint64_t ram_bytes)
{
    struct mem_range ram = {0, ram_bytes};

    host_phys_poison(0, HOST_PHYS_ARENA_SIZE, false);
    status_t s = pmm_init(&ram, 1, NULL, 0);
    return s == OK ? slab_init() : s;
}
