// Diagnostics that need no set-up: the kernel's debug console, and the
// kernel log when the process was given one.
#pragma once

#include "nimbus/status.h"

// Writes s to the debug console (NB_SYS_DEBUG_WRITE).
void nb_debug_print(const char *s);
void nb_debug_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// One line to the kernel log (the bootstrap "log" handle) if there is one,
// else to the debug console. Lines longer than NB_LOG_LINE_MAX are cut.
#define NB_LOG_LINE_MAX 256
void nb_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
