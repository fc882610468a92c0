// Devices through the device manager (docs/DEVICES.md, "The devices
// protocol and the connect convention"), for programs started with the
// `devices` role (handles=devices in the init manifest or /etc/commands).
#pragma once

#include <stdint.h>

#include "nimbus/handle.h"
#include "nimbus/status.h"

// A new connection to the driver of the index-th device of class
// `class_name` ("blk", "net", "console" ...), in *out. Takes the `devices`
// bootstrap role (ERR_BAD_HANDLE without one) and asks devmgr to `open`
// the device, waiting at most timeout_ns (0: for ever). devmgr's answer
// otherwise: ERR_NOT_FOUND (no such device), ERR_BAD_STATE (its driver is
// not running), or the transport's error.
status_t nb_device_open(const char *class_name, uint32_t index, uint64_t timeout_ns, handle_t *out);
