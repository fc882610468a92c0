// nimbus:host
// Tests of the command-line tokenizer, lookups and registered parameters.
#include <stdint.h>

#include "init/cmdline.h"
#include "lib/fmt.h"
#include "lib/ktest.h"
#include "lib/parse.h"
#include "lib/string.h"

// What the test parameters saw; reset by each case that applies a line.
static struct {
    char order[16]; // one letter per handler call: p(aram) n(um) f(ail) a/b (dup)
    size_t ncalls;
    char vals[4][16]; // test.param values, in order
    bool has_val[4];  // test.param has_val, in order
    size_t nparam;
    uint64_t num; // last value test.num accepted
} seen;

static void seen_reset(void)
{
    memset(&seen, 0, sizeof seen);
}

static void seen_call(char letter)
{
    if (seen.ncalls < sizeof seen.order - 1)
        seen.order[seen.ncalls++] = letter;
}

static status_t test_param_set(const char *val, size_t len, bool has_val)
{
    seen_call('p');
    if (seen.nparam < ARRAY_SIZE(seen.vals)) {
        size_t n = len < sizeof seen.vals[0] - 1 ? len : sizeof seen.vals[0] - 1;
        memcpy(seen.vals[seen.nparam], val, n);
        seen.vals[seen.nparam][n] = '\0';
        seen.has_val[seen.nparam++] = has_val;
    }
    return OK;
}

static status_t test_num_set(const char *val, size_t len, bool has_val)
{
    uint64_t v;
    seen_call('n');
    if (!has_val)
        return ERR_INVALID_ARGS;
    status_t s = parse_u64(val, len, true, &v);
    if (s == OK)
        seen.num = v;
    return s;
}

static status_t test_fail_set(const char *val, size_t len, bool has_val)
{
    seen_call('f');
    return ERR_NOT_SUPPORTED;
}

static status_t test_dup_a_set(const char *val, size_t len, bool has_val)
{
    seen_call('a');
    return OK;
}

static status_t test_dup_b_set(const char *val, size_t len, bool has_val)
{
    seen_call('b');
    return OK;
}

CMDLINE_PARAM(test_param, "test.param", test_param_set, "records its values (ktest)");
CMDLINE_PARAM(test_num, "test.num", test_num_set, "a number with K/M/G suffix (ktest)");
CMDLINE_PARAM(test_fail, "test.fail", test_fail_set, "refuses every value (ktest)");
CMDLINE_PARAM(test_dup_a, "test.dup", test_dup_a_set, "first of two handlers (ktest)");
CMDLINE_PARAM(test_dup_b, "test.dup", test_dup_b_set, "second of two handlers (ktest)");

// Renders every word of `line` as [key] or [key=value] into buf.
static const char *words(const char *line, char *buf, size_t n)
{
    struct cmdline_token tok;
    size_t used = 0;

    buf[0] = '\0';
    while (cmdline_next(&line, &tok) && used < n) {
        if (tok.has_val)
            used += (size_t)ksnprintf(buf + used, n - used, "[%.*s=%.*s]", (int)tok.key_len,
                                      tok.key, (int)tok.val_len, tok.val);
        else
            used += (size_t)ksnprintf(buf + used, n - used, "[%.*s]", (int)tok.key_len, tok.key);
    }
    return buf;
}

static void cmdline_words_basic(struct ktest *t)
{
    char b[256];
    const char *line = "a=1 flag c=";
    struct cmdline_token tok;

    EXPECT_STREQ(words(line, b, sizeof b), "[a=1][flag][c=]");
    ASSERT_TRUE(cmdline_next(&line, &tok));
    EXPECT_TRUE(tok.has_val);
    EXPECT_EQ(tok.key_len, 1u);
    EXPECT_EQ(tok.val_len, 1u);
    ASSERT_TRUE(cmdline_next(&line, &tok));
    EXPECT_FALSE(tok.has_val);
    EXPECT_EQ(tok.key_len, 4u);
    EXPECT_EQ(tok.val_len, 0u);
    EXPECT_STREQ(tok.val, "");
    ASSERT_TRUE(cmdline_next(&line, &tok));
    EXPECT_TRUE(tok.has_val); // `c=` has an empty value, unlike a flag
    EXPECT_EQ(tok.val_len, 0u);
    EXPECT_FALSE(cmdline_next(&line, &tok));
    EXPECT_EQ(*line, '\0');
    EXPECT_FALSE(cmdline_next(&line, &tok)); // stays at the end
}

static void cmdline_words_blanks(struct ktest *t)
{
    char b[256];
    const char *none = NULL;
    struct cmdline_token tok;

    EXPECT_STREQ(words("  \t a=1\t\tb  \r\n", b, sizeof b), "[a=1][b]");
    EXPECT_STREQ(words("x", b, sizeof b), "[x]");
    EXPECT_STREQ(words("", b, sizeof b), "");
    EXPECT_STREQ(words(" \t\n ", b, sizeof b), "");
    EXPECT_FALSE(cmdline_next(&none, &tok));
}

static void cmdline_words_quotes(struct ktest *t)
{
    char b[256];

    EXPECT_STREQ(words("k=\"a b\" x", b, sizeof b), "[k=a b][x]");
    EXPECT_STREQ(words("k=\"\" y", b, sizeof b), "[k=][y]");
    EXPECT_STREQ(words("k=\"a\tb  c\"", b, sizeof b), "[k=a\tb  c]");
    EXPECT_STREQ(words("k=\"x=y\"", b, sizeof b), "[k=x=y]");
    EXPECT_STREQ(words("k=v=w", b, sizeof b), "[k=v=w]"); // the first '=' splits
    // Quotes other than an opening and a closing one stay in the value.
    EXPECT_STREQ(words("k=a\"b c\"d e", b, sizeof b), "[k=a\"b c\"d][e]");
    EXPECT_STREQ(words("k=\"a b\"c d", b, sizeof b), "[k=a b\"c][d]");
    // Keys are never unquoted; an '=' inside quotes does not split.
    EXPECT_STREQ(words("\"a b\" c", b, sizeof b), "[\"a b\"][c]");
    EXPECT_STREQ(words("\"a=b\"=c", b, sizeof b), "[\"a=b\"=c]");
}

// An unterminated quote runs to the end of the line and no further: the line
// sits in an array of exactly its size, so ASan catches any over-read.
static void cmdline_words_unterminated_quote(struct ktest *t)
{
    static const char line1[] = "a=1 k=\"a b c";
    static const char line2[] = "k=\"";
    static const char line3[] = "\"flag with blanks";
    char b[256];

    EXPECT_STREQ(words(line1, b, sizeof b), "[a=1][k=a b c]");
    EXPECT_STREQ(words(line2, b, sizeof b), "[k=]");
    EXPECT_STREQ(words(line3, b, sizeof b), "[\"flag with blanks]");
}

static void cmdline_words_qemu(struct ktest *t)
{
    char b[256];

    EXPECT_STREQ(words("console=ttyS0 virtio_mmio.device=512@0xfeb00000:10 "
                       "virtio_mmio.device=512@0xfeb00200:11",
                       b, sizeof b),
                 "[console=ttyS0][virtio_mmio.device=512@0xfeb00000:10]"
                 "[virtio_mmio.device=512@0xfeb00200:11]");
}

static void cmdline_words_empty_key(struct ktest *t)
{
    const char *line = "=value =";
    struct cmdline_token tok;

    ASSERT_TRUE(cmdline_next(&line, &tok));
    EXPECT_EQ(tok.key_len, 0u);
    EXPECT_TRUE(tok.has_val);
    EXPECT_EQ(tok.val_len, 5u);
    EXPECT_EQ(memcmp(tok.val, "value", 5), 0);
    ASSERT_TRUE(cmdline_next(&line, &tok));
    EXPECT_EQ(tok.key_len, 0u);
    EXPECT_TRUE(tok.has_val);
    EXPECT_EQ(tok.val_len, 0u);
    EXPECT_FALSE(cmdline_next(&line, &tok));
}

static void cmdline_words_long(struct ktest *t)
{
    static char line[6000];
    struct cmdline_token tok;
    const char *cursor = line;

    memset(line, 'v', sizeof line - 1);
    line[0] = 'k';
    line[1] = '=';
    line[sizeof line - 1] = '\0'; // the buffer ends right at the NUL
    ASSERT_TRUE(cmdline_next(&cursor, &tok));
    EXPECT_EQ(tok.key_len, 1u);
    EXPECT_EQ(tok.val_len, sizeof line - 3);
    EXPECT_EQ(cursor, line + sizeof line - 1);
    EXPECT_FALSE(cmdline_next(&cursor, &tok));

    char buf[8];
    EXPECT_STATUS(cmdline_get(line, "k", buf, sizeof buf), ERR_BUFFER_TOO_SMALL);
    EXPECT_STREQ(buf, "vvvvvvv");
}

static void cmdline_get_last_wins(struct ktest *t)
{
    char b[32];

    EXPECT_OK(cmdline_get("a=1 b=2 a=3", "a", b, sizeof b));
    EXPECT_STREQ(b, "3");
    EXPECT_OK(cmdline_get("a=1 b=2 a=3", "b", b, sizeof b));
    EXPECT_STREQ(b, "2");
    EXPECT_OK(cmdline_get("a=1 a", "a", b, sizeof b)); // a bare flag's value is ""
    EXPECT_STREQ(b, "");
    EXPECT_OK(cmdline_get("a a=", "a", b, sizeof b));
    EXPECT_STREQ(b, "");
    EXPECT_OK(cmdline_get("k=\"a b\"", "k", b, sizeof b));
    EXPECT_STREQ(b, "a b");
    EXPECT_OK(cmdline_get("x virtio_mmio.device=1@2:3", "virtio_mmio.device", b, sizeof b));
    EXPECT_STREQ(b, "1@2:3");
}

static void cmdline_get_not_found(struct ktest *t)
{
    char b[8];

    EXPECT_STATUS(cmdline_get("abc=1", "ab", b, sizeof b), ERR_NOT_FOUND);
    EXPECT_STATUS(cmdline_get("ab=1", "abc", b, sizeof b), ERR_NOT_FOUND);
    EXPECT_STATUS(cmdline_get("k=ab", "ab", b, sizeof b), ERR_NOT_FOUND); // values are not keys
    EXPECT_STATUS(cmdline_get("", "a", b, sizeof b), ERR_NOT_FOUND);
    EXPECT_STATUS(cmdline_get(NULL, "a", b, sizeof b), ERR_NOT_FOUND);
    EXPECT_STATUS(cmdline_get("=x", "", b, sizeof b), ERR_INVALID_ARGS);
    EXPECT_STATUS(cmdline_get("a", NULL, b, sizeof b), ERR_INVALID_ARGS);
    EXPECT_STATUS(cmdline_get("a", "a", NULL, 4), ERR_INVALID_ARGS);
}

static void cmdline_get_truncates(struct ktest *t)
{
    char b[8];

    EXPECT_OK(cmdline_get("k=hello", "k", b, 6)); // exactly fits
    EXPECT_STREQ(b, "hello");
    EXPECT_STATUS(cmdline_get("k=hello", "k", b, 5), ERR_BUFFER_TOO_SMALL);
    EXPECT_STREQ(b, "hell");
    EXPECT_STATUS(cmdline_get("k=hello", "k", b, 1), ERR_BUFFER_TOO_SMALL);
    EXPECT_STREQ(b, "");
    b[0] = 'z';
    EXPECT_STATUS(cmdline_get("k=hello", "k", b, 0), ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(b[0], 'z'); // n == 0 writes nothing
    EXPECT_STATUS(cmdline_get("k", "k", NULL, 0), ERR_BUFFER_TOO_SMALL);
    EXPECT_OK(cmdline_get("k", "k", b, 1));
    EXPECT_STREQ(b, "");
}

static void cmdline_has_keys(struct ktest *t)
{
    EXPECT_TRUE(cmdline_has("a b=1 c=", "a"));
    EXPECT_TRUE(cmdline_has("a b=1 c=", "b"));
    EXPECT_TRUE(cmdline_has("a b=1 c=", "c"));
    EXPECT_FALSE(cmdline_has("a b=1 c=", "1"));
    EXPECT_FALSE(cmdline_has("ab", "a"));
    EXPECT_FALSE(cmdline_has("=x", ""));
    EXPECT_FALSE(cmdline_has("a", NULL));
    EXPECT_FALSE(cmdline_has(NULL, "a"));
    EXPECT_TRUE(cmdline_has("k=\"x y\" ktest", "ktest"));
    EXPECT_FALSE(cmdline_has("k=\"x ktest\"", "ktest")); // inside a quoted value
}

static void cmdline_param_lookup(struct ktest *t)
{
    const struct cmdline_param *p = cmdline_param_find("test.param=1", 10);

    ASSERT_NOT_NULL(p);
    EXPECT_STREQ(p->name, "test.param");
    EXPECT_NOT_NULL(p->help);
    EXPECT_NULL(cmdline_param_find("test.para", 9));
    EXPECT_NULL(cmdline_param_find("test.param", 9));
    EXPECT_NULL(cmdline_param_find("", 0));
}

static void cmdline_apply_calls_in_order(struct ktest *t)
{
    seen_reset();
    EXPECT_EQ(cmdline_apply("test.param=1 test.num=4K test.param test.param=\"x y\""), 0);
    EXPECT_STREQ(seen.order, "pnpp");
    ASSERT_EQ(seen.nparam, 3u);
    EXPECT_STREQ(seen.vals[0], "1");
    EXPECT_TRUE(seen.has_val[0]);
    EXPECT_STREQ(seen.vals[1], "");
    EXPECT_FALSE(seen.has_val[1]);
    EXPECT_STREQ(seen.vals[2], "x y");
    EXPECT_EQ(seen.num, 4096u);

    seen_reset();
    EXPECT_EQ(cmdline_apply(""), 0);
    EXPECT_EQ(cmdline_apply(NULL), 0);
    EXPECT_EQ(seen.ncalls, 0u);
}

static void cmdline_apply_every_handler(struct ktest *t)
{
    seen_reset();
    EXPECT_EQ(cmdline_apply("test.dup test.dup=2"), 0);
    // Both handlers run for each occurrence; the linker decides which first.
    ASSERT_EQ(seen.ncalls, 4u);
    EXPECT_TRUE(seen.order[0] == 'a' || seen.order[0] == 'b');
    EXPECT_NE(seen.order[0], seen.order[1]);
    EXPECT_EQ(seen.order[0], seen.order[2]);
    EXPECT_EQ(seen.order[1], seen.order[3]);
}

// Unknown keys are warned about once each, however often they repeat.
static void cmdline_apply_unknown(struct ktest *t)
{
    seen_reset();
    EXPECT_EQ(cmdline_apply("test.nosuch test.param=1 test.nosuch=2 test.other test.nosuch"), 2);
    EXPECT_STREQ(seen.order, "p");
    EXPECT_EQ(cmdline_apply("test.paramx test.para"), 2); // no prefix matching
    EXPECT_EQ(cmdline_apply("=5 ="), 2);                  // empty keys, warned each
}

static void cmdline_apply_refused(struct ktest *t)
{
    seen_reset();
    EXPECT_EQ(cmdline_apply("test.num=12K test.num=junk test.num=99999999999999999999 test.num"),
              3);
    EXPECT_EQ(seen.num, 12u << 10); // the refused values left it alone
    EXPECT_EQ(cmdline_apply("test.fail test.fail=x test.param=ok"), 2);
    EXPECT_STREQ(seen.order, "nnnnffp");
}

KTEST_SUITE(cmdline, KTEST_CASE(cmdline_words_basic), KTEST_CASE(cmdline_words_blanks),
            KTEST_CASE(cmdline_words_quotes), KTEST_CASE(cmdline_words_unterminated_quote),
            KTEST_CASE(cmdline_words_qemu), KTEST_CASE(cmdline_words_empty_key),
            KTEST_CASE(cmdline_words_long), KTEST_CASE(cmdline_get_last_wins),
            KTEST_CASE(cmdline_get_not_found), KTEST_CASE(cmdline_get_truncates),
            KTEST_CASE(cmdline_has_keys), KTEST_CASE(cmdline_param_lookup),
            KTEST_CASE(cmdline_apply_calls_in_order), KTEST_CASE(cmdline_apply_every_handler),
            KTEST_CASE(cmdline_apply_unknown), KTEST_CASE(cmdline_apply_refused));
