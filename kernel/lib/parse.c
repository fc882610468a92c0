// nimbus:host
// Number parsing for the command line and configuration text.
#include <stddef.h>

#include "lib/parse.h"

// Returns the value of digit c in `base` (10 or 16), or -1 if it is not one.
static int digit_value(char c, unsigned base)
{
    int v;

    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    else
        return -1;
    return v < (int)base ? v : -1;
}

// The shift a K/M/G suffix (either case) stands for, or -1.
static int suffix_shift(char c)
{
    switch (c) {
    case 'k':
    case 'K':
        return 10;
    case 'm':
    case 'M':
        return 20;
    case 'g':
    case 'G':
        return 30;
    default:
        return -1;
    }
}

// Junk is reported before overflow: "99999999999999999999x" is not a number
// at all, so it gets ERR_INVALID_ARGS rather than ERR_OUT_OF_RANGE.
status_t parse_u64(const char *s, size_t len, bool suffixes, uint64_t *out)
{
    unsigned base = 10;
    size_t i = 0, first;
    uint64_t v = 0;
    bool overflow = false;
    int d;

    if (!s)
        return ERR_INVALID_ARGS;
    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    for (first = i; i < len && (d = digit_value(s[i], base)) >= 0; i++) {
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            overflow = true;
        v = v * base + (uint64_t)d;
    }
    if (i == first)
        return ERR_INVALID_ARGS;
    if (suffixes && i + 1 == len && suffix_shift(s[i]) >= 0) {
        int shift = suffix_shift(s[i++]);
        if (v > UINT64_MAX >> shift)
            overflow = true;
        v <<= shift;
    }
    if (i != len)
        return ERR_INVALID_ARGS;
    if (overflow)
        return ERR_OUT_OF_RANGE;
    *out = v;
    return OK;
}
