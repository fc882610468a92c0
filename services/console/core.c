// The console service's logic (console.h): terminals, input through each
// terminal's line discipline, output to the serial line, and the console
// protocol's requests. No system calls here: con_ops does the I/O.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "proto/console.h"
#include "proto/devmgr.h"

#define REQUESTS_PER_CALL 16 // control or service requests one call answers

static void logf_(struct con *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct con *c, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    if (!c->ops->log)
        return;
    int n = snprintf(line, sizeof(line), "%s: ", c->name);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    c->ops->log(c->ctx, line);
}

// ---- Output ----

// Bytes to the serial line with NL -> CR NL, in stack-sized pieces.
static void line_out(struct con *c, const char *s, size_t n)
{
    char out[512];
    while (n) {
        size_t used;
        size_t len = ldisc_output(s, n, out, sizeof(out), &used);
        c->ops->line_write(c->ctx, out, len);
        s += used;
        n -= used;
    }
}

static void term_echo(void *ctx, const char *s, size_t n)
{
    struct con_term *t = ctx;
    line_out(t->con, s, n);
}

void con_data_readable(struct con *c, struct con_term *t)
{
    size_t done = 0;
    while (done < CON_OUTPUT_BUDGET) {
        struct nb_msg_in m = {.bytes = c->buf,
                              .handles = c->hbuf,
                              .bytes_cap = CHAN_MAX_MSG_BYTES,
                              .handles_cap = CHAN_MAX_MSG_HANDLES};
        status_t st = c->ops->channel_read(c->ctx, t->data, &m);
        if (st != OK) {
            // ERR_SHOULD_WAIT: drained; ERR_PEER_CLOSED: the watch reports
            // it. Anything else would repeat: say so once and stop.
            if (st != ERR_SHOULD_WAIT && st != ERR_PEER_CLOSED)
                logf_(c, "terminal %u: read: %s", t->id, status_str(st));
            return;
        }
        for (uint32_t i = 0; i < m.nhandles; i++) // a byte stream carries no handles
            c->ops->close(c->ctx, m.handles[i]);
        line_out(c, c->buf, m.nbytes);
        done += m.nbytes ? m.nbytes : 1;
    }
}

// ---- Input ----

// Moves complete records of t's line discipline into its data channel, one
// message each (a zero-length one for an end of input), while there is room.
static void flush_input(struct con *c, struct con_term *t)
{
    char rec[LDISC_LINE_MAX];
    while (!t->full && ldisc_readable(&t->ld)) {
        size_t len = ldisc_peek(&t->ld, rec, sizeof(rec));
        struct nb_msg_out m = {.bytes = rec, .nbytes = (uint32_t)len};
        status_t st = c->ops->channel_write(c->ctx, t->data, &m);
        if (st == OK) {
            ldisc_read(&t->ld, rec, len);
        } else if (st == ERR_SHOULD_WAIT) {
            t->full = true;
            c->ops->wait_writable(c->ctx, t);
        } else {
            // Nobody reads any more (the close is reported separately):
            // what was typed for this terminal goes.
            while (ldisc_readable(&t->ld))
                ldisc_read(&t->ld, rec, sizeof(rec));
        }
    }
}

void con_data_writable(struct con *c, struct con_term *t)
{
    t->full = false;
    flush_input(c, t);
}

struct con_term *con_foreground(const struct con *c)
{
    return c->last;
}

void con_input(struct con *c, const char *bytes, size_t n)
{
    struct con_term *t = c->last;
    if (!t)
        return;
    for (size_t i = 0; i < n; i++) {
        if (ldisc_input(&t->ld, bytes[i]) & LDISC_INTERRUPT) {
            status_t st = c->ops->signal_peer(c->ctx, t->data, 0, CON_INTERRUPT_SIGNAL);
            if (st != OK && st != ERR_PEER_CLOSED)
                logf_(c, "terminal %u: cannot signal Ctrl-C: %s", t->id, status_str(st));
        }
    }
    flush_input(c, t);
}

// ---- Terminals ----

static void unlink_term(struct con *c, struct con_term *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        c->first = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        c->last = t->prev;
    t->prev = t->next = NULL;
}

static void free_term(struct con *c, struct con_term *t)
{
    c->ops->detach(c->ctx, t);
    unlink_term(c, t);
    c->ops->close(c->ctx, t->data);
    if (t->control != HANDLE_INVALID)
        c->ops->close(c->ctx, t->control);
    c->nterms--;
    free(t);
}

// A new terminal, the foreground one from now on; give[] receives the
// client ends (data, control).
static status_t term_open(struct con *c, struct con_term **out, handle_t give[2])
{
    if (c->nterms >= CON_TERMS_MAX)
        return ERR_NO_RESOURCES;
    struct con_term *t = calloc(1, sizeof(*t));
    if (!t)
        return ERR_NO_MEMORY;
    status_t st = c->ops->channel_create(c->ctx, &t->data, &give[0]);
    if (st != OK) {
        free(t);
        return st;
    }
    st = c->ops->channel_create(c->ctx, &t->control, &give[1]);
    if (st != OK) {
        c->ops->close(c->ctx, t->data);
        c->ops->close(c->ctx, give[0]);
        free(t);
        return st;
    }
    t->con = c;
    t->id = ++c->next_id;
    ldisc_init_ctx(&t->ld, term_echo, t);
    t->prev = c->last;
    if (c->last)
        c->last->next = t;
    else
        c->first = t;
    c->last = t;
    c->nterms++;
    st = c->ops->attach(c->ctx, t);
    if (st != OK) {
        free_term(c, t);
        c->ops->close(c->ctx, give[0]);
        c->ops->close(c->ctx, give[1]);
        return st;
    }
    *out = t;
    return OK;
}

void con_term_closed(struct con *c, struct con_term *t)
{
    bool was_foreground = c->last == t;
    uint32_t id = t->id;
    free_term(c, t);
    if (was_foreground && c->last)
        logf_(c, "terminal %u closed; terminal %u is the foreground", id, c->last->id);
    else
        logf_(c, "terminal %u closed", id);
}

void con_control_closed(struct con *c, struct con_term *t)
{
    c->ops->close(c->ctx, t->control);
    t->control = HANDLE_INVALID;
}

// ---- Requests ----

struct request {
    struct con *c;
    struct con_term *t;      // the terminal of a control channel; NULL: the service channel
    struct con_term *opened; // open: the new terminal, until its reply is out
    handle_t give[2];
};

static status_t do_open(void *ctx, struct nb_msg_in *reply)
{
    struct request *r = ctx;
    if (r->t)
        return console_open_response_encode(reply, ERR_NOT_SUPPORTED, NULL, 0);
    status_t st = term_open(r->c, &r->opened, r->give);
    if (st != OK)
        return console_open_response_encode(reply, st, NULL, 0);
    return console_open_response_encode(reply, OK, r->give, 2);
}

static status_t do_set_mode(void *ctx, uint32_t mode, struct nb_msg_in *reply)
{
    struct request *r = ctx;
    if (!r->t)
        return console_set_mode_response_encode(reply, ERR_NOT_SUPPORTED);
    if (mode != CONSOLE_MODE_COOKED && mode != CONSOLE_MODE_RAW)
        return console_set_mode_response_encode(reply, ERR_INVALID_ARGS);
    ldisc_set_mode(&r->t->ld, mode == CONSOLE_MODE_RAW ? LDISC_RAW : LDISC_COOKED);
    flush_input(r->c, r->t); // raw: the line being edited is input now
    return console_set_mode_response_encode(reply, OK);
}

static status_t do_get_size(void *ctx, struct nb_msg_in *reply)
{
    struct request *r = ctx;
    if (!r->t)
        return console_get_size_response_encode(reply, ERR_NOT_SUPPORTED, 0, 0);
    return console_get_size_response_encode(reply, OK, r->c->rows, r->c->cols);
}

static const struct console_server_ops server_ops = {
    .open = do_open,
    .set_mode = do_set_mode,
    .get_size = do_get_size,
};

// Reads and answers requests on ch (the service channel, or t's control).
static void serve(struct con *c, struct con_term *t, handle_t ch)
{
    for (int n = 0; n < REQUESTS_PER_CALL; n++) {
        struct nb_msg_in req = {.bytes = c->buf,
                                .handles = c->hbuf,
                                .bytes_cap = CHAN_MAX_MSG_BYTES,
                                .handles_cap = CHAN_MAX_MSG_HANDLES};
        status_t st = c->ops->channel_read(c->ctx, ch, &req);
        if (st == ERR_NO_MEMORY) {
            // The request stays queued and the watch would fire again at
            // once: log the first failure only, and come back later.
            if (!c->nomem)
                logf_(c, "reading a request: %s; retrying every %llu ms until one succeeds",
                      status_str(st), CON_NOMEM_BACKOFF_NS / 1000000);
            c->nomem = true;
            if (c->ops->backoff)
                c->ops->backoff(c->ctx, ch, t);
            return;
        }
        if (st != OK) {
            if (st != ERR_SHOULD_WAIT && st != ERR_PEER_CLOSED)
                logf_(c, "reading a request: %s", status_str(st));
            return;
        }
        if (c->nomem) {
            c->nomem = false;
            logf_(c, "reading requests again");
        }
        // devmgr's connect on a service-level channel (docs/DEVICES.md):
        // a new client, if the I/O half takes clients.
        handle_t client;
        if (!t && c->ops->connect && devmgr_connect_request_decode(&req, &client) == OK) {
            c->ops->connect(c->ctx, client);
            continue;
        }
        // No method takes handles: any that came are not ours to keep.
        for (uint32_t i = 0; i < req.nhandles; i++)
            c->ops->close(c->ctx, req.handles[i]);

        uint64_t reply_bytes[CONSOLE_MAX_MSG_BYTES / 8];
        handle_t reply_handles[CONSOLE_MAX_MSG_HANDLES];
        struct nb_msg_in reply = {.bytes = reply_bytes,
                                  .handles = reply_handles,
                                  .bytes_cap = sizeof(reply_bytes),
                                  .handles_cap = CONSOLE_MAX_MSG_HANDLES};
        struct request r = {.c = c, .t = t};
        st = console_dispatch(&server_ops, &r, &req, &reply);
        if (st != OK) {
            // A malformed request gets no answer (its caller's deadline ends it).
            logf_(c, "%s request refused: %s", t ? "control" : "service", status_str(st));
            continue;
        }
        struct nb_msg_out out = {.bytes = reply.bytes,
                                 .handles = reply.handles,
                                 .nbytes = reply.nbytes,
                                 .nhandles = reply.nhandles};
        st = c->ops->channel_write(c->ctx, ch, &out);
        if (r.opened) {
            if (st == OK) {
                c->opened++;
                logf_(c, "terminal %u opened (the foreground)", r.opened->id);
            } else {
                logf_(c, "terminal %u: reply lost: %s", r.opened->id, status_str(st));
                c->ops->close(c->ctx, r.give[0]);
                c->ops->close(c->ctx, r.give[1]);
                free_term(c, r.opened);
            }
        }
    }
}

void con_service_readable(struct con *c)
{
    serve(c, NULL, c->service);
}

void con_client_readable(struct con *c, handle_t ch)
{
    serve(c, NULL, ch);
}

void con_control_readable(struct con *c, struct con_term *t)
{
    serve(c, t, t->control);
}

// ---- Set-up ----

status_t con_init(struct con *c, const struct con_ops *ops, void *ctx, handle_t service)
{
    *c = (struct con){.ops = ops,
                      .ctx = ctx,
                      .name = "console",
                      .service = service,
                      .rows = CON_DEFAULT_ROWS,
                      .cols = CON_DEFAULT_COLS};
    c->buf = malloc(CHAN_MAX_MSG_BYTES);
    c->hbuf = calloc(CHAN_MAX_MSG_HANDLES, sizeof(handle_t));
    if (!c->buf || !c->hbuf) {
        free(c->buf);
        free(c->hbuf);
        c->buf = NULL;
        c->hbuf = NULL;
        return ERR_NO_MEMORY;
    }
    return OK;
}

void con_destroy(struct con *c)
{
    while (c->first)
        free_term(c, c->first);
    if (c->service != HANDLE_INVALID)
        c->ops->close(c->ctx, c->service);
    free(c->buf);
    free(c->hbuf);
    c->buf = NULL;
    c->hbuf = NULL;
    c->service = HANDLE_INVALID;
}

// ---- Arguments ----

static bool parse_number(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_size(const char *s, uint32_t *rows, uint32_t *cols)
{
    char buf[32];
    uint64_t r, c;
    if (!s || strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    char *x = strchr(buf, 'x');
    if (!x)
        return false;
    *x = '\0';
    if (!parse_number(buf, 0xffff, &r) || !parse_number(x + 1, 0xffff, &c) || !r || !c)
        return false;
    *rows = (uint32_t)r;
    *cols = (uint32_t)c;
    return true;
}

status_t con_parse_args(int argc, char *const *argv, struct con_config *cfg, char *err,
                        size_t err_size)
{
    *cfg = (struct con_config){.port = CON_DEFAULT_PORT,
                               .gsi = CON_DEFAULT_GSI,
                               .rows = CON_DEFAULT_ROWS,
                               .cols = CON_DEFAULT_COLS};
    if (err_size)
        err[0] = '\0';
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t v;
        bool ok;
        if (!strcmp(opt, "--port")) {
            ok = parse_number(val, 0x10000 - CON_PORT_COUNT, &v);
            if (ok)
                cfg->port = (uint16_t)v;
        } else if (!strcmp(opt, "--gsi")) {
            ok = parse_number(val, 0xffffffffu, &v);
            if (ok)
                cfg->gsi = (uint32_t)v;
        } else if (!strcmp(opt, "--size")) {
            ok = parse_size(val, &cfg->rows, &cfg->cols);
        } else {
            snprintf(err, err_size, "unknown argument '%s' (--port N, --gsi N, --size RxC)", opt);
            return ERR_INVALID_ARGS;
        }
        if (!ok) {
            snprintf(err, err_size, "%s wants %s, not '%s'", opt,
                     !strcmp(opt, "--size") ? "ROWSxCOLS" : "a number in range",
                     val ? val : "(nothing)");
            return ERR_INVALID_ARGS;
        }
        i++;
    }
    return OK;
}
