// Shell variables: NAME=value pairs, some exported to the environment of
// the programs the shell starts. Pure C (host-tested).
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct nsh_var {
    char *name, *value;
    bool exported;
};

struct nsh_vars {
    struct nsh_var *v; // sorted by name
    size_t count, cap;
};

// The value of name, or NULL.
const char *nsh_vars_get(const struct nsh_vars *vs, const char *name);
// Sets name (which must be a valid name) to value; keeps its export flag,
// or sets it when export_it. false when out of memory.
bool nsh_vars_set(struct nsh_vars *vs, const char *name, const char *value, bool export_it);
// Marks name exported. An unset name is remembered as exported without a
// value (it reaches the environment once set), as in POSIX shells.
bool nsh_vars_export(struct nsh_vars *vs, const char *name);
void nsh_vars_unset(struct nsh_vars *vs, const char *name);
// Imports an environment ("NAME=value" strings, NULL-terminated): exported.
void nsh_vars_import(struct nsh_vars *vs, char *const *envp);
// The environment for a program: the exported variables with a value, then
// `extra` ("NAME=value" strings overriding the same names; may be NULL).
// One malloc'd block (free it); NULL when out of memory.
char **nsh_vars_environ(const struct nsh_vars *vs, char *const *extra, size_t nextra);
void nsh_vars_free(struct nsh_vars *vs);
