// printk: formats a message, stores it in the log ring and echoes it to the
// console with a timestamp when its level is at or below the console level.
#include "dev/uart.h"
#include "lib/fmt.h"
#include "lib/klog.h"
#include "lib/printk.h"
#include "lib/ktest.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "sched/clock.h"

static struct spinlock printk_lock = SPINLOCK_INIT("printk");
static int console_level = LOG_INFO;

void klog_set_console_level(int level)
{
    console_level = level;
}

void console_write(const char *s, size_t n)
{
    uart_write(s, n);
}

void vprintk(int level, const char *fmt, va_list ap)
{
    char text[KLOG_LINE_MAX];
    int n = kvsnprintf(text, sizeof(text), fmt, ap);
    size_t len = n < 0 ? 0 : MIN((size_t)n, sizeof(text) - 1);
    while (len && text[len - 1] == '\n')
        len--;
    uint64_t ts = clock_monotonic_ns();

    irqstate_t s = spin_lock_irqsave(&printk_lock);
    klog_append(level, ts, text, len);
    if (level <= console_level) {
        char prefix[32];
        uint64_t us = ts / 1000;
        int p = ksnprintf(prefix, sizeof(prefix), "[%5llu.%06llu] ",
                          (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
        console_write(prefix, (size_t)p);
        console_write(text, len);
        console_write("\n", 1);
    }
    spin_unlock_irqrestore(&printk_lock, s);
}

void printk(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(level, fmt, ap);
    va_end(ap);
}

// KTAP from the in-kernel tests goes straight to the console, unprefixed, so
// any KTAP reader can parse it.
void ktest_output(const char *s)
{
    irqstate_t st = spin_lock_irqsave(&printk_lock);
    console_write(s, strlen(s));
    spin_unlock_irqrestore(&printk_lock, st);
}
