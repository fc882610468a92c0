// Helpers shared by the object-layer test suites (kernel/obj/*_test.c):
// a fresh heap on the host, a handle table per test, and leak checks
// against a baseline of live objects, handles, messages, bindings, cells,
// heap objects and free pages. Test threads are pthreads on the host and
// kernel threads in the kernel.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/ktest.h"
#include "nimbus/object.h"
#include "obj/handle.h"

struct obj_baseline {
    uint64_t objs[OBJ_TYPE_COUNT];
    uint64_t handles, msgs, bindings, cells;
    uint64_t heap_objs;  // objects in use over all slab caches
    uint64_t free_pages; // pmm free pages once empty slabs are reclaimed
};

// Resets the heap (host only) and records the baseline.
void objtest_begin(struct obj_baseline *b);

// Expects everything back at the baseline (call after destroying tables).
void objtest_expect_baseline(struct ktest *t, const struct obj_baseline *b);

// Current figures (for tests that compare mid-way).
void objtest_snapshot(struct obj_baseline *b);

// The rights of h, or 0 if h is not valid.
rights_t objtest_rights(struct handle_table *t, handle_t h);

// Deadline `ms` milliseconds from now.
uint64_t objtest_deadline_ms(uint64_t ms);

// A thread running fn(arg); objtest_join waits for it.
struct objtest_thread {
    uint64_t opaque[2];
};
void objtest_spawn(struct objtest_thread *th, void (*fn)(void *), void *arg);
void objtest_join(struct objtest_thread *th);
void objtest_sleep_ms(uint64_t ms);
// Polls until *p == want (up to 2 s); returns whether it got there.
bool objtest_wait_for(volatile int *p, int want);
// Polls until `n` threads are blocked in o's wait queue (up to 2 s).
bool objtest_wait_blocked(struct handle_table *t, handle_t h, int n);
