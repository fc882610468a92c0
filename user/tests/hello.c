// hello: the smallest user program, and a check that musl works on Nimbus:
// start-up (TLS, auxv), stdio, malloc and free, exit status 0. KTAP on
// stdout; exit status = failed cases.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "lib/ktest.h"

static int saved_argc;
static char **saved_argv;

static void hello_printf(struct ktest *t)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%s %d %x %5.2f|%-3c|", "nimbus", -42, 0xbeef, 3.14159, 'z');
    EXPECT_STREQ(buf, "nimbus -42 beef  3.14|z  |");
    EXPECT_EQ(n, (int)strlen(buf));
    EXPECT_GT(printf("hello from user space\n"), 0);
    EXPECT_EQ(fflush(stdout), 0);
}

static void hello_malloc(struct ktest *t)
{
    static const size_t sizes[] = {1, 16, 100, 4096, 5000, 65536, 300000, 2u << 20};
    void *p[sizeof(sizes) / sizeof(sizes[0])];

    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        p[i] = malloc(sizes[i]);
        ASSERT_NOT_NULL(p[i]);
        memset(p[i], (int)i + 1, sizes[i]);
    }
    // Nothing overlaps: every block still holds its own byte.
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        const unsigned char *b = p[i];
        EXPECT_EQ(b[0], i + 1);
        EXPECT_EQ(b[sizes[i] - 1], i + 1);
        free(p[i]);
    }
    char *q = realloc(NULL, 10);
    ASSERT_NOT_NULL(q);
    strcpy(q, "123456789");
    char *grown = realloc(q, 100000);
    if (!grown)
        free(q);
    ASSERT_NOT_NULL(grown);
    EXPECT_STREQ(grown, "123456789");
    free(grown);
}

static void hello_start_state(struct ktest *t)
{
    ASSERT_GE(saved_argc, 1);
    ASSERT_NOT_NULL(saved_argv[0]);
    EXPECT_NULL(saved_argv[saved_argc]);
    EXPECT_EQ(getauxval(AT_PAGESZ), 4096ul);
    EXPECT_NE(getauxval(AT_PHDR), 0ul);
    EXPECT_NE(getauxval(AT_RANDOM), 0ul);
    EXPECT_NE(getauxval(AT_ENTRY), 0ul);
    // errno lives in the thread's TLS block, set up by musl's start-up
    // through arch_prctl.
    errno = 0;
    EXPECT_EQ(strtol("99999999999999999999999", NULL, 10), LONG_MAX);
    EXPECT_EQ(errno, ERANGE);
}

KTEST_SUITE(hello, KTEST_CASE(hello_printf), KTEST_CASE(hello_malloc),
            KTEST_CASE(hello_start_state));

int main(int argc, char **argv)
{
    saved_argc = argc;
    saved_argv = argv;
    return ktest_run(NULL);
}
