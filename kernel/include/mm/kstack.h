// Kernel stacks: each one sits in its own slot of the kernel virtual area,
// with an unmapped guard page below it, so an overflow faults instead of
// corrupting memory.
#pragma once

#include <stddef.h>

#include "mm/phys.h"
#include "nimbus/status.h"

#define KSTACK_SIZE (16 * 1024)

struct kstack {
    vaddr_t base; // lowest mapped address
    vaddr_t top;  // initial stack pointer
};

status_t kstack_alloc(struct kstack *ks);
void kstack_free(struct kstack *ks);
// Stacks allocated now (system information).
uint64_t kstack_live_count(void);
// True if va lies in a guard page of the stack area (for fault reports).
int kstack_is_guard(vaddr_t va);
