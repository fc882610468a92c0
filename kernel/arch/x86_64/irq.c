// Interrupt vectors above the exceptions: registration and dispatch; GSI
// ownership (kernel drivers and the claims of user-space interrupt objects).
#include "arch.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "x86.h"
#include "x86_irq.h"

struct irq_slot {
    arch_irq_fn fn;
    void *arg;
};

static struct irq_slot irq_table[256];
static struct spinlock irq_lock = SPINLOCK_INIT("irq");

void x86_irq_set(unsigned vector, arch_irq_fn fn, void *arg)
{
    irqstate_t s = spin_lock_irqsave(&irq_lock);
    irq_table[vector].arg = arg;
    irq_table[vector].fn = fn;
    spin_unlock_irqrestore(&irq_lock, s);
}

status_t arch_irq_alloc(arch_irq_fn fn, void *arg, unsigned *vector)
{
    irqstate_t s = spin_lock_irqsave(&irq_lock);
    for (unsigned v = VEC_FIRST_DEVICE; v <= VEC_LAST_DEVICE; v++) {
        if (!irq_table[v].fn) {
            irq_table[v] = (struct irq_slot){fn, arg};
            spin_unlock_irqrestore(&irq_lock, s);
            *vector = v;
            return OK;
        }
    }
    spin_unlock_irqrestore(&irq_lock, s);
    return ERR_NO_RESOURCES;
}

void arch_irq_free(unsigned vector)
{
    if (vector < VEC_FIRST_DEVICE || vector > VEC_LAST_DEVICE)
        return;
    irqstate_t s = spin_lock_irqsave(&irq_lock);
    irq_table[vector] = (struct irq_slot){NULL, NULL};
    spin_unlock_irqrestore(&irq_lock, s);
}

// ---- Message-signalled interrupts ----

#define MSI_ADDRESS_BASE 0xfee00000ull // bits 31..20 of every MSI address
#define MSI_DEST_SHIFT   12            // destination APIC id, bits 19..12

status_t arch_irq_msi_alloc(arch_irq_fn fn, void *arg, uint64_t *address, uint32_t *data,
                            unsigned *vector)
{
    uint32_t dest = arch_cpu_hw_id(0);
    if (dest > 0xff)
        return ERR_NOT_SUPPORTED; // needs interrupt remapping or extended ids
    status_t st = arch_irq_alloc(fn, arg, vector);
    if (st != OK)
        return st;
    // Redirection hint 0 and destination mode 0 (physical); data: the vector,
    // delivery mode 000 (fixed), trigger mode 0 (edge).
    *address = MSI_ADDRESS_BASE | ((uint64_t)dest << MSI_DEST_SHIFT);
    *data = *vector;
    return OK;
}

status_t arch_irq_raise_self(unsigned vector)
{
    if (vector < VEC_FIRST_DEVICE || vector > VEC_LAST_DEVICE)
        return ERR_INVALID_ARGS;
    // Fixed delivery, level assert (bit 14), to our own APIC id.
    return x86_apic_send_icr(x86_apic_id(), vector | (1u << 14));
}

// ---- GSI ownership ----

#define GSI_MAX 256 // lines tracked; IOAPICs beyond are not claimable

// One line. `lock` (irqsave) guards every field and is held while the
// claimant's handler runs, so that unclaiming waits for a handler in flight.
struct gsi_slot {
    struct spinlock lock;
    const struct arch_gsi_owner *owner; // the kernel driver of the line, or NULL
    unsigned owner_vector;
    bool owner_level, owner_low;
    bool claimed;
    unsigned vector; // of the claim
    arch_irq_fn fn;  // the claimant's handler (NULL when unclaimed)
    void *arg;
};

static struct gsi_slot gsi_slots[GSI_MAX];

static struct gsi_slot *gsi_slot(unsigned gsi)
{
    return gsi < GSI_MAX ? &gsi_slots[gsi] : NULL; // (a zeroed spinlock is unlocked)
}

// The vector handler of a claimed line (interrupts are off).
static void gsi_dispatch(void *arg)
{
    struct gsi_slot *g = arg;
    spin_lock(&g->lock);
    if (g->fn)
        g->fn(g->arg);
    spin_unlock(&g->lock);
}

status_t arch_irq_gsi_own(unsigned gsi, unsigned vector, bool level, bool active_low,
                          const struct arch_gsi_owner *owner)
{
    struct gsi_slot *g = gsi_slot(gsi);
    if (!g)
        return ERR_NOT_FOUND;
    irqstate_t s = spin_lock_irqsave(&g->lock);
    status_t st = g->owner || g->claimed ? ERR_ALREADY_EXISTS : OK;
    if (st == OK)
        st = arch_irq_route_gsi(gsi, vector, level, active_low);
    if (st == OK) {
        g->owner = owner;
        g->owner_vector = vector;
        g->owner_level = level;
        g->owner_low = active_low;
    }
    spin_unlock_irqrestore(&g->lock, s);
    return st;
}

void arch_irq_gsi_disown(unsigned gsi)
{
    struct gsi_slot *g = gsi_slot(gsi);
    if (!g)
        return;
    irqstate_t s = spin_lock_irqsave(&g->lock);
    if (g->owner && !g->claimed)
        arch_irq_mask_gsi(gsi, true);
    g->owner = NULL;
    spin_unlock_irqrestore(&g->lock, s);
}

status_t arch_irq_gsi_claim(unsigned gsi, bool level, bool active_low, arch_irq_fn fn, void *arg)
{
    struct gsi_slot *g = gsi_slot(gsi);
    unsigned vector;
    if (!g || gsi >= arch_irq_gsi_count())
        return ERR_NOT_FOUND;
    status_t st = arch_irq_alloc(gsi_dispatch, g, &vector);
    if (st != OK)
        return st;
    irqstate_t s = spin_lock_irqsave(&g->lock);
    st = g->claimed ? ERR_ALREADY_EXISTS : OK;
    if (st == OK)
        st = x86_ioapic_route(gsi, vector, level, active_low, true);
    if (st == OK) {
        if (g->owner) {
            pr_info("irq: GSI %u taken from %s", gsi, g->owner->name);
            if (g->owner->release)
                g->owner->release(g->owner->arg);
        }
        g->claimed = true;
        g->vector = vector;
        g->fn = fn;
        g->arg = arg;
    }
    spin_unlock_irqrestore(&g->lock, s);
    if (st != OK)
        arch_irq_free(vector);
    return st;
}

void arch_irq_gsi_unclaim(unsigned gsi)
{
    struct gsi_slot *g = gsi_slot(gsi);
    if (!g)
        return;
    irqstate_t s = spin_lock_irqsave(&g->lock);
    if (!g->claimed) {
        spin_unlock_irqrestore(&g->lock, s);
        return;
    }
    arch_irq_mask_gsi(gsi, true);
    unsigned vector = g->vector;
    g->claimed = false;
    g->fn = NULL;
    g->arg = NULL;
    if (g->owner) {
        arch_irq_route_gsi(gsi, g->owner_vector, g->owner_level, g->owner_low);
        if (g->owner->reclaim)
            g->owner->reclaim(g->owner->arg);
        pr_info("irq: GSI %u back to %s", gsi, g->owner->name);
    }
    spin_unlock_irqrestore(&g->lock, s);
    arch_irq_free(vector);
}

bool arch_irq_gsi_claimed(unsigned gsi)
{
    struct gsi_slot *g = gsi_slot(gsi);
    if (!g)
        return false;
    irqstate_t s = spin_lock_irqsave(&g->lock);
    bool claimed = g->claimed;
    spin_unlock_irqrestore(&g->lock, s);
    return claimed;
}

void x86_irq_dispatch(unsigned vector)
{
    if (vector == VEC_SPURIOUS)
        return; // no EOI for spurious interrupts
    struct irq_slot slot = irq_table[vector];
    if (slot.fn)
        slot.fn(slot.arg);
    else
        pr_warn("irq: unexpected vector %#x", vector);
    x86_apic_eoi();
}

void arch_irq_enable(void)
{
    __asm__ volatile("sti" ::: "memory");
}

bool arch_irqs_enabled(void)
{
    return read_rflags() & RFLAGS_IF;
}

void arch_idle(void)
{
    // sti takes effect after the next instruction, so an interrupt cannot
    // slip in between the two: hlt always sees it.
    __asm__ volatile("sti; hlt" ::: "memory");
}
