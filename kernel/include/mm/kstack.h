// Kernel stacks: each one sits in its own slot of the kernel virtual area,
// with an unmapped guard page below it, so an overflow faults instead of
// corrupting memory.
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mm/phys.h"
#include "nimbus/status.h"

#define KSTACK_SIZE (16 * 1024)

struct kstack {
    vaddr_t base; // lowest mapped address
    vaddr_t top;  // initial stack pointer
    bool reserve; // one of the reserve (kstack_get / kstack_put)
};

// A freshly mapped stack / unmapping one at once (a TLB shootdown on every
// online CPU).
status_t kstack_alloc(struct kstack *ks);
void kstack_free(struct kstack *ks);
// Stacks allocated now (system information).
uint64_t kstack_live_count(void);

// Threads' stacks: from a reserve of KSTACK_RESERVE stacks that stay
// mapped (kstack.c), so that creating and ending threads costs no mapping
// change while fewer than that many threads live; beyond it kstack_get maps
// a stack and kstack_put unmaps it. kstack_reserve_init maps the reserve
// (once, at start-up).
#define KSTACK_RESERVE 32
void kstack_reserve_init(void);
status_t kstack_get(struct kstack *ks);
void kstack_put(struct kstack *ks);
// Reserve stacks not in use now (for tests).
unsigned kstack_reserve_free(void);
// True if va lies in a guard page of the stack area (for fault reports).
int kstack_is_guard(vaddr_t va);
