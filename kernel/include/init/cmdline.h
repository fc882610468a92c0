// The kernel command line: a Linux-like tokenizer, lookups, and parameters
// registered by the code that owns them.
//
// Syntax: words separated by blanks (space, tab, CR, LF). A word is `key=value`
// or a bare `flag`; the key ends at the first '=' outside double quotes. A
// double quote toggles quoting, and blanks inside quotes do not end a word. If
// a value starts with '"' that quote, and a '"' ending the word, are removed
// (`k="a b"` has value `a b`; an unterminated `k="a b` has value `a b` up to the
// end of the line); any other quotes are kept as they are. Keys may contain
// dots (`virtio_mmio.device=512@0xfeb00000:10`) and may repeat.
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/compiler.h"
#include "nimbus/status.h"

// One word of the command line. key and val point into the command line and
// are NOT NUL-terminated: use the lengths. key_len may be 0 (`=value`). A
// bare flag has has_val false and val "" (length 0); `key=` has has_val true
// and val_len 0.
struct cmdline_token {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
    bool has_val;
};

// Iterates the words of a command line: *cursor starts at the string and is
// advanced past each word returned. Returns false (and fills nothing) at the
// end. Never reads past the terminating NUL. A NULL *cursor is an empty line.
bool cmdline_next(const char **cursor, struct cmdline_token *tok);

// Finds the last occurrence of `key` and copies its value, NUL-terminated and
// truncated to n-1 bytes, into buf (a bare flag has the value ""). Returns OK,
// ERR_NOT_FOUND, ERR_BUFFER_TOO_SMALL (the truncated value is still copied when
// n > 0), or ERR_INVALID_ARGS for a NULL/empty key or a NULL buf with n > 0.
// A NULL cmdline is empty.
status_t cmdline_get(const char *cmdline, const char *key, char *buf, size_t n);

// Whether `key` appears, as a bare flag or as key=value.
bool cmdline_has(const char *cmdline, const char *key);

// A parameter handled by the code that owns it. set() gets the value (not
// NUL-terminated, see struct cmdline_token) and whether there was an '='; it
// is called once per occurrence, in command-line order, and returns OK or the
// reason the value was refused.
struct cmdline_param {
    const char *name;
    status_t (*set)(const char *val, size_t len, bool has_val);
    const char *help; // one line for a parameter listing
};

// Registers a parameter: a pointer to it goes into the "cmdline_params" linker
// section, bounded by __start_cmdline_params/__stop_cmdline_params.
#define CMDLINE_PARAM(ident, pname, fn, phelp)                                          \
    static const struct cmdline_param ident##_cmdline_param = {(pname), (fn), (phelp)}; \
    static const struct cmdline_param *const ident##_cmdline_ptr __used __section(      \
        "cmdline_params") __aligned(8) = &ident##_cmdline_param

// Returns the first registered parameter named key[0..len), or NULL.
const struct cmdline_param *cmdline_param_find(const char *key, size_t len);

// Calls the handlers of every registered parameter that appears, in
// command-line order (every parameter of that name, if several are
// registered). Warns (pr_warn) once per distinct unknown key, for each word
// with an empty key, and for each value a handler refuses (naming key, value
// and status). Returns the number of warnings printed.
int cmdline_apply(const char *cmdline);
