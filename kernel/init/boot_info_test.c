// nimbus:host
// Tests of the PVH boot_info parser and the memory map sanitizer. The start
// structure is laid out in a fake physical window reached only through a
// reader callback, which can refuse ranges to simulate truncated or missing
// data; the window's addresses are not mapped on the host, so dereferencing a
// physical address directly would crash.
#include <stdint.h>

#include "init/boot_info.h"
#include "lib/ktest.h"
#include "lib/string.h"

#define FAKE_BASE    0x10000ull
#define FAKE_SIZE    0x6000ull
#define FAKE_START   (FAKE_BASE + 0x0)
#define FAKE_MEMMAP  (FAKE_BASE + 0x1000)
#define FAKE_MODLIST (FAKE_BASE + 0x3000)
#define FAKE_CMDLINE (FAKE_BASE + 0x3400)
#define OUTSIDE      0x80000000ull // never readable

static struct {
    uint8_t mem[FAKE_SIZE];
    paddr_t limit;        // reads ending above this are refused
    bool bounce;          // return a scratch copy instead of the window itself
    uint8_t scratch[256]; // overwritten by every bounced read
    unsigned reads;
} fake;

static struct boot_info bi; // too big for a test's stack in the kernel

static void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
    fake.limit = FAKE_BASE + FAKE_SIZE;
}

static void fake_put(paddr_t pa, const void *src, size_t len)
{
    if (pa >= FAKE_BASE && len <= FAKE_SIZE && pa - FAKE_BASE <= FAKE_SIZE - len)
        memcpy(fake.mem + (pa - FAKE_BASE), src, len);
}

static const void *fake_read(paddr_t pa, size_t len, void *ctx)
{
    (void)ctx;
    fake.reads++;
    if (pa < FAKE_BASE || len > FAKE_SIZE || pa - FAKE_BASE > FAKE_SIZE - len)
        return NULL;
    if (pa + len > fake.limit)
        return NULL;
    if (!fake.bounce)
        return fake.mem + (pa - FAKE_BASE);
    if (len > sizeof fake.scratch)
        return NULL;
    memset(fake.scratch, 0xcc, sizeof fake.scratch);
    memcpy(fake.scratch, fake.mem + (pa - FAKE_BASE), len);
    return fake.scratch;
}

// What QEMU 7.2 passes on q35 with 2 GiB above 4 GiB.
static const struct hvm_memmap_entry qemu_map[] = {
    {0x0, 0x9fc00, BOOT_MEM_RAM, 0},
    {0x9fc00, 0x400, BOOT_MEM_RESERVED, 0},
    {0xf0000, 0x10000, BOOT_MEM_RESERVED, 0},
    {0x100000, 0x7ee0000, BOOT_MEM_RAM, 0},
    {0xfeffc000, 0x4000, BOOT_MEM_RESERVED, 0},
    {0xfffc0000, 0x40000, BOOT_MEM_RESERVED, 0},
    {0x100000000, 0x80000000, BOOT_MEM_RAM, 0},
};

static const char qemu_cmdline[] = "console=ttyS0 virtio_mmio.device=512@0xfeb00000:10";

static struct hvm_start_info good_start_info(void)
{
    return (struct hvm_start_info){
        .magic = HVM_START_MAGIC,
        .version = 1,
        .nr_modules = 1,
        .modlist_paddr = FAKE_MODLIST,
        .cmdline_paddr = FAKE_CMDLINE,
        .rsdp_paddr = 0xf5a60,
        .memmap_paddr = FAKE_MEMMAP,
        .memmap_entries = ARRAY_SIZE(qemu_map),
    };
}

// Lays out a complete QEMU-like boot at the usual addresses.
static void put_qemu_boot(const struct hvm_start_info *si)
{
    struct hvm_modlist_entry initrd = {.paddr = 0x7f9e000, .size = 0x42000};

    fake_put(FAKE_START, si, sizeof *si);
    fake_put(FAKE_MEMMAP, qemu_map, sizeof qemu_map);
    fake_put(FAKE_MODLIST, &initrd, sizeof initrd);
    fake_put(FAKE_CMDLINE, qemu_cmdline, sizeof qemu_cmdline);
}

static status_t parse_at(paddr_t start, const char **why)
{
    *why = NULL;
    return boot_info_from_pvh(&bi, start, fake_read, NULL, why);
}

static bool contains(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; s && *s; s++) {
        if (strncmp(s, word, n) == 0)
            return true;
    }
    return false;
}

#define EXPECT_WHY(why, word)                                                \
    KTEST_CHECK_(contains(why, word), (void)0, "reason \"%s\" lacks \"%s\"", \
                 (why) ? (why) : "(null)", word)

// Checks that bi.mem holds exactly the given entries.
static void expect_map(struct ktest *t, const struct hvm_memmap_entry *e, size_t n)
{
    EXPECT_EQ(bi.nmem, n);
    for (size_t i = 0; i < n && i < bi.nmem; i++) {
        EXPECT_EQ(bi.mem[i].base, e[i].addr);
        EXPECT_EQ(bi.mem[i].size, e[i].size);
        EXPECT_EQ(bi.mem[i].type, e[i].type);
    }
}

static void expect_qemu_result(struct ktest *t, paddr_t start)
{
    expect_map(t, qemu_map, ARRAY_SIZE(qemu_map));
    EXPECT_STREQ(bi.protocol, "pvh");
    EXPECT_STREQ(bi.cmdline, qemu_cmdline);
    EXPECT_EQ(bi.initrd_base, 0x7f9e000u);
    EXPECT_EQ(bi.initrd_size, 0x42000u);
    EXPECT_EQ(bi.rsdp, 0xf5a60u);
    EXPECT_EQ(bi.start_info, start);
}

static void boot_info_qemu(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    put_qemu_boot(&si);
    ASSERT_OK(parse_at(FAKE_START, &why));
    EXPECT_NULL(why);
    expect_qemu_result(t, FAKE_START);
    EXPECT_GT(fake.reads, 0u);
}

// Unaligned structures behind a reader that reuses one bounce buffer parse
// the same as the plain case.
static void boot_info_bounce_unaligned(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const paddr_t start = FAKE_BASE + 0x203;
    struct hvm_modlist_entry initrd = {.paddr = 0x7f9e000, .size = 0x42000};
    const char *why;

    fake_reset();
    fake.bounce = true;
    si.memmap_paddr = FAKE_MEMMAP + 5;
    si.modlist_paddr = FAKE_MODLIST + 7;
    fake_put(start, &si, sizeof si);
    fake_put(si.memmap_paddr, qemu_map, sizeof qemu_map);
    fake_put(si.modlist_paddr, &initrd, sizeof initrd);
    fake_put(FAKE_CMDLINE, qemu_cmdline, sizeof qemu_cmdline);
    ASSERT_OK(parse_at(start, &why));
    expect_qemu_result(t, start);
}

// A later version with more fields is read as version 1.
static void boot_info_newer_version(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    si.version = 2;
    put_qemu_boot(&si);
    ASSERT_OK(parse_at(FAKE_START, &why));
    expect_qemu_result(t, FAKE_START);
}

static void boot_info_bad_args(struct ktest *t)
{
    const char *why = NULL;

    fake_reset();
    EXPECT_STATUS(parse_at(0, &why), ERR_INVALID_ARGS);
    EXPECT_WHY(why, "null");
    EXPECT_EQ(fake.reads, 0u);
    EXPECT_STATUS(boot_info_from_pvh(&bi, FAKE_START, NULL, NULL, &why), ERR_INVALID_ARGS);
    EXPECT_STATUS(boot_info_from_pvh(NULL, FAKE_START, fake_read, NULL, &why), ERR_INVALID_ARGS);
    // A NULL why is allowed.
    EXPECT_STATUS(boot_info_from_pvh(&bi, 0, fake_read, NULL, NULL), ERR_INVALID_ARGS);
}

static void boot_info_bad_magic(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    si.magic = 0x2badb002; // a Multiboot magic, say
    put_qemu_boot(&si);
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "bad magic");
    fake_reset(); // all zeroes
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "bad magic");
}

static void boot_info_unreadable_start(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    put_qemu_boot(&si);
    EXPECT_STATUS(parse_at(OUTSIDE, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "unreadable");
    EXPECT_STATUS(parse_at(UINT64_MAX - 8, &why), ERR_BAD_FORMAT); // range would wrap
    EXPECT_WHY(why, "unreadable");
    fake.limit = FAKE_START + 20; // not even the version 0 part
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "unreadable");
}

// The version 1 fields are read only after the version says they exist.
static void boot_info_truncated_start(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    put_qemu_boot(&si);
    fake.limit = FAKE_START + offsetof(struct hvm_start_info, memmap_paddr);
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "truncated");
    fake.limit = FAKE_START + sizeof si - 1;
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "truncated");
}

static void boot_info_version0(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    si.version = 0;
    put_qemu_boot(&si);
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "version 0");
    // The same when the structure ends where version 0 ends.
    fake.limit = FAKE_START + offsetof(struct hvm_start_info, memmap_paddr);
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "version 0");
}

static void boot_info_no_memmap(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    si.memmap_paddr = 0;
    put_qemu_boot(&si);
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "no memory map");

    si = good_start_info();
    si.memmap_entries = 0;
    put_qemu_boot(&si);
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "no memory map");
}

static void boot_info_memmap_unreadable(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    si.memmap_paddr = OUTSIDE;
    put_qemu_boot(&si);
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "unreadable");

    // The map runs off the end of readable memory halfway through.
    si = good_start_info();
    put_qemu_boot(&si);
    fake.limit = FAKE_MEMMAP + 4 * sizeof(struct hvm_memmap_entry) + 10;
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "unreadable");

    // Far more entries than exist: the first BOOT_MAX_MEM are read, and they
    // run past the window.
    fake.limit = FAKE_BASE + FAKE_SIZE;
    si.memmap_entries = UINT32_MAX;
    si.memmap_paddr = FAKE_BASE + FAKE_SIZE - 10 * sizeof(struct hvm_memmap_entry);
    put_qemu_boot(&si);
    EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
    EXPECT_WHY(why, "unreadable");
}

static void boot_info_no_ram(struct ktest *t)
{
    static const struct hvm_memmap_entry reserved_only[] = {
        {0x0, 0x100000, BOOT_MEM_RESERVED, 0},
        {0x100000, 0x1000, BOOT_MEM_ACPI, 0},
    };
    static const struct hvm_memmap_entry empty_ram[] = {
        {0x100000, 0, BOOT_MEM_RAM, 0},
        {0x0, 0x1000, BOOT_MEM_RESERVED, 0},
    };
    static const struct hvm_memmap_entry covered_ram[] = {
        {0x100000, 0x100000, BOOT_MEM_RAM, 0},
        {0x80000, 0x200000, BOOT_MEM_RESERVED, 0},
    };
    const struct {
        const struct hvm_memmap_entry *map;
        size_t n;
    } cases[] = {{reserved_only, ARRAY_SIZE(reserved_only)},
                 {empty_ram, ARRAY_SIZE(empty_ram)},
                 {covered_ram, ARRAY_SIZE(covered_ram)}};
    const char *why;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct hvm_start_info si = good_start_info();
        fake_reset();
        si.memmap_entries = (uint32_t)cases[i].n;
        put_qemu_boot(&si);
        fake_put(FAKE_MEMMAP, cases[i].map, cases[i].n * sizeof cases[i].map[0]);
        EXPECT_STATUS(parse_at(FAKE_START, &why), ERR_BAD_FORMAT);
        EXPECT_WHY(why, "no RAM");
    }
}

// The QEMU map shuffled, with duplicates, empty entries and overlaps, comes
// out as the QEMU map.
static void boot_info_messy_map(struct ktest *t)
{
    static const struct hvm_memmap_entry messy[] = {
        {0x100000000, 0x40000000, BOOT_MEM_RAM, 0},
        {0xfffc0000, 0x40000, BOOT_MEM_RESERVED, 0},
        {0x140000000, 0x40000000, BOOT_MEM_RAM, 0},
        {0x500000, 0, BOOT_MEM_RESERVED, 0},
        {0x0, 0xa0000, BOOT_MEM_RAM, 0}, // overlaps the EBDA below
        {0xfeffc000, 0x4000, BOOT_MEM_RESERVED, 0},
        {0x9fc00, 0x400, BOOT_MEM_RESERVED, 0},
        {0x100000, 0x7000000, BOOT_MEM_RAM, 0},
        {0xf8000, 0x8000, BOOT_MEM_RESERVED, 0},
        {0x1000000, 0x6fe0000, BOOT_MEM_RAM, 0},
        {0xf0000, 0x10000, BOOT_MEM_RESERVED, 0},
        {0x100000000, 0x80000000, BOOT_MEM_RAM, 0},
    };
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    si.memmap_entries = ARRAY_SIZE(messy);
    put_qemu_boot(&si);
    fake_put(FAKE_MEMMAP, messy, sizeof messy);
    ASSERT_OK(parse_at(FAKE_START, &why));
    expect_map(t, qemu_map, ARRAY_SIZE(qemu_map));
}

static void boot_info_overflowing_entries(struct ktest *t)
{
    static const struct hvm_memmap_entry map[] = {
        {0x0, 0x9fc00, BOOT_MEM_RAM, 0},
        {0xfffffffff0000000, 0x20000000, BOOT_MEM_RESERVED, 0},
        {0xffffffffffffffff, 0x10, BOOT_MEM_RAM, 0},
    };
    static const struct hvm_memmap_entry want[] = {
        {0x0, 0x9fc00, BOOT_MEM_RAM, 0},
        {0xfffffffff0000000, 0xfffffff, BOOT_MEM_RESERVED, 0},
    };
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    si.memmap_entries = ARRAY_SIZE(map);
    put_qemu_boot(&si);
    fake_put(FAKE_MEMMAP, map, sizeof map);
    ASSERT_OK(parse_at(FAKE_START, &why));
    expect_map(t, want, ARRAY_SIZE(want));
}

// More entries than BOOT_MAX_MEM: the first BOOT_MAX_MEM are kept.
static void boot_info_too_many_entries(struct ktest *t)
{
    const size_t n = BOOT_MAX_MEM + 72;
    struct hvm_start_info si = good_start_info();
    const char *why;

    fake_reset();
    si.memmap_entries = (uint32_t)n;
    put_qemu_boot(&si);
    for (size_t i = 0; i < n; i++) {
        // Descending addresses, so the kept ones are not simply the lowest.
        struct hvm_memmap_entry e = {
            .addr = 0x100000000 - (i + 1) * 0x2000, .size = 0x1000, .type = BOOT_MEM_RAM};
        fake_put(FAKE_MEMMAP + i * sizeof e, &e, sizeof e);
    }
    ASSERT_OK(parse_at(FAKE_START, &why));
    ASSERT_EQ(bi.nmem, (size_t)BOOT_MAX_MEM);
    EXPECT_EQ(bi.mem[0].base, 0x100000000 - BOOT_MAX_MEM * 0x2000ull);
    EXPECT_EQ(bi.mem[BOOT_MAX_MEM - 1].base, 0x100000000 - 0x2000ull);
}

static void expect_no_initrd(struct ktest *t, const struct hvm_start_info *si,
                             const struct hvm_modlist_entry *m)
{
    const char *why;

    fake_reset();
    put_qemu_boot(si);
    if (m)
        fake_put(si->modlist_paddr, m, sizeof *m);
    ASSERT_OK(parse_at(FAKE_START, &why));
    EXPECT_EQ(bi.initrd_base, 0u);
    EXPECT_EQ(bi.initrd_size, 0u);
    EXPECT_STREQ(bi.cmdline, qemu_cmdline); // the rest is still parsed
    EXPECT_EQ(bi.nmem, ARRAY_SIZE(qemu_map));
}

static void boot_info_modules(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();
    struct hvm_modlist_entry m;

    si.nr_modules = 0;
    expect_no_initrd(t, &si, NULL);
    si = good_start_info();
    si.nr_modules = UINT32_MAX;
    si.modlist_paddr = OUTSIDE;
    expect_no_initrd(t, &si, NULL);
    si.modlist_paddr = 0;
    expect_no_initrd(t, &si, NULL);
    si = good_start_info();
    m = (struct hvm_modlist_entry){.paddr = 0x7f9e000, .size = 0};
    expect_no_initrd(t, &si, &m);
    m = (struct hvm_modlist_entry){.paddr = 0xfffffffffff00000, .size = 0x200000};
    expect_no_initrd(t, &si, &m);
    m = (struct hvm_modlist_entry){.paddr = 0, .size = 0x1000};
    expect_no_initrd(t, &si, &m);

    // Only module 0 is read, however many there are.
    const char *why;
    fake_reset();
    si.nr_modules = UINT32_MAX;
    si.modlist_paddr = FAKE_BASE + FAKE_SIZE - sizeof m;
    put_qemu_boot(&si);
    m = (struct hvm_modlist_entry){.paddr = 0x2000000, .size = 0x1234};
    fake_put(si.modlist_paddr, &m, sizeof m);
    ASSERT_OK(parse_at(FAKE_START, &why));
    EXPECT_EQ(bi.initrd_base, 0x2000000u);
    EXPECT_EQ(bi.initrd_size, 0x1234u);
}

static status_t parse_with_cmdline(paddr_t cmdline_pa)
{
    struct hvm_start_info si = good_start_info();
    const char *why;

    si.cmdline_paddr = cmdline_pa;
    fake_put(FAKE_START, &si, sizeof si);
    return parse_at(FAKE_START, &why);
}

static void boot_info_cmdline_limits(struct ktest *t)
{
    static char want[BOOT_CMDLINE_MAX];
    struct hvm_start_info si = good_start_info();

    // 3000 bytes without a NUL: the first BOOT_CMDLINE_MAX-1 are kept.
    fake_reset();
    put_qemu_boot(&si);
    memset(fake.mem + (FAKE_CMDLINE - FAKE_BASE), 'a', 3000);
    ASSERT_OK(parse_with_cmdline(FAKE_CMDLINE));
    memset(want, 'a', sizeof want - 1);
    want[sizeof want - 1] = '\0';
    EXPECT_STREQ(bi.cmdline, want);

    // Exactly BOOT_CMDLINE_MAX-1 bytes and the NUL, at the very end of
    // readable memory: nothing past the NUL is read.
    paddr_t at = FAKE_BASE + FAKE_SIZE - BOOT_CMDLINE_MAX;
    fake_put(at, want, sizeof want);
    ASSERT_OK(parse_with_cmdline(at));
    EXPECT_STREQ(bi.cmdline, want);
    fake_put(at + BOOT_CMDLINE_MAX - 2, "", 1); // one byte shorter
    ASSERT_OK(parse_with_cmdline(at));
    EXPECT_EQ(strlen(bi.cmdline), (size_t)BOOT_CMDLINE_MAX - 2);

    // The empty string.
    fake_put(FAKE_CMDLINE, "", 1);
    ASSERT_OK(parse_with_cmdline(FAKE_CMDLINE));
    EXPECT_STREQ(bi.cmdline, "");
}

static void boot_info_cmdline_unreadable(struct ktest *t)
{
    struct hvm_start_info si = good_start_info();

    fake_reset();
    put_qemu_boot(&si);
    ASSERT_OK(parse_with_cmdline(0));
    EXPECT_STREQ(bi.cmdline, "");
    ASSERT_OK(parse_with_cmdline(OUTSIDE));
    EXPECT_STREQ(bi.cmdline, "");
    ASSERT_OK(parse_with_cmdline(UINT64_MAX - 3));
    EXPECT_STREQ(bi.cmdline, "");
    // Readable at first but cut off before its NUL: dropped entirely.
    fake.limit = FAKE_CMDLINE + 10;
    ASSERT_OK(parse_with_cmdline(FAKE_CMDLINE));
    EXPECT_STREQ(bi.cmdline, "");
    EXPECT_EQ(bi.initrd_size, 0x42000u); // and nothing else lost
}

// ---- boot_mem_sanitize on its own ----

static void set_map(const struct boot_mem *m, size_t n)
{
    memset(&bi, 0, sizeof bi);
    if (n)
        memcpy(bi.mem, m, n * sizeof m[0]);
    bi.nmem = n;
}

static void expect_mem(struct ktest *t, const struct boot_mem *want, size_t n)
{
    EXPECT_EQ(bi.nmem, n);
    for (size_t i = 0; i < n && i < bi.nmem; i++) {
        if (bi.mem[i].base != want[i].base || bi.mem[i].size != want[i].size ||
            bi.mem[i].type != want[i].type)
            ktest_fail(t, __FILE__, __LINE__,
                       "entry %zu: %#llx+%#llx type %u, want %#llx+%#llx type %u", i,
                       (unsigned long long)bi.mem[i].base, (unsigned long long)bi.mem[i].size,
                       bi.mem[i].type, (unsigned long long)want[i].base,
                       (unsigned long long)want[i].size, want[i].type);
    }
}

#define RAM  BOOT_MEM_RAM
#define RES  BOOT_MEM_RESERVED
#define ACPI BOOT_MEM_ACPI
#define NVS  BOOT_MEM_NVS

static void sanitize_sorts_and_merges(struct ktest *t)
{
    const struct boot_mem in[] = {
        {0x5000, 0x1000, RAM}, {0x0, 0x3000, RAM},    {0x2000, 0x3000, RAM},
        {0x9000, 0x1000, RES}, {0x8000, 0x1000, RES}, {0x7000, 0x1000, RAM},
    };
    const struct boot_mem want[] = {
        {0x0, 0x6000, RAM}, // overlapping and touching RAM merged
        {0x7000, 0x1000, RAM},
        {0x8000, 0x2000, RES},
    };
    set_map(in, ARRAY_SIZE(in));
    boot_mem_sanitize(&bi);
    expect_mem(t, want, ARRAY_SIZE(want));
}

static void sanitize_reserved_splits_ram(struct ktest *t)
{
    const struct boot_mem in[] = {{0x0, 0x10000, RAM}, {0x4000, 0x1000, RES}};
    const struct boot_mem want[] = {
        {0x0, 0x4000, RAM}, {0x4000, 0x1000, RES}, {0x5000, 0xb000, RAM}};
    set_map(in, ARRAY_SIZE(in));
    boot_mem_sanitize(&bi);
    expect_mem(t, want, ARRAY_SIZE(want));
}

static void sanitize_ram_loses_edges(struct ktest *t)
{
    const struct boot_mem in[] = {
        {0x1000, 0x4000, RAM}, {0x0, 0x2000, RES}, {0x4000, 0x4000, ACPI}};
    const struct boot_mem want[] = {
        {0x0, 0x2000, RES}, {0x2000, 0x2000, RAM}, {0x4000, 0x4000, ACPI}};
    set_map(in, ARRAY_SIZE(in));
    boot_mem_sanitize(&bi);
    expect_mem(t, want, ARRAY_SIZE(want));
}

// Between two non-RAM types the more restrictive wins; unknown types are
// reserved.
static void sanitize_non_ram_types(struct ktest *t)
{
    const struct boot_mem in[] = {
        {0x0, 0x4000, NVS},   {0x2000, 0x1000, RES}, {0x4000, 0x1000, ACPI}, {0x4800, 0x1000, NVS},
        {0x10000, 0x1000, 0}, {0x11000, 0x1000, 99}, {0x12000, 0x1000, RES},
    };
    const struct boot_mem want[] = {
        {0x0, 0x2000, NVS},    {0x2000, 0x1000, RES}, {0x3000, 0x1000, NVS},
        {0x4000, 0x800, ACPI}, {0x4800, 0x1000, NVS}, {0x10000, 0x3000, RES},
    };
    set_map(in, ARRAY_SIZE(in));
    boot_mem_sanitize(&bi);
    expect_mem(t, want, ARRAY_SIZE(want));
}

static void sanitize_empty_and_overflow(struct ktest *t)
{
    const struct boot_mem empty[] = {{0x1000, 0, RAM}, {0x0, 0, RES}};
    set_map(empty, ARRAY_SIZE(empty));
    boot_mem_sanitize(&bi);
    EXPECT_EQ(bi.nmem, 0u);
    set_map(NULL, 0);
    boot_mem_sanitize(&bi);
    EXPECT_EQ(bi.nmem, 0u);

    const struct boot_mem in[] = {
        {UINT64_MAX, 5, RAM},
        {0xffffffff00000000, UINT64_MAX, RAM},
        {0xfffffffff0000000, 0x20000000, RES},
    };
    const struct boot_mem want[] = {
        {0xffffffff00000000, 0xf0000000, RAM},
        {0xfffffffff0000000, 0xfffffff, RES}, // ends at 2^64-1, never wraps
    };
    set_map(in, ARRAY_SIZE(in));
    boot_mem_sanitize(&bi);
    expect_mem(t, want, ARRAY_SIZE(want));
}

// 127 holes punched in one RAM range would need 255 entries; the highest are
// dropped, and no kept RAM overlaps a hole.
static void sanitize_capacity(struct ktest *t)
{
    memset(&bi, 0, sizeof bi);
    bi.mem[0] = (struct boot_mem){0x0, 1ull << 40, RAM};
    for (size_t i = 1; i < BOOT_MAX_MEM; i++)
        bi.mem[i] = (struct boot_mem){i * 0x10000, 0x1000, RES};
    bi.nmem = BOOT_MAX_MEM;
    boot_mem_sanitize(&bi);
    ASSERT_EQ(bi.nmem, (size_t)BOOT_MAX_MEM);
    for (size_t i = 0; i < BOOT_MAX_MEM; i++) {
        const struct boot_mem *m = &bi.mem[i];
        // RAM below the first hole, then hole, RAM after it, hole, ...
        uint64_t want = i % 2 ? (i + 1) / 2 * 0x10000ull : i / 2 * 0x10000ull + (i ? 0x1000 : 0);
        EXPECT_EQ(m->base, want);
        EXPECT_EQ(m->type, i % 2 ? (uint32_t)RES : (uint32_t)RAM);
    }
}

// A reference for one address: the type the sanitized map must give it
// (0 when no entry covers it), following the documented precedence.
static uint32_t ref_type_at(const struct boot_mem *in, size_t n, uint64_t p)
{
    static const uint32_t weakest_first[] = {
        RAM, ACPI, NVS, BOOT_MEM_PMEM, RES, BOOT_MEM_UNUSABLE, BOOT_MEM_DISABLED};
    int best = -1;

    for (size_t i = 0; i < n; i++) {
        uint64_t size = in[i].size < UINT64_MAX - in[i].base ? in[i].size : UINT64_MAX - in[i].base;
        if (p < in[i].base || p - in[i].base >= size)
            continue;
        uint32_t type = (in[i].type >= RAM && in[i].type <= BOOT_MEM_PMEM) ? in[i].type : RES;
        for (int r = 0; r < (int)ARRAY_SIZE(weakest_first); r++) {
            if (weakest_first[r] == type && r > best)
                best = r;
        }
    }
    return best < 0 ? 0 : weakest_first[best];
}

static uint32_t type_at(uint64_t p)
{
    for (size_t i = 0; i < bi.nmem; i++) {
        if (p >= bi.mem[i].base && p - bi.mem[i].base < bi.mem[i].size)
            return bi.mem[i].type;
    }
    return 0;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

// Checks the sanitized map's shape, then compares it with the reference at
// every input boundary and next to it.
static void check_random_map(struct ktest *t, const struct boot_mem *in, size_t n)
{
    for (size_t i = 0; i < bi.nmem; i++) {
        EXPECT_GT(bi.mem[i].size, 0u);
        EXPECT_LE(bi.mem[i].size, UINT64_MAX - bi.mem[i].base);
        if (i == 0)
            continue;
        const struct boot_mem *a = &bi.mem[i - 1], *b = &bi.mem[i];
        EXPECT_LE(a->base + a->size, b->base);
        EXPECT_FALSE(a->base + a->size == b->base && a->type == b->type);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t pts[] = {in[i].base, in[i].base - 1, in[i].base + in[i].size,
                          in[i].base + in[i].size - 1};
        for (size_t j = 0; j < ARRAY_SIZE(pts); j++) {
            if (type_at(pts[j]) != ref_type_at(in, n, pts[j]))
                ktest_fail(t, __FILE__, __LINE__, "at %#llx: type %u, reference %u",
                           (unsigned long long)pts[j], type_at(pts[j]), ref_type_at(in, n, pts[j]));
        }
    }
}

static void sanitize_random_maps(struct ktest *t)
{
    static const uint32_t types[] = {
        RAM, RAM, RAM, RES, ACPI, NVS, BOOT_MEM_PMEM, BOOT_MEM_UNUSABLE, BOOT_MEM_DISABLED, 0, 42};
    struct boot_mem in[12];
    uint64_t seed = 0x9e3779b97f4a7c15ull;

    for (int round = 0; round < 300; round++) {
        size_t n = 1 + rng_next(&seed) % ARRAY_SIZE(in);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rng_next(&seed);
            in[i].base = (r % 32) * 0x1000;
            in[i].size = ((r >> 8) % 12) * 0x1000;
            in[i].type = types[(r >> 16) % ARRAY_SIZE(types)];
            if ((r >> 24) % 16 == 0) { // now and then, near the top of the address space
                in[i].base = UINT64_MAX - in[i].base;
                in[i].size = (r >> 32) % 3 ? in[i].size : UINT64_MAX;
            }
        }
        set_map(in, n);
        boot_mem_sanitize(&bi);
        check_random_map(t, in, n);
        if (t->failures)
            return;
    }
}

KTEST_SUITE(boot_info, KTEST_CASE(boot_info_qemu), KTEST_CASE(boot_info_bounce_unaligned),
            KTEST_CASE(boot_info_newer_version), KTEST_CASE(boot_info_bad_args),
            KTEST_CASE(boot_info_bad_magic), KTEST_CASE(boot_info_unreadable_start),
            KTEST_CASE(boot_info_truncated_start), KTEST_CASE(boot_info_version0),
            KTEST_CASE(boot_info_no_memmap), KTEST_CASE(boot_info_memmap_unreadable),
            KTEST_CASE(boot_info_no_ram), KTEST_CASE(boot_info_messy_map),
            KTEST_CASE(boot_info_overflowing_entries), KTEST_CASE(boot_info_too_many_entries),
            KTEST_CASE(boot_info_modules), KTEST_CASE(boot_info_cmdline_limits),
            KTEST_CASE(boot_info_cmdline_unreadable), KTEST_CASE(sanitize_sorts_and_merges),
            KTEST_CASE(sanitize_reserved_splits_ram), KTEST_CASE(sanitize_ram_loses_edges),
            KTEST_CASE(sanitize_non_ram_types), KTEST_CASE(sanitize_empty_and_overflow),
            KTEST_CASE(sanitize_capacity), KTEST_CASE(sanitize_random_maps));
