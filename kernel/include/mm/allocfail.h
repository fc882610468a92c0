// Test-only allocation failure injection: makes the allocators (pmm_alloc,
// slab_alloc, kmalloc and so kzalloc) report out of memory on purpose, so
// that a test can walk every allocation of a path and check that each
// failure comes back as ERR_NO_MEMORY and frees exactly what was taken.
//
// Nothing is injected unless a test arms it; then the check in the
// allocators is one load of a global.
#pragma once

#include <stdbool.h>

#define ALLOCFAIL_STICKY     1u // every allocation after the nth fails too
#define ALLOCFAIL_ANY_THREAD 2u // count every thread's allocations, not only the caller's

// Arms the injector: the nth allocation from now (1 = the next) fails. Only
// the calling thread's allocations count unless ALLOCFAIL_ANY_THREAD.
void allocfail_arm(unsigned long nth, unsigned flags);

// Disarms it. Returns how many failures were injected since allocfail_arm.
unsigned long allocfail_disarm(void);

// Allocations counted since allocfail_arm (failed ones included).
unsigned long allocfail_seen(void);

// For the allocators: true when this allocation must fail.
bool allocfail_should_fail(void);
