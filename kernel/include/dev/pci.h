// PCI configuration space for user-space drivers (docs/DEVICES.md): ECAM
// windows from ACPI MCFG, mapped into the kernel's MMIO area one bus at a
// time on first use, else the legacy configuration ports 0xcf8/0xcfc
// (segment 0, offsets below 256). And the device-memory policy: which
// physical ranges a driver may map.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/phys.h"
#include "nimbus/status.h"
#include "nimbus/sysinfo.h"

#define PCI_LEGACY_CONFIG_SIZE 256u
#define PCI_ECAM_CONFIG_SIZE   4096u

// Reads or writes `width` (1, 2 or 4) bytes at `offset` of function `id`
// (NB_PCI_ID). ERR_INVALID_ARGS for another width or an offset not aligned to
// it; ERR_OUT_OF_RANGE for an offset past the configuration space (4096 with
// ECAM, 256 with the ports) or an id no ECAM window covers (with ECAM), or a
// segment other than 0 (ports). A function that is not there reads as all
// ones, as on hardware.
status_t pci_config_read(uint32_t id, uint32_t offset, uint32_t width, uint32_t *value);
status_t pci_config_write(uint32_t id, uint32_t offset, uint32_t width, uint32_t value);

// True when configuration space goes through ECAM (an MCFG table was found).
bool pci_has_ecam(void);
// The ECAM windows (NB_INFO_PCI_ECAM): copies up to max, returns how many
// there are.
size_t pci_ecam_list(struct nb_pci_ecam *out, size_t max);

// May a driver map [pa, pa + size) as device memory? ERR_ACCESS_DENIED when
// it overlaps RAM (the boot memory map's RAM, ACPI, NVS and persistent-memory
// ranges) or a device the kernel drives itself: the Local APIC page, the
// IOAPICs, the HPET and the ECAM windows. ERR_OUT_OF_RANGE when it wraps.
status_t devmem_check(paddr_t pa, uint64_t size);
