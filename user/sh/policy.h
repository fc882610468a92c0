// The commands policy, /etc/commands in the initrd: which bootstrap roles
// each command gets from the shell besides its standard input and output.
//
//   # NAME   ROLES
//   ps       info
//   utest    log?,initrd,self,vmex?
//
// One command per line: its name (as run: the last part of its path), then
// a comma-separated list of role names (nb_bootstrap_role_by_name); `ROLE?`
// is optional (skipped when the shell lacks it), `-` means none. `#` starts
// a comment. Pure C (host-tested).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

#define NSH_POLICY_NAME_MAX  32 // with the NUL
#define NSH_POLICY_ROLES_MAX 16

struct nsh_policy_entry {
    char name[NSH_POLICY_NAME_MAX];
    uint32_t roles[NSH_POLICY_ROLES_MAX];
    uint32_t nroles;
    uint32_t optional; // bit i: roles[i] may be missing
    unsigned line;
};

struct nsh_policy {
    struct nsh_policy_entry *entries;
    size_t count;
};

// Parses text[0..len). On error (ERR_BAD_FORMAT, ERR_NO_MEMORY) *p is empty
// and err gets "line N: why". Roles the shell hands out itself (stdin,
// stdout, stderr, tty) are refused.
status_t nsh_policy_parse(const char *text, size_t len, struct nsh_policy *p, char *err,
                          size_t errsize);
// The entry for a command name, or NULL.
const struct nsh_policy_entry *nsh_policy_find(const struct nsh_policy *p, const char *name);
void nsh_policy_free(struct nsh_policy *p);
