// The device manager's pure logic (docs/DEVICES.md, "Device manager"):
// virtio-mmio windows from the kernel command line, virtio-mmio register
// probing, PCI enumeration through a configuration-read callback, and the
// driver table (/etc/drivers). Plain C over the C library: the host tests
// (suite devmgr_*) build it too; main.c does the system calls.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

#define DEVMGR_ERR_MAX 128 // bytes of an error message

// ---- virtio-mmio windows: virtio_mmio.device=SIZE@BASE:IRQ[:ID] ----

#define VMMIO_MAX 32

struct vmmio_window {
    uint64_t base, size;
    uint32_t irq;
    uint32_t id; // the optional platform device id (0 if absent)
};

// Finds every virtio_mmio.device= entry of the command line (up to max).
// SIZE is decimal or 0x hex with an optional K, M or G suffix; BASE hex
// (0x optional); IRQ decimal. A malformed entry is skipped and described in
// err ("virtio_mmio.device=...: what is wrong"; the last one wins) and
// *bad counts them. Returns how many windows were stored.
size_t vmmio_parse_cmdline(const char *cmdline, struct vmmio_window *out, size_t max, unsigned *bad,
                           char *err, size_t err_size);

// Parses one entry's value ("512@0xfeb00000:12"). ERR_INVALID_ARGS with
// err set if malformed.
status_t vmmio_parse_entry(const char *value, size_t len, struct vmmio_window *w, char *err,
                           size_t err_size);

// ---- virtio-mmio windows from the ACPI DSDT (acpi.c) ----

#define ACPI_VMMIO_HID  "LNRO0005" // _HID of a virtio-mmio transport
#define ACPI_DEPTH_MAX  16         // Scope/Device nesting the scanner follows
#define ACPI_HEADER_LEN 36         // system description table header
#define ACPI_DSDT_MAX   (1u << 20) // longer tables are refused

struct acpi_vmmio_scan {
    unsigned devices; // Device objects with _HID "LNRO0005"
    unsigned bad;     // ...of those, without one usable memory window and interrupt
    unsigned dropped; // ...of those, good but past `max`
    unsigned skipped; // term lists left early: unknown opcodes, bad lengths or nesting
};

// Finds the virtio-mmio transports of a DSDT (header included, `len` bytes
// readable) without interpreting AML: it walks Scope() and Device() bodies
// (at most ACPI_DEPTH_MAX deep), skips objects with a PkgLength (methods,
// fields, If ...) whole, and stops a term list at an opcode it does not know
// (counted in scan->skipped; the enclosing lists go on). A Device whose
// _HID is the string "LNRO0005" is a transport; Name(_CRS, Buffer) must give
// one Memory32Fixed range and one interrupt (Extended Interrupt or IRQ
// descriptor), and Name(_UID, integer) becomes the window's id. Stores up to
// max windows; *count says how many. ERR_BAD_FORMAT (err says why) when the
// header is bad: not "DSDT", a length under the header or past len or
// ACPI_DSDT_MAX, a non-zero checksum. OK otherwise, with err describing the
// last problem met (empty if none).
status_t acpi_dsdt_vmmio(const uint8_t *table, size_t len, struct vmmio_window *out, size_t max,
                         size_t *count, struct acpi_vmmio_scan *scan, char *err, size_t err_size);

struct vmmio_merge_stats {
    unsigned duplicates; // the same window (base, size, interrupt) as one already listed
    unsigned conflicts;  // overlapping one already listed, but not the same: dropped
    unsigned dropped;    // no room
};

// Appends to list (n entries, room for max) the windows of add that are not
// already there: the same window from the command line and from ACPI is one
// device, and the entry already listed wins a conflict. Returns the new count.
size_t vmmio_merge(struct vmmio_window *list, size_t n, size_t max, const struct vmmio_window *add,
                   size_t nadd, struct vmmio_merge_stats *st);

// virtio-mmio registers (virtio 1.x, 4.2.2).
#define VMMIO_REG_MAGIC     0x000
#define VMMIO_REG_VERSION   0x004
#define VMMIO_REG_DEVICE_ID 0x008
#define VMMIO_REG_VENDOR_ID 0x00c
#define VMMIO_REG_STATUS    0x070
#define VMMIO_MAGIC         0x74726976u // "virt"

struct vmmio_probe {
    uint32_t version, device_id, vendor_id;
};

// Reads the identification registers from a mapping of the window (regs:
// 32-bit words). ERR_NOT_FOUND: no virtio magic; ERR_NOT_SUPPORTED: an
// unknown version; OK with device_id 0 means an empty slot.
status_t vmmio_probe(const volatile uint32_t *regs, struct vmmio_probe *out);
// Resets the device (status 0): it stops using its queues and memory.
void vmmio_reset(volatile uint32_t *regs);

// ---- PCI ----

#define PCI_COMMAND        0x04
#define PCI_COMMAND_MASTER 0x0004 // bus master enable: the function may do DMA
#define PCI_MAX_FUNCS      64
#define PCI_MAX_BARS       6
#define PCI_MAX_CAPS       16

// Configuration access by function id (NB_PCI_ID): width 1, 2 or 4.
struct pci_access {
    status_t (*read)(void *ctx, uint32_t id, uint32_t offset, uint32_t width, uint32_t *value);
    status_t (*write)(void *ctx, uint32_t id, uint32_t offset, uint32_t width, uint32_t value);
    void *ctx;
};

struct pci_bar {
    uint64_t base, size; // size 0: not implemented
    bool io;             // an I/O port BAR (else memory)
    bool is64, prefetch;
};

struct pci_cap {
    uint8_t id, offset;
    uint8_t vndr_type; // virtio vendor caps (0x09): cfg_type (1 common, 2 notify, 3 isr, 4 device)
    uint8_t bar;       // virtio vendor caps: which BAR
};

#define PCI_CAP_MSI    0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX   0x11

struct pci_function {
    uint32_t id; // NB_PCI_ID
    uint16_t vendor, device, subsys_vendor, subsys;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type; // without the multifunction bit
    bool multifunction;
    uint8_t irq_line, irq_pin;
    uint8_t secondary_bus; // bridges
    struct pci_bar bars[PCI_MAX_BARS];
    struct pci_cap caps[PCI_MAX_CAPS];
    uint32_t ncaps;
    bool msi, msix;
};

// Enumerates bus `bus` of segment `seg` and every bus behind its bridges
// (secondary bus numbers), sizing BARs (all-ones written, read back,
// restored). Returns how many functions were stored (at most max).
size_t pci_enumerate(const struct pci_access *a, uint32_t seg, uint32_t bus,
                     struct pci_function *out, size_t max);

// "BB:DD.F" (segment 0) or "SSSS:BB:DD.F".
void pci_format_id(uint32_t id, char *buf, size_t size);
// A short class name: "storage", "network", "bridge", "display" ...
const char *pci_class_name(uint8_t class_code);

// ---- Virtio device types and the driver table ----

#define VIRTIO_ID_NET     1u
#define VIRTIO_ID_BLOCK   2u
#define VIRTIO_ID_CONSOLE 3u
#define VIRTIO_ID_RNG     4u

// "net", "blk", "console", "rng" ... or NULL.
const char *virtio_type_name(uint32_t device_id);
// The virtio device type of a PCI virtio function (vendor 1af4): modern ids
// 0x1040 + type, transitional 0x1000-0x103f by subsystem id (or the known
// transitional ids). 0 if it is not virtio.
uint32_t virtio_pci_type(uint16_t vendor, uint16_t device, uint16_t subsys);

#define DRIVERS_MAX     32
#define DRIVER_PATH_MAX 63
#define DRIVER_BUS_MMIO 1 // virtio-mmio DEVICEID
#define DRIVER_BUS_PCI  2 // pci VENDOR:DEVICE

struct driver_rule {
    uint32_t bus;
    uint32_t device_id;      // virtio-mmio: virtio device type
    uint16_t vendor, device; // pci
    char path[DRIVER_PATH_MAX + 1];
    unsigned line;
};

struct driver_table {
    struct driver_rule rules[DRIVERS_MAX];
    size_t count;
};

// Parses /etc/drivers: lines `virtio-mmio ID PATH` or `pci VVVV:DDDD PATH`
// (hex ids), `#` comments, blank lines. ERR_BAD_FORMAT with err "line N:
// what is wrong" (the table is then empty).
status_t drivers_parse(const char *text, size_t len, struct driver_table *t, char *err,
                       size_t err_size);

// The driver for a virtio-mmio device type, or NULL.
const struct driver_rule *drivers_match_mmio(const struct driver_table *t, uint32_t device_id);
// The driver for a PCI function: an exact vendor:device rule first; then,
// for a transitional virtio id (1af4:1000-103f), the rule of its modern id.
const struct driver_rule *drivers_match_pci(const struct driver_table *t, uint16_t vendor,
                                            uint16_t device, uint16_t subsys);
