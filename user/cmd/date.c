// date: the wall-clock time (NB_CLOCK_REALTIME) in UTC.
#include <stdio.h>
#include <string.h>

#include "nb/syscall.h"
#include "nb/sysinfo.h"

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: date\n"
             "Shows the wall-clock time as YYYY-MM-DD HH:MM:SS UTC.");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "date: unexpected argument '%s'\nusage: date\n", argv[1]);
        return 2;
    }
    uint64_t ns = 0;
    status_t s = nb_clock_get(NB_CLOCK_REALTIME, &ns);
    if (s != OK) {
        fprintf(stderr, "date: cannot read the clock: %s\n", status_str(s));
        return 1;
    }
    if (ns == 0) {
        fputs("date: the wall clock is not set\n", stderr);
        return 1;
    }
    char buf[48];
    puts(nb_format_date(ns, buf, sizeof(buf)));
    return 0;
}
