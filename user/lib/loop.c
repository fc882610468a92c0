// The event loop (nb/loop.h): registrations get port keys from a key table,
// so a packet is matched to a live registration of the right kind or
// dropped.
#include <stddef.h>

#include "nb/loop.h"
#include "nb/syscall.h"

enum reg_kind {
    REG_WAIT = 1,
    REG_TASK = 2,
};

status_t nb_loop_init(struct nb_loop *loop)
{
    *loop = (struct nb_loop){0};
    nb_keys_init(&loop->keys);
    return nb_port_create(&loop->port);
}

void nb_loop_destroy(struct nb_loop *loop)
{
    if (loop->port != HANDLE_INVALID)
        nb_handle_close(loop->port);
    nb_keys_destroy(&loop->keys);
    loop->port = HANDLE_INVALID;
}

void nb_loop_quit(struct nb_loop *loop)
{
    loop->quit = true;
}

status_t nb_wait_start(struct nb_loop *loop, struct nb_wait *w)
{
    uint64_t key;
    status_t s;

    if (nb_wait_pending(w))
        return ERR_BAD_STATE;
    if ((s = nb_keys_add(&loop->keys, w, REG_WAIT, &key)) != OK)
        return s;
    s = nb_object_wait_async(w->object, loop->port, key, w->signals, PORT_BIND_ONCE);
    if (s != OK) {
        nb_keys_take(&loop->keys, key, REG_WAIT);
        return s;
    }
    w->key = key;
    return OK;
}

status_t nb_wait_stop(struct nb_loop *loop, struct nb_wait *w)
{
    if (!nb_wait_pending(w))
        return OK;
    uint64_t key = w->key;
    nb_keys_take(&loop->keys, key, REG_WAIT);
    w->key = 0;
    // The binding may be gone already (its packet queued, or the object's
    // last handle closed): the key is dead either way, so a late packet is
    // dropped.
    status_t s = nb_port_cancel(loop->port, w->object, key);
    return s == ERR_NOT_FOUND || s == ERR_BAD_HANDLE ? OK : s;
}

status_t nb_task_post(struct nb_loop *loop, struct nb_task *task)
{
    struct nb_port_packet pkt = {.type = PORT_PACKET_USER};
    status_t s;

    if (task->key)
        return ERR_BAD_STATE;
    if ((s = nb_keys_add(&loop->keys, task, REG_TASK, &pkt.key)) != OK)
        return s;
    if ((s = nb_port_queue(loop->port, &pkt)) != OK) {
        nb_keys_take(&loop->keys, pkt.key, REG_TASK);
        return s;
    }
    task->key = pkt.key;
    return OK;
}

// Runs the callback a packet is for; packets for dead keys are dropped.
static void dispatch(struct nb_loop *loop, const struct nb_port_packet *pkt)
{
    if (pkt->type == PORT_PACKET_USER) {
        struct nb_task *task = nb_keys_take(&loop->keys, pkt->key, REG_TASK);
        if (task) {
            task->key = 0;
            task->fn(loop, task);
        }
        return;
    }
    struct nb_wait *w = nb_keys_take(&loop->keys, pkt->key, REG_WAIT);
    if (w) {
        w->key = 0; // ONCE: the binding is gone; the callback may start it again
        w->fn(loop, w, pkt->status, pkt->signal.observed);
    }
}

status_t nb_loop_run_once(struct nb_loop *loop, uint64_t deadline)
{
    struct nb_port_packet pkt;
    status_t s = nb_port_wait(loop->port, deadline, &pkt);
    if (s == OK)
        dispatch(loop, &pkt);
    return s;
}

status_t nb_loop_run(struct nb_loop *loop, uint64_t deadline)
{
    status_t s = OK;
    loop->quit = false;
    while (!loop->quit && (s = nb_loop_run_once(loop, deadline)) == OK)
        ;
    loop->quit = false;
    return s;
}

// ---- Timers ----

static void timer_fired(struct nb_loop *loop, struct nb_wait *w, status_t status,
                        signals_t observed)
{
    struct nb_loop_timer *t = w->ctx;
    (void)status;
    (void)observed;
    t->fn(loop, t);
}

status_t nb_loop_timer_init(struct nb_loop_timer *t, nb_loop_timer_fn fn, void *ctx)
{
    *t = (struct nb_loop_timer){.fn = fn, .ctx = ctx};
    t->wait = (struct nb_wait){.signals = SIGNAL_SIGNALED, .fn = timer_fired, .ctx = t};
    status_t s = nb_timer_create(&t->timer);
    t->wait.object = t->timer;
    return s;
}

status_t nb_loop_timer_start(struct nb_loop *loop, struct nb_loop_timer *t, uint64_t deadline)
{
    status_t s;
    // (1) Forget an earlier start, (2) re-arm the kernel timer, which clears
    // SIGNALED, (3) only then bind: a ONCE binding would fire at once on the
    // old SIGNALED.
    if ((s = nb_wait_stop(loop, &t->wait)) != OK)
        return s;
    if ((s = nb_timer_set(t->timer, deadline)) != OK)
        return s;
    return nb_wait_start(loop, &t->wait);
}

status_t nb_loop_timer_stop(struct nb_loop *loop, struct nb_loop_timer *t)
{
    status_t s = nb_wait_stop(loop, &t->wait);
    status_t c = nb_timer_cancel(t->timer);
    return s != OK ? s : c;
}

void nb_loop_timer_destroy(struct nb_loop *loop, struct nb_loop_timer *t)
{
    nb_wait_stop(loop, &t->wait);
    if (t->timer != HANDLE_INVALID)
        nb_handle_close(t->timer);
    t->timer = HANDLE_INVALID;
}

// ---- Channel watches ----

static void channel_signalled(struct nb_loop *loop, struct nb_wait *w, status_t status,
                              signals_t observed)
{
    struct nb_channel_watch *cw = w->ctx;

    if (status == OK && (observed & SIGNAL_READABLE)) {
        cw->on_readable(loop, cw);
        // Still wanted (the callback did not stop it)? Then look again:
        // what is left to read, or the peer's going, fires the wait at once.
        // A watch that cannot be armed again (no memory, the port's binding
        // limit) ends as if the peer had gone, so the owner drops the
        // channel instead of silently never reading it again.
        if (cw->active && nb_wait_start(loop, w) != OK) {
            cw->active = false;
            if (cw->on_peer_closed)
                cw->on_peer_closed(loop, cw);
        }
        return;
    }
    cw->active = false;
    if (cw->on_peer_closed)
        cw->on_peer_closed(loop, cw);
}

status_t nb_channel_watch_start(struct nb_loop *loop, struct nb_channel_watch *w)
{
    if (w->active)
        return ERR_BAD_STATE;
    w->wait = (struct nb_wait){
        .object = w->channel,
        .signals = SIGNAL_READABLE | SIGNAL_PEER_CLOSED,
        .fn = channel_signalled,
        .ctx = w,
    };
    status_t s = nb_wait_start(loop, &w->wait);
    w->active = s == OK;
    return s;
}

status_t nb_channel_watch_stop(struct nb_loop *loop, struct nb_channel_watch *w)
{
    w->active = false;
    return nb_wait_stop(loop, &w->wait);
}
