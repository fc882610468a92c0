// Splitting a thread's run into runtime and steal time (sched.c).
#pragma once

#include <stdint.h>

// What earlier readings of one run reported.
struct steal_split {
    uint64_t time_seen, steal_seen;
};

// The steal part of a run that has lasted `ran` ns while the hypervisor's
// steal counter grew by `stolen` ns: at most `ran`, and neither part below
// what an earlier reading reported (*seen is updated). `ran` must not be
// less than at the previous reading.
uint64_t steal_split(struct steal_split *seen, uint64_t ran, uint64_t stolen);
