// What happens after a fatal kernel error, and faults taken on purpose for
// the integration tests (command line `crash=KIND`).
#pragma once

#include "lib/compiler.h"

// Ends the machine after a fatal report: exits QEMU (status 37) when the
// command line says `panic=exit`, else halts.
__noreturn void crash_stop(void);

// Takes the fault named by `crash=` if one was asked for.
void crash_requested(void);
