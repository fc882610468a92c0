// struct boot_info: the one description of what the boot protocol handed us.
// Every boot protocol (PVH now, Multiboot2 later) is turned into it before
// anything else reads boot data.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/phys.h"
#include "nimbus/status.h"

#define BOOT_MAX_MEM     128
#define BOOT_CMDLINE_MAX 2048

// Memory map entry types, as in the PVH/E820 convention.
enum boot_mem_type {
    BOOT_MEM_RAM = 1,
    BOOT_MEM_RESERVED = 2,
    BOOT_MEM_ACPI = 3,
    BOOT_MEM_NVS = 4,
    BOOT_MEM_UNUSABLE = 5,
    BOOT_MEM_DISABLED = 6,
    BOOT_MEM_PMEM = 7,
};

struct boot_mem {
    paddr_t base;
    uint64_t size;
    uint32_t type;
};

struct boot_info {
    const char *protocol;              // "pvh"
    struct boot_mem mem[BOOT_MAX_MEM]; // sorted by base, non-overlapping
    size_t nmem;
    char cmdline[BOOT_CMDLINE_MAX]; // NUL-terminated, possibly truncated
    paddr_t initrd_base;            // 0 when there is none
    uint64_t initrd_size;
    paddr_t rsdp;       // 0 when not given
    paddr_t start_info; // physical address of the raw structure
};

// The PVH start structure (little endian), from the Xen public headers.
#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr; // version >= 1
    uint32_t memmap_entries;
    uint32_t reserved;
};

struct hvm_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};

struct hvm_memmap_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "hvm_memmap_entry layout");

// Reads guest-physical memory for the parser: returns a pointer to `len`
// readable bytes at `pa`, or NULL if that range is not accessible.
typedef const void *(*boot_phys_reader)(paddr_t pa, size_t len, void *ctx);

// Fills *bi from the PVH start structure at `start_info`. On failure returns
// ERR_BAD_FORMAT (or ERR_INVALID_ARGS) and sets *why to a message for the
// console; *bi is then not usable.
status_t boot_info_from_pvh(struct boot_info *bi, paddr_t start_info, boot_phys_reader read,
                            void *ctx, const char **why);

// Sorts the memory map, drops empty entries, and resolves overlaps in favour
// of the more restrictive (non-RAM) type. Exposed for tests.
void boot_mem_sanitize(struct boot_info *bi);

// The boot information of this boot (kernel only).
extern struct boot_info boot_info;
