// sort: the lines of files of the initrd (role initrd), or of standard
// input, all read into memory, sorted and written.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/textin.h"
#include "nb/textops.h"

static int usage(FILE *f, int status)
{
    fputs("usage: sort [-nru] [FILE | -]...\n"
          "Writes the lines of all FILEs of the initrd (relative to $PWD), or of standard\n"
          "input for '-' or no FILE, sorted byte by byte (the C locale).\n"
          "  -n  by the number a line starts with (none: 0), then byte by byte\n"
          "  -r  reverse the order\n"
          "  -u  one line of each run of equal keys (the first read)\n",
          f);
    return status;
}

struct line {
    size_t off, len; // in text
    size_t seq;      // input order, for a stable sort
};

static char *text;
static size_t text_len, text_cap;
static struct line *lines;
static size_t nlines, lines_cap;
static int sort_flags;

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 4096 / size;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            return false;
        n *= 2;
    }
    void *q = realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static bool add_line(const char *s, size_t len)
{
    if (len >= SIZE_MAX - text_len || !grow((void **)&text, &text_cap, text_len + len + 1, 1) ||
        !grow((void **)&lines, &lines_cap, nlines + 1, sizeof(*lines)))
        return false;
    memcpy(text + text_len, s, len);
    lines[nlines] = (struct line){text_len, len, nlines};
    nlines++;
    text_len += len;
    return true;
}

static int compare(const void *pa, const void *pb)
{
    const struct line *a = pa, *b = pb;
    int r = nb_sort_cmp(text + a->off, a->len, text + b->off, b->len, sort_flags);
    if (!r)
        r = (a->seq > b->seq) - (a->seq < b->seq);
    return r;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (const char *a; (a = nb_option_word(argc, argv, &i)) != NULL; i++) {
        if (!strcmp(a, "--help"))
            return usage(stdout, 0);
        for (const char *c = a + 1; *c; c++) {
            switch (*c) {
            case 'n':
                sort_flags |= NB_SORT_NUMERIC;
                break;
            case 'r':
                sort_flags |= NB_SORT_REVERSE;
                break;
            case 'u':
                sort_flags |= NB_SORT_UNIQUE;
                break;
            default:
                fprintf(stderr, "sort: unknown option '-%c'\n", *c);
                return usage(stderr, 2);
            }
        }
    }
    nb_textout_init();
    static char *stdin_only[] = {"-"};
    char **files = i < argc ? argv + i : stdin_only;
    int nfiles = i < argc ? argc - i : 1;
    int status = 0;
    for (int f = 0; f < nfiles; f++) {
        struct nb_textin in;
        if (!nb_textin_open(&in, "sort", files[f])) {
            status = 1;
            continue;
        }
        const char *line;
        size_t len;
        bool newline;
        int r;
        while ((r = nb_textin_getline(&in, &line, &len, &newline)) > 0)
            if (!add_line(line, len)) {
                fputs("sort: out of memory\n", stderr);
                return 1;
            }
        if (r < 0) {
            nb_textin_report(&in, "sort", files[f]);
            status = 1;
        }
        nb_textin_free(&in);
    }
    if (nlines)
        qsort(lines, nlines, sizeof(*lines), compare);
    const struct line *prev = NULL;
    for (size_t k = 0; k < nlines; k++) {
        const struct line *l = &lines[k];
        if ((sort_flags & NB_SORT_UNIQUE) && prev &&
            !nb_sort_key_cmp(text + prev->off, prev->len, text + l->off, l->len, sort_flags))
            continue;
        prev = l;
        if (!nb_textout_write(text + l->off, l->len) || !nb_textout_write("\n", 1))
            break;
    }
    if (!nb_textout_done("sort"))
        status = 1;
    return status;
}
