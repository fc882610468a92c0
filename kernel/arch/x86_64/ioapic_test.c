// In-kernel test of interrupt routing: the UART's transmitter-empty
// interrupt travels ISA IRQ 4 -> IOAPIC -> local APIC -> our handler.
#include "arch.h"
#include "lib/ktest.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "x86.h"
#include "x86_irq.h"

#define COM1_IER     0x3f9
#define COM1_IIR     0x3fa
#define IER_THRE     0x02
#define UART_ISA_IRQ 4

static volatile int uart_irqs;

static void uart_irq(void *arg)
{
    (void)arch_pio_in8(COM1_IIR); // reading IIR acknowledges THRE
    arch_pio_out8(COM1_IER, 0);
    uart_irqs++;
}

static void ioapic_routes_uart_interrupt(struct ktest *t)
{
    unsigned vector, gsi;
    if (arch_irq_alloc(uart_irq, NULL, &vector) != OK)
        KTEST_SKIP("no free vector");
    status_t st = arch_irq_route_isa(UART_ISA_IRQ, vector, &gsi);
    if (st == ERR_NOT_FOUND)
        KTEST_SKIP("no IOAPIC");
    ASSERT_OK(st);
    uart_irqs = 0;
    irqstate_t s = arch_irq_save();
    arch_pio_out8(COM1_IER, IER_THRE); // the FIFO is empty: fires at once
    arch_irq_enable();
    uint64_t until = clock_monotonic_ns() + 500000000ull;
    while (!uart_irqs && clock_monotonic_ns() < until)
        arch_cpu_relax();
    arch_irq_restore(s);
    EXPECT_EQ(uart_irqs, 1);
    EXPECT_OK(arch_irq_mask_gsi(gsi, true));
    EXPECT_STATUS(arch_irq_mask_gsi(9999, true), ERR_NOT_FOUND);
    EXPECT_STATUS(arch_irq_route_gsi(gsi, 3, false, false), ERR_INVALID_ARGS);
}

// The APIC id routing uses before the local APIC is mapped (CPUID's initial
// APIC id) must name the same CPU as the APIC's own register.
static void ioapic_apic_id_matches_cpuid(struct ktest *t)
{
    irqstate_t s = arch_irq_save(); // stay on this CPU for both reads
    uint32_t from_apic = x86_apic_id();
    uint32_t from_cpuid = cpuid(CPUID_FEATURES, 0).ebx >> 24;
    arch_irq_restore(s);
    EXPECT_EQ(from_apic & 0xff, from_cpuid);
}

KTEST_SUITE(ioapic, KTEST_CASE(ioapic_routes_uart_interrupt),
            KTEST_CASE(ioapic_apic_id_matches_cpuid));
