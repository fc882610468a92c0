// 16- and 32-bit port I/O for ACPI registers, and the triple fault that is
// power_reboot()'s last resort (declared in dev/power.h).
#include "dev/power.h"

uint16_t arch_pio_in16(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void arch_pio_out16(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}

uint32_t arch_pio_in32(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void arch_pio_out32(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}

void arch_triple_fault(void)
{
    // A limit of 0 makes every vector lie outside the IDT: the #UD becomes a
    // #GP, then a double fault, then a shutdown.
    struct {
        uint16_t limit;
        uint64_t base;
    } __packed idtr = {0, 0};
    __asm__ volatile("cli; lidt %0; ud2" ::"m"(idtr) : "memory");
    for (;;)
        __asm__ volatile("cli; hlt");
}
