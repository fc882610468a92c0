// ABI that libnimbus needs and include/nimbus/ does not declare yet. Each
// item is a proposal for the kernel side (docs/USERSPACE.md, "Pending ABI");
// once include/nimbus/ has it, the item goes from here.
#pragma once

#include <stdint.h>

#include "nimbus/bootstrap.h"
#include "nimbus/syscall.h"
