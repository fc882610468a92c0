// Reading files from the initrd vmo (nb/initrd.h).
#include <stdbool.h>
#include <stdlib.h>

#include "nb/initrd.h"
#include "nb/syscall.h"

#define PAGE_SIZE 4096u

status_t nb_initrd_open(struct nb_initrd *rd, handle_t vmo)
{
    uint64_t size;
    uintptr_t addr = 0;
    status_t s;

    *rd = (struct nb_initrd){.vmo = vmo};
    if ((s = nb_vmo_get_size(vmo, &size)) != OK)
        return s;
    if (size > SIZE_MAX - PAGE_SIZE)
        return ERR_OUT_OF_RANGE;
    uint64_t len = (size + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
    if (len && nb_vm_map(HANDLE_INVALID, vmo, 0, len, NB_VM_READ, &addr) == OK) {
        *rd = (struct nb_initrd){vmo, (const void *)addr, size, true};
        return OK;
    }
    // No MAP right (or no mapping support): a private copy does as well.
    void *copy = malloc(size ? size : 1);
    if (!copy)
        return ERR_NO_MEMORY;
    if ((s = nb_vmo_read(vmo, copy, 0, size)) != OK) {
        free(copy);
        return s;
    }
    *rd = (struct nb_initrd){vmo, copy, size, false};
    return OK;
}

void nb_initrd_close(struct nb_initrd *rd)
{
    if (rd->mapped) {
        uint64_t len = (rd->size + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
        nb_vm_unmap(HANDLE_INVALID, (uintptr_t)rd->base, len);
    } else {
        free((void *)rd->base);
    }
    rd->base = NULL;
    rd->size = 0;
}

status_t nb_initrd_find(const struct nb_initrd *rd, const char *path, const void **data,
                        size_t *size)
{
    struct cpio_entry e;
    status_t s = cpio_find(rd->base, rd->size, path, &e);
    if (s == OK) {
        *data = e.data;
        *size = e.size;
    }
    return s;
}
