// uniq: standard input or one file of the initrd (role initrd) with each
// run of equal adjacent lines written once.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/textin.h"

static int usage(FILE *f, int status)
{
    fputs("usage: uniq [-cdu] [FILE | -]\n"
          "Writes FILE of the initrd (relative to $PWD), or standard input for '-' or no\n"
          "FILE, with each run of equal adjacent lines once (sort first for all equal\n"
          "lines).\n"
          "  -c  start each line with the run's length (7 columns and a blank)\n"
          "  -d  only the lines that repeat    -u  only those that do not\n",
          f);
    return status;
}

static bool counts, only_dups, only_single;

static bool emit(const char *line, size_t len, uint64_t run)
{
    if ((only_dups && run < 2) || (only_single && run > 1))
        return true;
    if (counts && !nb_textout_printf("%7llu ", (unsigned long long)run))
        return false;
    return nb_textout_write(line, len) && nb_textout_write("\n", 1);
}

int main(int argc, char **argv)
{
    int i = 1;
    for (const char *a; (a = nb_option_word(argc, argv, &i)) != NULL; i++) {
        if (!strcmp(a, "--help"))
            return usage(stdout, 0);
        for (const char *c = a + 1; *c; c++) {
            switch (*c) {
            case 'c':
                counts = true;
                break;
            case 'd':
                only_dups = true;
                break;
            case 'u':
                only_single = true;
                break;
            default:
                fprintf(stderr, "uniq: unknown option '-%c'\n", *c);
                return usage(stderr, 2);
            }
        }
    }
    if (argc - i > 1) {
        fputs("uniq: one input at most (no output file without a file system)\n", stderr);
        return usage(stderr, 2);
    }
    const char *arg = i < argc ? argv[i] : "-";
    struct nb_textin in;
    if (!nb_textin_open(&in, "uniq", arg))
        return 1;
    nb_textout_init();
    char *prev = NULL; // the run's line
    size_t prev_len = 0, prev_cap = 0;
    uint64_t run = 0;
    const char *line;
    size_t len;
    bool newline, ok = true;
    int r = 0, status = 0;
    while (ok && (r = nb_textin_getline(&in, &line, &len, &newline)) > 0) {
        if (run && len == prev_len && !memcmp(line, prev, len)) {
            run++;
            continue;
        }
        if (run)
            ok = emit(prev, prev_len, run);
        if (len + 1 > prev_cap) {
            char *p = realloc(prev, len + 1);
            if (!p) {
                fputs("uniq: out of memory\n", stderr);
                return 1;
            }
            prev = p;
            prev_cap = len + 1;
        }
        memcpy(prev, line, len);
        prev_len = len;
        run = 1;
    }
    if (ok && r < 0) {
        nb_textin_report(&in, "uniq", arg);
        status = 1;
    }
    if (ok && run)
        emit(prev, prev_len, run);
    free(prev);
    nb_textin_free(&in);
    if (!nb_textout_done("uniq"))
        status = 1;
    return status;
}
