// Interrupt objects: a user-space driver's end of one interrupt line (GSI).
// When the line fires the object asserts SIGNAL_SIGNALED (a level-triggered
// line is masked first, so it does not fire again before the driver has
// served its device); interrupt_ack clears the signal and unmasks. One
// object per GSI: the line is claimed from its kernel owner, if any (the
// console's COM1 input), for as long as a handle to the object exists
// (arch_irq_gsi_claim), then masked and given back. docs/DEVICES.md.
#pragma once

#include "nimbus/resource.h"
#include "obj/handle.h"

// Rights of a new handle: WAIT, INSPECT, DUPLICATE, TRANSFER, WRITE (ack).
#define INTERRUPT_RIGHTS \
    (RIGHT_WAIT | RIGHT_INSPECT | RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_WRITE)

// A new interrupt object for `gsi` (flags: NB_INTERRUPT_EDGE or
// NB_INTERRUPT_LEVEL), its line routed and unmasked. ERR_INVALID_ARGS for
// unknown flags, ERR_ALREADY_EXISTS if the GSI has an object already,
// ERR_NOT_FOUND if no IOAPIC has the line, ERR_NO_RESOURCES without a free
// vector. The caller checks the resource.
status_t interrupt_create(struct handle_table *t, uint32_t gsi, uint32_t flags, handle_t *out);

// Clears SIGNAL_SIGNALED and unmasks a level-triggered line (needs WRITE).
status_t interrupt_ack(struct handle_table *t, handle_t h);

// A new interrupt object for a message-signalled interrupt (flags must be 0):
// a fresh vector, and in *msg the address and data the device must write to
// raise it (program them into the function's MSI capability or MSI-X
// table). Edge-triggered: SIGNALED when it fires, interrupt_ack clears it,
// nothing is masked. The vector is freed with the last handle.
// ERR_NO_RESOURCES without a free vector. The caller checks the resource.
status_t interrupt_create_msi(struct handle_table *t, uint32_t flags, handle_t *out,
                              struct nb_msi_message *msg);
