// Copies between kernel and user memory. A bad user pointer (outside the
// user half, unmapped, or without the needed permission) gives
// ERR_INVALID_ARGS, never a crash; pages not yet present are faulted in.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

status_t copy_from_user(void *dst, uintptr_t src, size_t n);
status_t copy_to_user(uintptr_t dst, const void *src, size_t n);

// Copies a NUL-terminated string of at most cap-1 bytes into dst (always
// terminated). ERR_OUT_OF_RANGE if no NUL is found within cap bytes.
status_t copy_string_from_user(char *dst, uintptr_t src, size_t cap, size_t *len);

// True if [addr, addr + n) lies inside the user half.
static inline int user_range_ok(uintptr_t addr, size_t n)
{
    return addr >= 0x10000ull && addr <= 0x00007ffffffff000ull && n <= 0x00007ffffffff000ull - addr;
}
