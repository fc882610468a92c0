// dmesg: the kernel log (the bootstrap "log" handle), from its oldest
// record on; -f then follows it, waiting for new records.
#include <stdio.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nb/sysinfo.h"
#include "nb/time.h"

// Several readers share the log object and may clear each other's
// READABLE: look again at least this often.
#define FOLLOW_POLL_NS (1 * NB_NSEC_PER_SEC)

static int usage(FILE *f, int status)
{
    fputs("usage: dmesg [-f]\n"
          "Prints the kernel log as [seconds.micros] line, oldest first.\n"
          "  -f  keep following the log: print new records as they come\n"
          "Needs the log handle (handles=log).\n",
          f);
    return status;
}

int main(int argc, char **argv)
{
    int follow = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, 0);
        if (!strcmp(argv[i], "-f")) {
            follow = 1;
            continue;
        }
        fprintf(stderr, "dmesg: unknown option '%s'\n", argv[i]);
        return usage(stderr, 2);
    }
    handle_t log = nb_cmd_handle("dmesg", BOOTSTRAP_ROLE_LOG);
    if (log == HANDLE_INVALID)
        return 1;
    static struct nb_log_record rec;
    static char line[NB_LOG_LINE_MAX + 32];
    uint64_t seq = 0;
    for (;;) {
        status_t s = nb_log_read(log, &seq, &rec);
        if (s == OK) {
            puts(nb_format_log_record(&rec, line, sizeof(line)));
            continue;
        }
        if (s != ERR_SHOULD_WAIT) {
            fprintf(stderr, "dmesg: cannot read the log: %s\n", status_str(s));
            return 1;
        }
        if (!follow)
            return 0;
        fflush(stdout);
        signals_t seen;
        s = nb_object_wait_one(log, SIGNAL_READABLE, nb_deadline_after(FOLLOW_POLL_NS), &seen);
        if (s != OK && s != ERR_TIMED_OUT) {
            fprintf(stderr, "dmesg: cannot wait for the log: %s\n", status_str(s));
            return 1;
        }
    }
}
