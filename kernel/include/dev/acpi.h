// ACPI tables, read defensively. The parser (dev/acpi.c, with dev/acpi_aml.c
// for the DSDT's \_S5_) is pure: it reaches physical memory only through a
// reader callback, checks every checksum and length against the ACPI
// specification, copies what the kernel needs into struct acpi_info, and
// skips (with a warning) whatever is malformed. dev/acpi_power.c plans
// power-off and reset from the result, also without touching hardware. The
// kernel glue (dev/acpi_kernel.c) supplies a reader over the direct map plus
// read-only mappings of reserved memory, keeps the result of this boot, and
// reaches registers for dev/power.c.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/phys.h"
#include "nimbus/status.h"

// Fixed maxima of struct acpi_info; what does not fit is counted as dropped.
#define ACPI_MAX_TABLES    32
#define ACPI_MAX_CPUS      64
#define ACPI_MAX_IOAPICS   8
#define ACPI_MAX_OVERRIDES 16
#define ACPI_MAX_NMIS      8
#define ACPI_MAX_MCFG      8

// Tables longer than this are refused (no VM needs more; a corrupt length
// could otherwise make the reader map gigabytes).
#define ACPI_TABLE_MAX_LEN (1u << 20)

// Reads physical memory for the parser: returns a pointer to `len` readable
// bytes at `pa`, or NULL if any of that range is not accessible. The pointer
// need only stay valid until the next call (a bounce buffer is fine).
typedef const void *(*acpi_phys_reader)(paddr_t pa, size_t len, void *ctx);

// Generic Address Structure: where a register lives.
#define ACPI_GAS_MEMORY     0
#define ACPI_GAS_IO         1
#define ACPI_GAS_PCI_CONFIG 2

// The highest x86 I/O port.
#define ACPI_IO_PORT_MAX 0xffffu

// GAS access sizes.
#define ACPI_ACCESS_UNDEFINED 0
#define ACPI_ACCESS_BYTE      1
#define ACPI_ACCESS_WORD      2
#define ACPI_ACCESS_DWORD     3
#define ACPI_ACCESS_QWORD     4

struct acpi_gas {
    uint64_t address; // 0: the register does not exist
    uint8_t space;    // ACPI_GAS_*
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size; // ACPI_ACCESS_*
};

// One table found through the root table (and the DSDT, through the FADT).
struct acpi_table {
    char sig[5]; // NUL-terminated; non-printable bytes shown as '?'
    char oem_id[7];
    paddr_t pa;
    uint32_t length;
    uint8_t revision;
};

// MPS INTI flags of interrupt source overrides and NMI entries.
#define ACPI_POLARITY_CONFORMS 0
#define ACPI_POLARITY_HIGH     1
#define ACPI_POLARITY_LOW      3
#define ACPI_TRIGGER_CONFORMS  0
#define ACPI_TRIGGER_EDGE      1
#define ACPI_TRIGGER_LEVEL     3

// A processor UID meaning "every processor" (local APIC NMI entries).
#define ACPI_UID_ALL 0xffffffffu

struct acpi_cpu {
    uint32_t apic_id;
    uint32_t uid; // ACPI processor UID
    bool enabled;
    bool online_capable; // may be enabled at run time (only when !enabled)
    bool x2apic;         // listed by a Processor Local x2APIC entry
};

struct acpi_ioapic {
    uint32_t address;
    uint32_t gsi_base;
    uint8_t id;
};

// ISA (bus 0) IRQ `irq` arrives at global system interrupt `gsi`.
struct acpi_irq_override {
    uint32_t gsi;
    uint8_t bus;
    uint8_t irq;
    uint8_t polarity; // ACPI_POLARITY_*
    uint8_t trigger;  // ACPI_TRIGGER_*
};

// A GSI wired to NMI (MADT NMI Source).
struct acpi_nmi_source {
    uint32_t gsi;
    uint8_t polarity, trigger;
};

// A local APIC LINT pin wired to NMI (Local APIC NMI, Local x2APIC NMI).
struct acpi_lapic_nmi {
    uint32_t uid; // ACPI_UID_ALL for every processor
    uint8_t lint; // 0 or 1
    uint8_t polarity, trigger;
};

#define ACPI_MADT_PCAT_COMPAT (1u << 0) // dual 8259 PICs present

struct acpi_madt {
    bool present;
    uint32_t flags;     // ACPI_MADT_*
    paddr_t lapic_addr; // after any Local APIC Address Override
    struct acpi_cpu cpus[ACPI_MAX_CPUS];
    uint32_t ncpus, cpus_dropped;
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    uint32_t nioapics, ioapics_dropped;
    struct acpi_irq_override overrides[ACPI_MAX_OVERRIDES];
    uint32_t noverrides, overrides_dropped;
    struct acpi_nmi_source nmi_sources[ACPI_MAX_NMIS];
    uint32_t nnmi_sources, nmi_sources_dropped;
    struct acpi_lapic_nmi lapic_nmis[ACPI_MAX_NMIS];
    uint32_t nlapic_nmis, lapic_nmis_dropped;
    uint32_t bad_entries;   // too short for their type, or where the walk had to stop
    uint32_t other_entries; // well-formed entries of types not kept
};

// FADT Fixed Feature Flags the kernel looks at.
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED    (1u << 20)

// FADT IA-PC Boot Architecture Flags.
#define ACPI_BOOT_LEGACY_DEVICES (1u << 0)
#define ACPI_BOOT_8042           (1u << 1)
#define ACPI_BOOT_NO_VGA         (1u << 2)
#define ACPI_BOOT_NO_MSI         (1u << 3)
#define ACPI_BOOT_NO_CMOS_RTC    (1u << 5)

struct acpi_fadt {
    bool present;
    uint8_t revision;
    uint32_t flags; // ACPI_FADT_*
    bool hw_reduced;
    uint16_t boot_flags;   // ACPI_BOOT_*, meaningful only when boot_flags_valid
    bool boot_flags_valid; // FADT revision 3 (ACPI 2.0) or later
    uint16_t sci_irq;
    uint32_t smi_cmd; // port to hand the fixed hardware to the OS (0: none)
    uint8_t acpi_enable;
    paddr_t dsdt; // X_DSDT when set, else DSDT
    struct acpi_gas pm1a_cnt, pm1b_cnt;
    struct acpi_gas reset_reg;
    uint8_t reset_value;
    struct acpi_gas sleep_ctl, sleep_sts; // hardware-reduced platforms
};

struct acpi_hpet {
    bool present;
    paddr_t base;
    uint32_t block_id; // Event Timer Block ID (vendor, counter size, comparators)
    uint8_t number;
    uint16_t min_tick;
};

// One PCI segment group's ECAM window.
struct acpi_mcfg_seg {
    paddr_t base;
    uint16_t segment;
    uint8_t bus_start, bus_end;
};

// SLP_TYPa/SLP_TYPb of a sleep state, from the DSDT (\_S5_ for soft-off).
struct acpi_sleep_type {
    bool valid;
    uint8_t typ_a, typ_b; // three-bit values
};

struct acpi_info {
    bool present; // a valid RSDP and root table were found
    paddr_t rsdp;
    uint8_t rsdp_revision;
    char oem_id[7];
    bool xsdt; // the root table used is the XSDT (else the RSDT)
    paddr_t root;
    struct acpi_table tables[ACPI_MAX_TABLES];
    uint32_t ntables;
    uint32_t tables_dropped; // valid, but tables[] was full
    uint32_t tables_bad;     // skipped: unreadable, bad length or checksum, malformed
    struct acpi_madt madt;
    struct acpi_fadt fadt;
    struct acpi_hpet hpet;
    struct acpi_mcfg_seg mcfg[ACPI_MAX_MCFG];
    uint32_t nmcfg, mcfg_dropped;
    struct acpi_sleep_type s5;
};

// Parses the tables reached from the RSDP at `rsdp` into *ai. Returns OK when
// a valid RSDP and root table were found (individual tables may still have
// been skipped), ERR_NOT_FOUND for rsdp 0, ERR_BAD_FORMAT when neither root
// table is usable, ERR_INVALID_ARGS for a NULL ai or read. Warns (pr_warn)
// naming every table or entry it skips and why. Needs about 1 KiB of stack.
status_t acpi_parse(struct acpi_info *ai, paddr_t rsdp, acpi_phys_reader read, void *ctx);

// Finds `Name (_S5_, Package () {SLP_TYPa, SLP_TYPb, ...})` in AML bytes
// without interpreting AML: only that pattern, bounded by len.
bool acpi_find_s5(const uint8_t *aml, size_t len, struct acpi_sleep_type *out);

// Byte sum of p[0..len): 0 for a valid ACPI checksum.
uint8_t acpi_checksum(const void *p, size_t len);

// The table with signature sig (4 characters), or NULL.
const struct acpi_table *acpi_table_find(const struct acpi_info *ai, const char *sig);

// Power management planning (pure: decides, touches no hardware).

// PM1 control: SLP_TYPx in bits 12:10, SLP_EN bit 13, SCI_EN bit 0.
#define ACPI_PM1_SCI_EN        (1u << 0)
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK  (7u << ACPI_PM1_SLP_TYP_SHIFT)
#define ACPI_PM1_SLP_EN        (1u << 13)
// Hardware-reduced sleep control: SLP_TYPx in bits 4:2, SLP_EN bit 5.
#define ACPI_SLEEP_CTL_TYP_SHIFT 2
#define ACPI_SLEEP_CTL_TYP_MASK  (7u << ACPI_SLEEP_CTL_TYP_SHIFT)
#define ACPI_SLEEP_CTL_SLP_EN    (1u << 5)

enum acpi_off_method {
    ACPI_OFF_NONE,
    ACPI_OFF_SLEEP_CTL, // hardware-reduced: FADT sleep control register
    ACPI_OFF_PM1,       // fixed hardware: PM1a (and PM1b) control
};

struct acpi_poweroff {
    enum acpi_off_method method;
    struct acpi_gas reg_a; // sleep control, or PM1a control
    struct acpi_gas reg_b; // PM1b control (address 0 if none)
    uint8_t typ_a, typ_b;  // \_S5_ values
};

// Works out how ACPI turns this machine off (S5). ERR_NOT_SUPPORTED, with a
// reason in *why, when the tables do not allow it.
status_t acpi_poweroff_plan(const struct acpi_info *ai, struct acpi_poweroff *p, const char **why);

// The PM1 control value that enters sleep type typ, keeping cur's other bits.
uint16_t acpi_pm1_sleep_value(uint16_t cur, uint8_t typ);
// The sleep control value that enters sleep type typ.
uint8_t acpi_sleep_ctl_value(uint8_t typ);

// The FADT reset register and value, if the FADT says it may be used
// (RESET_REG_SUP, or hardware-reduced) and it is in memory or I/O space.
status_t acpi_reset_plan(const struct acpi_info *ai, struct acpi_gas *reg, uint8_t *value,
                         const char **why);

enum acpi_answer { ACPI_NO, ACPI_YES, ACPI_UNKNOWN };
// Whether an 8042 keyboard controller exists, per the FADT boot flags.
enum acpi_answer acpi_has_8042(const struct acpi_info *ai);

// Access width in bits (8, 16, 32 or 64) to use for g: from its access size,
// else its bit width, else dflt. 0 if the GAS asks for something else.
unsigned acpi_gas_access_bits(const struct acpi_gas *g, unsigned dflt);

// Kernel only (dev/acpi_kernel.c).

// Finds and parses the tables from boot_info.rsdp and prints a summary.
// OK, or ERR_NOT_FOUND when the VMM gave no ACPI (not an error on some
// VMMs), or the parser's status. Later calls return the first call's status.
// Needs the memory manager (mappings for tables in reserved memory).
status_t acpi_init(void);

// The tables of this boot; NULL before acpi_init() or when there are none.
const struct acpi_info *acpi(void);

// The kernel's reader: RAM, ACPI and NVS ranges through the direct map,
// boot-map "reserved" ranges through cached read-only mappings; NULL for
// anything else. Exposed for tests.
const void *acpi_read_phys(paddr_t pa, size_t len, void *ctx);

// Register access through a GAS (I/O or memory space; memory registers are
// mapped uncached on first use, see acpi_gas_prepare). `bits` is the default
// access width for a GAS that does not give one.
status_t acpi_gas_read(const struct acpi_gas *g, unsigned bits, uint64_t *v);
status_t acpi_gas_write(const struct acpi_gas *g, unsigned bits, uint64_t v);
// Maps a memory-space register ahead of time, so that a later access (at
// power-off, say) needs no allocation.
status_t acpi_gas_prepare(const struct acpi_gas *g, unsigned bits);
