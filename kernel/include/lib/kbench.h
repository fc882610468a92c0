// In-kernel micro-benchmarks, run at boot with `kbench` (or `kbench=a,b`) on
// the command line. Each case returns the TSC cycles one operation took,
// averaged over `iters` operations; the runner repeats it and prints, per
// case, one line that tools/bench.py reads:
//
//   kbench: NAME median_ns=... min_ns=... max_ns=... median_cycles=... rounds=N
//
// Under QEMU -icount shift=0,sleep=off the TSC counts instructions, so the
// cycle figures are deterministic instruction counts.
#pragma once

#include <stdint.h>

#include "lib/compiler.h"

struct kbench {
    const char *name;
    uint64_t (*run)(uint64_t iters); // returns cycles per operation
    uint64_t iters;                  // operations per round
};

#define KBENCH(ident, bname, fn, n)                                                       \
    static const struct kbench ident##_kbench = {(bname), (fn), (n)};                     \
    static const struct kbench *const ident##_kbench_ptr __used __section("kbench_cases") \
        __aligned(8) = &ident##_kbench

// Runs the benchmarks named in filter (comma-separated; NULL or "" = all).
void kbench_run(const char *filter);
