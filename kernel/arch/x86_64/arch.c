// Small pieces of the arch interface: interrupt state, port I/O, the TSC and
// its rate, the QEMU exit device.
#include "arch.h"
#include "sched/clock.h"
#include "x86.h"
#include "x86_cpu.h"

irqstate_t arch_irq_save(void)
{
    uint64_t f = read_rflags();
    __asm__ volatile("cli" ::: "memory");
    return f & RFLAGS_IF;
}

void arch_irq_restore(irqstate_t s)
{
    if (s & RFLAGS_IF)
        __asm__ volatile("sti" ::: "memory");
}

void arch_cpu_relax(void)
{
    __asm__ volatile("pause");
    x86_ipi_poll(); // a CPU spinning with interrupts off still answers TLB shootdowns
}

void arch_halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

uint64_t arch_cycles(void)
{
    return rdtsc();
}

uint8_t arch_pio_in8(uint16_t port)
{
    return inb(port);
}

void arch_pio_out8(uint16_t port, uint8_t v)
{
    outb(port, v);
}

void arch_vm_exit(uint32_t code)
{
    // QEMU's isa-debug-exit ends the VM with status (code << 1) | 1; on a
    // machine without it the write goes nowhere and we return.
    outl(PORT_DEBUG_EXIT, code);
}

#define PIT_MODE2_CH0       0x34 // channel 0, lobyte/hibyte, rate generator
#define PIT_LATCH_CH0       0x00
#define CALIBRATE_PIT_TICKS 1193 // 1 ms per measurement (three are taken)
#define PIT_DEAD_SPINS      1000 // reads of an unchanging count before giving up

static uint16_t pit_read(void)
{
    outb(PORT_PIT_CMD, PIT_LATCH_CH0);
    uint8_t lo = inb(PORT_PIT_CH0);
    return (uint16_t)(lo | inb(PORT_PIT_CH0) << 8);
}

// Reads the PIT count with the TSC at the middle of the read: port reads
// can be slow (an exit each, more under TCG), and time spent in them must
// not count on one side only.
static uint16_t pit_read_tsc(uint64_t *tsc)
{
    uint64_t before = rdtsc();
    uint16_t count = pit_read();
    *tsc = before + (rdtsc() - before) / 2;
    return count;
}

// One measurement: TSC cycles over CALIBRATE_PIT_TICKS of PIT channel 0,
// polled. Returns 0 when the PIT does not count (no PIT on this machine).
static uint64_t pit_measure(void)
{
    uint64_t t0, t1;
    // Start on a fresh tick: right after programming, the first reads may
    // still show the old count.
    uint16_t first = pit_read(), start;
    uint32_t spins = 0;
    while ((start = pit_read_tsc(&t0)) == first)
        if (++spins == PIT_DEAD_SPINS)
            return 0; // a PIT that never moved is absent (Xen's PVH dom0 has none)
    for (spins = 0; spins < 10000000; spins++) {
        uint16_t now = pit_read_tsc(&t1);
        uint16_t elapsed = (uint16_t)(start - now); // counts down, wraps mod 2^16
        if (elapsed >= CALIBRATE_PIT_TICKS)
            return (t1 - t0) * PIT_HZ / elapsed;
    }
    return 0;
}

// The median of three measurements, so one disturbed by the host (a vCPU
// descheduled mid-measurement) does not decide the rate.
static uint64_t calibrate_with_pit(void)
{
    uint64_t m[3];
    outb(PORT_PIT_CMD, PIT_MODE2_CH0);
    outb(PORT_PIT_CH0, 0xff);
    outb(PORT_PIT_CH0, 0xff);
    for (int i = 0; i < 3; i++)
        if (!(m[i] = pit_measure()))
            return 0;
    uint64_t lo = MIN(m[0], MIN(m[1], m[2])), hi = MAX(m[0], MAX(m[1], m[2]));
    return m[0] + m[1] + m[2] - lo - hi;
}

uint64_t arch_tsc_hz(const char **source)
{
    const struct x86_features *f = &x86_cpu_features;
    struct cpuid_regs r;
    if (f->max_leaf >= CPUID_TSC_CRYSTAL) {
        r = cpuid(CPUID_TSC_CRYSTAL, 0); // TSC = crystal * ebx / eax
        if (r.eax && r.ebx && r.ecx) {
            *source = "cpuid-15h";
            return (uint64_t)r.ecx * r.ebx / r.eax;
        }
    }
    if (f->max_leaf >= CPUID_FREQ) {
        r = cpuid(CPUID_FREQ, 0); // base frequency in MHz
        if (r.eax & 0xffff) {
            *source = "cpuid-16h";
            return (uint64_t)(r.eax & 0xffff) * 1000000;
        }
    }
    if (f->hypervisor && cpuid(0x40000000, 0).eax >= 0x40000010) {
        r = cpuid(0x40000010, 0); // VMware-style timing leaf: TSC kHz
        if (r.eax) {
            *source = "hv-leaf";
            return (uint64_t)r.eax * 1000;
        }
    }
    *source = "pit";
    return calibrate_with_pit();
}
