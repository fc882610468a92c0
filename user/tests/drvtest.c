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

status_t drvtest_start_command(struct drvtest *d, const char *const *argv, handle_t service,
                               handle_t *proc, handle_t *out_ch)
{
    const void *elf;
    size_t elf_size;
    handle_t theirs;
    status_t s;
    if ((s = nb_initrd_find(&d->initrd, argv[0], &elf, &elf_size)) != OK ||
        (s = nb_channel_create(0, out_ch, &theirs)) != OK) {
        nb_handle_close(service);
        return s;
    }
    const char *base = argv[0];
    for (const char *p = argv[0]; *p; p++)
        if (*p == '/')
            base = p + 1;
    uint32_t roles[] = {BOOTSTRAP_ROLE_SERVICE, BOOTSTRAP_ROLE_STDOUT};
    handle_t hs[] = {service, theirs};
    struct nb_spawn sp = {.name = base,
                          .elf = elf,
                          .elf_size = elf_size,
                          .argv = argv,
                          .roles = roles,
                          .handles = hs,
                          .nhandles = 2};
    if ((s = nb_spawn(&sp, proc)) != OK)
        nb_handle_close(*out_ch);
    return s;
}

int drvtest_finish_command(handle_t proc, handle_t out_ch, uint64_t deadline, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        signals_t obs;
        if (nb_object_wait_one(out_ch, SIGNAL_READABLE | SIGNAL_PEER_CLOSED, deadline, &obs) != OK)
            break;
        struct nb_msg_in m = {.bytes = out + n, .bytes_cap = (uint32_t)(cap - 1 - n)};
        status_t s = nb_channel_read(out_ch, &m);
        if (s == ERR_SHOULD_WAIT)
            continue;
        if (s != OK)
            break;
        n += m.nbytes;
        if (n + 1 >= cap)
            break;
    }
    out[n] = 0;
    nb_handle_close(out_ch);
    struct nb_process_info info;
    status_t s = nb_process_wait(proc, deadline, &info);
    if (s != OK)
        nb_task_kill(proc);
    nb_handle_close(proc);
    return s == OK ? (int)info.exit_code : -1;
}
