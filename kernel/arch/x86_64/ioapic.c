// IOAPICs from the ACPI MADT (or the default one without it): every line
// masked at boot, routed on request.
#include "dev/acpi.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "mm/kva.h"
#include "x86.h"
#include "x86_irq.h"

#define IOAPIC_REGSEL    0x00 // register select (byte offset)
#define IOAPIC_WIN       0x10 // data window
#define IOAPIC_REG_VER   0x01
#define IOAPIC_REG_REDIR 0x10 // entry n: 0x10 + 2n (low), +1 (high)
#define REDIR_MASKED     (1u << 16)
#define REDIR_LEVEL      (1u << 15)
#define REDIR_ACTIVE_LOW (1u << 13)
#define ISA_IRQS         16

struct ioapic {
    volatile uint32_t *regs;
    uint32_t gsi_base;
    uint32_t lines;
};

static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static unsigned nioapics;
static struct spinlock ioapic_lock = SPINLOCK_INIT("ioapic");

static uint32_t io_read(struct ioapic *io, uint32_t reg)
{
    io->regs[IOAPIC_REGSEL / 4] = reg;
    return io->regs[IOAPIC_WIN / 4];
}

static void io_write(struct ioapic *io, uint32_t reg, uint32_t v)
{
    io->regs[IOAPIC_REGSEL / 4] = reg;
    io->regs[IOAPIC_WIN / 4] = v;
}

static struct ioapic *ioapic_for(unsigned gsi, unsigned *line)
{
    for (unsigned i = 0; i < nioapics; i++) {
        struct ioapic *io = &ioapics[i];
        if (gsi >= io->gsi_base && gsi < io->gsi_base + io->lines) {
            *line = gsi - io->gsi_base;
            return io;
        }
    }
    return NULL;
}

// Without a MADT (microvm with acpi=off), the IOAPIC at the architectural
// default address, if one answers there: its version register reads as a
// plausible version and line count rather than open bus (all ones).
#define IOAPIC_DEFAULT_ADDR 0xfec00000u

static status_t probe_default_ioapic(void)
{
    struct ioapic *io = &ioapics[0];
    void *regs;
    if (kva_map_mmio(IOAPIC_DEFAULT_ADDR, PAGE_SIZE, &regs) != OK)
        return ERR_NO_MEMORY;
    io->regs = regs;
    uint32_t ver = io_read(io, IOAPIC_REG_VER);
    uint32_t version = ver & 0xff, max_entry = (ver >> 16) & 0xff;
    if (version < 0x10 || version > 0x2f || max_entry < 15 || max_entry > 239) {
        pr_warn("irq: no IOAPIC described by ACPI, none at %#x (version register %#x); "
                "device interrupts unavailable",
                IOAPIC_DEFAULT_ADDR, ver);
        io->regs = NULL;
        return ERR_NOT_FOUND;
    }
    io->gsi_base = 0;
    io->lines = max_entry + 1;
    for (unsigned l = 0; l < io->lines; l++)
        io_write(io, IOAPIC_REG_REDIR + 2 * l, REDIR_MASKED);
    nioapics = 1;
    pr_info("irq: no MADT; IOAPIC at the default %#x, GSI 0-%u (ISA IRQs identity-mapped)",
            IOAPIC_DEFAULT_ADDR, io->lines - 1);
    return OK;
}

status_t arch_irq_init_controllers(void)
{
    const struct acpi_info *ai = acpi();
    if (!ai || !ai->madt.nioapics)
        return probe_default_ioapic();
    for (unsigned i = 0; i < ai->madt.nioapics; i++) {
        struct ioapic *io = &ioapics[nioapics];
        void *regs;
        if (kva_map_mmio(ai->madt.ioapics[i].address, PAGE_SIZE, &regs) != OK)
            continue;
        io->regs = regs;
        io->gsi_base = ai->madt.ioapics[i].gsi_base;
        io->lines = ((io_read(io, IOAPIC_REG_VER) >> 16) & 0xff) + 1;
        for (unsigned l = 0; l < io->lines; l++)
            io_write(io, IOAPIC_REG_REDIR + 2 * l, REDIR_MASKED);
        pr_info("irq: IOAPIC %u at %#x, GSI %u-%u", ai->madt.ioapics[i].id,
                ai->madt.ioapics[i].address, io->gsi_base, io->gsi_base + io->lines - 1);
        nioapics++;
    }
    return nioapics ? OK : ERR_NOT_FOUND;
}

status_t x86_ioapic_route(unsigned gsi, unsigned vector, bool level, bool active_low, bool masked)
{
    unsigned line;
    struct ioapic *io = ioapic_for(gsi, &line);
    if (!io || vector < VEC_FIRST_DEVICE || vector > VEC_LAST_DEVICE)
        return io ? ERR_INVALID_ARGS : ERR_NOT_FOUND;
    uint32_t low = vector | (level ? REDIR_LEVEL : 0) | (active_low ? REDIR_ACTIVE_LOW : 0) |
                   (masked ? REDIR_MASKED : 0);
    irqstate_t s = spin_lock_irqsave(&ioapic_lock);
    io_write(io, IOAPIC_REG_REDIR + 2 * line + 1, x86_apic_id() << 24);
    io_write(io, IOAPIC_REG_REDIR + 2 * line, low);
    spin_unlock_irqrestore(&ioapic_lock, s);
    return OK;
}

status_t arch_irq_route_gsi(unsigned gsi, unsigned vector, bool level, bool active_low)
{
    return x86_ioapic_route(gsi, vector, level, active_low, false);
}

status_t arch_irq_isa_gsi(unsigned isa_irq, unsigned *gsi, bool *level, bool *active_low)
{
    const struct acpi_info *ai = acpi();
    if (isa_irq >= ISA_IRQS)
        return ERR_INVALID_ARGS;
    *gsi = isa_irq;
    *level = *active_low = false; // ISA default: edge, active high
    for (unsigned i = 0; ai && i < ai->madt.noverrides; i++) {
        const struct acpi_irq_override *o = &ai->madt.overrides[i];
        if (o->bus == 0 && o->irq == isa_irq) {
            *gsi = o->gsi;
            *level = o->trigger == ACPI_TRIGGER_LEVEL;
            *active_low = o->polarity == ACPI_POLARITY_LOW;
        }
    }
    return OK;
}

status_t arch_irq_route_isa(unsigned isa_irq, unsigned vector, unsigned *gsi_out)
{
    unsigned gsi;
    bool level, low;
    status_t st = arch_irq_isa_gsi(isa_irq, &gsi, &level, &low);
    if (st != OK)
        return st;
    if (gsi_out)
        *gsi_out = gsi;
    return arch_irq_route_gsi(gsi, vector, level, low);
}

unsigned arch_irq_gsi_count(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nioapics; i++)
        n = MAX(n, ioapics[i].gsi_base + ioapics[i].lines);
    return n;
}

status_t arch_irq_mask_gsi(unsigned gsi, bool masked)
{
    unsigned line;
    struct ioapic *io = ioapic_for(gsi, &line);
    if (!io)
        return ERR_NOT_FOUND;
    irqstate_t s = spin_lock_irqsave(&ioapic_lock);
    uint32_t low = io_read(io, IOAPIC_REG_REDIR + 2 * line);
    low = masked ? low | REDIR_MASKED : low & ~REDIR_MASKED;
    io_write(io, IOAPIC_REG_REDIR + 2 * line, low);
    spin_unlock_irqrestore(&ioapic_lock, s);
    return OK;
}
