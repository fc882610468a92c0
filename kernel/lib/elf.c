// nimbus:host
// ELF64 loader plans and the initial user stack, shared by the kernel (for
// /init) and libnimbus (for everything init starts). The image is untrusted:
// headers are copied out before use (it may be unaligned inside a cpio
// archive) and every offset and address sum is checked for overflow.
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/elf.h"

#define EI_NIDENT    16
#define EI_CLASS     4
#define EI_DATA      5
#define EI_VERSION   6
#define ELFCLASS64   2
#define ELFDATA2LSB  1
#define EV_CURRENT   1
#define PAGE_MASK    ((uint64_t)ELF_PAGE_SIZE - 1)
#define STACK_ALIGN  16u
#define RANDOM_BYTES 16u

struct ehdr {
    uint8_t ident[EI_NIDENT];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

_Static_assert(sizeof(struct ehdr) == ELF_EHDR_SIZE, "ELF64 header layout");
_Static_assert(sizeof(struct phdr) == ELF_PHDR_SIZE, "ELF64 program header layout");

// What one parse works on; raw_* keep each segment's exact bounds (the plan
// has them rounded to pages) to check the entry point against.
struct parse {
    const uint8_t *image;
    size_t size;
    struct ehdr eh;
    struct elf_plan *plan;
    uint64_t raw_start[ELF_MAX_SEGMENTS], raw_end[ELF_MAX_SEGMENTS];
    bool have_pt_phdr;
    uint64_t pt_phdr;
};

static void copy_bytes(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

// [off, off + len) lies inside an image of `size` bytes.
static bool in_image(uint64_t off, uint64_t len, size_t size)
{
    return off <= size && len <= size - off;
}

static bool is_pow2_or_zero(uint64_t x)
{
    return (x & (x - 1)) == 0;
}

static void read_phdr(const struct parse *p, uint32_t i, struct phdr *ph)
{
    copy_bytes(ph, p->image + p->eh.phoff + (uint64_t)i * ELF_PHDR_SIZE, sizeof(*ph));
}

// The identification bytes and the fixed header fields.
static status_t check_header(const struct ehdr *eh, size_t size)
{
    static const uint8_t magic[4] = {0x7f, 'E', 'L', 'F'};
    for (int i = 0; i < 4; i++)
        if (eh->ident[i] != magic[i])
            return ERR_BAD_FORMAT;
    if (eh->ident[EI_VERSION] != EV_CURRENT || eh->version != EV_CURRENT)
        return ERR_BAD_FORMAT;
    if (eh->ident[EI_CLASS] != ELFCLASS64 || eh->ident[EI_DATA] != ELFDATA2LSB)
        return ERR_NOT_SUPPORTED;
    if (eh->machine != ELF_EM_X86_64)
        return ERR_NOT_SUPPORTED;
    if (eh->type != ELF_ET_EXEC && eh->type != ELF_ET_DYN)
        return ERR_NOT_SUPPORTED;
    if (eh->phnum == 0 || eh->phentsize != ELF_PHDR_SIZE)
        return ERR_BAD_FORMAT;
    if (eh->phnum > ELF_MAX_PHNUM)
        return ERR_NOT_SUPPORTED;
    if (!in_image(eh->phoff, (uint64_t)eh->phnum * ELF_PHDR_SIZE, size))
        return ERR_BAD_FORMAT;
    return OK;
}

// Adds the load bias to [vaddr, vaddr + len) and checks it against the user
// range; *start is the biased address.
static status_t user_range(uint64_t vaddr, uint64_t len, uint64_t bias, uint64_t *start)
{
    if (vaddr > UINT64_MAX - bias)
        return ERR_OUT_OF_RANGE;
    uint64_t s = vaddr + bias;
    if (len > UINT64_MAX - s || s < ELF_USER_MIN || s + len > ELF_USER_MAX)
        return ERR_OUT_OF_RANGE;
    *start = s;
    return OK;
}

static uint32_t prot_of(uint32_t pflags)
{
    return (pflags & ELF_PF_R ? ELF_PROT_READ : 0) | (pflags & ELF_PF_W ? ELF_PROT_WRITE : 0) |
           (pflags & ELF_PF_X ? ELF_PROT_EXEC : 0);
}

// Checks one PT_LOAD and appends it, rounded to pages, to the plan.
static status_t add_load(struct parse *p, const struct phdr *ph)
{
    struct elf_plan *plan = p->plan;
    uint64_t start;
    status_t s;

    if (ph->memsz == 0)
        return OK; // maps nothing
    if (ph->filesz > ph->memsz || !in_image(ph->offset, ph->filesz, p->size))
        return ERR_BAD_FORMAT;
    if ((ph->offset & PAGE_MASK) != (ph->vaddr & PAGE_MASK))
        return ERR_BAD_FORMAT;
    if ((ph->flags & ELF_PF_W) && (ph->flags & ELF_PF_X))
        return ERR_NOT_SUPPORTED; // W^X
    if ((s = user_range(ph->vaddr, ph->memsz, plan->bias, &start)) != OK)
        return s;
    if (plan->nsegments == ELF_MAX_SEGMENTS)
        return ERR_NOT_SUPPORTED;

    uint64_t lead = start & PAGE_MASK; // bytes of the first page before the segment
    uint64_t end = (start + ph->memsz + PAGE_MASK) & ~PAGE_MASK; // <= ELF_USER_MAX
    struct elf_segment *seg = &plan->segments[plan->nsegments];
    *seg = (struct elf_segment){
        .vaddr = start - lead,
        .memsz = end - (start - lead),
        .file_offset = ph->offset - lead,
        .filesz = ph->filesz ? ph->filesz + lead : 0,
        .prot = prot_of(ph->flags),
    };
    // Segments come in ascending order (as the ELF specification requires)
    // and never share a page: one page has one protection.
    if (plan->nsegments) {
        const struct elf_segment *prev = seg - 1;
        if (seg->vaddr < prev->vaddr + prev->memsz)
            return ERR_BAD_FORMAT;
    }
    p->raw_start[plan->nsegments] = start;
    p->raw_end[plan->nsegments] = start + ph->memsz;
    plan->nsegments++;
    return OK;
}

static status_t note_tls(struct parse *p, const struct phdr *ph)
{
    struct elf_plan *plan = p->plan;
    uint64_t start;

    if (ph->filesz > ph->memsz || !in_image(ph->offset, ph->filesz, p->size) ||
        !is_pow2_or_zero(ph->align) || plan->has_tls)
        return ERR_BAD_FORMAT;
    if (user_range(ph->vaddr, ph->memsz, plan->bias, &start) != OK)
        return ERR_BAD_FORMAT;
    plan->has_tls = true;
    plan->tls_vaddr = start;
    plan->tls_filesz = ph->filesz;
    plan->tls_memsz = ph->memsz;
    plan->tls_align = ph->align;
    return OK;
}

// Handles one program header of any type.
static status_t take_phdr(struct parse *p, const struct phdr *ph)
{
    switch (ph->type) {
    case ELF_PT_LOAD:
        return add_load(p, ph);
    case ELF_PT_TLS:
        return note_tls(p, ph);
    case ELF_PT_PHDR:
        if (user_range(ph->vaddr, ph->memsz, p->plan->bias, &p->pt_phdr) != OK)
            return ERR_BAD_FORMAT;
        p->have_pt_phdr = true;
        return OK;
    case ELF_PT_GNU_STACK:
        if (ph->flags & ELF_PF_X)
            return ERR_NOT_SUPPORTED; // executable stack
        p->plan->stack_size = ph->memsz;
        return OK;
    default:
        return OK; // PT_NOTE, PT_DYNAMIC (static-pie relocates itself), ...
    }
}

// True if [va, va + len) lies in the mapped pages of one segment.
static bool mapped(const struct elf_plan *plan, uint64_t va, uint64_t len)
{
    for (uint32_t i = 0; i < plan->nsegments; i++) {
        const struct elf_segment *s = &plan->segments[i];
        if (va >= s->vaddr && va - s->vaddr <= s->memsz && len <= s->memsz - (va - s->vaddr))
            return true;
    }
    return false;
}

// Where the program headers are in memory, for AT_PHDR: PT_PHDR says so, or
// else the segment whose file bytes contain them.
static status_t locate_phdrs(struct parse *p)
{
    struct elf_plan *plan = p->plan;
    uint64_t len = (uint64_t)p->eh.phnum * ELF_PHDR_SIZE;

    if (p->have_pt_phdr) {
        plan->phdr = p->pt_phdr;
        return mapped(plan, plan->phdr, len) ? OK : ERR_BAD_FORMAT;
    }
    for (uint32_t i = 0; i < plan->nsegments; i++) {
        const struct elf_segment *s = &plan->segments[i];
        uint64_t off = p->eh.phoff;
        if (off >= s->file_offset && off - s->file_offset <= s->filesz &&
            len <= s->filesz - (off - s->file_offset)) {
            plan->phdr = s->vaddr + (off - s->file_offset);
            return OK;
        }
    }
    return ERR_BAD_FORMAT;
}

static bool entry_executable(const struct parse *p, uint64_t entry)
{
    for (uint32_t i = 0; i < p->plan->nsegments; i++)
        if ((p->plan->segments[i].prot & ELF_PROT_EXEC) && entry >= p->raw_start[i] &&
            entry < p->raw_end[i])
            return true;
    return false;
}

// Walks the program headers: interpreters first (a dynamic program is
// refused whatever else is wrong with it), then everything else in order.
static status_t take_phdrs(struct parse *p)
{
    struct phdr ph;
    status_t s;

    for (uint32_t i = 0; i < p->eh.phnum; i++) {
        read_phdr(p, i, &ph);
        if (ph.type == ELF_PT_INTERP)
            return ERR_NOT_SUPPORTED;
    }
    for (uint32_t i = 0; i < p->eh.phnum; i++) {
        read_phdr(p, i, &ph);
        if ((s = take_phdr(p, &ph)) != OK)
            return s;
    }
    return p->plan->nsegments ? OK : ERR_BAD_FORMAT;
}

status_t elf_parse_at(const void *image, size_t size, uint64_t dyn_base, struct elf_plan *plan)
{
    struct parse p = {.image = image, .size = size, .plan = plan};
    status_t s;

    if (dyn_base & PAGE_MASK)
        return ERR_INVALID_ARGS;
    if (size < ELF_EHDR_SIZE)
        return ERR_BAD_FORMAT;
    copy_bytes(&p.eh, image, sizeof(p.eh));
    if ((s = check_header(&p.eh, size)) != OK)
        return s;

    *plan = (struct elf_plan){
        .type = p.eh.type,
        .bias = p.eh.type == ELF_ET_DYN ? dyn_base : 0,
        .phnum = p.eh.phnum,
        .phentsize = ELF_PHDR_SIZE,
    };
    if ((s = take_phdrs(&p)) != OK)
        return s;
    if (p.eh.entry > UINT64_MAX - plan->bias)
        return ERR_BAD_FORMAT;
    plan->entry = p.eh.entry + plan->bias;
    if (!entry_executable(&p, plan->entry))
        return ERR_BAD_FORMAT;
    return locate_phdrs(&p);
}

status_t elf_parse(const void *image, size_t size, struct elf_plan *plan)
{
    return elf_parse_at(image, size, ELF_DYN_DEFAULT_BASE, plan);
}

void elf_auxv_from_plan(const struct elf_plan *plan, struct elf_auxv *aux)
{
    *aux = (struct elf_auxv){
        .phdr = plan->phdr,
        .phent = plan->phentsize,
        .phnum = plan->phnum,
        .entry = plan->entry,
    };
}

// ---- The initial stack ----

// A downward-growing cursor over buf, which stands for user memory ending at
// top; `used` bytes are taken from the top.
struct stack_cursor {
    uint8_t *buf;
    size_t size, used;
    uint64_t top;
};

// Takes len bytes below what is used; their user address in *va.
static status_t take(struct stack_cursor *c, uint64_t len, uint64_t *va)
{
    if (len > c->size - c->used)
        return ERR_BUFFER_TOO_SMALL;
    c->used += len;
    *va = c->top - c->used;
    return OK;
}

static uint8_t *at(struct stack_cursor *c, uint64_t va)
{
    return c->buf + (c->size - (c->top - va));
}

static size_t string_size(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n + 1;
}

// Counts a NULL-terminated list (NULL: empty) and the bytes of its strings;
// stops with ERR_BUFFER_TOO_SMALL as soon as they could not fit in `room`.
static status_t measure(const char *const *list, size_t room, size_t *n, size_t *bytes)
{
    size_t i = 0, total = 0;
    for (; list && list[i]; i++) {
        size_t len = string_size(list[i]);
        if (len > room || total > room - len || i >= room / sizeof(uint64_t))
            return ERR_BUFFER_TOO_SMALL;
        total += len;
    }
    *n = i;
    *bytes = total;
    return OK;
}

// Copies the strings of a list back to back from *va upward; the addresses
// are found again in the same order by next_string.
static void put_strings(struct stack_cursor *c, const char *const *list, size_t n, uint64_t *va)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = string_size(list[i]);
        copy_bytes(at(c, *va), list[i], len);
        *va += len;
    }
}

static void put_word(struct stack_cursor *c, uint64_t *va, uint64_t value)
{
    copy_bytes(at(c, *va), &value, sizeof(value));
    *va += sizeof(value);
}

static void put_aux(struct stack_cursor *c, uint64_t *va, uint64_t type, uint64_t value)
{
    put_word(c, va, type);
    put_word(c, va, value);
}

// The auxiliary vector, AT_NULL last: ELF_AUXV_BASE_COUNT + nextra pairs.
static void put_auxv(struct stack_cursor *c, uint64_t *va, const struct elf_auxv *aux,
                     uint64_t random_va)
{
    put_aux(c, va, ELF_AT_PHDR, aux->phdr);
    put_aux(c, va, ELF_AT_PHENT, aux->phent);
    put_aux(c, va, ELF_AT_PHNUM, aux->phnum);
    put_aux(c, va, ELF_AT_PAGESZ, ELF_PAGE_SIZE);
    put_aux(c, va, ELF_AT_BASE, 0); // no interpreter
    put_aux(c, va, ELF_AT_FLAGS, 0);
    put_aux(c, va, ELF_AT_ENTRY, aux->entry);
    put_aux(c, va, ELF_AT_UID, 0);
    put_aux(c, va, ELF_AT_EUID, 0);
    put_aux(c, va, ELF_AT_GID, 0);
    put_aux(c, va, ELF_AT_EGID, 0);
    put_aux(c, va, ELF_AT_HWCAP, aux->hwcap);
    put_aux(c, va, ELF_AT_CLKTCK, ELF_CLKTCK);
    put_aux(c, va, ELF_AT_SECURE, 0);
    put_aux(c, va, ELF_AT_RANDOM, random_va);
    for (uint32_t i = 0; i < aux->nextra; i++)
        put_aux(c, va, aux->extra[i].type, aux->extra[i].value);
    put_aux(c, va, ELF_AT_NULL, 0);
}

// Writes the pointers of a list whose strings start at *str and advances it.
static void put_pointers(struct stack_cursor *c, uint64_t *va, const char *const *list, size_t n,
                         uint64_t *str)
{
    for (size_t i = 0; i < n; i++) {
        put_word(c, va, *str);
        *str += string_size(list[i]);
    }
    put_word(c, va, 0);
}

status_t elf_build_stack(void *buf, size_t bufsize, uint64_t stack_top_va, const char *const *argv,
                         const char *const *envp, const struct elf_auxv *aux, uint64_t *sp_out)
{
    struct stack_cursor c = {.buf = buf, .size = bufsize, .top = stack_top_va};
    size_t argc, envc, argv_bytes, envp_bytes;
    uint64_t strings_va, random_va, sp, va;
    status_t s;

    if (stack_top_va % STACK_ALIGN || bufsize > stack_top_va)
        return ERR_INVALID_ARGS;
    if (aux->nextra > ELF_AUXV_EXTRA_MAX)
        return ERR_OUT_OF_RANGE;
    if ((s = measure(argv, bufsize, &argc, &argv_bytes)) != OK ||
        (s = measure(envp, bufsize, &envc, &envp_bytes)) != OK)
        return s;

    // (1) At the top: argv strings, then envp strings, back to back.
    if ((s = take(&c, argv_bytes + envp_bytes, &strings_va)) != OK)
        return s;
    va = strings_va;
    put_strings(&c, argv, argc, &va);
    put_strings(&c, envp, envc, &va);
    // (2) Below them the AT_RANDOM bytes.
    if ((s = take(&c, RANDOM_BYTES, &random_va)) != OK)
        return s;
    copy_bytes(at(&c, random_va), aux->random, RANDOM_BYTES);
    // (3) Below that the vectors, starting 16-byte aligned: that is sp.
    size_t words = 1 + (argc + 1) + (envc + 1) + 2 * (ELF_AUXV_BASE_COUNT + aux->nextra);
    if ((s = take(&c, words * sizeof(uint64_t), &sp)) != OK ||
        (s = take(&c, sp % STACK_ALIGN, &sp)) != OK)
        return s;
    va = sp;
    put_word(&c, &va, argc);
    put_pointers(&c, &va, argv, argc, &strings_va);
    put_pointers(&c, &va, envp, envc, &strings_va);
    put_auxv(&c, &va, aux, random_va);
    *sp_out = sp;
    return OK;
}
