// Host stand-ins for what portable kernel code expects from the kernel:
// printk, panic, the arch interface and the KTAP output.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "arch.h"
#include "lib/ktest.h"
#include "lib/panic.h"
#include "lib/printk.h"

void ktest_output(const char *s)
{
    fputs(s, stdout);
}

void vprintk(int level, const char *fmt, va_list ap)
{
    fprintf(stdout, "    # <%d> ", level);
    vfprintf(stdout, fmt, ap);
}

void printk(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(level, fmt, ap);
    va_end(ap);
}

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("PANIC: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    abort();
}

irqstate_t arch_irq_save(void)
{
    return 0;
}

void arch_irq_restore(irqstate_t s)
{
    (void)s;
}

void arch_cpu_relax(void) {}

void arch_halt(void)
{
    abort();
}

uint64_t arch_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool arch_call_catching_faults(void (*fn)(void *), void *arg, struct fault_info *info)
{
    (void)info;
    fn(arg);
    return true;
}

unsigned arch_irq_gsi_count(void)
{
    return 24; // one IOAPIC, as QEMU's machines have
}
