// Formatting for the system information commands (nb/sysinfo.h). Pure C:
// the host tests build it.
#include <stdio.h>
#include <string.h>

#include "nb/sysinfo.h"
#include "nimbus/object.h"

#define NS_PER_SEC 1000000000ull

static const char *const type_names[OBJ_TYPE_COUNT] = {
    [OBJ_NONE] = "none",
    [OBJ_CHANNEL] = "channel",
    [OBJ_PORT] = "port",
    [OBJ_EVENT] = "event",
    [OBJ_EVENTPAIR] = "eventpair",
    [OBJ_TIMER] = "timer",
    [OBJ_VMO] = "vmo",
    [OBJ_REVOKER] = "revoker",
    [OBJ_PROCESS] = "process",
    [OBJ_THREAD] = "thread",
    [OBJ_VMAR] = "vmar",
    [OBJ_JOB] = "job",
    [OBJ_INTERRUPT] = "interrupt",
    [OBJ_RESOURCE] = "resource",
    [OBJ_LOG] = "log",
};

const char *nb_object_type_name(uint32_t type)
{
    return type < OBJ_TYPE_COUNT && type_names[type] ? type_names[type] : "?";
}

char *nb_format_rights(rights_t rights, char *buf, size_t size)
{
    static const char letters[] = NB_RIGHTS_LETTERS;
    char tmp[NB_RIGHTS_BUF];
    size_t n = 0;
    _Static_assert(sizeof(letters) - 1 == 11 && RIGHTS_ALL == (1u << 11) - 1, "one letter a right");
    for (size_t i = 0; i < sizeof(letters) - 1; i++)
        tmp[n++] = rights & (1u << i) ? letters[i] : '-';
    if (rights & ~RIGHTS_ALL)
        tmp[n++] = '+';
    tmp[n] = 0;
    snprintf(buf, size, "%s", tmp);
    return buf;
}

char *nb_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    size_t u = 0;
    uint64_t scale = 1024; // bytes per unit u
    while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes / scale >= 1024) {
        scale *= 1024;
        u++;
    }
    uint64_t whole = bytes / scale;
    uint64_t tenth = (bytes % scale) / (scale / 10 ? scale / 10 : 1);
    snprintf(buf, size, "%llu.%llu %s", (unsigned long long)whole,
             (unsigned long long)(tenth > 9 ? 9 : tenth), units[u]);
    return buf;
}

const char *nb_process_state_name(uint32_t state, uint32_t flags)
{
    switch (state) {
    case NB_PROCESS_NEW:
        return "new";
    case NB_PROCESS_RUNNING:
        return "running";
    case NB_PROCESS_DEAD:
        return flags & NB_PROCESS_FAULTED  ? "faulted"
               : flags & NB_PROCESS_KILLED ? "killed"
                                           : "dead";
    default:
        return "?";
    }
}

char *nb_format_seconds(uint64_t ns, char *buf, size_t size)
{
    snprintf(buf, size, "%llu.%03llu", (unsigned long long)(ns / NS_PER_SEC),
             (unsigned long long)(ns % NS_PER_SEC / 1000000));
    return buf;
}

char *nb_format_uptime(uint64_t ns, char *buf, size_t size)
{
    uint64_t s = ns / NS_PER_SEC, days = s / 86400;
    unsigned h = (unsigned)(s % 86400 / 3600), m = (unsigned)(s % 3600 / 60),
             sec = (unsigned)(s % 60);
    if (days)
        snprintf(buf, size, "%llu day%s, %u:%02u:%02u", (unsigned long long)days,
                 days == 1 ? "" : "s", h, m, sec);
    else
        snprintf(buf, size, "%u:%02u:%02u", h, m, sec);
    return buf;
}

// Year, month (1-12) and day (1-31) of a day count since 1970-01-01: the
// calendar repeats every 400 years (146097 days); counted from 0000-03-01
// so that the leap day ends each year.
static void civil_from_days(uint64_t days, uint64_t *y, unsigned *m, unsigned *d)
{
    uint64_t z = days + 719468; // days from 0000-03-01 to 1970-01-01
    uint64_t era = z / 146097;
    uint64_t doe = z - era * 146097;                                      // [0, 146096]
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // [0, 399]
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               // [0, 365]
    uint64_t mp = (5 * doy + 2) / 153;                                    // March = 0
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

char *nb_format_date(uint64_t unix_ns, char *buf, size_t size)
{
    uint64_t s = unix_ns / NS_PER_SEC, y;
    unsigned mo, d;
    civil_from_days(s / 86400, &y, &mo, &d);
    snprintf(buf, size, "%04llu-%02u-%02u %02u:%02u:%02u UTC", (unsigned long long)y, mo, d,
             (unsigned)(s % 86400 / 3600), (unsigned)(s % 3600 / 60), (unsigned)(s % 60));
    return buf;
}

char *nb_format_log_record(const struct nb_log_record *rec, char *buf, size_t size)
{
    uint64_t us = rec->ts_ns / 1000;
    size_t len = rec->len < sizeof(rec->line) ? rec->len : sizeof(rec->line);
    snprintf(buf, size, "[%5llu.%06llu] %.*s", (unsigned long long)(us / 1000000),
             (unsigned long long)(us % 1000000), (int)len, rec->line);
    return buf;
}

status_t nb_parse_pid(const char *s, uint64_t *pid)
{
    uint64_t v = 0;
    if (!s || !*s)
        return ERR_INVALID_ARGS;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return ERR_INVALID_ARGS;
        unsigned digit = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return ERR_INVALID_ARGS;
        v = v * 10 + digit;
    }
    if (v == 0)
        return ERR_INVALID_ARGS;
    *pid = v;
    return OK;
}
