// The kernel virtual area for device memory the kernel itself drives (LAPIC,
// IOAPIC, HPET): physical ranges mapped uncached at fresh virtual addresses.
// These mappings live for the whole boot; drivers in user space get their
// MMIO through resource objects instead.
#pragma once

#include <stddef.h>

#include "mm/phys.h"
#include "nimbus/status.h"

// Maps [pa, pa + size) uncached (pa need not be page aligned) and returns the
// virtual address of pa in *out. ERR_NO_RESOURCES when the area is used up.
status_t kva_map_mmio(paddr_t pa, size_t size, void **out);
