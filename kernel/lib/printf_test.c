// nimbus:host
// Tests of kvsnprintf: conversions, flags, truncation.
#include <stdint.h>

#include "lib/fmt.h"
#include "lib/ktest.h"

static const char *fmt1(char *buf, size_t n, const char *fmt, ...) __printf(3, 4);
static const char *fmt1(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return buf;
}

static void printf_integers(struct ktest *t)
{
    char b[64];
    EXPECT_STREQ(fmt1(b, sizeof b, "%d %i %u", -42, 7, 4000000000u), "-42 7 4000000000");
    EXPECT_STREQ(fmt1(b, sizeof b, "%lld", (long long)INT64_MIN), "-9223372036854775808");
    EXPECT_STREQ(fmt1(b, sizeof b, "%llu", (unsigned long long)UINT64_MAX), "18446744073709551615");
    EXPECT_STREQ(fmt1(b, sizeof b, "%x %X %#x %o", 0xbeefu, 0xbeefu, 255u, 8u),
                 "beef BEEF 0xff 10");
    EXPECT_STREQ(fmt1(b, sizeof b, "%zu %hhu %hd", (size_t)12, 257u, 65537), "12 1 1");
    EXPECT_STREQ(fmt1(b, sizeof b, "%d", 0), "0");
}

static void printf_width_and_flags(struct ktest *t)
{
    char b[64];
    EXPECT_STREQ(fmt1(b, sizeof b, "[%5d|%-5d|%05d]", 42, 42, -42), "[   42|42   |-0042]");
    EXPECT_STREQ(fmt1(b, sizeof b, "[%+d|% d|%.3d]", 5, 5, 7), "[+5| 5|007]");
    EXPECT_STREQ(fmt1(b, sizeof b, "[%*d|%-*s]", 4, 1, 3, "a"), "[   1|a  ]");
    EXPECT_STREQ(fmt1(b, sizeof b, "[%.2s|%6.3s]", "abcdef", "abcdef"), "[ab|   abc]");
    EXPECT_STREQ(fmt1(b, sizeof b, "[%08lx]", 0xabcul), "[00000abc]");
    EXPECT_STREQ(fmt1(b, sizeof b, "%c%c%%", 'o', 'k'), "ok%");
}

static void printf_pointers_and_strings(struct ktest *t)
{
    char b[64];
    EXPECT_STREQ(fmt1(b, sizeof b, "%p", (void *)0xffffffff80001000ull), "0xffffffff80001000");
    EXPECT_STREQ(fmt1(b, sizeof b, "%p", (void *)0), "0x0000000000000000");
    const char *volatile none = NULL;
    EXPECT_STREQ(fmt1(b, sizeof b, "%s", none), "(null)");
}

static void printf_truncation(struct ktest *t)
{
    char b[8];
    EXPECT_EQ(ksnprintf(b, sizeof b, "%s", "0123456789"), 10);
    EXPECT_STREQ(b, "0123456");
    EXPECT_EQ(ksnprintf(b, 1, "abc"), 3);
    EXPECT_STREQ(b, "");
    EXPECT_EQ(ksnprintf(NULL, 0, "%d", 12345), 5);
}

KTEST_SUITE(printf, KTEST_CASE(printf_integers), KTEST_CASE(printf_width_and_flags),
            KTEST_CASE(printf_pointers_and_strings), KTEST_CASE(printf_truncation));
