// Resources: capabilities to privileged operations, handed out by the
// kernel (to init) and passed on as init's manifest says. A resource has a
// kind and, for I/O ports and interrupt lines, a range [base, base + size).
// The root resource creates any other; a range resource creates resources
// of its own kind inside its range (NB_SYS_RESOURCE_CREATE).
#pragma once

#include <stdint.h>

#define NB_RESOURCE_VMEX     1 // may turn vmos executable (program loaders)
#define NB_RESOURCE_ROOT     2 // may create every other resource (init)
#define NB_RESOURCE_IOPORT   3 // I/O ports [base, base + size) (NB_SYS_IOPORT_ENABLE)
#define NB_RESOURCE_IRQ      4 // interrupt lines (GSIs) [base, base + size) (NB_SYS_INTERRUPT_CREATE)
#define NB_RESOURCE_INFO     5 // system-wide information (NB_SYS_SYSTEM_INFO)
#define NB_RESOURCE_POWER    6 // power off and reboot (NB_SYS_POWER)
#define NB_RESOURCE_PROCESS  7 // a handle to any process by id (NB_SYS_PROCESS_GET)
#define NB_RESOURCE_MMIO     8 // physical addresses [base, base + size) (NB_SYS_VMO_CREATE_PHYSICAL)
#define NB_RESOURCE_PCI      9 // PCI functions [base, base + size) by NB_PCI_ID (config space, MSI)
#define NB_RESOURCE_DMA      10 // contiguous pinned vmos and their physical addresses
#define NB_RESOURCE_ENTROPY  11 // may feed the kernel's entropy pool (NB_SYS_ENTROPY_ADD)
#define NB_RESOURCE_KIND_MAX 11

// A PCI function's id in NB_RESOURCE_PCI ranges and the PCI calls:
// segment (8 bits here), bus (8), device (5), function (3).
#define NB_PCI_ID(seg, bus, dev, fn) \
    (((uint32_t)(seg) << 16) | ((uint32_t)(bus) << 8) | ((uint32_t)(dev) << 3) | (uint32_t)(fn))
#define NB_PCI_ID_LIMIT (1u << 24) // ids are below this

// Cache policies of NB_SYS_VMO_CREATE_PHYSICAL.
#define NB_CACHE_UNCACHED        0 // device registers (the default)
#define NB_CACHE_WRITE_COMBINING 1 // frame buffers
#define NB_CACHE_CACHED          2 // memory that behaves as RAM

// What NB_SYS_INTERRUPT_CREATE_MSI reports: the message the device must
// send (program it into the function's MSI capability or MSI-X table).
struct nb_msi_message {
    uint64_t address;
    uint32_t data;
    uint32_t vector; // informational: the CPU vector it raises
};
_Static_assert(sizeof(struct nb_msi_message) == 16, "nb_msi_message layout");

// NB_SYS_POWER actions.
#define NB_POWER_OFF    1
#define NB_POWER_REBOOT 2

// What NB_SYS_RESOURCE_INFO reports.
struct nb_resource_info {
    uint32_t kind; // NB_RESOURCE_*
    uint32_t reserved;
    uint64_t base; // ranges: first port or GSI; else 0
    uint64_t size; // ranges: how many; else 0
};
_Static_assert(sizeof(struct nb_resource_info) == 24, "nb_resource_info layout");
