// The console service's logic (docs/CONSOLE.md): terminals, their line
// disciplines, and the requests of proto/console.nidl. Everything the
// service does to the outside world (channels, signals, the serial line,
// the event loop) goes through struct con_ops, so this part runs on the
// host under ASan/UBSan with fake channels (console_test.c); main.c is the
// I/O half (UART, interrupt object, event loop).
//
// Terminals are kept in the order they were opened. Typed input goes to the
// last one still open, the foreground terminal: one serial line is one
// session at a time.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ldisc.h"
#include "nimbus/channel.h"
#include "nimbus/handle.h"
#include "nimbus/signals.h"
#include "nimbus/status.h"

#define CON_TERMS_MAX        32   // terminals open at once
#define CON_OUTPUT_BUDGET    4096 // output bytes one con_data_readable call takes on
#define CON_DEFAULT_ROWS     24
#define CON_DEFAULT_COLS     80
#define CON_DEFAULT_PORT     0x3f8        // COM1
#define CON_DEFAULT_GSI      4            // COM1's ISA IRQ, unless the MADT overrides it
#define CON_PORT_COUNT       8            // a 16550's registers
#define CON_INTERRUPT_SIGNAL SIGNAL_USER0 // raised on the client's data end for Ctrl-C
#define CON_NOMEM_BACKOFF_NS 100000000ull // a request read failed for lack of memory: retry after

struct con_term;

// What the logic needs from its surroundings. Channel calls return the
// kernel's status (nb/syscall.h semantics); handles in a failed write stay
// with the caller.
struct con_ops {
    status_t (*channel_create)(void *ctx, handle_t *end0, handle_t *end1);
    status_t (*channel_read)(void *ctx, handle_t h, struct nb_msg_in *m);
    status_t (*channel_write)(void *ctx, handle_t h, const struct nb_msg_out *m);
    status_t (*signal_peer)(void *ctx, handle_t h, signals_t clear, signals_t set);
    void (*close)(void *ctx, handle_t h);
    // Bytes for the serial line, output processing done.
    void (*line_write)(void *ctx, const char *s, size_t n);
    // A terminal appeared: watch t->data and t->control (readable, peer
    // closed) and call the con_* functions below. Non-OK refuses the open.
    status_t (*attach)(void *ctx, struct con_term *t);
    // t is going: stop every watch on it. t->control may already be
    // HANDLE_INVALID.
    void (*detach)(void *ctx, struct con_term *t);
    // t->data is full: call con_data_writable once it is writable again or
    // its peer is gone.
    void (*wait_writable)(void *ctx, struct con_term *t);
    // A log line (may be NULL).
    void (*log)(void *ctx, const char *line);
    // Reading a request on `ch` (t's control channel, or with t NULL the
    // service channel or a client channel) failed for lack of memory; the
    // request is still queued. Stop watching ch and call its con_*_readable
    // again in CON_NOMEM_BACKOFF_NS, instead of at once. NULL: no back-off.
    void (*backoff)(void *ctx, handle_t ch, struct con_term *t);
    // devmgr's connect came on a service-level channel: `client` is the
    // server end of a new client's connection, the caller's to watch
    // (con_client_readable) and close. NULL: connect is refused like any
    // request carrying a handle (the serial console has no devmgr clients).
    void (*connect)(void *ctx, handle_t client);
};

struct con;

struct con_term {
    struct con *con;
    struct con_term *prev, *next; // in the order opened; con->last is the foreground
    uint32_t id;                  // 1, 2, ... in open order (logs)
    handle_t data;                // server end of the data stream
    handle_t control;             // server end of the control channel (or HANDLE_INVALID)
    bool full;                    // waiting for room in the data channel
    struct ldisc ld;
    void *io; // the I/O half's (watches)
};

struct con {
    const struct con_ops *ops;
    void *ctx;
    const char *name;              // log prefix ("console" unless set after con_init)
    handle_t service;              // the service channel (server end)
    struct con_term *first, *last; // last = the foreground terminal
    unsigned nterms;
    uint32_t next_id;
    uint32_t rows, cols;
    char *buf;       // CHAN_MAX_MSG_BYTES: one message at a time
    handle_t *hbuf;  // CHAN_MAX_MSG_HANDLES
    uint64_t opened; // terminals opened so far
    bool nomem; // a request read failed for lack of memory, none has succeeded since (logged once)
};

// Sets up the logic over the service channel's server end (which it does
// not watch: the caller does, and calls con_service_readable). ERR_NO_MEMORY.
status_t con_init(struct con *c, const struct con_ops *ops, void *ctx, handle_t service);
// Closes every terminal (detach first) and the service channel.
void con_destroy(struct con *c);

// The foreground terminal, or NULL.
struct con_term *con_foreground(const struct con *c);

// Typed bytes from the line (serial or virtio): to the foreground terminal's line
// discipline (echo included), complete records to its data channel. Bytes
// with no terminal open are dropped.
void con_input(struct con *c, const char *bytes, size_t n);

// The service channel has messages: answers each request (open; the
// terminal methods are refused there with ERR_NOT_SUPPORTED).
void con_service_readable(struct con *c);
// A client channel (from con_ops.connect) has messages: served as the
// service channel is (open; devmgr's connect hands on another client).
void con_client_readable(struct con *c, handle_t ch);
// t's control channel has messages: set_mode, get_size (open is refused).
void con_control_readable(struct con *c, struct con_term *t);
// t's control channel's peer is gone: the terminal stays, without control.
void con_control_closed(struct con *c, struct con_term *t);
// t's data channel has output: processed (NL -> CR NL) to the serial line,
// whole messages, about CON_OUTPUT_BUDGET bytes a call.
void con_data_readable(struct con *c, struct con_term *t);
// t's data channel is writable again (or its peer went): queued input moves on.
void con_data_writable(struct con *c, struct con_term *t);
// t's data channel's peer is gone (and its output read): the terminal is
// closed and freed; the previous one becomes the foreground.
void con_term_closed(struct con *c, struct con_term *t);

// Start-up arguments: --port N (first I/O port, 0x3f8), --gsi N (4),
// --size ROWSxCOLS (24x80). Numbers in C syntax (0x.. hex).
struct con_config {
    uint16_t port;
    uint32_t gsi;
    uint32_t rows, cols;
};
// ERR_INVALID_ARGS with a message in err for anything else.
status_t con_parse_args(int argc, char *const *argv, struct con_config *cfg, char *err,
                        size_t err_size);
