// nb_device_open: a connection to a device's driver through devmgr.
#include "nb/device.h"

#include <string.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nb/transport.h"
#include "proto/devmgr.h"

status_t nb_device_open(const char *class_name, uint32_t index, uint64_t timeout_ns, handle_t *out)
{
    static uint64_t buf[(DEVMGR_MAX_MSG_BYTES + 7) / 8];
    struct nb_channel_transport t;
    handle_t dev = nb_bootstrap_take(BOOTSTRAP_ROLE_DEVICES);
    *out = HANDLE_INVALID;
    if (dev == HANDLE_INVALID)
        return ERR_BAD_HANDLE;
    nb_channel_transport_init(&t, dev, buf, sizeof(buf));
    t.timeout_ns = timeout_ns;
    status_t st;
    status_t s = devmgr_open(&t.tr, class_name, (uint32_t)strlen(class_name), index, &st, out);
    nb_handle_close(dev);
    if (s == OK && st != OK)
        s = st;
    if (s != OK && *out != HANDLE_INVALID) {
        nb_handle_close(*out);
        *out = HANDLE_INVALID;
    }
    return s;
}
