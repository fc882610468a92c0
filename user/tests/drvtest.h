// What blktest and nettest share: the resources of one virtio-mmio device
// (given by init, or derived from root_resource) and starting its driver
// themselves, with duplicates of them (kept for a restart) and a new
// service channel.
#pragma once

#include <stdint.h>

#include "nb/initrd.h"
#include "nimbus/handle.h"
#include "nimbus/status.h"

struct drvtest {
    const char *test;        // "blktest": the prefix of messages
    const char *program;     // "/bin/virtio-blk"
    const char *const *argv; // the driver's argv (program first)
    struct nb_initrd initrd; // opened by drvtest_open
    handle_t res[3];         // mmio (the page of the registers), irq, dma
};

// The role's handle from init, else a resource of `kind` derived from
// root_resource (ERR_NOT_FOUND without either).
status_t drvtest_resource(uint32_t role, uint32_t kind, uint64_t base, uint64_t size,
                          handle_t *out);

// Opens the initrd and gets the device's resources: the MMIO page holding
// `addr`, the GSI, DMA. Says what is missing on stderr.
status_t drvtest_open(struct drvtest *d, uint64_t addr, uint64_t gsi);

// Starts d->program with duplicates of the resources, the log if there is
// one and a new service channel: *client is our end, *proc the driver.
status_t drvtest_spawn(struct drvtest *d, handle_t *client, handle_t *proc);

// Starts argv[0] from the initrd with `service` (handed over) as its
// `service` role and a new channel as its `stdout`: *proc is the process,
// *out_ch our end of its output. OK or why it could not start.
status_t drvtest_start_command(struct drvtest *d, const char *const *argv, handle_t service,
                               handle_t *proc, handle_t *out_ch);

// Reads the command's output into out (NUL-terminated, at most cap - 1
// bytes) until it closes its end or `deadline` passes, then waits for the
// command (killing it at the deadline). Closes both handles. Its exit
// code, or -1 when it did not end.
int drvtest_finish_command(handle_t proc, handle_t out_ch, uint64_t deadline, char *out,
                           size_t cap);
