// Interrupt vectors above the exceptions: registration and dispatch.
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
