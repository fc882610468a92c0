// nimbus:host
// Turns the PVH start structure into struct boot_info. Everything it reads
// comes from the loader and is checked; physical memory is only reached
// through the caller's reader, and every piece read is copied out at once, so
// a reader may hand back a bounce buffer and nothing needs to be aligned.
#include <stdbool.h>

#include "init/boot_info.h"
#include "lib/compiler.h"
#include "lib/string.h"

// The version 0 structure ends where the memory map fields begin.
#define HVM_START_INFO_V0_SIZE offsetof(struct hvm_start_info, memmap_paddr)

// Copies len bytes of physical memory at pa into dst; false if any of it is
// unreadable (or the range wraps around the address space).
static bool phys_copy(boot_phys_reader read, void *ctx, paddr_t pa, void *dst, size_t len)
{
    if (pa + len < pa)
        return false;
    const void *src = read(pa, len, ctx);
    if (!src)
        return false;
    memcpy(dst, src, len);
    return true;
}

static status_t fail(const char **why, status_t s, const char *msg)
{
    if (why)
        *why = msg;
    return s;
}

// Reads the start structure: the version 0 part first, then (only when the
// version says it is there) the memory map fields.
static status_t read_start_info(struct hvm_start_info *si, paddr_t pa, boot_phys_reader read,
                                void *ctx, const char **why)
{
    memset(si, 0, sizeof *si);
    if (!phys_copy(read, ctx, pa, si, HVM_START_INFO_V0_SIZE))
        return fail(why, ERR_BAD_FORMAT, "PVH start info: unreadable");
    if (si->magic != HVM_START_MAGIC)
        return fail(why, ERR_BAD_FORMAT, "PVH start info: bad magic (not booted by a PVH loader?)");
    if (si->version == 0)
        return fail(why, ERR_BAD_FORMAT, "PVH start info: version 0 has no memory map");
    if (!phys_copy(read, ctx, pa, si, sizeof *si))
        return fail(why, ERR_BAD_FORMAT,
                    "PVH start info: truncated (memory map fields unreadable)");
    return OK;
}

// Copies the loader's memory map; entries past BOOT_MAX_MEM are ignored.
static status_t read_memmap(struct boot_info *bi, const struct hvm_start_info *si,
                            boot_phys_reader read, void *ctx, const char **why)
{
    struct hvm_memmap_entry e;
    size_t n = MIN((size_t)si->memmap_entries, (size_t)BOOT_MAX_MEM);

    if (si->memmap_paddr == 0 || si->memmap_entries == 0)
        return fail(why, ERR_BAD_FORMAT, "PVH start info: no memory map");
    for (size_t i = 0; i < n; i++) {
        if (!phys_copy(read, ctx, si->memmap_paddr + i * sizeof e, &e, sizeof e))
            return fail(why, ERR_BAD_FORMAT, "PVH memory map: unreadable");
        bi->mem[i] = (struct boot_mem){.base = e.addr, .size = e.size, .type = e.type};
    }
    bi->nmem = n;
    boot_mem_sanitize(bi);
    for (size_t i = 0; i < bi->nmem; i++) {
        if (bi->mem[i].type == BOOT_MEM_RAM)
            return OK;
    }
    return fail(why, ERR_BAD_FORMAT, "PVH memory map has no RAM");
}

// Copies the command line up to its NUL or BOOT_CMDLINE_MAX-1 bytes. A line
// that cannot be read to its end is dropped: booting without arguments beats
// acting on half of them.
static void read_cmdline(struct boot_info *bi, paddr_t pa, boot_phys_reader read, void *ctx)
{
    size_t i;

    bi->cmdline[0] = '\0';
    if (pa == 0)
        return;
    for (i = 0; i < BOOT_CMDLINE_MAX - 1; i++) {
        char c;
        if (!phys_copy(read, ctx, pa + i, &c, 1)) {
            bi->cmdline[0] = '\0';
            return;
        }
        if (c == '\0')
            break;
        bi->cmdline[i] = c;
    }
    bi->cmdline[i] = '\0';
}

// Module 0 is the initrd. Anything wrong with it means no initrd, not a
// failed boot: the kernel can still report the problem.
static void read_initrd(struct boot_info *bi, const struct hvm_start_info *si,
                        boot_phys_reader read, void *ctx)
{
    struct hvm_modlist_entry m;

    bi->initrd_base = 0;
    bi->initrd_size = 0;
    if (si->nr_modules == 0 || si->modlist_paddr == 0)
        return;
    if (!phys_copy(read, ctx, si->modlist_paddr, &m, sizeof m))
        return;
    if (m.paddr == 0 || m.size == 0 || m.paddr + m.size < m.paddr)
        return;
    bi->initrd_base = m.paddr;
    bi->initrd_size = m.size;
}

status_t boot_info_from_pvh(struct boot_info *bi, paddr_t start_info, boot_phys_reader read,
                            void *ctx, const char **why)
{
    struct hvm_start_info si;
    status_t s;

    if (!bi || !read)
        return fail(why, ERR_INVALID_ARGS, "PVH: no boot_info or no reader");
    memset(bi, 0, sizeof *bi);
    if (start_info == 0)
        return fail(why, ERR_INVALID_ARGS, "PVH start info: null address");
    s = read_start_info(&si, start_info, read, ctx, why);
    if (s != OK)
        return s;
    s = read_memmap(bi, &si, read, ctx, why);
    if (s != OK)
        return s;
    read_cmdline(bi, si.cmdline_paddr, read, ctx);
    read_initrd(bi, &si, read, ctx);
    bi->protocol = "pvh";
    bi->rsdp = si.rsdp_paddr;
    bi->start_info = start_info;
    return OK;
}

// How little the kernel may do with a type of memory: where entries overlap,
// the highest rank wins. RAM is lowest; ACPI reclaimable may become RAM
// later; the rest must be left alone.
static int mem_rank(uint32_t type)
{
    switch (type) {
    case BOOT_MEM_RAM:
        return 0;
    case BOOT_MEM_ACPI:
        return 1;
    case BOOT_MEM_NVS:
        return 2;
    case BOOT_MEM_PMEM:
        return 3;
    case BOOT_MEM_RESERVED:
        return 4;
    case BOOT_MEM_UNUSABLE:
        return 5;
    default: // BOOT_MEM_DISABLED
        return 6;
    }
}

static uint64_t mem_end(const struct boot_mem *m)
{
    return m->base + m->size;
}

// Drops empty entries, clips entries so that base + size does not overflow,
// and turns unknown types into reserved (the E820 convention).
static void mem_normalize(struct boot_info *bi)
{
    size_t n = 0;

    bi->nmem = MIN(bi->nmem, (size_t)BOOT_MAX_MEM);
    for (size_t i = 0; i < bi->nmem; i++) {
        struct boot_mem m = bi->mem[i];
        m.size = MIN(m.size, UINT64_MAX - m.base);
        if (m.size == 0)
            continue;
        if (m.type < BOOT_MEM_RAM || m.type > BOOT_MEM_PMEM)
            m.type = BOOT_MEM_RESERVED;
        bi->mem[n++] = m;
    }
    bi->nmem = n;
}

// Finds the type of the highest rank covering address pos (false if none)
// and the next address above pos where some entry starts or ends.
static bool mem_probe(const struct boot_info *bi, uint64_t pos, uint32_t *type, uint64_t *next)
{
    bool covered = false;

    *next = UINT64_MAX;
    for (size_t i = 0; i < bi->nmem; i++) {
        const struct boot_mem *m = &bi->mem[i];
        if (m->base > pos) {
            *next = MIN(*next, m->base);
        } else if (mem_end(m) > pos) {
            *next = MIN(*next, mem_end(m));
            if (!covered || mem_rank(m->type) > mem_rank(*type))
                *type = m->type;
            covered = true;
        }
    }
    return covered;
}

// Adds [base, end) of `type` to out, extending the last entry when it is of
// the same type and touches it. Returns false when out is full.
static bool mem_emit(struct boot_mem *out, size_t *n, uint64_t base, uint64_t end, uint32_t type)
{
    if (*n > 0 && out[*n - 1].type == type && mem_end(&out[*n - 1]) == base) {
        out[*n - 1].size += end - base;
        return true;
    }
    if (*n == BOOT_MAX_MEM)
        return false;
    out[(*n)++] = (struct boot_mem){.base = base, .size = end - base, .type = type};
    return true;
}

// Sweeps the address space from boundary to boundary (every entry's start and
// end), labelling each stretch with the strongest type that covers it. The
// result is sorted, non-overlapping and merged; if it would not fit, the
// highest addresses are dropped, which only ever loses memory, never reports
// reserved memory as RAM. Needs about 3 KiB of stack.
void boot_mem_sanitize(struct boot_info *bi)
{
    struct boot_mem out[BOOT_MAX_MEM];
    size_t n = 0;
    uint64_t pos = 0, next;
    uint32_t type = 0;

    mem_normalize(bi);
    if (bi->nmem == 0)
        return;
    for (;;) {
        bool covered = mem_probe(bi, pos, &type, &next);
        if (covered && !mem_emit(out, &n, pos, next, type))
            break;
        if (next == UINT64_MAX)
            break;
        pos = next;
    }
    memcpy(bi->mem, out, n * sizeof out[0]);
    bi->nmem = n;
}
