// A helper for in-kernel tests that need to stay on one CPU.
#pragma once

#include "lib/ktest.h"

// Runs fn(t) in a thread pinned to CPU 0, with interrupts on, and waits for
// it: "this CPU" then stays the same across blocking calls (the calling
// thread may move when it blocks).
void ktest_run_on_cpu0(struct ktest *t, void (*fn)(struct ktest *t));
