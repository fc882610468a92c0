// Word expansion (expand.h).
#include <stdlib.h>
#include <string.h>

#include "expand.h"
#include "parse.h"

struct field {
    char *buf;
    size_t len, cap;
    bool have; // a field exists (quotes make an empty one)
    bool oom;
};

struct expander {
    const struct nsh_expand_ctx *x;
    enum nsh_expand_mode mode;
    struct nsh_arena *a;
    struct nsh_strvec *out;
    struct field f;
};

static void put(struct field *f, char c)
{
    if (f->len + 1 >= f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        char *b = realloc(f->buf, cap);
        if (!b) {
            f->oom = true;
            return;
        }
        f->buf = b;
        f->cap = cap;
    }
    f->buf[f->len++] = c;
    f->have = true;
}

static void finish_field(struct expander *e)
{
    if (!e->f.have)
        return;
    char *s = nsh_arena_strndup(e->a, e->f.buf ? e->f.buf : "", e->f.len);
    if (!s || !nsh_strvec_push(e->a, e->out, s))
        e->f.oom = true;
    e->f.len = 0;
    e->f.have = false;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

static bool is_special(char c)
{
    return c == '?' || c == '$' || c == '#' || c == '!' || c == '@' || c == '*' ||
           (c >= '0' && c <= '9');
}

// At a '$': expands the parameter it starts and returns the position after
// it; a '$' that starts none is itself.
static const char *dollar(struct expander *e, const char *p, bool quoted)
{
    const char *name = p + 1;
    size_t len = 0;
    const char *next;
    if (*name == '{') {
        const char *close = strchr(name, '}');
        if (!close) {
            put(&e->f, '$');
            return p + 1;
        }
        name++;
        len = (size_t)(close - name);
        next = close + 1;
    } else if (is_special(*name)) {
        len = 1;
        next = name + 1;
    } else {
        while (nsh_is_name(name, len + 1))
            len++;
        next = name + len;
    }
    if (!len) {
        put(&e->f, '$');
        return p + 1;
    }
    const char *value = e->x->lookup(e->x->ctx, name, len);
    if (!value)
        return next;
    if (quoted || e->mode == NSH_EXPAND_STRING) {
        e->f.have = true;
        for (; *value; value++)
            put(&e->f, *value);
        return next;
    }
    for (; *value; value++) {
        if (is_blank(*value))
            finish_field(e);
        else
            put(&e->f, *value);
    }
    return next;
}

static bool expand(struct expander *e, const char *p)
{
    while (*p && !e->f.oom) {
        char c = *p;
        if (c == '\'') {
            e->f.have = true;
            for (p++; *p && *p != '\''; p++)
                put(&e->f, *p);
            if (*p)
                p++;
        } else if (c == '"') {
            e->f.have = true;
            for (p++; *p && *p != '"';) {
                if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
                    if (p[1] != '\n')
                        put(&e->f, p[1]);
                    p += 2;
                } else if (*p == '$') {
                    p = dollar(e, p, true);
                } else {
                    put(&e->f, *p++);
                }
            }
            if (*p)
                p++;
        } else if (c == '\\') {
            if (p[1] == '\n') {
                p += 2;
            } else if (p[1]) {
                put(&e->f, p[1]);
                p += 2;
            } else {
                put(&e->f, '\\');
                p++;
            }
        } else if (c == '$') {
            p = dollar(e, p, false);
        } else {
            put(&e->f, c);
            p++;
        }
    }
    finish_field(e);
    free(e->f.buf);
    return !e->f.oom;
}

bool nsh_expand(const struct nsh_expand_ctx *x, const char *word, enum nsh_expand_mode mode,
                struct nsh_arena *a, struct nsh_strvec *out)
{
    struct expander e = {.x = x, .mode = mode, .a = a, .out = out};
    if (mode == NSH_EXPAND_STRING)
        e.f.have = true; // always exactly one string
    return expand(&e, word);
}

char *nsh_expand_string(const struct nsh_expand_ctx *x, const char *word, struct nsh_arena *a)
{
    struct nsh_strvec v = {0};
    if (!nsh_expand(x, word, NSH_EXPAND_STRING, a, &v) || v.count != 1)
        return NULL;
    return v.items[0];
}
