// The commands policy parser (policy.h).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "policy.h"

#define LINE_MAX_LEN 1024

__attribute__((format(printf, 4, 5))) static status_t bad(char *err, size_t errsize, unsigned line,
                                                          const char *fmt, ...)
{
    int n = snprintf(err, errsize, "line %u: ", line);
    if (n >= 0 && (size_t)n < errsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errsize - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return ERR_BAD_FORMAT;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

// One line without its newline: fills *e, or leaves e->name empty for a
// blank or comment line.
static status_t parse_line(const char *s, size_t len, unsigned line, struct nsh_policy_entry *e,
                           char *err, size_t errsize)
{
    *e = (struct nsh_policy_entry){.line = line};
    size_t i = 0;
    while (i < len && blank(s[i]))
        i++;
    if (i == len || s[i] == '#')
        return OK;
    size_t start = i;
    while (i < len && !blank(s[i]) && s[i] != '#')
        i++;
    size_t n = i - start;
    for (size_t k = start; k < i; k++)
        if (!name_char(s[k]))
            return bad(err, errsize, line, "bad command name '%.*s'", (int)n, s + start);
    if (n >= NSH_POLICY_NAME_MAX)
        return bad(err, errsize, line, "command name longer than %d characters",
                   NSH_POLICY_NAME_MAX - 1);
    memcpy(e->name, s + start, n);
    while (i < len && blank(s[i]))
        i++;
    if (i == len || s[i] == '#')
        return bad(err, errsize, line, "'%s' without roles (write '-' for none)", e->name);
    start = i;
    while (i < len && !blank(s[i]) && s[i] != '#')
        i++;
    size_t end = i;
    while (i < len && blank(s[i]))
        i++;
    if (i < len && s[i] != '#')
        return bad(err, errsize, line, "unexpected '%.*s' after the roles", (int)(len - i), s + i);
    if (end - start == 1 && s[start] == '-')
        return OK;
    for (size_t r = start; r <= end;) {
        size_t comma = r;
        while (comma < end && s[comma] != ',')
            comma++;
        size_t rlen = comma - r;
        bool optional = rlen && s[r + rlen - 1] == '?';
        if (optional)
            rlen--;
        if (!rlen)
            return bad(err, errsize, line, "empty role in '%.*s'", (int)(end - start), s + start);
        uint32_t role = nb_bootstrap_role_by_name(s + r, rlen);
        if (!role)
            return bad(err, errsize, line, "unknown role '%.*s'", (int)rlen, s + r);
        if (role == BOOTSTRAP_ROLE_STDIN || role == BOOTSTRAP_ROLE_STDOUT ||
            role == BOOTSTRAP_ROLE_STDERR || role == BOOTSTRAP_ROLE_TTY)
            return bad(err, errsize, line, "role '%.*s' is the shell's to give, not the policy's",
                       (int)rlen, s + r);
        for (uint32_t k = 0; k < e->nroles; k++)
            if (e->roles[k] == role)
                return bad(err, errsize, line, "role '%.*s' twice", (int)rlen, s + r);
        if (e->nroles == NSH_POLICY_ROLES_MAX)
            return bad(err, errsize, line, "more than %d roles", NSH_POLICY_ROLES_MAX);
        if (optional)
            e->optional |= 1u << e->nroles;
        e->roles[e->nroles++] = role;
        r = comma + 1;
    }
    return OK;
}

status_t nsh_policy_parse(const char *text, size_t len, struct nsh_policy *p, char *err,
                          size_t errsize)
{
    *p = (struct nsh_policy){0};
    if (errsize)
        err[0] = 0;
    size_t cap = 0;
    unsigned line = 0;
    status_t s = OK;
    for (size_t pos = 0; pos < len && s == OK;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        if (end - pos > LINE_MAX_LEN) {
            s = bad(err, errsize, line, "longer than %d characters", LINE_MAX_LEN);
            break;
        }
        struct nsh_policy_entry e;
        s = parse_line(text + pos, end - pos, line, &e, err, errsize);
        pos = end + 1;
        if (s != OK || !e.name[0])
            continue;
        if (nsh_policy_find(p, e.name)) {
            s = bad(err, errsize, line, "'%s' twice (first on line %u)", e.name,
                    nsh_policy_find(p, e.name)->line);
            break;
        }
        if (p->count == cap) {
            cap = cap ? cap * 2 : 16;
            struct nsh_policy_entry *bigger = realloc(p->entries, cap * sizeof(*bigger));
            if (!bigger) {
                snprintf(err, errsize, "out of memory");
                s = ERR_NO_MEMORY;
                break;
            }
            p->entries = bigger;
        }
        p->entries[p->count++] = e;
    }
    if (s != OK)
        nsh_policy_free(p);
    return s;
}

const struct nsh_policy_entry *nsh_policy_find(const struct nsh_policy *p, const char *name)
{
    for (size_t i = 0; i < p->count; i++)
        if (!strcmp(p->entries[i].name, name))
            return &p->entries[i];
    return NULL;
}

void nsh_policy_free(struct nsh_policy *p)
{
    free(p->entries);
    *p = (struct nsh_policy){0};
}
