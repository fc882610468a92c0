// drvtest.h: a virtio-mmio driver started by a test program.
#include "drvtest.h"

#include <stdio.h>

#include "nb/bootstrap.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nimbus/resource.h"

status_t drvtest_resource(uint32_t role, uint32_t kind, uint64_t base, uint64_t size, handle_t *out)
{
    *out = nb_bootstrap_take(role);
    if (*out != HANDLE_INVALID)
        return OK;
    handle_t root = nb_bootstrap_peek(BOOTSTRAP_ROLE_ROOT_RESOURCE);
    if (root == HANDLE_INVALID)
        return ERR_NOT_FOUND;
    return nb_resource_create(root, kind, base, size, out);
}

status_t drvtest_open(struct drvtest *d, uint64_t addr, uint64_t gsi)
{
    handle_t rdh = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    status_t s;
    if (rdh == HANDLE_INVALID || (s = nb_initrd_open(&d->initrd, rdh)) != OK) {
        fprintf(stderr, "%s: no initrd\n", d->test);
        return ERR_NOT_FOUND;
    }
    if ((s = drvtest_resource(BOOTSTRAP_ROLE_MMIO, NB_RESOURCE_MMIO, addr & ~0xfffull, 4096,
                              &d->res[0])) != OK ||
        (s = drvtest_resource(BOOTSTRAP_ROLE_IRQ, NB_RESOURCE_IRQ, gsi, 1, &d->res[1])) != OK ||
        (s = drvtest_resource(BOOTSTRAP_ROLE_DMA, NB_RESOURCE_DMA, 0, 0, &d->res[2])) != OK) {
        fprintf(stderr, "%s: no device resources (mmio, irq, dma or root_resource): %s\n", d->test,
                status_str(s));
        return s;
    }
    return OK;
}

status_t drvtest_spawn(struct drvtest *d, handle_t *client, handle_t *proc)
{
    const void *elf;
    size_t elf_size;
    status_t s;
    *client = HANDLE_INVALID;
    if ((s = nb_initrd_find(&d->initrd, d->program, &elf, &elf_size)) != OK) {
        fprintf(stderr, "%s: no %s in the initrd\n", d->test, d->program);
        return s;
    }
    handle_t hs[5], theirs;
    uint32_t roles[5] = {BOOTSTRAP_ROLE_MMIO, BOOTSTRAP_ROLE_IRQ, BOOTSTRAP_ROLE_DMA,
                         BOOTSTRAP_ROLE_SERVICE, BOOTSTRAP_ROLE_LOG};
    uint32_t n = 0;
    for (; n < 3; n++) {
        if ((s = nb_handle_duplicate(d->res[n], RIGHT_SAME_RIGHTS, &hs[n])) != OK)
            break;
    }
    if (s == OK && (s = nb_channel_create(0, client, &theirs)) == OK)
        hs[n++] = theirs;
    if (s != OK) {
        while (n)
            nb_handle_close(hs[--n]);
        return s;
    }
    handle_t log = nb_bootstrap_peek(BOOTSTRAP_ROLE_LOG);
    if (log != HANDLE_INVALID && nb_handle_duplicate(log, RIGHT_SAME_RIGHTS, &hs[4]) == OK)
        n = 5;
    const char *base = d->program;
    for (const char *p = d->program; *p; p++)
        if (*p == '/')
            base = p + 1;
    struct nb_spawn sp = {.name = base,
                          .elf = elf,
                          .elf_size = elf_size,
                          .argv = (const char **)d->argv,
                          .roles = roles,
                          .handles = hs,
                          .nhandles = n};
    if ((s = nb_spawn(&sp, proc)) != OK) {
        fprintf(stderr, "%s: cannot start %s: %s\n", d->test, d->program, status_str(s));
        nb_handle_close(*client);
        *client = HANDLE_INVALID;
    }
    return s;
}
