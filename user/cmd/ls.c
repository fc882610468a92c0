// ls: lists the initrd's directories (role initrd). Directories are made
// from the archive's file names ("bin/nsh" makes /bin).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/initrd_dir.h"

static bool long_format, all;

static int usage(void)
{
    fputs("usage: ls [-l] [-a] [PATH...]\n"
          "Lists directories of the initrd (default $PWD); -l with type, mode and size;\n"
          "-a also . and ..\n",
          stderr);
    return 2;
}

static void mode_string(uint32_t mode, bool dir, char out[11])
{
    static const char rwx[] = "rwxrwxrwx";
    out[0] = dir ? 'd' : (mode & CPIO_MODE_TYPE_MASK) == CPIO_MODE_LNK ? 'l' : '-';
    for (int i = 0; i < 9; i++)
        out[1 + i] = mode & (1u << (8 - i)) ? rwx[i] : '-';
    out[10] = 0;
}

static void print_entry(const char *name, bool dir, uint32_t mode, size_t size)
{
    if (long_format) {
        char m[11];
        mode_string(mode, dir, m);
        printf("%s %9zu %s\n", m, dir ? (size_t)0 : size, name);
    } else {
        printf("%s\n", name);
    }
}

// 0, or 1 when arg names nothing.
static int list(const struct nb_initrd *rd, const char *arg, bool header)
{
    char path[NB_PATH_MAX];
    if (!nb_path_resolve(getenv("PWD"), arg, path, sizeof(path))) {
        fprintf(stderr, "ls: %s: path too long\n", arg);
        return 1;
    }
    struct cpio_entry e;
    enum nb_initrd_kind kind = nb_initrd_stat(rd->base, rd->size, path, &e);
    if (kind == NB_INITRD_MISSING) {
        fprintf(stderr, "ls: %s: no such file or directory\n", arg);
        return 1;
    }
    if (kind == NB_INITRD_FILE) {
        print_entry(arg, false, e.mode, e.size);
        return 0;
    }
    struct nb_dirent *ents;
    size_t n;
    status_t s = nb_initrd_readdir(rd->base, rd->size, path, &ents, &n);
    if (s != OK) {
        fprintf(stderr, "ls: %s: %s\n", arg, status_str(s));
        return 1;
    }
    if (header)
        printf("%s:\n", arg);
    if (all) {
        print_entry(".", true, CPIO_MODE_DIR | 0755u, 0);
        print_entry("..", true, CPIO_MODE_DIR | 0755u, 0);
    }
    for (size_t i = 0; i < n; i++)
        print_entry(ents[i].name, ents[i].dir, ents[i].mode, ents[i].size);
    free(ents);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        usage();
        return 0;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        for (const char *o = argv[i] + 1; *o; o++) {
            if (*o == 'l') {
                long_format = true;
            } else if (*o == 'a') {
                all = true;
            } else {
                fprintf(stderr, "ls: unknown option '-%c'\n", *o);
                return usage();
            }
        }
    }
    struct nb_initrd rd;
    handle_t vmo = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    if (vmo == HANDLE_INVALID || nb_initrd_open(&rd, vmo) != OK) {
        fputs("ls: no initrd handle (/etc/commands gives ls the role initrd)\n", stderr);
        return 1;
    }
    int status = 0;
    if (i == argc) {
        const char *pwd = getenv("PWD");
        status = list(&rd, pwd && *pwd ? pwd : "/", false);
    }
    for (int k = i; k < argc; k++) {
        if (k > i && argc - i > 1)
            putchar('\n');
        status |= list(&rd, argv[k], argc - i > 1);
    }
    return status;
}
