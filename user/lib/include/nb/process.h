// Starting programs and waiting for them to end.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nimbus/handle.h"
#include "nimbus/process.h"
#include "nimbus/status.h"

// Where nb_spawn puts a new process's stack, and its default size.
#define NB_SPAWN_STACK_TOP     0x00007ffffff00000ull
#define NB_SPAWN_STACK_DEFAULT (256u * 1024)
#define NB_SPAWN_STACK_MAX     (64u * 1024 * 1024)

// What to start. The handles are consumed: moved into the new process on
// success, closed on failure.
struct nb_spawn {
    const char *name; // the process's name (kernel limits apply)
    const void *elf;  // a static ELF image (ET_EXEC or static-pie)
    size_t elf_size;
    const char *const *argv; // NULL-terminated; argv[0] by convention the path
    const char *const *envp; // NULL-terminated, or NULL
    const uint32_t *roles;   // roles[i] of handles[i] (BOOTSTRAP_ROLE_*)
    const handle_t *handles;
    uint32_t nhandles;
    bool give_self;      // also hand the process a handle to itself
    handle_t vmex;       // makes code executable; HANDLE_INVALID: the caller's
                         // bootstrap "vmex" handle (never consumed)
    uint64_t stack_size; // 0: the image's PT_GNU_STACK size, else the default
};

// Loads the image into a new process and starts it with a bootstrap channel
// carrying the handles. *process: a handle to it (wait for SIGNAL_TERMINATED
// on it). ELF statuses of elf_parse; the kernel's otherwise.
status_t nb_spawn(const struct nb_spawn *sp, handle_t *process);

// Waits until the process ends (or the deadline: ERR_TIMED_OUT) and reports
// how (NB_SYS_PROCESS_INFO).
status_t nb_process_wait(handle_t process, uint64_t deadline, struct nb_process_info *info);

// A line such as "exited with 3" or "faulted (exit code 139: page or
// protection fault)".
void nb_process_describe(const struct nb_process_info *info, char *buf, size_t size);
