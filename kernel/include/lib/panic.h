// panic() is for broken kernel invariants only: it prints the message, the
// registers and a symbolized backtrace, then stops the machine.
#pragma once

#include "lib/compiler.h"

__noreturn void panic(const char *fmt, ...) __printf(1, 2);

#define ASSERT(e)                                                                           \
    do {                                                                                    \
        if (unlikely(!(e)))                                                                 \
            panic("assertion failed: %s at %s:%d in %s", #e, __FILE__, __LINE__, __func__); \
    } while (0)
