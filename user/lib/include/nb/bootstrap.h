// The start of a process: its bootstrap channel and the handles on it
// (proto/bootstrap.nidl for the message, docs/USERSPACE.md for the whole
// convention).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nb/abi_pending.h" // AT_NIMBUS_BOOTSTRAP
#include "nimbus/handle.h"
#include "nimbus/status.h"
#include "proto/bootstrap.h"

// The bootstrap channel's handle: the AT_NIMBUS_BOOTSTRAP auxv entry if
// present, else the rdi value saved by nb_start; HANDLE_INVALID if neither
// (a program started by Linux, say).
handle_t nb_bootstrap_channel(void);

// Reads and decodes the start message, once (later calls return the first
// result). ERR_NOT_FOUND without a bootstrap channel, ERR_SHOULD_WAIT if no
// message was queued, ERR_PROTOCOL if it is malformed (its handles are then
// closed). Not thread-safe: call it from the main thread first.
status_t nb_bootstrap_load(void);

// The handle the launcher gave for `role` (the first one, if several), and
// HANDLE_INVALID if none. take hands it over to the caller (later calls do
// not see it); peek leaves it owned by libnimbus. Both load first.
handle_t nb_bootstrap_take(uint32_t role);
handle_t nb_bootstrap_peek(uint32_t role);

// Role names as the init manifest writes them ("log", "initrd", ...), and
// "user0".."user15" for BOOTSTRAP_ROLE_USER0 + n. 0 for an unknown name.
uint32_t nb_bootstrap_role_by_name(const char *name, size_t len);
// The name of a role, or NULL.
const char *nb_bootstrap_role_name(uint32_t role);

// Writes a start message carrying handles[i] for roles[i] on ch. The handles
// move into the message (on failure they stay with the caller).
status_t nb_bootstrap_send(handle_t ch, const uint32_t *roles, const handle_t *handles, uint32_t n);
