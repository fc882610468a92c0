// The line editor and history (ledit.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledit.h"

#define CTRL(c) ((c)&0x1f)
#define ESC     0x1b
#define DEL     0x7f

enum { ESC_NONE, ESC_SEEN, ESC_CSI, ESC_SS3 };

void nsh_history_add(struct nsh_history *h, const char *line)
{
    if (!line[strspn(line, " \t")])
        return;
    if (h->count && !strcmp(nsh_history_get(h, h->count - 1), line))
        return;
    char *copy = strdup(line);
    if (!copy)
        return;
    if (h->count == NSH_HISTORY_MAX) {
        free(h->lines[h->first]);
        h->lines[h->first] = copy;
        h->first = (h->first + 1) % NSH_HISTORY_MAX;
    } else {
        h->lines[(h->first + h->count) % NSH_HISTORY_MAX] = copy;
        h->count++;
    }
    h->total++;
}

const char *nsh_history_get(const struct nsh_history *h, size_t i)
{
    return i < h->count ? h->lines[(h->first + i) % NSH_HISTORY_MAX] : NULL;
}

void nsh_history_free(struct nsh_history *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->lines[(h->first + i) % NSH_HISTORY_MAX]);
    *h = (struct nsh_history){0};
}

static void emit(struct nsh_ledit *e, const char *s, size_t n)
{
    if (n > sizeof(e->out) - e->out_len)
        n = sizeof(e->out) - e->out_len; // the caller did not drain: cut
    memcpy(e->out + e->out_len, s, n);
    e->out_len += n;
}

static void emits(struct nsh_ledit *e, const char *s)
{
    emit(e, s, strlen(s));
}

// Cursor n columns left (n > 0) or right (n < 0).
static void move(struct nsh_ledit *e, long n)
{
    char seq[24];
    if (n)
        emit(e, seq,
             (size_t)snprintf(seq, sizeof(seq), "\x1b[%ld%c", n > 0 ? n : -n, n > 0 ? 'D' : 'C'));
}

// Redraws prompt and line, and puts the cursor back.
static void redraw(struct nsh_ledit *e)
{
    emits(e, "\r");
    emit(e, e->prompt, e->prompt_len);
    emit(e, e->buf, e->len);
    emits(e, "\x1b[K");
    move(e, (long)(e->len - e->cur));
}

void nsh_ledit_start(struct nsh_ledit *e, const char *prompt, struct nsh_history *hist)
{
    e->len = e->cur = 0;
    e->buf[0] = 0;
    e->prompt = prompt;
    e->prompt_len = strlen(prompt);
    e->hist = hist;
    e->hist_pos = hist ? hist->count : 0;
    e->esc = ESC_NONE;
    emit(e, prompt, e->prompt_len);
}

static void set_line(struct nsh_ledit *e, const char *s)
{
    size_t n = strlen(s);
    if (n > NSH_LINE_MAX - 1)
        n = NSH_LINE_MAX - 1;
    memcpy(e->buf, s, n);
    e->buf[n] = 0;
    e->len = e->cur = n;
    redraw(e);
}

static void insert(struct nsh_ledit *e, char c)
{
    if (e->len == NSH_LINE_MAX - 1) {
        emits(e, "\a");
        return;
    }
    memmove(e->buf + e->cur + 1, e->buf + e->cur, e->len - e->cur + 1);
    e->buf[e->cur++] = c;
    e->len++;
    if (e->cur == e->len)
        emit(e, &c, 1);
    else
        redraw(e);
}

// Erases n bytes starting at from.
static void erase(struct nsh_ledit *e, size_t from, size_t n)
{
    if (!n)
        return;
    bool at_end = from + n == e->len && e->cur == e->len && n == 1;
    memmove(e->buf + from, e->buf + from + n, e->len - from - n + 1);
    e->len -= n;
    e->cur = from;
    if (at_end)
        emits(e, "\b \b");
    else
        redraw(e);
}

static void cursor_to(struct nsh_ledit *e, size_t pos)
{
    move(e, (long)e->cur - (long)pos);
    e->cur = pos;
}

static void history_step(struct nsh_ledit *e, int dir)
{
    if (!e->hist)
        return;
    if (dir < 0 && e->hist_pos > 0) {
        if (e->hist_pos == e->hist->count)
            memcpy(e->saved, e->buf, e->len + 1);
        set_line(e, nsh_history_get(e->hist, --e->hist_pos));
    } else if (dir > 0 && e->hist_pos < e->hist->count) {
        e->hist_pos++;
        set_line(e,
                 e->hist_pos == e->hist->count ? e->saved : nsh_history_get(e->hist, e->hist_pos));
    }
}

// The final byte of ESC [ ARG c or ESC O c.
static void escape(struct nsh_ledit *e, unsigned char c, const char *arg)
{
    switch (c) {
    case 'A':
        history_step(e, -1);
        break;
    case 'B':
        history_step(e, 1);
        break;
    case 'C':
        if (e->cur < e->len)
            cursor_to(e, e->cur + 1);
        break;
    case 'D':
        if (e->cur > 0)
            cursor_to(e, e->cur - 1);
        break;
    case 'H':
        cursor_to(e, 0);
        break;
    case 'F':
        cursor_to(e, e->len);
        break;
    case '~':
        if (!strcmp(arg, "1") || !strcmp(arg, "7"))
            cursor_to(e, 0);
        else if (!strcmp(arg, "4") || !strcmp(arg, "8"))
            cursor_to(e, e->len);
        else if (!strcmp(arg, "3") && e->cur < e->len)
            erase(e, e->cur, 1);
        break;
    default:
        break; // unknown keys do nothing
    }
}

static enum nsh_ledit_result finish(struct nsh_ledit *e, enum nsh_ledit_result r)
{
    cursor_to(e, e->len);
    if (r == NSH_LEDIT_CANCEL)
        emits(e, "^C");
    emits(e, "\r\n");
    return r;
}

enum nsh_ledit_result nsh_ledit_feed(struct nsh_ledit *e, unsigned char c)
{
    bool after_cr = e->after_cr;
    e->after_cr = c == '\r';
    if (e->esc == ESC_SEEN) {
        e->esc = c == '[' ? ESC_CSI : c == 'O' ? ESC_SS3 : ESC_NONE;
        e->esc_len = 0;
        return NSH_LEDIT_MORE;
    }
    if (e->esc == ESC_CSI && ((c >= '0' && c <= '9') || c == ';')) {
        if (e->esc_len < sizeof(e->esc_arg) - 1)
            e->esc_arg[e->esc_len++] = (char)c;
        return NSH_LEDIT_MORE;
    }
    if (e->esc == ESC_CSI || e->esc == ESC_SS3) {
        e->esc_arg[e->esc_len] = 0;
        e->esc = ESC_NONE;
        if (c >= 0x40 && c <= 0x7e)
            escape(e, c, e->esc_arg);
        return NSH_LEDIT_MORE;
    }
    switch (c) {
    case '\r':
        return finish(e, NSH_LEDIT_LINE);
    case '\n':
        if (after_cr)
            return NSH_LEDIT_MORE;
        return finish(e, NSH_LEDIT_LINE);
    case ESC:
        e->esc = ESC_SEEN;
        break;
    case DEL:
    case CTRL('H'):
        if (e->cur > 0)
            erase(e, e->cur - 1, 1);
        break;
    case CTRL('A'):
        cursor_to(e, 0);
        break;
    case CTRL('E'):
        cursor_to(e, e->len);
        break;
    case CTRL('B'):
        escape(e, 'D', "");
        break;
    case CTRL('F'):
        escape(e, 'C', "");
        break;
    case CTRL('P'):
        history_step(e, -1);
        break;
    case CTRL('N'):
        history_step(e, 1);
        break;
    case CTRL('U'):
        e->len = e->cur = 0;
        e->buf[0] = 0;
        redraw(e);
        break;
    case CTRL('K'):
        e->len = e->cur;
        e->buf[e->len] = 0;
        redraw(e);
        break;
    case CTRL('W'): {
        size_t from = e->cur;
        while (from > 0 && e->buf[from - 1] == ' ')
            from--;
        while (from > 0 && e->buf[from - 1] != ' ')
            from--;
        erase(e, from, e->cur - from);
        break;
    }
    case CTRL('L'):
        emits(e, "\x1b[H\x1b[2J");
        redraw(e);
        break;
    case CTRL('C'):
        return finish(e, NSH_LEDIT_CANCEL);
    case CTRL('D'):
        if (!e->len)
            return finish(e, NSH_LEDIT_EOF);
        if (e->cur < e->len)
            erase(e, e->cur, 1);
        break;
    default:
        if (c >= 0x20 && c < DEL)
            insert(e, (char)c);
        break; // other control bytes and non-ASCII are ignored
    }
    return NSH_LEDIT_MORE;
}
