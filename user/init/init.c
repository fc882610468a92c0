// init: the first user process. Reads the manifest from the initrd, starts
// each program with the handles it lists, logs how each one ends and
// restarts those marked `restart`, with a growing back-off and a limit.
//
// Handles init expects in its bootstrap message: "initrd" (vmo, READ and MAP
// or READ; DUPLICATE to pass it on), "log" (optional; else the debug
// console), and whatever else manifest lines ask for ("root_resource" ...).
//
// Services (docs/CONSOLE.md): a `provides=console` line gets the server end
// of a channel made for each start (role "console"); init keeps the client
// end. A `stdio=console` line gets a terminal opened anew on it for each
// start (stdin, stdout, stderr and tty), or no stdio roles at all (the
// kernel console) when the service is not up.
//
// A `stdio=device:CLASS` line gets a terminal from the driver of the first
// device of that class (docs/CONSOLE.md, "A second console"): init opens the
// device through the devices service (devmgr.open on a client channel of
// its own) and calls console.open on the driver's connection. Without such
// a device the line is not started; while the driver is not up it is tried
// again like a program that ended.
//
// Other services (provides=devices: docs/DEVICES.md, "Device manager") get
// their server end as role "service"; a line listing the service's client
// role (handles=devices) gets a new channel whose other end init sends to
// the provider in a `connect` message (proto/devmgr.nidl).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "nb/bootstrap.h"
#include "nb/transport.h"
#include "proto/console.h"
#include "proto/devmgr.h"
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
#define OPEN_TIMEOUT_NS  (10 * NB_NSEC_PER_SEC) // a console's answer to open
#define STDIO_ROLES      4                      // stdin, stdout, stderr, tty
#define SPAWN_HANDLES    (MANIFEST_HANDLES_MAX + STDIO_ROLES + 1)

struct program {
    const struct manifest_entry *m;
    handle_t proc;            // while running
    struct nb_wait exit_wait; // SIGNAL_TERMINATED on proc
    struct nb_loop_timer restart;
    uint32_t failures; // restarts in a row
    uint64_t started_ns;
    bool running, restart_pending;
    struct program *provider; // stdio=: the program providing the service
    handle_t service;         // provides=: client end of the running instance's channel
    bool stdio_wait;          // stdio=: start deferred until the provider is up
    bool stdio_absent;        // stdio=device: no such device (not started, for good)
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
static void program_ended(struct program *p, const char *how, bool permanent);
static void start_program(struct program *p);

// A client channel of a service other than the console: one end goes to
// the running provider in a `connect` message, *out is the other.
// ERR_NOT_FOUND when no provider runs.
static status_t connect_service(uint32_t service, handle_t *out)
{
    struct program *prov = NULL;
    for (size_t i = 0; i < init.manifest.count && !prov; i++)
        if (init.progs[i].m->provides == service && init.progs[i].service != HANDLE_INVALID)
            prov = &init.progs[i];
    if (!prov)
        return ERR_NOT_FOUND;
    handle_t mine, theirs;
    status_t s = nb_channel_create(0, &mine, &theirs);
    if (s != OK)
        return s;
    uint64_t bytes[DEVMGR_CONNECT_REQUEST_MAX_BYTES / 8 + 1];
    handle_t h[1];
    struct nb_msg_in m = {
        .bytes = bytes, .handles = h, .bytes_cap = sizeof(bytes), .handles_cap = 1};
    if ((s = devmgr_connect_request_encode(&m, theirs)) == OK) {
        struct nb_msg_out o = {
            .bytes = m.bytes, .handles = m.handles, .nbytes = m.nbytes, .nhandles = m.nhandles};
        s = nb_channel_write(prov->service, &o);
    }
    if (s != OK) {
        nb_handle_close(mine);
        nb_handle_close(theirs);
        return s;
    }
    *out = mine;
    return OK;
}

// Duplicates init's own handle for each role of the entry (the process's own
// handle, "self", is made by nb_spawn).
static status_t gather_handles(const struct manifest_entry *m, uint32_t *roles, handle_t *hs,
                               uint32_t *n, bool *self, bool *permanent)
{
    *n = 0;
    *self = false;
    for (uint32_t i = 0; i < m->nroles; i++) {
        if (m->roles[i] == BOOTSTRAP_ROLE_PROCESS_SELF) {
            *self = true;
            continue;
        }
        uint32_t service = manifest_service_by_client_role(m->roles[i]);
        handle_t mine = nb_bootstrap_peek(m->roles[i]);
        bool optional = m->optional & (1u << i);
        status_t s;
        if (service && mine == HANDLE_INVALID) {
            s = connect_service(service, &hs[*n]);
            if (s != OK && optional)
                continue;
        } else {
            if (mine == HANDLE_INVALID && optional)
                continue;
            s = mine == HANDLE_INVALID ? ERR_NOT_FOUND
                                       : nb_handle_duplicate(mine, RIGHT_SAME_RIGHTS, &hs[*n]);
        }
        if (s != OK) {
            *permanent = !service && mine == HANDLE_INVALID; // init never gets more handles
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
    if (p->service != HANDLE_INVALID) {
        nb_handle_close(p->service); // its users see PEER_CLOSED already
        p->service = HANDLE_INVALID;
    }
    program_ended(p, how, false);
}

// ---- Services ----

// Reads and drops whatever waits on a client end: a reply that came after
// its call timed out, with the handles it carried.
static void drop_stale_replies(handle_t ch)
{
    uint64_t bytes[CONSOLE_MAX_MSG_BYTES / 8];
    handle_t hs[CONSOLE_MAX_MSG_HANDLES];
    for (;;) {
        struct nb_msg_in m = {.bytes = bytes,
                              .handles = hs,
                              .bytes_cap = sizeof(bytes),
                              .handles_cap = CONSOLE_MAX_MSG_HANDLES};
        if (nb_channel_read(ch, &m) != OK)
            return; // empty (or too big for any reply: left, harmlessly)
        for (uint32_t i = 0; i < m.nhandles; i++)
            nb_handle_close(hs[i]);
    }
}

// console.open on the provider's channel through the typed transport, with
// the generated codecs (the generated console_open stub hands back its
// handle array from its own stack frame, so it is not used). term[0] =
// data, term[1] = control on OK; ERR_PEER_CLOSED when the provider is going
// away; *refused: the service's own status.
static status_t console_open_terminal(handle_t service, handle_t term[2], status_t *refused)
{
    uint64_t buf[CONSOLE_MAX_MSG_BYTES / 8];
    handle_t hs[CONSOLE_MAX_MSG_HANDLES];
    struct nb_channel_transport ct;
    nb_channel_transport_init(&ct, service, buf, sizeof(buf));
    ct.timeout_ns = OPEN_TIMEOUT_NS;

    *refused = OK;
    struct nb_msg_in req = {.bytes = buf, .bytes_cap = sizeof(buf)};
    status_t st = console_open_request_encode(&req);
    if (st != OK)
        return st;
    struct nb_msg_out out = {.bytes = req.bytes, .nbytes = req.nbytes};
    struct nb_msg_in reply = {.bytes = buf,
                              .handles = hs,
                              .bytes_cap = sizeof(buf),
                              .handles_cap = CONSOLE_MAX_MSG_HANDLES};
    if ((st = ct.tr.call(ct.tr.ctx, &out, &reply)) != OK)
        return st;
    const handle_t *got;
    uint32_t n;
    st = console_open_response_decode(&reply, refused, &got, &n);
    if (st == OK && *refused == OK && n == 2) {
        term[0] = got[0];
        term[1] = got[1];
        return OK;
    }
    for (uint32_t i = 0; i < reply.nhandles; i++)
        nb_handle_close(hs[i]);
    return st != OK ? st : ERR_PROTOCOL;
}

enum stdio_plan {
    STDIO_TERMINAL, // term[] holds a new terminal
    STDIO_KERNEL,   // no stdio roles: the kernel console
    STDIO_WAIT,     // the provider is (re)starting: try again once it is up
    STDIO_NONE,     // stdio=device: no terminal will come; not started
    STDIO_RETRY,    // stdio=device: the driver is not up; not started this time
};

// stdio=device:CLASS: devmgr.open(CLASS, 0) on a new client channel of the
// devices service, then console.open on the driver's connection. *why: the
// status behind STDIO_NONE or STDIO_RETRY.
static enum stdio_plan plan_device_stdio(struct program *p, handle_t term[2], status_t *why)
{
    struct program *prov = p->provider;
    const char *cls = p->m->stdio_device;
    handle_t dm, drv = HANDLE_INVALID;
    status_t refused = OK;

    if (prov->restart_pending)
        return STDIO_WAIT;
    if ((*why = connect_service(p->m->stdio, &dm)) != OK) {
        nb_logf("init: %s: no devices service (%s is not running)", p->m->name, prov->m->name);
        return STDIO_NONE;
    }
    uint64_t buf[DEVMGR_MAX_MSG_BYTES / 8 + 1];
    struct nb_channel_transport ct;
    nb_channel_transport_init(&ct, dm, buf, sizeof(buf));
    ct.timeout_ns = OPEN_TIMEOUT_NS;
    status_t st = devmgr_open(&ct.tr, cls, (uint32_t)strlen(cls), 0, &refused, &drv);
    nb_handle_close(dm); // a late reply goes with it
    if (st == OK && refused == ERR_NOT_FOUND) {
        *why = refused;
        p->stdio_absent = true;
        return STDIO_NONE;
    }
    if (st == OK && refused == OK && drv == HANDLE_INVALID)
        st = ERR_PROTOCOL;
    if (st == OK && refused == OK) {
        st = console_open_terminal(drv, term, &refused);
        nb_handle_close(drv);
    }
    if (st == OK && refused == OK) {
        nb_logf("init: %s: stdio on a terminal of device %s 0", p->m->name, cls);
        return STDIO_TERMINAL;
    }
    *why = st != OK ? st : refused;
    nb_logf("init: %s: no terminal from device %s 0 yet: %s", p->m->name, cls, status_str(*why));
    return STDIO_RETRY;
}

static enum stdio_plan plan_stdio(struct program *p, handle_t term[2], status_t *why)
{
    struct program *prov = p->provider;
    const char *service = manifest_service_name(p->m->stdio);
    status_t refused;

    if (p->m->stdio_device)
        return plan_device_stdio(p, term, why);
    if (prov->restart_pending)
        return STDIO_WAIT;
    if (!prov->running || prov->service == HANDLE_INVALID) {
        nb_logf("init: %s: no %s service (%s is not running); stdio stays on the kernel console",
                p->m->name, service, prov->m->name);
        return STDIO_KERNEL;
    }
    drop_stale_replies(prov->service);
    status_t st = console_open_terminal(prov->service, term, &refused);
    if (st == OK) {
        nb_logf("init: %s: stdio on a %s terminal", p->m->name, service);
        return STDIO_TERMINAL;
    }
    if (st == ERR_PEER_CLOSED)
        return STDIO_WAIT; // it is ending: its exit decides (restart or give up)
    nb_logf("init: %s: no %s terminal (open: %s); stdio stays on the kernel console", p->m->name,
            service, status_str(refused != OK ? refused : st));
    return STDIO_KERNEL;
}

// Starts the programs that wait for prov (now up, or down for good).
static void release_stdio_waiters(struct program *prov)
{
    for (size_t i = 0; i < init.manifest.count; i++) {
        struct program *q = &init.progs[i];
        if (q->stdio_wait && q->provider == prov) {
            q->stdio_wait = false;
            start_program(q);
        }
    }
}

// Adds the stdio roles for a terminal: its data channel three times (stdin,
// stdout, stderr), its control channel as tty. Consumes term[].
static status_t add_stdio(handle_t term[2], uint32_t *roles, handle_t *hs, uint32_t *n)
{
    static const uint32_t stdio_roles[STDIO_ROLES] = {BOOTSTRAP_ROLE_STDIN, BOOTSTRAP_ROLE_STDOUT,
                                                      BOOTSTRAP_ROLE_STDERR, BOOTSTRAP_ROLE_TTY};
    handle_t dup[2] = {HANDLE_INVALID, HANDLE_INVALID};
    status_t st = nb_handle_duplicate(term[0], RIGHT_SAME_RIGHTS, &dup[0]);
    if (st == OK)
        st = nb_handle_duplicate(term[0], RIGHT_SAME_RIGHTS, &dup[1]);
    if (st != OK) {
        if (dup[0] != HANDLE_INVALID)
            nb_handle_close(dup[0]);
        nb_handle_close(term[0]);
        nb_handle_close(term[1]);
        return st;
    }
    const handle_t give[STDIO_ROLES] = {term[0], dup[0], dup[1], term[1]};
    for (int i = 0; i < STDIO_ROLES; i++) {
        roles[*n] = stdio_roles[i];
        hs[(*n)++] = give[i];
    }
    return OK;
}

// ---- Starting ----

static void close_all(const handle_t *hs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        nb_handle_close(hs[i]);
}

// *deferred: not started, to be tried again once the stdio provider is up.
// *permanent (on failure): trying again cannot help (no such program, a
// handle init does not have).
static status_t spawn(struct program *p, bool *permanent, bool *deferred)
{
    const struct manifest_entry *m = p->m;
    uint32_t roles[SPAWN_HANDLES];
    handle_t hs[SPAWN_HANDLES];
    struct nb_spawn sp = {
        .name = m->name, .argv = m->argv, .envp = m->envp, .roles = roles, .handles = hs};
    handle_t term[2], server, client = HANDLE_INVALID;
    status_t s;

    *permanent = *deferred = false;
    if ((s = nb_initrd_find(&init.rd, m->path, &sp.elf, &sp.elf_size)) != OK) {
        *permanent = s == ERR_NOT_FOUND;
        return s;
    }
    if ((s = gather_handles(m, roles, hs, &sp.nhandles, &sp.give_self, permanent)) != OK)
        return s;
    if (m->stdio) {
        switch (plan_stdio(p, term, &s)) {
        case STDIO_TERMINAL:
            if ((s = add_stdio(term, roles, hs, &sp.nhandles)) != OK)
                nb_logf("init: %s: terminal not passed on (%s); stdio stays on the kernel "
                        "console",
                        m->name, status_str(s));
            break;
        case STDIO_KERNEL:
            break;
        case STDIO_WAIT:
            close_all(hs, sp.nhandles);
            *deferred = true;
            return OK;
        case STDIO_NONE:
        case STDIO_RETRY:
            close_all(hs, sp.nhandles);
            *permanent = s == ERR_NOT_FOUND; // no device, no devices service
            return s;
        }
    }
    if (m->provides) {
        if ((s = nb_channel_create(0, &server, &client)) != OK) {
            close_all(hs, sp.nhandles);
            return s;
        }
        roles[sp.nhandles] = manifest_service_role(m->provides);
        hs[sp.nhandles++] = server;
    }
    if ((s = nb_spawn(&sp, &p->proc)) != OK) { // hs[] consumed either way
        if (client != HANDLE_INVALID)
            nb_handle_close(client);
        return s;
    }
    if (m->provides) {
        if (p->service != HANDLE_INVALID)
            nb_handle_close(p->service);
        p->service = client;
    }
    return OK;
}

static void start_program(struct program *p)
{
    bool permanent, deferred;
    status_t s = spawn(p, &permanent, &deferred);
    char how[120];

    if (deferred) {
        p->stdio_wait = true;
        nb_logf("init: %s: waiting for %s to start", p->m->name, p->provider->m->name);
        return;
    }
    p->started_ns = nb_now();
    if (s == OK) {
        p->exit_wait = (struct nb_wait){
            .object = p->proc, .signals = SIGNAL_TERMINATED, .fn = on_exit_signal, .ctx = p};
        s = nb_wait_start(&init.loop, &p->exit_wait);
        if (s != OK) {
            nb_task_kill(p->proc);
            nb_handle_close(p->proc);
            if (p->service != HANDLE_INVALID)
                nb_handle_close(p->service);
            p->service = HANDLE_INVALID;
        }
    }
    if (s != OK && p->stdio_absent) {
        // The device is not there (devmgr finds devices once): not an error.
        snprintf(how, sizeof(how), "not started: no %s device", p->m->stdio_device);
        program_ended(p, how, true);
        return;
    }
    if (s != OK) {
        snprintf(how, sizeof(how), "could not start: %s%s", status_str(s),
                 permanent ? " (not restarted: that will not change)" : "");
        program_ended(p, how, permanent);
        return;
    }
    p->running = true;
    nb_logf("init: started %s (%s)", p->m->name, p->m->path);
    if (p->m->provides)
        release_stdio_waiters(p);
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

static void program_ended(struct program *p, const char *how, bool permanent)
{
    nb_logf("init: %s %s", p->m->name, how);
    if (!permanent && schedule_restart(p))
        return;
    if (p->m->provides)
        release_stdio_waiters(p); // down for good: they start without it
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
        p->service = HANDLE_INVALID;
        if (p->m->provider >= 0)
            p->provider = &init.progs[p->m->provider];
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
    // Nothing can run: end, and the kernel stops the machine (it reports
    // init's end; panic=exit ends QEMU), rather than idle with no programs.
    return 1;
}
