// System information for user space (include/nimbus/sysinfo.h): the
// NB_SYS_SYSTEM_INFO topics, processes by id, a process's handle table and
// the log calls. The handlers decode and copy; the sysinfo_* functions work
// on kernel memory, so the in-kernel tests call them directly.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nimbus/sysinfo.h"
#include "obj/handle.h"

struct process;

#define NIMBUS_VERSION "Nimbus 0.1"

// The data of `topic` (NB_INFO_*) for the holder of info resource h (a
// resource of kind NB_RESOURCE_INFO in t: ERR_WRONG_TYPE otherwise), as
// NB_SYS_SYSTEM_INFO gives it: copied to buf when it fits in size, else
// ERR_BUFFER_TOO_SMALL; *actual is the full size either way.
// ERR_INVALID_ARGS for an unknown topic.
status_t sysinfo_get(struct handle_table *t, handle_t h, uint32_t topic, void *buf, size_t size,
                     size_t *actual);

// A handle in t to the live process `pid` (default process rights), for the
// holder of a NB_RESOURCE_PROCESS resource h. ERR_NOT_FOUND.
status_t sysinfo_process_get(struct handle_table *t, handle_t h, uint64_t pid, handle_t *out);

// The handles of process p: out[0 .. *count) when *count <= max, else
// ERR_BUFFER_TOO_SMALL (*count is the number of handles either way).
status_t sysinfo_process_handles(struct process *p, struct nb_handle_entry *out, size_t max,
                                 size_t *count);

// System call handlers (kernel/sys/native.c's table).
int64_t sys_system_info(const uint64_t a[6]);
int64_t sys_process_get(const uint64_t a[6]);
int64_t sys_process_handles(const uint64_t a[6]);
int64_t sys_log_write(const uint64_t a[6]);
int64_t sys_log_read(const uint64_t a[6]);
