// wc: counts the lines, words and bytes of files of the initrd (role
// initrd), or of standard input.
#include <stdio.h>
#include <string.h>

#include "nb/textin.h"
#include "nb/textops.h"

enum { LINES = 1, WORDS = 2, BYTES = 4 };

static int usage(FILE *f, int status)
{
    fputs("usage: wc [-lwc] [FILE | -]...\n"
          "Counts the newlines (-l), words (-w: runs of non-blank bytes) and bytes (-c)\n"
          "of each FILE of the initrd (relative to $PWD), or of standard input for '-' or\n"
          "no FILE; all three, in that order, without options. A line per input, its\n"
          "name after the counts, and a 'total' line for several. One count of one\n"
          "input is printed alone; otherwise each count takes 7 columns.\n",
          f);
    return status;
}

static bool print_counts(const struct nb_wc *c, int what, int width, const char *name)
{
    const uint64_t v[3] = {c->lines, c->words, c->bytes};
    bool first = true;
    for (int k = 0; k < 3; k++) {
        if (!(what & (1 << k)))
            continue;
        if (!nb_textout_printf("%s%*llu", first ? "" : " ", width, (unsigned long long)v[k]))
            return false;
        first = false;
    }
    return name ? nb_textout_printf(" %s\n", name) : nb_textout_write("\n", 1);
}

int main(int argc, char **argv)
{
    int what = 0;
    int i = 1;
    for (const char *a; (a = nb_option_word(argc, argv, &i)) != NULL; i++) {
        if (!strcmp(a, "--help"))
            return usage(stdout, 0);
        for (const char *c = a + 1; *c; c++) {
            switch (*c) {
            case 'l':
                what |= LINES;
                break;
            case 'w':
                what |= WORDS;
                break;
            case 'c':
                what |= BYTES;
                break;
            default:
                fprintf(stderr, "wc: unknown option '-%c'\n", *c);
                return usage(stderr, 2);
            }
        }
    }
    if (!what)
        what = LINES | WORDS | BYTES;
    nb_textout_init();
    static char *stdin_only[] = {"-"};
    bool named = i < argc;
    char **files = named ? argv + i : stdin_only;
    int nfiles = named ? argc - i : 1;
    int width = (what == LINES || what == WORDS || what == BYTES) && nfiles == 1 ? 1 : 7;
    struct nb_wc total = {0};
    int status = 0;
    bool out_ok = true;
    for (int f = 0; f < nfiles && out_ok; f++) {
        struct nb_textin in;
        if (!nb_textin_open(&in, "wc", files[f])) {
            status = 1;
            continue;
        }
        struct nb_wc c = {0};
        const char *data;
        size_t len;
        int r;
        while ((r = nb_textin_chunk(&in, &data, &len)) > 0)
            nb_wc_add(&c, data, len);
        if (r < 0) {
            nb_textin_report(&in, "wc", files[f]);
            status = 1;
        } else {
            out_ok = print_counts(&c, what, width, named ? files[f] : NULL);
            total.lines += c.lines;
            total.words += c.words;
            total.bytes += c.bytes;
        }
        nb_textin_free(&in);
    }
    if (nfiles > 1 && out_ok)
        print_counts(&total, what, width, "total");
    if (!nb_textout_done("wc"))
        status = 1;
    return status;
}
