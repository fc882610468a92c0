// System calls for user-space drivers (docs/DEVICES.md): resources, I/O
// port permissions, interrupt objects and power. Entries of the native table.
#pragma once

#include <stdint.h>

int64_t sys_resource_create(const uint64_t a[6]);
int64_t sys_resource_info(const uint64_t a[6]);
int64_t sys_ioport_enable(const uint64_t a[6]);
int64_t sys_interrupt_create(const uint64_t a[6]);
int64_t sys_interrupt_ack(const uint64_t a[6]);
int64_t sys_power(const uint64_t a[6]);
int64_t sys_vmo_create_physical(const uint64_t a[6]);
int64_t sys_vmo_create_contiguous(const uint64_t a[6]);
int64_t sys_vmo_phys(const uint64_t a[6]);
int64_t sys_pci_config_read(const uint64_t a[6]);
int64_t sys_pci_config_write(const uint64_t a[6]);
int64_t sys_interrupt_create_msi(const uint64_t a[6]);
int64_t sys_entropy_add(const uint64_t a[6]);
