// uptime: how long the system has run, CPUs and processes
// (NB_INFO_SYSTEM). Needs the bootstrap "info" handle.
#include <stdio.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nb/sysinfo.h"

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: uptime\n"
             "Shows how long the system has been up, the CPUs online and the\n"
             "processes. Needs the info handle (handles=info).");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "uptime: unexpected argument '%s'\nusage: uptime\n", argv[1]);
        return 2;
    }
    handle_t info = nb_cmd_handle("uptime", BOOTSTRAP_ROLE_INFO);
    if (info == HANDLE_INVALID)
        return 1;
    struct nb_system_info si;
    uint64_t got;
    status_t s = nb_system_info(info, NB_INFO_SYSTEM, &si, sizeof(si), &got);
    if (s != OK) {
        fprintf(stderr, "uptime: cannot read the system information: %s\n", status_str(s));
        return 1;
    }
    char up[48];
    printf("up %s, %u cpu%s, %u process%s\n", nb_format_uptime(si.uptime_ns, up, sizeof(up)),
           si.cpus, si.cpus == 1 ? "" : "s", si.processes, si.processes == 1 ? "" : "es");
    return 0;
}
