// lsdev: the devices the device manager found and their drivers, through
// the bootstrap "devices" channel (proto/devmgr.nidl, docs/DEVICES.md).
//
//   BUS          LOCATION    ID         CLASS    DRIVER           STATE
//   pci          00:03.0     1af4:1005  rng      /bin/virtio-rng  running
#include <stdio.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/sysinfo.h"
#include "nb/transport.h"
#include "proto/devmgr.h"

#define CALL_TIMEOUT_NS (5ull * 1000 * 1000 * 1000)

static const char *state_name(uint32_t state)
{
    switch (state) {
    case DEVMGR_STATE_NONE:
        return "-";
    case DEVMGR_STATE_RUNNING:
        return "running";
    case DEVMGR_STATE_RESTARTING:
        return "restarting";
    case DEVMGR_STATE_FAILED:
        return "failed";
    default:
        return "?";
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: lsdev\n"
             "Lists the devices the device manager (devmgr) found: bus, location,\n"
             "vendor:device id, class, the driver /etc/drivers names and its state\n"
             "(running, restarting, failed; '-' without a driver) with its restarts.\n"
             "Needs the devices handle (handles=devices).");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "lsdev: unexpected argument '%s'\nusage: lsdev\n", argv[1]);
        return 2;
    }
    handle_t ch = nb_cmd_handle("lsdev", BOOTSTRAP_ROLE_DEVICES);
    if (ch == HANDLE_INVALID)
        return 1;
    static uint64_t buf[(DEVMGR_MAX_MSG_BYTES + 7) / 8];
    struct nb_channel_transport ct;
    nb_channel_transport_init(&ct, ch, buf, sizeof(buf));
    ct.timeout_ns = CALL_TIMEOUT_NS;

    uint32_t count = 1;
    for (uint32_t i = 0; i < count; i++) {
        status_t st;
        uint32_t bus, vendor, device, state, restarts, loc_len, cls_len, drv_len;
        const char *loc, *cls, *drv;
        status_t s = devmgr_get(&ct.tr, i, &st, &count, &bus, &vendor, &device, &state, &restarts,
                                &loc, &loc_len, &cls, &cls_len, &drv, &drv_len);
        if (s == OK && st == ERR_OUT_OF_RANGE && i == 0 && count == 0) {
            puts("lsdev: no devices");
            return 0;
        }
        if (s != OK || st != OK) {
            fprintf(stderr, "lsdev: cannot list the devices: %s\n", status_str(s != OK ? s : st));
            return 1;
        }
        if (i == 0)
            printf("%-12s %-12s %-10s %-10s %-20s %s\n", "BUS", "LOCATION", "ID", "CLASS", "DRIVER",
                   "STATE");
        char id[16], st_buf[48];
        if (bus == DEVMGR_BUS_PCI)
            snprintf(id, sizeof(id), "%04x:%04x", vendor & 0xffff, device & 0xffff);
        else
            snprintf(id, sizeof(id), "virtio:%u", device & 0xffff); // the virtio device type
        if (restarts)
            snprintf(st_buf, sizeof(st_buf), "%s (%u restarts)", state_name(state), restarts);
        else
            snprintf(st_buf, sizeof(st_buf), "%s", state_name(state));
        printf("%-12s %-12.*s %-10s %-10.*s %-20.*s %s\n",
               bus == DEVMGR_BUS_PCI ? "pci" : "virtio-mmio", (int)loc_len, loc, id, (int)cls_len,
               cls, drv_len ? (int)drv_len : 1, drv_len ? drv : "-", st_buf);
    }
    return 0;
}
