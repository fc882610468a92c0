// The pure parts of the text commands (nb/textops.h): grep's matcher, wc's
// counts, tail's ring, sort's comparison. Pure C: the host tests build it.
#include <stdlib.h>
#include <string.h>

#include "nb/textops.h"

// ---- grep

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static void pats_free(struct nb_match_pat *pats, size_t n, int flags)
{
    for (size_t i = 0; i < n; i++) {
        if (flags & NB_MATCH_FIXED)
            free(pats[i].fixed);
        else
            regfree(&pats[i].re);
    }
    free(pats);
}

bool nb_match_init(struct nb_match *m, const char *pattern, int flags, char *err, size_t errsize)
{
    size_t count = 1;
    for (const char *p = pattern; *p; p++)
        count += *p == '\n';
    struct nb_match_pat *pats = calloc(count, sizeof(*pats));
    if (!pats)
        goto no_memory;
    const char *p = pattern;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *text = malloc(len + 1);
        if (!text) {
            pats_free(pats, i, flags);
            goto no_memory;
        }
        memcpy(text, p, len);
        text[len] = 0;
        if (flags & NB_MATCH_FIXED) {
            if (flags & NB_MATCH_ICASE)
                for (size_t j = 0; j < len; j++)
                    text[j] = (char)lower((unsigned char)text[j]);
            pats[i].fixed = text;
            pats[i].len = len;
        } else {
            int cflags = REG_NOSUB | (flags & NB_MATCH_ERE ? REG_EXTENDED : 0) |
                         (flags & NB_MATCH_ICASE ? REG_ICASE : 0);
            int r = regcomp(&pats[i].re, text, cflags);
            free(text);
            if (r) {
                if (errsize)
                    regerror(r, &pats[i].re, err, errsize);
                pats_free(pats, i, flags);
                return false;
            }
        }
        p = end ? end + 1 : p + len;
    }
    *m = (struct nb_match){.flags = flags, .count = count, .pats = pats};
    return true;

no_memory:
    if (errsize) {
        strncpy(err, "out of memory", errsize - 1);
        err[errsize - 1] = 0;
    }
    return false;
}

static bool fixed_in(const struct nb_match_pat *pat, const char *line, size_t len, bool icase)
{
    if (pat->len == 0)
        return true;
    if (pat->len > len)
        return false;
    const unsigned char *s = (const unsigned char *)line;
    const unsigned char *f = (const unsigned char *)pat->fixed;
    for (size_t i = 0; i + pat->len <= len; i++) {
        if (!icase) {
            const unsigned char *hit = memchr(s + i, f[0], len - pat->len + 1 - i);
            if (!hit)
                return false;
            i = (size_t)(hit - s);
            if (!memcmp(s + i, f, pat->len))
                return true;
            continue;
        }
        size_t j = 0;
        while (j < pat->len && lower(s[i + j]) == f[j])
            j++;
        if (j == pat->len)
            return true;
    }
    return false;
}

bool nb_match_line(const struct nb_match *m, const char *line, size_t len)
{
    for (size_t i = 0; i < m->count; i++) {
        if (m->flags & NB_MATCH_FIXED) {
            if (fixed_in(&m->pats[i], line, len, m->flags & NB_MATCH_ICASE))
                return true;
        } else if (regexec(&m->pats[i].re, line, 0, NULL, 0) == 0) {
            return true;
        }
    }
    return false;
}

void nb_match_free(struct nb_match *m)
{
    pats_free(m->pats, m->count, m->flags);
    m->pats = NULL;
    m->count = 0;
}

// ---- wc

void nb_wc_add(struct nb_wc *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    bool in_word = c->in_word;
    uint64_t lines = 0, words = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = p[i];
        bool space = b == ' ' || (b >= '\t' && b <= '\r');
        lines += b == '\n';
        if (space)
            in_word = false;
        else if (!in_word) {
            in_word = true;
            words++;
        }
    }
    c->lines += lines;
    c->words += words;
    c->bytes += len;
    c->in_word = in_word;
}

// ---- tail

// A slot keeps a buffer this big for a short line after a long one.
#define RING_KEEP 4096

void nb_ring_init(struct nb_ring *r, size_t max)
{
    *r = (struct nb_ring){.max = max};
}

bool nb_ring_push(struct nb_ring *r, const char *line, size_t len, bool newline)
{
    if (r->max == 0)
        return true;
    if (r->count < r->max && r->count == r->slots) {
        size_t n = r->slots ? r->slots * 2 : 16;
        if (n > r->max || n < r->slots)
            n = r->max;
        if (n > SIZE_MAX / sizeof(*r->ring))
            return false;
        struct nb_ring_line *ring = realloc(r->ring, n * sizeof(*ring));
        if (!ring)
            return false;
        memset(ring + r->slots, 0, (n - r->slots) * sizeof(*ring));
        r->ring = ring;
        r->slots = n;
    }
    struct nb_ring_line *s = &r->ring[r->count < r->max ? r->count : r->next];
    if (len == SIZE_MAX)
        return false;
    if (s->cap < len + 1 || (s->cap > RING_KEEP && s->cap / 4 > len + 1)) {
        char *data = malloc(len + 1);
        if (!data)
            return false;
        free(s->data);
        s->data = data;
        s->cap = len + 1;
    }
    memcpy(s->data, line, len);
    s->data[len] = 0;
    s->len = len;
    s->newline = newline;
    if (r->count < r->max)
        r->count++;
    else
        r->next = (r->next + 1) % r->max;
    return true;
}

const struct nb_ring_line *nb_ring_get(const struct nb_ring *r, size_t i)
{
    return &r->ring[(r->next + i) % r->max];
}

void nb_ring_free(struct nb_ring *r)
{
    for (size_t i = 0; i < r->slots; i++)
        free(r->ring[i].data);
    free(r->ring);
    nb_ring_init(r, r->max);
}

// ---- sort

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r)
        return sign(r);
    return (alen > blen) - (alen < blen);
}

struct number {
    bool neg;
    const char *whole; // digits without leading zeros
    size_t whole_len;
    const char *frac; // digits without trailing zeros
    size_t frac_len;
};

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

static struct number parse_number(const char *s, size_t len)
{
    struct number n = {0};
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < len && s[i] == '-') {
        n.neg = true;
        i++;
    }
    while (i < len && s[i] == '0')
        i++;
    n.whole = s + i;
    while (i < len && digit(s[i]))
        i++;
    n.whole_len = (size_t)(s + i - n.whole);
    if (i < len && s[i] == '.') {
        n.frac = s + ++i;
        while (i < len && digit(s[i]))
            i++;
        n.frac_len = (size_t)(s + i - n.frac);
        while (n.frac_len && n.frac[n.frac_len - 1] == '0')
            n.frac_len--;
    }
    if (!n.whole_len && !n.frac_len)
        n.neg = false; // zero, or no number at all
    return n;
}

static int number_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    struct number x = parse_number(a, alen), y = parse_number(b, blen);
    if (x.neg != y.neg)
        return x.neg ? -1 : 1;
    int r = (x.whole_len > y.whole_len) - (x.whole_len < y.whole_len);
    if (!r)
        r = sign(memcmp(x.whole, y.whole, x.whole_len));
    if (!r) {
        size_t n = x.frac_len < y.frac_len ? x.frac_len : y.frac_len;
        r = n ? sign(memcmp(x.frac, y.frac, n)) : 0;
        if (!r)
            r = (x.frac_len > y.frac_len) - (x.frac_len < y.frac_len);
    }
    return x.neg ? -r : r;
}

int nb_sort_key_cmp(const char *a, size_t alen, const char *b, size_t blen, int flags)
{
    if (flags & NB_SORT_NUMERIC)
        return number_cmp(a, alen, b, blen);
    return bytes_cmp(a, alen, b, blen);
}

int nb_sort_cmp(const char *a, size_t alen, const char *b, size_t blen, int flags)
{
    int r = nb_sort_key_cmp(a, alen, b, blen, flags);
    if (!r && !(flags & NB_SORT_UNIQUE))
        r = bytes_cmp(a, alen, b, blen);
    return flags & NB_SORT_REVERSE ? -r : r;
}

// ---- head, tail

bool nb_parse_count(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!digit(*s))
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
