// The init manifest (/etc/init.manifest): which programs init starts, with
// which handles, arguments and restart policy. Format in docs/USERSPACE.md:
//
//   # name   path         options                      -- arguments
//   hello    /bin/hello   handles=log                  -- hello world
//   netd     /bin/netd    handles=log?,self restart=5
//   console  /bin/console handles=ioport,irq provides=console restart
//   nsh      /bin/nsh     stdio=console restart=1000
//   vnsh     /bin/nsh     stdio=device:console restart=1000
//
// Pure C over the C library: the host tests build it too.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

#define MANIFEST_NAME_MAX        31   // characters of a program name
#define MANIFEST_LINE_MAX        1024 // characters of a line
#define MANIFEST_ARGS_MAX        32   // arguments after "--"
#define MANIFEST_ENV_MAX         16   // env= options
#define MANIFEST_HANDLES_MAX     16   // roles in handles=
#define MANIFEST_RESTART_MAX     1000 // restart=N
#define MANIFEST_RESTART_DEFAULT 5
#define MANIFEST_PROGRAMS_MAX    64

// Services a line may provide (provides=NAME) and others use (stdio=NAME).
#define MANIFEST_SERVICE_NONE    0
#define MANIFEST_SERVICE_CONSOLE 1 // proto/console.nidl; role "console" for its provider
// proto/devmgr.nidl: role "service" for its provider; a line with
// handles=devices gets a client channel, connected through the provider's
// service channel (docs/DEVICES.md, "Device manager").
#define MANIFEST_SERVICE_DEVICES 2

struct manifest_entry {
    char name[MANIFEST_NAME_MAX + 1];
    const char *path;                        // as written ("/bin/hello")
    const char *argv[MANIFEST_ARGS_MAX + 2]; // argv[0] = path; NULL-terminated
    const char *envp[MANIFEST_ENV_MAX + 1];  // NULL-terminated
    uint32_t roles[MANIFEST_HANDLES_MAX];    // BOOTSTRAP_ROLE_*, in the order given
    uint32_t nroles;
    uint32_t optional; // bit i set: roles[i] was written "role?" (may be missing)
    bool wait;         // start the next programs only once this one has ended
    uint32_t provides; // MANIFEST_SERVICE_*: init makes the service channel
    uint32_t stdio;    // MANIFEST_SERVICE_*: stdin/out/err and tty from this service
    // stdio=device:CLASS (stdio is MANIFEST_SERVICE_DEVICES): the class of
    // the device whose driver serves the terminal (device 0 of it); else NULL.
    const char *stdio_device;
    int provider;      // stdio: the index of the entry providing it; else -1
    uint32_t restarts; // restarts allowed in a row (0: never restart)
    unsigned line;     // where it was written
};

struct manifest {
    struct manifest_entry *entries;
    size_t count;
    char *text; // private: the copy the strings point into
};

// Parses `len` bytes of manifest text. On failure *m is empty and err holds
// "line N: what is wrong". ERR_BAD_FORMAT (syntax, unknown option or role,
// repeated name, a limit exceeded), ERR_NO_MEMORY.
status_t manifest_parse(const char *text, size_t len, struct manifest *m, char *err,
                        size_t err_size);
void manifest_free(struct manifest *m);
// "console" for MANIFEST_SERVICE_CONSOLE; NULL for anything else.
const char *manifest_service_name(uint32_t service);
// The role a service's provider gets its server end as (console: "console";
// others: "service"); 0 for no service.
uint32_t manifest_service_role(uint32_t service);
// The service whose clients get `role` (handles=devices: the devices
// service), or MANIFEST_SERVICE_NONE.
uint32_t manifest_service_by_client_role(uint32_t role);
