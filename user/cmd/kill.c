// kill: ends processes by id (NB_SYS_PROCESS_GET, then NB_SYS_TASK_KILL).
// Needs the bootstrap "processes" handle.
#include <stdio.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nb/sysinfo.h"

static int usage(FILE *f, int status)
{
    fputs("usage: kill PID...\n"
          "Ends each process PID (its exit code becomes 137). Needs the processes\n"
          "handle (handles=processes).\n",
          f);
    return status;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help"))
        return usage(stdout, 0);
    if (argc < 2)
        return usage(stderr, 2);
    uint64_t pids[64];
    if (argc - 1 > (int)(sizeof(pids) / sizeof(pids[0]))) {
        fprintf(stderr, "kill: at most %zu process ids\n", sizeof(pids) / sizeof(pids[0]));
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (nb_parse_pid(argv[i], &pids[i - 1]) != OK) {
            fprintf(stderr, "kill: %s: not a process id\n", argv[i]);
            return usage(stderr, 2);
        }
    }
    handle_t res = nb_cmd_handle("kill", BOOTSTRAP_ROLE_PROCESSES);
    if (res == HANDLE_INVALID)
        return 1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        handle_t proc;
        status_t s = nb_process_get(res, pids[i - 1], &proc);
        if (s == OK) {
            s = nb_task_kill(proc);
            nb_handle_close(proc);
        }
        if (s == ERR_NOT_FOUND)
            fprintf(stderr, "kill: %s: no such process\n", argv[i]);
        else if (s != OK)
            fprintf(stderr, "kill: %s: %s\n", argv[i], status_str(s));
        if (s != OK)
            rc = 1;
    }
    return rc;
}
