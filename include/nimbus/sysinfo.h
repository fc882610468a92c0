// System information for user space (NB_SYS_SYSTEM_INFO with an
// NB_RESOURCE_INFO resource), process handles by id (NB_SYS_PROCESS_GET with
// an NB_RESOURCE_PROCESS resource), a process's handle table
// (NB_SYS_PROCESS_HANDLES), and the kernel log (NB_SYS_LOG_READ/WRITE on a
// log object).
#pragma once

#include <stdint.h>

#include "nimbus/process.h"
#include "nimbus/rights.h"

// NB_SYS_SYSTEM_INFO topics. The call copies at most `size` bytes of the
// topic's data to buf and stores the full size in *actual; a buffer too
// small for it is ERR_BUFFER_TOO_SMALL (nothing copied; *actual says how
// much to ask for). Arrays are whole records.
#define NB_INFO_SYSTEM     1 // struct nb_system_info
#define NB_INFO_MEMORY     2 // struct nb_memory_info
#define NB_INFO_SLABS      3 // struct nb_slab_info[]
#define NB_INFO_PROCESSES  4 // struct nb_process_info[] (live processes, by id)
#define NB_INFO_BOOT       5 // struct nb_boot_stage[] (the boot stage times, in order)
#define NB_INFO_HYPERVISOR 6 // text: the `hvinfo:` report, lines ending in '\n'
#define NB_INFO_CMDLINE    7 // text: the kernel command line (virtio_mmio.device= for devmgr)
#define NB_INFO_PCI_ECAM   8 // struct nb_pci_ecam[] from ACPI MCFG (empty: legacy config ports)
#define NB_INFO_ACPI_DSDT  9 // bytes: the ACPI DSDT, header included (ERR_NOT_FOUND without one)

struct nb_system_info {
    uint64_t uptime_ns;   // monotonic clock
    uint64_t realtime_ns; // wall clock (Unix epoch), 0 if unknown
    uint32_t cpus;        // online
    uint32_t processes;   // live
    char version[32];     // "Nimbus 0.x"
    char hypervisor[16];  // "KVM", "Xen", "TCG" ...
    char clocksource[16]; // "kvmclock", "tsc" ...
};
_Static_assert(sizeof(struct nb_system_info) == 88, "nb_system_info layout");

struct nb_memory_info {
    uint64_t page_size;
    uint64_t total_pages; // usable RAM managed by the page allocator
    uint64_t free_pages;
    uint64_t slab_bytes; // pages held by slab caches, in bytes
    uint64_t kstack_bytes;
    uint64_t user_bytes; // pages backing vmos
};
_Static_assert(sizeof(struct nb_memory_info) == 48, "nb_memory_info layout");

struct nb_slab_info {
    char name[24];
    uint32_t object_size;
    uint32_t reserved;
    uint64_t in_use; // objects allocated
    uint64_t total;  // objects the cache's slabs hold
    uint64_t pages;
};
_Static_assert(sizeof(struct nb_slab_info) == 56, "nb_slab_info layout");

struct nb_boot_stage {
    char name[16];
    uint64_t ns; // since the kernel's entry (0 for the first stage)
};
_Static_assert(sizeof(struct nb_boot_stage) == 24, "nb_boot_stage layout");

// NB_SYS_PROCESS_HANDLES: one per handle of the process (needs RIGHT_INSPECT
// on the process handle; HANDLE_INVALID lists the caller's own). More
// handles than `max`: ERR_BUFFER_TOO_SMALL, nothing copied, *actual says
// how many.
struct nb_handle_entry {
    uint32_t handle; // the value in that process's table
    uint32_t type;   // OBJ_*
    rights_t rights;
    uint32_t reserved;
    uint64_t object_id; // the same object has the same id in every table
};
_Static_assert(sizeof(struct nb_handle_entry) == 24, "nb_handle_entry layout");

// NB_SYS_LOG_READ: the first record whose sequence number is >= *seq;
// ERR_SHOULD_WAIT when there is none yet (wait for SIGNAL_READABLE on the
// log handle); *seq is set to the record's number + 1. Records lost to the
// ring's wrap-around are skipped (the seq jumps).
#define NB_LOG_LINE_MAX 256
struct nb_log_record {
    uint64_t seq;
    uint64_t ts_ns; // monotonic clock
    uint32_t level; // 0 emergency .. 7 debug
    uint32_t len;   // bytes of line, no NUL counted
    char line[NB_LOG_LINE_MAX];
};
_Static_assert(sizeof(struct nb_log_record) == 280, "nb_log_record layout");

struct nb_pci_ecam {
    uint64_t base; // physical address of bus bus_start's configuration space
    uint16_t segment;
    uint8_t bus_start;
    uint8_t bus_end;
    uint32_t reserved;
};
_Static_assert(sizeof(struct nb_pci_ecam) == 16, "nb_pci_ecam layout");
