// The smallest guest (QEMU -m, in MiB) with which the default system (init,
// console, hello, nsh) comes up; measured, see docs/BOOT.md "Memory floor".
// Below it the kernel says so in one line and stops (exit status 37 with
// panic=exit). Shared by C and the PVH entry code.
#pragma once

#define NIMBUS_MIN_MEMORY_MIB 11
