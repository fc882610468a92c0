// Linux file descriptors backed by channels (docs/USERSPACE.md, "Standard
// input and output"). The call itself is nb_fd_bind (nb/syscall.h).
#pragma once

// Binds duplicates of the bootstrap handles with roles stdin, stdout and
// stderr to fds 0, 1 and 2 (NB_FD_TERMINAL when a `tty` role is present),
// leaving the originals with libnimbus (nb_bootstrap_peek still finds
// them). A role that is missing leaves its fd to the kernel's fallback (the
// debug console). Runs once, before main and any other constructor
// (start.S lists it in .init_array); later calls do nothing.
void nb_stdio_init(void);
