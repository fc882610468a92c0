// System call tables. Each handler decodes its raw arguments, copies user
// memory in and out, and calls the object layer with the calling process's
// handle table.
#pragma once

#include <stdint.h>

#include "nimbus/handle.h"

typedef int64_t (*sys_handler)(const uint64_t a[6]);

// The native table (include/nimbus/syscall.h numbers), indexed from
// NB_SYSCALL_BASE; NULL entries are unassigned numbers.
extern const sys_handler native_syscalls[];
extern const unsigned native_syscall_count;

// Stores a new handle h (in the caller's table) at the user address uptr;
// if that fails the handle is closed again, so it does not leak (native.c).
int64_t sys_put_handle(uintptr_t uptr, handle_t h);

// The Linux personality: returns -ENOSYS for calls it does not implement.
int64_t linux_syscall(uint64_t nr, const uint64_t a[6]);
