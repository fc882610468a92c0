// The `clockcheck=SECONDS` boot check: the monotonic clock against the
// host's (the integration tests time the two lines it prints) and against
// itself across CPUs.
#pragma once

// Runs the check if the command line asked for it; otherwise returns at
// once. A thread with interrupts on, after every CPU has started.
void clockcheck_run(void);
