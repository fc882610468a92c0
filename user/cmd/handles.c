// handles: the handle table of a process (NB_SYS_PROCESS_HANDLES): its own
// without an argument, else that of process PID (which needs the bootstrap
// "processes" handle).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nb/sysinfo.h"

static int usage(FILE *f, int status)
{
    fputs("usage: handles [PID]\n"
          "Lists the handles of process PID (default: this one): value, object\n"
          "type, rights and object id (the same object has the same id in\n"
          "every process). Rights letters, in order, '-' when missing:\n"
          "  r read  w write  d duplicate  t transfer  m map  x execute\n"
          "  s signal  p signal peer  W wait  I inspect  M manage\n"
          "Another process needs the processes handle (handles=processes).\n",
          f);
    return status;
}

static int list(handle_t proc, const char *who)
{
    struct nb_handle_entry *e = NULL;
    uint64_t n = 16;
    status_t s;
    for (;;) {
        struct nb_handle_entry *p = realloc(e, (size_t)n * sizeof(*e));
        if (!p) {
            s = ERR_NO_MEMORY;
            break;
        }
        e = p;
        uint64_t max = n;
        s = nb_process_handles(proc, e, max, &n);
        if (s != ERR_BUFFER_TOO_SMALL)
            break;
        n += 16; // more than there were: handles may come meanwhile
    }
    if (s != OK) {
        fprintf(stderr, "handles: cannot list the handles of %s: %s\n", who, status_str(s));
        free(e);
        return 1;
    }
    printf("%-10s %-10s %-12s %s\n", "HANDLE", "TYPE", "RIGHTS", "OBJECT");
    for (uint64_t i = 0; i < n; i++) {
        char rights[NB_RIGHTS_BUF];
        printf("%#010x %-10s %-12s %llu\n", e[i].handle, nb_object_type_name(e[i].type),
               nb_format_rights(e[i].rights, rights, sizeof(rights)),
               (unsigned long long)e[i].object_id);
    }
    free(e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help"))
        return usage(stdout, 0);
    if (argc > 2)
        return usage(stderr, 2);
    if (argc == 1) {
        nb_bootstrap_load(); // so the list shows what the launcher gave
        return list(HANDLE_INVALID, "this process");
    }
    uint64_t pid;
    if (nb_parse_pid(argv[1], &pid) != OK) {
        fprintf(stderr, "handles: %s: not a process id\n", argv[1]);
        return usage(stderr, 2);
    }
    handle_t res = nb_cmd_handle("handles", BOOTSTRAP_ROLE_PROCESSES);
    if (res == HANDLE_INVALID)
        return 1;
    handle_t proc;
    status_t s = nb_process_get(res, pid, &proc);
    if (s == ERR_NOT_FOUND) {
        fprintf(stderr, "handles: %s: no such process\n", argv[1]);
        return 1;
    }
    if (s != OK) {
        fprintf(stderr, "handles: %s: %s\n", argv[1], status_str(s));
        return 1;
    }
    int rc = list(proc, argv[1]);
    nb_handle_close(proc);
    return rc;
}
