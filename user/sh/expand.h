// Word expansion: quote removal, parameters ($NAME, ${NAME}, $?, $$, $#,
// $!, $0..$9, $@, $*) and field splitting of unquoted substitutions at
// blanks. No globbing, no command substitution. Pure C (host-tested).
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

struct nsh_expand_ctx {
    // The value of a parameter (a variable name, or one of ? $ # ! @ * 0-9),
    // or NULL when it is unset (which expands to nothing).
    const char *(*lookup)(void *ctx, const char *name, size_t len);
    void *ctx;
};

enum nsh_expand_mode {
    NSH_EXPAND_FIELDS, // command words: unquoted substitutions split at blanks
    NSH_EXPAND_STRING, // assignments, redirection targets: one string
};

// Expands word and pushes the fields onto out (in FIELDS mode a word that is
// only an empty unquoted substitution gives none; "" gives one empty field).
// false when out of memory.
bool nsh_expand(const struct nsh_expand_ctx *x, const char *word, enum nsh_expand_mode mode,
                struct nsh_arena *a, struct nsh_strvec *out);

// The STRING expansion of word, or NULL when out of memory.
char *nsh_expand_string(const struct nsh_expand_ctx *x, const char *word, struct nsh_arena *a);
