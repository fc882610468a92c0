// Starting the first user program (/init, or `init=PATH`) from the initrd.
#pragma once

#include "nimbus/status.h"

struct process;

// Loads and starts it; *out gets the process (one reference). ERR_NOT_FOUND
// without an initrd or without the program in it; ERR_BAD_FORMAT,
// ERR_NOT_SUPPORTED for an ELF the loader refuses.
status_t init_launch(struct process **out);
