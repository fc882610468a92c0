// A terminal's line discipline: typed bytes in, records out.
//
// Cooked mode (the default) edits a line at a time and hands it to readers
// only when it is complete: echo, erase (Backspace or DEL), Ctrl-W (erase a
// word), Ctrl-U (kill the line), CR read as NL, Ctrl-D (end of input on an
// empty line, else the line as it is, without a newline), Ctrl-C (the line
// and every queued record are dropped, "^C" is echoed and the caller is
// told). Raw mode passes every byte on as typed, without echo; bytes typed
// between two reads make one record. ldisc_output does the output side
// (NL -> CR NL) in both modes. docs/CONSOLE.md has the whole story.
//
// Pure logic with no locking and no allocation: the kernel console
// (kernel/dev/console.c) and the user-space console service
// (services/console/) both build it; the caller serializes the calls.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LDISC_LINE_MAX 256 // bytes of one line, its '\n' included; of one raw record
#define LDISC_RECORDS  16  // complete lines (or end-of-input marks) queued
#define LDISC_DATA     (LDISC_RECORDS * LDISC_LINE_MAX)

#define LDISC_CTRL_C 0x03 // interrupt
#define LDISC_CTRL_D 0x04 // end of input
#define LDISC_CTRL_H 0x08 // backspace
#define LDISC_CTRL_U 0x15 // kill the line
#define LDISC_CTRL_W 0x17 // erase a word
#define LDISC_DEL    0x7f // erase, as most terminals send for Backspace

// Modes (the values of proto/console.nidl's CONSOLE_MODE_*).
#define LDISC_COOKED 0u
#define LDISC_RAW    1u

// What ldisc_input reports: a mask of these.
#define LDISC_RECORD    (1u << 0) // a record was completed (raw: bytes queued)
#define LDISC_INTERRUPT (1u << 1) // Ctrl-C in cooked mode: line and queue dropped

// Writes echo bytes to the terminal (before output processing: "\n" means
// a new line). The first form is the kernel console's; the second carries a
// context for callers with several terminals.
typedef void (*ldisc_echo_fn)(const char *s, size_t n);
typedef void (*ldisc_write_fn)(void *ctx, const char *s, size_t n);

struct ldisc {
    char line[LDISC_LINE_MAX]; // the line being edited
    size_t line_len;
    char data[LDISC_DATA]; // bytes of complete records, a ring
    size_t data_head, data_count;
    uint16_t rec_len[LDISC_RECORDS]; // bytes left in each record, a ring
    unsigned rec_head, rec_count;
    unsigned mode; // LDISC_COOKED or LDISC_RAW
    bool raw_open; // raw: the last record may still grow
    ldisc_echo_fn echo;
    ldisc_write_fn write;
    void *write_ctx;
};

// Cooked, empty, echoing through `echo` (NULL: no echo).
void ldisc_init(struct ldisc *ld, ldisc_echo_fn echo);
// The same, echoing through write(ctx, ...).
void ldisc_init_ctx(struct ldisc *ld, ldisc_write_fn write, void *ctx);

// Switches modes. Cooked -> raw hands the line being edited on as a record
// (nothing typed is lost); records already queued stay as they are.
void ldisc_set_mode(struct ldisc *ld, unsigned mode);

// One received byte. Returns LDISC_RECORD and/or LDISC_INTERRUPT (0: the
// byte only edited the line, or was dropped because the queue is full).
unsigned ldisc_input(struct ldisc *ld, char c);
// Whether ldisc_read has something to return (data or an end of input).
bool ldisc_readable(const struct ldisc *ld);
// Bytes left in the first record (0 for an end-of-input mark). Call only
// when ldisc_readable().
size_t ldisc_record_len(const struct ldisc *ld);
// Copies at most n bytes of the first record, never past its end, without
// consuming them. Call only when ldisc_readable().
size_t ldisc_peek(const struct ldisc *ld, char *buf, size_t n);
// Copies at most n bytes of the first record, never past its end. Returns
// the count; 0 for an end-of-input mark (Ctrl-D on an empty line), which is
// consumed. Call only when ldisc_readable().
size_t ldisc_read(struct ldisc *ld, char *buf, size_t n);
// Drops the line being edited and every queued record.
void ldisc_flush(struct ldisc *ld);

// Output processing: copies in[0..n) to out (cap bytes) with each "\n"
// written as "\r\n". Returns the bytes written; *used says how many input
// bytes they stand for (less than n when out is full; a "\r\n" pair is
// never split).
size_t ldisc_output(const char *in, size_t n, char *out, size_t cap, size_t *used);
