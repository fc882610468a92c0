// init: the first user process. Reads the manifest from the initrd, starts
// each program with the handles it lists, logs how each one ends and
// restarts those marked `restart`, with a growing back-off and a limit.
//
// Handles init expects in its bootstrap message: "initrd" (vmo, READ and MAP
// or READ; DUPLICATE to pass it on), "log" (optional; else the debug
// console), and whatever else manifest lines ask for ("root_resource" ...).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/initrd.h"
#include "nb/loop.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"

#define DEFAULT_MANIFEST "etc/init.manifest"
#define BACKOFF_FIRST_NS (100 * NB_NSEC_PER_MSEC)
#define BACKOFF_MAX_NS   (10 * NB_NSEC_PER_SEC)
#define STABLE_NS        (10 * NB_NSEC_PER_SEC) // running this long resets the count

struct program {
    const struct manifest_entry *m;
    handle_t proc;            // while running
    struct nb_wait exit_wait; // SIGNAL_TERMINATED on proc
    struct nb_loop_timer restart;
    uint32_t failures; // restarts in a row
    uint64_t started_ns;
    bool running, restart_pending;
};

static struct {
    struct nb_loop loop;
    struct nb_initrd rd;
    struct manifest manifest;
    struct program *progs;
    size_t next;              // next manifest entry to start
    struct program *blocking; // a `wait` program the sequence waits for
    bool all_started;         // "manifest done" was logged
} init;

static void start_next(void);
static void program_ended(struct program *p, const char *how);

// Duplicates init's own handle for each role of the entry (the process's own
// handle, "self", is made by nb_spawn).
static status_t gather_handles(const struct manifest_entry *m, uint32_t *roles, handle_t *hs,
                               uint32_t *n, bool *self)
{
    *n = 0;
    *self = false;
    for (uint32_t i = 0; i < m->nroles; i++) {
        if (m->roles[i] == BOOTSTRAP_ROLE_PROCESS_SELF) {
            *self = true;
            continue;
        }
        handle_t mine = nb_bootstrap_peek(m->roles[i]);
        bool optional = m->optional & (1u << i);
        if (mine == HANDLE_INVALID && optional)
            continue;
        status_t s = mine == HANDLE_INVALID ? ERR_NOT_FOUND
                                            : nb_handle_duplicate(mine, RIGHT_SAME_RIGHTS, &hs[*n]);
        if (s != OK) {
            nb_logf("init: %s: no '%s' handle to give: %s", m->name,
                    nb_bootstrap_role_name(m->roles[i]), status_str(s));
            for (uint32_t j = 0; j < *n; j++)
                nb_handle_close(hs[j]);
            return s;
        }
        roles[(*n)++] = m->roles[i];
    }
    return OK;
}

static void on_exit_signal(struct nb_loop *loop, struct nb_wait *w, status_t status,
                           signals_t observed)
{
    struct program *p = w->ctx;
    struct nb_process_info info;
    char how[160];
    (void)loop;
    (void)status;
    (void)observed;

    status_t s = nb_process_info(p->proc, &info);
    if (s == OK)
        nb_process_describe(&info, how, sizeof(how));
    else
        snprintf(how, sizeof(how), "ended (no process info: %s)", status_str(s));
    nb_handle_close(p->proc);
    p->proc = HANDLE_INVALID;
    p->running = false;
    program_ended(p, how);
}

static status_t spawn(struct program *p)
{
    const struct manifest_entry *m = p->m;
    uint32_t roles[MANIFEST_HANDLES_MAX];
    handle_t hs[MANIFEST_HANDLES_MAX];
    struct nb_spawn sp = {
        .name = m->name, .argv = m->argv, .envp = m->envp, .roles = roles, .handles = hs};
    status_t s;

    if ((s = nb_initrd_find(&init.rd, m->path, &sp.elf, &sp.elf_size)) != OK)
        return s;
    if ((s = gather_handles(m, roles, hs, &sp.nhandles, &sp.give_self)) != OK)
        return s;
    return nb_spawn(&sp, &p->proc);
}

static void start_program(struct program *p)
{
    status_t s = spawn(p);
    char how[80];

    p->started_ns = nb_now();
    if (s == OK) {
        p->exit_wait = (struct nb_wait){
            .object = p->proc, .signals = SIGNAL_TERMINATED, .fn = on_exit_signal, .ctx = p};
        s = nb_wait_start(&init.loop, &p->exit_wait);
        if (s != OK) {
            nb_task_kill(p->proc);
            nb_handle_close(p->proc);
        }
    }
    if (s != OK) {
        snprintf(how, sizeof(how), "could not start: %s", status_str(s));
        program_ended(p, how);
        return;
    }
    p->running = true;
    nb_logf("init: started %s (%s)", p->m->name, p->m->path);
}

static void on_restart_timer(struct nb_loop *loop, struct nb_loop_timer *t)
{
    struct program *p = t->ctx;
    (void)loop;
    p->restart_pending = false;
    start_program(p);
}

static uint64_t backoff_ns(uint32_t failures)
{
    uint64_t ns = BACKOFF_FIRST_NS;
    while (failures-- && ns < BACKOFF_MAX_NS)
        ns *= 2;
    return ns < BACKOFF_MAX_NS ? ns : BACKOFF_MAX_NS;
}

// Restarts p after a back-off if its policy allows; true if it will.
static bool schedule_restart(struct program *p)
{
    if (!p->m->restarts)
        return false;
    if (nb_now() - p->started_ns >= STABLE_NS)
        p->failures = 0;
    if (p->failures >= p->m->restarts) {
        nb_logf("init: %s: giving up after %u restarts", p->m->name, p->failures);
        return false;
    }
    uint64_t delay = backoff_ns(p->failures++);
    status_t s = nb_loop_timer_start(&init.loop, &p->restart, nb_deadline_after(delay));
    if (s != OK) {
        nb_logf("init: %s: cannot schedule a restart: %s", p->m->name, status_str(s));
        return false;
    }
    nb_logf("init: %s: restart %u of %u in %llu ms", p->m->name, p->failures, p->m->restarts,
            (unsigned long long)(delay / NB_NSEC_PER_MSEC));
    p->restart_pending = true;
    return true;
}

static void program_ended(struct program *p, const char *how)
{
    nb_logf("init: %s %s", p->m->name, how);
    if (schedule_restart(p))
        return;
    if (init.blocking == p) {
        init.blocking = NULL;
        start_next();
    }
}

// Starts manifest entries in order, stopping after one marked `wait` until
// that one has ended for good.
static void start_next(void)
{
    while (!init.blocking && init.next < init.manifest.count) {
        struct program *p = &init.progs[init.next++];
        if (p->m->wait)
            init.blocking = p; // before starting: it may end at once
        start_program(p);
    }
    // Once: every line is started and none holds the others back (tests and
    // tools wait for this line).
    if (!init.blocking && init.next == init.manifest.count && !init.all_started) {
        init.all_started = true;
        nb_logf("init: manifest done (%zu programs)", init.manifest.count);
    }
}

static status_t load_manifest(const char *path)
{
    const void *text;
    size_t len;
    char err[160];
    status_t s;

    if ((s = nb_initrd_find(&init.rd, path, &text, &len)) != OK) {
        nb_logf("init: no manifest %s: %s", path, status_str(s));
        return s;
    }
    if ((s = manifest_parse(text, len, &init.manifest, err, sizeof(err))) != OK) {
        nb_logf("init: %s: %s", path, s == ERR_BAD_FORMAT ? err : status_str(s));
        return s;
    }
    init.progs = calloc(init.manifest.count ? init.manifest.count : 1, sizeof(*init.progs));
    if (!init.progs)
        return ERR_NO_MEMORY;
    for (size_t i = 0; i < init.manifest.count; i++) {
        struct program *p = &init.progs[i];
        p->m = &init.manifest.entries[i];
        if ((s = nb_loop_timer_init(&p->restart, on_restart_timer, p)) != OK)
            return s;
    }
    return OK;
}

static status_t setup(const char *manifest_path)
{
    status_t s;

    if ((s = nb_bootstrap_load()) != OK) {
        nb_logf("init: no bootstrap message: %s", status_str(s));
        return s;
    }
    handle_t initrd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    if (initrd == HANDLE_INVALID) {
        nb_logf("init: no initrd handle");
        return ERR_NOT_FOUND;
    }
    if ((s = nb_initrd_open(&init.rd, initrd)) != OK) {
        nb_logf("init: cannot read the initrd: %s", status_str(s));
        return s;
    }
    if ((s = nb_loop_init(&init.loop)) != OK) {
        nb_logf("init: no port: %s", status_str(s));
        return s;
    }
    return load_manifest(manifest_path);
}

int main(int argc, char **argv)
{
    const char *manifest = argc > 1 ? argv[1] : DEFAULT_MANIFEST;

    nb_logf("init: starting (manifest %s)", manifest);
    if (setup(manifest) == OK) {
        start_next();
        status_t s = nb_loop_run(&init.loop, NB_DEADLINE_INFINITE);
        nb_logf("init: event loop stopped: %s", status_str(s));
    }
    // init has nothing to go back to: stay, so the kernel keeps a first
    // process and the log shows why.
    for (;;)
        nb_nanosleep(NB_DEADLINE_INFINITE);
}
