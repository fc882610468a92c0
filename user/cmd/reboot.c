// reboot: restarts the machine (NB_SYS_POWER, docs/DEVICES.md). It needs the power
// resource from its launcher: an init manifest line with handles=power.
#include <stdio.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: reboot\nRestarts the machine. Needs the power handle (manifest: "
             "handles=power).");
        return 0;
    }
    if (argc != 1) {
        fputs("usage: reboot [--help]\n", stderr);
        return 2;
    }
    handle_t power = nb_bootstrap_take(BOOTSTRAP_ROLE_POWER);
    if (power == HANDLE_INVALID) {
        fputs("reboot: no power handle (start it with handles=power)\n", stderr);
        return 1;
    }
    status_t st = nb_power(power, NB_POWER_REBOOT); // returns only if it failed
    fprintf(stderr, "reboot: cannot reboot: %s\n", status_str(st));
    return 1;
}
