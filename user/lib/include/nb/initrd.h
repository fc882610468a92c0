// The initrd from user space: a vmo holding a cpio "newc" archive (the
// bootstrap "initrd" handle), mapped read-only and searched with the
// kernel's own parser (kernel/lib/cpio.c, built into libnimbus).
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/cpio.h"
#include "nimbus/handle.h"
#include "nimbus/status.h"

struct nb_initrd {
    handle_t vmo;     // still owned by the caller
    const void *base; // the archive in memory
    size_t size;
    bool mapped; // base is a mapping (else a malloc'd copy)
};

// Maps vmo (needs READ and MAP; without MAP it is read into memory instead).
status_t nb_initrd_open(struct nb_initrd *rd, handle_t vmo);
void nb_initrd_close(struct nb_initrd *rd);

// A regular file of the archive: cpio_find's statuses.
status_t nb_initrd_find(const struct nb_initrd *rd, const char *path, const void **data,
                        size_t *size);
