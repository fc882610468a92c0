// What every virtio driver service shares (docs/VIRTIO.md): the device's
// location from the command line, its registers and interrupt from the
// bootstrap roles, and DMA memory.
//
//   --mmio ADDR[:SIZE] --irq GSI [--irq-level]   virtio-mmio (SIZE 0x200)
//   --pci [SEG:]BUS:DEV.FN                         virtio-pci modern (MSI-X)
//
// Roles: `mmio` (covering the registers; pci: one per memory BAR, as
// devmgr gives them, or one covering them all), `irq` (mmio: covering
// the GSI), `pci` (pci: covering the function), `dma`.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nb/loop.h"
#include "nb/virtio.h"
#include "nimbus/handle.h"

struct vdrv_args {
    bool have_mmio, have_pci;
    uint64_t mmio_addr;
    uint32_t mmio_size;
    uint32_t gsi;
    bool have_irq, irq_level;
    uint32_t pci_id; // NB_PCI_ID
};

// Consumes argv[*i] (and its value) when it is a location option: 1 if
// consumed, 0 if not one of them, -1 on a bad value (err says why).
int vdrv_arg(struct vdrv_args *a, int argc, char **argv, int *i, char *err, size_t errlen);
// Checks that exactly one location was given.
bool vdrv_args_ok(const struct vdrv_args *a, char *err, size_t errlen);
// argv[1..] holds location options only (vdrv_arg), and vdrv_args_ok holds.
bool vdrv_parse_args(struct vdrv_args *a, int argc, char **argv, char *err, size_t errlen);

struct vdrv {
    const char *name;
    struct nb_virtio_dev dev;
    handle_t irq; // interrupt object (wait for SIGNAL_SIGNALED, then vdrv_irq_ack)
    handle_t dma; // dma resource
    handle_t mmio, pci;
    handle_t bars[6]; // pci: devmgr's `mmio` handles, one per memory BAR
    unsigned nbars;
    uint32_t pci_id;
    bool msix;
};

// Loads the bootstrap message, maps the device, checks its id and makes the
// interrupt object. The roles are taken from the bootstrap message.
status_t vdrv_open(struct vdrv *v, const char *name, const struct vdrv_args *a, uint32_t device_id);
// The start of a driver that serves a channel (blk, net, console): parses
// argv (location options only; else the usage line on stderr and the log,
// exit status 2), vdrv_open (1 on failure) and takes the `service` role
// (1 without it). 0 with *service on success, else the exit status.
int vdrv_start_service(struct vdrv *v, const char *name, uint32_t device_id, int argc, char **argv,
                       handle_t *service);
// Whether the interrupt was this device's (reads and acknowledges the
// device's interrupt status; MSI-X: always).
bool vdrv_irq_status(struct vdrv *v);
status_t vdrv_irq_ack(struct vdrv *v);

// The interrupt half of a driver's event loop. On each interrupt: the
// device's interrupt status is read (and so acknowledged; with MSI-X every
// interrupt may mean either cause), `config` runs when the configuration
// changed (may be NULL), `serve` drains the queues, the interrupt object is
// acknowledged (unmasked), `serve` runs again for what completed in
// between, and the wait is armed again. A failed wait is logged with the
// driver's name and stops the loop. vdrv_irq_start acknowledges once and
// serves once (what the device did before the wait began).
struct vdrv_irq {
    struct vdrv *v;
    struct nb_loop *loop;
    void (*serve)(void);
    void (*config)(void);
    struct nb_wait wait; // private
};
status_t vdrv_irq_start(struct vdrv_irq *irq);

// Contiguous, pinned memory the device may use: mapped at va, at pa.
struct vdrv_dma {
    handle_t vmo;
    uint8_t *va;
    uint64_t pa;
    size_t size;
};
status_t vdrv_dma_alloc(struct vdrv *v, size_t size, struct vdrv_dma *out);
void vdrv_dma_free(struct vdrv_dma *m);

// Sets up queue `index` with at most `want` entries (the device's maximum
// if smaller) in fresh DMA memory.
status_t vdrv_queue(struct vdrv *v, struct nb_virtq *q, uint16_t index, uint16_t want,
                    struct vdrv_dma *mem);
