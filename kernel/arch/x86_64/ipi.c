// Interprocessor interrupts: reschedule, TLB shootdown, and calls of a
// function on other CPUs.
//
// TLB shootdowns are started with interrupts off (arch_mmu_unmap runs under
// irqsave locks; kstack_free under a run-queue lock), so a target CPU may be
// spinning, interrupts off, on a lock the initiator holds. Every spin loop
// goes through arch_cpu_relax(), which serves a pending shootdown
// (x86_ipi_poll), so the initiator always gets its answer. Function calls run
// arbitrary code and are served only from the interrupt: their initiator
// must keep interrupts on and hold no lock while it waits.
//
// Under KVM the hypervisor layer's hv_pv operations (hv/kvm.h) replace the
// APIC where they are set: one hypercall sends an IPI to many CPUs, and a
// preempted vCPU's TLB flush is handed to the host instead of waiting for
// it to run.
#include "hv/kvm.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "sched/clock.h"
#include "x86.h"
#include "x86_cpu.h"
#include "x86_irq.h"

#define WAIT_WARN_NS (2000 * 1000000ull) // a CPU this slow to answer is reported

struct tlb_request {
    paddr_t root;
    vaddr_t va;
    size_t n;
};

static struct spinlock tlb_lock = SPINLOCK_INIT("tlb-shootdown");
static struct tlb_request tlb_req; // (tlb_lock; read by targets while their bit is pending)
static uint64_t tlb_pending;       // CPUs yet to flush tlb_req (atomic)

static struct spinlock call_lock = SPINLOCK_INIT("ipi-call");
static void (*call_fn)(void *); // (call_lock; read by targets while their bit is pending)
static void *call_arg;
static uint64_t call_pending; // CPUs yet to run call_fn (atomic)

static uint64_t self_bit(void)
{
    return 1ull << arch_cpu_index();
}

// KVM PV send-IPI: one hypercall for the lot. False: use the APIC.
static bool send_ipi_pv(uint64_t cpus, unsigned vector)
{
    status_t (*send)(const uint32_t *, size_t, uint8_t) = READ_ONCE(hv_pv.send_ipi);
    uint32_t ids[MAX_CPUS];
    size_t n = 0;
    if (!send)
        return false;
    for (uint64_t m = cpus; m; m &= m - 1)
        ids[n++] = x86_cpus[__builtin_ctzll(m)]->apic_id;
    return send(ids, n, (uint8_t)vector) == OK; // (a repeat through the APIC is harmless)
}

// Sends `vector` to every online CPU of `cpus`.
static void send_ipi_mask(uint64_t cpus, unsigned vector)
{
    cpus &= __atomic_load_n(&x86_cpus_online, __ATOMIC_ACQUIRE);
    if (!cpus || send_ipi_pv(cpus, vector))
        return;
    for (uint64_t m = cpus; m; m &= m - 1) {
        unsigned cpu = (unsigned)__builtin_ctzll(m);
        if (x86_apic_send_icr(x86_cpus[cpu]->apic_id, ICR_FIXED | vector) != OK)
            pr_warn("ipi: the local APIC did not send vector %#x to CPU %u", vector, cpu);
    }
}

void arch_send_reschedule(unsigned cpu)
{
    if (cpu < MAX_CPUS && cpu != arch_cpu_index())
        send_ipi_mask(1ull << cpu, VEC_IPI_RESCHED);
}

// Spins until every bit of *pending is clear, saying once if that is slow.
static void wait_acks(const uint64_t *pending, const char *what)
{
    uint64_t start = clock_monotonic_ns();
    bool warned = false;
    while (__atomic_load_n(pending, __ATOMIC_ACQUIRE)) {
        if (!warned && clock_monotonic_ns() - start > WAIT_WARN_NS) {
            warned = true;
            pr_warn("ipi: CPUs %#llx have not answered a %s for %llu ms",
                    (unsigned long long)__atomic_load_n(pending, __ATOMIC_RELAXED), what,
                    WAIT_WARN_NS / 1000000);
        }
        __asm__ volatile("pause");
    }
}

// Flushes what tlb_req asks if this CPU is among the targets. Interrupts off.
static void tlb_serve(void)
{
    uint64_t me = self_bit();
    if (!(__atomic_load_n(&tlb_pending, __ATOMIC_ACQUIRE) & me))
        return;
    struct tlb_request r = tlb_req;
    x86_tlb_flush_local(r.root, r.va, r.n);
    __atomic_fetch_and(&tlb_pending, ~me, __ATOMIC_RELEASE);
}

void x86_ipi_poll(void)
{
    if (likely(!__atomic_load_n(&tlb_pending, __ATOMIC_RELAXED)))
        return;
    irqstate_t s = arch_irq_save();
    tlb_serve();
    arch_irq_restore(s);
}

void x86_tlb_shootdown(uint64_t cpus, paddr_t root, vaddr_t va, size_t n)
{
    irqstate_t s = arch_irq_save();
    cpus &= __atomic_load_n(&x86_cpus_online, __ATOMIC_ACQUIRE) & ~self_bit();
    if (!cpus) {
        arch_irq_restore(s);
        return;
    }
    spin_lock(&tlb_lock); // spinning here serves the holder's request
    tlb_req = (struct tlb_request){root, va, n};
    // (1) The host flushes a preempted vCPU itself before it runs again:
    // those need no IPI and no answer (KVM PV TLB flush).
    bool (*defer)(unsigned) = READ_ONCE(hv_pv.defer_tlb_flush);
    for (uint64_t m = cpus; defer && m; m &= m - 1)
        if (defer((unsigned)__builtin_ctzll(m)))
            cpus &= ~(m & -m);
    // (2) Publish, interrupt, wait for every target to clear its bit.
    __atomic_store_n(&tlb_pending, cpus, __ATOMIC_RELEASE);
    send_ipi_mask(cpus, VEC_IPI_TLB);
    wait_acks(&tlb_pending, "TLB shootdown");
    spin_unlock(&tlb_lock);
    arch_irq_restore(s);
}

static void tlb_irq(void *arg)
{
    tlb_serve();
}

static void call_irq(void *arg)
{
    uint64_t me = self_bit();
    if (!(__atomic_load_n(&call_pending, __ATOMIC_ACQUIRE) & me))
        return;
    call_fn(call_arg);
    __atomic_fetch_and(&call_pending, ~me, __ATOMIC_RELEASE);
}

status_t arch_call_on_cpus(uint64_t cpus, void (*fn)(void *), void *arg)
{
    if (!arch_irqs_enabled())
        return ERR_BAD_STATE;
    cpus &= __atomic_load_n(&x86_cpus_online, __ATOMIC_ACQUIRE);
    spin_lock(&call_lock); // interrupts stay on: the holder may be calling us
    uint64_t me = self_bit(), others = cpus & ~me;
    call_fn = fn;
    call_arg = arg;
    __atomic_store_n(&call_pending, others, __ATOMIC_RELEASE);
    send_ipi_mask(others, VEC_IPI_CALL);
    if (cpus & me) {
        irqstate_t s = arch_irq_save(); // as on the others: interrupt context
        fn(arg);
        arch_irq_restore(s);
    }
    wait_acks(&call_pending, "function call");
    spin_unlock(&call_lock);
    return OK;
}

static void resched_irq(void *arg)
{
    // Nothing to do here: the idle loop and the return to user mode check
    // for work once the interrupt ends.
}

void x86_ipi_init(void)
{
    x86_irq_set(VEC_IPI_RESCHED, resched_irq, NULL);
    x86_irq_set(VEC_IPI_TLB, tlb_irq, NULL);
    x86_irq_set(VEC_IPI_CALL, call_irq, NULL);
}
