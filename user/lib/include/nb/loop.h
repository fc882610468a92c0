// The libnimbus event loop: one port, many waits. Objects are bound to the
// port (NB_SYS_OBJECT_WAIT_ASYNC, PORT_BIND_ONCE) and the loop runs a
// callback for each packet: a watched signal (channel readable, peer closed,
// process terminated ...), a timer, or a task posted as a user packet.
//
// Single-threaded: a loop and its registrations belong to the thread that
// runs it. Registrations are caller-owned structs that must stay put while
// pending. Callbacks may start, stop or re-arm any registration, their own
// included, and may call nb_loop_quit.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nb/keys.h"
#include "nimbus/handle.h"
#include "nimbus/signals.h"
#include "nimbus/status.h"

struct nb_loop {
    handle_t port;
    struct nb_keys keys; // port keys -> registrations
    bool quit;
};

struct nb_wait;
typedef void (*nb_wait_fn)(struct nb_loop *loop, struct nb_wait *w, status_t status,
                           signals_t observed);

// Waits once for any of `signals` on `object`; fn runs when one is asserted
// (at once if already). Set object, signals, fn (and ctx) before starting.
struct nb_wait {
    handle_t object;
    signals_t signals;
    nb_wait_fn fn;
    void *ctx;
    uint64_t key; // private: non-zero while pending
};

struct nb_task;
typedef void (*nb_task_fn)(struct nb_loop *loop, struct nb_task *task);

// Work posted to the loop as a user packet: fn runs from the loop, later.
struct nb_task {
    nb_task_fn fn;
    void *ctx;
    uint64_t key; // private: non-zero while posted
};

struct nb_loop_timer;
typedef void (*nb_loop_timer_fn)(struct nb_loop *loop, struct nb_loop_timer *t);

// A kernel timer watched by the loop: fn runs once per start, at the deadline.
struct nb_loop_timer {
    handle_t timer; // created by nb_loop_timer_init
    nb_loop_timer_fn fn;
    void *ctx;
    struct nb_wait wait; // private
};

struct nb_channel_watch;
typedef void (*nb_channel_fn)(struct nb_loop *loop, struct nb_channel_watch *w);

// Watches a channel until stopped or the peer goes: on_readable runs while
// messages are queued (it should read until ERR_SHOULD_WAIT; it runs again
// if any are left), on_peer_closed once the peer is gone and nothing is left
// to read. The watch then ends by itself. on_peer_closed also runs (and the
// watch ends) when the watch cannot be armed again after on_readable (no
// memory, or the port's binding limit): the channel is lost to the loop.
struct nb_channel_watch {
    handle_t channel;
    nb_channel_fn on_readable;
    nb_channel_fn on_peer_closed; // may be NULL
    void *ctx;
    struct nb_wait wait; // private
    bool active;         // private
};

// Creates the loop's port. ERR_* from NB_SYS_PORT_CREATE.
status_t nb_loop_init(struct nb_loop *loop);
// Closes the port (pending waits are dropped with it) and frees the keys.
void nb_loop_destroy(struct nb_loop *loop);

// Runs callbacks until nb_loop_quit (OK) or the deadline (ERR_TIMED_OUT), or
// until waiting on the port fails (its status).
status_t nb_loop_run(struct nb_loop *loop, uint64_t deadline);
// Makes nb_loop_run return after the current callback.
void nb_loop_quit(struct nb_loop *loop);
// Waits for one packet until the deadline and handles it.
status_t nb_loop_run_once(struct nb_loop *loop, uint64_t deadline);

// ERR_BAD_STATE if already pending; else the status of the binding.
status_t nb_wait_start(struct nb_loop *loop, struct nb_wait *w);
// Cancels a pending wait (no callback); OK if it was not pending.
status_t nb_wait_stop(struct nb_loop *loop, struct nb_wait *w);
static inline bool nb_wait_pending(const struct nb_wait *w)
{
    return w->key != 0;
}

// ERR_BAD_STATE if already posted.
status_t nb_task_post(struct nb_loop *loop, struct nb_task *task);

status_t nb_loop_timer_init(struct nb_loop_timer *t, nb_loop_timer_fn fn, void *ctx);
// (Re)starts the timer for an absolute monotonic deadline.
status_t nb_loop_timer_start(struct nb_loop *loop, struct nb_loop_timer *t, uint64_t deadline);
status_t nb_loop_timer_stop(struct nb_loop *loop, struct nb_loop_timer *t);
// Stops the timer and closes its handle.
void nb_loop_timer_destroy(struct nb_loop *loop, struct nb_loop_timer *t);

status_t nb_channel_watch_start(struct nb_loop *loop, struct nb_channel_watch *w);
status_t nb_channel_watch_stop(struct nb_loop *loop, struct nb_channel_watch *w);
