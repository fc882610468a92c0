// Reading system information (nb/sysinfo.h): topics into malloc'd buffers,
// and the bootstrap handles the commands need.
#include <stdio.h>
#include <stdlib.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nb/sysinfo.h"

status_t nb_info_get(handle_t info, uint32_t topic, void **buf, size_t *size)
{
    uint64_t need = 0;
    *buf = NULL;
    *size = 0;
    status_t s = nb_system_info(info, topic, NULL, 0, &need);
    // The data may grow between two calls (processes start): ask again.
    for (int tries = 0; s == ERR_BUFFER_TOO_SMALL && tries < 8; tries++) {
        size_t cap = (size_t)need + (size_t)need / 4 + 64;
        void *p = realloc(*buf, cap);
        if (!p) {
            s = ERR_NO_MEMORY;
            break;
        }
        *buf = p;
        s = nb_system_info(info, topic, *buf, cap, &need);
    }
    if (s != OK) {
        free(*buf);
        *buf = NULL;
        return s;
    }
    *size = (size_t)need;
    return OK;
}

handle_t nb_cmd_handle(const char *cmd, uint32_t role)
{
    handle_t h = nb_bootstrap_peek(role);
    if (h == HANDLE_INVALID) {
        const char *name = nb_bootstrap_role_name(role);
        fprintf(stderr, "%s: no %s handle (start me with handles=%s)\n", cmd, name ? name : "?",
                name ? name : "?");
    }
    return h;
}
