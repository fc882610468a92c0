// cat: writes files from the initrd (role initrd), or standard input for
// "-" or no file, to standard output.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/initrd_dir.h"

#define CHUNK 65536 // a stream message at most

static struct nb_initrd rd;
static int rd_state; // 0 not opened yet, 1 open, -1 unavailable

static int usage(void)
{
    fputs("usage: cat [FILE | -]...\n"
          "Writes each FILE of the initrd (relative to $PWD), or standard input for '-'\n"
          "or when there is no FILE, to standard output.\n",
          stderr);
    return 2;
}

static bool write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(1, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            // The reader went away (`cat big | head`): stop without a word,
            // as a shell user expects (there is no SIGPIPE).
            if (!(w < 0 && errno == EPIPE))
                fprintf(stderr, "cat: write error: %s\n",
                        w < 0 ? strerror(errno) : "nothing written");
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool copy_stdin(void)
{
    static char buf[CHUNK];
    for (;;) {
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "cat: read error on standard input: %s\n", strerror(errno));
            return false;
        }
        if (n == 0)
            return true;
        if (!write_all(buf, (size_t)n))
            return false;
    }
}

// 0 done, 1 a problem with this file, -1 output failed (stop).
static int cat_file(const char *arg)
{
    if (rd_state == 0) {
        handle_t vmo = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
        rd_state = vmo != HANDLE_INVALID && nb_initrd_open(&rd, vmo) == OK ? 1 : -1;
    }
    if (rd_state < 0) {
        fprintf(stderr, "cat: %s: no initrd handle (/etc/commands gives cat the role initrd)\n",
                arg);
        return 1;
    }
    char path[NB_PATH_MAX];
    if (!nb_path_resolve(getenv("PWD"), arg, path, sizeof(path))) {
        fprintf(stderr, "cat: %s: path too long\n", arg);
        return 1;
    }
    struct cpio_entry e;
    switch (nb_initrd_stat(rd.base, rd.size, path, &e)) {
    case NB_INITRD_MISSING:
        fprintf(stderr, "cat: %s: no such file\n", arg);
        return 1;
    case NB_INITRD_DIR:
        fprintf(stderr, "cat: %s: is a directory\n", arg);
        return 1;
    case NB_INITRD_FILE:
        break;
    }
    return write_all(e.data, e.size) ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        usage();
        return 0;
    }
    int first = 1;
    if (argc > 1 && !strcmp(argv[1], "--"))
        first = 2;
    for (int i = first; i < argc && first == 1; i++)
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "cat: unknown option '%s'\n", argv[i]);
            return usage();
        }
    int status = 0;
    if (first == argc)
        return copy_stdin() ? 0 : 1;
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "-")) {
            if (!copy_stdin())
                return 1;
            continue;
        }
        int r = cat_file(argv[i]);
        if (r < 0)
            return 1;
        status |= r;
    }
    return status;
}
