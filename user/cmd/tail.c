// tail: the last lines (default 10) of files of the initrd (role initrd),
// or of standard input, kept in a ring of N lines while reading; or, with
// +N, the lines from the N-th on.
#include <stdio.h>
#include <string.h>

#include "nb/textin.h"
#include "nb/textops.h"

static int usage(FILE *f, int status)
{
    fputs("usage: tail [-n [+]N | -N] [FILE | -]...\n"
          "Writes the last N lines (default 10) of each FILE of the initrd (relative to\n"
          "$PWD), or of standard input for '-' or no FILE; with +N the lines from the\n"
          "N-th on. With several files each starts with a '==> FILE <==' line.\n",
          f);
    return status;
}

static int bad_count(const char *s)
{
    fprintf(stderr, "tail: invalid number of lines '%s'\n", s);
    return usage(stderr, 2);
}

static bool write_line(const char *line, size_t len, bool newline)
{
    return nb_textout_write(line, len) && (!newline || nb_textout_write("\n", 1));
}

// 0 done, 1 read error or no memory (reported), -1 output failed.
static int tail_input(struct nb_textin *in, const char *arg, uint64_t n, bool from_start)
{
    const char *line;
    size_t len;
    bool newline;
    int r;
    if (from_start) {
        for (uint64_t k = 1; (r = nb_textin_getline(in, &line, &len, &newline)) > 0; k++)
            if (k >= n && !write_line(line, len, newline))
                return -1;
    } else {
        struct nb_ring ring;
        nb_ring_init(&ring, (size_t)n); // n < 2^63 (nb_parse_count)
        while ((r = nb_textin_getline(in, &line, &len, &newline)) > 0)
            if (!nb_ring_push(&ring, line, len, newline)) {
                fprintf(stderr, "tail: %s: out of memory\n", arg);
                nb_ring_free(&ring);
                return 1;
            }
        bool ok = true;
        for (size_t k = 0; k < ring.count && ok; k++) {
            const struct nb_ring_line *l = nb_ring_get(&ring, k);
            ok = write_line(l->data, l->len, l->newline);
        }
        nb_ring_free(&ring);
        if (!ok)
            return -1;
    }
    if (r < 0) {
        nb_textin_report(in, "tail", arg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n = 10;
    bool from_start = false;
    int i = 1;
    for (const char *a; (a = nb_option_word(argc, argv, &i)) != NULL; i++) {
        if (!strcmp(a, "--help"))
            return usage(stdout, 0);
        if (a[1] == 'n') {
            const char *v = a[2] ? a + 2 : argv[++i];
            if (!v) {
                fputs("tail: -n needs a number\n", stderr);
                return usage(stderr, 2);
            }
            from_start = v[0] == '+';
            if (!nb_parse_count(v + from_start, &n))
                return bad_count(v);
        } else if (a[1] >= '0' && a[1] <= '9') {
            if (!nb_parse_count(a + 1, &n))
                return bad_count(a + 1);
        } else {
            fprintf(stderr, "tail: unknown option '%s'\n", a);
            return usage(stderr, 2);
        }
    }
    nb_textout_init();
    static char *stdin_only[] = {"-"};
    char **files = i < argc ? argv + i : stdin_only;
    int nfiles = i < argc ? argc - i : 1;
    int status = 0;
    bool first = true;
    for (int f = 0; f < nfiles; f++) {
        struct nb_textin in;
        if (!nb_textin_open(&in, "tail", files[f])) {
            status = 1;
            continue;
        }
        int r = 0;
        if (nfiles > 1) {
            const char *name = strcmp(files[f], "-") ? files[f] : "standard input";
            if (!nb_textout_printf("%s==> %s <==\n", first ? "" : "\n", name))
                r = -1;
            first = false;
        }
        if (r == 0)
            r = tail_input(&in, files[f], n, from_start);
        nb_textin_free(&in);
        if (r < 0)
            break;
        status |= r;
    }
    if (!nb_textout_done("tail"))
        status = 1;
    return status;
}
