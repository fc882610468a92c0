// Monotonic time and deadlines (absolute CLOCK_MONOTONIC nanoseconds, as
// every native call takes them).
#pragma once

#include <stdint.h>

#define NB_NSEC_PER_MSEC 1000000ull
#define NB_NSEC_PER_SEC  1000000000ull

// Now, or 0 if the clock cannot be read.
uint64_t nb_now(void);
// now + ns, saturating at NB_DEADLINE_INFINITE.
uint64_t nb_deadline_after(uint64_t ns);
