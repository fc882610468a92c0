// The kernel side of ACPI: a reader over physical memory for the parser,
// acpi_init() at boot, and register access through Generic Address
// Structures for the power code.
//
// Tables in RAM, ACPI or NVS ranges (and the first MiB) are read through the
// direct map. Tables in ranges the boot memory map calls "reserved" (where
// SeaBIOS puts them on q35/pc) are mapped read-only in a window of kernel
// virtual memory at ACPI_WINDOW_BASE + pa, so a physical page is mapped at
// most once and a range of pages is always contiguous. Anything else (holes,
// MMIO) is refused: a bad table pointer must not make the kernel read device
// registers.
#include "dev/acpi.h"
#include "dev/power.h"
#include "init/boot_info.h"
#include "lib/compiler.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/mmu.h"

// PML4 slot 510, above the kernel stacks and the MMIO area.
#define ACPI_WINDOW_BASE 0xffffff6000000000ull
// Tables are mapped only below this physical address...
#define ACPI_WINDOW_SPAN (64ull << 30)
// ...and registers (uncached, writable) one page each above the tables.
#define ACPI_REGS_BASE (ACPI_WINDOW_BASE + ACPI_WINDOW_SPAN)
#define ACPI_MAX_REGS  8

static struct acpi_info info; // written once, by the first acpi_init()
static bool init_done;
static status_t init_status;

static struct spinlock acpi_map_lock = SPINLOCK_INIT("acpi-map");
static struct {
    paddr_t page;
    vaddr_t va;
} regs[ACPI_MAX_REGS]; // (acpi_map_lock)
static unsigned nregs; // (acpi_map_lock)

// Whether the boot memory map types this range may be mapped as (reserved,
// ACPI, NVS: everything but RAM, which is direct-mapped, and holes).
static bool window_type(uint32_t type)
{
    return type == BOOT_MEM_RESERVED || type == BOOT_MEM_ACPI || type == BOOT_MEM_NVS;
}

// Whether [b, e) is covered by window-typed boot map entries (sorted,
// non-overlapping, so one pass extends the covered prefix).
static bool window_covers(paddr_t b, paddr_t e)
{
    for (size_t i = 0; i < boot_info.nmem && b < e; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        if (m->base <= b && b - m->base < m->size && window_type(m->type))
            b = m->base + m->size;
    }
    return b >= e;
}

// Whether every page of [b, e) is in the direct map.
static bool direct_mapped(paddr_t b, paddr_t e)
{
    paddr_t root = arch_mmu_kernel_root();
    for (paddr_t p = b; p < e; p += PAGE_SIZE)
        if (arch_mmu_query(root, DIRECT_MAP_BASE + p, NULL, NULL) != OK)
            return false;
    return true;
}

// Maps the pages of [b, e) read-only in the window, skipping those already
// there.
static bool window_map(paddr_t b, paddr_t e)
{
    paddr_t root = arch_mmu_kernel_root();
    bool ok = true;
    irqstate_t s = spin_lock_irqsave(&acpi_map_lock);
    for (paddr_t p = b; ok && p < e; p += PAGE_SIZE) {
        vaddr_t va = ACPI_WINDOW_BASE + p;
        if (arch_mmu_query(root, va, NULL, NULL) != OK)
            ok = arch_mmu_map(root, va, p, 1, VM_READ) == OK;
    }
    spin_unlock_irqrestore(&acpi_map_lock, s);
    return ok;
}

const void *acpi_read_phys(paddr_t pa, size_t len, void *ctx)
{
    if (len == 0 || pa + len < pa || pa + len > UINT64_MAX - PAGE_SIZE)
        return NULL;
    paddr_t b = ALIGN_DOWN(pa, PAGE_SIZE), e = ALIGN_UP(pa + len, PAGE_SIZE);
    if (direct_mapped(b, e))
        return phys_to_virt(pa);
    if (e > ACPI_WINDOW_SPAN || !window_covers(b, e) || !window_map(b, e))
        return NULL;
    return (const void *)(uintptr_t)(ACPI_WINDOW_BASE + pa);
}

// ---- Registers ----

// The uncached mapping of the register page holding pa, made on first use.
static volatile void *reg_map(paddr_t pa)
{
    paddr_t page = ALIGN_DOWN(pa, PAGE_SIZE);
    vaddr_t va = 0;
    irqstate_t s = spin_lock_irqsave(&acpi_map_lock);
    for (unsigned i = 0; i < nregs && !va; i++)
        if (regs[i].page == page)
            va = regs[i].va;
    if (!va && nregs < ACPI_MAX_REGS) {
        vaddr_t cand = ACPI_REGS_BASE + nregs * PAGE_SIZE;
        if (arch_mmu_map(arch_mmu_kernel_root(), cand, page, 1, VM_READ | VM_WRITE | VM_UNCACHED) ==
            OK) {
            regs[nregs].page = page;
            regs[nregs++].va = va = cand;
        }
    }
    spin_unlock_irqrestore(&acpi_map_lock, s);
    return va ? (volatile void *)(uintptr_t)(va + (pa - page)) : NULL;
}

// Checks g and finds its access width: memory registers must be naturally
// aligned (so they never cross a page) and outside the direct map (a register
// in RAM is a corrupt table, and an uncached alias of RAM is trouble), I/O
// ones within the port space.
static status_t gas_check(const struct acpi_gas *g, unsigned dflt, unsigned *bits)
{
    if (!g || g->address == 0 || (*bits = acpi_gas_access_bits(g, dflt)) == 0)
        return ERR_INVALID_ARGS;
    if (g->space == ACPI_GAS_IO)
        return *bits <= 32 && g->address + *bits / 8 - 1 <= ACPI_IO_PORT_MAX ? OK
                                                                             : ERR_OUT_OF_RANGE;
    if (g->space != ACPI_GAS_MEMORY)
        return ERR_NOT_SUPPORTED;
    if (!IS_ALIGNED(g->address, *bits / 8))
        return ERR_INVALID_ARGS;
    paddr_t page = ALIGN_DOWN(g->address, PAGE_SIZE);
    return direct_mapped(page, page + PAGE_SIZE) ? ERR_ACCESS_DENIED : OK;
}

static uint64_t pio_read(uint16_t port, unsigned bits)
{
    if (bits == 8)
        return arch_pio_in8(port);
    return bits == 16 ? arch_pio_in16(port) : arch_pio_in32(port);
}

static void pio_write(uint16_t port, unsigned bits, uint64_t v)
{
    if (bits == 8)
        arch_pio_out8(port, (uint8_t)v);
    else if (bits == 16)
        arch_pio_out16(port, (uint16_t)v);
    else
        arch_pio_out32(port, (uint32_t)v);
}

static uint64_t mmio_read(volatile void *p, unsigned bits)
{
    switch (bits) {
    case 8:
        return *(volatile uint8_t *)p;
    case 16:
        return *(volatile uint16_t *)p;
    case 32:
        return *(volatile uint32_t *)p;
    default:
        return *(volatile uint64_t *)p;
    }
}

static void mmio_write(volatile void *p, unsigned bits, uint64_t v)
{
    switch (bits) {
    case 8:
        *(volatile uint8_t *)p = (uint8_t)v;
        break;
    case 16:
        *(volatile uint16_t *)p = (uint16_t)v;
        break;
    case 32:
        *(volatile uint32_t *)p = (uint32_t)v;
        break;
    default:
        *(volatile uint64_t *)p = v;
        break;
    }
}

status_t acpi_gas_prepare(const struct acpi_gas *g, unsigned bits)
{
    unsigned w;
    status_t s = gas_check(g, bits, &w);
    if (s != OK || g->space != ACPI_GAS_MEMORY)
        return s;
    return reg_map(g->address) ? OK : ERR_NO_RESOURCES;
}

status_t acpi_gas_read(const struct acpi_gas *g, unsigned bits, uint64_t *v)
{
    unsigned w;
    status_t s = gas_check(g, bits, &w);
    if (s != OK)
        return s;
    if (g->space == ACPI_GAS_IO) {
        *v = pio_read((uint16_t)g->address, w);
    } else {
        volatile void *p = reg_map(g->address);
        if (!p)
            return ERR_NO_RESOURCES;
        *v = mmio_read(p, w);
    }
    *v >>= g->bit_offset;
    return OK;
}

status_t acpi_gas_write(const struct acpi_gas *g, unsigned bits, uint64_t v)
{
    unsigned w;
    status_t s = gas_check(g, bits, &w);
    if (s != OK)
        return s;
    v <<= g->bit_offset;
    if (g->space == ACPI_GAS_IO) {
        pio_write((uint16_t)g->address, w, v);
        return OK;
    }
    volatile void *p = reg_map(g->address);
    if (!p)
        return ERR_NO_RESOURCES;
    mmio_write(p, w, v);
    return OK;
}

// ---- acpi_init ----

static void print_tables(const struct acpi_info *ai)
{
    char list[ACPI_MAX_TABLES * 5 + 1];
    size_t n = 0;
    for (uint32_t i = 0; i < ai->ntables; i++) {
        memcpy(list + n, ai->tables[i].sig, 4);
        list[n + 4] = ' ';
        n += 5;
    }
    list[n ? n - 1 : 0] = '\0';
    pr_info("acpi: RSDP rev %u at %#llx (%s), %s at %#llx: %s\n", ai->rsdp_revision,
            (unsigned long long)ai->rsdp, ai->oem_id, ai->xsdt ? "XSDT" : "RSDT",
            (unsigned long long)ai->root, list);
    if (ai->tables_bad || ai->tables_dropped)
        pr_warn("acpi: %u tables skipped as malformed, %u dropped\n", ai->tables_bad,
                ai->tables_dropped);
}

static void print_madt(const struct acpi_madt *m)
{
    uint32_t enabled = 0;
    if (!m->present) {
        pr_info("acpi: no MADT\n");
        return;
    }
    for (uint32_t i = 0; i < m->ncpus; i++)
        enabled += m->cpus[i].enabled;
    pr_info("acpi: MADT: CPUs %u (%u enabled), IOAPICs %u, overrides %u, LAPIC at %#llx%s\n",
            m->ncpus, enabled, m->nioapics, m->noverrides, (unsigned long long)m->lapic_addr,
            (m->flags & ACPI_MADT_PCAT_COMPAT) ? ", 8259 PICs" : "");
    if (m->cpus_dropped || m->ioapics_dropped || m->overrides_dropped)
        pr_warn("acpi: MADT lists more than Nimbus keeps: dropped %u CPUs, %u IOAPICs, "
                "%u overrides\n",
                m->cpus_dropped, m->ioapics_dropped, m->overrides_dropped);
    for (uint32_t i = 0; i < m->nioapics; i++)
        pr_info("acpi:   IOAPIC %u at %#x, GSI %u\n", m->ioapics[i].id, m->ioapics[i].address,
                m->ioapics[i].gsi_base);
    if (m->bad_entries)
        pr_warn("acpi: MADT had %u malformed entries\n", m->bad_entries);
}

static const char *gas_space(const struct acpi_gas *g)
{
    return g->space == ACPI_GAS_IO ? "port" : g->space == ACPI_GAS_MEMORY ? "mmio" : "other";
}

static void print_devices(const struct acpi_info *ai)
{
    const struct acpi_fadt *f = &ai->fadt;
    if (f->present)
        pr_info("acpi: FADT rev %u: SCI %u%s, 8042 %s, DSDT at %#llx\n", f->revision, f->sci_irq,
                f->hw_reduced ? ", hardware-reduced" : "",
                acpi_has_8042(ai) == ACPI_YES  ? "yes"
                : acpi_has_8042(ai) == ACPI_NO ? "no"
                                               : "unknown",
                (unsigned long long)f->dsdt);
    if (ai->hpet.present)
        pr_info("acpi: HPET %u at %#llx\n", ai->hpet.number, (unsigned long long)ai->hpet.base);
    for (uint32_t i = 0; i < ai->nmcfg; i++)
        pr_info("acpi: MCFG segment %u buses %u-%u at %#llx\n", ai->mcfg[i].segment,
                ai->mcfg[i].bus_start, ai->mcfg[i].bus_end, (unsigned long long)ai->mcfg[i].base);
}

// Says how power_off() and power_reboot() will use ACPI, and maps memory
// registers now so that they need no allocation then.
static void prepare_power(const struct acpi_info *ai)
{
    struct acpi_poweroff off;
    struct acpi_gas reset;
    uint8_t value;
    const char *why = NULL;

    if (acpi_poweroff_plan(ai, &off, &why) != OK) {
        pr_info("acpi: power-off: not through ACPI (%s)\n", why);
    } else {
        acpi_gas_prepare(&off.reg_a, 8);
        pr_info("acpi: power-off: %s %s %#llx, S5 type %u/%u\n",
                off.method == ACPI_OFF_SLEEP_CTL ? "sleep control" : "PM1 control",
                gas_space(&off.reg_a), (unsigned long long)off.reg_a.address, off.typ_a, off.typ_b);
    }
    if (acpi_reset_plan(ai, &reset, &value, &why) != OK) {
        pr_info("acpi: reset: not through ACPI (%s)\n", why);
    } else {
        acpi_gas_prepare(&reset, 8);
        pr_info("acpi: reset: write %#x to %s %#llx\n", value, gas_space(&reset),
                (unsigned long long)reset.address);
    }
}

status_t acpi_init(void)
{
    if (init_done)
        return init_status;
    init_done = true;
    if (boot_info.rsdp == 0) {
        pr_info("acpi: the VMM gave no RSDP: running without ACPI\n");
        return init_status = ERR_NOT_FOUND;
    }
    init_status = acpi_parse(&info, boot_info.rsdp, acpi_read_phys, NULL);
    if (init_status != OK) {
        pr_warn("acpi: no usable tables at RSDP %#llx: %s\n", (unsigned long long)boot_info.rsdp,
                status_str(init_status));
        return init_status;
    }
    print_tables(&info);
    print_madt(&info.madt);
    print_devices(&info);
    prepare_power(&info);
    return OK;
}

const struct acpi_info *acpi(void)
{
    return init_done && init_status == OK ? &info : NULL;
}
