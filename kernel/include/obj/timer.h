// Timer objects: assert SIGNALED when a deadline (clock_monotonic_ns) passes.
// Built on sched/timer.h. Setting clears SIGNALED and (re)arms; cancelling
// disarms and clears SIGNALED. An armed timer holds a reference on itself,
// dropped when it fires or is cancelled; the last handle going cancels it.
#pragma once

#include <stdint.h>

#include "obj/handle.h"

// Default rights: READ, WRITE, DUPLICATE, TRANSFER, WAIT, INSPECT.
status_t timer_create(struct handle_table *t, handle_t *out);

// Arms the timer for `deadline` (needs RIGHT_WRITE); a past deadline fires
// at once.
status_t timer_set(struct handle_table *t, handle_t h, uint64_t deadline);

// Disarms the timer and clears SIGNALED (needs RIGHT_WRITE).
status_t timer_cancel(struct handle_table *t, handle_t h);
