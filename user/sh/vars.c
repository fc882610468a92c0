// Shell variables (vars.h).
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "vars.h"

// The index of name, or where it would go (*found false).
static size_t find(const struct nsh_vars *vs, const char *name, bool *found)
{
    size_t lo = 0, hi = vs->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(vs->v[mid].name, name);
        if (!c) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const char *nsh_vars_get(const struct nsh_vars *vs, const char *name)
{
    bool found;
    size_t i = find(vs, name, &found);
    return found ? vs->v[i].value : NULL;
}

// The entry for name, created (without a value) if missing.
static struct nsh_var *entry(struct nsh_vars *vs, const char *name)
{
    bool found;
    size_t i = find(vs, name, &found);
    if (found)
        return &vs->v[i];
    if (vs->count == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 16;
        struct nsh_var *v = realloc(vs->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        vs->v = v;
        vs->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    memmove(&vs->v[i + 1], &vs->v[i], (vs->count - i) * sizeof(*vs->v));
    vs->v[i] = (struct nsh_var){.name = copy};
    vs->count++;
    return &vs->v[i];
}

bool nsh_vars_set(struct nsh_vars *vs, const char *name, const char *value, bool export_it)
{
    char *copy = strdup(value);
    if (!copy)
        return false;
    struct nsh_var *e = entry(vs, name);
    if (!e) {
        free(copy);
        return false;
    }
    free(e->value);
    e->value = copy;
    e->exported |= export_it;
    return true;
}

bool nsh_vars_export(struct nsh_vars *vs, const char *name)
{
    struct nsh_var *e = entry(vs, name);
    if (e)
        e->exported = true;
    return e != NULL;
}

void nsh_vars_unset(struct nsh_vars *vs, const char *name)
{
    bool found;
    size_t i = find(vs, name, &found);
    if (!found)
        return;
    free(vs->v[i].name);
    free(vs->v[i].value);
    memmove(&vs->v[i], &vs->v[i + 1], (vs->count - i - 1) * sizeof(*vs->v));
    vs->count--;
}

void nsh_vars_import(struct nsh_vars *vs, char *const *envp)
{
    for (; envp && *envp; envp++) {
        size_t n = nsh_assignment_name_len(*envp);
        if (!n)
            continue;
        char name[128];
        if (n >= sizeof(name))
            continue;
        memcpy(name, *envp, n);
        name[n] = 0;
        nsh_vars_set(vs, name, *envp + n + 1, true);
    }
}

// Whether extra[0..n) ("NAME=value" strings) sets name.
static bool overridden(const char *name, char *const *extra, size_t n)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (!strncmp(extra[i], name, len) && extra[i][len] == '=')
            return true;
    return false;
}

char **nsh_vars_environ(const struct nsh_vars *vs, char *const *extra, size_t nextra)
{
    size_t count = nextra, bytes = 0;
    for (size_t i = 0; i < vs->count; i++)
        if (vs->v[i].exported && vs->v[i].value) {
            count++;
            bytes += strlen(vs->v[i].name) + strlen(vs->v[i].value) + 2;
        }
    for (size_t i = 0; i < nextra; i++)
        bytes += strlen(extra[i]) + 1;
    char **env = malloc((count + 1) * sizeof(*env) + bytes);
    if (!env)
        return NULL;
    char *s = (char *)(env + count + 1);
    size_t n = 0;
    for (size_t i = 0; i < vs->count; i++) {
        const struct nsh_var *v = &vs->v[i];
        if (!v->exported || !v->value || overridden(v->name, extra, nextra))
            continue;
        env[n++] = s;
        size_t nl = strlen(v->name), vl = strlen(v->value);
        memcpy(s, v->name, nl);
        s[nl] = '=';
        memcpy(s + nl + 1, v->value, vl + 1);
        s += nl + vl + 2;
    }
    for (size_t i = 0; i < nextra; i++) {
        // A later assignment to the same name wins.
        size_t nl = nsh_assignment_name_len(extra[i]);
        bool later = false;
        for (size_t j = i + 1; j < nextra && nl; j++)
            later |= !strncmp(extra[j], extra[i], nl + 1);
        if (later)
            continue;
        env[n++] = s;
        size_t len = strlen(extra[i]) + 1;
        memcpy(s, extra[i], len);
        s += len;
    }
    env[n] = NULL;
    return env;
}

void nsh_vars_free(struct nsh_vars *vs)
{
    for (size_t i = 0; i < vs->count; i++) {
        free(vs->v[i].name);
        free(vs->v[i].value);
    }
    free(vs->v);
    *vs = (struct nsh_vars){0};
}
