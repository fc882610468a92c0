// Parser of the init manifest (manifest.h). The text is copied once and cut
// into NUL-terminated words in place; entries point into the copy.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "nb/bootstrap.h"

struct parser {
    struct manifest *m;
    char *err;
    size_t err_size;
    unsigned line;
};

static status_t fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static status_t fail(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, p->err_size, "line %u: ", p->line);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->err_size)
        vsnprintf(p->err + n, p->err_size - n, fmt, ap);
    va_end(ap);
    return ERR_BAD_FORMAT;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

// Cuts the next word off *s: runs of non-blanks, where "..." groups blanks
// into a word (the quotes are dropped). NULL at the end of the line.
static char *next_word(struct parser *p, char **s, status_t *st)
{
    char *in = *s, *out;
    while (is_space(*in))
        in++;
    if (!*in || *in == '#')
        return NULL;
    char *word = out = in;
    while (*in && !is_space(*in)) {
        if (*in != '"') {
            *out++ = *in++;
            continue;
        }
        char *close = strchr(in + 1, '"');
        if (!close) {
            *st = fail(p, "unterminated quote");
            return NULL;
        }
        memmove(out, in + 1, close - in - 1);
        out += close - in - 1;
        in = close + 1;
    }
    *s = *in ? in + 1 : in;
    *out = '\0';
    return word;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MANIFEST_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

// handles=ROLE[,ROLE...], each ROLE optionally followed by "?".
static status_t parse_roles(struct parser *p, struct manifest_entry *e, const char *list)
{
    while (*list) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        size_t next = len + (comma != NULL);
        bool optional = len && list[len - 1] == '?';
        len -= optional;
        uint32_t role = nb_bootstrap_role_by_name(list, len);
        if (!role)
            return fail(p, "unknown handle role '%.*s'", (int)len, list);
        for (uint32_t i = 0; i < e->nroles; i++)
            if (e->roles[i] == role)
                return fail(p, "handle role '%.*s' listed twice", (int)len, list);
        if (e->nroles == MANIFEST_HANDLES_MAX)
            return fail(p, "more than %d handles", MANIFEST_HANDLES_MAX);
        if (optional)
            e->optional |= 1u << e->nroles;
        e->roles[e->nroles++] = role;
        list += next;
        if (comma && !*list)
            return fail(p, "empty handle role");
    }
    return e->nroles ? OK : fail(p, "handles= lists nothing");
}

static status_t parse_restart(struct parser *p, struct manifest_entry *e, const char *v)
{
    char *end;
    if (!v) {
        e->restarts = MANIFEST_RESTART_DEFAULT;
        return OK;
    }
    unsigned long n = strtoul(v, &end, 10);
    if (!*v || *end || *v == '-' || *v == '+' || n > MANIFEST_RESTART_MAX)
        return fail(p, "restart= wants 0..%d, not '%s'", MANIFEST_RESTART_MAX, v);
    e->restarts = (uint32_t)n;
    return OK;
}

static const char *const service_names[] = {
    [MANIFEST_SERVICE_CONSOLE] = "console",
    [MANIFEST_SERVICE_DEVICES] = "devices",
};
#define SERVICES (sizeof(service_names) / sizeof(service_names[0]))

static uint32_t service_by_name(const char *name)
{
    for (uint32_t i = 1; i < sizeof(service_names) / sizeof(service_names[0]); i++)
        if (!strcmp(service_names[i], name))
            return i;
    return MANIFEST_SERVICE_NONE;
}

const char *manifest_service_name(uint32_t service)
{
    return service && service < SERVICES ? service_names[service] : NULL;
}

uint32_t manifest_service_role(uint32_t service)
{
    if (service == MANIFEST_SERVICE_CONSOLE)
        return BOOTSTRAP_ROLE_CONSOLE;
    return service && service < SERVICES ? BOOTSTRAP_ROLE_SERVICE : 0;
}

uint32_t manifest_service_by_client_role(uint32_t role)
{
    return role == BOOTSTRAP_ROLE_DEVICES ? MANIFEST_SERVICE_DEVICES : MANIFEST_SERVICE_NONE;
}

// provides=SERVICE.
static status_t parse_service(struct parser *p, uint32_t *field, const char *opt, const char *v)
{
    uint32_t s = service_by_name(v);
    if (!s)
        return fail(p, "%s= names no known service: '%s' (known: console, devices)", opt, v);
    if (*field)
        return fail(p, "%s= given twice", opt);
    *field = s;
    return OK;
}

#define DEVICE_PREFIX "device:"

// stdio=console, or stdio=device:CLASS (a terminal from the driver of the
// first device of that class, found through the devices service).
static status_t parse_stdio(struct parser *p, struct manifest_entry *e, const char *v)
{
    if (e->stdio)
        return fail(p, "stdio= given twice");
    if (!strncmp(v, DEVICE_PREFIX, strlen(DEVICE_PREFIX))) {
        const char *cls = v + strlen(DEVICE_PREFIX);
        if (!valid_name(cls))
            return fail(p, "stdio=%s: bad device class '%s' (1..%d of a-z 0-9 - _)", v, cls,
                        MANIFEST_NAME_MAX);
        e->stdio = MANIFEST_SERVICE_DEVICES;
        e->stdio_device = cls;
        return OK;
    }
    uint32_t s = service_by_name(v);
    if (!s)
        return fail(p, "stdio= names no known service: '%s' (known: console, device:CLASS)", v);
    if (s != MANIFEST_SERVICE_CONSOLE)
        return fail(p, "stdio=%s: terminals come from console or device:CLASS", v);
    e->stdio = s;
    return OK;
}

static status_t parse_option(struct parser *p, struct manifest_entry *e, char *opt, unsigned *nenv)
{
    char *eq = strchr(opt, '=');
    char *value = eq ? eq + 1 : NULL;
    if (eq)
        *eq = '\0';
    if (!strcmp(opt, "handles") && value)
        return parse_roles(p, e, value);
    if (!strcmp(opt, "restart"))
        return parse_restart(p, e, value);
    if (!strcmp(opt, "wait") && !value) {
        e->wait = true;
        return OK;
    }
    if (!strcmp(opt, "provides") && value)
        return parse_service(p, &e->provides, opt, value);
    if (!strcmp(opt, "stdio") && value)
        return parse_stdio(p, e, value);
    if (!strcmp(opt, "env") && value) {
        if (!strchr(value, '=') || value[0] == '=')
            return fail(p, "env= wants KEY=VALUE, not '%s'", value);
        if (*nenv == MANIFEST_ENV_MAX)
            return fail(p, "more than %d env= options", MANIFEST_ENV_MAX);
        e->envp[(*nenv)++] = value;
        return OK;
    }
    return fail(p, "unknown option '%s%s'", opt, value ? "=..." : "");
}

// Options, then "--" and the arguments.
static status_t parse_rest(struct parser *p, struct manifest_entry *e, char *s)
{
    unsigned nargs = 1, nenv = 0;
    status_t st = OK;
    char *w;
    bool args = false;

    while ((w = next_word(p, &s, &st)) != NULL) {
        if (!args && !strcmp(w, "--")) {
            args = true;
        } else if (args) {
            if (nargs == MANIFEST_ARGS_MAX + 1)
                return fail(p, "more than %d arguments", MANIFEST_ARGS_MAX);
            e->argv[nargs++] = w;
        } else if ((st = parse_option(p, e, w, &nenv)) != OK) {
            return st;
        }
    }
    return st;
}

static bool has_role(const struct manifest_entry *e, uint32_t role)
{
    for (uint32_t i = 0; i < e->nroles; i++)
        if (e->roles[i] == role)
            return true;
    return false;
}

// What provides= and stdio= imply, once the whole line is read: the roles
// they give must not be listed in handles= too, a service has one provider,
// and stdio= names a service an earlier line provides (init starts in order).
static status_t check_services(struct parser *p, struct manifest_entry *e)
{
    static const uint32_t stdio_roles[] = {BOOTSTRAP_ROLE_STDIN, BOOTSTRAP_ROLE_STDOUT,
                                           BOOTSTRAP_ROLE_STDERR, BOOTSTRAP_ROLE_TTY};
    struct manifest *m = p->m;
    e->provider = -1;
    if (e->provides) {
        const char *name = manifest_service_name(e->provides);
        uint32_t role = manifest_service_role(e->provides);
        if (has_role(e, role))
            return fail(p, "provides=%s gives the '%s' handle: not in handles= too", name,
                        nb_bootstrap_role_name(role));
        for (size_t i = 0; i < m->count; i++)
            if (m->entries[i].provides == e->provides)
                return fail(p, "%s is already provided on line %u", name, m->entries[i].line);
    }
    if (e->stdio) {
        const char *name = manifest_service_name(e->stdio);
        for (size_t i = 0; i < sizeof(stdio_roles) / sizeof(stdio_roles[0]); i++)
            if (has_role(e, stdio_roles[i]))
                return fail(p, "stdio=%s%s gives the '%s' handle: not in handles= too",
                            e->stdio_device ? DEVICE_PREFIX : name,
                            e->stdio_device ? e->stdio_device : "",
                            nb_bootstrap_role_name(stdio_roles[i]));
        for (size_t i = 0; i < m->count && e->provider < 0; i++)
            if (m->entries[i].provides == e->stdio)
                e->provider = (int)i;
        if (e->provider < 0 && e->stdio_device)
            return fail(p, "stdio=device:%s, but no earlier line provides=%s", e->stdio_device,
                        name);
        if (e->provider < 0)
            return fail(p, "stdio=%s, but no earlier line provides=%s", name, name);
    }
    return OK;
}

static status_t parse_line(struct parser *p, char *s)
{
    struct manifest *m = p->m;
    status_t st = OK;
    char *name = next_word(p, &s, &st), *path;

    if (!name)
        return st; // blank or comment
    if (!valid_name(name))
        return fail(p, "bad program name '%s' (1..%d of a-z 0-9 - _)", name, MANIFEST_NAME_MAX);
    for (size_t i = 0; i < m->count; i++)
        if (!strcmp(m->entries[i].name, name))
            return fail(p, "program '%s' already defined on line %u", name, m->entries[i].line);
    if (!(path = next_word(p, &s, &st)))
        return st != OK ? st : fail(p, "program '%s' has no path", name);
    if (m->count == MANIFEST_PROGRAMS_MAX)
        return fail(p, "more than %d programs", MANIFEST_PROGRAMS_MAX);

    struct manifest_entry *e = &m->entries[m->count];
    *e = (struct manifest_entry){.path = path, .line = p->line};
    strcpy(e->name, name);
    e->argv[0] = path;
    if ((st = parse_rest(p, e, s)) != OK)
        return st;
    if ((st = check_services(p, e)) != OK)
        return st;
    m->count++;
    return OK;
}

status_t manifest_parse(const char *text, size_t len, struct manifest *m, char *err,
                        size_t err_size)
{
    struct parser p = {.m = m, .err = err, .err_size = err_size};
    status_t st = OK;

    *m = (struct manifest){0};
    if (err_size)
        err[0] = '\0';
    m->text = malloc(len + 1);
    m->entries = calloc(MANIFEST_PROGRAMS_MAX, sizeof(*m->entries));
    if (!m->text || !m->entries) {
        manifest_free(m);
        return ERR_NO_MEMORY;
    }
    memcpy(m->text, text, len);
    m->text[len] = '\0';
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        p.line = 1;
        for (const char *c = text; c < nul; c++)
            p.line += *c == '\n';
        st = fail(&p, "NUL byte");
    }
    for (char *line = m->text; line && st == OK;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        p.line++;
        if (strlen(line) > MANIFEST_LINE_MAX)
            st = fail(&p, "line longer than %d characters", MANIFEST_LINE_MAX);
        else
            st = parse_line(&p, line);
        line = nl ? nl + 1 : NULL;
    }
    if (st != OK)
        manifest_free(m);
    return st;
}

void manifest_free(struct manifest *m)
{
    free(m->entries);
    free(m->text);
    *m = (struct manifest){0};
}
