// Debug console and log output (nb/debug.h).
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/syscall.h"

void nb_debug_print(const char *s)
{
    nb_debug_write(s, strlen(s));
}

void nb_debug_printf(const char *fmt, ...)
{
    char line[NB_LOG_LINE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    nb_debug_print(line);
}

void nb_logf(const char *fmt, ...)
{
    char line[NB_LOG_LINE_MAX + 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, NB_LOG_LINE_MAX + 1, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : n > NB_LOG_LINE_MAX ? NB_LOG_LINE_MAX : (size_t)n;

    handle_t log = nb_bootstrap_peek(BOOTSTRAP_ROLE_LOG);
    if (log != HANDLE_INVALID && nb_log_write(log, line, len) == OK)
        return;
    line[len++] = '\n';
    nb_debug_write(line, len);
}
