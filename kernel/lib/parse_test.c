// nimbus:host
// Tests of parse_u64: bases, suffixes, overflow, junk, and length limits.
#include <stdint.h>

#include "lib/ktest.h"
#include "lib/parse.h"
#include "lib/string.h"

#define UNTOUCHED 0x5a5a5a5a5a5a5a5aull

struct parse_case {
    const char *s;
    bool suffixes;
    status_t status;
    uint64_t value; // when status is OK
};

// Runs a table of cases on the whole string; *out must be left alone on failure.
static void run_cases(struct ktest *t, const struct parse_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = UNTOUCHED;
        status_t s = parse_u64(c[i].s, strlen(c[i].s), c[i].suffixes, &v);
        if (s != c[i].status)
            ktest_fail(t, __FILE__, __LINE__, "\"%s\"%s: got %s, expected %s", c[i].s,
                       c[i].suffixes ? " (suffixes)" : "", status_str(s), status_str(c[i].status));
        else if (v != (s == OK ? c[i].value : UNTOUCHED))
            ktest_fail(t, __FILE__, __LINE__, "\"%s\": value 0x%llx, expected 0x%llx", c[i].s,
                       (unsigned long long)v,
                       (unsigned long long)(s == OK ? c[i].value : UNTOUCHED));
    }
}

static void parse_decimal(struct ktest *t)
{
    static const struct parse_case c[] = {
        {"0", false, OK, 0},
        {"7", false, OK, 7},
        {"00010", false, OK, 10}, // leading zeros are decimal, not octal
        {"4096", false, OK, 4096},
        {"18446744073709551615", false, OK, UINT64_MAX},
        {"18446744073709551616", false, ERR_OUT_OF_RANGE, 0},
        {"18446744073709551620", false, ERR_OUT_OF_RANGE, 0},
        {"99999999999999999999", false, ERR_OUT_OF_RANGE, 0},
        {"000000000000000000000000018446744073709551615", false, OK, UINT64_MAX},
    };
    run_cases(t, c, ARRAY_SIZE(c));
}

static void parse_hex(struct ktest *t)
{
    static const struct parse_case c[] = {
        {"0x0", false, OK, 0},
        {"0x1f", false, OK, 0x1f},
        {"0X1F", false, OK, 0x1f},
        {"0xAbCdEf", false, OK, 0xabcdef},
        {"0xfeb00000", false, OK, 0xfeb00000},
        {"0xffffffffffffffff", false, OK, UINT64_MAX},
        {"0x0000000000000000ffffffffffffffff", false, OK, UINT64_MAX},
        {"0x10000000000000000", false, ERR_OUT_OF_RANGE, 0},
        {"0x", false, ERR_INVALID_ARGS, 0},
        {"0xg", false, ERR_INVALID_ARGS, 0},
        {"0x0x1", false, ERR_INVALID_ARGS, 0},
        {"x10", false, ERR_INVALID_ARGS, 0},
        {"1f", false, ERR_INVALID_ARGS, 0}, // hex digits need the prefix
    };
    run_cases(t, c, ARRAY_SIZE(c));
}

static void parse_suffixes(struct ktest *t)
{
    static const struct parse_case c[] = {
        {"4K", true, OK, 4096},
        {"4k", true, OK, 4096},
        {"3M", true, OK, 3ull << 20},
        {"3m", true, OK, 3ull << 20},
        {"16G", true, OK, 16ull << 30},
        {"2g", true, OK, 2ull << 30},
        {"0K", true, OK, 0},
        {"0x10K", true, OK, 0x10ull << 10},
        {"12", true, OK, 12}, // a suffix is optional
        {"4K", false, ERR_INVALID_ARGS, 0},
        {"K", true, ERR_INVALID_ARGS, 0},
        {"0xK", true, ERR_INVALID_ARGS, 0},
        {"4KB", true, ERR_INVALID_ARGS, 0},
        {"4KK", true, ERR_INVALID_ARGS, 0},
        {"4T", true, ERR_INVALID_ARGS, 0},
        {"4E", true, ERR_INVALID_ARGS, 0},
        {"1.5G", true, ERR_INVALID_ARGS, 0},
    };
    run_cases(t, c, ARRAY_SIZE(c));
}

// The multiply by the suffix must be checked as carefully as the digits.
static void parse_suffix_overflow(struct ktest *t)
{
    static const struct parse_case c[] = {
        {"17179869183G", true, OK, UINT64_MAX - ((1ull << 30) - 1)},
        {"17179869184G", true, ERR_OUT_OF_RANGE, 0},
        {"0x3ffffffffG", true, OK, 0x3ffffffffull << 30},
        {"0x400000000G", true, ERR_OUT_OF_RANGE, 0},
        {"17592186044415M", true, OK, UINT64_MAX - ((1ull << 20) - 1)},
        {"17592186044416M", true, ERR_OUT_OF_RANGE, 0},
        {"18014398509481983K", true, OK, UINT64_MAX - ((1ull << 10) - 1)},
        {"18014398509481984K", true, ERR_OUT_OF_RANGE, 0},
        {"0xffffffffffffffffK", true, ERR_OUT_OF_RANGE, 0},
        {"99999999999999999999G", true, ERR_OUT_OF_RANGE, 0},
    };
    run_cases(t, c, ARRAY_SIZE(c));
}

static void parse_junk(struct ktest *t)
{
    static const struct parse_case c[] = {
        {"", false, ERR_INVALID_ARGS, 0},
        {"", true, ERR_INVALID_ARGS, 0},
        {"-1", false, ERR_INVALID_ARGS, 0},
        {"+1", false, ERR_INVALID_ARGS, 0},
        {" 1", false, ERR_INVALID_ARGS, 0},
        {"1 ", false, ERR_INVALID_ARGS, 0},
        {"12a", false, ERR_INVALID_ARGS, 0},
        {"1_000", false, ERR_INVALID_ARGS, 0},
        {"abc", true, ERR_INVALID_ARGS, 0},
        // Malformed beats out of range.
        {"99999999999999999999x", false, ERR_INVALID_ARGS, 0},
        {"99999999999999999999Kx", true, ERR_INVALID_ARGS, 0},
    };
    run_cases(t, c, ARRAY_SIZE(c));
}

// Only s[0..len) is looked at: no NUL is needed and what follows is ignored.
static void parse_length_bounds(struct ktest *t)
{
    const char digits[] = {'4', '2'}; // no terminator
    uint64_t v = UNTOUCHED;

    EXPECT_OK(parse_u64(digits, sizeof digits, false, &v));
    EXPECT_EQ(v, 42u);
    EXPECT_OK(parse_u64("123456", 3, false, &v));
    EXPECT_EQ(v, 123u);
    EXPECT_OK(parse_u64("0x1", 1, false, &v)); // just "0"
    EXPECT_EQ(v, 0u);
    v = UNTOUCHED;
    EXPECT_STATUS(parse_u64("0x1", 2, false, &v), ERR_INVALID_ARGS); // "0x"
    EXPECT_OK(parse_u64("4K,rest", 2, true, &v));
    EXPECT_EQ(v, 4096u);
    EXPECT_STATUS(parse_u64("5", 0, false, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(parse_u64(NULL, 0, false, &v), ERR_INVALID_ARGS);
    EXPECT_EQ(v, 4096u);
}

KTEST_SUITE(parse, KTEST_CASE(parse_decimal), KTEST_CASE(parse_hex), KTEST_CASE(parse_suffixes),
            KTEST_CASE(parse_suffix_overflow), KTEST_CASE(parse_junk),
            KTEST_CASE(parse_length_bounds));
