// boottime: when each boot stage was reached (NB_INFO_BOOT), in
// milliseconds since the kernel's entry. Needs the bootstrap "info" handle.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/sysinfo.h"

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: boottime\n"
             "Lists the boot stages with the time each was reached (ms since the\n"
             "kernel's entry) and the time since the stage before. Needs the info\n"
             "handle (handles=info).");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "boottime: unexpected argument '%s'\nusage: boottime\n", argv[1]);
        return 2;
    }
    handle_t info = nb_cmd_handle("boottime", BOOTSTRAP_ROLE_INFO);
    if (info == HANDLE_INVALID)
        return 1;
    void *buf;
    size_t size;
    status_t s = nb_info_get(info, NB_INFO_BOOT, &buf, &size);
    if (s != OK) {
        fprintf(stderr, "boottime: cannot read the boot stages: %s\n", status_str(s));
        return 1;
    }
    const struct nb_boot_stage *st = buf;
    printf("%-16s %12s %12s\n", "STAGE", "MS", "DELTA");
    for (size_t i = 0; i < size / sizeof(*st); i++) {
        uint64_t d = i ? st[i].ns - st[i - 1].ns : 0;
        printf("%-16.15s %8llu.%03llu %8llu.%03llu\n", st[i].name,
               (unsigned long long)(st[i].ns / 1000000),
               (unsigned long long)(st[i].ns / 1000 % 1000), (unsigned long long)(d / 1000000),
               (unsigned long long)(d / 1000 % 1000));
    }
    free(buf);
    return 0;
}
