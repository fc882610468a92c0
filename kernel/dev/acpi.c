// nimbus:host
// The ACPI table parser (see dev/acpi.h). Layouts are those of the ACPI
// specification (6.x): RSDP, the system description table header, XSDT/RSDT,
// MADT, FADT, HPET, MCFG; the DSDT is handed to acpi_aml.c for \_S5_.
// Everything comes through the caller's reader and is checked before use;
// each piece read is used or copied before the next read, so the reader may
// hand back a bounce buffer.
#include <stdbool.h>

#include "dev/acpi.h"
#include "lib/compiler.h"
#include "lib/printk.h"
#include "lib/string.h"

// Raw layouts (little endian, packed, as in the specification).

struct rsdp_raw {
    char sig[8];
    uint8_t checksum; // over the first 20 bytes
    char oem_id[6];
    uint8_t revision; // 0: ACPI 1.0 (20 bytes); 2: ACPI 2.0+ (36 bytes)
    uint32_t rsdt;
    uint32_t length; // revision 2+: the whole structure
    uint64_t xsdt;
    uint8_t ext_checksum; // over `length` bytes
    uint8_t reserved[3];
} __packed;
_Static_assert(sizeof(struct rsdp_raw) == 36, "RSDP layout");
_Static_assert(offsetof(struct rsdp_raw, length) == 20, "RSDP v1 part is 20 bytes");
_Static_assert(offsetof(struct rsdp_raw, xsdt) == 24, "RSDP XSDT address");

struct sdt_header {
    char sig[4];
    uint32_t length; // whole table, header included
    uint8_t revision;
    uint8_t checksum; // over `length` bytes
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __packed;
_Static_assert(sizeof(struct sdt_header) == 36, "table header layout");

struct gas_raw {
    uint8_t space;
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;
    uint64_t address;
} __packed;
_Static_assert(sizeof(struct gas_raw) == 12, "GAS layout");

struct fadt_raw {
    struct sdt_header h;
    uint32_t facs;
    uint32_t dsdt;
    uint8_t int_model; // ACPI 1.0 only
    uint8_t pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable;
    uint8_t acpi_disable;
    uint8_t s4bios_req;
    uint8_t pstate_cnt;
    uint32_t pm1a_evt_blk;
    uint32_t pm1b_evt_blk;
    uint32_t pm1a_cnt_blk;
    uint32_t pm1b_cnt_blk;
    uint32_t pm2_cnt_blk;
    uint32_t pm_tmr_blk;
    uint32_t gpe0_blk;
    uint32_t gpe1_blk;
    uint8_t pm1_evt_len;
    uint8_t pm1_cnt_len;
    uint8_t pm2_cnt_len;
    uint8_t pm_tmr_len;
    uint8_t gpe0_blk_len;
    uint8_t gpe1_blk_len;
    uint8_t gpe1_base;
    uint8_t cst_cnt;
    uint16_t p_lvl2_lat;
    uint16_t p_lvl3_lat;
    uint16_t flush_size;
    uint16_t flush_stride;
    uint8_t duty_offset;
    uint8_t duty_width;
    uint8_t day_alrm;
    uint8_t mon_alrm;
    uint8_t century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags; // end of the ACPI 1.0 FADT (116 bytes)
    struct gas_raw reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_facs;
    uint64_t x_dsdt;
    struct gas_raw x_pm1a_evt_blk;
    struct gas_raw x_pm1b_evt_blk;
    struct gas_raw x_pm1a_cnt_blk;
    struct gas_raw x_pm1b_cnt_blk;
    struct gas_raw x_pm2_cnt_blk;
    struct gas_raw x_pm_tmr_blk;
    struct gas_raw x_gpe0_blk;
    struct gas_raw x_gpe1_blk;
    struct gas_raw sleep_control; // ACPI 5.0+
    struct gas_raw sleep_status;
    uint64_t hypervisor_id; // ACPI 6.0+
} __packed;
_Static_assert(offsetof(struct fadt_raw, sci_int) == 46, "FADT SCI_INT");
_Static_assert(offsetof(struct fadt_raw, pm1a_cnt_blk) == 64, "FADT PM1a_CNT_BLK");
_Static_assert(offsetof(struct fadt_raw, pm1_cnt_len) == 89, "FADT PM1_CNT_LEN");
_Static_assert(offsetof(struct fadt_raw, iapc_boot_arch) == 109, "FADT IAPC_BOOT_ARCH");
_Static_assert(offsetof(struct fadt_raw, flags) == 112, "FADT Flags");
_Static_assert(offsetof(struct fadt_raw, reset_reg) == 116, "FADT RESET_REG");
_Static_assert(offsetof(struct fadt_raw, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(offsetof(struct fadt_raw, x_pm1a_cnt_blk) == 172, "FADT X_PM1a_CNT_BLK");
_Static_assert(offsetof(struct fadt_raw, sleep_control) == 244, "FADT SLEEP_CONTROL_REG");
_Static_assert(sizeof(struct fadt_raw) == 276, "FADT layout");

#define FADT_V1_LEN offsetof(struct fadt_raw, reset_reg)
// Whether a FADT of `len` bytes holds all of `field`.
#define FADT_HAS(len, field) \
    ((len) >= offsetof(struct fadt_raw, field) + sizeof(((struct fadt_raw *)0)->field))
// IAPC_BOOT_ARCH was reserved before ACPI 2.0, whose FADT is revision 3.
#define FADT_REV_BOOT_FLAGS 3

struct madt_raw {
    struct sdt_header h;
    uint32_t lapic_addr;
    uint32_t flags;
} __packed;
_Static_assert(sizeof(struct madt_raw) == 44, "MADT layout");

enum madt_type {
    MADT_LAPIC = 0,
    MADT_IOAPIC = 1,
    MADT_ISO = 2,
    MADT_NMI_SOURCE = 3,
    MADT_LAPIC_NMI = 4,
    MADT_LAPIC_OVERRIDE = 5,
    MADT_X2APIC = 9,
    MADT_X2APIC_NMI = 10,
};

struct madt_lapic {
    uint8_t type, length;
    uint8_t uid;
    uint8_t apic_id;
    uint32_t flags;
} __packed;

struct madt_ioapic {
    uint8_t type, length;
    uint8_t id;
    uint8_t reserved;
    uint32_t address;
    uint32_t gsi_base;
} __packed;

struct madt_iso {
    uint8_t type, length;
    uint8_t bus;
    uint8_t source;
    uint32_t gsi;
    uint16_t flags;
} __packed;

struct madt_nmi_source {
    uint8_t type, length;
    uint16_t flags;
    uint32_t gsi;
} __packed;

struct madt_lapic_nmi {
    uint8_t type, length;
    uint8_t uid;
    uint16_t flags;
    uint8_t lint;
} __packed;

struct madt_lapic_override {
    uint8_t type, length;
    uint16_t reserved;
    uint64_t address;
} __packed;

struct madt_x2apic {
    uint8_t type, length;
    uint16_t reserved;
    uint32_t apic_id;
    uint32_t flags;
    uint32_t uid;
} __packed;

struct madt_x2apic_nmi {
    uint8_t type, length;
    uint16_t flags;
    uint32_t uid;
    uint8_t lint;
    uint8_t reserved[3];
} __packed;

_Static_assert(sizeof(struct madt_lapic) == 8, "MADT Processor Local APIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC");
_Static_assert(sizeof(struct madt_iso) == 10, "MADT Interrupt Source Override");
_Static_assert(sizeof(struct madt_nmi_source) == 8, "MADT NMI Source");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT Local APIC NMI");
_Static_assert(sizeof(struct madt_lapic_override) == 12, "MADT Local APIC Address Override");
_Static_assert(sizeof(struct madt_x2apic) == 16, "MADT Processor Local x2APIC");
_Static_assert(sizeof(struct madt_x2apic_nmi) == 12, "MADT Local x2APIC NMI");

// Every MADT entry kept here, copied out of the table (zero-filled past its
// length, which is checked against the type's size first).
union madt_entry {
    struct {
        uint8_t type, length;
    } h;
    struct madt_lapic lapic;
    struct madt_ioapic ioapic;
    struct madt_iso iso;
    struct madt_nmi_source nmi_source;
    struct madt_lapic_nmi lapic_nmi;
    struct madt_lapic_override lapic_override;
    struct madt_x2apic x2apic;
    struct madt_x2apic_nmi x2apic_nmi;
};

#define MADT_CPU_ENABLED        (1u << 0)
#define MADT_CPU_ONLINE_CAPABLE (1u << 1)
#define MADT_LAPIC_UID_ALL      0xff
#define MADT_LAPIC_ID_INVALID   0xff
// MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2.
#define MPS_POLARITY(f) ((uint8_t)((f)&3))
#define MPS_TRIGGER(f)  ((uint8_t)(((f) >> 2) & 3))

struct hpet_raw {
    struct sdt_header h;
    uint32_t block_id;
    struct gas_raw base;
    uint8_t number;
    uint16_t min_tick;
    uint8_t page_protection;
} __packed;
_Static_assert(sizeof(struct hpet_raw) == 56, "HPET layout");

struct mcfg_raw {
    struct sdt_header h;
    uint8_t reserved[8];
} __packed;
_Static_assert(sizeof(struct mcfg_raw) == 44, "MCFG layout");

struct mcfg_entry_raw {
    uint64_t base;
    uint16_t segment;
    uint8_t bus_start;
    uint8_t bus_end;
    uint32_t reserved;
} __packed;
_Static_assert(sizeof(struct mcfg_entry_raw) == 16, "MCFG entry layout");

// RSDP revision 2 is 36 bytes; leave room for a longer future one.
#define RSDP_V2_MAX_LEN 1024

// The parse in progress.
struct parser {
    struct acpi_info *ai;
    acpi_phys_reader read;
    void *ctx;
    unsigned seen; // bit i: a table for table_parsers[i] was parsed
};

uint8_t acpi_checksum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + b[i]);
    return sum;
}

// The reader, refusing empty and wrapping ranges before it sees them.
static const void *phys_read(const struct parser *ps, paddr_t pa, size_t len)
{
    if (len == 0 || pa + len < pa)
        return NULL;
    return ps->read(pa, len, ps->ctx);
}

// Copies n characters, showing non-printable ones as '?', and terminates.
static void copy_name(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[n] = '\0';
}

static void table_warn(const char *sig, paddr_t pa, const char *why)
{
    pr_warn("acpi: table %s at %#llx skipped: %s\n", sig, (unsigned long long)pa, why);
}

// Reads the table at pa and checks its header: readable, a length that
// covers the header and stays within ACPI_TABLE_MAX_LEN, the whole table
// readable and unchanged since the header was read, a zero checksum. Returns
// the table (valid until the next read) and its header in *h, or NULL with
// the reason in *why and the signature (if it was read) in name.
static const uint8_t *table_get(const struct parser *ps, paddr_t pa, struct sdt_header *h,
                                char name[5], const char **why)
{
    const void *p;

    kstrlcpy(name, "????", 5);
    if (pa == 0) {
        *why = "null address";
        return NULL;
    }
    if (!(p = phys_read(ps, pa, sizeof *h))) {
        *why = "header unreadable";
        return NULL;
    }
    memcpy(h, p, sizeof *h);
    copy_name(name, h->sig, 4);
    if (h->length < sizeof *h) {
        *why = "length shorter than the table header";
        return NULL;
    }
    if (h->length > ACPI_TABLE_MAX_LEN) {
        *why = "length over 1 MiB";
        return NULL;
    }
    const uint8_t *t = phys_read(ps, pa, h->length);
    if (!t) {
        *why = "unreadable";
        return NULL;
    }
    if (memcmp(t, h, sizeof *h) != 0) {
        *why = "changed while being read";
        return NULL;
    }
    if (acpi_checksum(t, h->length) != 0) {
        *why = "bad checksum";
        return NULL;
    }
    return t;
}

// Records a table in ai->tables (or counts it dropped when that is full).
static void table_record(struct acpi_info *ai, const struct sdt_header *h, paddr_t pa)
{
    if (ai->ntables == ACPI_MAX_TABLES) {
        ai->tables_dropped++;
        return;
    }
    struct acpi_table *t = &ai->tables[ai->ntables++];
    copy_name(t->sig, h->sig, 4);
    copy_name(t->oem_id, h->oem_id, 6);
    t->pa = pa;
    t->length = h->length;
    t->revision = h->revision;
}

const struct acpi_table *acpi_table_find(const struct acpi_info *ai, const char *sig)
{
    for (uint32_t i = 0; ai && i < ai->ntables; i++)
        if (memcmp(ai->tables[i].sig, sig, 4) == 0)
            return &ai->tables[i];
    return NULL;
}

static struct acpi_gas gas_from_raw(const struct gas_raw *g)
{
    return (struct acpi_gas){.address = g->address,
                             .space = g->space,
                             .bit_width = g->bit_width,
                             .bit_offset = g->bit_offset,
                             .access_size = g->access_size};
}

// ---- MADT ----

// The CPU with this APIC ID, if it is already listed.
static bool madt_has_cpu(const struct acpi_madt *m, uint32_t apic_id)
{
    for (uint32_t i = 0; i < m->ncpus; i++)
        if (m->cpus[i].apic_id == apic_id)
            return true;
    return false;
}

// Adds a processor. An APIC ID listed twice (a local APIC and an x2APIC
// entry for the same CPU) is kept once.
static void madt_add_cpu(struct acpi_madt *m, uint32_t apic_id, uint32_t uid, uint32_t flags,
                         bool x2apic)
{
    if (madt_has_cpu(m, apic_id))
        return;
    if (m->ncpus == ACPI_MAX_CPUS) {
        m->cpus_dropped++;
        return;
    }
    m->cpus[m->ncpus++] = (struct acpi_cpu){
        .apic_id = apic_id,
        .uid = uid,
        .enabled = flags & MADT_CPU_ENABLED,
        .online_capable = !(flags & MADT_CPU_ENABLED) && (flags & MADT_CPU_ONLINE_CAPABLE),
        .x2apic = x2apic,
    };
}

static void madt_add_ioapic(struct acpi_madt *m, const struct madt_ioapic *e)
{
    if (m->nioapics == ACPI_MAX_IOAPICS) {
        m->ioapics_dropped++;
        return;
    }
    m->ioapics[m->nioapics++] =
        (struct acpi_ioapic){.address = e->address, .gsi_base = e->gsi_base, .id = e->id};
}

static void madt_add_override(struct acpi_madt *m, const struct madt_iso *e)
{
    if (m->noverrides == ACPI_MAX_OVERRIDES) {
        m->overrides_dropped++;
        return;
    }
    m->overrides[m->noverrides++] = (struct acpi_irq_override){
        .gsi = e->gsi,
        .bus = e->bus,
        .irq = e->source,
        .polarity = MPS_POLARITY(e->flags),
        .trigger = MPS_TRIGGER(e->flags),
    };
}

static void madt_add_nmi_source(struct acpi_madt *m, const struct madt_nmi_source *e)
{
    if (m->nnmi_sources == ACPI_MAX_NMIS) {
        m->nmi_sources_dropped++;
        return;
    }
    m->nmi_sources[m->nnmi_sources++] = (struct acpi_nmi_source){
        .gsi = e->gsi, .polarity = MPS_POLARITY(e->flags), .trigger = MPS_TRIGGER(e->flags)};
}

static void madt_add_lapic_nmi(struct acpi_madt *m, uint32_t uid, uint8_t lint, uint16_t flags)
{
    if (m->nlapic_nmis == ACPI_MAX_NMIS) {
        m->lapic_nmis_dropped++;
        return;
    }
    m->lapic_nmis[m->nlapic_nmis++] = (struct acpi_lapic_nmi){
        .uid = uid, .lint = lint, .polarity = MPS_POLARITY(flags), .trigger = MPS_TRIGGER(flags)};
}

// The size of the fixed part of each entry type kept; 0 for other types.
static size_t madt_entry_size(uint8_t type)
{
    switch (type) {
    case MADT_LAPIC:
        return sizeof(struct madt_lapic);
    case MADT_IOAPIC:
        return sizeof(struct madt_ioapic);
    case MADT_ISO:
        return sizeof(struct madt_iso);
    case MADT_NMI_SOURCE:
        return sizeof(struct madt_nmi_source);
    case MADT_LAPIC_NMI:
        return sizeof(struct madt_lapic_nmi);
    case MADT_LAPIC_OVERRIDE:
        return sizeof(struct madt_lapic_override);
    case MADT_X2APIC:
        return sizeof(struct madt_x2apic);
    case MADT_X2APIC_NMI:
        return sizeof(struct madt_x2apic_nmi);
    default:
        return 0;
    }
}

// Keeps one well-formed entry.
static void madt_entry(struct acpi_madt *m, const union madt_entry *e)
{
    switch (e->h.type) {
    case MADT_LAPIC:
        if (e->lapic.apic_id != MADT_LAPIC_ID_INVALID)
            madt_add_cpu(m, e->lapic.apic_id, e->lapic.uid, e->lapic.flags, false);
        break;
    case MADT_X2APIC:
        madt_add_cpu(m, e->x2apic.apic_id, e->x2apic.uid, e->x2apic.flags, true);
        break;
    case MADT_IOAPIC:
        madt_add_ioapic(m, &e->ioapic);
        break;
    case MADT_ISO:
        madt_add_override(m, &e->iso);
        break;
    case MADT_NMI_SOURCE:
        madt_add_nmi_source(m, &e->nmi_source);
        break;
    case MADT_LAPIC_NMI:
        madt_add_lapic_nmi(m,
                           e->lapic_nmi.uid == MADT_LAPIC_UID_ALL ? ACPI_UID_ALL : e->lapic_nmi.uid,
                           e->lapic_nmi.lint, e->lapic_nmi.flags);
        break;
    case MADT_X2APIC_NMI:
        madt_add_lapic_nmi(m, e->x2apic_nmi.uid, e->x2apic_nmi.lint, e->x2apic_nmi.flags);
        break;
    case MADT_LAPIC_OVERRIDE:
        m->lapic_addr = e->lapic_override.address;
        break;
    }
}

// Walks the entries after the fixed part. Each must have a length of at
// least 2 that stays inside the table; the walk stops at the first that does
// not, since nothing after it can be located.
static bool parse_madt(struct acpi_info *ai, const uint8_t *t, uint32_t len, const char **why)
{
    struct acpi_madt *m = &ai->madt;
    struct madt_raw hdr;
    uint32_t off = sizeof hdr;

    if (len < sizeof hdr) {
        *why = "too short for a MADT";
        return false;
    }
    memcpy(&hdr, t, sizeof hdr);
    m->lapic_addr = hdr.lapic_addr;
    m->flags = hdr.flags;
    while (off < len) {
        union madt_entry e;
        uint8_t elen = len - off >= 2 ? t[off + 1] : 0;
        if (elen < 2 || elen > len - off) {
            pr_warn("acpi: MADT entry at offset %u has length %u (%u bytes left); rest ignored\n",
                    off, elen, len - off);
            m->bad_entries++;
            break;
        }
        size_t need = madt_entry_size(t[off]);
        memset(&e, 0, sizeof e);
        memcpy(&e, t + off, MIN((size_t)elen, sizeof e));
        if (need == 0) {
            m->other_entries++;
        } else if (elen < need) {
            pr_warn("acpi: MADT entry type %u at offset %u too short (%u < %zu); skipped\n", t[off],
                    off, elen, need);
            m->bad_entries++;
        } else {
            madt_entry(m, &e);
        }
        off += elen;
    }
    m->present = true;
    return true;
}

// ---- FADT ----

// A fixed-hardware register block: the X_ GAS when set, else the 32-bit
// port number with len bytes.
static struct acpi_gas fadt_block(const struct gas_raw *x, bool has_x, uint32_t port, uint8_t len)
{
    if (has_x && x->address != 0)
        return gas_from_raw(x);
    if (port == 0)
        return (struct acpi_gas){0};
    return (struct acpi_gas){
        .address = port, .space = ACPI_GAS_IO, .bit_width = (uint8_t)(len * 8)};
}

static bool parse_fadt(struct acpi_info *ai, const uint8_t *t, uint32_t len, const char **why)
{
    struct acpi_fadt *f = &ai->fadt;
    struct fadt_raw r;

    if (len < FADT_V1_LEN) {
        *why = "too short for a FADT";
        return false;
    }
    memset(&r, 0, sizeof r);
    memcpy(&r, t, MIN((size_t)len, sizeof r));
    f->revision = r.h.revision;
    f->flags = r.flags;
    f->hw_reduced = r.flags & ACPI_FADT_HW_REDUCED;
    f->boot_flags_valid = r.h.revision >= FADT_REV_BOOT_FLAGS;
    f->boot_flags = f->boot_flags_valid ? r.iapc_boot_arch : 0;
    f->sci_irq = r.sci_int;
    f->smi_cmd = r.smi_cmd;
    f->acpi_enable = r.acpi_enable;
    f->dsdt = FADT_HAS(len, x_dsdt) && r.x_dsdt ? r.x_dsdt : r.dsdt;
    f->pm1a_cnt =
        fadt_block(&r.x_pm1a_cnt_blk, FADT_HAS(len, x_pm1a_cnt_blk), r.pm1a_cnt_blk, r.pm1_cnt_len);
    f->pm1b_cnt =
        fadt_block(&r.x_pm1b_cnt_blk, FADT_HAS(len, x_pm1b_cnt_blk), r.pm1b_cnt_blk, r.pm1_cnt_len);
    if (FADT_HAS(len, reset_value)) {
        f->reset_reg = gas_from_raw(&r.reset_reg);
        f->reset_value = r.reset_value;
    }
    if (FADT_HAS(len, sleep_status)) {
        f->sleep_ctl = gas_from_raw(&r.sleep_control);
        f->sleep_sts = gas_from_raw(&r.sleep_status);
    }
    f->present = true;
    return true;
}

// ---- HPET and MCFG ----

static bool parse_hpet(struct acpi_info *ai, const uint8_t *t, uint32_t len, const char **why)
{
    struct hpet_raw r;

    if (len < sizeof r) {
        *why = "too short for an HPET table";
        return false;
    }
    memcpy(&r, t, sizeof r);
    if (r.base.space != ACPI_GAS_MEMORY || r.base.address == 0) {
        *why = "HPET base is not a memory address";
        return false;
    }
    ai->hpet = (struct acpi_hpet){.present = true,
                                  .base = r.base.address,
                                  .block_id = r.block_id,
                                  .number = r.number,
                                  .min_tick = r.min_tick};
    return true;
}

static bool parse_mcfg(struct acpi_info *ai, const uint8_t *t, uint32_t len, const char **why)
{
    if (len < sizeof(struct mcfg_raw)) {
        *why = "too short for an MCFG table";
        return false;
    }
    for (uint32_t off = sizeof(struct mcfg_raw); len - off >= sizeof(struct mcfg_entry_raw);
         off += sizeof(struct mcfg_entry_raw)) {
        struct mcfg_entry_raw e;
        memcpy(&e, t + off, sizeof e);
        if (e.base == 0 || e.bus_start > e.bus_end) {
            pr_warn("acpi: MCFG entry for segment %u skipped: base %#llx, buses %u-%u\n", e.segment,
                    (unsigned long long)e.base, e.bus_start, e.bus_end);
            continue;
        }
        if (ai->nmcfg == ACPI_MAX_MCFG) {
            ai->mcfg_dropped++;
            continue;
        }
        ai->mcfg[ai->nmcfg++] = (struct acpi_mcfg_seg){
            .base = e.base, .segment = e.segment, .bus_start = e.bus_start, .bus_end = e.bus_end};
    }
    return true;
}

// ---- Root and tables ----

struct table_parser {
    char sig[4];
    bool (*parse)(struct acpi_info *ai, const uint8_t *t, uint32_t len, const char **why);
};

static const struct table_parser table_parsers[] = {
    {.sig = "APIC", .parse = parse_madt},
    {.sig = "FACP", .parse = parse_fadt},
    {.sig = "HPET", .parse = parse_hpet},
    {.sig = "MCFG", .parse = parse_mcfg},
};
_Static_assert(ARRAY_SIZE(table_parsers) <= 8 * sizeof(unsigned), "parser.seen bits");

// Checks the table at pa and hands it to its parser (tables of kinds not
// parsed are only listed).
static void table_load(struct parser *ps, paddr_t pa)
{
    struct acpi_info *ai = ps->ai;
    struct sdt_header h;
    char name[5];
    const char *why = NULL;
    const uint8_t *t = table_get(ps, pa, &h, name, &why);

    for (size_t i = 0; t && i < ARRAY_SIZE(table_parsers); i++) {
        const struct table_parser *tp = &table_parsers[i];
        if (memcmp(h.sig, tp->sig, 4) != 0)
            continue;
        if (ps->seen & (1u << i))
            why = "a second table of this kind (the first one is used)";
        else if (tp->parse(ai, t, h.length, &why))
            ps->seen |= 1u << i;
        else
            t = NULL;
        break;
    }
    if (!t || why) {
        table_warn(name, pa, why);
        ai->tables_bad++;
        return;
    }
    table_record(ai, &h, pa);
}

// Scans the DSDT named by the FADT for \_S5_.
static void dsdt_load(struct parser *ps)
{
    struct acpi_info *ai = ps->ai;
    struct sdt_header h;
    char name[5];
    const char *why = NULL;
    const uint8_t *t = table_get(ps, ai->fadt.dsdt, &h, name, &why);

    if (t && memcmp(h.sig, "DSDT", 4) != 0) {
        why = "not a DSDT";
        t = NULL;
    }
    if (!t) {
        table_warn("DSDT", ai->fadt.dsdt, why);
        ai->tables_bad++;
        return;
    }
    if (!acpi_find_s5(t + sizeof h, h.length - sizeof h, &ai->s5))
        pr_warn("acpi: the DSDT has no usable \\_S5_: no ACPI power-off\n");
    table_record(ai, &h, ai->fadt.dsdt);
}

// Reads the XSDT (8-byte entries) or RSDT (4-byte entries) at pa and copies
// its entries to addrs (at most ACPI_MAX_TABLES; the rest are counted as
// dropped). Returns the number copied, or -1 if the table is unusable.
static int root_load(struct parser *ps, paddr_t pa, bool xsdt, paddr_t *addrs)
{
    const char *want = xsdt ? "XSDT" : "RSDT";
    size_t esize = xsdt ? 8 : 4;
    struct sdt_header h;
    char name[5];
    const char *why = NULL;
    const uint8_t *t = table_get(ps, pa, &h, name, &why);

    if (t && memcmp(h.sig, want, 4) != 0) {
        why = xsdt ? "not an XSDT" : "not an RSDT";
        t = NULL;
    }
    if (!t) {
        table_warn(want, pa, why);
        return -1;
    }
    size_t n = (h.length - sizeof h) / esize, kept = MIN(n, (size_t)ACPI_MAX_TABLES);
    for (size_t i = 0; i < kept; i++) {
        uint64_t a = 0;
        memcpy(&a, t + sizeof h + i * esize, esize);
        addrs[i] = a;
    }
    if (n > kept) {
        pr_warn("acpi: %s lists %zu tables; only the first %zu are read\n", want, n, kept);
        ps->ai->tables_dropped += (uint32_t)(n - kept);
    }
    ps->ai->xsdt = xsdt;
    ps->ai->root = pa;
    return (int)kept;
}

// Reads the revision 2 part of the RSDP into *r if it is sound: a length
// that covers it, an extended checksum of zero, and the first 20 bytes still
// those already checked (v1).
static bool rsdp_v2(const struct parser *ps, paddr_t pa, const uint8_t *v1, struct rsdp_raw *r)
{
    const uint8_t *p = phys_read(ps, pa, sizeof *r);
    uint32_t len;

    if (!p)
        return false;
    memcpy(&len, p + offsetof(struct rsdp_raw, length), sizeof len);
    if (len < sizeof *r || len > RSDP_V2_MAX_LEN)
        return false;
    if (!(p = phys_read(ps, pa, len)))
        return false;
    if (memcmp(p, v1, offsetof(struct rsdp_raw, length)) != 0 || acpi_checksum(p, len) != 0)
        return false;
    memcpy(r, p, sizeof *r);
    return r->length == len;
}

// Finds the RSDP at pa: signature and v1 checksum must hold; the revision 2
// part is used only when sound (else *v2 is false and only the RSDT is used).
static status_t rsdp_load(const struct parser *ps, paddr_t pa, struct rsdp_raw *r, bool *v2)
{
    const size_t v1_len = offsetof(struct rsdp_raw, length);
    uint8_t v1[offsetof(struct rsdp_raw, length)];
    const void *p = phys_read(ps, pa, v1_len);

    memset(r, 0, sizeof *r);
    *v2 = false;
    if (!p) {
        pr_warn("acpi: RSDP at %#llx unreadable\n", (unsigned long long)pa);
        return ERR_BAD_FORMAT;
    }
    memcpy(v1, p, v1_len);
    if (memcmp(v1, "RSD PTR ", 8) != 0 || acpi_checksum(v1, v1_len) != 0) {
        pr_warn("acpi: RSDP at %#llx: bad signature or checksum\n", (unsigned long long)pa);
        return ERR_BAD_FORMAT;
    }
    memcpy(r, v1, v1_len);
    if (r->revision >= 2) {
        *v2 = rsdp_v2(ps, pa, v1, r);
        if (!*v2) {
            pr_warn("acpi: RSDP revision %u part is unusable; using the RSDT\n", r->revision);
            memset(r, 0, sizeof *r);
            memcpy(r, v1, v1_len);
        }
    }
    return OK;
}

// Picks the root table: the XSDT when the RSDP's revision 2 part is sound
// and the XSDT checks out, else the RSDT.
static int root_pick(struct parser *ps, const struct rsdp_raw *r, bool v2, paddr_t *addrs)
{
    int n = -1;

    if (v2 && r->xsdt)
        n = root_load(ps, r->xsdt, true, addrs);
    if (n < 0 && r->rsdt) {
        if (v2 && r->xsdt)
            pr_warn("acpi: falling back to the RSDT\n");
        n = root_load(ps, r->rsdt, false, addrs);
    }
    return n;
}

status_t acpi_parse(struct acpi_info *ai, paddr_t rsdp, acpi_phys_reader read, void *ctx)
{
    struct parser ps = {.ai = ai, .read = read, .ctx = ctx};
    paddr_t addrs[ACPI_MAX_TABLES];
    struct rsdp_raw r;
    bool v2;

    if (!ai || !read)
        return ERR_INVALID_ARGS;
    memset(ai, 0, sizeof *ai);
    if (rsdp == 0)
        return ERR_NOT_FOUND;
    status_t s = rsdp_load(&ps, rsdp, &r, &v2);
    if (s != OK)
        return s;
    int n = root_pick(&ps, &r, v2, addrs);
    if (n < 0) {
        pr_warn("acpi: no usable root table (XSDT or RSDT)\n");
        memset(ai, 0, sizeof *ai);
        return ERR_BAD_FORMAT;
    }
    ai->rsdp = rsdp;
    ai->rsdp_revision = r.revision;
    copy_name(ai->oem_id, r.oem_id, 6);
    for (int i = 0; i < n; i++)
        table_load(&ps, addrs[i]);
    if (ai->fadt.present)
        dsdt_load(&ps);
    ai->present = true;
    return OK;
}
