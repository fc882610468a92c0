// Names of bootstrap roles for the init manifest and logs. Pure C: the host
// tests build it with the manifest parser.
#include <stddef.h>
#include <string.h>

#include "nb/bootstrap.h"

#define USER_ROLES 16

static const struct {
    uint32_t role;
    const char *name;
} role_names[] = {
    {BOOTSTRAP_ROLE_LOG, "log"},
    {BOOTSTRAP_ROLE_INITRD, "initrd"},
    {BOOTSTRAP_ROLE_ROOT_RESOURCE, "root_resource"},
    {BOOTSTRAP_ROLE_PROCESS_SELF, "self"},
    {BOOTSTRAP_ROLE_ROOT_JOB, "root_job"},
    {BOOTSTRAP_ROLE_VMEX, "vmex"},
    {BOOTSTRAP_ROLE_STDIN, "stdin"},
    {BOOTSTRAP_ROLE_STDOUT, "stdout"},
    {BOOTSTRAP_ROLE_STDERR, "stderr"},
    {BOOTSTRAP_ROLE_TTY, "tty"},
    {BOOTSTRAP_ROLE_CONSOLE, "console"},
    {BOOTSTRAP_ROLE_IOPORT, "ioport"},
    {BOOTSTRAP_ROLE_IRQ, "irq"},
    {BOOTSTRAP_ROLE_INFO, "info"},
    {BOOTSTRAP_ROLE_POWER, "power"},
    {BOOTSTRAP_ROLE_PROCESSES, "processes"},
    {BOOTSTRAP_ROLE_MMIO, "mmio"},
    {BOOTSTRAP_ROLE_PCI, "pci"},
    {BOOTSTRAP_ROLE_DMA, "dma"},
    {BOOTSTRAP_ROLE_ENTROPY, "entropy"},
    {BOOTSTRAP_ROLE_SERVICE, "service"},
    {BOOTSTRAP_ROLE_DEVICES, "devices"},
};

static const char *const user_names[USER_ROLES] = {
    "user0", "user1", "user2",  "user3",  "user4",  "user5",  "user6",  "user7",
    "user8", "user9", "user10", "user11", "user12", "user13", "user14", "user15",
};

uint32_t nb_bootstrap_role_by_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (strlen(role_names[i].name) == len && !memcmp(role_names[i].name, name, len))
            return role_names[i].role;
    for (uint32_t i = 0; i < USER_ROLES; i++)
        if (strlen(user_names[i]) == len && !memcmp(user_names[i], name, len))
            return BOOTSTRAP_ROLE_USER0 + i;
    return 0;
}

const char *nb_bootstrap_role_name(uint32_t role)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (role_names[i].role == role)
            return role_names[i].name;
    if (role >= BOOTSTRAP_ROLE_USER0 && role - BOOTSTRAP_ROLE_USER0 < USER_ROLES)
        return user_names[role - BOOTSTRAP_ROLE_USER0];
    return NULL;
}
