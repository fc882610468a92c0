// hvinfo: what the kernel found out about the hypervisor
// (NB_INFO_HYPERVISOR), the report it logs at boot. Needs the bootstrap
// "info" handle.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/sysinfo.h"

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: hvinfo\n"
             "Shows the hypervisor the kernel runs under, the features it offers\n"
             "and those the kernel uses, and the clock source. Needs the info\n"
             "handle (handles=info).");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "hvinfo: unexpected argument '%s'\nusage: hvinfo\n", argv[1]);
        return 2;
    }
    handle_t info = nb_cmd_handle("hvinfo", BOOTSTRAP_ROLE_INFO);
    if (info == HANDLE_INVALID)
        return 1;
    void *buf;
    size_t size;
    status_t s = nb_info_get(info, NB_INFO_HYPERVISOR, &buf, &size);
    if (s != OK) {
        fprintf(stderr, "hvinfo: cannot read the hypervisor report: %s\n", status_str(s));
        return 1;
    }
    fwrite(buf, 1, size, stdout);
    free(buf);
    return 0;
}
