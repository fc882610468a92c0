// Tests of the shell's word expansion (user/sh/expand.c) and variables
// (user/sh/vars.c): quote removal, parameters, field splitting, the
// environment handed to programs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expand.h"
#include "lib/ktest.h"
#include "vars.h"

static const char *test_lookup(void *ctx, const char *name, size_t len)
{
    const struct nsh_vars *vs = ctx;
    char buf[64];
    if (len >= sizeof(buf))
        return NULL;
    memcpy(buf, name, len);
    buf[len] = 0;
    if (!strcmp(buf, "?"))
        return "3";
    if (!strcmp(buf, "$"))
        return "42";
    if (!strcmp(buf, "1"))
        return "first arg";
    if (!strcmp(buf, "#"))
        return "1";
    return nsh_vars_get(vs, buf);
}

// The fields of word joined as "<a><b>", or "!" when expansion failed.
static void fields(const struct nsh_vars *vs, const char *word, enum nsh_expand_mode mode,
                   char *out, size_t size)
{
    struct nsh_expand_ctx x = {test_lookup, (void *)vs};
    struct nsh_arena a = {0};
    struct nsh_strvec v = {0};
    size_t n = 0;
    out[0] = 0;
    if (!nsh_expand(&x, word, mode, &a, &v))
        snprintf(out, size, "!");
    for (size_t i = 0; i < v.count; i++)
        n += (size_t)snprintf(out + n, n < size ? size - n : 0, "<%s>", v.items[i]);
    nsh_arena_free(&a);
}

#define EXPECT_FIELDS(word, want)                                 \
    do {                                                          \
        char out_[512];                                           \
        fields(&vs, word, NSH_EXPAND_FIELDS, out_, sizeof(out_)); \
        EXPECT_STREQ(out_, want);                                 \
    } while (0)

#define EXPECT_STRING(word, want)                                 \
    do {                                                          \
        char out_[512];                                           \
        fields(&vs, word, NSH_EXPAND_STRING, out_, sizeof(out_)); \
        EXPECT_STREQ(out_, want);                                 \
    } while (0)

static void setup(struct nsh_vars *vs)
{
    *vs = (struct nsh_vars){0};
    nsh_vars_set(vs, "x", "1 2", false);
    nsh_vars_set(vs, "sp", "  b  c ", false);
    nsh_vars_set(vs, "empty", "", false);
    nsh_vars_set(vs, "word", "hello", false);
    nsh_vars_set(vs, "q", "'\"$x\\", false);
}

static void nsh_expand_quotes(struct ktest *t)
{
    struct nsh_vars vs;
    setup(&vs);
    EXPECT_FIELDS("plain", "<plain>");
    EXPECT_FIELDS("'a $x b'", "<a $x b>");
    EXPECT_FIELDS("\"a $x b\"", "<a 1 2 b>");
    EXPECT_FIELDS("''", "<>");
    EXPECT_FIELDS("\"\"", "<>");
    EXPECT_FIELDS("a''b", "<ab>");
    EXPECT_FIELDS("\\$x", "<$x>");
    EXPECT_FIELDS("a\\ b", "<a b>");
    EXPECT_FIELDS("\\'", "<'>");
    EXPECT_FIELDS("\"\\$x \\\"q\\\" \\\\ \\a\"", "<$x \"q\" \\ \\a>");
    EXPECT_FIELDS("'\\n'", "<\\n>");
    EXPECT_FIELDS("a\\\nb", "<ab>");
    EXPECT_FIELDS("\"a\\\nb\"", "<ab>");
    EXPECT_FIELDS("x\\", "<x\\>"); // a lone trailing backslash stays
    EXPECT_FIELDS("'unclosed", "<unclosed>");
    nsh_vars_free(&vs);
}

static void nsh_expand_parameters(struct ktest *t)
{
    struct nsh_vars vs;
    setup(&vs);
    EXPECT_FIELDS("$word", "<hello>");
    EXPECT_FIELDS("${word}s", "<hellos>");
    EXPECT_FIELDS("$words", ""); // unset: nothing
    EXPECT_FIELDS("$?$$", "<342>");
    EXPECT_FIELDS("${?}x", "<3x>");
    EXPECT_FIELDS("\"$1\"", "<first arg>");
    EXPECT_FIELDS("$#", "<1>");
    EXPECT_FIELDS("$", "<$>");
    EXPECT_FIELDS("a$", "<a$>");
    EXPECT_FIELDS("$-x", "<$-x>");
    EXPECT_FIELDS("\"$\"", "<$>");
    EXPECT_FIELDS("${word", "<${word>");
    EXPECT_FIELDS("$q", "<'\"$x\\>"); // values are not expanded again
    EXPECT_FIELDS("pre${word}post$word", "<prehellopost"
                                         "hello>");
    nsh_vars_free(&vs);
}

static void nsh_expand_splitting(struct ktest *t)
{
    struct nsh_vars vs;
    setup(&vs);
    EXPECT_FIELDS("$x", "<1><2>");
    EXPECT_FIELDS("\"$x\"", "<1 2>");
    EXPECT_FIELDS("a$sp", "<a><b><c>");
    EXPECT_FIELDS("$sp", "<b><c>");
    EXPECT_FIELDS("$sp!", "<b><c><!>");
    EXPECT_FIELDS("$empty", "");
    EXPECT_FIELDS("\"$empty\"", "<>");
    EXPECT_FIELDS("$empty''", "<>");
    EXPECT_FIELDS("$x$x", "<1><21><2>");
    // STRING mode: one string, never split, even when empty.
    EXPECT_STRING("$x", "<1 2>");
    EXPECT_STRING("$sp", "<  b  c >");
    EXPECT_STRING("$empty", "<>");
    EXPECT_STRING("", "<>");
    EXPECT_STRING("'a'$word", "<ahello>");
    // Long values grow the field buffer.
    char big[3000];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    nsh_vars_set(&vs, "big", big, false);
    char out[4000];
    fields(&vs, "\"$big\"", NSH_EXPAND_FIELDS, out, sizeof(out));
    EXPECT_EQ(strlen(out), sizeof(big) - 1 + 2);
    nsh_vars_free(&vs);
}

static void nsh_vars_table(struct ktest *t)
{
    struct nsh_vars vs = {0};
    EXPECT_NULL(nsh_vars_get(&vs, "A"));
    EXPECT_TRUE(nsh_vars_set(&vs, "B", "2", false));
    EXPECT_TRUE(nsh_vars_set(&vs, "A", "1", true));
    EXPECT_TRUE(nsh_vars_set(&vs, "C", "3", false));
    EXPECT_STREQ(nsh_vars_get(&vs, "A"), "1");
    ASSERT_EQ(vs.count, 3u);
    EXPECT_STREQ(vs.v[0].name, "A"); // sorted
    EXPECT_STREQ(vs.v[2].name, "C");
    // Setting again keeps the export flag.
    EXPECT_TRUE(nsh_vars_set(&vs, "A", "one", false));
    EXPECT_TRUE(vs.v[0].exported);
    EXPECT_STREQ(nsh_vars_get(&vs, "A"), "one");
    // export of an unset name: exported once it gets a value.
    EXPECT_TRUE(nsh_vars_export(&vs, "D"));
    EXPECT_NULL(nsh_vars_get(&vs, "D"));
    nsh_vars_unset(&vs, "B");
    nsh_vars_unset(&vs, "nothing");
    EXPECT_NULL(nsh_vars_get(&vs, "B"));
    EXPECT_EQ(vs.count, 3u);
    // Many names keep the table sorted.
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof(name), "V%03d", (i * 37) % 200);
        EXPECT_TRUE(nsh_vars_set(&vs, name, name, false));
    }
    for (size_t i = 1; i < vs.count; i++)
        EXPECT_LT(strcmp(vs.v[i - 1].name, vs.v[i].name), 0);
    EXPECT_STREQ(nsh_vars_get(&vs, "V123"), "V123");
    nsh_vars_free(&vs);
}

static void nsh_vars_environment(struct ktest *t)
{
    struct nsh_vars vs = {0};
    char *const envp[] = {"PATH=/bin", "HOME=/", "=bad", "novalue", "X=a=b", NULL};
    nsh_vars_import(&vs, envp);
    EXPECT_STREQ(nsh_vars_get(&vs, "PATH"), "/bin");
    EXPECT_STREQ(nsh_vars_get(&vs, "X"), "a=b");
    EXPECT_EQ(vs.count, 3u);
    nsh_vars_set(&vs, "local", "no", false);
    nsh_vars_export(&vs, "unset_export");
    char *extra[] = {"HOME=/home", "NEW=1", "NEW=2"};
    char **env = nsh_vars_environ(&vs, extra, 3);
    ASSERT_NOT_NULL(env);
    // Exported with values, sorted, without the overridden HOME; then the
    // extra strings, the last of a name winning.
    EXPECT_STREQ(env[0], "PATH=/bin");
    EXPECT_STREQ(env[1], "X=a=b");
    EXPECT_STREQ(env[2], "HOME=/home");
    EXPECT_STREQ(env[3], "NEW=2");
    EXPECT_NULL(env[4]);
    free(env);
    env = nsh_vars_environ(&vs, NULL, 0);
    ASSERT_NOT_NULL(env);
    EXPECT_STREQ(env[0], "HOME=/");
    EXPECT_NULL(env[3]);
    free(env);
    nsh_vars_free(&vs);
}

KTEST_SUITE(nsh_expand, KTEST_CASE(nsh_expand_quotes), KTEST_CASE(nsh_expand_parameters),
            KTEST_CASE(nsh_expand_splitting), KTEST_CASE(nsh_vars_table),
            KTEST_CASE(nsh_vars_environment));
