// Reading command lines from standard input. With a `tty` handle (the
// console's control channel) the terminal goes to raw mode while a line is
// edited (ledit.h) and back to cooked mode before commands run; without
// one, lines come cooked through fd 0 (the kernel's line discipline today).
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nb/syscall.h"
#include "nb/time.h"
#include "nb/transport.h"
#include "nsh.h"
#include "proto/console.h"

#define TTY_TIMEOUT_NS (2 * NB_NSEC_PER_SEC)
#define KEY_READABLE   1
#define KEY_INTERRUPT  2

static char ibuf[4096]; // bytes read from fd 0 and not used yet
static size_t ipos, ilen;
static struct nsh_ledit editor;

// Waits until fd 0 has input, or Ctrl-C (SIGNAL_USER0 on our stdin channel,
// which the console raises in cooked mode). false on Ctrl-C.
static bool wait_input(struct nsh *sh)
{
    if (sh->in == HANDLE_INVALID)
        return true; // nothing to wait on: read blocks
    signals_t seen = 0;
    status_t s = nb_object_wait_one(sh->in, SIGNAL_READABLE | SIGNAL_PEER_CLOSED | SIGNAL_USER0,
                                    NB_DEADLINE_INFINITE, &seen);
    if (s == OK && (seen & SIGNAL_USER0) && !(seen & SIGNAL_READABLE)) {
        nb_object_signal(sh->in, SIGNAL_USER0, 0);
        return false;
    }
    return true;
}

// Refills ibuf: bytes read, 0 at end of input (or an end-of-file mark),
// -1 on Ctrl-C.
static int refill(struct nsh *sh, bool cooked)
{
    for (;;) {
        if (cooked && !wait_input(sh))
            return -1;
        ssize_t n = read(0, ibuf, sizeof(ibuf));
        if (n < 0 && errno == EINTR)
            continue;
        ipos = 0;
        ilen = n > 0 ? (size_t)n : 0;
        return n > 0 ? (int)n : 0;
    }
}

static enum nsh_input read_cooked(struct nsh *sh, const char *prompt, char *line, size_t size)
{
    fputs(prompt, stdout);
    fflush(stdout);
    size_t n = 0;
    bool too_long = false;
    for (;;) {
        if (ipos == ilen) {
            int r = refill(sh, true);
            if (r < 0) {
                fputs("\n", stdout);
                return NSH_INPUT_CANCEL;
            }
            if (r == 0) {
                if (n)
                    break; // a last line without its newline
                return NSH_INPUT_EOF;
            }
        }
        char c = ibuf[ipos++];
        if (c == '\n')
            break;
        if (n + 1 < size)
            line[n++] = c;
        else
            too_long = true;
    }
    line[n] = 0;
    if (too_long)
        fprintf(stderr, "nsh: line longer than %zu bytes: cut\n", size - 1);
    return NSH_INPUT_LINE;
}

static struct nb_channel_transport tty_tr;
static uint8_t tty_buf[CONSOLE_MAX_MSG_BYTES * 2];

static bool set_mode(struct nsh *sh, uint32_t mode)
{
    status_t reply = ERR_INTERNAL;
    if (!tty_tr.channel) {
        nb_channel_transport_init(&tty_tr, sh->tty, tty_buf, sizeof(tty_buf));
        tty_tr.timeout_ns = TTY_TIMEOUT_NS;
    }
    return console_set_mode(&tty_tr.tr, mode, &reply) == OK && reply == OK;
}

static void drain(struct nsh_ledit *e)
{
    if (e->out_len) {
        fwrite(e->out, 1, e->out_len, stdout);
        fflush(stdout);
        e->out_len = 0;
    }
}

static enum nsh_input read_edited(struct nsh *sh, const char *prompt, char *line, size_t size)
{
    struct nsh_ledit *e = &editor;
    nsh_ledit_start(e, prompt, &sh->hist);
    drain(e);
    enum nsh_ledit_result r = NSH_LEDIT_MORE;
    while (r == NSH_LEDIT_MORE) {
        if (ipos == ilen && refill(sh, false) <= 0) {
            // End of input: as Ctrl-D on an empty line, else end the line.
            r = nsh_ledit_feed(e, e->len ? '\r' : 0x04);
            drain(e);
            break;
        }
        r = nsh_ledit_feed(e, (unsigned char)ibuf[ipos++]);
        drain(e);
    }
    set_mode(sh, CONSOLE_MODE_COOKED);
    if (r == NSH_LEDIT_EOF)
        return NSH_INPUT_EOF;
    if (r == NSH_LEDIT_CANCEL)
        return NSH_INPUT_CANCEL;
    snprintf(line, size, "%s", e->buf);
    return NSH_INPUT_LINE;
}

enum nsh_input nsh_read_line(struct nsh *sh, const char *prompt, char *line, size_t size)
{
    fflush(stdout);
    fflush(stderr);
    if (sh->tty != HANDLE_INVALID && sh->raw_ok) {
        if (set_mode(sh, CONSOLE_MODE_RAW))
            return read_edited(sh, prompt, line, size);
        sh->raw_ok = false; // the tty does not answer: stay cooked from now on
        fprintf(stderr, "nsh: the terminal refused raw mode: no line editing\n");
    }
    return read_cooked(sh, prompt, line, size);
}
