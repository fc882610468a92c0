// nimbus:host
// Tests of the ELF loader plan and the initial stack builder. Images are
// crafted here (header fields from the ELF specification), then damaged one
// field at a time; a real musl program, when the build generated it, is
// checked against what binutils' readelf says about it.
#include <stdint.h>

#include "lib/elf.h"
#include "lib/ktest.h"
#include "lib/string.h"

#define IMG_SIZE 0x3000u
#define MAX_PH   20

struct t_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct t_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

// An image being built: header and program headers are kept as structs and
// written out by finish().
struct img {
    struct t_ehdr eh;
    struct t_phdr ph[MAX_PH];
    uint8_t bytes[IMG_SIZE + 0x1000]; // room for images grown by a test
    size_t size;
};

static void add_ph(struct img *im, uint32_t type, uint32_t flags, uint64_t off, uint64_t va,
                   uint64_t filesz, uint64_t memsz)
{
    im->ph[im->eh.phnum++] = (struct t_phdr){type, flags, off, va, va, filesz, memsz, 0x1000};
}

// What a static musl program looks like (ld's default layout): R, RX, R,
// RW + bss, and a non-executable stack.
static void good_exec(struct img *im)
{
    memset(im, 0, sizeof(*im));
    static const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    memcpy(im->eh.ident, ident, sizeof(ident));
    im->eh.type = ELF_ET_EXEC;
    im->eh.machine = ELF_EM_X86_64;
    im->eh.version = 1;
    im->eh.entry = 0x401010;
    im->eh.phoff = 64;
    im->eh.ehsize = 64;
    im->eh.phentsize = 56;
    add_ph(im, ELF_PT_LOAD, ELF_PF_R, 0, 0x400000, 0x190, 0x190);
    add_ph(im, ELF_PT_LOAD, ELF_PF_R | ELF_PF_X, 0x1000, 0x401000, 0x281, 0x281);
    add_ph(im, ELF_PT_LOAD, ELF_PF_R, 0x2000, 0x402000, 0x44, 0x44);
    add_ph(im, ELF_PT_LOAD, ELF_PF_R | ELF_PF_W, 0x2fc0, 0x403fc0, 0x40, 0x800);
    add_ph(im, ELF_PT_GNU_STACK, ELF_PF_R | ELF_PF_W, 0, 0, 0, 0);
    im->size = IMG_SIZE;
}

// Writes header and program headers into the image bytes, at the end of the
// static buffer returned (so ASan sees reads past the image).
static const uint8_t *finish(struct img *im)
{
    static uint8_t tail[sizeof(im->bytes)];
    size_t table = MIN(im->eh.phnum, MAX_PH) * sizeof(struct t_phdr);
    memcpy(im->bytes, &im->eh, sizeof(im->eh));
    if (im->eh.phoff < sizeof(im->bytes) && table <= sizeof(im->bytes) - im->eh.phoff)
        memcpy(im->bytes + im->eh.phoff, im->ph, table);
    uint8_t *p = tail + sizeof(tail) - im->size;
    memcpy(p, im->bytes, im->size);
    return p;
}

static status_t parse(struct img *im, struct elf_plan *plan)
{
    return elf_parse(finish(im), im->size, plan);
}

static void expect_segment(struct ktest *t, const struct elf_segment *s, uint64_t va,
                           uint64_t memsz, uint64_t off, uint64_t filesz, uint32_t prot)
{
    EXPECT_EQ(s->vaddr, va);
    EXPECT_EQ(s->memsz, memsz);
    EXPECT_EQ(s->file_offset, off);
    EXPECT_EQ(s->filesz, filesz);
    EXPECT_EQ(s->prot, prot);
}

static void elf_static_exec(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    ASSERT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.type, ELF_ET_EXEC);
    EXPECT_EQ(plan.bias, 0u);
    EXPECT_EQ(plan.entry, 0x401010u);
    EXPECT_EQ(plan.phdr, 0x400040u);
    EXPECT_EQ(plan.phnum, 5u);
    EXPECT_EQ(plan.phentsize, 56u);
    EXPECT_FALSE(plan.has_tls);
    ASSERT_EQ(plan.nsegments, 4u);
    expect_segment(t, &plan.segments[0], 0x400000, 0x1000, 0, 0x190, ELF_PROT_READ);
    expect_segment(t, &plan.segments[1], 0x401000, 0x1000, 0x1000, 0x281,
                   ELF_PROT_READ | ELF_PROT_EXEC);
    expect_segment(t, &plan.segments[2], 0x402000, 0x1000, 0x2000, 0x44, ELF_PROT_READ);
    // RW starts 0xfc0 into its page: that page's file bytes come along, and
    // the bss (0x7c0 bytes past the data) runs into a second page.
    expect_segment(t, &plan.segments[3], 0x403000, 0x2000, 0x2000, 0x1000,
                   ELF_PROT_READ | ELF_PROT_WRITE);
}

static void elf_bad_identification(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;
    static const struct {
        int byte;
        uint8_t value;
        status_t want;
    } c[] = {
        {0, 0x7e, ERR_BAD_FORMAT}, {1, 'e', ERR_BAD_FORMAT},  {3, 'f', ERR_BAD_FORMAT},
        {4, 1, ERR_NOT_SUPPORTED}, {4, 0, ERR_NOT_SUPPORTED}, {5, 2, ERR_NOT_SUPPORTED},
        {5, 0, ERR_NOT_SUPPORTED}, {6, 0, ERR_BAD_FORMAT},    {6, 2, ERR_BAD_FORMAT},
    };
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        good_exec(&im);
        im.eh.ident[c[i].byte] = c[i].value;
        status_t s = parse(&im, &plan);
        if (s != c[i].want)
            ktest_fail(t, __FILE__, __LINE__, "ident[%d] = %u: %s, expected %s", c[i].byte,
                       c[i].value, status_str(s), status_str(c[i].want));
    }
    good_exec(&im);
    im.eh.machine = 3; // EM_386
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    im.eh.machine = 183; // EM_AARCH64
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    good_exec(&im);
    im.eh.version = 2;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    static const uint16_t types[] = {0, 1 /* REL */, 4 /* CORE */, 0xfe00};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        good_exec(&im);
        im.eh.type = types[i];
        EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    }
    good_exec(&im);
    EXPECT_STATUS(elf_parse(finish(&im), 63, &plan), ERR_BAD_FORMAT);
    EXPECT_STATUS(elf_parse(finish(&im), 0, &plan), ERR_BAD_FORMAT);
}

static void elf_program_header_table(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    im.eh.phentsize = 32; // an ELF32 size
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.eh.phentsize = 64;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.eh.phnum = 0;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.eh.phnum = ELF_MAX_PHNUM + 1;
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    im.eh.phnum = 0xffff; // PN_XNUM: the real count would be in a section header
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);

    // The table itself runs past the end of the image, or its offset wraps.
    static const uint64_t offsets[] = {IMG_SIZE - 5 * 56 + 1, IMG_SIZE, IMG_SIZE + 64,
                                       UINT64_MAX - 63, UINT64_MAX};
    for (size_t i = 0; i < ARRAY_SIZE(offsets); i++) {
        good_exec(&im);
        im.eh.phoff = offsets[i];
        EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    }
    good_exec(&im);
    EXPECT_STATUS(elf_parse(finish(&im), 64 + 5 * 56 - 1, &plan), ERR_BAD_FORMAT);
}

static void elf_segment_file_bounds(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    im.ph[3].filesz = 0x41; // one byte past the end
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.ph[1].offset = UINT64_MAX - 0xfff; // wraps, yet congruent
    im.ph[1].vaddr = 0x401000;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.ph[1].filesz = UINT64_MAX;
    im.ph[1].memsz = UINT64_MAX;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.ph[2].filesz = 0x45; // filesz > memsz
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.ph[2].offset = 0x2008; // not congruent to vaddr modulo the page size
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    // A bss-only segment maps no file bytes; an empty one maps nothing.
    good_exec(&im);
    im.ph[3].filesz = 0;
    ASSERT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.segments[3].filesz, 0u);
    good_exec(&im);
    im.ph[2].memsz = 0;
    im.ph[2].filesz = 0;
    ASSERT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.nsegments, 3u);
}

static void elf_overlap_and_order(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    im.ph[2].vaddr = 0x401000 + 0x10; // inside RX
    im.ph[2].offset = 0x2010;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.ph[2].vaddr = 0x401300; // after RX's bytes but in its last page
    im.ph[2].offset = 0x2300;
    im.ph[2].filesz = im.ph[2].memsz = 0x10;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.ph[3].vaddr = 0x3fffc0; // below the earlier segments: out of order
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    good_exec(&im);
    im.ph[1].memsz = 0x1001; // spills into the page of the next segment
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
}

static void elf_wx_and_stack(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    im.ph[1].flags = ELF_PF_R | ELF_PF_W | ELF_PF_X;
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    good_exec(&im);
    im.ph[3].flags = ELF_PF_W | ELF_PF_X;
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    good_exec(&im);
    im.ph[4].flags = ELF_PF_R | ELF_PF_W | ELF_PF_X; // executable stack
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    good_exec(&im);
    im.ph[4].memsz = 0x100000;
    ASSERT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.stack_size, 0x100000u);
    // No PT_GNU_STACK at all: accepted, the loader picks the stack.
    good_exec(&im);
    im.eh.phnum = 4;
    ASSERT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.stack_size, 0u);
}

static void elf_interpreter(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    add_ph(&im, ELF_PT_INTERP, ELF_PF_R, 0x100, 0x400100, 0x1c, 0x1c);
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    // Refused before any other problem is looked at.
    im.ph[1].filesz = 0x100000;
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    good_exec(&im);
    im.eh.type = ELF_ET_DYN;
    add_ph(&im, ELF_PT_INTERP, ELF_PF_R, 0x100, 0x400100, 0x1c, 0x1c);
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
}

static void elf_entry_point(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;
    static const struct {
        uint64_t entry;
        status_t want;
    } c[] = {
        {0x401000, OK},
        {0x401280, OK},             // last byte of RX
        {0x401281, ERR_BAD_FORMAT}, // mapped (same page) but outside the segment
        {0x400100, ERR_BAD_FORMAT}, // read-only
        {0x404000, ERR_BAD_FORMAT}, // writable
        {0x500000, ERR_BAD_FORMAT}, // nowhere
        {0, ERR_BAD_FORMAT},
        {UINT64_MAX, ERR_BAD_FORMAT},
    };
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        good_exec(&im);
        im.eh.entry = c[i].entry;
        status_t s = parse(&im, &plan);
        if (s != c[i].want)
            ktest_fail(t, __FILE__, __LINE__, "entry 0x%llx: %s, expected %s",
                       (unsigned long long)c[i].entry, status_str(s), status_str(c[i].want));
    }
}

static void elf_user_range(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;
    static const struct {
        uint64_t vaddr, memsz;
        status_t want;
    } c[] = {
        {0x0fc0, 0x800, ERR_OUT_OF_RANGE},                 // in page zero
        {0x2fc0, 0x800, OK},                               // just above the code
        {ELF_USER_MAX - 0x1040, 0x1040, OK},               // up to the limit
        {ELF_USER_MAX - 0x1040, 0x1041, ERR_OUT_OF_RANGE}, // one byte past it
        {0xffffffff80000fc0ull, 0x800, ERR_OUT_OF_RANGE},  // kernel half
        {0x0000800000000fc0ull, 0x800, ERR_OUT_OF_RANGE},  // non-canonical
        {0x403fc0, UINT64_MAX - 0x100, ERR_OUT_OF_RANGE},  // wraps
        {UINT64_MAX - 0x3f, 0x40, ERR_OUT_OF_RANGE},       // ends at 2^64
    };
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        good_exec(&im);
        im.eh.phnum = 2; // R and RX only, then the segment under test
        im.ph[1].vaddr = 0x1000;
        im.ph[1].offset = 0x1000;
        im.eh.entry = 0x1000;
        add_ph(&im, ELF_PT_LOAD, ELF_PF_R | ELF_PF_W, 0x2fc0, c[i].vaddr, 0x40, c[i].memsz);
        im.ph[0].vaddr = 0; // keep the first page out of it: drop R
        im.ph[0].memsz = 0;
        im.ph[0].filesz = 0;
        add_ph(&im, ELF_PT_PHDR, ELF_PF_R, 64, 0x1040, 3 * 56, 3 * 56);
        im.ph[1].filesz = im.ph[1].memsz = 0x200; // holds the PT_PHDR range
        status_t s = parse(&im, &plan);
        if (s != c[i].want)
            ktest_fail(t, __FILE__, __LINE__, "vaddr 0x%llx memsz 0x%llx: %s, expected %s",
                       (unsigned long long)c[i].vaddr, (unsigned long long)c[i].memsz,
                       status_str(s), status_str(c[i].want));
    }
}

static void elf_program_headers_mapped(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    // PT_PHDR wins when present.
    good_exec(&im);
    add_ph(&im, ELF_PT_PHDR, ELF_PF_R, 64, 0x400040, 6 * 56, 6 * 56);
    ASSERT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.phdr, 0x400040u);
    // ... but must lie in mapped memory.
    good_exec(&im);
    add_ph(&im, ELF_PT_PHDR, ELF_PF_R, 64, 0x500040, 6 * 56, 6 * 56);
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    // Without PT_PHDR, and no segment holding the table: musl could not find
    // its TLS segment.
    good_exec(&im);
    im.ph[0].memsz = im.ph[0].filesz = 0;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    // A segment starting later in the first page still maps the table (the
    // page's leading bytes come from the file).
    good_exec(&im);
    im.ph[0].offset = 0x180;
    im.ph[0].vaddr = 0x400180;
    im.ph[0].filesz = im.ph[0].memsz = 0x10;
    ASSERT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.phdr, 0x400040u);
    EXPECT_EQ(plan.segments[0].file_offset, 0u);
    EXPECT_EQ(plan.segments[0].filesz, 0x190u);
}

static void elf_static_pie(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    im.eh.type = ELF_ET_DYN;
    for (int i = 0; i < 4; i++)
        im.ph[i].vaddr -= 0x400000;
    im.eh.entry -= 0x400000;
    add_ph(&im, ELF_PT_DYNAMIC, ELF_PF_R | ELF_PF_W, 0x2fc0, 0x3fc0, 0x40, 0x40);
    ASSERT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.type, ELF_ET_DYN);
    EXPECT_EQ(plan.bias, ELF_DYN_DEFAULT_BASE);
    EXPECT_EQ(plan.entry, ELF_DYN_DEFAULT_BASE + 0x1010);
    EXPECT_EQ(plan.phdr, ELF_DYN_DEFAULT_BASE + 0x40);
    EXPECT_EQ(plan.segments[3].vaddr, ELF_DYN_DEFAULT_BASE + 0x3000);

    const uint8_t *p = finish(&im);
    ASSERT_OK(elf_parse_at(p, im.size, 0x10000000, &plan));
    EXPECT_EQ(plan.entry, 0x10001010u);
    EXPECT_EQ(plan.segments[0].vaddr, 0x10000000u);
    EXPECT_STATUS(elf_parse_at(p, im.size, 0x10000800, &plan), ERR_INVALID_ARGS);
    EXPECT_STATUS(elf_parse_at(p, im.size, 0, &plan), ERR_OUT_OF_RANGE); // page zero
    EXPECT_STATUS(elf_parse_at(p, im.size, ELF_USER_MAX - 0x4000, &plan), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(elf_parse_at(p, im.size, 0xfffffffffffff000ull, &plan), ERR_OUT_OF_RANGE);
    // The base does not move an ET_EXEC image.
    good_exec(&im);
    ASSERT_OK(elf_parse_at(finish(&im), im.size, 0x10000000, &plan));
    EXPECT_EQ(plan.entry, 0x401010u);
}

static void elf_tls_and_limits(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    add_ph(&im, ELF_PT_TLS, ELF_PF_R, 0x2fc0, 0x403fc0, 0x8, 0x20);
    im.ph[5].align = 8;
    ASSERT_OK(parse(&im, &plan));
    EXPECT_TRUE(plan.has_tls);
    EXPECT_EQ(plan.tls_vaddr, 0x403fc0u);
    EXPECT_EQ(plan.tls_filesz, 8u);
    EXPECT_EQ(plan.tls_memsz, 0x20u);
    EXPECT_EQ(plan.tls_align, 8u);
    im.ph[5].align = 12;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    im.ph[5].align = 8;
    im.ph[5].filesz = 0x21;
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
    im.ph[5].filesz = 8;
    add_ph(&im, ELF_PT_TLS, ELF_PF_R, 0x2fc0, 0x403fc0, 0x8, 0x20); // a second one
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);

    // More PT_LOADs than a plan holds (all in order, one page each).
    good_exec(&im);
    im.eh.phnum = 2;
    im.ph[0].filesz = im.ph[0].memsz = 0x800; // room for the longer table
    for (uint64_t i = 0; i < ELF_MAX_SEGMENTS - 2; i++)
        add_ph(&im, ELF_PT_LOAD, ELF_PF_R, 0x2000, 0x410000 + i * 0x1000, 0x10, 0x10);
    EXPECT_OK(parse(&im, &plan));
    EXPECT_EQ(plan.nsegments, (uint32_t)ELF_MAX_SEGMENTS);
    add_ph(&im, ELF_PT_LOAD, ELF_PF_R, 0x2000, 0x500000, 0x10, 0x10);
    EXPECT_STATUS(parse(&im, &plan), ERR_NOT_SUPPORTED);
    // No PT_LOAD at all.
    good_exec(&im);
    for (int i = 0; i < 4; i++)
        im.ph[i].type = 0x60000000; // an OS-specific type, ignored
    EXPECT_STATUS(parse(&im, &plan), ERR_BAD_FORMAT);
}

// Every prefix of a good image is refused, without reads past its end.
static void elf_truncated(struct ktest *t)
{
    static struct img im;
    struct elf_plan plan;

    good_exec(&im);
    finish(&im);
    for (size_t n = 0; n < im.size; n += (n < 0x200 ? 1 : 0x3f)) {
        im.size = n;
        status_t s = parse(&im, &plan);
        if (s != ERR_BAD_FORMAT)
            ktest_fail(t, __FILE__, __LINE__, "prefix %zu: %s", n, status_str(s));
        im.size = IMG_SIZE;
    }
}

// Host only: the kernel image does not carry the sample.
#if defined(HOST_TEST) && __has_include("user_elf_sample.h")
#include "user_elf_sample.h"
#define HAVE_ELF_SAMPLE 1
#endif

// A real static program from musl-gcc (user/user.mk generates the array and
// the readelf figures it must agree with).
static void elf_real_program(struct ktest *t)
{
#ifdef HAVE_ELF_SAMPLE
    struct elf_plan plan;
    ASSERT_OK(elf_parse(elf_sample, sizeof(elf_sample), &plan));
    EXPECT_EQ(plan.entry, (uint64_t)ELF_SAMPLE_ENTRY);
    EXPECT_EQ(plan.phnum, (uint32_t)ELF_SAMPLE_PHNUM);
    ASSERT_EQ(plan.nsegments, (uint32_t)ARRAY_SIZE(elf_sample_loads));
    for (size_t i = 0; i < ARRAY_SIZE(elf_sample_loads); i++) {
        const struct elf_segment *s = &plan.segments[i];
        uint64_t va = elf_sample_loads[i].vaddr, lead = va % ELF_PAGE_SIZE;
        EXPECT_EQ(s->vaddr, va - lead);
        EXPECT_EQ(s->file_offset, elf_sample_loads[i].offset - lead);
        EXPECT_EQ(s->filesz, elf_sample_loads[i].filesz + lead);
        EXPECT_GE(s->memsz, elf_sample_loads[i].memsz + lead);
        EXPECT_LT(s->memsz - (elf_sample_loads[i].memsz + lead), (uint64_t)ELF_PAGE_SIZE);
        EXPECT_EQ(s->prot, elf_sample_loads[i].prot);
    }
    EXPECT_EQ(plan.has_tls, ELF_SAMPLE_HAS_TLS != 0);
    // The program headers are mapped, and the bytes there are the table.
    EXPECT_EQ(plan.phdr, (uint64_t)ELF_SAMPLE_PHDR);
#else
    KTEST_SKIP("host test: needs build/gen/user_elf_sample.h");
#endif
}

// ---- The initial stack ----

#define STACK_TOP 0x7ffffff00000ull
#define STACK_BUF 4096u

static uint64_t word_at(const uint8_t *buf, uint64_t va)
{
    size_t off = STACK_BUF - (size_t)(STACK_TOP - va);
    uint64_t w;
    memcpy(&w, &buf[off], sizeof(w));
    return w;
}

static const char *str_at(const uint8_t *buf, uint64_t va)
{
    size_t off = STACK_BUF - (size_t)(STACK_TOP - va);
    return (const char *)&buf[off];
}

static bool in_stack(uint64_t va)
{
    return va < STACK_TOP && va >= STACK_TOP - STACK_BUF;
}

static void stack_aux(struct elf_auxv *aux)
{
    memset(aux, 0, sizeof(*aux));
    aux->phdr = 0x400040;
    aux->phent = 56;
    aux->phnum = 6;
    aux->entry = 0x401047;
    aux->hwcap = 0x178bfbff;
    for (int i = 0; i < 16; i++)
        aux->random[i] = 0xa0 + i;
    aux->nextra = 1;
    aux->extra[0].type = 0x4e42;
    aux->extra[0].value = 0x40000;
}

static void elf_stack_layout(struct ktest *t)
{
    static uint8_t buf[STACK_BUF];
    static const char *const argv[] = {"/bin/hello", "-v", "", "last arg", NULL};
    static const char *const envp[] = {"PATH=/bin", "HOME=/", NULL};
    static const uint64_t want_aux[][2] = {
        {ELF_AT_PHDR, 0x400040},  {ELF_AT_PHENT, 56}, {ELF_AT_PHNUM, 6},
        {ELF_AT_PAGESZ, 4096},    {ELF_AT_BASE, 0},   {ELF_AT_FLAGS, 0},
        {ELF_AT_ENTRY, 0x401047}, {ELF_AT_UID, 0},    {ELF_AT_EUID, 0},
        {ELF_AT_GID, 0},          {ELF_AT_EGID, 0},   {ELF_AT_HWCAP, 0x178bfbff},
        {ELF_AT_CLKTCK, 100},     {ELF_AT_SECURE, 0}, {ELF_AT_RANDOM, 0 /* checked below */},
        {0x4e42, 0x40000},        {ELF_AT_NULL, 0},
    };
    struct elf_auxv aux;
    uint64_t sp, va;

    stack_aux(&aux);
    memset(buf, 0xcc, sizeof(buf));
    ASSERT_OK(elf_build_stack(buf, sizeof(buf), STACK_TOP, argv, envp, &aux, &sp));
    EXPECT_EQ(sp % 16, 0u);
    ASSERT_TRUE(in_stack(sp));
    EXPECT_EQ(buf[STACK_BUF - (STACK_TOP - sp) - 1], 0xcc); // nothing below sp

    va = sp;
    ASSERT_EQ(word_at(buf, va), 4u); // argc
    for (int i = 0; i < 4; i++) {
        uint64_t p = word_at(buf, va += 8);
        ASSERT_TRUE(in_stack(p) && p > sp);
        EXPECT_STREQ(str_at(buf, p), argv[i]);
    }
    EXPECT_EQ(word_at(buf, va += 8), 0u);
    for (int i = 0; i < 2; i++) {
        uint64_t p = word_at(buf, va += 8);
        ASSERT_TRUE(in_stack(p) && p > sp);
        EXPECT_STREQ(str_at(buf, p), envp[i]);
    }
    EXPECT_EQ(word_at(buf, va += 8), 0u);
    ASSERT_EQ(ARRAY_SIZE(want_aux), ELF_AUXV_BASE_COUNT + 1);
    for (size_t i = 0; i < ARRAY_SIZE(want_aux); i++) {
        uint64_t type = word_at(buf, va += 8), value = word_at(buf, va += 8);
        EXPECT_EQ(type, want_aux[i][0]);
        if (type == ELF_AT_RANDOM) {
            ASSERT_TRUE(in_stack(value) && value > va);
            EXPECT_TRUE(memcmp(str_at(buf, value), aux.random, 16) == 0);
        } else {
            EXPECT_EQ(value, want_aux[i][1]);
        }
    }
}

// sp stays aligned whatever the lengths of the strings, and nothing written
// later overwrites what was written earlier.
static void elf_stack_alignment(struct ktest *t)
{
    static uint8_t buf[STACK_BUF];
    static char arg[40];
    struct elf_auxv aux;
    uint64_t sp;

    stack_aux(&aux);
    for (int len = 0; len < 32; len++) {
        for (int nextra = 0; nextra <= 1; nextra++) {
            memset(arg, 'x', len);
            arg[len] = 0;
            const char *argv[] = {"a", arg, NULL};
            const char *envp[] = {arg, NULL};
            aux.nextra = nextra;
            ASSERT_OK(elf_build_stack(buf, sizeof(buf), STACK_TOP, argv, envp, &aux, &sp));
            EXPECT_EQ(sp % 16, 0u);
            EXPECT_STREQ(str_at(buf, word_at(buf, sp + 16)), arg);
            EXPECT_STREQ(str_at(buf, word_at(buf, sp + 32)), arg);
            // AT_NULL ends the vector below the random bytes and the strings.
            uint64_t end = sp + 8 * (6 + 2 * (ELF_AUXV_BASE_COUNT + nextra));
            EXPECT_EQ(word_at(buf, end - 16), (uint64_t)ELF_AT_NULL);
            uint64_t random_pair = end - 16 - 16 * (nextra + 1);
            EXPECT_EQ(word_at(buf, random_pair), (uint64_t)ELF_AT_RANDOM);
            uint64_t random = word_at(buf, random_pair + 8);
            EXPECT_GE(random, end);
            EXPECT_TRUE(memcmp(str_at(buf, random), aux.random, 16) == 0);
        }
    }
}

static void elf_stack_limits(struct ktest *t)
{
    static uint8_t buf[STACK_BUF];
    static const char *const argv[] = {"prog", "arg", NULL};
    struct elf_auxv aux;
    uint64_t sp;

    stack_aux(&aux);
    ASSERT_OK(elf_build_stack(buf, sizeof(buf), STACK_TOP, argv, NULL, &aux, &sp));
    size_t used = STACK_TOP - sp;
    // Exactly the bytes it uses are enough; one fewer is not.
    EXPECT_OK(elf_build_stack(buf + STACK_BUF - used, used, STACK_TOP, argv, NULL, &aux, &sp));
    EXPECT_EQ(STACK_TOP - sp, used);
    for (size_t n = 0; n < used; n++)
        EXPECT_STATUS(elf_build_stack(buf + STACK_BUF - n, n, STACK_TOP, argv, NULL, &aux, &sp),
                      ERR_BUFFER_TOO_SMALL);
    // No argv, no envp: argc 0 and two NULLs.
    ASSERT_OK(elf_build_stack(buf, sizeof(buf), STACK_TOP, NULL, NULL, &aux, &sp));
    EXPECT_EQ(word_at(buf, sp), 0u);
    EXPECT_EQ(word_at(buf, sp + 8), 0u);
    EXPECT_EQ(word_at(buf, sp + 16), 0u);
    EXPECT_EQ(word_at(buf, sp + 24), (uint64_t)ELF_AT_PHDR);
    // Bad arguments.
    EXPECT_STATUS(elf_build_stack(buf, sizeof(buf), STACK_TOP - 8, argv, NULL, &aux, &sp),
                  ERR_INVALID_ARGS);
    EXPECT_STATUS(elf_build_stack(buf, sizeof(buf), 0x800, argv, NULL, &aux, &sp),
                  ERR_INVALID_ARGS);
    aux.nextra = ELF_AUXV_EXTRA_MAX + 1;
    EXPECT_STATUS(elf_build_stack(buf, sizeof(buf), STACK_TOP, argv, NULL, &aux, &sp),
                  ERR_OUT_OF_RANGE);
}

KTEST_SUITE(elf, KTEST_CASE(elf_static_exec), KTEST_CASE(elf_bad_identification),
            KTEST_CASE(elf_program_header_table), KTEST_CASE(elf_segment_file_bounds),
            KTEST_CASE(elf_overlap_and_order), KTEST_CASE(elf_wx_and_stack),
            KTEST_CASE(elf_interpreter), KTEST_CASE(elf_entry_point), KTEST_CASE(elf_user_range),
            KTEST_CASE(elf_program_headers_mapped), KTEST_CASE(elf_static_pie),
            KTEST_CASE(elf_tls_and_limits), KTEST_CASE(elf_truncated), KTEST_CASE(elf_real_program),
            KTEST_CASE(elf_stack_layout), KTEST_CASE(elf_stack_alignment),
            KTEST_CASE(elf_stack_limits));
