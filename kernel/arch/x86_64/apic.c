// The local APIC: x2APIC (MSRs) where the CPU has it, else xAPIC (MMIO);
// end of interrupt, and the one-shot timer (TSC-deadline or APIC timer).
#include "hv/kvm.h"
#include "lib/panic.h"
#include "lib/printk.h"
#include "mm/kva.h"
#include "sched/clock.h"
#include "sched/timer.h"
#include "x86.h"
#include "x86_cpu.h"
#include "x86_irq.h"

#define MSR_APIC_BASE    0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)
#define APIC_BASE_ADDR   0xfffff000ull
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_FIRST 0x800

// Register offsets (xAPIC MMIO; x2APIC MSR = 0x800 + offset / 16).
#define APIC_ID         0x020
#define APIC_TPR        0x080
#define APIC_EOI        0x0b0
#define APIC_SVR        0x0f0
#define APIC_ICR_LO     0x300
#define APIC_ICR_HI     0x310
#define APIC_LVT_TIMER  0x320
#define APIC_LVT_LINT0  0x350
#define APIC_LVT_LINT1  0x360
#define APIC_LVT_ERROR  0x370
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR  0x390
#define APIC_TIMER_DIV  0x3e0

#define SVR_ENABLE         (1u << 8)
#define LVT_MASKED         (1u << 16)
#define LVT_TIMER_ONESHOT  (0u << 17)
#define LVT_TIMER_DEADLINE (2u << 17)
#define TIMER_DIV_16       0x3

static bool x2apic;
static volatile uint32_t *xapic_regs;
static bool tsc_deadline;
static uint64_t apic_timer_hz; // APIC timer ticks per second (divide by 16)

static uint32_t apic_read(uint32_t reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(MSR_X2APIC_FIRST + reg / 16);
    return xapic_regs[reg / 4];
}

static void apic_write(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(MSR_X2APIC_FIRST + reg / 16, v);
    else
        xapic_regs[reg / 4] = v;
}

void x86_apic_eoi(void)
{
    if (kvm_pv_eoi_ack())
        return; // KVM PV EOI: clearing the flag was the EOI
    apic_write(APIC_EOI, 0);
}

uint32_t x86_apic_id(void)
{
    // Before this CPU's APIC is set up (interrupt routing at boot), the
    // initial APIC id from CPUID is the same number.
    if (!x2apic && !xapic_regs)
        return cpuid(CPUID_FEATURES, 0).ebx >> 24;
    uint32_t id = apic_read(APIC_ID);
    return x2apic ? id : id >> 24;
}

static void apic_enable(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    x2apic = x86_cpu_features.x2apic;
    if (x2apic) {
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
    } else {
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
        void *regs;
        // Every CPU sees its own APIC at the same address: map it once.
        if (!xapic_regs && kva_map_mmio(base & APIC_BASE_ADDR, PAGE_SIZE, &regs) != OK)
            panic("apic: cannot map the local APIC");
        if (!xapic_regs)
            xapic_regs = regs;
    }
    apic_write(APIC_TPR, 0);
    apic_write(APIC_LVT_LINT0, LVT_MASKED);
    apic_write(APIC_LVT_LINT1, LVT_MASKED);
    apic_write(APIC_LVT_ERROR, VEC_APIC_ERROR);
    apic_write(APIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

// Counts APIC timer ticks over 1 ms of TSC time.
#define APIC_CALIBRATE_NS 250000 // long enough for 0.1% with a MHz-range timer

static uint64_t calibrate_apic_timer(void)
{
    apic_write(APIC_TIMER_DIV, TIMER_DIV_16);
    apic_write(APIC_LVT_TIMER, LVT_MASKED | LVT_TIMER_ONESHOT);
    apic_write(APIC_TIMER_INIT, 0xffffffffu);
    uint64_t start = clock_monotonic_ns(), now;
    while ((now = clock_monotonic_ns()) - start < APIC_CALIBRATE_NS)
        __asm__ volatile("pause");
    uint32_t left = apic_read(APIC_TIMER_CUR);
    apic_write(APIC_TIMER_INIT, 0);
    return (uint64_t)(0xffffffffu - left) * 1000000000ull / (now - start);
}

static void timer_irq(void *arg)
{
    ktimer_interrupt();
}

status_t arch_timer_init(void)
{
    apic_enable();
    x86_irq_set(VEC_TIMER, timer_irq, NULL);
    tsc_deadline = x86_cpu_features.tsc_deadline && clock_tsc_hz();
    if (tsc_deadline) {
        apic_write(APIC_LVT_TIMER, LVT_TIMER_DEADLINE | VEC_TIMER);
        return OK;
    }
    apic_timer_hz = calibrate_apic_timer();
    if (!apic_timer_hz)
        return ERR_NOT_SUPPORTED;
    apic_write(APIC_LVT_TIMER, LVT_TIMER_ONESHOT | VEC_TIMER);
    return OK;
}

const char *arch_timer_name(void)
{
    if (tsc_deadline)
        return x2apic ? "tsc-deadline (x2apic)" : "tsc-deadline (xapic)";
    return x2apic ? "apic-oneshot (x2apic)" : "apic-oneshot (xapic)";
}

#define MSR_X2APIC_SELF_IPI 0x83f
#define ICR_SELF            (1u << 18) // destination shorthand: self

// Delivers the timer vector to this CPU at once.
static void timer_fire_now(void)
{
    if (x2apic)
        wrmsr(MSR_X2APIC_SELF_IPI, VEC_TIMER);
    else
        apic_write(APIC_ICR_LO, ICR_SELF | VEC_TIMER);
}

void arch_timer_set(uint64_t deadline_ns)
{
    if (deadline_ns == UINT64_MAX) {
        if (tsc_deadline)
            wrmsr(MSR_TSC_DEADLINE, 0);
        else
            apic_write(APIC_TIMER_INIT, 0);
        return;
    }
    uint64_t now = clock_monotonic_ns();
    uint64_t delta = deadline_ns > now ? deadline_ns - now : 0;
    if (tsc_deadline) {
        uint64_t cycles = delta * clock_tsc_hz() / 1000000000ull;
        if (delta > 1000000000ull) // avoid the product overflowing for far deadlines
            cycles = delta / 1000 * (clock_tsc_hz() / 1000000);
        uint64_t target = rdtsc() + (cycles ? cycles : 1);
        wrmsr(MSR_TSC_DEADLINE, target);
        // Some hypervisors (the nested KVM of the project's machines) never
        // fire a deadline that passed before it was written: raise it here.
        if (rdtsc() >= target)
            timer_fire_now();
        return;
    }
    uint64_t ticks = delta * apic_timer_hz / 1000000000ull;
    if (delta > 1000000000ull)
        ticks = delta / 1000 * (apic_timer_hz / 1000000);
    if (ticks > 0xffffffffu)
        ticks = 0xffffffffu; // fires early; ktimer re-arms for the rest
    apic_write(APIC_TIMER_INIT, ticks ? (uint32_t)ticks : 1);
}

bool x86_apic_x2apic(void)
{
    return x2apic;
}

#define ICR_TIMEOUT_NS (100 * 1000000ull)

// xAPIC: waits until the previous IPI has left the ICR.
static status_t icr_wait_idle(uint64_t deadline)
{
    while (apic_read(APIC_ICR_LO) & ICR_PENDING) {
        if (clock_monotonic_ns() > deadline)
            return ERR_TIMED_OUT;
        __asm__ volatile("pause");
    }
    return OK;
}

status_t x86_apic_send_icr(uint32_t apic_id, uint32_t icr_low)
{
    if (x2apic) {
        // WRMSR to an x2APIC register is not serializing: earlier stores
        // (the request the IPI announces) must be visible first.
        __asm__ volatile("mfence; lfence" ::: "memory");
        wrmsr(MSR_X2APIC_FIRST + APIC_ICR_LO / 16, (uint64_t)apic_id << 32 | icr_low);
        return OK;
    }
    irqstate_t s = arch_irq_save(); // the two halves go out back to back
    uint64_t deadline = clock_monotonic_ns() + ICR_TIMEOUT_NS;
    status_t st = icr_wait_idle(deadline);
    if (st == OK) {
        apic_write(APIC_ICR_HI, apic_id << 24);
        apic_write(APIC_ICR_LO, icr_low);
        st = icr_wait_idle(deadline);
    }
    arch_irq_restore(s);
    return st;
}

void x86_apic_init_ap(void)
{
    apic_enable();
    if (tsc_deadline) {
        apic_write(APIC_LVT_TIMER, LVT_TIMER_DEADLINE | VEC_TIMER);
        // xAPIC: the LVT write must reach the APIC before a deadline write.
        __asm__ volatile("mfence" ::: "memory");
        return;
    }
    apic_write(APIC_TIMER_DIV, TIMER_DIV_16); // the boot CPU's calibration holds
    apic_write(APIC_LVT_TIMER, LVT_TIMER_ONESHOT | VEC_TIMER);
}
