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
static console_sink_fn console_sinks[CONSOLE_MAX_SINKS]; // (printk_lock)
static size_t nconsole_sinks;                            // (printk_lock)

void klog_set_console_level(int level)
{
    console_level = level;
}

void console_write(const char *s, size_t n)
{
    uart_write(s, n);
    for (size_t i = 0; i < nconsole_sinks; i++)
        console_sinks[i](s, n);
}

// One log record as the console shows it: "[    1.000000] text\n".
static void echo_record(void (*out)(const char *s, size_t n), uint64_t ts, const char *text,
                        size_t len)
{
    char prefix[32];
    uint64_t us = ts / 1000;
    int p = ksnprintf(prefix, sizeof(prefix), "[%5llu.%06llu] ", (unsigned long long)(us / 1000000),
                      (unsigned long long)(us % 1000000));
    out(prefix, (size_t)p);
    out(text, len);
    out("\n", 1);
}

status_t console_add_sink(console_sink_fn write)
{
    static struct klog_entry e; // (printk_lock): too big for an early stack
    status_t st = ERR_NO_RESOURCES;
    irqstate_t s = spin_lock_irqsave(&printk_lock);
    if (nconsole_sinks < CONSOLE_MAX_SINKS) {
        for (uint64_t seq = 0; klog_read(&seq, &e);)
            if (e.level <= console_level)
                echo_record(write, e.ts_ns, e.text, strlen(e.text));
        console_sinks[nconsole_sinks++] = write;
        st = OK;
    }
    spin_unlock_irqrestore(&printk_lock, s);
    return st;
}

static void (*append_hook)(int level);

void klog_set_append_hook(void (*fn)(int level))
{
    __atomic_store_n(&append_hook, fn, __ATOMIC_RELEASE);
}

void printk_line(int level, const char *text, size_t len, bool always_echo)
{
    len = MIN(len, (size_t)KLOG_LINE_MAX - 1);
    uint64_t ts = clock_monotonic_ns();

    irqstate_t s = spin_lock_irqsave(&printk_lock);
    klog_append(level, ts, text, len);
    if (always_echo || level <= console_level)
        echo_record(console_write, ts, text, len);
    spin_unlock_irqrestore(&printk_lock, s);
    void (*hook)(int) = __atomic_load_n(&append_hook, __ATOMIC_ACQUIRE);
    if (hook)
        hook(level);
}

void vprintk(int level, const char *fmt, va_list ap)
{
    char text[KLOG_LINE_MAX];
    int n = kvsnprintf(text, sizeof(text), fmt, ap);
    size_t len = n < 0 ? 0 : MIN((size_t)n, sizeof(text) - 1);
    while (len && text[len - 1] == '\n')
        len--;
    printk_line(level, text, len, false);
}

int klog_fetch(uint64_t *seq, struct klog_entry *out)
{
    irqstate_t s = spin_lock_irqsave(&printk_lock);
    int found = klog_read(seq, out);
    spin_unlock_irqrestore(&printk_lock, s);
    return found;
}

uint64_t klog_fetch_next_seq(void)
{
    irqstate_t s = spin_lock_irqsave(&printk_lock);
    uint64_t seq = klog_next_seq();
    spin_unlock_irqrestore(&printk_lock, s);
    return seq;
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
