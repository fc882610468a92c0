// Line editing for a terminal in raw mode: a pure state machine fed one
// input byte at a time; what the screen needs (echo, redraws as VT100/ANSI
// sequences) collects in an output buffer the caller writes out after each
// byte. Also the history the editor browses. Pure C (host-tested).
//
// Keys: printable characters insert at the cursor; Backspace (DEL, Ctrl-H)
// erases before it; Left/Right (ESC [ D, ESC [ C, Ctrl-B, Ctrl-F) move;
// Home/End (ESC [ H, ESC [ F, ESC [ 1~, ESC [ 4~, ESC O H/F, Ctrl-A, Ctrl-E);
// Delete (ESC [ 3~) erases under it; Up/Down (ESC [ A, ESC [ B, Ctrl-P,
// Ctrl-N) browse the history; Ctrl-U kills the line, Ctrl-K to its end,
// Ctrl-W the word before the cursor; Ctrl-L redraws; Ctrl-C abandons the
// line; Ctrl-D ends input on an empty line (else deletes under the cursor);
// Enter (CR or LF; CR LF counts once) ends the line.
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define NSH_LINE_MAX    1024 // bytes of a line, with the NUL
#define NSH_HISTORY_MAX 100

// The last NSH_HISTORY_MAX lines, oldest first.
struct nsh_history {
    char *lines[NSH_HISTORY_MAX];
    size_t first, count; // a ring: lines[(first + i) % MAX] is the i-th oldest
    unsigned long total; // lines ever added (numbers the `history` listing)
};

// Adds a copy of line (without its newline). Blank lines and a repeat of
// the newest line are not added.
void nsh_history_add(struct nsh_history *h, const char *line);
// The i-th oldest line (i < count), or NULL.
const char *nsh_history_get(const struct nsh_history *h, size_t i);
void nsh_history_free(struct nsh_history *h);

enum nsh_ledit_result {
    NSH_LEDIT_MORE,   // keep feeding
    NSH_LEDIT_LINE,   // the line is in buf (without a newline)
    NSH_LEDIT_CANCEL, // Ctrl-C: the line was abandoned
    NSH_LEDIT_EOF,    // Ctrl-D on an empty line
};

#define NSH_LEDIT_OUT_MAX (2 * NSH_LINE_MAX + 256)

struct nsh_ledit {
    char buf[NSH_LINE_MAX]; // the line, NUL-terminated
    size_t len, cur;        // length and cursor position
    const char *prompt;
    size_t prompt_len;
    struct nsh_history *hist; // may be NULL
    size_t hist_pos;          // hist->count: the line being typed
    char saved[NSH_LINE_MAX]; // the line being typed while browsing
    int esc;                  // escape sequence state
    char esc_arg[8];
    size_t esc_len;
    bool after_cr; // the last byte was CR (a following LF is its partner)
    // Screen output since the last drain: write it, then set out_len to 0.
    char out[NSH_LEDIT_OUT_MAX];
    size_t out_len;
};

// Starts a new line: empties the buffer and writes the prompt. e->after_cr
// is kept from the previous line. Zero *e once before the first start.
void nsh_ledit_start(struct nsh_ledit *e, const char *prompt, struct nsh_history *hist);
// One input byte.
enum nsh_ledit_result nsh_ledit_feed(struct nsh_ledit *e, unsigned char c);
