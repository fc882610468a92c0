// How a new process finds its bootstrap channel (docs/USERSPACE.md): the
// handle value arrives in rdi at the entry point, and a launcher that knows
// it when building the initial stack also puts it in the auxiliary vector.
#pragma once

#define AT_NIMBUS_BOOTSTRAP 0x4e42 // 'N' 'B': value of the bootstrap handle
