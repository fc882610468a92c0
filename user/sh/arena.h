// A bump allocator for the shell: everything one command line needs (its
// syntax tree, expanded words) comes from an arena freed in one go when the
// line has run. Pure C (host-tested with the parser).
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct nsh_arena_block;

struct nsh_arena {
    struct nsh_arena_block *head;
};

// Zeroed memory, aligned for any type; NULL when out of memory.
void *nsh_arena_alloc(struct nsh_arena *a, size_t size);
// A NUL-terminated copy of s[0..len).
char *nsh_arena_strndup(struct nsh_arena *a, const char *s, size_t len);
// Frees every block; the arena is empty and usable again.
void nsh_arena_free(struct nsh_arena *a);

// A growable array of strings in an arena (old storage is left to the
// arena). items[count] is NULL after every successful push.
struct nsh_strvec {
    char **items;
    size_t count, cap;
};

// false when out of memory.
bool nsh_strvec_push(struct nsh_arena *a, struct nsh_strvec *v, char *s);
