// grep: the lines of files of the initrd (role initrd), or of standard
// input, that match a pattern (POSIX regular expressions from musl, or fixed
// strings). Exit 0 if a line was selected, 1 if none, 2 on an error.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/textin.h"
#include "nb/textops.h"

static int usage(FILE *f, int status)
{
    fputs("usage: grep [-icnqvEF] [-e PATTERN]... [PATTERN] [FILE | -]...\n"
          "Writes the lines of each FILE of the initrd (relative to $PWD), or of standard\n"
          "input for '-' or no FILE, that match PATTERN (lines of it: any of them).\n"
          "  -i  ignore case        -v  select the lines that do not match\n"
          "  -c  count the lines    -n  number them\n"
          "  -q  quiet: only the exit status (0 as soon as a line matches)\n"
          "  -E  extended regular expressions (default: basic)\n"
          "  -F  fixed strings      -e  a pattern (repeatable)\n"
          "With several files each line starts with 'FILE:'.\n"
          "Exit status: 0 a line was selected, 1 none, 2 an error.\n",
          f);
    return status;
}

struct opts {
    bool invert, count, number, quiet, names;
};

// 1 a line selected, 0 none, -1 read error (reported), -2 output failed.
static int grep_input(struct nb_textin *in, const char *arg, const struct nb_match *m,
                      const struct opts *o)
{
    const char *name = strcmp(arg, "-") ? arg : "(standard input)";
    const char *line;
    size_t len;
    bool newline;
    uint64_t lineno = 0, selected = 0;
    int r;
    while ((r = nb_textin_getline(in, &line, &len, &newline)) > 0) {
        lineno++;
        if (nb_match_line(m, line, len) == o->invert)
            continue;
        selected++;
        if (o->quiet)
            return 1;
        if (o->count)
            continue;
        if ((o->names && !nb_textout_printf("%s:", name)) ||
            (o->number && !nb_textout_printf("%llu:", (unsigned long long)lineno)) ||
            !nb_textout_write(line, len) || !nb_textout_write("\n", 1))
            return -2;
    }
    if (r < 0) {
        nb_textin_report(in, "grep", arg);
        return -1;
    }
    if (o->count && !o->quiet) {
        if ((o->names && !nb_textout_printf("%s:", name)) ||
            !nb_textout_printf("%llu\n", (unsigned long long)selected))
            return -2;
    }
    return selected > 0;
}

// Appends a -e pattern to *patterns (joined by newlines).
static bool add_pattern(char **patterns, const char *p)
{
    size_t old = *patterns ? strlen(*patterns) + 1 : 0;
    char *n = realloc(*patterns, old + strlen(p) + 1);
    if (!n)
        return false;
    if (old)
        n[old - 1] = '\n';
    strcpy(n + old, p);
    *patterns = n;
    return true;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    int flags = 0;
    char *patterns = NULL;
    int i = 1;
    for (const char *a; (a = nb_option_word(argc, argv, &i)) != NULL; i++) {
        if (!strcmp(a, "--help"))
            return usage(stdout, 0);
        for (const char *c = a + 1; *c; c++) {
            switch (*c) {
            case 'i':
                flags |= NB_MATCH_ICASE;
                continue;
            case 'E':
                flags = (flags & ~NB_MATCH_FIXED) | NB_MATCH_ERE;
                continue;
            case 'F':
                flags = (flags & ~NB_MATCH_ERE) | NB_MATCH_FIXED;
                continue;
            case 'v':
                o.invert = true;
                continue;
            case 'c':
                o.count = true;
                continue;
            case 'n':
                o.number = true;
                continue;
            case 'q':
                o.quiet = true;
                continue;
            case 'e':
                break;
            default:
                fprintf(stderr, "grep: unknown option '-%c'\n", *c);
                return usage(stderr, 2);
            }
            // -e PATTERN or -ePATTERN: the rest of this word, else the next.
            const char *p = c[1] ? c + 1 : argv[++i];
            if (!p) {
                fputs("grep: -e needs a pattern\n", stderr);
                return usage(stderr, 2);
            }
            if (!add_pattern(&patterns, p)) {
                fputs("grep: out of memory\n", stderr);
                return 2;
            }
            break;
        }
    }
    if (!patterns) {
        if (i >= argc) {
            fputs("grep: no pattern\n", stderr);
            return usage(stderr, 2);
        }
        patterns = strdup(argv[i++]);
        if (!patterns) {
            fputs("grep: out of memory\n", stderr);
            return 2;
        }
    }
    struct nb_match m;
    char err[256];
    if (!nb_match_init(&m, patterns, flags, err, sizeof(err))) {
        fprintf(stderr, "grep: bad pattern '%s': %s\n", patterns, err);
        return 2;
    }
    nb_textout_init();
    static char *stdin_only[] = {"-"};
    char **files = i < argc ? argv + i : stdin_only;
    int nfiles = i < argc ? argc - i : 1;
    o.names = nfiles > 1;
    bool matched = false, error = false;
    for (int f = 0; f < nfiles; f++) {
        struct nb_textin in;
        if (!nb_textin_open(&in, "grep", files[f])) {
            error = true;
            continue;
        }
        int r = grep_input(&in, files[f], &m, &o);
        nb_textin_free(&in);
        if (r == -2) {
            error = true;
            break;
        }
        if (r < 0)
            error = true;
        if (r > 0)
            matched = true;
        if (r > 0 && o.quiet)
            break; // POSIX: 0 as soon as a line is selected, even after an error
    }
    nb_match_free(&m);
    free(patterns);
    if (!nb_textout_done("grep"))
        error = true;
    if (matched && o.quiet)
        return 0;
    return error ? 2 : matched ? 0 : 1;
}
