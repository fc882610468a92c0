// The kernel log ring buffer behind printk. Records are kept in order with a
// sequence number; the oldest are dropped when the ring is full.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

#define KLOG_LINE_MAX 256

struct klog_entry {
    uint64_t seq;   // 0, 1, 2 ... in order of logging
    uint64_t ts_ns; // clock_monotonic_ns() when logged
    int level;      // LOG_*
    char text[KLOG_LINE_MAX];
};

// Copies the first record with sequence >= *seq into *out and sets *seq past
// it. Returns 0 when there is none, else 1.
int klog_read(uint64_t *seq, struct klog_entry *out);

// Console log level: records with level <= it are echoed to the console.
void klog_set_console_level(int level);

// Where console output goes: the UART and every added console sink. Each
// call goes out whole under the printk lock, never mixed with a printk
// line or another CPU's write (but see printk_panic_begin).
void console_write(const char *s, size_t n);

// A fatal error is being reported: from now on printk and console_write wait
// for the printk lock only a bounded time, then write without it, so the
// report comes out even when the lock's holder is stuck or is the failing
// CPU itself. (The CPU holding the lock never waits for it: printk from a
// fault or NMI that interrupted printk writes at once.)
void printk_panic_begin(void);

// A further console (a hypervisor's, say). It is called with the printk lock
// held and interrupts off, so it must not block or print.
typedef void (*console_sink_fn)(const char *s, size_t n);
#define CONSOLE_MAX_SINKS 4

// Adds a console. The records already logged at the console level are
// replayed to it first, so it shows the whole boot. ERR_NO_RESOURCES when
// CONSOLE_MAX_SINKS are in use.
status_t console_add_sink(console_sink_fn write);

// Appends one record (text need not be terminated; it is cut at
// KLOG_LINE_MAX - 1 bytes). Caller serializes (printk holds its lock).
void klog_append(int level, uint64_t ts_ns, const char *text, size_t len);

// The sequence number the next record will get. Caller serializes.
uint64_t klog_next_seq(void);

// klog_read and klog_next_seq under the printk lock, for readers outside
// printk (the log object).
int klog_fetch(uint64_t *seq, struct klog_entry *out);
uint64_t klog_fetch_next_seq(void);

// Logs one line as it is (no formatting; cut at KLOG_LINE_MAX - 1 bytes).
// It is echoed to the console when its level is at or below the console
// level, or always with `always_echo` (lines user space logs).
void printk_line(int level, const char *text, size_t len, bool always_echo);

// Called with the level after every new record, outside the printk lock
// (the log object uses it to raise SIGNAL_READABLE). One hook; NULL removes
// it. The hook must be safe wherever printk is.
void klog_set_append_hook(void (*fn)(int level));

// Drops every record (tests only).
void klog_reset(void);
