// The shell's lexer and parser (parse.h).
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

enum tok_type { TK_WORD, TK_SEMI, TK_AMP, TK_AND, TK_OR, TK_PIPE, TK_REDIR, TK_NEWLINE, TK_EOF };

struct token {
    enum tok_type type;
    size_t start, end; // source span
    enum nsh_redir_op op;
    int fd;
};

enum { P_OK, P_INCOMPLETE, P_ERROR };

struct parser {
    const char *s;
    size_t len, pos;
    struct nsh_arena *a;
    char *err;
    size_t errsize;
    int state; // P_*
    bool have_peek;
    struct token peek;
    size_t last_end; // end of the last token consumed
};

bool nsh_is_name(const char *s, size_t len)
{
    if (!len || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

size_t nsh_assignment_name_len(const char *word)
{
    const char *eq = strchr(word, '=');
    if (!eq || !nsh_is_name(word, (size_t)(eq - word)))
        return 0;
    return (size_t)(eq - word);
}

__attribute__((format(printf, 2, 3))) static void fail(struct parser *p, const char *fmt, ...)
{
    if (p->state != P_OK)
        return;
    p->state = P_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errsize, fmt, ap);
    va_end(ap);
}

static void incomplete(struct parser *p)
{
    if (p->state == P_OK)
        p->state = P_INCOMPLETE;
}

static bool is_meta(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' ||
           c == '>';
}

static bool is_special_param(char c)
{
    return c == '?' || c == '$' || c == '#' || c == '!' || c == '@' || c == '*' ||
           (c >= '0' && c <= '9');
}

// At a '$' (s[pos]): checks ${...} and refuses $( and `; returns the
// position after what belongs to the substitution's syntax.
static size_t scan_dollar(struct parser *p, size_t pos)
{
    const char *s = p->s;
    if (pos + 1 < p->len && s[pos + 1] == '(') {
        fail(p, "$(...) command substitution is not supported");
        return p->len;
    }
    if (pos + 1 < p->len && s[pos + 1] == '{') {
        size_t close = pos + 2;
        while (close < p->len && s[close] != '}' && s[close] != '\n')
            close++;
        if (close >= p->len || s[close] != '}') {
            fail(p, "bad substitution: '${' without '}'");
            return p->len;
        }
        size_t n = close - (pos + 2);
        const char *name = s + pos + 2;
        if (!(nsh_is_name(name, n) || (n == 1 && is_special_param(name[0])))) {
            fail(p, "bad substitution: '${%.*s}'", (int)n, name);
            return p->len;
        }
        return close + 1;
    }
    return pos + 1;
}

// One character of a word, inside double quotes or out of any quotes, at
// s[pos]: a backslash escape, a $ expansion, or a plain character. Returns
// where the next one starts (p->len after an error).
static size_t scan_char(struct parser *p, size_t pos)
{
    char c = p->s[pos];
    if (c == '\\') {
        if (pos + 1 >= p->len) {
            incomplete(p);
            return p->len;
        }
        return pos + 2;
    }
    if (c == '$')
        return scan_dollar(p, pos);
    if (c == '`') {
        fail(p, "`...` command substitution is not supported");
        return p->len;
    }
    return pos + 1;
}

// A word from s[pos]: up to an unquoted blank or operator.
static size_t scan_word(struct parser *p, size_t pos)
{
    const char *s = p->s;
    while (pos < p->len && p->state == P_OK && !is_meta(s[pos])) {
        char c = s[pos];
        if (c == '\'') {
            const char *end = memchr(s + pos + 1, '\'', p->len - pos - 1);
            if (!end) {
                incomplete(p);
                return p->len;
            }
            pos = (size_t)(end - s) + 1;
        } else if (c == '"') {
            pos++;
            for (;;) {
                if (pos >= p->len) {
                    incomplete(p);
                    return p->len;
                }
                c = s[pos];
                if (c == '"') {
                    pos++;
                    break;
                }
                pos = scan_char(p, pos);
            }
        } else {
            pos = scan_char(p, pos);
        }
    }
    return pos;
}

// The next token at p->pos (blanks, escaped newlines and comments skipped).
static void lex(struct parser *p, struct token *t)
{
    const char *s = p->s;
    size_t pos = p->pos;
    for (;;) {
        if (pos < p->len && (s[pos] == ' ' || s[pos] == '\t'))
            pos++;
        else if (pos + 1 < p->len && s[pos] == '\\' && s[pos + 1] == '\n')
            pos += 2;
        else if (pos < p->len && s[pos] == '#')
            while (pos < p->len && s[pos] != '\n')
                pos++;
        else
            break;
    }
    *t = (struct token){.type = TK_EOF, .start = pos, .end = pos, .fd = -1};
    if (pos >= p->len) {
        p->pos = pos;
        return;
    }
    char c = s[pos], next = pos + 1 < p->len ? s[pos + 1] : 0;
    size_t digits = 0;
    while (pos + digits < p->len && s[pos + digits] >= '0' && s[pos + digits] <= '9')
        digits++;
    if (digits && pos + digits < p->len && (s[pos + digits] == '<' || s[pos + digits] == '>')) {
        if (digits > 1) {
            fail(p, "bad file descriptor '%.*s' in redirection", (int)digits, s + pos);
            return;
        }
        t->fd = c - '0';
        pos += digits;
        c = s[pos];
        next = pos + 1 < p->len ? s[pos + 1] : 0;
    }
    switch (c) {
    case '\n':
        t->type = TK_NEWLINE;
        pos++;
        break;
    case ';':
        t->type = TK_SEMI;
        pos++;
        break;
    case '&':
        t->type = next == '&' ? TK_AND : TK_AMP;
        pos += next == '&' ? 2 : 1;
        break;
    case '|':
        t->type = next == '|' ? TK_OR : TK_PIPE;
        pos += next == '|' ? 2 : 1;
        break;
    case '<':
        t->type = TK_REDIR;
        t->op = next == '&' ? NSH_REDIR_DUP : NSH_REDIR_IN;
        pos += next == '&' ? 2 : 1;
        if (t->fd < 0)
            t->fd = 0;
        break;
    case '>':
        t->type = TK_REDIR;
        t->op = next == '>' ? NSH_REDIR_APPEND : next == '&' ? NSH_REDIR_DUP : NSH_REDIR_OUT;
        pos += next == '>' || next == '&' || next == '|' ? 2 : 1;
        if (t->fd < 0)
            t->fd = 1;
        break;
    default:
        t->type = TK_WORD;
        pos = scan_word(p, pos);
        break;
    }
    t->end = pos;
    p->pos = pos;
}

static const struct token *peek(struct parser *p)
{
    if (!p->have_peek) {
        lex(p, &p->peek);
        p->have_peek = true;
    }
    return &p->peek;
}

static struct token take(struct parser *p)
{
    struct token t = *peek(p);
    p->have_peek = false;
    p->last_end = t.end;
    return t;
}

// What an error message calls a token.
static void near(struct parser *p, const struct token *t)
{
    if (t->type == TK_EOF)
        fail(p, "syntax error: unexpected end of input");
    else if (t->type == TK_NEWLINE)
        fail(p, "syntax error near newline");
    else
        fail(p, "syntax error near '%.*s'", (int)(t->end - t->start), p->s + t->start);
}

static void skip_newlines(struct parser *p)
{
    while (p->state == P_OK && peek(p)->type == TK_NEWLINE)
        take(p);
}

// Grows an arena array of `size`-byte elements holding n to hold n + 1.
// Its capacity is implied by n: 4, then the next power of two.
static void *grow(struct parser *p, void *items, size_t n, size_t size)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return items; // room left
    size_t cap = n ? n * 2 : 4;
    void *bigger = nsh_arena_alloc(p->a, cap * size);
    if (!bigger) {
        fail(p, "out of memory");
        return NULL;
    }
    if (n)
        memcpy(bigger, items, n * size);
    return bigger;
}

static bool parse_command(struct parser *p, struct nsh_command *cmd)
{
    struct nsh_strvec words = {0};
    *cmd = (struct nsh_command){0};
    for (;;) {
        const struct token *t = peek(p);
        if (p->state != P_OK)
            return false;
        if (t->type == TK_WORD) {
            struct token w = take(p);
            char *text = nsh_arena_strndup(p->a, p->s + w.start, w.end - w.start);
            if (!text || !nsh_strvec_push(p->a, &words, text)) {
                fail(p, "out of memory");
                return false;
            }
        } else if (t->type == TK_REDIR) {
            struct token r = take(p);
            const struct token *target = peek(p);
            if (p->state != P_OK)
                return false;
            if (target->type != TK_WORD) {
                near(p, target);
                return false;
            }
            struct token w = take(p);
            struct nsh_redir *rs = grow(p, cmd->redirs, cmd->nredirs, sizeof(*rs));
            if (!rs)
                return false;
            cmd->redirs = rs;
            rs[cmd->nredirs++] = (struct nsh_redir){
                .op = r.op,
                .fd = r.fd,
                .word = nsh_arena_strndup(p->a, p->s + w.start, w.end - w.start),
            };
        } else {
            break;
        }
    }
    if (!words.count && !cmd->nredirs) {
        near(p, peek(p));
        return false;
    }
    if (!words.count && !nsh_strvec_push(p->a, &words, NULL)) {
        fail(p, "out of memory");
        return false;
    }
    cmd->words = words.items;
    cmd->nwords = words.count;
    if (!words.items[0])
        cmd->nwords = 0;
    return true;
}

static bool parse_pipeline(struct parser *p, struct nsh_pipeline *pl)
{
    *pl = (struct nsh_pipeline){0};
    const struct token *t = peek(p);
    if (t->type == TK_WORD && t->end - t->start == 1 && p->s[t->start] == '!') {
        take(p);
        pl->negate = true;
    }
    for (;;) {
        struct nsh_command *cmds = grow(p, pl->cmds, pl->ncmds, sizeof(*cmds));
        if (!cmds)
            return false;
        pl->cmds = cmds;
        if (!parse_command(p, &pl->cmds[pl->ncmds]))
            return false;
        pl->ncmds++;
        if (peek(p)->type != TK_PIPE)
            return p->state == P_OK;
        take(p);
        skip_newlines(p);
        if (peek(p)->type == TK_EOF) {
            incomplete(p);
            return false;
        }
    }
}

static bool parse_andor(struct parser *p, struct nsh_andor *ao)
{
    *ao = (struct nsh_andor){0};
    size_t start = peek(p)->start;
    enum nsh_connector conn = NSH_THEN;
    for (;;) {
        struct nsh_pipeline *pipes = grow(p, ao->pipes, ao->npipes, sizeof(*pipes));
        if (!pipes)
            return false;
        ao->pipes = pipes;
        enum nsh_connector *conns = grow(p, ao->conns, ao->npipes, sizeof(*conns));
        if (!conns)
            return false;
        ao->conns = conns;
        ao->conns[ao->npipes] = conn;
        if (!parse_pipeline(p, &ao->pipes[ao->npipes]))
            return false;
        ao->npipes++;
        const struct token *t = peek(p);
        if (t->type != TK_AND && t->type != TK_OR)
            break;
        conn = t->type == TK_AND ? NSH_AND : NSH_OR;
        take(p);
        skip_newlines(p);
        if (peek(p)->type == TK_EOF) {
            incomplete(p);
            return false;
        }
    }
    ao->text = nsh_arena_strndup(p->a, p->s + start, p->last_end - start);
    return p->state == P_OK && ao->text;
}

enum nsh_parse_result nsh_parse(const char *src, size_t len, struct nsh_arena *a,
                                struct nsh_program *out, char *err, size_t errsize)
{
    struct parser p = {.s = src, .len = len, .a = a, .err = err, .errsize = errsize};
    *out = (struct nsh_program){0};
    if (errsize)
        err[0] = 0;
    for (;;) {
        skip_newlines(&p);
        const struct token *t = peek(&p);
        if (p.state != P_OK || t->type == TK_EOF)
            break;
        struct nsh_andor *items = grow(&p, out->items, out->nitems, sizeof(*items));
        if (!items)
            break;
        out->items = items;
        if (!parse_andor(&p, &out->items[out->nitems]))
            break;
        struct nsh_andor *ao = &out->items[out->nitems++];
        t = peek(&p);
        if (t->type == TK_SEMI || t->type == TK_NEWLINE) {
            take(&p);
        } else if (t->type == TK_AMP) {
            take(&p);
            ao->background = true;
        } else if (t->type != TK_EOF) {
            near(&p, t);
        }
    }
    if (p.state == P_OK)
        return NSH_PARSE_OK;
    return p.state == P_INCOMPLETE ? NSH_PARSE_INCOMPLETE : NSH_PARSE_ERROR;
}
