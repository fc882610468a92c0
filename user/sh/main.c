// nsh, the Nimbus shell: start-up, then lines read from the terminal (or a
// script's text) are parsed and run one complete command at a time.
//
//   nsh                    interactive, on standard input
//   nsh FILE [ARGS...]     runs a script from the initrd ($0 = FILE)
//   nsh -c TEXT [ARGS...]  runs TEXT
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nsh.h"

extern char **environ;

static struct nsh shell;

bool nsh_resolve(struct nsh *sh, const char *path, char *out, size_t size)
{
    return nb_path_resolve(nsh_vars_get(&sh->vars, "PWD"), path, out, size);
}

// Where lines come from: the terminal, or a text.
struct reader {
    const char *name; // for messages; NULL when interactive
    const char *text;
    size_t len, pos;
    unsigned line;
};

static enum nsh_input next_line(struct nsh *sh, struct reader *r, const char *prompt, char *buf,
                                size_t size)
{
    if (!r->text)
        return nsh_read_line(sh, prompt, buf, size);
    if (r->pos >= r->len)
        return NSH_INPUT_EOF;
    const char *start = r->text + r->pos;
    const char *nl = memchr(start, '\n', r->len - r->pos);
    size_t n = nl ? (size_t)(nl - start) : r->len - r->pos;
    r->pos += n + (nl != NULL);
    r->line++;
    if (n >= size) {
        fprintf(stderr, "nsh: %s: line %u: longer than %zu bytes: cut\n", r->name, r->line,
                size - 1);
        n = size - 1;
    }
    memcpy(buf, start, n);
    buf[n] = 0;
    return NSH_INPUT_LINE;
}

// Appends line and a newline to the growing command text.
static bool append(char **text, size_t *len, size_t *cap, const char *line)
{
    size_t n = strlen(line);
    if (*len + n + 2 > *cap) {
        size_t c = (*len + n + 2) * 2;
        char *t = realloc(*text, c);
        if (!t)
            return false;
        *text = t;
        *cap = c;
    }
    memcpy(*text + *len, line, n);
    *len += n;
    (*text)[(*len)++] = '\n';
    (*text)[*len] = 0;
    return true;
}

// Reads and runs complete commands until the end of input or `exit`.
static void run_reader(struct nsh *sh, struct reader *r)
{
    static char line[NSH_LINE_MAX];
    char *text = NULL;
    size_t len = 0, cap = 0;
    while (!sh->exiting) {
        if (!r->text)
            nsh_jobs_reap(sh, stderr);
        const char *ps1 = nsh_vars_get(&sh->vars, "PS1");
        const char *prompt = len ? NSH_PROMPT_MORE : ps1 ? ps1 : NSH_PROMPT;
        enum nsh_input in = next_line(sh, r, prompt, line, sizeof(line));
        if (in == NSH_INPUT_EOF) {
            if (len && r->text) {
                fprintf(stderr, "nsh: %s: line %u: unexpected end of file\n", r->name, r->line);
                sh->status = NSH_EXIT_USAGE;
            }
            if (!r->text)
                fputs("\n", stdout);
            break;
        }
        if (in == NSH_INPUT_CANCEL) {
            len = 0;
            sh->status = NSH_EXIT_INTERRUPT;
            continue;
        }
        if (!r->text)
            nsh_history_add(&sh->hist, line);
        if (!append(&text, &len, &cap, line)) {
            fprintf(stderr, "nsh: out of memory\n");
            len = 0;
            continue;
        }
        struct nsh_arena a = {0};
        struct nsh_program prog;
        char err[160];
        enum nsh_parse_result pr = nsh_parse(text, len, &a, &prog, err, sizeof(err));
        if (pr == NSH_PARSE_OK)
            nsh_run_program(sh, &prog, &a);
        nsh_arena_free(&a);
        if (pr == NSH_PARSE_INCOMPLETE)
            continue;
        len = 0;
        if (pr == NSH_PARSE_ERROR) {
            if (r->text)
                fprintf(stderr, "nsh: %s: line %u: %s\n", r->name, r->line, err);
            else
                fprintf(stderr, "nsh: %s\n", err);
            sh->status = NSH_EXIT_USAGE;
            if (r->text)
                break; // a script stops at a syntax error
        }
    }
    free(text);
    fflush(stdout);
    fflush(stderr);
}

int nsh_run_text(struct nsh *sh, const char *text, size_t len, const char *name)
{
    struct reader r = {.name = name, .text = text, .len = len};
    run_reader(sh, &r);
    return sh->status;
}

static void load_policy(struct nsh *sh)
{
    const void *text;
    size_t size;
    char err[160];
    if (!sh->have_initrd || nb_initrd_find(&sh->rd, NSH_POLICY_FILE, &text, &size) != OK)
        return; // commands get their standard streams only
    if (nsh_policy_parse(text, size, &sh->policy, err, sizeof(err)) != OK)
        fprintf(stderr, "nsh: %s: %s (commands get no handles but their streams)\n",
                NSH_POLICY_FILE, err);
}

static void start(struct nsh *sh)
{
    sh->in = nb_bootstrap_peek(BOOTSTRAP_ROLE_STDIN);
    sh->out = nb_bootstrap_peek(BOOTSTRAP_ROLE_STDOUT);
    sh->err = nb_bootstrap_peek(BOOTSTRAP_ROLE_STDERR);
    sh->tty = nb_bootstrap_peek(BOOTSTRAP_ROLE_TTY);
    sh->raw_ok = true;
    handle_t initrd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    sh->have_initrd = initrd != HANDLE_INVALID && nb_initrd_open(&sh->rd, initrd) == OK;
    if (nb_port_create(&sh->port) != OK)
        sh->port = HANDLE_INVALID; // wait_all then waits for each process alone
    nsh_vars_import(&sh->vars, environ);
    if (!nsh_vars_get(&sh->vars, "PATH"))
        nsh_vars_set(&sh->vars, "PATH", NSH_DEFAULT_PATH, true);
    if (!nsh_vars_get(&sh->vars, "PWD"))
        nsh_vars_set(&sh->vars, "PWD", "/", true);
    load_policy(sh);
}

static const void *find_script(struct nsh *sh, const char *name, size_t *size)
{
    char path[NB_PATH_MAX];
    const void *text;
    if (!sh->have_initrd || !nsh_resolve(sh, name, path, sizeof(path)) ||
        nb_initrd_find(&sh->rd, path, &text, size) != OK)
        return NULL;
    return text;
}

int main(int argc, char **argv)
{
    struct nsh *sh = &shell;
    setvbuf(stdout, NULL, _IOLBF, 0);
    start(sh);
    if (argc > 1 && !strcmp(argv[1], "--help")) {
        puts("usage: nsh [FILE [ARGS...] | -c TEXT [ARGS...]]\n"
             "The Nimbus shell: interactive without arguments, else runs the script FILE\n"
             "from the initrd or TEXT. `help` inside lists the language and builtins.");
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "-c")) {
        if (argc < 3) {
            fprintf(stderr, "nsh: -c needs a text\nusage: nsh -c TEXT [ARGS...]\n");
            return NSH_EXIT_USAGE;
        }
        sh->argc = argc > 3 ? argc - 3 : 1; // $0 is the first word after TEXT
        sh->argv = argc > 3 ? argv + 3 : argv;
        nsh_run_text(sh, argv[2], strlen(argv[2]), "-c");
        return sh->exiting ? sh->exit_code : sh->status;
    }
    if (argc > 1) {
        size_t size;
        const void *text = find_script(sh, argv[1], &size);
        if (!text) {
            fprintf(stderr, "nsh: %s: no such file%s\n", argv[1],
                    sh->have_initrd ? "" : " (no initrd handle)");
            return NSH_EXIT_NOT_FOUND;
        }
        sh->argc = argc - 1;
        sh->argv = argv + 1;
        nsh_run_text(sh, text, size, argv[1]);
        return sh->exiting ? sh->exit_code : sh->status;
    }
    sh->interactive = true;
    sh->argc = 1;
    sh->argv = argv;
    if (!sh->have_initrd)
        fprintf(stderr, "nsh: no initrd handle (manifest: handles=initrd,vmex): builtins only\n");
    struct reader r = {0};
    run_reader(sh, &r);
    return sh->exiting ? sh->exit_code : sh->status;
}
