// Running commands: expansion, builtins, programs from the initrd started
// with nb_spawn and their handles (standard streams, pipes, the roles
// /etc/commands grants), the foreground wait with Ctrl-C, background jobs.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expand.h"
#include "nb/bootstrap.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nsh.h"

#define KEY_INDEX_BITS 8
#define KEY_INTERRUPT  0xffu // the Ctrl-C wait's index in a port key
#define MAX_HANDLES    BOOTSTRAP_HANDLES_MAX
#define REDIR_MESSAGE  "nsh: redirection needs a file system (not yet available)"

// One command of a pipeline, expanded and looked up.
struct stage {
    char **argv; // NULL-terminated
    int argc;
    char **assigns; // "NAME=value" prefix assignments
    size_t nassigns;
    int fdmap[3]; // the child's fd i gets the stream fd fdmap[i] would (N>&M)
    nsh_builtin_fn builtin;
    const char *name;  // the program's name (the last part of its path)
    const char *typed; // argv[0] as typed
    const void *image;
    size_t size;
    const struct nsh_policy_entry *policy;
};

// ---- Expansion

static const char *lookup(void *ctx, const char *name, size_t len)
{
    struct nsh *sh = ctx;
    char *s = sh->scratch;
    size_t cap = sizeof(sh->scratch);
    if (len == 1) {
        switch (name[0]) {
        case '?':
            snprintf(s, cap, "%d", sh->status);
            return s;
        case '$':
            snprintf(s, cap, "%ld", (long)getpid());
            return s;
        case '!':
            if (!sh->last_bg_pid)
                return NULL;
            snprintf(s, cap, "%llu", (unsigned long long)sh->last_bg_pid);
            return s;
        case '#':
            snprintf(s, cap, "%d", sh->argc > 0 ? sh->argc - 1 : 0);
            return s;
        case '@':
        case '*': {
            size_t n = 0;
            s[0] = 0;
            for (int i = 1; i < sh->argc; i++) {
                int w = snprintf(s + n, cap - n, "%s%s", i > 1 ? " " : "", sh->argv[i]);
                if (w < 0 || (size_t)w >= cap - n)
                    break;
                n += (size_t)w;
            }
            return s;
        }
        default:
            if (name[0] >= '0' && name[0] <= '9') {
                int i = name[0] - '0';
                return i < sh->argc ? sh->argv[i] : NULL;
            }
        }
    }
    char var[128];
    if (len >= sizeof(var))
        return NULL;
    memcpy(var, name, len);
    var[len] = 0;
    return nsh_vars_get(&sh->vars, var);
}

// ---- Finding programs

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

// name as a path (when it holds a '/'), else in each directory of $PATH;
// path (NB_PATH_MAX bytes) receives where it was found.
static bool find_program(struct nsh *sh, const char *name, char *path, const void **image,
                         size_t *size)
{
    if (!sh->have_initrd)
        return false;
    if (strchr(name, '/'))
        return nsh_resolve(sh, name, path, NB_PATH_MAX) &&
               nb_initrd_find(&sh->rd, path, image, size) == OK;
    const char *dirs = nsh_vars_get(&sh->vars, "PATH");
    if (!dirs)
        dirs = NSH_DEFAULT_PATH;
    while (*dirs) {
        size_t n = strcspn(dirs, ":");
        char dir[NB_PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s/%s", (int)n, dirs, name);
        if (nsh_resolve(sh, dir, path, NB_PATH_MAX) &&
            nb_initrd_find(&sh->rd, path, image, size) == OK)
            return true;
        dirs += n + (dirs[n] == ':');
    }
    return false;
}

// ---- Preparing a command

// Expands words and checks redirections and handles; 0, or the status of
// the failure (its message printed).
static int prepare(struct nsh *sh, const struct nsh_command *cmd, struct nsh_arena *a,
                   struct stage *st)
{
    struct nsh_expand_ctx x = {lookup, sh};
    *st = (struct stage){.fdmap = {0, 1, 2}};
    for (size_t i = 0; i < cmd->nredirs; i++) {
        const struct nsh_redir *r = &cmd->redirs[i];
        if (r->op != NSH_REDIR_DUP) {
            fprintf(stderr, REDIR_MESSAGE "\n");
            return 1;
        }
        char *target = nsh_expand_string(&x, r->word, a);
        if (!target)
            goto oom;
        bool ok = strlen(target) == 1 && (target[0] == '1' || target[0] == '2') &&
                  (r->fd == 1 || r->fd == 2);
        if (r->fd == 0 && !strcmp(target, "0"))
            continue; // 0<&0: as it is
        if (!ok) {
            fprintf(stderr, "nsh: %d>&%s: only 1 and 2 can be copied (no files yet)\n", r->fd,
                    target);
            return 1;
        }
        st->fdmap[r->fd] = st->fdmap[target[0] - '0'];
    }
    size_t w = 0;
    struct nsh_strvec assigns = {0}, fields = {0};
    for (; w < cmd->nwords; w++) {
        size_t n = nsh_assignment_name_len(cmd->words[w]);
        if (!n)
            break;
        char *value = nsh_expand_string(&x, cmd->words[w] + n + 1, a);
        char *both = value ? nsh_arena_alloc(a, n + strlen(value) + 2) : NULL;
        if (!both)
            goto oom;
        memcpy(both, cmd->words[w], n + 1);
        strcpy(both + n + 1, value);
        if (!nsh_strvec_push(a, &assigns, both))
            goto oom;
    }
    for (; w < cmd->nwords; w++)
        if (!nsh_expand(&x, cmd->words[w], NSH_EXPAND_FIELDS, a, &fields))
            goto oom;
    st->assigns = assigns.items;
    st->nassigns = assigns.count;
    st->argv = fields.items;
    st->argc = (int)fields.count;
    if (!st->argc)
        return 0;
    st->builtin = nsh_builtin(st->argv[0]);
    if (st->builtin)
        return 0;
    char path[NB_PATH_MAX];
    if (!find_program(sh, st->argv[0], path, &st->image, &st->size)) {
        fprintf(stderr, "nsh: %s: not found%s\n", st->argv[0],
                sh->have_initrd ? "" : " (no initrd handle)");
        return NSH_EXIT_NOT_FOUND;
    }
    // argv[0] is the program's path, as init passes it (docs/USERSPACE.md);
    // messages keep the name as typed.
    st->typed = st->argv[0];
    if (!(st->argv[0] = nsh_arena_strndup(a, path, strlen(path))))
        goto oom;
    st->name = base_name(st->argv[0]);
    st->policy = nsh_policy_find(&sh->policy, st->name);
    for (uint32_t i = 0; st->policy && i < st->policy->nroles; i++) {
        uint32_t role = st->policy->roles[i];
        if (role == BOOTSTRAP_ROLE_PROCESS_SELF || (st->policy->optional & (1u << i)) ||
            nb_bootstrap_peek(role) != HANDLE_INVALID)
            continue;
        fprintf(stderr, "nsh: %s: needs the '%s' handle, which nsh was not given\n", st->name,
                nb_bootstrap_role_name(role));
        return NSH_EXIT_CANNOT;
    }
    return 0;
oom:
    fprintf(stderr, "nsh: out of memory\n");
    return 1;
}

// ---- Handles

static handle_t dup_handle(handle_t h)
{
    handle_t d = HANDLE_INVALID;
    if (h != HANDLE_INVALID && nb_handle_duplicate(h, RIGHT_SAME_RIGHTS, &d) != OK)
        d = HANDLE_INVALID;
    return d;
}

static void close_handle(handle_t *h)
{
    if (*h != HANDLE_INVALID)
        nb_handle_close(*h);
    *h = HANDLE_INVALID;
}

// A stream that is at its end at once: standard input of background jobs,
// so they never read the terminal.
static handle_t empty_stream(void)
{
    handle_t a, b;
    if (nb_channel_create(0, &a, &b) != OK)
        return HANDLE_INVALID;
    nb_handle_close(b);
    return a;
}

// Starts st with the given streams (consumed) plus its policy roles, and
// the tty when give_tty.
static status_t spawn(struct nsh *sh, const struct stage *st, handle_t in, handle_t out,
                      handle_t err, bool give_tty, handle_t *proc)
{
    uint32_t roles[MAX_HANDLES];
    handle_t hs[MAX_HANDLES];
    uint32_t n = 0;
    bool self = false;
    const handle_t streams[3] = {in, out, err};
    const uint32_t stream_roles[3] = {BOOTSTRAP_ROLE_STDIN, BOOTSTRAP_ROLE_STDOUT,
                                      BOOTSTRAP_ROLE_STDERR};
    for (int i = 0; i < 3; i++)
        if (streams[i] != HANDLE_INVALID) {
            roles[n] = stream_roles[i];
            hs[n++] = streams[i];
        }
    if (give_tty && sh->tty != HANDLE_INVALID) {
        handle_t t = dup_handle(sh->tty);
        if (t != HANDLE_INVALID) {
            roles[n] = BOOTSTRAP_ROLE_TTY;
            hs[n++] = t;
        }
    }
    for (uint32_t i = 0; st->policy && i < st->policy->nroles && n < MAX_HANDLES; i++) {
        uint32_t role = st->policy->roles[i];
        if (role == BOOTSTRAP_ROLE_PROCESS_SELF) {
            self = true;
            continue;
        }
        handle_t h = dup_handle(nb_bootstrap_peek(role));
        if (h == HANDLE_INVALID)
            continue; // optional and missing (prepare checked the others)
        roles[n] = role;
        hs[n++] = h;
    }
    char **env = nsh_vars_environ(&sh->vars, st->assigns, st->nassigns);
    if (!env) {
        for (uint32_t i = 0; i < n; i++)
            nb_handle_close(hs[i]);
        return ERR_NO_MEMORY;
    }
    struct nb_spawn sp = {
        .name = st->name,
        .elf = st->image,
        .elf_size = st->size,
        .argv = (const char *const *)st->argv,
        .envp = (const char *const *)env,
        .roles = roles,
        .handles = hs,
        .nhandles = n,
        .give_self = self,
        .vmex = HANDLE_INVALID,
    };
    status_t s = nb_spawn(&sp, proc);
    free(env);
    return s;
}

// Writes a builtin's captured output to a stream channel.
static void write_stream(handle_t ch, const char *buf, size_t len)
{
    while (len) {
        uint32_t n = len > CHAN_MAX_MSG_BYTES ? CHAN_MAX_MSG_BYTES : (uint32_t)len;
        struct nb_msg_out m = {.bytes = buf, .nbytes = n};
        status_t s = nb_channel_write(ch, &m);
        if (s == ERR_SHOULD_WAIT) {
            signals_t seen;
            if (nb_object_wait_one(ch, SIGNAL_WRITABLE | SIGNAL_PEER_CLOSED, NB_DEADLINE_INFINITE,
                                   &seen) != OK)
                return;
            continue;
        }
        if (s != OK)
            return; // the reader is gone
        buf += n;
        len -= n;
    }
}

// ---- Waiting

static uint64_t key(uint64_t gen, unsigned index)
{
    return gen << KEY_INDEX_BITS | index;
}

// Waits until every process ends, or Ctrl-C (SIGNAL_USER0 on our standard
// input): then `kill` kills them all and waits for their end, else the wait
// stops (`wait` leaves background jobs running). true if interrupted.
static bool wait_all(struct nsh *sh, const handle_t *procs, size_t n, bool kill)
{
    uint64_t gen = ++sh->wait_gen;
    bool done[NSH_PIPE_MAX] = {false};
    size_t left = 0;
    bool interrupted = false, watching = false;
    for (size_t i = 0; i < n; i++) {
        if (procs[i] == HANDLE_INVALID) {
            done[i] = true;
            continue;
        }
        if (nb_object_wait_async(procs[i], sh->port, key(gen, (unsigned)i), SIGNAL_TERMINATED,
                                 PORT_BIND_ONCE) != OK) {
            signals_t seen; // no port: wait for it alone
            nb_object_wait_one(procs[i], SIGNAL_TERMINATED, NB_DEADLINE_INFINITE, &seen);
            done[i] = true;
            continue;
        }
        left++;
    }
    if (left && sh->in != HANDLE_INVALID) {
        nb_object_signal(sh->in, SIGNAL_USER0, 0); // a Ctrl-C typed at the prompt is old
        watching = nb_object_wait_async(sh->in, sh->port, key(gen, KEY_INTERRUPT), SIGNAL_USER0,
                                        PORT_BIND_ONCE) == OK;
    }
    while (left) {
        struct nb_port_packet pkt;
        if (nb_port_wait(sh->port, NB_DEADLINE_INFINITE, &pkt) != OK)
            break;
        if (pkt.key >> KEY_INDEX_BITS != gen)
            continue; // from an earlier wait
        unsigned index = pkt.key & ((1u << KEY_INDEX_BITS) - 1);
        if (index == KEY_INTERRUPT) {
            watching = false;
            interrupted = true;
            nb_object_signal(sh->in, SIGNAL_USER0, 0); // the terminal echoed "^C" and a newline
            if (!kill)
                break;
            for (size_t i = 0; i < n; i++)
                if (!done[i])
                    nb_task_kill(procs[i]);
        } else if (index < n && !done[index]) {
            done[index] = true;
            left--;
        }
    }
    if (watching)
        nb_port_cancel(sh->port, sh->in, key(gen, KEY_INTERRUPT));
    for (size_t i = 0; i < n && left; i++) // interrupted: stale waits go
        if (!done[i])
            nb_port_cancel(sh->port, procs[i], key(gen, (unsigned)i));
    return interrupted;
}

// What a process's end looks like in a job report: "done", "exit 3",
// "faulted (exit code 139: ...)", "killed".
static void end_word(const struct nb_process_info *info, char *buf, size_t size)
{
    if (info->flags & NB_PROCESS_FAULTED)
        nb_process_describe(info, buf, size);
    else if (info->flags & NB_PROCESS_KILLED)
        snprintf(buf, size, "killed");
    else if (info->exit_code)
        snprintf(buf, size, "exit %lld", (long long)info->exit_code);
    else
        snprintf(buf, size, "done");
}

// Reports faults (and kills by others) of finished processes; the status
// of the last one.
static int collect(const handle_t *procs, char names[][32], size_t n, bool interrupted)
{
    int status = 0;
    for (size_t i = 0; i < n; i++) {
        struct nb_process_info info;
        if (procs[i] == HANDLE_INVALID)
            continue;
        if (nb_process_info(procs[i], &info) != OK) {
            status = NSH_EXIT_CANNOT;
            continue;
        }
        char how[96];
        nb_process_describe(&info, how, sizeof(how));
        if (info.flags & NB_PROCESS_FAULTED)
            fprintf(stderr, "nsh: %s: %s\n", names[i], how);
        else if ((info.flags & NB_PROCESS_KILLED) && !interrupted)
            fprintf(stderr, "nsh: %s: %s\n", names[i], how);
        status = (int)info.exit_code;
    }
    return interrupted ? NSH_EXIT_INTERRUPT : status;
}

// ---- Jobs

struct nsh_job *nsh_job_find(struct nsh *sh, int id)
{
    for (int i = 0; i < NSH_JOBS_MAX; i++)
        if (sh->jobs[i].id && sh->jobs[i].id == id)
            return &sh->jobs[i];
    return NULL;
}

struct nsh_job *nsh_job_last(struct nsh *sh)
{
    struct nsh_job *last = NULL;
    for (int i = 0; i < NSH_JOBS_MAX; i++)
        if (sh->jobs[i].id && (!last || sh->jobs[i].id > last->id))
            last = &sh->jobs[i];
    return last;
}

static void job_free(struct nsh_job *job)
{
    for (size_t i = 0; i < job->nprocs; i++)
        close_handle(&job->procs[i]);
    job->id = 0;
}

static bool job_finished(const struct nsh_job *job)
{
    for (size_t i = 0; i < job->nprocs; i++) {
        signals_t seen = 0;
        if (job->procs[i] != HANDLE_INVALID &&
            (nb_object_wait_one(job->procs[i], SIGNAL_TERMINATED, NB_DEADLINE_POLL, &seen) != OK ||
             !(seen & SIGNAL_TERMINATED)))
            return false;
    }
    return true;
}

static void job_report(const struct nsh_job *job, FILE *out)
{
    struct nb_process_info info = {0};
    char how[96] = "done";
    handle_t last = job->nprocs ? job->procs[job->nprocs - 1] : HANDLE_INVALID;
    if (last != HANDLE_INVALID && nb_process_info(last, &info) == OK)
        end_word(&info, how, sizeof(how));
    fprintf(out, "[%d] %s  %s\n", job->id, how, job->text);
}

void nsh_jobs_reap(struct nsh *sh, FILE *out)
{
    for (int i = 0; i < NSH_JOBS_MAX; i++) {
        struct nsh_job *job = &sh->jobs[i];
        if (job->id && job_finished(job)) {
            job_report(job, out);
            job_free(job);
        }
    }
    fflush(out);
}

int nsh_job_wait(struct nsh *sh, struct nsh_job *job, FILE *out, bool foreground)
{
    bool interrupted = wait_all(sh, job->procs, job->nprocs, foreground);
    if (interrupted && !foreground)
        return NSH_EXIT_INTERRUPT; // the job runs on
    int status = collect(job->procs, job->names, job->nprocs, interrupted);
    if (!interrupted)
        job_report(job, out);
    job_free(job);
    return status;
}

static struct nsh_job *job_add(struct nsh *sh, const handle_t *procs, const struct stage *st,
                               size_t n, const char *text)
{
    struct nsh_job *slot = NULL, *last = nsh_job_last(sh);
    for (int i = 0; i < NSH_JOBS_MAX && !slot; i++)
        if (!sh->jobs[i].id)
            slot = &sh->jobs[i];
    if (!slot)
        return NULL;
    *slot = (struct nsh_job){.id = last ? last->id + 1 : 1, .nprocs = n};
    for (size_t i = 0; i < n; i++) {
        slot->procs[i] = procs[i];
        snprintf(slot->names[i], sizeof(slot->names[i]), "%s",
                 st[i].typed ? st[i].typed : st[i].argv[0]);
    }
    snprintf(slot->text, sizeof(slot->text), "%s", text);
    struct nb_process_info info;
    if (n && procs[n - 1] != HANDLE_INVALID && nb_process_info(procs[n - 1], &info) == OK)
        slot->pid = info.pid;
    return slot;
}

// ---- Pipelines

static int run_builtin_here(struct nsh *sh, const struct stage *st)
{
    FILE *out = st->fdmap[1] == 2 ? stderr : stdout;
    FILE *err = st->fdmap[2] == 1 ? stdout : stderr;
    int status = st->builtin(sh, st->argc, st->argv, out, err);
    fflush(stdout);
    fflush(stderr);
    return status;
}

// Sets the shell variables of NAME=value strings.
static void assign(struct nsh *sh, char **assigns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = nsh_assignment_name_len(assigns[i]);
        assigns[i][len] = 0;
        if (!nsh_vars_set(&sh->vars, assigns[i], assigns[i] + len + 1, false))
            fprintf(stderr, "nsh: out of memory\n");
        assigns[i][len] = '=';
    }
}

static int run_pipeline(struct nsh *sh, const struct nsh_pipeline *pl, bool background,
                        const char *text, struct nsh_arena *a)
{
    size_t n = pl->ncmds;
    if (n > NSH_PIPE_MAX) {
        fprintf(stderr, "nsh: more than %d commands in a pipeline\n", NSH_PIPE_MAX);
        return 1;
    }
    struct stage st[NSH_PIPE_MAX];
    for (size_t i = 0; i < n; i++) {
        int status = prepare(sh, &pl->cmds[i], a, &st[i]);
        if (status)
            return status;
    }
    if (n == 1 && !st[0].argc) {
        assign(sh, st[0].assigns, st[0].nassigns);
        return 0;
    }
    if (n == 1 && st[0].builtin)
        return run_builtin_here(sh, &st[0]);

    // Streams: pipe i joins stage i's standard output to stage i+1's input.
    handle_t pipe_w[NSH_PIPE_MAX], pipe_r[NSH_PIPE_MAX], procs[NSH_PIPE_MAX];
    handle_t bin_in[NSH_PIPE_MAX], bin_out[NSH_PIPE_MAX], bin_err[NSH_PIPE_MAX];
    char names[NSH_PIPE_MAX][32];
    for (size_t i = 0; i < n; i++) {
        pipe_w[i] = pipe_r[i] = procs[i] = HANDLE_INVALID;
        bin_in[i] = bin_out[i] = bin_err[i] = HANDLE_INVALID;
        snprintf(names[i], sizeof(names[i]), "%s",
                 st[i].typed  ? st[i].typed
                 : st[i].argc ? st[i].argv[0]
                              : "");
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (nb_channel_create(0, &pipe_w[i], &pipe_r[i]) != OK) {
            fprintf(stderr, "nsh: cannot make a pipe\n");
            for (size_t k = 0; k < i; k++) {
                close_handle(&pipe_w[k]);
                close_handle(&pipe_r[k]);
            }
            return NSH_EXIT_CANNOT;
        }
    }
    fflush(stdout);
    fflush(stderr);
    int status = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        handle_t in = i ? pipe_r[i - 1] : background ? empty_stream() : dup_handle(sh->in);
        handle_t nat[3] = {HANDLE_INVALID, i + 1 < n ? pipe_w[i] : dup_handle(sh->out),
                           dup_handle(sh->err)};
        if (i)
            pipe_r[i - 1] = HANDLE_INVALID;
        pipe_w[i] = HANDLE_INVALID;
        handle_t out = dup_handle(nat[st[i].fdmap[1]]), err = dup_handle(nat[st[i].fdmap[2]]);
        close_handle(&nat[1]);
        close_handle(&nat[2]);
        if (failed || !st[i].argc) {
            close_handle(&in);
            close_handle(&out);
            close_handle(&err);
        } else if (st[i].builtin) {
            bin_in[i] = in;
            bin_out[i] = out;
            bin_err[i] = err;
        } else {
            // The tty goes to a foreground command whose streams are all
            // the terminal's: libnimbus marks fds 0-2 as a terminal when it
            // gets one, which a pipe end is not.
            status_t s = spawn(sh, &st[i], in, out, err, !background && n == 1, &procs[i]);
            if (s != OK) {
                fprintf(stderr, "nsh: %s: cannot run: %s\n", names[i], status_str(s));
                procs[i] = HANDLE_INVALID;
                failed = true;
                status = NSH_EXIT_CANNOT;
            }
        }
    }
    // Builtins run here, their output captured and sent down the pipe.
    for (size_t i = 0; i < n; i++) {
        if (!st[i].builtin)
            continue;
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = failed ? NULL : open_memstream(&buf, &len);
        if (mem) {
            int s = st[i].builtin(sh, st[i].argc, st[i].argv, mem, stderr);
            fclose(mem);
            if (i + 1 == n)
                status = s;
            if (bin_out[i] != HANDLE_INVALID)
                write_stream(bin_out[i], buf, len);
            else
                fwrite(buf, 1, len, stdout);
            free(buf);
        }
        close_handle(&bin_in[i]);
        close_handle(&bin_out[i]);
        close_handle(&bin_err[i]);
    }
    if (failed) {
        for (size_t i = 0; i < n; i++)
            if (procs[i] != HANDLE_INVALID) {
                nb_task_kill(procs[i]);
                close_handle(&procs[i]);
            }
        return status;
    }
    if (background) {
        struct nsh_job *job = job_add(sh, procs, st, n, text);
        if (!job) {
            fprintf(stderr, "nsh: more than %d jobs: waiting for this one\n", NSH_JOBS_MAX);
        } else {
            sh->last_bg_pid = job->pid;
            fprintf(stderr, "[%d] %llu\n", job->id, (unsigned long long)job->pid);
            return 0;
        }
    }
    bool interrupted = wait_all(sh, procs, n, true);
    int s = collect(procs, names, n, interrupted);
    if (interrupted || !st[n - 1].builtin)
        status = s;
    for (size_t i = 0; i < n; i++)
        close_handle(&procs[i]);
    return status;
}

void nsh_run_program(struct nsh *sh, const struct nsh_program *prog, struct nsh_arena *a)
{
    for (size_t i = 0; i < prog->nitems && !sh->exiting; i++) {
        const struct nsh_andor *ao = &prog->items[i];
        if (ao->background && ao->npipes > 1) {
            fprintf(stderr, "nsh: '&' after '&&' or '||' is not supported: run the parts apart\n");
            sh->status = NSH_EXIT_USAGE;
            continue;
        }
        for (size_t k = 0; k < ao->npipes && !sh->exiting; k++) {
            if ((ao->conns[k] == NSH_AND && sh->status != 0) ||
                (ao->conns[k] == NSH_OR && sh->status == 0))
                continue;
            const struct nsh_pipeline *pl = &ao->pipes[k];
            int status = run_pipeline(sh, pl, ao->background, ao->text, a);
            sh->status = pl->negate ? !status : status;
        }
    }
}
