// nsh: the Nimbus shell, a first one for the serial console. It reads
// lines from standard input, splits them into words and runs programs from
// the initrd with nb_spawn, one at a time. Builtins: echo, help, exit.
// Pipes, history and jobs come later.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/process.h"
#include "nb/syscall.h"

#define NSH_LINE_MAX   1024
#define NSH_WORDS_MAX  32
#define NSH_PATH_MAX   128
#define NSH_PROMPT     "nsh$ "
#define EXIT_NOT_FOUND 127

static struct nb_initrd rd;
static bool have_initrd;
static int last_status; // $?

// Splits s in place into words at blanks; "..." makes one word of what it
// encloses (no escapes). Returns the count, or -1 with too many words or an
// unclosed quote.
static int split_words(char *s, char **words, int max)
{
    int n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s)
            return n;
        if (n == max)
            return -1;
        char *out = s;
        words[n++] = out;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
            if (*s == '"') {
                char *end = strchr(s + 1, '"');
                if (!end)
                    return -1;
                size_t len = (size_t)(end - s - 1);
                memmove(out, s + 1, len);
                out += len;
                s = end + 1;
            } else {
                *out++ = *s++;
            }
        }
        char *next = *s ? s + 1 : s;
        *out = 0;
        s = next;
    }
}

// echo, with $? standing for the last exit status.
static int builtin_echo(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "$?"))
            printf("%s%d", i > 1 ? " " : "", last_status);
        else
            printf("%s%s", i > 1 ? " " : "", argv[i]);
    }
    printf("\n");
    return 0;
}

static int builtin_help(int argc, char **argv)
{
    printf("nsh: the Nimbus shell\n"
           "  NAME [ARGS...]   run /bin/NAME or /test/NAME from the initrd (or a /path)\n"
           "  echo [WORDS...]  print the words ($? is the last exit status)\n"
           "  exit [N]         leave the shell with status N (default $?)\n"
           "  help             this text\n"
           "Words are split at blanks, \"...\" makes one word; ';' separates commands.\n");
    return 0;
}

// Finds a program's image: an absolute path as given, else /bin/NAME then
// /test/NAME. *path receives the path found.
static status_t find_program(const char *name, char *path, const void **image, size_t *size)
{
    static const char *const dirs[] = {"/bin/", "/test/"};
    if (!have_initrd)
        return ERR_NOT_FOUND;
    if (name[0] == '/') {
        snprintf(path, NSH_PATH_MAX, "%s", name);
        return nb_initrd_find(&rd, path, image, size);
    }
    if (strchr(name, '/'))
        return ERR_NOT_FOUND;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, NSH_PATH_MAX, "%s%s", dirs[i], name);
        if (nb_initrd_find(&rd, path, image, size) == OK)
            return OK;
    }
    return ERR_NOT_FOUND;
}

// Runs a program to its end and returns its exit status.
static int run_program(int argc, char **argv)
{
    char path[NSH_PATH_MAX];
    const void *image;
    size_t size;
    if (find_program(argv[0], path, &image, &size) != OK) {
        printf("nsh: %s: not found\n", argv[0]);
        return EXIT_NOT_FOUND;
    }
    const char *name = strrchr(path, '/') + 1;
    struct nb_spawn sp = {.name = name,
                          .elf = image,
                          .elf_size = size,
                          .argv = (const char *const *)argv,
                          .vmex = HANDLE_INVALID};
    handle_t proc;
    struct nb_process_info info;
    status_t st = nb_spawn(&sp, &proc);
    if (st == OK) {
        st = nb_process_wait(proc, NB_DEADLINE_INFINITE, &info);
        nb_handle_close(proc);
    }
    if (st != OK) {
        printf("nsh: %s: cannot run: %s\n", argv[0], status_str(st));
        return EXIT_NOT_FOUND - 1; // 126, as POSIX shells for "cannot execute"
    }
    if (info.flags & NB_PROCESS_FAULTED) {
        char how[96];
        nb_process_describe(&info, how, sizeof(how));
        const char *why = strchr(how, '(');
        printf("nsh: %s: terminated by fault %s\n", argv[0], why ? why : how);
    }
    return (int)info.exit_code;
}

// One command (no ';'): a builtin or a program.
static void run_command(char *cmd)
{
    char *argv[NSH_WORDS_MAX + 1];
    int argc = split_words(cmd, argv, NSH_WORDS_MAX);
    if (argc < 0) {
        printf("nsh: syntax error (unclosed quote or more than %d words)\n", NSH_WORDS_MAX);
        last_status = 2;
        return;
    }
    if (argc == 0)
        return;
    argv[argc] = NULL;
    if (!strcmp(argv[0], "exit"))
        exit(argc > 1 ? atoi(argv[1]) : last_status);
    if (!strcmp(argv[0], "echo"))
        last_status = builtin_echo(argc, argv);
    else if (!strcmp(argv[0], "help"))
        last_status = builtin_help(argc, argv);
    else
        last_status = run_program(argc, argv);
}

int main(void)
{
    static char line[NSH_LINE_MAX];
    handle_t initrd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    have_initrd = initrd != HANDLE_INVALID && nb_initrd_open(&rd, initrd) == OK;
    if (!have_initrd)
        printf("nsh: no initrd handle (manifest: handles=initrd,vmex): builtins only\n");
    for (;;) {
        printf(NSH_PROMPT);
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin))
            break;
        // ';' separates commands (a quoted ';' does too, for now).
        for (char *save, *cmd = strtok_r(line, ";", &save); cmd; cmd = strtok_r(NULL, ";", &save))
            run_command(cmd);
    }
    printf("\n");
    return last_status;
}
