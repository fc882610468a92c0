// The console logic (console.h) over the kernel and a libnimbus event loop:
// con_ops through system calls, a watch per terminal channel, the service
// channel and devmgr's client channels. Shared by the serial console service
// (main.c) and the virtio console driver (services/virtio-console/); each
// brings its own line: where output goes (line_write) and where typed bytes
// come from (it calls con_input on conloop.con).
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "console.h"
#include "nb/loop.h"

#define CONLOOP_CLIENTS_MAX 32 // devmgr clients connected at once

struct conloop_client;

struct conloop {
    struct con con;
    struct nb_loop *loop;
    void (*line_write)(void *ctx, const char *s, size_t n); // output, processed
    void *line_ctx;
    struct nb_channel_watch service;
    struct conloop_client *clients; // connected through devmgr's connect
    unsigned nclients;
    // con_ops.backoff: watches paused after a request read failed for lack
    // of memory restart when this fires (CON_NOMEM_BACKOFF_NS later).
    struct nb_loop_timer backoff;
    bool backoff_ready;  // the timer exists
    bool service_paused; // the service watch is stopped until the timer
};

// Sets up the logic over `service` (the server end of the service channel,
// owned from here on, also on failure) and starts watching it on `loop`.
// `name` prefixes the log lines ("console", "virtio-console").
// take_clients: accept devmgr's connect on service-level channels and serve
// the console protocol on each client channel too.
status_t conloop_start(struct conloop *cl, struct nb_loop *loop, const char *name, handle_t service,
                       void (*line_write)(void *ctx, const char *s, size_t n), void *line_ctx,
                       bool take_clients);
