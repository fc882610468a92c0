// nimbus:host
// Tests of the cpio "newc" parser: archives are built here entry by entry,
// then damaged field by field. Damaged archives are placed at the very end of
// a buffer, so that on the host AddressSanitizer catches any read past them.
#include <stdint.h>

#include "lib/cpio.h"
#include "lib/fmt.h"
#include "lib/ktest.h"
#include "lib/string.h"

#define ARCHIVE_MAX 2048

struct archive {
    uint8_t buf[ARCHIVE_MAX];
    size_t len;
};

// Header field offsets (after the 6-byte magic, 8 hex digits each).
#define FIELD_OFF(i) (6 + 8 * (i))
#define OFF_MODE     FIELD_OFF(1)
#define OFF_FILESIZE FIELD_OFF(6)
#define OFF_NAMESIZE FIELD_OFF(11)
#define OFF_CHECK    FIELD_OFF(12)

static void put_field(uint8_t *p, uint32_t v)
{
    char tmp[9];
    ksnprintf(tmp, sizeof(tmp), "%08X", v);
    memcpy(p, tmp, 8);
}

static void pad4(struct archive *a)
{
    while (a->len % 4)
        a->buf[a->len++] = 0;
}

// Appends one entry; check is the 070702 checksum field (0 for 070701).
static void add_entry(struct archive *a, const char *magic, const char *name, uint32_t mode,
                      const void *data, uint32_t size, uint32_t check)
{
    uint8_t *h = a->buf + a->len;
    uint32_t namesize = strlen(name) + 1;
    uint32_t fields[13] = {42, mode, 1000, 100, 1, 1700000000, size, 0, 0, 0, 0, namesize, check};

    memcpy(h, magic, 6);
    for (int i = 0; i < 13; i++)
        put_field(h + FIELD_OFF(i), fields[i]);
    a->len += CPIO_HEADER_SIZE;
    memcpy(a->buf + a->len, name, namesize);
    a->len += namesize;
    pad4(a);
    memcpy(a->buf + a->len, data, size);
    a->len += size;
    pad4(a);
}

static void add_file(struct archive *a, const char *name, const char *text)
{
    add_entry(a, "070701", name, CPIO_MODE_REG | 0644, text, strlen(text), 0);
}

static void add_trailer(struct archive *a)
{
    add_entry(a, "070701", "TRAILER!!!", 0, "", 0, 0);
}

// The sample most tests start from: a directory, files of sizes 0..5 bytes
// (every padding case), a symlink, the trailer.
static void sample(struct archive *a)
{
    a->len = 0;
    add_entry(a, "070701", ".", CPIO_MODE_DIR | 0755, "", 0, 0);
    add_entry(a, "070701", "./etc", CPIO_MODE_DIR | 0755, "", 0, 0);
    add_file(a, "./etc/init.manifest", "hello /bin/hello\n");
    add_file(a, "./empty", "");
    add_file(a, "./a", "1");
    add_file(a, "./bb", "22");
    add_file(a, "./ccc", "333");
    add_file(a, "./dddd", "4444");
    add_file(a, "init", "55555");
    add_entry(a, "070701", "./link", CPIO_MODE_LNK | 0777, "init", 4, 0);
    add_trailer(a);
}

// Copies the first n bytes of a to the end of a static buffer.
static const uint8_t *at_end(const struct archive *a, size_t n)
{
    static uint8_t tail[ARCHIVE_MAX];
    uint8_t *p = tail + sizeof(tail) - n;
    memcpy(p, a->buf, n);
    return p;
}

static void cpio_iterate(struct ktest *t)
{
    static struct archive a;
    static const char *const names[] = {
        ".",    "./etc", "./etc/init.manifest", "./empty", "./a", "./bb", "./ccc", "./dddd",
        "init", "./link"};
    static const size_t sizes[] = {0, 0, 17, 0, 1, 2, 3, 4, 5, 4};
    struct cpio_entry e;
    size_t off = 0, n = 0;
    status_t s;

    sample(&a);
    const uint8_t *p = at_end(&a, a.len);
    while ((s = cpio_next(p, a.len, &off, &e)) == OK) {
        ASSERT_LT(n, ARRAY_SIZE(names));
        EXPECT_STREQ(e.name, names[n]);
        EXPECT_EQ(e.name_len, strlen(names[n]));
        EXPECT_EQ(e.size, sizes[n]);
        EXPECT_EQ(e.ino, 42u);
        EXPECT_EQ(e.uid, 1000u);
        EXPECT_EQ(e.gid, 100u);
        EXPECT_EQ(e.mtime, 1700000000u);
        EXPECT_EQ(e.nlink, 1u);
        EXPECT_EQ(off % 4, 0u);
        n++;
    }
    EXPECT_STATUS(s, ERR_NOT_FOUND);
    EXPECT_EQ(n, ARRAY_SIZE(names));
    // The trailer leaves the offset on itself: asking again gives the end again.
    size_t at_trailer = off;
    EXPECT_STATUS(cpio_next(p, a.len, &off, &e), ERR_NOT_FOUND);
    EXPECT_EQ(off, at_trailer);
}

static void cpio_find_paths(struct ktest *t)
{
    static struct archive a;
    struct cpio_entry e;

    sample(&a);
    const uint8_t *p = at_end(&a, a.len);
    static const char *const same[] = {"init", "./init", "/init", "//init", "/./init"};
    for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
        ASSERT_OK(cpio_find(p, a.len, same[i], &e));
        EXPECT_EQ(e.size, 5u);
        EXPECT_TRUE(memcmp(e.data, "55555", 5) == 0);
    }
    ASSERT_OK(cpio_find(p, a.len, "etc/init.manifest", &e));
    EXPECT_TRUE(memcmp(e.data, "hello /bin/hello\n", 17) == 0);
    EXPECT_EQ(e.mode, CPIO_MODE_REG | 0644u);
    EXPECT_OK(cpio_find(p, a.len, "/etc/init.manifest", &e));
    EXPECT_OK(cpio_find(p, a.len, "empty", &e));
    EXPECT_EQ(e.size, 0u);
    // Directories and links are not files; prefixes and near names do not match.
    EXPECT_STATUS(cpio_find(p, a.len, "etc", &e), ERR_NOT_FOUND);
    EXPECT_STATUS(cpio_find(p, a.len, "link", &e), ERR_NOT_FOUND);
    EXPECT_STATUS(cpio_find(p, a.len, "ini", &e), ERR_NOT_FOUND);
    EXPECT_STATUS(cpio_find(p, a.len, "init2", &e), ERR_NOT_FOUND);
    EXPECT_STATUS(cpio_find(p, a.len, "etc/init.manifest/", &e), ERR_NOT_FOUND);
    EXPECT_STATUS(cpio_find(p, a.len, "TRAILER!!!", &e), ERR_NOT_FOUND);
    EXPECT_STATUS(cpio_find(p, a.len, "", &e), ERR_NOT_FOUND);
    EXPECT_STREQ(cpio_path_strip("./././a/./b"), "a/./b");
    EXPECT_STREQ(cpio_path_strip(".hidden"), ".hidden");
}

static void cpio_checksum_magic(struct ktest *t)
{
    static struct archive a;
    struct cpio_entry e;
    size_t off = 0;
    uint32_t sum = 'a' + 'b' + 'c' + 0xff;

    a.len = 0;
    add_entry(&a, "070702", "f", CPIO_MODE_REG, "abc\xff", 4, sum);
    add_trailer(&a);
    const uint8_t *p = at_end(&a, a.len);
    ASSERT_OK(cpio_next(p, a.len, &off, &e));
    EXPECT_EQ(e.size, 4u);
    EXPECT_STATUS(cpio_next(p, a.len, &off, &e), ERR_NOT_FOUND);

    // A wrong checksum: the entry is refused, the offset stays.
    a.len = 0;
    add_entry(&a, "070702", "f", CPIO_MODE_REG, "abc\xff", 4, sum + 1);
    add_trailer(&a);
    p = at_end(&a, a.len);
    off = 0;
    EXPECT_STATUS(cpio_next(p, a.len, &off, &e), ERR_IO_DATA_INTEGRITY);
    EXPECT_EQ(off, 0u);
    EXPECT_STATUS(cpio_find(p, a.len, "f", &e), ERR_IO_DATA_INTEGRITY);

    // Other cpio formats (odc "070707", the old binary one) and junk.
    static const char *const bad[] = {"070707", "070700", "070703", "170701", "\xc7\x71\0\0\0\0"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        a.len = 0;
        add_entry(&a, bad[i], "f", CPIO_MODE_REG, "x", 1, 0);
        add_trailer(&a);
        off = 0;
        EXPECT_STATUS(cpio_next(at_end(&a, a.len), a.len, &off, &e), ERR_BAD_FORMAT);
    }
}

// Overwrites header field `at` of the first entry with 8 raw characters.
static status_t first_with_field(struct archive *a, size_t at, const char *raw, size_t *off)
{
    struct cpio_entry e;
    sample(a);
    memcpy(a->buf + at, raw, 8);
    *off = 0;
    return cpio_next(at_end(a, a->len), a->len, off, &e);
}

static void cpio_hex_fields(struct ktest *t)
{
    static struct archive a;
    static const char *const junk[] = {"0000000g",
                                       " 0000000",
                                       "0000000 ",
                                       "+0000000",
                                       "-0000001",
                                       "0x000000",
                                       "0000\0"
                                       "000",
                                       "00000.00"};
    size_t off;

    for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
        for (int field = 0; field < 13; field++) {
            status_t s = first_with_field(&a, FIELD_OFF(field), junk[i], &off);
            if (s != ERR_BAD_FORMAT)
                ktest_fail(t, __FILE__, __LINE__, "field %d = \"%.8s\": %s", field, junk[i],
                           status_str(s));
            EXPECT_EQ(off, 0u);
        }
    }
    // Upper and lower case hex digits are both fine.
    EXPECT_OK(first_with_field(&a, OFF_MODE, "000041ED", &off));
    EXPECT_OK(first_with_field(&a, OFF_MODE, "000041ed", &off));
}

static void cpio_bad_names(struct ktest *t)
{
    static struct archive a;
    struct cpio_entry e;
    size_t off;

    // namesize 0, too small to hold the NUL, past the end, huge.
    static const char *const sizes[] = {"00000000", "00000001", "00010000", "FFFFFFFF", "FFFFFF92"};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
        EXPECT_STATUS(first_with_field(&a, OFF_NAMESIZE, sizes[i], &off), ERR_BAD_FORMAT);

    // A name whose NUL is missing ("." with namesize 2 holds ".\0": make the
    // second byte non-NUL), and one with a NUL inside.
    a.len = 0;
    add_file(&a, "ab", "x");
    add_trailer(&a);
    a.buf[CPIO_HEADER_SIZE + 2] = 'c';
    off = 0;
    EXPECT_STATUS(cpio_next(at_end(&a, a.len), a.len, &off, &e), ERR_BAD_FORMAT);
    a.buf[CPIO_HEADER_SIZE + 2] = 0;
    a.buf[CPIO_HEADER_SIZE + 1] = 0;
    off = 0;
    EXPECT_STATUS(cpio_next(at_end(&a, a.len), a.len, &off, &e), ERR_BAD_FORMAT);
    a.buf[CPIO_HEADER_SIZE + 1] = 'b';
    off = 0;
    EXPECT_OK(cpio_next(at_end(&a, a.len), a.len, &off, &e));
}

static void cpio_bad_sizes(struct ktest *t)
{
    static struct archive a;
    struct cpio_entry e;
    size_t off;

    // The first file ("./etc/init.manifest") is the third entry; make the
    // first entry claim data that runs past the end, or wraps offsets.
    static const char *const sizes[] = {"00000800", "FFFFFFFF", "FFFFFFFC", "7FFFFFFF"};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
        EXPECT_STATUS(first_with_field(&a, OFF_FILESIZE, sizes[i], &off), ERR_BAD_FORMAT);

    // Data that ends exactly at the end but whose padding does not fit.
    a.len = 0;
    add_file(&a, "f", "abcde");
    size_t cut = a.len - 3; // "abcde" + 3 bytes of padding
    off = 0;
    EXPECT_STATUS(cpio_next(at_end(&a, cut), cut, &off, &e), ERR_BAD_FORMAT);
    off = 0;
    EXPECT_OK(cpio_next(at_end(&a, a.len), a.len, &off, &e));
    EXPECT_EQ(off, a.len);
    // ... and then the archive ends without a trailer.
    EXPECT_STATUS(cpio_next(at_end(&a, a.len), a.len, &off, &e), ERR_BAD_FORMAT);
    EXPECT_STATUS(cpio_find(at_end(&a, a.len), a.len, "g", &e), ERR_BAD_FORMAT);
}

// Every prefix of a good archive is refused or parsed up to where it stops,
// without reading past it.
static void cpio_truncated(struct ktest *t)
{
    static struct archive a;
    struct cpio_entry e;

    sample(&a);
    for (size_t n = 0; n < a.len; n++) {
        const uint8_t *p = at_end(&a, n);
        size_t off = 0;
        status_t s;
        while ((s = cpio_next(p, n, &off, &e)) == OK)
            EXPECT_LE(off, n);
        if (s != ERR_BAD_FORMAT)
            ktest_fail(t, __FILE__, __LINE__, "prefix %zu: %s", n, status_str(s));
        s = cpio_find(p, n, "link", &e);
        EXPECT_STATUS(s, ERR_BAD_FORMAT);
    }
}

static void cpio_offsets(struct ktest *t)
{
    static struct archive a;
    struct cpio_entry e;
    size_t off;

    sample(&a);
    const uint8_t *p = at_end(&a, a.len);
    off = 2;
    EXPECT_STATUS(cpio_next(p, a.len, &off, &e), ERR_INVALID_ARGS);
    off = a.len + 4;
    EXPECT_STATUS(cpio_next(p, a.len, &off, &e), ERR_BAD_FORMAT);
    off = SIZE_MAX - 3;
    EXPECT_STATUS(cpio_next(p, a.len, &off, &e), ERR_BAD_FORMAT);
    off = 0;
    EXPECT_STATUS(cpio_next(p, 0, &off, &e), ERR_BAD_FORMAT);
    // Landing in the middle of an entry's data is not a header.
    off = 4;
    EXPECT_STATUS(cpio_next(p, a.len, &off, &e), ERR_BAD_FORMAT);
}

// Host only: the kernel image does not carry the sample.
#if defined(HOST_TEST) && __has_include("cpio_sample.h")
#include "cpio_sample.h"
#define HAVE_SAMPLE 1
#endif

// An archive written by Debian's cpio (-o -H newc), turned into a C array by
// user/user.mk; the same files as listed in cpio_sample_files.
static void cpio_debian_archive(struct ktest *t)
{
#ifdef HAVE_SAMPLE
    struct cpio_entry e;
    size_t off = 0, files = 0;
    status_t s;

    while ((s = cpio_next(cpio_sample, sizeof(cpio_sample), &off, &e)) == OK)
        files += (e.mode & CPIO_MODE_TYPE_MASK) == CPIO_MODE_REG;
    EXPECT_STATUS(s, ERR_NOT_FOUND);
    EXPECT_EQ(files, ARRAY_SIZE(cpio_sample_files));
    for (size_t i = 0; i < ARRAY_SIZE(cpio_sample_files); i++) {
        const char *path = cpio_sample_files[i].path;
        size_t len = strlen(cpio_sample_files[i].text);
        ASSERT_OK(cpio_find(cpio_sample, sizeof(cpio_sample), path, &e));
        EXPECT_EQ(e.size, len);
        EXPECT_TRUE(memcmp(e.data, cpio_sample_files[i].text, len) == 0);
    }
#else
    KTEST_SKIP("host test: needs build/gen/cpio_sample.h");
#endif
}

KTEST_SUITE(cpio, KTEST_CASE(cpio_iterate), KTEST_CASE(cpio_find_paths),
            KTEST_CASE(cpio_checksum_magic), KTEST_CASE(cpio_hex_fields),
            KTEST_CASE(cpio_bad_names), KTEST_CASE(cpio_bad_sizes), KTEST_CASE(cpio_truncated),
            KTEST_CASE(cpio_offsets), KTEST_CASE(cpio_debian_archive));
