// Tests of the text commands' shared code: the line reader over memory and
// over a file descriptor with short reads, EINTR, errors and lines far over
// a read's size (user/lib/textin.c), inputs named on a command line, and the
// pure parts of grep, wc, tail and sort (user/lib/textops.c).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/textin.h"
#include "nb/textops.h"

// ---- a fake read(2): hands out `data` in pieces of the sizes in `steps`
// (cycled; 0 in steps means EINTR, -1 an EIO error), then 0.

static struct {
    const char *data;
    size_t size, pos;
    const int *steps;
    size_t nsteps, step;
    size_t calls, eof_calls;
} fake;

static ssize_t fake_read(int fd, void *buf, size_t n)
{
    (void)fd;
    fake.calls++;
    if (fake.pos == fake.size) {
        fake.eof_calls++;
        return 0;
    }
    int step = fake.nsteps ? fake.steps[fake.step++ % fake.nsteps] : (int)n;
    if (step == 0) {
        errno = EINTR;
        return -1;
    }
    if (step < 0) {
        errno = EIO;
        return -1;
    }
    size_t k = (size_t)step;
    if (k > n)
        k = n;
    if (k > fake.size - fake.pos)
        k = fake.size - fake.pos;
    memcpy(buf, fake.data + fake.pos, k);
    fake.pos += k;
    return (ssize_t)k;
}

static void fake_start(struct nb_textin *in, const char *data, size_t size, const int *steps,
                       size_t nsteps)
{
    fake.data = data;
    fake.size = size;
    fake.pos = 0;
    fake.steps = steps;
    fake.nsteps = nsteps;
    fake.step = 0;
    fake.calls = fake.eof_calls = 0;
    nb_textin_init_fd(in, 7);
    in->read_fn = fake_read;
}

// Lines of in as "text|" or "text$" (newline or not) joined: compare easily.
static char *collect(struct ktest *t, struct nb_textin *in, int *status)
{
    size_t cap = 64, n = 0;
    char *out = malloc(cap);
    const char *line;
    size_t len;
    bool newline;
    int r;
    while ((r = nb_textin_getline(in, &line, &len, &newline)) > 0) {
        EXPECT_EQ(line[len], 0);
        while (n + len + 2 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + n, line, len);
        n += len;
        out[n++] = newline ? '|' : '$';
    }
    out[n] = 0;
    *status = r;
    return out;
}

static const struct {
    const char *text;
    size_t size; // 0: strlen
    const char *lines;
    size_t lines_len; // 0: strlen
} line_cases[] = {
    {"", 0, "", 0},
    {"\n", 0, "|", 0},
    {"a", 0, "a$", 0},
    {"a\nb", 0, "a|b$", 0},
    {"a\nb\n", 0, "a|b|", 0},
    {"\n\nx\n\n", 0, "||x||", 0},
    {"cr\r\nlf\n", 0, "cr\r|lf|", 0},
    {"nul\0in\nline", 11, "nul\0in|line$", 12},
    {"\xff\xfe\x80\n", 0, "\xff\xfe\x80|", 0},
};

static void textin_lines(struct ktest *t)
{
    static const struct {
        int steps[4];
        size_t n;
    } plans[] = {{{1}, 1}, {{2, 0, 3}, 3}, {{65536}, 1}, {{5, 1, 0, 7}, 4}};
    for (size_t i = 0; i < ARRAY_SIZE(line_cases); i++) {
        const char *text = line_cases[i].text;
        size_t size = line_cases[i].size ? line_cases[i].size : strlen(text);
        size_t want_len =
            line_cases[i].lines_len ? line_cases[i].lines_len : strlen(line_cases[i].lines);
        struct nb_textin in;
        int r;
        nb_textin_init_mem(&in, text, size);
        char *got = collect(t, &in, &r);
        EXPECT_EQ(r, 0);
        EXPECT_EQ(memcmp(got, line_cases[i].lines, want_len + 1), 0);
        free(got);
        // Again after the end: still the end.
        const char *line;
        size_t len;
        bool nl;
        EXPECT_EQ(nb_textin_getline(&in, &line, &len, &nl), 0);
        nb_textin_free(&in);
        // The same through read() in pieces of every kind.
        for (size_t s = 0; s < ARRAY_SIZE(plans); s++) {
            fake_start(&in, text, size, plans[s].steps, plans[s].n);
            got = collect(t, &in, &r);
            EXPECT_EQ(r, 0);
            EXPECT_EQ(memcmp(got, line_cases[i].lines, want_len + 1), 0);
            free(got);
            EXPECT_EQ(nb_textin_getline(&in, &line, &len, &nl), 0);
            EXPECT_EQ(fake.eof_calls, 1u); // an end-of-file mark is read once
            nb_textin_free(&in);
        }
    }
}

static void textin_long_lines(struct ktest *t)
{
    // Lines of 200 KiB and 64 KiB + 1 around short ones, no final newline.
    size_t big = 200 * 1024, mid = 65537;
    size_t size = big + 1 + 2 + mid;
    char *text = malloc(size);
    memset(text, 'x', big);
    text[big] = '\n';
    memcpy(text + big + 1, "a\n", 2);
    memset(text + big + 3, 'y', mid);
    static const int steps[] = {4093, 65536, 1, 0, 30000};
    for (int mode = 0; mode < 2; mode++) {
        struct nb_textin in;
        if (mode == 0)
            nb_textin_init_mem(&in, text, size);
        else
            fake_start(&in, text, size, steps, ARRAY_SIZE(steps));
        const char *line;
        size_t len;
        bool nl;
        ASSERT_EQ(nb_textin_getline(&in, &line, &len, &nl), 1);
        EXPECT_EQ(len, big);
        EXPECT_TRUE(nl);
        EXPECT_TRUE(line[0] == 'x' && line[big - 1] == 'x' && line[big] == 0);
        ASSERT_EQ(nb_textin_getline(&in, &line, &len, &nl), 1);
        EXPECT_STREQ(line, "a");
        ASSERT_EQ(nb_textin_getline(&in, &line, &len, &nl), 1);
        EXPECT_EQ(len, mid);
        EXPECT_FALSE(nl);
        EXPECT_TRUE(line[0] == 'y' && line[mid - 1] == 'y');
        EXPECT_EQ(nb_textin_getline(&in, &line, &len, &nl), 0);
        nb_textin_free(&in);
    }
    free(text);
}

static void textin_errors_and_chunks(struct ktest *t)
{
    // A read error: the lines before it, then -1 with the errno, for good.
    static const int fail[] = {4, -1};
    struct nb_textin in;
    fake_start(&in, "ab\ncd\nef\n", 9, fail, ARRAY_SIZE(fail));
    const char *line;
    size_t len;
    bool nl;
    ASSERT_EQ(nb_textin_getline(&in, &line, &len, &nl), 1);
    EXPECT_STREQ(line, "ab");
    EXPECT_EQ(nb_textin_getline(&in, &line, &len, &nl), -1);
    EXPECT_EQ(in.error, EIO);
    EXPECT_EQ(nb_textin_getline(&in, &line, &len, &nl), -1);
    const char *data;
    EXPECT_EQ(nb_textin_chunk(&in, &data, &len), -1);
    nb_textin_free(&in);

    // Chunks: every byte once, in order, after a line read first.
    static const int steps[] = {3, 0, 5};
    const char *text = "first\nsecond\nthird";
    fake_start(&in, text, strlen(text), steps, ARRAY_SIZE(steps));
    ASSERT_EQ(nb_textin_getline(&in, &line, &len, &nl), 1);
    EXPECT_STREQ(line, "first");
    char got[64] = {0};
    size_t n = 0;
    int r;
    while ((r = nb_textin_chunk(&in, &data, &len)) > 0) {
        EXPECT_GT(len, 0u);
        ASSERT_LE(n + len, sizeof(got) - 1);
        memcpy(got + n, data, len);
        n += len;
    }
    EXPECT_EQ(r, 0);
    EXPECT_STREQ(got, "second\nthird");
    nb_textin_free(&in);
    nb_textin_init_mem(&in, "", 0);
    EXPECT_EQ(nb_textin_chunk(&in, &data, &len), 0);
    nb_textin_init_mem(&in, text, 5);
    ASSERT_EQ(nb_textin_chunk(&in, &data, &len), 1);
    EXPECT_EQ(len, 5u);
    EXPECT_TRUE(data == text);
    EXPECT_EQ(nb_textin_chunk(&in, &data, &len), 0);
}

// ---- inputs named on a command line, in an archive written here.

struct archive {
    char bytes[4096];
    size_t len;
};

static void add(struct archive *a, const char *name, unsigned mode, const char *data)
{
    size_t size = data ? strlen(data) : 0;
    a->len += (size_t)snprintf(a->bytes + a->len, sizeof(a->bytes) - a->len,
                               "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", 1u,
                               mode, 0u, 0u, 1u, 0u, size, 0u, 0u, 0u, 0u, strlen(name) + 1, 0u);
    memcpy(a->bytes + a->len, name, strlen(name) + 1);
    a->len += strlen(name) + 1;
    while (a->len % 4)
        a->bytes[a->len++] = 0;
    if (size)
        memcpy(a->bytes + a->len, data, size);
    a->len += size;
    while (a->len % 4)
        a->bytes[a->len++] = 0;
}

static void textin_open_archive(struct ktest *t)
{
    struct archive a = {.len = 0};
    add(&a, "etc", 040755, NULL);
    add(&a, "etc/words", 0100644, "one\ntwo\n");
    add(&a, "etc/empty", 0100644, NULL);
    add(&a, "TRAILER!!!", 0, NULL);
    struct nb_textin in;
    EXPECT_NULL(nb_textin_open_archive(&in, a.bytes, a.len, "/", "-"));
    EXPECT_EQ(in.fd, 0);
    nb_textin_free(&in);
    static const struct {
        const char *cwd, *arg, *why;
    } cases[] = {
        {"/", "/etc/words", NULL},          {"/etc", "words", NULL},
        {NULL, "etc/../etc/./words", NULL}, {"/bin", "../etc/words", NULL},
        {"/", "etc/empty", NULL},           {"/", "etc/nope", "no such file"},
        {"/etc", "/words", "no such file"}, {"/", "etc", "is a directory"},
        {"/", "/", "is a directory"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const char *why = nb_textin_open_archive(&in, a.bytes, a.len, cases[i].cwd, cases[i].arg);
        EXPECT_STREQ(why, cases[i].why);
        if (why)
            continue;
        EXPECT_EQ(in.fd, -1);
        int r;
        char *got = collect(t, &in, &r);
        EXPECT_STREQ(got, strstr(cases[i].arg, "empty") ? "" : "one|two|");
        free(got);
        nb_textin_free(&in);
    }
    char longpath[600];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = 0;
    EXPECT_STREQ(nb_textin_open_archive(&in, a.bytes, a.len, "/", longpath), "path too long");
}

// ---- grep's matcher

static void text_match(struct ktest *t)
{
    static const struct {
        const char *pattern;
        int flags;
        const char *line;
        bool want;
    } cases[] = {
        {"ps", 0, "ps         info", true},
        {"^#", 0, "# comment", true},
        {"^#", 0, "ls  # not first", false},
        {"a.c", 0, "abc", true},
        {"a.c", NB_MATCH_FIXED, "abc", false},
        {"a.c", NB_MATCH_FIXED, "xa.cx", true},
        {"a\\{2\\}", 0, "caab", true},        // BRE interval
        {"a{2}", 0, "a{2}", true},            // literal braces in a BRE
        {"a{2}", NB_MATCH_ERE, "caab", true}, // ERE interval
        {"a{2}", NB_MATCH_ERE, "cab", false},
        {"cat|dog", NB_MATCH_ERE, "hotdog", true},
        {"cat|dog", 0, "hotdog", false},
        {"cat|dog", 0, "cat|dog", true},
        {"(ab)+$", NB_MATCH_ERE, "xabab", true},
        {"NIMBUS", NB_MATCH_ICASE, "hello nimbus", true},
        {"NIMBUS", 0, "hello nimbus", false},
        {"NiMbUs", NB_MATCH_ICASE | NB_MATCH_FIXED, "xxnimbusxx", true},
        {"nimbus", NB_MATCH_ICASE | NB_MATCH_FIXED, "NIMBU", false},
        {"", 0, "anything", true},
        {"", 0, "", true},
        {"", NB_MATCH_FIXED, "", true},
        {"x", 0, "", false},
        {"x", NB_MATCH_FIXED, "", false},
        {"^$", 0, "", true},
        {"one\ntwo", 0, "a two b", true}, // several patterns
        {"one\ntwo", NB_MATCH_FIXED, "one", true},
        {"one\ntwo", NB_MATCH_FIXED, "three", false},
        {"aaab", NB_MATCH_FIXED, "aaaab", true}, // a partial match first
        {"b", NB_MATCH_FIXED, "ab", true},       // at the very end
        {"[[:digit:]]\\+", 0, "v12", true},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct nb_match m;
        char err[128];
        ASSERT_TRUE(nb_match_init(&m, cases[i].pattern, cases[i].flags, err, sizeof(err)));
        bool got = nb_match_line(&m, cases[i].line, strlen(cases[i].line));
        if (got != cases[i].want)
            KTEST_FAIL_(t, "pattern '%s' flags %d line '%s': got %d", cases[i].pattern,
                        cases[i].flags, cases[i].line, got);
        nb_match_free(&m);
    }
    // A NUL byte: fixed strings see the whole line, expressions stop there.
    static const char bin[] = "ab\0cd";
    struct nb_match m;
    char err[128];
    ASSERT_TRUE(nb_match_init(&m, "cd", NB_MATCH_FIXED, err, sizeof(err)));
    EXPECT_TRUE(nb_match_line(&m, bin, 5));
    nb_match_free(&m);
    ASSERT_TRUE(nb_match_init(&m, "cd", 0, err, sizeof(err)));
    EXPECT_FALSE(nb_match_line(&m, bin, 5));
    EXPECT_TRUE(nb_match_line(&m, "abcd", 4));
    nb_match_free(&m);
    // Bad expressions: a message, nothing to free.
    static const struct {
        const char *pattern;
        int flags;
    } bad[] = {{"a\\{1", 0}, {"[abc", 0}, {"ok\n[x", 0}, {"(a", NB_MATCH_ERE}};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err[0] = 0;
        EXPECT_FALSE(nb_match_init(&m, bad[i].pattern, bad[i].flags, err, sizeof(err)));
        EXPECT_GT(strlen(err), 0u);
    }
    // The same text with -F is fine.
    ASSERT_TRUE(nb_match_init(&m, "[abc", NB_MATCH_FIXED, err, sizeof(err)));
    EXPECT_TRUE(nb_match_line(&m, "x[abcx", 6));
    nb_match_free(&m);
}

// ---- wc's counts

static void text_wc(struct ktest *t)
{
    static const struct {
        const char *text;
        uint64_t lines, words, bytes;
    } cases[] = {
        {"", 0, 0, 0},
        {"\n", 1, 0, 1},
        {"a b c\n", 1, 3, 6},
        {"no newline", 0, 2, 10},
        {"  lead\ttabs\v\fand\rcr  \n\n", 2, 4, 23},
        {"one\ntwo\nthree\n", 3, 3, 14},
        {"\xff\x01 \x80", 0, 2, 4},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const char *s = cases[i].text;
        size_t n = strlen(s);
        // Whole, and split at every position (a word across two chunks).
        for (size_t cut = 0; cut <= n; cut++) {
            struct nb_wc c = {0};
            nb_wc_add(&c, s, cut);
            nb_wc_add(&c, s + cut, n - cut);
            EXPECT_EQ(c.lines, cases[i].lines);
            EXPECT_EQ(c.words, cases[i].words);
            EXPECT_EQ(c.bytes, cases[i].bytes);
        }
    }
}

// ---- tail's ring

static void text_ring(struct ktest *t)
{
    static const size_t maxes[] = {0, 1, 3, 10, 17, 1000};
    for (size_t m = 0; m < ARRAY_SIZE(maxes); m++) {
        size_t max = maxes[m];
        for (size_t pushed = 0; pushed <= 40; pushed++) {
            struct nb_ring r;
            nb_ring_init(&r, max);
            for (size_t k = 0; k < pushed; k++) {
                char line[32];
                int len = snprintf(line, sizeof(line), "line %zu", k);
                ASSERT_TRUE(nb_ring_push(&r, line, (size_t)len, k % 3 != 0));
            }
            size_t want = pushed < max ? pushed : max;
            EXPECT_EQ(r.count, want);
            EXPECT_LE(r.slots, max);
            for (size_t k = 0; k < r.count; k++) {
                const struct nb_ring_line *l = nb_ring_get(&r, k);
                size_t seq = pushed - want + k;
                char line[32];
                snprintf(line, sizeof(line), "line %zu", seq);
                EXPECT_STREQ(l->data, line);
                EXPECT_EQ(l->len, strlen(line));
                EXPECT_EQ(l->newline, seq % 3 != 0);
            }
            nb_ring_free(&r);
        }
    }
    // Long lines, then short ones: slots give the big buffers back.
    struct nb_ring r;
    nb_ring_init(&r, 2);
    size_t big = 300 * 1024;
    char *line = malloc(big);
    memset(line, 'z', big);
    ASSERT_TRUE(nb_ring_push(&r, line, big, true));
    ASSERT_TRUE(nb_ring_push(&r, line, big - 1, false));
    EXPECT_EQ(nb_ring_get(&r, 0)->len, big);
    EXPECT_EQ(nb_ring_get(&r, 1)->len, big - 1);
    ASSERT_TRUE(nb_ring_push(&r, "s1", 2, true));
    ASSERT_TRUE(nb_ring_push(&r, "", 0, true));
    EXPECT_STREQ(nb_ring_get(&r, 0)->data, "s1");
    EXPECT_STREQ(nb_ring_get(&r, 1)->data, "");
    for (size_t k = 0; k < r.slots; k++)
        EXPECT_LE(r.ring[k].cap, (size_t)4096);
    // Binary bytes are kept.
    ASSERT_TRUE(nb_ring_push(&r, "a\0b", 3, false));
    EXPECT_EQ(memcmp(nb_ring_get(&r, 1)->data, "a\0b", 4), 0);
    nb_ring_free(&r);
    free(line);
}

// ---- sort's comparison

static int cmp_str(const char *a, const char *b, int flags)
{
    return nb_sort_cmp(a, strlen(a), b, strlen(b), flags);
}

static void text_sort(struct ktest *t)
{
    // Numeric keys: < 0 when a sorts first.
    static const struct {
        const char *a, *b;
        int want;
    } num[] = {
        {"2", "10", -1},
        {"10", "9", 1},
        {"-1", "0", -1},
        {"-10", "-9", -1},
        {"-0", "0", 0},
        {"0.5", "0.25", 1},
        {".5", "0.5", 0},
        {"1.50", "1.5", 0},
        {"007", "7", 0},
        {"  42 x", "42", 0},
        {"\t3", "4", -1},
        {"abc", "0", 0}, // no number: 0
        {"abc", "-1", 1},
        {"", "0", 0},
        {"-", "0", 0},
        {"-.5", "0", -1},
        {"123456789012345678901234567890", "123456789012345678901234567889", 1},
        {"1e5", "2", -1}, // no exponents
        {"+5", "1", -1},  // no '+': 0
        {"3abc", "3", 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(num); i++) {
        int got = nb_sort_key_cmp(num[i].a, strlen(num[i].a), num[i].b, strlen(num[i].b),
                                  NB_SORT_NUMERIC);
        int rev = nb_sort_key_cmp(num[i].b, strlen(num[i].b), num[i].a, strlen(num[i].a),
                                  NB_SORT_NUMERIC);
        if (got != num[i].want || rev != -num[i].want)
            KTEST_FAIL_(t, "numeric '%s' vs '%s': %d and %d, want %d", num[i].a, num[i].b, got, rev,
                        num[i].want);
    }
    // Bytes, unsigned; a prefix first.
    EXPECT_LT(cmp_str("B", "a", 0), 0);
    EXPECT_LT(cmp_str("ab", "abc", 0), 0);
    EXPECT_LT(cmp_str("", "a", 0), 0);
    EXPECT_GT(cmp_str("\xff", "a", 0), 0);
    EXPECT_EQ(cmp_str("same", "same", 0), 0);
    EXPECT_GT(cmp_str("ab", "abc", NB_SORT_REVERSE), 0);
    // Equal numbers fall back to the bytes, unless unique.
    EXPECT_LT(cmp_str("1 a", "1 b", NB_SORT_NUMERIC), 0);
    EXPECT_GT(cmp_str("1 a", "1 b", NB_SORT_NUMERIC | NB_SORT_REVERSE), 0);
    EXPECT_EQ(cmp_str("1 a", "1 b", NB_SORT_NUMERIC | NB_SORT_UNIQUE), 0);
    EXPECT_EQ(cmp_str("a", "a", NB_SORT_REVERSE), 0);
    // Line counts for head and tail.
    uint64_t v = 99;
    EXPECT_TRUE(nb_parse_count("0", &v));
    EXPECT_EQ(v, 0u);
    EXPECT_TRUE(nb_parse_count("9223372036854775807", &v));
    EXPECT_EQ(v, (uint64_t)INT64_MAX);
    static const char *const bad[] = {
        "", "-1", "+1", "1x", " 1", "9223372036854775808", "99999999999999999999"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        EXPECT_FALSE(nb_parse_count(bad[i], &v));
}

// Option words end at the first operand, at "-" (stdin, an operand) and
// after "--"; *i then indexes the first operand.
static void text_option_words(struct ktest *t)
{
    char *v1[] = {"cmd", "-n", "3", "--help", "file", "-x", NULL};
    int i = 1;
    EXPECT_STREQ(nb_option_word(6, v1, &i), "-n");
    i = 3;
    EXPECT_STREQ(nb_option_word(6, v1, &i), "--help");
    i = 4;
    EXPECT_NULL(nb_option_word(6, v1, &i));
    EXPECT_EQ(i, 4);
    char *v2[] = {"cmd", "-c", "--", "-n", NULL};
    i = 2;
    EXPECT_NULL(nb_option_word(4, v2, &i));
    EXPECT_EQ(i, 3);
    char *v3[] = {"cmd", "-", NULL};
    i = 1;
    EXPECT_NULL(nb_option_word(2, v3, &i));
    EXPECT_EQ(i, 1);
    i = 2;
    EXPECT_NULL(nb_option_word(2, v3, &i));
    EXPECT_EQ(i, 2);
}

KTEST_SUITE(textin, KTEST_CASE(textin_lines), KTEST_CASE(textin_long_lines),
            KTEST_CASE(textin_errors_and_chunks), KTEST_CASE(textin_open_archive),
            KTEST_CASE(text_match), KTEST_CASE(text_wc), KTEST_CASE(text_ring),
            KTEST_CASE(text_sort), KTEST_CASE(text_option_words));
