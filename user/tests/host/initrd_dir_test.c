// Tests of the initrd path and directory helpers (user/lib/initrd_dir.c)
// on an archive written here: paths resolved against a working directory,
// directories made from file names, listings sorted and unique.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/initrd_dir.h"

struct archive {
    char bytes[8192];
    size_t len;
};

static void pad4(struct archive *a)
{
    while (a->len % 4)
        a->bytes[a->len++] = 0;
}

// One "newc" entry (cpio(5)); "TRAILER!!!" ends the archive.
static void add(struct archive *a, const char *name, unsigned mode, const char *data)
{
    static unsigned ino = 1;
    size_t size = data ? strlen(data) : 0;
    a->len +=
        (size_t)snprintf(a->bytes + a->len, sizeof(a->bytes) - a->len,
                         "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ino++,
                         mode, 0u, 0u, 1u, 0u, size, 0u, 0u, 0u, 0u, strlen(name) + 1, 0u);
    memcpy(a->bytes + a->len, name, strlen(name) + 1);
    a->len += strlen(name) + 1;
    pad4(a);
    if (size) {
        memcpy(a->bytes + a->len, data, size);
        a->len += size;
    }
    pad4(a);
}

static void sample(struct archive *a)
{
    a->len = 0;
    add(a, ".", 040755, NULL);
    add(a, "bin", 040755, NULL);
    add(a, "bin/true", 0100755, "ELF-ish");
    add(a, "bin/cat", 0100755, "meow");
    add(a, "./etc/init.manifest", 0100644, "hello /bin/hello\n"); // no etc entry
    add(a, "etc/sub/deep", 0100600, "x");
    add(a, "init", 0100755, "init!");
    add(a, "link", 0120777, "init");
    add(a, "TRAILER!!!", 0, NULL);
}

static void initrd_path_resolve(struct ktest *t)
{
    static const struct {
        const char *cwd, *path, *want;
    } cases[] = {
        {"/", "bin", "/bin"},
        {"/", "/etc/x", "/etc/x"},
        {"/etc", "x", "/etc/x"},
        {"/etc", "../bin/./ls", "/bin/ls"},
        {"/etc", "/", "/"},
        {"/", "..", "/"},
        {"/a/b", "../../../..", "/"},
        {"/a/b", "..//c/", "/a/c"},
        {NULL, "x", "/x"},
        {"", "x", "/x"},
        {"relative/cwd", "x", "/relative/cwd/x"},
        {"/", ".", "/"},
        {"/bin", "", "/bin"},
        {"//a///b//", ".", "/a/b"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char out[NB_PATH_MAX];
        EXPECT_TRUE(nb_path_resolve(cases[i].cwd, cases[i].path, out, sizeof(out)));
        EXPECT_STREQ(out, cases[i].want);
    }
    char small[6];
    EXPECT_TRUE(nb_path_resolve("/", "abcd", small, sizeof(small)));
    EXPECT_STREQ(small, "/abcd");
    EXPECT_FALSE(nb_path_resolve("/", "abcde", small, sizeof(small)));
    EXPECT_FALSE(nb_path_resolve("/", "x", small, 1));
}

static void initrd_stat_and_readdir(struct ktest *t)
{
    static struct archive a;
    sample(&a);
    struct cpio_entry e;
    EXPECT_EQ((int)nb_initrd_stat(a.bytes, a.len, "/", NULL), (int)NB_INITRD_DIR);
    EXPECT_EQ((int)nb_initrd_stat(a.bytes, a.len, "/bin", NULL), (int)NB_INITRD_DIR);
    EXPECT_EQ((int)nb_initrd_stat(a.bytes, a.len, "/etc", NULL), (int)NB_INITRD_DIR);
    EXPECT_EQ((int)nb_initrd_stat(a.bytes, a.len, "/etc/sub", NULL), (int)NB_INITRD_DIR);
    EXPECT_EQ((int)nb_initrd_stat(a.bytes, a.len, "/et", NULL), (int)NB_INITRD_MISSING);
    EXPECT_EQ((int)nb_initrd_stat(a.bytes, a.len, "/bin/cat/x", NULL), (int)NB_INITRD_MISSING);
    ASSERT_EQ((int)nb_initrd_stat(a.bytes, a.len, "/etc/init.manifest", &e), (int)NB_INITRD_FILE);
    EXPECT_EQ(e.size, 17u);
    EXPECT_EQ((int)nb_initrd_stat(a.bytes, a.len, "/link", NULL), (int)NB_INITRD_FILE);

    struct nb_dirent *d;
    size_t n;
    ASSERT_OK(nb_initrd_readdir(a.bytes, a.len, "/", &d, &n));
    ASSERT_EQ(n, 4u);
    EXPECT_STREQ(d[0].name, "bin");
    EXPECT_TRUE(d[0].dir);
    EXPECT_STREQ(d[1].name, "etc");
    EXPECT_TRUE(d[1].dir);
    EXPECT_EQ(d[1].mode, 040755u); // made up: no entry of its own
    EXPECT_STREQ(d[2].name, "init");
    EXPECT_FALSE(d[2].dir);
    EXPECT_EQ(d[2].size, 5u);
    EXPECT_STREQ(d[3].name, "link");
    EXPECT_EQ(d[3].mode & CPIO_MODE_TYPE_MASK, (unsigned)CPIO_MODE_LNK);
    free(d);
    ASSERT_OK(nb_initrd_readdir(a.bytes, a.len, "/bin", &d, &n));
    ASSERT_EQ(n, 2u);
    EXPECT_STREQ(d[0].name, "cat");
    EXPECT_EQ(d[0].size, 4u);
    EXPECT_EQ(d[0].mode, 0100755u);
    EXPECT_STREQ(d[1].name, "true");
    free(d);
    ASSERT_OK(nb_initrd_readdir(a.bytes, a.len, "/etc", &d, &n));
    ASSERT_EQ(n, 2u);
    EXPECT_STREQ(d[0].name, "init.manifest");
    EXPECT_STREQ(d[1].name, "sub");
    EXPECT_TRUE(d[1].dir);
    free(d);
    EXPECT_STATUS(nb_initrd_readdir(a.bytes, a.len, "/nope", &d, &n), ERR_NOT_FOUND);
    EXPECT_NULL(d);
    EXPECT_STATUS(nb_initrd_readdir(a.bytes, a.len, "/init", &d, &n), ERR_WRONG_TYPE);
    // A damaged archive: stat sees what comes before the damage, readdir
    // reports it.
    size_t cut = a.len - 40;
    EXPECT_EQ((int)nb_initrd_stat(a.bytes, cut, "/bin", NULL), (int)NB_INITRD_DIR);
    EXPECT_STATUS(nb_initrd_readdir(a.bytes, cut, "/bin", &d, &n), ERR_BAD_FORMAT);
    EXPECT_NULL(d);
    // Every prefix of the archive: no crash, no leak.
    for (size_t len = 0; len <= a.len; len++) {
        if (nb_initrd_readdir(a.bytes, len, "/", &d, &n) == OK)
            free(d);
        nb_initrd_stat(a.bytes, len, "/etc/sub/deep", NULL);
    }
}

KTEST_SUITE(initrd_dir, KTEST_CASE(initrd_path_resolve), KTEST_CASE(initrd_stat_and_readdir));
