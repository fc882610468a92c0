// System information for commands (ps, mem, dmesg, handles ...): reading
// NB_SYS_SYSTEM_INFO topics, and the formatting the commands share. The
// formatting functions are pure C (the host tests build them); each writes
// a NUL-terminated string into buf (cut to fit) and returns buf.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nimbus/handle.h"
#include "nimbus/process.h"
#include "nimbus/rights.h"
#include "nimbus/status.h"
#include "nimbus/sysinfo.h"

// ---- Formatting (user/lib/sysinfo.c) ----

// "channel", "vmo", "process" ... for OBJ_*; "none" for OBJ_NONE (a revoked
// handle), "?" for an unknown type.
const char *nb_object_type_name(uint32_t type);

// Rights as fixed-position letters, '-' for a missing right, in the order
// of NB_RIGHTS_LETTERS; a trailing '+' if bits outside RIGHTS_ALL are set.
// buf needs NB_RIGHTS_BUF bytes.
#define NB_RIGHTS_LETTERS "rwdtmxspWIM"
#define NB_RIGHTS_BUF     13
char *nb_format_rights(rights_t rights, char *buf, size_t size);

// "512 B", "4.0 KiB", "1.5 MiB", "2.0 GiB" (one decimal, rounded down).
char *nb_format_size(uint64_t bytes, char *buf, size_t size);

// A process state: "new", "running", "dead", or "killed" / "faulted" for a
// dead process ended that way.
const char *nb_process_state_name(uint32_t state, uint32_t flags);

// Seconds with milliseconds: "12.345".
char *nb_format_seconds(uint64_t ns, char *buf, size_t size);

// An uptime: "1:02:03" (h:mm:ss), with "N days, " in front past a day.
char *nb_format_uptime(uint64_t ns, char *buf, size_t size);

// A Unix time as "YYYY-MM-DD HH:MM:SS UTC" (proleptic Gregorian calendar).
char *nb_format_date(uint64_t unix_ns, char *buf, size_t size);

// A log record as dmesg prints it: "[    1.234567] text" (microseconds).
char *nb_format_log_record(const struct nb_log_record *rec, char *buf, size_t size);

// A decimal process id (1 .. UINT64_MAX, digits only): OK, or
// ERR_INVALID_ARGS.
status_t nb_parse_pid(const char *s, uint64_t *pid);

// ---- Reading (user/lib/info.c) ----

// The data of a topic in a malloc'd buffer (*buf, free it) of *size bytes;
// grows the buffer while the data does not fit.
status_t nb_info_get(handle_t info, uint32_t topic, void **buf, size_t *size);

// The bootstrap handle of `role` (kept by libnimbus), or HANDLE_INVALID
// after printing "CMD: no ROLE handle (start me with handles=ROLE)" on
// stderr.
handle_t nb_cmd_handle(const char *cmd, uint32_t role);
