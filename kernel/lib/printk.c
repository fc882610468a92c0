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

// printk_lock serialises the log ring and the console: a printk record
// (prefix, text, newline), a chunk of a user write and a piece of KTAP each
// go out whole, never mixed with another CPU's. See console_lock for the
// cases where it is not taken.
static struct spinlock printk_lock = SPINLOCK_INIT("printk");
static int lock_cpu = -1; // CPU holding printk_lock, -1 none (written by the holder)
static bool panicking;    // printk_panic_begin() was called (atomic)
static int console_level = LOG_INFO;
static console_sink_fn console_sinks[CONSOLE_MAX_SINKS]; // (printk_lock)
static size_t nconsole_sinks;                            // (printk_lock)

void klog_set_console_level(int level)
{
    console_level = level;
}

// How long a printk during a panic waits for printk_lock: long enough for
// a line another CPU is emitting, bounded so a holder that never lets go
// (the panicking CPU itself, or a CPU stopped mid-line) cannot hang it.
#define PANIC_LOCK_SPINS 1000000

void printk_panic_begin(void)
{
    __atomic_store_n(&panicking, true, __ATOMIC_SEQ_CST);
}

// Takes printk_lock with interrupts off; returns whether it is held. It is
// not taken, and the caller emits without it (its line may then mix with
// another, but is neither lost nor a deadlock), when this CPU already holds
// it (a fault or NMI inside printk reporting itself) or when a panic is in
// progress and the lock stays busy for PANIC_LOCK_SPINS.
static bool console_lock(irqstate_t *s)
{
    *s = arch_irq_save();
    if (spin_trylock_fast(&printk_lock))
        goto held;
    if (__atomic_load_n(&lock_cpu, __ATOMIC_RELAXED) == (int)arch_cpu_index())
        return false;
    if (__atomic_load_n(&panicking, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < PANIC_LOCK_SPINS; i++) {
            if (spin_trylock_fast(&printk_lock))
                goto held;
            arch_cpu_relax();
        }
        return false;
    }
    arch_irq_restore(*s); // the slow path may halt with interrupts on if they were
    spin_lock_slow(&printk_lock, true);
held:
    __atomic_store_n(&lock_cpu, (int)arch_cpu_index(), __ATOMIC_RELAXED);
    return true;
}

static void console_unlock(bool held, irqstate_t s)
{
    if (held) {
        __atomic_store_n(&lock_cpu, -1, __ATOMIC_RELAXED);
        spin_unlock(&printk_lock);
    }
    arch_irq_restore(s);
}

// The UART and every sink. Caller holds printk_lock (or bypasses it).
static void console_emit(const char *s, size_t n)
{
    uart_write(s, n);
    for (size_t i = 0; i < nconsole_sinks; i++)
        console_sinks[i](s, n);
}

void console_write(const char *s, size_t n)
{
    irqstate_t st;
    bool held = console_lock(&st);
    console_emit(s, n);
    console_unlock(held, st);
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
    irqstate_t s;
    bool held = console_lock(&s);
    if (nconsole_sinks < CONSOLE_MAX_SINKS) {
        for (uint64_t seq = 0; klog_read(&seq, &e);)
            if (e.level <= console_level)
                echo_record(write, e.ts_ns, e.text, strlen(e.text));
        console_sinks[nconsole_sinks++] = write;
        st = OK;
    }
    console_unlock(held, s);
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

    irqstate_t s;
    bool held = console_lock(&s);
    klog_append(level, ts, text, len);
    if (always_echo || level <= console_level)
        echo_record(console_emit, ts, text, len);
    console_unlock(held, s);
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
    irqstate_t s;
    bool held = console_lock(&s);
    int found = klog_read(seq, out);
    console_unlock(held, s);
    return found;
}

uint64_t klog_fetch_next_seq(void)
{
    irqstate_t s;
    bool held = console_lock(&s);
    uint64_t seq = klog_next_seq();
    console_unlock(held, s);
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
    console_write(s, strlen(s));
}
