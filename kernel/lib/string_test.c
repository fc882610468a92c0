// nimbus:host
// Tests of the string and memory functions. On the host they check the C
// library against the same expectations the kernel's own versions must meet,
// which keeps the expectations honest.
#include <stdint.h>

#include "lib/ktest.h"
#include "lib/string.h"

// The C library only promises the sign of a comparison.
static int sign(int v)
{
    return (v > 0) - (v < 0);
}

// Fills b with a pattern that differs at every index of a 251-byte period.
static void fill_pattern(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 7 + seed) % 251);
}

static void string_memcpy_sizes(struct ktest *t)
{
    unsigned char src[300], dst[320];

    fill_pattern(src, sizeof src, 3);
    for (size_t n = 0; n <= sizeof src; n += (n < 20 ? 1 : 37)) {
        memset(dst, 0xee, sizeof dst);
        EXPECT_EQ(memcpy(dst + 1, src, n), (void *)(dst + 1));
        EXPECT_EQ(dst[0], 0xee);
        EXPECT_EQ(memcmp(dst + 1, src, n), 0);
        EXPECT_EQ(dst[n + 1], 0xee);
    }
}

static void string_memset_values(struct ktest *t)
{
    unsigned char b[64];

    memset(b, 0x5a, sizeof b);
    // Only the low byte of the value is used.
    // cppcheck-suppress memsetValueOutOfRange
    EXPECT_EQ(memset(b + 3, 0x1ab, 10), (void *)(b + 3));
    for (size_t i = 0; i < sizeof b; i++)
        EXPECT_EQ(b[i], (i >= 3 && i < 13) ? 0xab : 0x5a);
    memset(b, -1, 1);
    EXPECT_EQ(b[0], 0xff);
    memset(b + 1, 0, 0); // cppcheck-suppress memsetZeroBytes
    EXPECT_EQ(b[1], 0x5a);
}

// Shifts a patterned buffer by every small offset in both directions and
// compares with a copy made through a separate buffer.
static void string_memmove_overlap(struct ktest *t)
{
    unsigned char b[80], ref[80], tmp[80];

    for (size_t shift = 0; shift < 12; shift++) {
        for (int dir = 0; dir < 2; dir++) {
            size_t from = dir ? shift : 0, to = dir ? 0 : shift, n = 60;
            fill_pattern(b, sizeof b, (unsigned)shift);
            memcpy(ref, b, sizeof b);
            memcpy(tmp, ref + from, n);
            memcpy(ref + to, tmp, n);
            EXPECT_EQ(memmove(b + to, b + from, n), (void *)(b + to));
            EXPECT_EQ(memcmp(b, ref, sizeof b), 0);
        }
    }
}

static void string_memcmp_order(struct ktest *t)
{
    unsigned char a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};

    EXPECT_EQ(memcmp(a, b, 4), 0);
    EXPECT_EQ(memcmp(a, b, 0), 0);
    b[2] = 0x80; // unsigned: 0x80 > 3
    EXPECT_EQ(sign(memcmp(a, b, 4)), -1);
    EXPECT_EQ(sign(memcmp(b, a, 4)), 1);
    EXPECT_EQ(memcmp(a, b, 2), 0);
}

static void string_lengths(struct ktest *t)
{
    char s[16] = "hello"; // room for the bounds given below
    char empty[] = "";

    EXPECT_EQ(strlen(s), 5u);
    EXPECT_EQ(strlen(empty), 0u);
    EXPECT_EQ(strnlen(s, 3), 3u);
    EXPECT_EQ(strnlen(s, 5), 5u);
    EXPECT_EQ(strnlen(s, sizeof s), 5u);
    EXPECT_EQ(strnlen(s, 0), 0u);
    // strnlen must not look past max: no NUL within the first 4 bytes.
    char nonul[4] = {'a', 'b', 'c', 'd'};
    EXPECT_EQ(strnlen(nonul, sizeof nonul), 4u);
}

static void string_compare(struct ktest *t)
{
    char a[8] = "abc", b[8] = "abd", c[8] = "ab", hi[8] = "ab\x90";

    EXPECT_EQ(strcmp(a, a), 0); // cppcheck-suppress stringCompare
    EXPECT_EQ(sign(strcmp(a, b)), -1);
    EXPECT_EQ(sign(strcmp(b, a)), 1);
    EXPECT_EQ(sign(strcmp(c, a)), -1); // prefix sorts first
    EXPECT_EQ(sign(strcmp(a, c)), 1);
    EXPECT_EQ(sign(strcmp(a, hi)), -1); // bytes compare unsigned
    EXPECT_EQ(strncmp(a, b, 2), 0);
    EXPECT_EQ(sign(strncmp(a, b, 3)), -1);
    EXPECT_EQ(strncmp(a, b, 0), 0);
    EXPECT_EQ(sign(strncmp(c, a, 5)), -1);
    char x[] = "same\0junk1", y[] = "same\0junk2";
    EXPECT_EQ(strncmp(x, y, sizeof x), 0); // stops at the NUL
}

static void string_search(struct ktest *t)
{
    char s[] = "a.b.c";

    EXPECT_EQ(strchr(s, '.'), s + 1);
    EXPECT_EQ(strrchr(s, '.'), s + 3);
    EXPECT_EQ(strchr(s, 'a'), s);
    EXPECT_NULL(strchr(s, 'z'));
    EXPECT_NULL(strrchr(s, 'z'));
    EXPECT_EQ(strchr(s, '\0'), s + 5);
    EXPECT_EQ(strrchr(s, '\0'), s + 5);
    char hi[] = "x\xe9y";
    EXPECT_EQ(strchr(hi, 0xe9), hi + 1); // an int above 127 finds the byte
}

static void string_kstrlcpy(struct ktest *t)
{
    char b[6];

    memset(b, 'x', sizeof b);
    EXPECT_EQ(kstrlcpy(b, "abc", sizeof b), 3u);
    EXPECT_STREQ(b, "abc");
    EXPECT_EQ(kstrlcpy(b, "abcdefgh", sizeof b), 8u);
    EXPECT_STREQ(b, "abcde");
    EXPECT_EQ(kstrlcpy(b, "abcdef", sizeof b), 6u); // exactly one too long
    EXPECT_STREQ(b, "abcde");
    EXPECT_EQ(kstrlcpy(b, "abcde", sizeof b), 5u); // exactly fits
    EXPECT_STREQ(b, "abcde");
    EXPECT_EQ(kstrlcpy(b, "", sizeof b), 0u);
    EXPECT_STREQ(b, "");
    b[0] = 'q';
    EXPECT_EQ(kstrlcpy(b, "zz", 0), 2u); // size 0 writes nothing
    EXPECT_EQ(b[0], 'q');
    EXPECT_EQ(kstrlcpy(b, "zz", 1), 2u);
    EXPECT_EQ(b[0], '\0');
}

KTEST_SUITE(string, KTEST_CASE(string_memcpy_sizes), KTEST_CASE(string_memset_values),
            KTEST_CASE(string_memmove_overlap), KTEST_CASE(string_memcmp_order),
            KTEST_CASE(string_lengths), KTEST_CASE(string_compare), KTEST_CASE(string_search),
            KTEST_CASE(string_kstrlcpy));
