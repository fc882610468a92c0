// PCI configuration access (ECAM or the legacy ports) and the device-memory
// policy for physical vmos (docs/DEVICES.md).
#include "dev/pci.h"
#include "dev/acpi.h"
#include "init/boot_info.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/kva.h"
#include "mm/mmu.h"
#include "nimbus/resource.h"

#define PORT_ADDRESS  0xcf8
#define PORT_DATA     0xcfc
#define ENABLE        0x80000000u
#define LAPIC_DEFAULT 0xfee00000ull
#define ECAM_BUS_SIZE (1ull << 20) // 32 devices x 8 functions x 4 KiB

static struct spinlock pci_lock = SPINLOCK_INIT("pci");
// Kernel mapping of each ECAM window's buses, made on first use (pci_lock).
static volatile uint8_t *bus_map[ACPI_MAX_MCFG][256];

static const struct acpi_info *tables(void)
{
    const struct acpi_info *ai = acpi();
    return ai && ai->present ? ai : NULL;
}

bool pci_has_ecam(void)
{
    const struct acpi_info *ai = tables();
    return ai && ai->nmcfg;
}

size_t pci_ecam_list(struct nb_pci_ecam *out, size_t max)
{
    const struct acpi_info *ai = tables();
    size_t n = ai ? ai->nmcfg : 0;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = (struct nb_pci_ecam){.base = ai->mcfg[i].base,
                                      .segment = ai->mcfg[i].segment,
                                      .bus_start = ai->mcfg[i].bus_start,
                                      .bus_end = ai->mcfg[i].bus_end};
    return n;
}

static uint32_t id_segment(uint32_t id)
{
    return id >> 16;
}

static uint32_t id_bus(uint32_t id)
{
    return (id >> 8) & 0xff;
}

// The configuration space of `id` through ECAM (pci_lock held).
static status_t ecam_space(const struct acpi_info *ai, uint32_t id, volatile uint8_t **out)
{
    uint32_t seg = id_segment(id), bus = id_bus(id);
    for (uint32_t i = 0; i < ai->nmcfg; i++) {
        const struct acpi_mcfg_seg *m = &ai->mcfg[i];
        if (m->segment != seg || bus < m->bus_start || bus > m->bus_end)
            continue;
        if (!bus_map[i][bus]) {
            void *va;
            status_t st = kva_map_mmio(m->base + (uint64_t)(bus - m->bus_start) * ECAM_BUS_SIZE,
                                       ECAM_BUS_SIZE, &va);
            if (st != OK)
                return st;
            bus_map[i][bus] = va;
        }
        *out = bus_map[i][bus] + (uint64_t)(id & 0xff) * PCI_ECAM_CONFIG_SIZE;
        return OK;
    }
    return ERR_OUT_OF_RANGE;
}

static void port_out32(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}

static uint32_t port_in(uint16_t port, uint32_t width)
{
    if (width == 1) {
        uint8_t v;
        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
        return v;
    }
    if (width == 2) {
        uint16_t v;
        __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
        return v;
    }
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void port_out(uint16_t port, uint32_t width, uint32_t v)
{
    if (width == 1)
        __asm__ volatile("outb %0, %1" ::"a"((uint8_t)v), "Nd"(port));
    else if (width == 2)
        __asm__ volatile("outw %0, %1" ::"a"((uint16_t)v), "Nd"(port));
    else
        port_out32(port, v);
}

static status_t config_access(uint32_t id, uint32_t offset, uint32_t width, uint32_t *value,
                              bool write)
{
    if ((width != 1 && width != 2 && width != 4) || offset % width)
        return ERR_INVALID_ARGS;
    if (id >= NB_PCI_ID_LIMIT)
        return ERR_OUT_OF_RANGE;
    const struct acpi_info *ai = tables();
    bool ecam = ai && ai->nmcfg;
    if (offset >= (ecam ? PCI_ECAM_CONFIG_SIZE : PCI_LEGACY_CONFIG_SIZE))
        return ERR_OUT_OF_RANGE;
    if (!ecam && id_segment(id) != 0)
        return ERR_OUT_OF_RANGE;
    status_t st = OK;
    irqstate_t s = spin_lock_irqsave(&pci_lock);
    if (ecam) {
        volatile uint8_t *space;
        st = ecam_space(ai, id, &space);
        if (st == OK && write) {
            if (width == 1)
                *(volatile uint8_t *)(space + offset) = (uint8_t)*value;
            else if (width == 2)
                *(volatile uint16_t *)(space + offset) = (uint16_t)*value;
            else
                *(volatile uint32_t *)(space + offset) = *value;
        } else if (st == OK) {
            if (width == 1)
                *value = *(volatile uint8_t *)(space + offset);
            else if (width == 2)
                *value = *(volatile uint16_t *)(space + offset);
            else
                *value = *(volatile uint32_t *)(space + offset);
        }
    } else {
        // Address: enable, bus, device, function, dword-aligned register.
        port_out32(PORT_ADDRESS, ENABLE | ((id & 0xffff) << 8) | (offset & 0xfc));
        uint16_t port = (uint16_t)(PORT_DATA + (offset & 3));
        if (write)
            port_out(port, width, *value);
        else
            *value = port_in(port, width);
    }
    spin_unlock_irqrestore(&pci_lock, s);
    return st;
}

status_t pci_config_read(uint32_t id, uint32_t offset, uint32_t width, uint32_t *value)
{
    return config_access(id, offset, width, value, false);
}

status_t pci_config_write(uint32_t id, uint32_t offset, uint32_t width, uint32_t value)
{
    return config_access(id, offset, width, &value, true);
}

// ---- Device memory policy ----

static bool overlaps(paddr_t a, uint64_t asize, paddr_t b, uint64_t bsize)
{
    return a < b + bsize && b < a + asize;
}

status_t devmem_check(paddr_t pa, uint64_t size)
{
    if (pa + size < pa)
        return ERR_OUT_OF_RANGE;
    for (size_t i = 0; i < boot_info.nmem; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        bool ram = m->type == BOOT_MEM_RAM || m->type == BOOT_MEM_ACPI || m->type == BOOT_MEM_NVS ||
                   m->type == BOOT_MEM_PMEM;
        if (ram &&
            overlaps(pa, size, ALIGN_DOWN(m->base, PAGE_SIZE),
                     ALIGN_UP(m->base + m->size, PAGE_SIZE) - ALIGN_DOWN(m->base, PAGE_SIZE)))
            return ERR_ACCESS_DENIED;
    }
    if (overlaps(pa, size, LAPIC_DEFAULT, PAGE_SIZE))
        return ERR_ACCESS_DENIED;
    const struct acpi_info *ai = tables();
    if (!ai)
        return OK;
    if (ai->madt.present &&
        overlaps(pa, size, ALIGN_DOWN(ai->madt.lapic_addr, PAGE_SIZE), PAGE_SIZE))
        return ERR_ACCESS_DENIED;
    for (uint32_t i = 0; i < ai->madt.nioapics; i++)
        if (overlaps(pa, size, ALIGN_DOWN(ai->madt.ioapics[i].address, PAGE_SIZE), PAGE_SIZE))
            return ERR_ACCESS_DENIED;
    if (ai->hpet.present && overlaps(pa, size, ALIGN_DOWN(ai->hpet.base, PAGE_SIZE), PAGE_SIZE))
        return ERR_ACCESS_DENIED;
    for (uint32_t i = 0; i < ai->nmcfg; i++) {
        const struct acpi_mcfg_seg *m = &ai->mcfg[i];
        uint64_t len = (uint64_t)(m->bus_end - m->bus_start + 1) * ECAM_BUS_SIZE;
        if (overlaps(pa, size, m->base, len))
            return ERR_ACCESS_DENIED;
    }
    return OK;
}
