// The text commands' inputs from the initrd and their standard output
// (nb/textin.h): the parts that need the bootstrap handles and stdio.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/textin.h"

static struct nb_initrd rd;
static int rd_state; // 0 not opened yet, 1 open, -1 unavailable

bool nb_textin_open(struct nb_textin *in, const char *cmd, const char *arg)
{
    if (!strcmp(arg, "-")) {
        nb_textin_init_fd(in, 0);
        return true;
    }
    if (rd_state == 0) {
        handle_t vmo = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
        rd_state = vmo != HANDLE_INVALID && nb_initrd_open(&rd, vmo) == OK ? 1 : -1;
    }
    if (rd_state < 0) {
        fprintf(stderr, "%s: %s: no initrd handle (/etc/commands gives %s the role initrd)\n", cmd,
                arg, cmd);
        return false;
    }
    const char *why = nb_textin_open_archive(in, rd.base, rd.size, getenv("PWD"), arg);
    if (why) {
        fprintf(stderr, "%s: %s: %s\n", cmd, arg, why);
        return false;
    }
    return true;
}

void nb_textin_report(const struct nb_textin *in, const char *cmd, const char *arg)
{
    fprintf(stderr, "%s: %s: read error: %s\n", cmd, strcmp(arg, "-") ? arg : "standard input",
            strerror(in->error ? in->error : EIO));
}

static char out_buf[NB_TEXTIN_CHUNK];
static int out_errno; // of the first failed write

void nb_textout_init(void)
{
    if (!isatty(1))
        setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
}

static bool out_check(void)
{
    if (!ferror(stdout))
        return true;
    if (!out_errno)
        out_errno = errno ? errno : EIO;
    return false;
}

bool nb_textout_write(const void *data, size_t len)
{
    if (ferror(stdout))
        return false;
    if (len)
        fwrite(data, 1, len, stdout);
    return out_check();
}

bool nb_textout_printf(const char *fmt, ...)
{
    if (ferror(stdout))
        return false;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    return out_check();
}

bool nb_textout_done(const char *cmd)
{
    if (!ferror(stdout)) {
        errno = 0;
        if (fflush(stdout) == 0)
            return true;
        out_check();
    }
    if (out_errno != EPIPE)
        fprintf(stderr, "%s: write error: %s\n", cmd, strerror(out_errno ? out_errno : EIO));
    return false;
}
