// echo: writes its arguments, separated by blanks, and a newline (-n: no
// newline) to standard output.
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: echo [-n] [WORDS...]\n"
             "Writes the words, separated by blanks, and a newline (-n: without it).");
        return 0;
    }
    int first = 1;
    bool newline = true;
    if (argc > 1 && !strcmp(argv[1], "-n")) {
        newline = false;
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        if (i > first)
            putchar(' ');
        fputs(argv[i], stdout);
    }
    if (newline)
        putchar('\n');
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "echo: write error: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
