// ps: the processes the kernel knows (NB_INFO_PROCESSES), one line each.
// Needs the bootstrap "info" handle.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/sysinfo.h"

static int usage(FILE *f, int status)
{
    fputs("usage: ps\n"
          "Lists every process: PID, NAME, STATE (new, running, dead, killed,\n"
          "faulted), THREADS, CPU (seconds), MEM (mapped user memory).\n"
          "Needs the info handle (handles=info).\n",
          f);
    return status;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help"))
        return usage(stdout, 0);
    if (argc > 1) {
        fprintf(stderr, "ps: unexpected argument '%s'\n", argv[1]);
        return usage(stderr, 2);
    }
    handle_t info = nb_cmd_handle("ps", BOOTSTRAP_ROLE_INFO);
    if (info == HANDLE_INVALID)
        return 1;
    void *buf;
    size_t size;
    status_t s = nb_info_get(info, NB_INFO_PROCESSES, &buf, &size);
    if (s != OK) {
        fprintf(stderr, "ps: cannot read the process list: %s\n", status_str(s));
        return 1;
    }
    const struct nb_process_info *p = buf;
    printf("%5s %-20s %-8s %7s %9s %10s\n", "PID", "NAME", "STATE", "THREADS", "CPU", "MEM");
    for (size_t i = 0; i < size / sizeof(*p); i++) {
        char cpu[32], mem[32];
        printf("%5llu %-20.31s %-8s %7u %9s %10s\n", (unsigned long long)p[i].pid, p[i].name,
               nb_process_state_name(p[i].state, p[i].flags), p[i].threads,
               nb_format_seconds(p[i].cpu_ns, cpu, sizeof(cpu)),
               nb_format_size(p[i].mapped_bytes, mem, sizeof(mem)));
    }
    free(buf);
    return 0;
}
