// Power-off and reboot. Each tries, in order, a hypervisor's own method (when
// one was registered), then ACPI, then legacy mechanisms, and never returns.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "nimbus/status.h"

// A hypervisor's power methods (Xen SCHEDOP_shutdown, say). Each returns only
// when it failed, with the reason.
struct power_hv_ops {
    const char *name;
    status_t (*power_off)(void);
    status_t (*reboot)(void);
};

// Registers ops (static storage; NULL members are skipped). Called once at
// boot by the hypervisor layer; a later call replaces the earlier one.
void power_set_hv_ops(const struct power_hv_ops *ops);

// Turns the machine off: hypervisor method, then ACPI S5 (hardware-reduced
// sleep control register, else PM1a/PM1b control), else halts with a
// message. Interrupts are disabled first. Uses acpi() if acpi_init() ran.
__noreturn void power_off(void);

// Resets the machine: hypervisor method, then the ACPI reset register (when
// the FADT offers it), the 8042 keyboard controller (when present), the PCI
// reset control port 0xcf9 (not on hardware-reduced ACPI platforms), and
// last a triple fault.
__noreturn void power_reboot(void);

// NB_SYS_POWER: logs "power: off requested by WHO" (or reboot), then
// power_off() or power_reboot().
__noreturn void power_request(bool reboot, const char *who);

// Port I/O wider than a byte, for ACPI registers (kernel/arch/x86_64/acpi_pio.c).
uint16_t arch_pio_in16(uint16_t port);
void arch_pio_out16(uint16_t port, uint16_t v);
uint32_t arch_pio_in32(uint16_t port);
void arch_pio_out32(uint16_t port, uint32_t v);

// Resets the CPU the hard way: loads an empty IDT and raises an exception, so
// that the exception cannot be delivered (shutdown; a VM resets or ends).
__noreturn void arch_triple_fault(void);
