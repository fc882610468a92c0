// mem: memory use (NB_INFO_MEMORY); -s adds the kernel's slab caches
// (NB_INFO_SLABS). Needs the bootstrap "info" handle.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nb/sysinfo.h"

static int usage(FILE *f, int status)
{
    fputs("usage: mem [-s]\n"
          "Shows total, free and used memory in pages and MiB, and what the kernel\n"
          "uses it for. -s also lists the slab caches (objects in use, objects,\n"
          "pages). Needs the info handle (handles=info).\n",
          f);
    return status;
}

static void row(const char *what, uint64_t pages, uint64_t page_size)
{
    char size[32];
    printf("%-8s %10llu pages %12s\n", what, (unsigned long long)pages,
           nb_format_size(pages * page_size, size, sizeof(size)));
}

static void bytes_row(const char *what, uint64_t bytes)
{
    char size[32];
    printf("%-8s %16s %12s\n", what, "", nb_format_size(bytes, size, sizeof(size)));
}

static int show_slabs(handle_t info)
{
    void *buf;
    size_t size;
    status_t s = nb_info_get(info, NB_INFO_SLABS, &buf, &size);
    if (s != OK) {
        fprintf(stderr, "mem: cannot read the slab caches: %s\n", status_str(s));
        return 1;
    }
    const struct nb_slab_info *c = buf;
    printf("\n%-24s %8s %10s %10s %7s\n", "CACHE", "OBJSIZE", "INUSE", "TOTAL", "PAGES");
    for (size_t i = 0; i < size / sizeof(*c); i++)
        printf("%-24.23s %8u %10llu %10llu %7llu\n", c[i].name, c[i].object_size,
               (unsigned long long)c[i].in_use, (unsigned long long)c[i].total,
               (unsigned long long)c[i].pages);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int slabs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, 0);
        if (!strcmp(argv[i], "-s")) {
            slabs = 1;
            continue;
        }
        fprintf(stderr, "mem: unknown option '%s'\n", argv[i]);
        return usage(stderr, 2);
    }
    handle_t info = nb_cmd_handle("mem", BOOTSTRAP_ROLE_INFO);
    if (info == HANDLE_INVALID)
        return 1;
    struct nb_memory_info m;
    uint64_t got;
    status_t s = nb_system_info(info, NB_INFO_MEMORY, &m, sizeof(m), &got);
    if (s != OK) {
        fprintf(stderr, "mem: cannot read the memory information: %s\n", status_str(s));
        return 1;
    }
    row("total", m.total_pages, m.page_size);
    row("free", m.free_pages, m.page_size);
    row("used", m.total_pages - m.free_pages, m.page_size);
    bytes_row("slab", m.slab_bytes);
    bytes_row("kstacks", m.kstack_bytes);
    bytes_row("user", m.user_bytes);
    return slabs ? show_slabs(info) : 0;
}
