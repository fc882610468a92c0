// head: the first lines (default 10) of files of the initrd (role initrd),
// or of standard input. It stops reading once it has them.
#include <stdio.h>
#include <string.h>

#include "nb/textin.h"
#include "nb/textops.h"

static int usage(FILE *f, int status)
{
    fputs("usage: head [-n N | -N] [FILE | -]...\n"
          "Writes the first N lines (default 10) of each FILE of the initrd (relative to\n"
          "$PWD), or of standard input for '-' or no FILE. With several files each\n"
          "starts with a '==> FILE <==' line.\n",
          f);
    return status;
}

static int bad_count(const char *s)
{
    fprintf(stderr, "head: invalid number of lines '%s'\n", s);
    return usage(stderr, 2);
}

int main(int argc, char **argv)
{
    uint64_t n = 10;
    int i = 1;
    for (const char *a; (a = nb_option_word(argc, argv, &i)) != NULL; i++) {
        if (!strcmp(a, "--help"))
            return usage(stdout, 0);
        if (a[1] == 'n') {
            const char *v = a[2] ? a + 2 : argv[++i];
            if (!v) {
                fputs("head: -n needs a number\n", stderr);
                return usage(stderr, 2);
            }
            if (!nb_parse_count(v, &n))
                return bad_count(v);
        } else if (a[1] >= '0' && a[1] <= '9') {
            if (!nb_parse_count(a + 1, &n))
                return bad_count(a + 1);
        } else {
            fprintf(stderr, "head: unknown option '%s'\n", a);
            return usage(stderr, 2);
        }
    }
    nb_textout_init();
    static char *stdin_only[] = {"-"};
    char **files = i < argc ? argv + i : stdin_only;
    int nfiles = i < argc ? argc - i : 1;
    int status = 0;
    bool out_ok = true, first = true;
    for (int f = 0; f < nfiles && out_ok; f++) {
        struct nb_textin in;
        if (!nb_textin_open(&in, "head", files[f])) {
            status = 1;
            continue;
        }
        if (nfiles > 1) {
            const char *name = strcmp(files[f], "-") ? files[f] : "standard input";
            out_ok = nb_textout_printf("%s==> %s <==\n", first ? "" : "\n", name);
            first = false;
        }
        const char *line;
        size_t len;
        bool newline;
        int r = 1;
        for (uint64_t k = 0; k < n && out_ok; k++) {
            if ((r = nb_textin_getline(&in, &line, &len, &newline)) <= 0)
                break;
            out_ok = nb_textout_write(line, len) && (!newline || nb_textout_write("\n", 1));
        }
        if (r < 0) {
            nb_textin_report(&in, "head", files[f]);
            status = 1;
        }
        nb_textin_free(&in);
    }
    if (!nb_textout_done("head"))
        status = 1;
    return status;
}
