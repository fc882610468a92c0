// I/O port permissions of processes (sys/ioport.h).
//
// Lifetime: p->iobitmap is set once (first ioport_enable, by a thread of p)
// and cleared and freed at teardown. iobitmap_lock (a leaf lock) covers the
// clearing and every load of a bitmap into a CPU's TSS, so that a CPU never
// copies from a bitmap being freed.
#include "lib/iobitmap.h"
#include "lib/spinlock.h"
#include "sys/ioport.h"
#include "sys/process.h"

static struct spinlock iobitmap_lock = SPINLOCK_INIT("iobitmap");

static struct iobitmap *bitmap_of(struct process *p)
{
    return __atomic_load_n(&p->iobitmap, __ATOMIC_ACQUIRE);
}

void user_switch_in(void *owner)
{
    struct process *p = ((struct uthread *)owner)->proc;
    if (!bitmap_of(p)) {
        arch_ioport_load(NULL); // cheap unless the CPU shows another process's ports
        return;
    }
    spin_lock(&iobitmap_lock);
    arch_ioport_load(bitmap_of(p));
    spin_unlock(&iobitmap_lock);
}

// Interprocessor call: reloads the bitmap if this CPU runs a thread of arg.
static void reload_here(void *arg)
{
    struct uthread *ut = uthread_current();
    if (ut && ut->proc == arg)
        user_switch_in(ut);
}

status_t ioport_enable(struct process *p, uint64_t base, uint64_t count)
{
    struct iobitmap *bm = bitmap_of(p);
    if (!bm) {
        struct iobitmap *fresh;
        status_t st = iobitmap_create(&fresh);
        if (st != OK)
            return st;
        struct iobitmap *none = NULL;
        if (__atomic_compare_exchange_n(&p->iobitmap, &none, fresh, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            bm = fresh;
        else // another thread of p was quicker
            bm = none, iobitmap_destroy(fresh);
    }
    status_t st = iobitmap_allow(bm, base, count);
    if (st != OK)
        return st;
    uint64_t cpus = 0;
    for (unsigned i = 0; i < MAX_CPUS; i++)
        if (arch_cpu_online(i))
            cpus |= 1ull << i;
    st = arch_call_on_cpus(cpus, reload_here, p);
    if (st != OK) { // (cannot happen from a system call) at least this CPU
        irqstate_t s = arch_irq_save();
        reload_here(p);
        arch_irq_restore(s);
    }
    return OK;
}

void ioport_release(struct process *p)
{
    irqstate_t s = spin_lock_irqsave(&iobitmap_lock);
    struct iobitmap *bm = p->iobitmap;
    __atomic_store_n(&p->iobitmap, NULL, __ATOMIC_RELEASE);
    spin_unlock_irqrestore(&iobitmap_lock, s);
    iobitmap_destroy(bm);
}
