// Resource objects: capabilities to privileged operations. The kernel makes
// the first ones (for /init); holders derive narrower ones with
// resource_create and pass them on like any handle. I/O port and IRQ
// resources carry a range [base, base + size) (docs/DEVICES.md).
#pragma once

#include <stdbool.h>

#include "nimbus/resource.h"
#include "obj/handle.h"

#define RESOURCE_IOPORT_LIMIT 0x10000u     // I/O ports are 16-bit
#define RESOURCE_MMIO_LIMIT   (1ull << 46) // physical addresses (MMIO ranges)

// Whether resources of `kind` have a range (IOPORT, IRQ, MMIO, PCI).
bool resource_kind_has_range(uint32_t kind);
// The end of the space a range kind covers: 0x10000 ports, or the GSIs the
// IOAPICs have (arch_irq_gsi_count), 2^46 physical addresses (MMIO), the
// NB_PCI_ID_LIMIT function ids (PCI); 0 for other kinds.
uint64_t resource_kind_limit(uint32_t kind);

// A resource of `kind` (NB_RESOURCE_*) for the kernel's own use, holding one
// reference. The range form is for IOPORT and IRQ (inside the kind's limit:
// ERR_OUT_OF_RANGE, size 0: ERR_INVALID_ARGS); other kinds take no range
// (base and size 0, else ERR_INVALID_ARGS).
status_t resource_create_kernel(uint32_t kind, struct kobject **out);
status_t resource_create_kernel_range(uint32_t kind, uint64_t base, uint64_t size,
                                      struct kobject **out);

// NB_SYS_RESOURCE_CREATE: a new resource derived from `parent` (needs
// RIGHT_DUPLICATE), as a handle with DUPLICATE, TRANSFER and INSPECT. ROOT
// makes any kind (ranges checked against the kind's limit); an IOPORT or IRQ
// resource makes a sub-range of its own kind (ERR_OUT_OF_RANGE outside its
// range); anything else ERR_ACCESS_DENIED. ERR_INVALID_ARGS for an unknown
// kind, a range of size 0, or a range on a kind without one.
status_t resource_create(struct handle_table *t, handle_t parent, uint32_t kind, uint64_t base,
                         uint64_t size, handle_t *out);

// NB_SYS_RESOURCE_INFO (needs RIGHT_INSPECT).
status_t resource_info(struct handle_table *t, handle_t h, struct nb_resource_info *out);

// Checks that h is a resource of `kind`: ERR_WRONG_TYPE for another object
// or another kind of resource.
status_t resource_check(struct handle_table *t, handle_t h, uint32_t kind);

// Checks that h is a range resource of `kind` covering [base, base + size):
// ERR_WRONG_TYPE as above, ERR_OUT_OF_RANGE outside its range,
// ERR_INVALID_ARGS for size 0.
status_t resource_check_range(struct handle_table *t, handle_t h, uint32_t kind, uint64_t base,
                              uint64_t size);

// The resource object behind h, with a reference, if it is of `kind`
// (ERR_WRONG_TYPE otherwise, as resource_check).
status_t resource_get(struct handle_table *t, handle_t h, uint32_t kind, struct kobject **out);

// DMA resources: a dead contiguous vmo's quarantine entry (its memory may
// still be a device's target) joins the resource's list; the resource frees
// them all when it dies (docs/DEVICES.md, "DMA after a driver dies").
void resource_dma_quarantine(struct kobject *dma_res, struct list_node *n);
// How many vmos wait on the quarantine (tests).
uint64_t resource_dma_quarantined(struct kobject *dma_res);
