// The console's line discipline in canonical mode: input is edited a line
// at a time (echo, erase, kill) and handed to readers only when a line is
// complete. Pure logic, with no locking: the console (kernel/dev/console.c)
// serializes the calls. Raw mode (bytes as typed, no echo) is not there yet.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LDISC_LINE_MAX 256 // bytes of one line, its '\n' included
#define LDISC_RECORDS  16  // complete lines (or end-of-input marks) queued
#define LDISC_DATA     (LDISC_RECORDS * LDISC_LINE_MAX)

#define LDISC_CTRL_D 0x04 // end of input
#define LDISC_CTRL_H 0x08 // backspace
#define LDISC_CTRL_U 0x15 // kill the line
#define LDISC_DEL    0x7f // erase, as most terminals send for Backspace

// Writes echo bytes to the terminal.
typedef void (*ldisc_echo_fn)(const char *s, size_t n);

struct ldisc {
    char line[LDISC_LINE_MAX]; // the line being edited
    size_t line_len;
    char data[LDISC_DATA]; // bytes of complete records, a ring
    size_t data_head, data_count;
    uint16_t rec_len[LDISC_RECORDS]; // bytes left in each record, a ring
    unsigned rec_head, rec_count;
    ldisc_echo_fn echo;
};

void ldisc_init(struct ldisc *ld, ldisc_echo_fn echo);
// One received byte. Returns true when it completed a record (a reader may
// go on).
bool ldisc_input(struct ldisc *ld, char c);
// Whether ldisc_read has something to return (data or an end of input).
bool ldisc_readable(const struct ldisc *ld);
// Copies at most n bytes of the first record, never past its end. Returns
// the count; 0 for an end-of-input mark (Ctrl-D on an empty line), which is
// consumed. Call only when ldisc_readable().
size_t ldisc_read(struct ldisc *ld, char *buf, size_t n);
