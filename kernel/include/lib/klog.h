// The kernel log ring buffer behind printk. Records are kept in order with a
// sequence number; the oldest are dropped when the ring is full.
#pragma once

#include <stddef.h>
#include <stdint.h>

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

// Where console output goes (the UART now; more consoles later).
void console_write(const char *s, size_t n);

// Appends one record (text need not be terminated; it is cut at
// KLOG_LINE_MAX - 1 bytes). Caller serializes (printk holds its lock).
void klog_append(int level, uint64_t ts_ns, const char *text, size_t len);

// Drops every record (tests only).
void klog_reset(void);
