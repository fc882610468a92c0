// The console service: owns the serial port (a 16550 UART, COM1 unless told
// otherwise) and serves terminals on it (docs/CONSOLE.md). This file is the
// I/O half: the UART's registers through I/O port permission, its receive
// interrupt through an interrupt object, and the libnimbus event loop that
// drives the logic in core.c (through conloop.c, shared with the virtio
// console driver).
//
//   console [--port 0x3f8] [--gsi 4] [--size 24x80]
//
// Bootstrap roles: `console` (the server end of the service channel; init
// keeps the client end), `ioport` (a resource covering the UART's 8 ports),
// `irq` (a resource covering its GSI), `log` (optional).
#include <stdint.h>
#include <stdlib.h>

#include "conloop.h"
#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/loop.h"
#include "nb/syscall.h"
#include "nb/ioport.h"

// 16550 registers (offsets from the base port) and bits.
#define UART_DATA        0 // receive / transmit
#define UART_IER         1
#define UART_FCR         2
#define UART_MCR         4
#define UART_LSR         5
#define UART_SCR         7
#define IER_RX_DATA      0x01 // received data available (and FIFO timeout)
#define FCR_ENABLE       0x07 // enable and clear both FIFOs
#define MCR_DTR_RTS_OUT2 0x0b // OUT2 gates the interrupt line
#define LSR_DATA         0x01
#define LSR_THRE         0x20 // transmit holding register (FIFO) empty

#define TX_BURST   8      // bytes written per THRE seen (half the FIFO: the kernel writes too)
#define THRE_POLLS 100000 // LSR reads before giving up on one burst
#define RX_BUDGET  4096   // bytes one interrupt drains at most

static struct {
    struct nb_loop loop;
    struct conloop cl; // terminals, requests, channels (conloop.c)
    struct con_config cfg;
    handle_t interrupt;
    struct nb_wait irq_wait;
    bool wedged; // the transmitter stopped answering: output is dropped
} svc;

// ---- The UART ----

static uint8_t uart_in(unsigned reg)
{
    return nb_inb((uint16_t)(svc.cfg.port + reg));
}

static void uart_out(unsigned reg, uint8_t v)
{
    nb_outb((uint16_t)(svc.cfg.port + reg), v);
}

static bool uart_present(void)
{
    uart_out(UART_SCR, 0xa5);
    return uart_in(UART_SCR) == 0xa5;
}

// Output in bursts: once the transmitter is empty, TX_BURST bytes fit. A
// transmitter that stays busy for THRE_POLLS reads is taken as wedged and
// later output is dropped until it answers again, so a broken line never
// stalls the service.
static void line_write(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    while (n) {
        int polls = svc.wedged ? 1 : THRE_POLLS;
        while (polls-- && !(uart_in(UART_LSR) & LSR_THRE))
            ;
        bool ready = uart_in(UART_LSR) & LSR_THRE;
        svc.wedged = !ready;
        if (!ready)
            return;
        size_t burst = n < TX_BURST ? n : TX_BURST;
        for (size_t i = 0; i < burst; i++)
            uart_out(UART_DATA, (uint8_t)s[i]);
        s += burst;
        n -= burst;
    }
}

// Everything the receiver holds, to the foreground terminal.
static void drain_rx(void)
{
    char buf[256];
    size_t total = 0;
    while (total < RX_BUDGET) {
        size_t n = 0;
        while (n < sizeof(buf) && (uart_in(UART_LSR) & LSR_DATA))
            buf[n++] = (char)uart_in(UART_DATA);
        if (!n)
            return;
        con_input(&svc.cl.con, buf, n);
        total += n;
    }
}

static void on_interrupt(struct nb_loop *loop, struct nb_wait *w, status_t status,
                         signals_t observed)
{
    (void)observed;
    if (status != OK) {
        nb_logf("console: waiting for the interrupt failed: %s", status_str(status));
        nb_loop_quit(loop);
        return;
    }
    drain_rx();
    status_t s = nb_interrupt_ack(svc.interrupt);
    if (s != OK)
        nb_logf("console: interrupt ack: %s", status_str(s));
    // Bytes that came between the drain and the unmask raised no new edge.
    drain_rx();
    if ((s = nb_wait_start(loop, w)) != OK) {
        nb_logf("console: cannot wait for the interrupt: %s", status_str(s));
        nb_loop_quit(loop);
    }
}

// ---- Start-up ----

static handle_t take_role(uint32_t role, const char *why)
{
    handle_t h = nb_bootstrap_take(role);
    if (h == HANDLE_INVALID)
        nb_logf("console: no '%s' handle (%s)", nb_bootstrap_role_name(role), why);
    return h;
}

static status_t setup(void)
{
    const struct con_config *cfg = &svc.cfg;
    status_t s = nb_bootstrap_load();
    if (s != OK) {
        nb_logf("console: no bootstrap message: %s", status_str(s));
        return s;
    }
    handle_t service = take_role(BOOTSTRAP_ROLE_CONSOLE, "the service channel: provides=console");
    handle_t ioport = take_role(BOOTSTRAP_ROLE_IOPORT, "I/O port resource");
    handle_t irq = take_role(BOOTSTRAP_ROLE_IRQ, "interrupt resource");
    if (service == HANDLE_INVALID || ioport == HANDLE_INVALID || irq == HANDLE_INVALID)
        return ERR_NOT_FOUND;

    // Take what is needed, keep nothing more.
    s = nb_ioport_enable(ioport, cfg->port, CON_PORT_COUNT);
    nb_handle_close(ioport);
    if (s != OK) {
        nb_logf("console: cannot use I/O ports %#x..%#x: %s", cfg->port,
                cfg->port + CON_PORT_COUNT - 1, status_str(s));
        return s;
    }
    if (!uart_present()) {
        nb_logf("console: no UART at %#x", cfg->port);
        return ERR_NOT_FOUND;
    }
    s = nb_interrupt_create(irq, cfg->gsi, NB_INTERRUPT_EDGE, &svc.interrupt);
    nb_handle_close(irq);
    if (s != OK) {
        nb_logf("console: cannot take GSI %u: %s", cfg->gsi, status_str(s));
        return s;
    }
    // The kernel set the line up (115200 8N1); the FIFOs and the receive
    // interrupt are this service's now. Bytes typed before are dropped:
    // no terminal is open to take them.
    uart_out(UART_IER, 0);
    uart_out(UART_FCR, FCR_ENABLE);
    uart_out(UART_MCR, MCR_DTR_RTS_OUT2);
    while (uart_in(UART_LSR) & LSR_DATA)
        (void)uart_in(UART_DATA);
    uart_out(UART_IER, IER_RX_DATA);
    // Whatever state the line was created in, it is unmasked from here on.
    if ((s = nb_interrupt_ack(svc.interrupt)) != OK) {
        nb_logf("console: interrupt ack: %s", status_str(s));
        return s;
    }

    if ((s = nb_loop_init(&svc.loop)) != OK) {
        nb_logf("console: no port: %s", status_str(s));
        return s;
    }
    if ((s = conloop_start(&svc.cl, &svc.loop, "console", service, line_write, NULL, false)) != OK)
        return s;
    svc.cl.con.rows = cfg->rows;
    svc.cl.con.cols = cfg->cols;
    svc.irq_wait =
        (struct nb_wait){.object = svc.interrupt, .signals = SIGNAL_SIGNALED, .fn = on_interrupt};
    if ((s = nb_wait_start(&svc.loop, &svc.irq_wait)) != OK) {
        nb_logf("console: cannot wait: %s", status_str(s));
        return s;
    }
    return OK;
}

int main(int argc, char **argv)
{
    char err[160];
    if (con_parse_args(argc, argv, &svc.cfg, err, sizeof(err)) != OK) {
        nb_logf("console: %s", err);
        return 2;
    }
    if (setup() != OK)
        return 1;
    nb_logf("console: serving the serial line at %#x (GSI %u, %ux%u)", svc.cfg.port, svc.cfg.gsi,
            svc.cfg.rows, svc.cfg.cols);
    status_t s = nb_loop_run(&svc.loop, NB_DEADLINE_INFINITE);
    nb_logf("console: event loop stopped: %s", status_str(s));
    return 1;
}
