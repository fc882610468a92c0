// nimbus:host
// Tests of the ACPI table parser and the power planning built on it. Table
// images are laid out in a fake physical window, with checksums, by helpers
// that write every field at its offset from the ACPI specification (not
// through the parser's own structures). The reader copies each read to the
// very end of a bounce buffer, so under ASan a read past what the parser
// asked for runs off the buffer, and each read overwrites the previous one.
#include <stdint.h>

#include "dev/acpi.h"
#include "lib/ktest.h"
#include "lib/string.h"

#define FAKE_BASE 0xe0000ull
#define FAKE_SIZE 0x8000ull
#define OUTSIDE   0x80000000ull // never readable

// Where the test tables live.
#define RSDP  (FAKE_BASE + 0x0000)
#define XSDT  (FAKE_BASE + 0x0100)
#define RSDT  (FAKE_BASE + 0x0300)
#define FADT  (FAKE_BASE + 0x0400)
#define DSDT  (FAKE_BASE + 0x0600)
#define MADT  (FAKE_BASE + 0x0a00)
#define MADT2 (FAKE_BASE + 0x1a00)
#define HPET  (FAKE_BASE + 0x1c00)
#define MCFG  (FAKE_BASE + 0x1d00)
#define EXTRA (FAKE_BASE + 0x2000)

// FADT field offsets (ACPI specification, Fixed ACPI Description Table).
#define F_DSDT          40
#define F_SCI_INT       46
#define F_SMI_CMD       48
#define F_ACPI_ENABLE   52
#define F_PM1A_CNT      64
#define F_PM1B_CNT      68
#define F_PM1_CNT_LEN   89
#define F_BOOT_ARCH     109
#define F_FLAGS         112
#define F_RESET_REG     116
#define F_RESET_VALUE   128
#define F_X_DSDT        140
#define F_X_PM1A_CNT    172
#define F_X_PM1B_CNT    184
#define F_SLEEP_CONTROL 244
#define F_SLEEP_STATUS  256

static struct {
    uint8_t mem[FAKE_SIZE];
    uint8_t bounce[FAKE_SIZE];
    size_t max_len;    // the longest read asked for
    paddr_t mutate_pa; // after the first read here, mutate() changes memory once
    void (*mutate)(void);
} fake;

static struct acpi_info ai; // too big for a test's stack in the kernel

static void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
}

static const void *fake_read(paddr_t pa, size_t len, void *ctx)
{
    (void)ctx;
    fake.max_len = MAX(fake.max_len, len);
    if (pa < FAKE_BASE || len > FAKE_SIZE || pa - FAKE_BASE > FAKE_SIZE - len)
        return NULL;
    uint8_t *dst = fake.bounce + FAKE_SIZE - len;
    memcpy(dst, fake.mem + (pa - FAKE_BASE), len);
    if (pa == fake.mutate_pa && fake.mutate) {
        fake.mutate_pa = 0;
        fake.mutate();
    }
    return dst;
}

static uint8_t *at(paddr_t pa)
{
    return fake.mem + (pa - FAKE_BASE);
}

static void put16(paddr_t pa, uint16_t v)
{
    at(pa)[0] = (uint8_t)v;
    at(pa)[1] = (uint8_t)(v >> 8);
}

static void put32(paddr_t pa, uint32_t v)
{
    put16(pa, (uint16_t)v);
    put16(pa + 2, (uint16_t)(v >> 16));
}

static void put64(paddr_t pa, uint64_t v)
{
    put32(pa, (uint32_t)v);
    put32(pa + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(paddr_t pa)
{
    return at(pa)[0] | at(pa)[1] << 8 | at(pa)[2] << 16 | (uint32_t)at(pa)[3] << 24;
}

static void put_gas(paddr_t pa, uint8_t space, uint8_t width, uint8_t access, uint64_t addr)
{
    at(pa)[0] = space;
    at(pa)[1] = width;
    at(pa)[2] = 0;
    at(pa)[3] = access;
    put64(pa + 4, addr);
}

// Sets the byte at pa + off so that the len bytes at pa sum to zero.
static void fix_sum(paddr_t pa, uint32_t len, uint32_t off)
{
    uint8_t s = 0;
    at(pa)[off] = 0;
    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + at(pa)[i]);
    at(pa)[off] = (uint8_t)-s;
}

// A table being built: header first, then fields appended.
struct tb {
    paddr_t pa;
    uint32_t len;
};

static struct tb tb_begin(paddr_t pa, const char *sig, uint8_t rev)
{
    memset(at(pa), 0, 36);
    memcpy(at(pa), sig, 4);
    at(pa)[8] = rev;
    memcpy(at(pa) + 10, "NIMBUS", 6);
    memcpy(at(pa) + 16, "TESTTABL", 8);
    return (struct tb){pa, 36};
}

static void tb_u8(struct tb *b, uint8_t v)
{
    at(b->pa + b->len)[0] = v;
    b->len += 1;
}

static void tb_u16(struct tb *b, uint16_t v)
{
    put16(b->pa + b->len, v);
    b->len += 2;
}

static void tb_u32(struct tb *b, uint32_t v)
{
    put32(b->pa + b->len, v);
    b->len += 4;
}

static void tb_u64(struct tb *b, uint64_t v)
{
    put64(b->pa + b->len, v);
    b->len += 8;
}

static void tb_zero(struct tb *b, uint32_t n)
{
    memset(at(b->pa + b->len), 0, n);
    b->len += n;
}

static void tb_end(const struct tb *b)
{
    put32(b->pa + 4, b->len);
    fix_sum(b->pa, b->len, 9);
}

// Recomputes a table's checksum after a test changed it.
static void resum(paddr_t pa)
{
    fix_sum(pa, get32(pa + 4), 9);
}

static void make_rsdp(uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
    memset(at(RSDP), 0, 36);
    memcpy(at(RSDP), "RSD PTR ", 8);
    memcpy(at(RSDP) + 9, "NIMBUS", 6);
    at(RSDP)[15] = rev;
    put32(RSDP + 16, rsdt);
    put32(RSDP + 20, 36);
    put64(RSDP + 24, xsdt);
    fix_sum(RSDP, 20, 8);
    fix_sum(RSDP, 36, 32);
}

static void make_xsdt(paddr_t pa, const paddr_t *t, size_t n)
{
    struct tb b = tb_begin(pa, "XSDT", 1);
    for (size_t i = 0; i < n; i++)
        tb_u64(&b, t[i]);
    tb_end(&b);
}

static void make_rsdt(paddr_t pa, const paddr_t *t, size_t n)
{
    struct tb b = tb_begin(pa, "RSDT", 1);
    for (size_t i = 0; i < n; i++)
        tb_u32(&b, (uint32_t)t[i]);
    tb_end(&b);
}

// RSDP revision 2 with both an XSDT and an RSDT listing the same tables.
static void make_roots(const paddr_t *t, size_t n)
{
    make_xsdt(XSDT, t, n);
    make_rsdt(RSDT, t, n);
    make_rsdp(2, (uint32_t)RSDT, XSDT);
}

// A FADT of len bytes, all zero but the header.
static struct tb fadt_begin(uint32_t len, uint8_t rev)
{
    struct tb b = tb_begin(FADT, "FACP", rev);
    tb_zero(&b, len - 36);
    return b;
}

// Like QEMU's q35 FADT (revision 3, 244 bytes).
static void make_fadt_q35(void)
{
    struct tb b = fadt_begin(244, 3);
    put32(FADT + F_DSDT, (uint32_t)DSDT);
    put16(FADT + F_SCI_INT, 9);
    put32(FADT + F_SMI_CMD, 0xb2);
    at(FADT + F_ACPI_ENABLE)[0] = 0x02;
    put32(FADT + F_PM1A_CNT, 0x604);
    at(FADT + F_PM1_CNT_LEN)[0] = 2;
    put16(FADT + F_BOOT_ARCH, ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_8042);
    put32(FADT + F_FLAGS, 0x84a5); // includes RESET_REG_SUP
    put_gas(FADT + F_RESET_REG, ACPI_GAS_IO, 8, 0, 0xcf9);
    at(FADT + F_RESET_VALUE)[0] = 0x0f;
    put64(FADT + F_X_DSDT, DSDT);
    put_gas(FADT + F_X_PM1A_CNT, ACPI_GAS_IO, 16, 0, 0x604);
    tb_end(&b);
}

// Like QEMU's microvm FADT (revision 5, hardware-reduced, GED registers).
static void make_fadt_microvm(void)
{
    struct tb b = fadt_begin(268, 5);
    put32(FADT + F_FLAGS, ACPI_FADT_HW_REDUCED | ACPI_FADT_RESET_REG_SUP);
    put_gas(FADT + F_RESET_REG, ACPI_GAS_MEMORY, 8, 0, 0xfea00202);
    at(FADT + F_RESET_VALUE)[0] = 0x42;
    put64(FADT + F_X_DSDT, DSDT);
    put_gas(FADT + F_SLEEP_CONTROL, ACPI_GAS_MEMORY, 8, 0, 0xfea00200);
    put_gas(FADT + F_SLEEP_STATUS, ACPI_GAS_MEMORY, 8, 0, 0xfea00201);
    tb_end(&b);
}

// Like QEMU's pc FADT (revision 1, the 116-byte ACPI 1.0 layout).
static void make_fadt_pc(void)
{
    struct tb b = fadt_begin(116, 1);
    put32(FADT + F_DSDT, (uint32_t)DSDT);
    put16(FADT + F_SCI_INT, 9);
    put32(FADT + F_SMI_CMD, 0xb2);
    at(FADT + F_ACPI_ENABLE)[0] = 0xf1;
    put32(FADT + F_PM1A_CNT, 0x604);
    at(FADT + F_PM1_CNT_LEN)[0] = 2;
    put16(FADT + F_BOOT_ARCH, 0xffff); // reserved before revision 3: must be ignored
    put32(FADT + F_FLAGS, 0x80a5);
    tb_end(&b);
}

// Some AML before the interesting part: a scope, and two decoys that are not
// Name(_S5_): a string and a method named _S5_.
static const uint8_t aml_filler[] = {
    0x10, 0x09, '\\', '_', 'S', 'B',  '_',  0x08, 'X',  'X',  'X', // Scope (\_SB) {Name(XXX...
    0x0d, '_',  'S',  '5', '_', 0x00,                              // "_S5_"
    0x14, 0x08, '_',  'S', '5', '_',  0x00, 0xa4, 0x0a, 0x03,      // Method (_S5_) {Return (3)}
};

// Name (_S5_, Package (4) {0x05, One, Zero, Zero})
static const uint8_t aml_s5_good[] = {0x08, '_',  'S',  '5',  '_',  0x12, 0x07,
                                      0x04, 0x0a, 0x05, 0x01, 0x00, 0x00};

static void make_dsdt(const uint8_t *aml, size_t n, bool filler)
{
    struct tb b = tb_begin(DSDT, "DSDT", 2);
    if (filler) {
        memcpy(at(DSDT + b.len), aml_filler, sizeof aml_filler);
        b.len += sizeof aml_filler;
    }
    memcpy(at(DSDT + b.len), aml, n);
    b.len += (uint32_t)n;
    tb_end(&b);
}

static struct tb madt_begin(paddr_t pa)
{
    struct tb b = tb_begin(pa, "APIC", 4);
    tb_u32(&b, 0xfee00000);
    tb_u32(&b, ACPI_MADT_PCAT_COMPAT);
    return b;
}

static void madt_lapic(struct tb *b, uint8_t uid, uint8_t id, uint32_t flags)
{
    tb_u8(b, 0);
    tb_u8(b, 8);
    tb_u8(b, uid);
    tb_u8(b, id);
    tb_u32(b, flags);
}

static void madt_ioapic(struct tb *b, uint8_t id, uint32_t addr, uint32_t gsi)
{
    tb_u8(b, 1);
    tb_u8(b, 12);
    tb_u8(b, id);
    tb_u8(b, 0);
    tb_u32(b, addr);
    tb_u32(b, gsi);
}

static void madt_iso(struct tb *b, uint8_t irq, uint32_t gsi, uint16_t flags)
{
    tb_u8(b, 2);
    tb_u8(b, 10);
    tb_u8(b, 0);
    tb_u8(b, irq);
    tb_u32(b, gsi);
    tb_u16(b, flags);
}

static void madt_lapic_nmi(struct tb *b, uint8_t uid, uint16_t flags, uint8_t lint)
{
    tb_u8(b, 4);
    tb_u8(b, 6);
    tb_u8(b, uid);
    tb_u16(b, flags);
    tb_u8(b, lint);
}

// 4 CPUs (the last one only online-capable), an IOAPIC, 2 overrides, the
// local APIC NMI QEMU lists.
static void make_madt_good(void)
{
    struct tb b = madt_begin(MADT);
    for (uint8_t i = 0; i < 3; i++)
        madt_lapic(&b, i, i, 1);
    madt_lapic(&b, 3, 3, 2);
    madt_ioapic(&b, 0, 0xfec00000, 0);
    madt_iso(&b, 0, 2, 0);
    madt_iso(&b, 9, 9, 0x000d); // active high, level
    madt_lapic_nmi(&b, 0xff, 0, 1);
    tb_end(&b);
}

static void make_hpet(void)
{
    struct tb b = tb_begin(HPET, "HPET", 1);
    tb_u32(&b, 0x8086a201);
    tb_u8(&b, ACPI_GAS_MEMORY);
    tb_u8(&b, 64);
    tb_u8(&b, 0);
    tb_u8(&b, 0);
    tb_u64(&b, 0xfed00000);
    tb_u8(&b, 0);
    tb_u16(&b, 0x80);
    tb_u8(&b, 0);
    tb_end(&b);
}

static void mcfg_entry(struct tb *b, uint64_t base, uint16_t seg, uint8_t start, uint8_t end)
{
    tb_u64(b, base);
    tb_u16(b, seg);
    tb_u8(b, start);
    tb_u8(b, end);
    tb_u32(b, 0);
}

static void make_mcfg(void)
{
    struct tb b = tb_begin(MCFG, "MCFG", 1);
    tb_zero(&b, 8);
    mcfg_entry(&b, 0xb0000000, 0, 0, 255);
    tb_end(&b);
}

static const paddr_t good_tables[] = {FADT, MADT, HPET, MCFG};

// A QEMU-like set: RSDP v2 -> XSDT (and RSDT) -> FADT (-> DSDT with _S5_),
// MADT, HPET, MCFG.
static void make_good(void)
{
    fake_reset();
    make_fadt_q35();
    make_dsdt(aml_s5_good, sizeof aml_s5_good, true);
    make_madt_good();
    make_hpet();
    make_mcfg();
    make_roots(good_tables, ARRAY_SIZE(good_tables));
}

static status_t parse(void)
{
    return acpi_parse(&ai, RSDP, fake_read, NULL);
}

static void acpi_good_set(struct ktest *t)
{
    make_good();
    ASSERT_OK(parse());
    EXPECT_TRUE(ai.present);
    EXPECT_TRUE(ai.xsdt);
    EXPECT_EQ(ai.root, XSDT);
    EXPECT_EQ(ai.rsdp_revision, 2);
    EXPECT_STREQ(ai.oem_id, "NIMBUS");
    EXPECT_EQ(ai.ntables, 5u);
    EXPECT_EQ(ai.tables_bad, 0u);
    EXPECT_EQ(ai.tables_dropped, 0u);
    const struct acpi_table *d = acpi_table_find(&ai, "DSDT");
    ASSERT_NOT_NULL(d);
    EXPECT_EQ(d->pa, DSDT);
    EXPECT_EQ(d->revision, 2);
    EXPECT_STREQ(ai.tables[0].sig, "FACP");
    EXPECT_EQ(ai.tables[0].length, 244u);
    EXPECT_NULL(acpi_table_find(&ai, "SSDT"));
    EXPECT_TRUE(ai.s5.valid);
    EXPECT_EQ(ai.s5.typ_a, 5);
    EXPECT_EQ(ai.s5.typ_b, 1);
    EXPECT_LE(fake.max_len, (size_t)ACPI_TABLE_MAX_LEN);
}

static void acpi_good_madt(struct ktest *t)
{
    make_good();
    ASSERT_OK(parse());
    const struct acpi_madt *m = &ai.madt;
    ASSERT_TRUE(m->present);
    EXPECT_EQ(m->lapic_addr, 0xfee00000ull);
    EXPECT_EQ(m->flags, ACPI_MADT_PCAT_COMPAT);
    ASSERT_EQ(m->ncpus, 4u);
    for (uint32_t i = 0; i < 4; i++) {
        EXPECT_EQ(m->cpus[i].apic_id, i);
        EXPECT_EQ(m->cpus[i].uid, i);
        EXPECT_FALSE(m->cpus[i].x2apic);
    }
    EXPECT_TRUE(m->cpus[0].enabled);
    EXPECT_FALSE(m->cpus[0].online_capable);
    EXPECT_FALSE(m->cpus[3].enabled);
    EXPECT_TRUE(m->cpus[3].online_capable);
    ASSERT_EQ(m->nioapics, 1u);
    EXPECT_EQ(m->ioapics[0].address, 0xfec00000u);
    EXPECT_EQ(m->ioapics[0].gsi_base, 0u);
    ASSERT_EQ(m->noverrides, 2u);
    EXPECT_EQ(m->overrides[0].irq, 0);
    EXPECT_EQ(m->overrides[0].gsi, 2u);
    EXPECT_EQ(m->overrides[0].polarity, ACPI_POLARITY_CONFORMS);
    EXPECT_EQ(m->overrides[1].irq, 9);
    EXPECT_EQ(m->overrides[1].gsi, 9u);
    EXPECT_EQ(m->overrides[1].polarity, ACPI_POLARITY_HIGH);
    EXPECT_EQ(m->overrides[1].trigger, ACPI_TRIGGER_LEVEL);
    ASSERT_EQ(m->nlapic_nmis, 1u);
    EXPECT_EQ(m->lapic_nmis[0].uid, ACPI_UID_ALL);
    EXPECT_EQ(m->lapic_nmis[0].lint, 1);
    EXPECT_EQ(m->bad_entries, 0u);
    EXPECT_EQ(m->cpus_dropped, 0u);
}

static void acpi_good_fadt_hpet_mcfg(struct ktest *t)
{
    make_good();
    ASSERT_OK(parse());
    const struct acpi_fadt *f = &ai.fadt;
    ASSERT_TRUE(f->present);
    EXPECT_EQ(f->revision, 3);
    EXPECT_FALSE(f->hw_reduced);
    EXPECT_EQ(f->sci_irq, 9);
    EXPECT_EQ(f->dsdt, DSDT);
    EXPECT_EQ(f->pm1a_cnt.space, ACPI_GAS_IO);
    EXPECT_EQ(f->pm1a_cnt.address, 0x604ull);
    EXPECT_EQ(f->pm1b_cnt.address, 0ull);
    EXPECT_EQ(f->reset_reg.address, 0xcf9ull);
    EXPECT_EQ(f->reset_value, 0x0f);
    EXPECT_TRUE(f->boot_flags_valid);
    EXPECT_EQ((int)acpi_has_8042(&ai), (int)ACPI_YES);
    ASSERT_TRUE(ai.hpet.present);
    EXPECT_EQ(ai.hpet.base, 0xfed00000ull);
    EXPECT_EQ(ai.hpet.block_id, 0x8086a201u);
    EXPECT_EQ(ai.hpet.min_tick, 0x80);
    ASSERT_EQ(ai.nmcfg, 1u);
    EXPECT_EQ(ai.mcfg[0].base, 0xb0000000ull);
    EXPECT_EQ(ai.mcfg[0].bus_start, 0);
    EXPECT_EQ(ai.mcfg[0].bus_end, 255);
}

static void acpi_good_power_plan(struct ktest *t)
{
    struct acpi_poweroff p;
    struct acpi_gas reg;
    uint8_t val = 0;
    const char *why = NULL;

    make_good();
    ASSERT_OK(parse());
    ASSERT_OK(acpi_poweroff_plan(&ai, &p, &why));
    EXPECT_EQ((int)p.method, (int)ACPI_OFF_PM1);
    EXPECT_EQ(p.reg_a.address, 0x604ull);
    EXPECT_EQ(p.reg_b.address, 0ull);
    EXPECT_EQ(p.typ_a, 5);
    EXPECT_EQ(p.typ_b, 1);
    ASSERT_OK(acpi_reset_plan(&ai, &reg, &val, &why));
    EXPECT_EQ(reg.space, ACPI_GAS_IO);
    EXPECT_EQ(reg.address, 0xcf9ull);
    EXPECT_EQ(val, 0x0f);
    put32(FADT + F_FLAGS, 0x84a5 & ~ACPI_FADT_RESET_REG_SUP); // register there, not offered
    resum(FADT);
    ASSERT_OK(parse());
    EXPECT_STATUS(acpi_reset_plan(&ai, &reg, &val, &why), ERR_NOT_SUPPORTED);
}

static void acpi_args(struct ktest *t)
{
    make_good();
    EXPECT_STATUS(acpi_parse(&ai, RSDP, NULL, NULL), ERR_INVALID_ARGS);
    EXPECT_STATUS(acpi_parse(NULL, RSDP, fake_read, NULL), ERR_INVALID_ARGS);
    EXPECT_STATUS(acpi_parse(&ai, 0, fake_read, NULL), ERR_NOT_FOUND);
    EXPECT_FALSE(ai.present);
    EXPECT_STATUS(acpi_parse(&ai, OUTSIDE, fake_read, NULL), ERR_BAD_FORMAT);
    EXPECT_STATUS(acpi_parse(&ai, UINT64_MAX - 4, fake_read, NULL), ERR_BAD_FORMAT);
    struct acpi_poweroff p;
    const char *why = NULL;
    EXPECT_STATUS(acpi_poweroff_plan(NULL, &p, &why), ERR_NOT_SUPPORTED);
    EXPECT_NOT_NULL(why);
    EXPECT_EQ((int)acpi_has_8042(NULL), (int)ACPI_UNKNOWN);
}

static void acpi_rsdp_bad(struct ktest *t)
{
    make_good();
    at(RSDP)[9] ^= 1; // OEM ID: the v1 checksum no longer holds
    EXPECT_STATUS(parse(), ERR_BAD_FORMAT);
    EXPECT_FALSE(ai.present);
    EXPECT_EQ(ai.ntables, 0u);
    make_good();
    at(RSDP)[0] = 'X';
    fix_sum(RSDP, 20, 8);
    fix_sum(RSDP, 36, 32);
    EXPECT_STATUS(parse(), ERR_BAD_FORMAT);
}

static void acpi_rsdp_v2_bad_ext_checksum_uses_rsdt(struct ktest *t)
{
    make_good();
    at(RSDP)[32] ^= 0x55;
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.xsdt);
    EXPECT_EQ(ai.root, RSDT);
    EXPECT_TRUE(ai.madt.present);
    EXPECT_TRUE(ai.s5.valid);
    make_good();
    put32(RSDP + 20, 20); // a v2 length shorter than v2
    fix_sum(RSDP, 36, 32);
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.xsdt);
}

static void acpi_rsdp_v1_uses_rsdt(struct ktest *t)
{
    make_good();
    make_rsdp(0, (uint32_t)RSDT, XSDT); // revision 0: the XSDT field is not there
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.xsdt);
    EXPECT_EQ(ai.rsdp_revision, 0);
    EXPECT_EQ(ai.ntables, 5u);
}

static void acpi_xsdt_unusable_falls_back(struct ktest *t)
{
    make_good();
    make_rsdp(2, (uint32_t)RSDT, OUTSIDE);
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.xsdt);
    EXPECT_EQ(ai.ntables, 5u);
    make_good();
    at(XSDT + 40)[0] ^= 0xff; // first entry: checksum broken
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.xsdt);
    EXPECT_TRUE(ai.fadt.present);
    make_good();
    make_rsdp(2, (uint32_t)RSDT, MADT); // the "XSDT" is another table
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.xsdt);
}

static void acpi_no_usable_root(struct ktest *t)
{
    make_good();
    make_rsdp(2, (uint32_t)OUTSIDE, OUTSIDE);
    EXPECT_STATUS(parse(), ERR_BAD_FORMAT);
    EXPECT_FALSE(ai.present);
    make_good();
    make_rsdp(0, 0, 0);
    EXPECT_STATUS(parse(), ERR_BAD_FORMAT);
}

static void acpi_table_bad_checksum_skipped(struct ktest *t)
{
    make_good();
    at(HPET + 40)[0] ^= 0x10;
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.hpet.present);
    EXPECT_NULL(acpi_table_find(&ai, "HPET"));
    EXPECT_EQ(ai.tables_bad, 1u);
    EXPECT_EQ(ai.ntables, 4u);
    EXPECT_TRUE(ai.madt.present);
    EXPECT_EQ(ai.nmcfg, 1u);
}

static void acpi_table_length_below_header(struct ktest *t)
{
    make_good();
    put32(MADT + 4, 20);
    fix_sum(MADT, 20, 9);
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.madt.present);
    EXPECT_EQ(ai.tables_bad, 1u);
    make_good();
    put32(MADT + 4, 40); // a valid table header, but too short for a MADT
    fix_sum(MADT, 40, 9);
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.madt.present);
    EXPECT_EQ(ai.tables_bad, 1u);
    make_good();
    put32(FADT + 4, 100); // shorter than the ACPI 1.0 FADT
    fix_sum(FADT, 100, 9);
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.fadt.present);
    EXPECT_FALSE(ai.s5.valid);
}

static void acpi_table_huge_length(struct ktest *t)
{
    make_good();
    put32(MADT + 4, 0xfffffff0u);
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.madt.present);
    EXPECT_EQ(ai.tables_bad, 1u);
    EXPECT_LE(fake.max_len, (size_t)ACPI_TABLE_MAX_LEN);
    make_good();
    put32(XSDT + 4, ACPI_TABLE_MAX_LEN + 1);
    ASSERT_OK(parse()); // falls back to the RSDT
    EXPECT_FALSE(ai.xsdt);
    EXPECT_LE(fake.max_len, (size_t)ACPI_TABLE_MAX_LEN);
}

static void acpi_table_entries_unreadable(struct ktest *t)
{
    const paddr_t tables[] = {OUTSIDE, 0, FAKE_BASE + FAKE_SIZE - 16, MADT, UINT64_MAX - 8};
    make_good();
    make_xsdt(XSDT, tables, ARRAY_SIZE(tables));
    make_rsdp(2, 0, XSDT);
    ASSERT_OK(parse());
    EXPECT_EQ(ai.tables_bad, 4u);
    EXPECT_EQ(ai.ntables, 1u);
    EXPECT_TRUE(ai.madt.present);
}

// Changes the MADT's OEM ID and keeps its checksum valid.
static void change_madt(void)
{
    at(MADT + 10)[0]++;
    at(MADT + 11)[0]--;
}

// Points the RSDP at another RSDT, with both checksums valid.
static void change_rsdp(void)
{
    put32(RSDP + 16, (uint32_t)OUTSIDE);
    fix_sum(RSDP, 20, 8);
    fix_sum(RSDP, 36, 32);
}

// Memory that changes between the parser's reads (another agent, a hostile
// VMM) is refused rather than parsed half old, half new.
static void acpi_table_changed_while_read(struct ktest *t)
{
    make_good();
    fake.mutate_pa = MADT;
    fake.mutate = change_madt;
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.madt.present);
    EXPECT_EQ(ai.tables_bad, 1u);
    make_good();
    fake.mutate_pa = RSDP; // after the v1 part was checked
    fake.mutate = change_rsdp;
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.xsdt); // the v2 part is not trusted; the checked v1 part is used
    EXPECT_EQ(ai.root, RSDT);
}

static void acpi_table_duplicate_first_wins(struct ktest *t)
{
    const paddr_t tables[] = {MADT, MADT2};
    make_good();
    make_madt_good();
    struct tb b = madt_begin(MADT2);
    madt_lapic(&b, 7, 7, 1);
    tb_end(&b);
    make_roots(tables, ARRAY_SIZE(tables));
    ASSERT_OK(parse());
    EXPECT_EQ(ai.madt.ncpus, 4u);
    EXPECT_EQ(ai.tables_bad, 1u);
}

static void acpi_many_tables_bounded(struct ktest *t)
{
    paddr_t tables[40];
    make_good();
    for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
        tables[i] = EXTRA + i * 64;
        struct tb b = tb_begin(tables[i], "SSDT", 1);
        tb_end(&b);
    }
    make_roots(tables, ARRAY_SIZE(tables));
    ASSERT_OK(parse());
    EXPECT_EQ(ai.ntables, (uint32_t)ACPI_MAX_TABLES);
    EXPECT_EQ(ai.tables_dropped, (uint32_t)(ARRAY_SIZE(tables) - ACPI_MAX_TABLES));
    EXPECT_STREQ(ai.tables[31].sig, "SSDT");
}

static void acpi_madt_zero_length_entry(struct ktest *t)
{
    make_good();
    struct tb b = madt_begin(MADT);
    madt_lapic(&b, 0, 0, 1);
    tb_u8(&b, 0); // type 0, length 0: a naive walk would loop forever
    tb_u8(&b, 0);
    madt_lapic(&b, 1, 1, 1);
    tb_end(&b);
    ASSERT_OK(parse());
    EXPECT_TRUE(ai.madt.present);
    EXPECT_EQ(ai.madt.ncpus, 1u);
    EXPECT_EQ(ai.madt.bad_entries, 1u);
    b = madt_begin(MADT);
    madt_lapic(&b, 0, 0, 1);
    tb_u8(&b, 1); // length 1
    tb_u8(&b, 1);
    tb_end(&b);
    ASSERT_OK(parse());
    EXPECT_EQ(ai.madt.ncpus, 1u);
    EXPECT_EQ(ai.madt.bad_entries, 1u);
}

static void acpi_madt_entry_past_end(struct ktest *t)
{
    make_good();
    struct tb b = madt_begin(MADT);
    madt_lapic(&b, 0, 0, 1);
    madt_ioapic(&b, 0, 0xfec00000, 0);
    at(MADT + b.len - 11)[0] = 200; // the IOAPIC entry claims 200 bytes
    tb_end(&b);
    ASSERT_OK(parse());
    EXPECT_EQ(ai.madt.ncpus, 1u);
    EXPECT_EQ(ai.madt.nioapics, 0u);
    EXPECT_EQ(ai.madt.bad_entries, 1u);
    b = madt_begin(MADT);
    madt_lapic(&b, 0, 0, 1);
    tb_u8(&b, 0); // a lone type byte: no room for a length
    tb_end(&b);
    ASSERT_OK(parse());
    EXPECT_EQ(ai.madt.ncpus, 1u);
    EXPECT_EQ(ai.madt.bad_entries, 1u);
}

static void acpi_madt_entry_too_short_for_type(struct ktest *t)
{
    make_good();
    struct tb b = madt_begin(MADT);
    tb_u8(&b, 1); // an IOAPIC entry of 4 bytes: skipped, the walk goes on
    tb_u8(&b, 4);
    tb_u16(&b, 0);
    tb_u8(&b, 0x7f); // an unknown type: counted, skipped
    tb_u8(&b, 3);
    tb_u8(&b, 0);
    madt_lapic(&b, 0, 0, 1);
    madt_lapic(&b, 1, 0xff, 1); // APIC ID 0xff is not a CPU
    tb_u8(&b, 0);               // a longer local APIC entry than today's: fine
    tb_u8(&b, 10);
    tb_u8(&b, 2);
    tb_u8(&b, 2);
    tb_u32(&b, 1);
    tb_u16(&b, 0);
    tb_end(&b);
    ASSERT_OK(parse());
    EXPECT_EQ(ai.madt.nioapics, 0u);
    EXPECT_EQ(ai.madt.bad_entries, 1u);
    EXPECT_EQ(ai.madt.other_entries, 1u);
    ASSERT_EQ(ai.madt.ncpus, 2u);
    EXPECT_EQ(ai.madt.cpus[1].apic_id, 2u);
}

static void acpi_madt_too_many(struct ktest *t)
{
    make_good();
    struct tb b = madt_begin(MADT);
    for (unsigned i = 0; i < 70; i++)
        madt_lapic(&b, (uint8_t)i, (uint8_t)i, 1);
    for (unsigned i = 0; i < 10; i++)
        madt_ioapic(&b, (uint8_t)i, 0xfec00000 + i * 0x1000, i * 24);
    for (unsigned i = 0; i < 20; i++)
        madt_iso(&b, (uint8_t)i, i, 0);
    for (unsigned i = 0; i < 10; i++)
        madt_lapic_nmi(&b, (uint8_t)i, 0, 1);
    tb_end(&b);
    ASSERT_OK(parse());
    const struct acpi_madt *m = &ai.madt;
    EXPECT_EQ(m->ncpus, (uint32_t)ACPI_MAX_CPUS);
    EXPECT_EQ(m->cpus_dropped, 70u - ACPI_MAX_CPUS);
    EXPECT_EQ(m->cpus[ACPI_MAX_CPUS - 1].apic_id, ACPI_MAX_CPUS - 1u);
    EXPECT_EQ(m->nioapics, (uint32_t)ACPI_MAX_IOAPICS);
    EXPECT_EQ(m->ioapics_dropped, 10u - ACPI_MAX_IOAPICS);
    EXPECT_EQ(m->noverrides, (uint32_t)ACPI_MAX_OVERRIDES);
    EXPECT_EQ(m->overrides_dropped, 20u - ACPI_MAX_OVERRIDES);
    EXPECT_EQ(m->nlapic_nmis, (uint32_t)ACPI_MAX_NMIS);
    EXPECT_EQ(m->lapic_nmis_dropped, 10u - ACPI_MAX_NMIS);
}

static void acpi_madt_x2apic_and_overrides(struct ktest *t)
{
    make_good();
    struct tb b = madt_begin(MADT);
    madt_lapic(&b, 0, 0, 1);
    tb_u8(&b, 9); // x2APIC, the same CPU again: kept once
    tb_u8(&b, 16);
    tb_u16(&b, 0);
    tb_u32(&b, 0);
    tb_u32(&b, 1);
    tb_u32(&b, 0);
    tb_u8(&b, 9); // x2APIC ID 300, disabled
    tb_u8(&b, 16);
    tb_u16(&b, 0);
    tb_u32(&b, 300);
    tb_u32(&b, 0);
    tb_u32(&b, 1000);
    tb_u8(&b, 5); // Local APIC Address Override
    tb_u8(&b, 12);
    tb_u16(&b, 0);
    tb_u64(&b, 0x1fee00000ull);
    tb_u8(&b, 3); // NMI Source: GSI 7, active low, edge
    tb_u8(&b, 8);
    tb_u16(&b, 0x0007);
    tb_u32(&b, 7);
    tb_u8(&b, 10); // Local x2APIC NMI: UID 1000, LINT0
    tb_u8(&b, 12);
    tb_u16(&b, 0);
    tb_u32(&b, 1000);
    tb_u8(&b, 0);
    tb_zero(&b, 3);
    tb_end(&b);
    ASSERT_OK(parse());
    const struct acpi_madt *m = &ai.madt;
    EXPECT_EQ(m->lapic_addr, 0x1fee00000ull);
    ASSERT_EQ(m->ncpus, 2u);
    EXPECT_FALSE(m->cpus[0].x2apic);
    EXPECT_EQ(m->cpus[1].apic_id, 300u);
    EXPECT_EQ(m->cpus[1].uid, 1000u);
    EXPECT_TRUE(m->cpus[1].x2apic);
    EXPECT_FALSE(m->cpus[1].enabled);
    ASSERT_EQ(m->nnmi_sources, 1u);
    EXPECT_EQ(m->nmi_sources[0].gsi, 7u);
    EXPECT_EQ(m->nmi_sources[0].polarity, ACPI_POLARITY_LOW);
    EXPECT_EQ(m->nmi_sources[0].trigger, ACPI_TRIGGER_EDGE);
    ASSERT_EQ(m->nlapic_nmis, 1u);
    EXPECT_EQ(m->lapic_nmis[0].uid, 1000u);
    EXPECT_EQ(m->lapic_nmis[0].lint, 0);
    EXPECT_EQ(m->bad_entries, 0u);
}

static void acpi_dsdt_without_s5(struct ktest *t)
{
    struct acpi_poweroff p;
    const char *why = NULL;

    make_good();
    make_dsdt(aml_filler, sizeof aml_filler, false);
    ASSERT_OK(parse());
    EXPECT_NOT_NULL(acpi_table_find(&ai, "DSDT"));
    EXPECT_FALSE(ai.s5.valid);
    EXPECT_STATUS(acpi_poweroff_plan(&ai, &p, &why), ERR_NOT_SUPPORTED);
    EXPECT_NOT_NULL(why);
    EXPECT_EQ((int)p.method, (int)ACPI_OFF_NONE);
}

static void acpi_dsdt_bad(struct ktest *t)
{
    make_good();
    at(DSDT + 40)[0] ^= 1;
    ASSERT_OK(parse());
    EXPECT_NULL(acpi_table_find(&ai, "DSDT"));
    EXPECT_EQ(ai.tables_bad, 1u);
    EXPECT_FALSE(ai.s5.valid);
    make_good();
    put32(FADT + F_DSDT, (uint32_t)MADT); // not a DSDT
    put64(FADT + F_X_DSDT, MADT);
    resum(FADT);
    ASSERT_OK(parse());
    EXPECT_FALSE(ai.s5.valid);
    EXPECT_EQ(ai.tables_bad, 1u);
}

struct s5_case {
    const uint8_t *aml;
    size_t len;
    uint8_t a, b;
};

static void acpi_s5_encodings(struct ktest *t)
{
    // QEMU q35/pc: Package (4) {Zero, Zero, Zero, Zero}
    static const uint8_t q35[] = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0};
    // QEMU microvm: Package (4) {0x05, Zero, Zero, Zero}
    static const uint8_t microvm[] = {0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 5, 0, 0, 0};
    // Root prefix, OneOp and a WordPrefix
    static const uint8_t root[] = {0x08, '\\', '_',  'S',  '5', '_', 0x12,
                                   0x06, 0x02, 0x01, 0x0b, 7,   0};
    // Parent prefixes, DWord and QWord prefixes
    static const uint8_t parent[] = {0x08, '^',  '^',  '_', 'S', '5', '_', 0x12,
                                     0x10, 0x02, 0x0c, 3,   0,   0,   0,   0x0e,
                                     6,    0,    0,    0,   0,   0,   0,   0};
    // A two-byte PkgLength (0x46 0x00: 6) and a package with two elements
    static const uint8_t pkg2[] = {0x08, '_',  'S',  '5', '_',  0x12, 0x47,
                                   0x00, 0x02, 0x0a, 4,   0x0a, 2};
    // A malformed first _S5_ (values too big), then a good one
    static const uint8_t second[] = {0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0xff, 0xff,
                                     0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x00};
    static const struct s5_case cases[] = {
        {q35, sizeof q35, 0, 0},
        {microvm, sizeof microvm, 5, 0},
        {root, sizeof root, 1, 7},
        {parent, sizeof parent, 3, 6},
        {pkg2, sizeof pkg2, 4, 2},
        {second, sizeof second, 1, 0},
        {aml_s5_good, sizeof aml_s5_good, 5, 1},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct acpi_sleep_type s = {0};
        bool found = acpi_find_s5(cases[i].aml, cases[i].len, &s);
        KTEST_CHECK_(found, (void)0, "case %zu: no _S5_ found", i);
        if (!found)
            continue;
        EXPECT_TRUE(s.valid);
        EXPECT_EQ(s.typ_a, cases[i].a);
        EXPECT_EQ(s.typ_b, cases[i].b);
    }
}

static void acpi_s5_malformed(struct ktest *t)
{
    static const uint8_t one_elem[] = {0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x01, 0x0a, 5, 0};
    static const uint8_t too_big[] = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 8, 0, 0};
    static const uint8_t ones[] = {0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0xff, 0x00};
    static const uint8_t long_pkg[] = {0x08, '_', 'S', '5', '_', 0x12, 0x3f, 0x02, 0x00, 0x00};
    static const uint8_t pkg_zero[] = {0x08, '_', 'S', '5', '_', 0x12, 0x00, 0x02, 0x00, 0x00};
    static const uint8_t reserved_bits[] = {0x08, '_', 'S', '5', '_', 0x12, 0x75, 0x00, 0x02, 0, 0};
    static const uint8_t not_int[] = {0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0d, 'a', 0};
    static const uint8_t no_name_op[] = {0x07, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x00, 0x00};
    static const uint8_t not_pkg[] = {0x08, '_', 'S', '5', '_', 0x0a, 0x05};
    static const uint8_t *const bad[] = {one_elem,      too_big, ones,       long_pkg, pkg_zero,
                                         reserved_bits, not_int, no_name_op, not_pkg};
    static const size_t bad_len[] = {sizeof one_elem, sizeof too_big,    sizeof ones,
                                     sizeof long_pkg, sizeof pkg_zero,   sizeof reserved_bits,
                                     sizeof not_int,  sizeof no_name_op, sizeof not_pkg};
    struct acpi_sleep_type s;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        KTEST_CHECK_(!acpi_find_s5(bad[i], bad_len[i], &s), (void)0, "case %zu accepted", i);
        EXPECT_FALSE(s.valid);
    }
    // Every truncation of a good encoding is refused; each sits at the end of
    // the bounce buffer, so a read past it runs off the buffer.
    for (size_t n = 0; n < sizeof aml_s5_good; n++) {
        uint8_t *copy = fake.bounce + FAKE_SIZE - n;
        memcpy(copy, aml_s5_good, n);
        KTEST_CHECK_(!acpi_find_s5(n ? copy : NULL, n, &s), (void)0, "accepted %zu bytes", n);
    }
}

// QEMU microvm: hardware-reduced, power through the GED's sleep control
// register, reset through its reset register.
static void acpi_hw_reduced_microvm(struct ktest *t)
{
    static const uint8_t microvm_s5[] = {0x08, '_',  'S', '5', '_', 0x12, 0x07,
                                         0x04, 0x0a, 5,   0,   0,   0};
    const paddr_t tables[] = {FADT, MADT};
    struct acpi_poweroff p;
    struct acpi_gas reg;
    uint8_t val = 0;
    const char *why = NULL;

    fake_reset();
    make_fadt_microvm();
    make_dsdt(microvm_s5, sizeof microvm_s5, false);
    make_madt_good();
    make_roots(tables, ARRAY_SIZE(tables));
    ASSERT_OK(parse());
    EXPECT_TRUE(ai.fadt.hw_reduced);
    EXPECT_EQ(ai.fadt.pm1a_cnt.address, 0ull);
    EXPECT_EQ(ai.fadt.sleep_sts.address, 0xfea00201ull);
    ASSERT_OK(acpi_poweroff_plan(&ai, &p, &why));
    EXPECT_EQ((int)p.method, (int)ACPI_OFF_SLEEP_CTL);
    EXPECT_EQ(p.reg_a.space, ACPI_GAS_MEMORY);
    EXPECT_EQ(p.reg_a.address, 0xfea00200ull);
    EXPECT_EQ(p.typ_a, 5);
    EXPECT_EQ(acpi_sleep_ctl_value(p.typ_a), 0x34);
    ASSERT_OK(acpi_reset_plan(&ai, &reg, &val, &why));
    EXPECT_EQ(reg.address, 0xfea00202ull);
    EXPECT_EQ(val, 0x42);
    EXPECT_EQ((int)acpi_has_8042(&ai), (int)ACPI_NO);
    put32(FADT + F_PM1A_CNT, 0x604); // PM1 blocks do not count on hardware-reduced platforms
    at(FADT + F_PM1_CNT_LEN)[0] = 2;
    resum(FADT);
    ASSERT_OK(parse());
    ASSERT_OK(acpi_poweroff_plan(&ai, &p, &why));
    EXPECT_EQ((int)p.method, (int)ACPI_OFF_SLEEP_CTL);
    put_gas(FADT + F_SLEEP_CONTROL, ACPI_GAS_MEMORY, 8, 0, 0); // no sleep control register
    resum(FADT);
    ASSERT_OK(parse());
    EXPECT_STATUS(acpi_poweroff_plan(&ai, &p, &why), ERR_NOT_SUPPORTED);
}

// QEMU pc: the ACPI 1.0 FADT: 32-bit fields only, no boot flags, no reset
// register.
static void acpi_fadt_v1_pc(struct ktest *t)
{
    const paddr_t tables[] = {FADT, MADT};
    struct acpi_poweroff p;
    struct acpi_gas reg;
    uint8_t val;
    const char *why = NULL;

    fake_reset();
    make_fadt_pc();
    make_dsdt(aml_s5_good, sizeof aml_s5_good, false);
    make_madt_good();
    make_rsdt(RSDT, tables, ARRAY_SIZE(tables));
    make_rsdp(0, (uint32_t)RSDT, 0);
    ASSERT_OK(parse());
    EXPECT_EQ(ai.fadt.dsdt, DSDT);
    EXPECT_EQ(ai.fadt.pm1a_cnt.space, ACPI_GAS_IO);
    EXPECT_EQ(ai.fadt.pm1a_cnt.bit_width, 16);
    EXPECT_EQ(ai.fadt.pm1a_cnt.address, 0x604ull);
    EXPECT_FALSE(ai.fadt.boot_flags_valid);
    EXPECT_EQ(ai.fadt.boot_flags, 0);
    EXPECT_EQ((int)acpi_has_8042(&ai), (int)ACPI_UNKNOWN);
    EXPECT_EQ(ai.fadt.reset_reg.address, 0ull);
    EXPECT_STATUS(acpi_reset_plan(&ai, &reg, &val, &why), ERR_NOT_SUPPORTED);
    ASSERT_OK(acpi_poweroff_plan(&ai, &p, &why));
    EXPECT_EQ((int)p.method, (int)ACPI_OFF_PM1);
}

// The 64-bit X_ fields win over the 32-bit ones when set.
static void acpi_fadt_prefers_x_fields(struct ktest *t)
{
    make_good();
    put32(FADT + F_DSDT, (uint32_t)OUTSIDE);
    put32(FADT + F_PM1B_CNT, 0x700);
    put_gas(FADT + F_X_PM1A_CNT, ACPI_GAS_IO, 16, ACPI_ACCESS_WORD, 0x608);
    put_gas(FADT + F_RESET_REG, ACPI_GAS_PCI_CONFIG, 8, 0, 0x64);
    resum(FADT);
    ASSERT_OK(parse());
    EXPECT_EQ(ai.fadt.dsdt, DSDT);
    EXPECT_TRUE(ai.s5.valid);
    EXPECT_EQ(ai.fadt.pm1a_cnt.address, 0x608ull);
    EXPECT_EQ(ai.fadt.pm1b_cnt.address, 0x700ull);
    struct acpi_poweroff p;
    struct acpi_gas reg;
    uint8_t val;
    const char *why = NULL;
    ASSERT_OK(acpi_poweroff_plan(&ai, &p, &why));
    EXPECT_EQ(p.reg_b.address, 0x700ull);
    EXPECT_STATUS(acpi_reset_plan(&ai, &reg, &val, &why), ERR_NOT_SUPPORTED);
}

static void acpi_sleep_values(struct ktest *t)
{
    EXPECT_EQ(acpi_pm1_sleep_value(ACPI_PM1_SCI_EN, 5), 0x3401);
    EXPECT_EQ(acpi_pm1_sleep_value(0x1c00 | ACPI_PM1_SCI_EN, 0), 0x2001);
    EXPECT_EQ(acpi_pm1_sleep_value(0xffff, 2), 0xebff);
    EXPECT_EQ(acpi_sleep_ctl_value(0), 0x20);
    EXPECT_EQ(acpi_sleep_ctl_value(7), 0x3c);
}

static void acpi_gas_widths(struct ktest *t)
{
    struct acpi_gas g = {.address = 1};
    g.access_size = ACPI_ACCESS_BYTE;
    EXPECT_EQ(acpi_gas_access_bits(&g, 32), 8u);
    g.access_size = ACPI_ACCESS_DWORD;
    EXPECT_EQ(acpi_gas_access_bits(&g, 8), 32u);
    g.access_size = ACPI_ACCESS_QWORD + 1;
    EXPECT_EQ(acpi_gas_access_bits(&g, 8), 0u);
    g = (struct acpi_gas){.bit_width = 16};
    EXPECT_EQ(acpi_gas_access_bits(&g, 8), 16u);
    g.bit_width = 0;
    EXPECT_EQ(acpi_gas_access_bits(&g, 32), 32u);
    g.bit_width = 12;
    EXPECT_EQ(acpi_gas_access_bits(&g, 8), 16u);
    g = (struct acpi_gas){.bit_width = 8, .bit_offset = 4};
    EXPECT_EQ(acpi_gas_access_bits(&g, 8), 16u);
    g = (struct acpi_gas){.bit_width = 64, .bit_offset = 1};
    EXPECT_EQ(acpi_gas_access_bits(&g, 8), 0u);
}

static void acpi_mcfg_entries(struct ktest *t)
{
    make_good();
    struct tb b = tb_begin(MCFG, "MCFG", 1);
    tb_zero(&b, 8);
    mcfg_entry(&b, 0xb0000000, 0, 10, 5); // start above end: skipped
    mcfg_entry(&b, 0, 1, 0, 255);         // no base: skipped
    for (uint16_t i = 0; i < 10; i++)
        mcfg_entry(&b, 0xc0000000ull + i * 0x10000000ull, i, 0, 15);
    tb_zero(&b, 7); // a partial entry at the end is ignored
    tb_end(&b);
    ASSERT_OK(parse());
    ASSERT_EQ(ai.nmcfg, (uint32_t)ACPI_MAX_MCFG);
    EXPECT_EQ(ai.mcfg_dropped, 10u - ACPI_MAX_MCFG);
    EXPECT_EQ(ai.mcfg[0].base, 0xc0000000ull);
    EXPECT_EQ(ai.mcfg[1].segment, 1);
    EXPECT_EQ(ai.mcfg[0].bus_end, 15);
}

KTEST_SUITE(acpi, KTEST_CASE(acpi_good_set), KTEST_CASE(acpi_good_madt),
            KTEST_CASE(acpi_good_fadt_hpet_mcfg), KTEST_CASE(acpi_good_power_plan),
            KTEST_CASE(acpi_args), KTEST_CASE(acpi_rsdp_bad),
            KTEST_CASE(acpi_rsdp_v2_bad_ext_checksum_uses_rsdt), KTEST_CASE(acpi_rsdp_v1_uses_rsdt),
            KTEST_CASE(acpi_xsdt_unusable_falls_back), KTEST_CASE(acpi_no_usable_root),
            KTEST_CASE(acpi_table_bad_checksum_skipped), KTEST_CASE(acpi_table_length_below_header),
            KTEST_CASE(acpi_table_huge_length), KTEST_CASE(acpi_table_entries_unreadable),
            KTEST_CASE(acpi_table_changed_while_read), KTEST_CASE(acpi_table_duplicate_first_wins),
            KTEST_CASE(acpi_many_tables_bounded), KTEST_CASE(acpi_madt_zero_length_entry),
            KTEST_CASE(acpi_madt_entry_past_end), KTEST_CASE(acpi_madt_entry_too_short_for_type),
            KTEST_CASE(acpi_madt_too_many), KTEST_CASE(acpi_madt_x2apic_and_overrides),
            KTEST_CASE(acpi_dsdt_without_s5), KTEST_CASE(acpi_dsdt_bad),
            KTEST_CASE(acpi_s5_encodings), KTEST_CASE(acpi_s5_malformed),
            KTEST_CASE(acpi_hw_reduced_microvm), KTEST_CASE(acpi_fadt_v1_pc),
            KTEST_CASE(acpi_fadt_prefers_x_fields), KTEST_CASE(acpi_sleep_values),
            KTEST_CASE(acpi_gas_widths), KTEST_CASE(acpi_mcfg_entries));
