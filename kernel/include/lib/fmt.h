// Freestanding formatted output. Supports %d %i %u %x %X %o %c %s %p %%, the
// length modifiers hh h l ll z t j, flags - 0 + space #, width and precision
// (also as *). %p prints 0x followed by 16 hex digits.
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "lib/compiler.h"

// Like vsnprintf: writes at most n bytes including the NUL, returns the length
// the full output would have had.
int kvsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t n, const char *fmt, ...) __printf(3, 4);
