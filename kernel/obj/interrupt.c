// Interrupt objects (obj/interrupt.h).
#include "obj/interrupt.h"
#include "mm/slab.h"
#include "nimbus/syscall.h"

struct interrupt {
    struct kobject obj;
    unsigned gsi;
    bool level;      // level-triggered: masked when it fires, until acked
    bool claimed;    // the line is ours; cleared when the last handle goes (lock)
    bool msi;        // a message-signalled interrupt: `vector` is ours, no GSI
    unsigned vector; // msi: the vector the device's message raises
};

static struct interrupt *to_intr(struct kobject *o)
{
    return container_of(o, struct interrupt, obj);
}

// The line fired (interrupt context; the GSI slot's lock is held, so the
// object outlives the call: the claim ends before the object can go).
static void interrupt_fire(void *arg)
{
    struct interrupt *in = arg;
    irqstate_t s = obj_lock(&in->obj);
    if (in->level)
        arch_irq_mask_gsi(in->gsi, true);
    obj_signal_locked(&in->obj, 0, SIGNAL_SIGNALED);
    obj_unlock(&in->obj, s);
}

static void msi_barrier(void *arg)
{
    (void)arg;
}

// Masks the line and gives it back to its kernel owner. `claimed` changes
// under the object lock, so an ack racing with the last close never unmasks
// a line that is no longer ours.
static void interrupt_release(struct interrupt *in)
{
    irqstate_t s = obj_lock(&in->obj);
    bool was = in->claimed;
    in->claimed = false;
    obj_unlock(&in->obj, s);
    if (was && !in->msi)
        arch_irq_gsi_unclaim(in->gsi);
    if (was && in->msi) {
        arch_irq_free(in->vector);
        // A CPU may be inside interrupt_fire for this vector; the IPI call
        // returns only after every CPU has left its interrupt handlers.
        if (arch_irqs_enabled())
            (void)arch_call_on_cpus(~0ull, msi_barrier, NULL);
    }
}

static void interrupt_on_zero_handles(struct kobject *o)
{
    interrupt_release(to_intr(o));
}

static void interrupt_destroy(struct kobject *o)
{
    interrupt_release(to_intr(o)); // (if it never had a handle)
    kfree(to_intr(o));
}

static const struct kobject_ops interrupt_ops = {
    .type = OBJ_INTERRUPT,
    .name = "interrupt",
    .default_rights = INTERRUPT_RIGHTS,
    .on_zero_handles = interrupt_on_zero_handles,
    .destroy = interrupt_destroy,
};

status_t interrupt_create(struct handle_table *t, uint32_t gsi, uint32_t flags, handle_t *out)
{
    if (flags & ~NB_INTERRUPT_LEVEL)
        return ERR_INVALID_ARGS;
    struct interrupt *in = kzalloc(sizeof(*in));
    if (!in)
        return ERR_NO_MEMORY;
    obj_init(&in->obj, &interrupt_ops, NULL);
    in->gsi = gsi;
    in->level = flags & NB_INTERRUPT_LEVEL;
    // Level-triggered lines are PCI INTx: active low.
    status_t st = arch_irq_gsi_claim(gsi, in->level, in->level, interrupt_fire, in);
    if (st == OK) {
        in->claimed = true;
        st = arch_irq_mask_gsi(gsi, false);
    }
    if (st == OK)
        st = handle_install(t, &in->obj, INTERRUPT_RIGHTS, out);
    obj_unref(&in->obj); // on failure: destroys it, giving the line back
    return st;
}

status_t interrupt_ack(struct handle_table *t, handle_t h)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_INTERRUPT, RIGHT_WRITE, &o);
    if (st != OK)
        return st;
    struct interrupt *in = to_intr(o);
    irqstate_t s = obj_lock(o);
    obj_signal_locked(o, SIGNAL_SIGNALED, 0);
    if (in->level && in->claimed)
        arch_irq_mask_gsi(in->gsi, false);
    obj_unlock(o, s);
    obj_unref(o);
    return OK;
}

status_t interrupt_create_msi(struct handle_table *t, uint32_t flags, handle_t *out,
                              struct nb_msi_message *msg)
{
    if (flags)
        return ERR_INVALID_ARGS;
    struct interrupt *in = kzalloc(sizeof(*in));
    if (!in)
        return ERR_NO_MEMORY;
    obj_init(&in->obj, &interrupt_ops, NULL);
    in->msi = true;
    uint64_t address;
    uint32_t data;
    status_t st = arch_irq_msi_alloc(interrupt_fire, in, &address, &data, &in->vector);
    if (st == OK) {
        in->claimed = true;
        *msg = (struct nb_msi_message){.address = address, .data = data, .vector = in->vector};
        st = handle_install(t, &in->obj, INTERRUPT_RIGHTS, out);
    }
    obj_unref(&in->obj); // on failure: destroys it, freeing the vector
    return st;
}
