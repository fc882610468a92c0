// con_ops over system calls and an event loop (conloop.h): the half of a
// console that is the same whatever the line is.
#include "conloop.h"

#include <stdlib.h>

#include "nb/debug.h"
#include "nb/syscall.h"
#include "nb/time.h"

// The watches of one terminal.
struct io_term {
    struct conloop *cl;
    struct con_term *t;
    struct nb_channel_watch data, control;
    struct nb_wait writable;
    bool control_paused; // control watch stopped until the back-off timer
};

// A client channel devmgr connected (docs/DEVICES.md, "the connect convention").
struct conloop_client {
    struct conloop *cl;
    struct conloop_client *next;
    struct nb_channel_watch watch;
    bool paused; // watch stopped until the back-off timer
};

// ---- con_ops over the kernel ----

static status_t op_channel_create(void *ctx, handle_t *a, handle_t *b)
{
    (void)ctx;
    return nb_channel_create(0, a, b);
}

static status_t op_channel_read(void *ctx, handle_t h, struct nb_msg_in *m)
{
    (void)ctx;
    return nb_channel_read(h, m);
}

static status_t op_channel_write(void *ctx, handle_t h, const struct nb_msg_out *m)
{
    (void)ctx;
    return nb_channel_write(h, m);
}

static status_t op_signal_peer(void *ctx, handle_t h, signals_t clear, signals_t set)
{
    (void)ctx;
    return nb_object_signal_peer(h, clear, set);
}

static void op_close(void *ctx, handle_t h)
{
    (void)ctx;
    nb_handle_close(h);
}

static void op_log(void *ctx, const char *line)
{
    (void)ctx;
    nb_logf("%s", line);
}

static void op_line_write(void *ctx, const char *s, size_t n)
{
    struct conloop *cl = ctx;
    cl->line_write(cl->line_ctx, s, n);
}

static void on_data_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct io_term *io = w->ctx;
    (void)loop;
    con_data_readable(&io->cl->con, io->t);
}

static void on_data_closed(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct io_term *io = w->ctx;
    (void)loop;
    con_term_closed(&io->cl->con, io->t); // frees io (op_detach)
}

static void on_control_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct io_term *io = w->ctx;
    (void)loop;
    con_control_readable(&io->cl->con, io->t);
}

static void on_control_closed(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct io_term *io = w->ctx;
    (void)loop;
    con_control_closed(&io->cl->con, io->t);
}

static void on_writable(struct nb_loop *loop, struct nb_wait *w, status_t status,
                        signals_t observed)
{
    struct io_term *io = w->ctx;
    (void)loop;
    (void)status;
    (void)observed;
    con_data_writable(&io->cl->con, io->t);
}

static status_t op_attach(void *ctx, struct con_term *t)
{
    struct conloop *cl = ctx;
    struct io_term *io = calloc(1, sizeof(*io));
    if (!io)
        return ERR_NO_MEMORY;
    io->cl = cl;
    io->t = t;
    io->data = (struct nb_channel_watch){.channel = t->data,
                                         .on_readable = on_data_readable,
                                         .on_peer_closed = on_data_closed,
                                         .ctx = io};
    io->control = (struct nb_channel_watch){.channel = t->control,
                                            .on_readable = on_control_readable,
                                            .on_peer_closed = on_control_closed,
                                            .ctx = io};
    status_t s = nb_channel_watch_start(cl->loop, &io->data);
    if (s == OK && (s = nb_channel_watch_start(cl->loop, &io->control)) != OK)
        nb_channel_watch_stop(cl->loop, &io->data);
    if (s != OK) {
        free(io);
        return s;
    }
    t->io = io;
    return OK;
}

static void op_detach(void *ctx, struct con_term *t)
{
    struct conloop *cl = ctx;
    struct io_term *io = t->io;
    if (!io)
        return;
    nb_channel_watch_stop(cl->loop, &io->data);
    nb_channel_watch_stop(cl->loop, &io->control);
    nb_wait_stop(cl->loop, &io->writable);
    free(io);
    t->io = NULL;
}

static void op_wait_writable(void *ctx, struct con_term *t)
{
    struct conloop *cl = ctx;
    struct io_term *io = t->io;
    if (nb_wait_pending(&io->writable))
        return;
    io->writable = (struct nb_wait){.object = t->data,
                                    .signals = SIGNAL_WRITABLE | SIGNAL_PEER_CLOSED,
                                    .fn = on_writable,
                                    .ctx = io};
    status_t s = nb_wait_start(cl->loop, &io->writable);
    if (s != OK) {
        nb_logf("%s: terminal %u: cannot wait for room: %s", cl->con.name, t->id, status_str(s));
        t->full = false; // try again with the next input
    }
}

// ---- Clients ----

static void on_client_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct conloop_client *k = w->ctx;
    (void)loop;
    con_client_readable(&k->cl->con, w->channel);
}

// The client is gone (the watch has ended by itself): forget it.
static void on_client_closed(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct conloop_client *k = w->ctx;
    struct conloop *cl = k->cl;
    (void)loop;
    for (struct conloop_client **pp = &cl->clients; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    cl->nclients--;
    nb_handle_close(w->channel);
    free(k);
}

// con_ops.connect: a new client channel, watched until its peer goes.
static void op_connect(void *ctx, handle_t client)
{
    struct conloop *cl = ctx;
    struct conloop_client *k = NULL;
    status_t s;
    if (cl->nclients >= CONLOOP_CLIENTS_MAX) {
        s = ERR_NO_RESOURCES;
    } else if (!(k = calloc(1, sizeof(*k)))) {
        s = ERR_NO_MEMORY;
    } else {
        k->cl = cl;
        k->watch = (struct nb_channel_watch){.channel = client,
                                             .on_readable = on_client_readable,
                                             .on_peer_closed = on_client_closed,
                                             .ctx = k};
        s = nb_channel_watch_start(cl->loop, &k->watch);
    }
    if (s != OK) {
        nb_logf("%s: client refused: %s", cl->con.name, status_str(s));
        nb_handle_close(client);
        free(k);
        return;
    }
    k->next = cl->clients;
    cl->clients = k;
    cl->nclients++;
}

// ---- Backing off (con_ops.backoff) ----

// Restarts *w if *paused; true if it has to wait for another round.
static bool resume(struct nb_loop *loop, struct nb_channel_watch *w, bool *paused)
{
    if (*paused)
        *paused = nb_channel_watch_start(loop, w) != OK;
    return *paused;
}

// The back-off is over: watch the paused channels again. A request still
// queued fires its watch at once, so the read is tried again.
static void on_backoff_timer(struct nb_loop *loop, struct nb_loop_timer *tm)
{
    struct conloop *cl = tm->ctx;
    bool again = resume(loop, &cl->service, &cl->service_paused);
    for (struct conloop_client *k = cl->clients; k; k = k->next)
        again |= resume(loop, &k->watch, &k->paused);
    for (struct con_term *t = cl->con.first; t; t = t->next) {
        struct io_term *io = t->io;
        if (io)
            again |= resume(loop, &io->control, &io->control_paused);
    }
    if (again)
        nb_loop_timer_start(loop, tm, nb_deadline_after(CON_NOMEM_BACKOFF_NS));
}

// Stops the watch of ch until the back-off timer. Without a timer (none
// could be made) the watch stays: it fires again at once, as before.
static void op_backoff(void *ctx, handle_t ch, struct con_term *t)
{
    struct conloop *cl = ctx;
    struct nb_channel_watch *w = NULL;
    bool *paused = NULL;
    if (t) {
        struct io_term *io = t->io;
        if (io) {
            w = &io->control;
            paused = &io->control_paused;
        }
    } else if (ch == cl->service.channel) {
        w = &cl->service;
        paused = &cl->service_paused;
    } else {
        for (struct conloop_client *k = cl->clients; k && !w; k = k->next) {
            if (k->watch.channel == ch) {
                w = &k->watch;
                paused = &k->paused;
            }
        }
    }
    if (!w)
        return;
    if (!cl->backoff_ready)
        cl->backoff_ready = nb_loop_timer_init(&cl->backoff, on_backoff_timer, cl) == OK;
    if (!cl->backoff_ready ||
        nb_loop_timer_start(cl->loop, &cl->backoff, nb_deadline_after(CON_NOMEM_BACKOFF_NS)) != OK)
        return;
    nb_channel_watch_stop(cl->loop, w);
    *paused = true;
}

static const struct con_ops kernel_ops = {
    .channel_create = op_channel_create,
    .channel_read = op_channel_read,
    .channel_write = op_channel_write,
    .signal_peer = op_signal_peer,
    .close = op_close,
    .line_write = op_line_write,
    .attach = op_attach,
    .detach = op_detach,
    .wait_writable = op_wait_writable,
    .log = op_log,
    .backoff = op_backoff,
};

static const struct con_ops kernel_ops_clients = {
    .channel_create = op_channel_create,
    .channel_read = op_channel_read,
    .channel_write = op_channel_write,
    .signal_peer = op_signal_peer,
    .close = op_close,
    .line_write = op_line_write,
    .attach = op_attach,
    .detach = op_detach,
    .wait_writable = op_wait_writable,
    .log = op_log,
    .backoff = op_backoff,
    .connect = op_connect,
};

// ---- The service channel ----

static void on_service_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct conloop *cl = w->ctx;
    (void)loop;
    con_service_readable(&cl->con);
}

static void on_service_closed(struct nb_loop *loop, struct nb_channel_watch *w)
{
    struct conloop *cl = w->ctx;
    (void)loop;
    nb_logf("%s: the service channel closed; %u terminal(s) stay", cl->con.name, cl->con.nterms);
}

status_t conloop_start(struct conloop *cl, struct nb_loop *loop, const char *name, handle_t service,
                       void (*line_write)(void *ctx, const char *s, size_t n), void *line_ctx,
                       bool take_clients)
{
    *cl = (struct conloop){.loop = loop, .line_write = line_write, .line_ctx = line_ctx};
    status_t s = con_init(&cl->con, take_clients ? &kernel_ops_clients : &kernel_ops, cl, service);
    if (s != OK) {
        nb_handle_close(service);
        return s;
    }
    cl->con.name = name;
    cl->service = (struct nb_channel_watch){.channel = service,
                                            .on_readable = on_service_readable,
                                            .on_peer_closed = on_service_closed,
                                            .ctx = cl};
    if ((s = nb_channel_watch_start(loop, &cl->service)) != OK)
        nb_logf("%s: cannot watch the service channel: %s", name, status_str(s));
    return s;
}
