// The shell's builtins: what must change the shell itself (cd, exit,
// export, ...) or look at its state (jobs, history, set).
#include <stdlib.h>
#include <string.h>

#include "nsh.h"

static int usage(FILE *err, const char *text)
{
    fprintf(err, "usage: %s\n", text);
    return NSH_EXIT_USAGE;
}

// A decimal number 0..255 (an exit status); false if s is not one.
static bool parse_status(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 255)
        return false;
    *out = (int)v;
    return true;
}

static int b_cd(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    if (argc > 2)
        return usage(err, "cd [DIR | -]");
    const char *pwd = nsh_vars_get(&sh->vars, "PWD");
    const char *arg = argc > 1 ? argv[1] : "/";
    if (!strcmp(arg, "-")) {
        arg = nsh_vars_get(&sh->vars, "OLDPWD");
        if (!arg) {
            fprintf(err, "nsh: cd: OLDPWD not set\n");
            return 1;
        }
        fprintf(out, "%s\n", arg);
    }
    char path[NB_PATH_MAX];
    if (!nsh_resolve(sh, arg, path, sizeof(path))) {
        fprintf(err, "nsh: cd: %s: path too long\n", arg);
        return 1;
    }
    enum nb_initrd_kind kind = NB_INITRD_DIR;
    if (strcmp(path, "/"))
        kind = sh->have_initrd ? nb_initrd_stat(sh->rd.base, sh->rd.size, path, NULL)
                               : NB_INITRD_MISSING;
    if (kind != NB_INITRD_DIR) {
        fprintf(err, "nsh: cd: %s: %s (there is no file system yet, only the initrd)\n", arg,
                kind == NB_INITRD_FILE ? "not a directory" : "no such directory");
        return 1;
    }
    char old[NB_PATH_MAX];
    snprintf(old, sizeof(old), "%s", pwd ? pwd : "/");
    nsh_vars_set(&sh->vars, "OLDPWD", old, true);
    nsh_vars_set(&sh->vars, "PWD", path, true);
    return 0;
}

static int b_pwd(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    (void)argv;
    if (argc > 1)
        return usage(err, "pwd");
    const char *pwd = nsh_vars_get(&sh->vars, "PWD");
    fprintf(out, "%s\n", pwd ? pwd : "/");
    return 0;
}

static int b_exit(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    (void)out;
    int code = sh->status;
    if (argc > 2)
        return usage(err, "exit [N]");
    if (argc == 2 && !parse_status(argv[1], &code)) {
        fprintf(err, "nsh: exit: %s: not a status (0..255)\n", argv[1]);
        return NSH_EXIT_USAGE;
    }
    sh->exiting = true;
    sh->exit_code = code;
    return code;
}

static int b_help(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    (void)sh, (void)argc, (void)argv, (void)err;
    fputs("nsh: the Nimbus shell (docs/SHELL.md)\n"
          "  NAME ARGS...        run NAME from $PATH (/bin, /test) in the initrd, or a /path\n"
          "  a ; b   a && b   a || b   a | b   a &   ! a   # comment\n"
          "  'literal'  \"with $VAR\"  \\x   NAME=value  $NAME ${NAME} $? $$ $! $# $0..$9 $@\n"
          "  2>&1  1>&2           copy standard output and error (no files yet)\n"
          "Builtins:\n"
          "  cd [DIR|-]  pwd  exit [N]  export [NAME[=V]..]  unset NAME..  set [-- ARGS]\n"
          "  jobs  fg [%N]  wait [%N..]  history [-c]  . FILE  source FILE  type NAME..  help\n"
          "Commands: ls /bin; NAME --help tells more.\n",
          out);
    return 0;
}

static int b_export(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    if (argc == 1) {
        for (size_t i = 0; i < sh->vars.count; i++) {
            const struct nsh_var *v = &sh->vars.v[i];
            if (v->exported)
                fprintf(out, "export %s%s%s\n", v->name, v->value ? "=" : "",
                        v->value ? v->value : "");
        }
        return 0;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        size_t n = nsh_assignment_name_len(argv[i]);
        if (n) {
            argv[i][n] = 0;
            nsh_vars_set(&sh->vars, argv[i], argv[i] + n + 1, true);
            argv[i][n] = '=';
        } else if (nsh_is_name(argv[i], strlen(argv[i]))) {
            nsh_vars_export(&sh->vars, argv[i]);
        } else {
            fprintf(err, "nsh: export: '%s': not a name\n", argv[i]);
            status = 1;
        }
    }
    return status;
}

static int b_unset(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    (void)out;
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (nsh_is_name(argv[i], strlen(argv[i]))) {
            nsh_vars_unset(&sh->vars, argv[i]);
        } else {
            fprintf(err, "nsh: unset: '%s': not a name\n", argv[i]);
            status = 1;
        }
    }
    return status;
}

// Replaces the positional parameters $1.. (keeping $0).
static bool set_positional(struct nsh *sh, int n, char **args)
{
    static char **owned; // what an earlier `set --` allocated
    char **v = malloc((size_t)(n + 2) * sizeof(*v));
    if (!v)
        return false;
    v[0] = strdup(sh->argc ? sh->argv[0] : "nsh");
    for (int i = 0; i < n; i++)
        v[i + 1] = strdup(args[i]);
    v[n + 1] = NULL;
    if (owned) {
        for (char **p = owned; *p; p++)
            free(*p);
        free(owned);
    }
    owned = v;
    sh->argv = v;
    sh->argc = n + 1;
    return true;
}

static int b_set(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    if (argc == 1) {
        for (size_t i = 0; i < sh->vars.count; i++)
            if (sh->vars.v[i].value)
                fprintf(out, "%s=%s\n", sh->vars.v[i].name, sh->vars.v[i].value);
        return 0;
    }
    if (strcmp(argv[1], "--")) {
        fprintf(err, "nsh: set: options are not supported (set -- ARGS sets $1..)\n");
        return NSH_EXIT_USAGE;
    }
    if (!set_positional(sh, argc - 2, argv + 2)) {
        fprintf(err, "nsh: set: out of memory\n");
        return 1;
    }
    return 0;
}

// "%N", "N" or nothing (the newest job).
static struct nsh_job *job_arg(struct nsh *sh, const char *arg, FILE *err, const char *who)
{
    struct nsh_job *job;
    if (!arg) {
        job = nsh_job_last(sh);
        if (!job)
            fprintf(err, "nsh: %s: no jobs\n", who);
        return job;
    }
    const char *num = arg[0] == '%' ? arg + 1 : arg;
    char *end;
    long id = strtol(num, &end, 10);
    job = *num && !*end && id > 0 && id < 1000 ? nsh_job_find(sh, (int)id) : NULL;
    if (!job)
        fprintf(err, "nsh: %s: %s: no such job\n", who, arg);
    return job;
}

static int b_jobs(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    (void)argv;
    if (argc > 1)
        return usage(err, "jobs");
    nsh_jobs_reap(sh, out);
    for (int prev = 0;;) { // in order of their ids
        struct nsh_job *next = NULL;
        for (int i = 0; i < NSH_JOBS_MAX; i++)
            if (sh->jobs[i].id > prev && (!next || sh->jobs[i].id < next->id))
                next = &sh->jobs[i];
        if (!next)
            return 0;
        fprintf(out, "[%d] running  %s\n", next->id, next->text);
        prev = next->id;
    }
}

static int b_fg(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    if (argc > 2)
        return usage(err, "fg [%N]");
    struct nsh_job *job = job_arg(sh, argc > 1 ? argv[1] : NULL, err, "fg");
    if (!job)
        return 1;
    fprintf(out, "%s\n", job->text);
    fflush(out);
    return nsh_job_wait(sh, job, out, true);
}

static int b_wait(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    int status = 0;
    if (argc == 1) {
        struct nsh_job *job;
        while ((job = nsh_job_last(sh)) != NULL) {
            status = nsh_job_wait(sh, job, out, false);
            if (status == NSH_EXIT_INTERRUPT)
                return status;
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        struct nsh_job *job = job_arg(sh, argv[i], err, "wait");
        status = job ? nsh_job_wait(sh, job, out, false) : NSH_EXIT_NOT_FOUND;
    }
    return status;
}

static int b_history(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    if (argc == 2 && !strcmp(argv[1], "-c")) {
        nsh_history_free(&sh->hist);
        return 0;
    }
    if (argc > 1)
        return usage(err, "history [-c]");
    unsigned long first = sh->hist.total - sh->hist.count + 1;
    for (size_t i = 0; i < sh->hist.count; i++)
        fprintf(out, "%5lu  %s\n", first + i, nsh_history_get(&sh->hist, i));
    return 0;
}

static int b_source(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    (void)out;
    if (argc < 2)
        return usage(err, ". FILE [ARGS...]");
    char path[NB_PATH_MAX];
    const void *text;
    size_t size;
    if (!sh->have_initrd || !nsh_resolve(sh, argv[1], path, sizeof(path)) ||
        nb_initrd_find(&sh->rd, path, &text, &size) != OK) {
        fprintf(err, "nsh: %s: %s: no such file\n", argv[0], argv[1]);
        return 1;
    }
    if (sh->depth >= NSH_SOURCE_DEPTH) {
        fprintf(err, "nsh: %s: %s: nested more than %d deep\n", argv[0], argv[1], NSH_SOURCE_DEPTH);
        return 1;
    }
    int saved_argc = sh->argc;
    char **saved_argv = sh->argv;
    if (argc > 2) { // the script's own $0 $1 ... for its run
        sh->argc = argc - 1;
        sh->argv = argv + 1;
    }
    sh->depth++;
    int status = nsh_run_text(sh, text, size, path);
    sh->depth--;
    if (argc > 2) {
        sh->argc = saved_argc;
        sh->argv = saved_argv;
    }
    return status;
}

static int b_type(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err);

static const struct {
    const char *name;
    nsh_builtin_fn fn;
} builtins[] = {
    {".", b_source},    {"cd", b_cd},     {"exit", b_exit},       {"export", b_export},
    {"fg", b_fg},       {"help", b_help}, {"history", b_history}, {"jobs", b_jobs},
    {"pwd", b_pwd},     {"set", b_set},   {"source", b_source},   {"type", b_type},
    {"unset", b_unset}, {"wait", b_wait},
};

nsh_builtin_fn nsh_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (!strcmp(builtins[i].name, name))
            return builtins[i].fn;
    return NULL;
}

static int b_type(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err)
{
    int status = 0;
    const char *dirs = nsh_vars_get(&sh->vars, "PATH");
    if (!dirs)
        dirs = NSH_DEFAULT_PATH;
    for (int i = 1; i < argc; i++) {
        if (nsh_builtin(argv[i])) {
            fprintf(out, "%s is a shell builtin\n", argv[i]);
            continue;
        }
        bool found = false;
        for (const char *d = dirs; *d && !found && sh->have_initrd;) {
            size_t n = strcspn(d, ":");
            char name[NB_PATH_MAX], path[NB_PATH_MAX];
            const void *image;
            size_t size;
            snprintf(name, sizeof(name), "%.*s/%s", (int)n, d, argv[i]);
            if (!strchr(argv[i], '/') && nsh_resolve(sh, name, path, sizeof(path)) &&
                nb_initrd_find(&sh->rd, path, &image, &size) == OK) {
                fprintf(out, "%s is %s\n", argv[i], path);
                found = true;
            }
            d += n + (d[n] == ':');
        }
        if (!found) {
            fprintf(err, "nsh: type: %s: not found\n", argv[i]);
            status = 1;
        }
    }
    return status;
}
