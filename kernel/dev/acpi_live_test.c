// In-kernel tests of ACPI on the running machine: the tables the VMM gave
// are found through the kernel's reader and describe at least one CPU and
// one IOAPIC (true of QEMU microvm, q35 and pc), and the reader refuses what
// it must not map.
#include "dev/acpi.h"
#include "init/boot_info.h"
#include "lib/ktest.h"
#include "lib/string.h"

// acpi_init() is idempotent: the tests work whether or not kmain ran it.
static const struct acpi_info *live(struct ktest *t)
{
    if (boot_info.rsdp == 0)
        return NULL;
    status_t s = acpi_init();
    if (s != OK)
        KTEST_FAIL_(t, "acpi_init: %s", status_str(s));
    return acpi();
}

static void acpi_live_rsdp_found(struct ktest *t)
{
    if (boot_info.rsdp == 0)
        KTEST_SKIP("the VMM gave no RSDP");
    const struct acpi_info *ai = live(t);
    ASSERT_NOT_NULL(ai);
    EXPECT_TRUE(ai->present);
    EXPECT_EQ(ai->rsdp, boot_info.rsdp);
    EXPECT_NE(ai->root, 0ul);
    EXPECT_GT(ai->ntables, 0u);
    EXPECT_EQ(ai->tables_bad, 0u);
    EXPECT_NOT_NULL(acpi_table_find(ai, "APIC"));
}

static void acpi_live_madt(struct ktest *t)
{
    if (boot_info.rsdp == 0)
        KTEST_SKIP("the VMM gave no RSDP");
    const struct acpi_info *ai = live(t);
    ASSERT_NOT_NULL(ai);
    const struct acpi_madt *m = &ai->madt;
    ASSERT_TRUE(m->present);
    uint32_t enabled = 0;
    for (uint32_t i = 0; i < m->ncpus; i++)
        enabled += m->cpus[i].enabled;
    EXPECT_GE(enabled, 1u);
    ASSERT_GE(m->nioapics, 1u);
    EXPECT_NE(m->ioapics[0].address, 0u);
    EXPECT_NE(m->lapic_addr, 0ul);
    EXPECT_TRUE(IS_ALIGNED(m->lapic_addr, PAGE_SIZE));
    EXPECT_EQ(m->bad_entries, 0u);
}

// Every QEMU machine Nimbus runs on can be powered off through ACPI.
static void acpi_live_power_plan(struct ktest *t)
{
    if (boot_info.rsdp == 0)
        KTEST_SKIP("the VMM gave no RSDP");
    const struct acpi_info *ai = live(t);
    ASSERT_NOT_NULL(ai);
    ASSERT_TRUE(ai->fadt.present);
    EXPECT_NOT_NULL(acpi_table_find(ai, "DSDT"));
    EXPECT_TRUE(ai->s5.valid);
    struct acpi_poweroff p;
    const char *why = NULL;
    EXPECT_OK(acpi_poweroff_plan(ai, &p, &why));
    EXPECT_EQ((int)p.method, (int)(ai->fadt.hw_reduced ? ACPI_OFF_SLEEP_CTL : ACPI_OFF_PM1));
    uint64_t v;
    EXPECT_OK(acpi_gas_read(&p.reg_a, 8, &v)); // reachable, whether a port or mapped MMIO
}

// The reader returns the same mapping for the same range, and refuses
// ranges outside RAM, ACPI, NVS and reserved memory (the local APIC's MMIO
// page is in none of them on QEMU).
static void acpi_live_reader(struct ktest *t)
{
    if (boot_info.rsdp == 0)
        KTEST_SKIP("the VMM gave no RSDP");
    const struct acpi_info *ai = live(t);
    ASSERT_NOT_NULL(ai);
    const struct acpi_table *tb = &ai->tables[0];
    const void *a = acpi_read_phys(tb->pa, tb->length, NULL);
    ASSERT_NOT_NULL(a);
    EXPECT_TRUE(acpi_read_phys(tb->pa, tb->length, NULL) == a);
    EXPECT_EQ(memcmp(a, tb->sig, 4), 0);
    EXPECT_NULL(acpi_read_phys(tb->pa, 0, NULL));
    EXPECT_NULL(acpi_read_phys(UINT64_MAX - 8, 16, NULL));
    bool listed = false;
    for (size_t i = 0; i < boot_info.nmem; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        listed |= ai->madt.lapic_addr >= m->base && ai->madt.lapic_addr - m->base < m->size;
    }
    if (!listed)
        EXPECT_NULL(acpi_read_phys(ai->madt.lapic_addr, 4, NULL));
}

static uint8_t a_ram_byte;

// Register access refuses what no FADT should name: RAM, ports past 0xffff,
// unaligned MMIO, PCI configuration space.
static void acpi_live_gas_refuses(struct ktest *t)
{
    uint64_t v;
    struct acpi_gas ram = {
        .address = virt_to_phys(&a_ram_byte), .space = ACPI_GAS_MEMORY, .bit_width = 8};
    EXPECT_STATUS(acpi_gas_read(&ram, 8, &v), ERR_ACCESS_DENIED);
    EXPECT_STATUS(acpi_gas_write(&ram, 8, 1), ERR_ACCESS_DENIED);
    struct acpi_gas port = {.address = 0xffff, .space = ACPI_GAS_IO, .bit_width = 16};
    EXPECT_STATUS(acpi_gas_read(&port, 16, &v), ERR_OUT_OF_RANGE);
    struct acpi_gas mmio = {.address = 0xfed00001, .space = ACPI_GAS_MEMORY, .bit_width = 32};
    EXPECT_STATUS(acpi_gas_read(&mmio, 32, &v), ERR_INVALID_ARGS);
    struct acpi_gas pci = {.address = 0x40, .space = ACPI_GAS_PCI_CONFIG, .bit_width = 8};
    EXPECT_STATUS(acpi_gas_read(&pci, 8, &v), ERR_NOT_SUPPORTED);
    struct acpi_gas none = {.space = ACPI_GAS_IO, .bit_width = 8};
    EXPECT_STATUS(acpi_gas_write(&none, 8, 0), ERR_INVALID_ARGS);
}

KTEST_SUITE(acpi_live, KTEST_CASE(acpi_live_rsdp_found), KTEST_CASE(acpi_live_madt),
            KTEST_CASE(acpi_live_power_plan), KTEST_CASE(acpi_live_reader),
            KTEST_CASE(acpi_live_gas_refuses));
