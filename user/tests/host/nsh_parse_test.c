// Tests of the shell's lexer and parser (user/sh/parse.c): the tree of
// lists, and-or lists, pipelines and commands, written out as text; what
// needs more input; every syntax error; and no crash on any prefix of or
// noise in the input.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "parse.h"

// The tree as text: items "(...)" joined by ';' ('&' after a background
// one), pipelines joined by " && " / " || ", commands by " | ", words in
// brackets, redirections as " N>[w]", " N>>[w]", " N<[w]", " N>&[w]".
static void dump(const struct nsh_program *p, char *out, size_t size)
{
    size_t n = 0;
#define PUT(...) n += (size_t)snprintf(out + n, n < size ? size - n : 0, __VA_ARGS__)
    out[0] = 0;
    for (size_t i = 0; i < p->nitems; i++) {
        const struct nsh_andor *ao = &p->items[i];
        PUT("%s(", i ? ";" : "");
        for (size_t k = 0; k < ao->npipes; k++) {
            const struct nsh_pipeline *pl = &ao->pipes[k];
            if (k)
                PUT(" %s ", ao->conns[k] == NSH_AND ? "&&" : "||");
            if (pl->negate)
                PUT("! ");
            for (size_t c = 0; c < pl->ncmds; c++) {
                const struct nsh_command *cmd = &pl->cmds[c];
                if (c)
                    PUT(" | ");
                for (size_t w = 0; w < cmd->nwords; w++)
                    PUT("[%s]", cmd->words[w]);
                for (size_t r = 0; r < cmd->nredirs; r++) {
                    static const char *const ops[] = {"<", ">", ">>", ">&"};
                    PUT(" %d%s[%s]", cmd->redirs[r].fd, ops[cmd->redirs[r].op],
                        cmd->redirs[r].word);
                }
            }
        }
        PUT(")%s", ao->background ? "&" : "");
    }
#undef PUT
}

static enum nsh_parse_result parse_dump(const char *src, char *out, size_t size, char *err)
{
    struct nsh_arena a = {0};
    struct nsh_program p;
    enum nsh_parse_result r = nsh_parse(src, strlen(src), &a, &p, err, 160);
    if (r == NSH_PARSE_OK)
        dump(&p, out, size);
    else
        out[0] = 0;
    nsh_arena_free(&a);
    return r;
}

#define EXPECT_PARSE(src, want)                                                       \
    do {                                                                              \
        char out_[1024], err_[160];                                                   \
        EXPECT_EQ((int)parse_dump(src, out_, sizeof(out_), err_), (int)NSH_PARSE_OK); \
        EXPECT_STREQ(out_, want);                                                     \
    } while (0)

#define EXPECT_PARSE_ERROR(src, want)                                                    \
    do {                                                                                 \
        char out_[1024], err_[160];                                                      \
        EXPECT_EQ((int)parse_dump(src, out_, sizeof(out_), err_), (int)NSH_PARSE_ERROR); \
        EXPECT_STREQ(err_, want);                                                        \
    } while (0)

#define EXPECT_INCOMPLETE(src)                                                                \
    do {                                                                                      \
        char out_[1024], err_[160];                                                           \
        EXPECT_EQ((int)parse_dump(src, out_, sizeof(out_), err_), (int)NSH_PARSE_INCOMPLETE); \
    } while (0)

static void nsh_parse_words(struct ktest *t)
{
    EXPECT_PARSE("", "");
    EXPECT_PARSE("   \n\n  # only a comment\n", "");
    EXPECT_PARSE("echo", "([echo])");
    EXPECT_PARSE("  echo  hello\tworld  ", "([echo][hello][world])");
    // Quotes and backslashes stay in the words (expansion removes them).
    EXPECT_PARSE("echo 'a b' \"c $d\" e\\ f", "([echo]['a b'][\"c $d\"][e\\ f])");
    EXPECT_PARSE("echo 'it;s' \"a|b&c\" x\\;y", "([echo]['it;s'][\"a|b&c\"][x\\;y])");
    EXPECT_PARSE("echo \"a \\\" b\" 'x'\"y\"z", "([echo][\"a \\\" b\"]['x'\"y\"z])");
    EXPECT_PARSE("echo ${HOME}x $? $$ ${1} ${#}", "([echo][${HOME}x][$?][$$][${1}][${#}])");
    // Comments start only at the beginning of a word.
    EXPECT_PARSE("echo a # comment ; b", "([echo][a])");
    EXPECT_PARSE("echo a#b '#c'", "([echo][a#b]['#c'])");
    // Escaped newlines join lines.
    EXPECT_PARSE("echo a \\\n b", "([echo][a][b])");
    EXPECT_PARSE("A=1 B='x y' cmd", "([A=1][B='x y'][cmd])");
}

static void nsh_parse_lists(struct ktest *t)
{
    EXPECT_PARSE("a; b;c", "([a]);([b]);([c])");
    EXPECT_PARSE("a;", "([a])");
    EXPECT_PARSE("a &", "([a])&");
    EXPECT_PARSE("a & b", "([a])&;([b])");
    EXPECT_PARSE("a&&b||c", "([a] && [b] || [c])");
    EXPECT_PARSE("a | b | c", "([a] | [b] | [c])");
    EXPECT_PARSE("a | b && c || d | e &", "([a] | [b] && [c] || [d] | [e])&");
    EXPECT_PARSE("! false && true", "(! [false] && [true])");
    EXPECT_PARSE("a\nb\n\nc", "([a]);([b]);([c])");
    // A newline may follow && || |.
    EXPECT_PARSE("a &&\n\n b", "([a] && [b])");
    EXPECT_PARSE("a |\n b", "([a] | [b])");
    // The source text of an and-or list (for job lists).
    struct nsh_arena a = {0};
    struct nsh_program p;
    char err[160];
    const char *src = "  sleep 5  &  echo 'x y' && true ; ";
    ASSERT_EQ((int)nsh_parse(src, strlen(src), &a, &p, err, sizeof(err)), (int)NSH_PARSE_OK);
    ASSERT_EQ(p.nitems, 2u);
    EXPECT_STREQ(p.items[0].text, "sleep 5");
    EXPECT_STREQ(p.items[1].text, "echo 'x y' && true");
    EXPECT_EQ((int)p.items[1].conns[0], (int)NSH_THEN);
    EXPECT_EQ((int)p.items[1].conns[1], (int)NSH_AND);
    nsh_arena_free(&a);
    // Many items and long pipelines grow their arrays.
    char big[4096] = "";
    for (int i = 0; i < 300; i++)
        strcat(big, i % 3 ? "x|" : "y;");
    strcat(big, "z");
    struct nsh_arena b = {0};
    ASSERT_EQ((int)nsh_parse(big, strlen(big), &b, &p, err, sizeof(err)), (int)NSH_PARSE_OK);
    EXPECT_EQ(p.nitems, 101u);
    EXPECT_EQ(p.items[100].pipes[0].ncmds, 3u);
    nsh_arena_free(&b);
}

static void nsh_parse_redirections(struct ktest *t)
{
    EXPECT_PARSE("cat <in >out", "([cat] 0<[in] 1>[out])");
    EXPECT_PARSE("cmd 2>err >>app 2>>e2", "([cmd] 2>[err] 1>>[app] 2>>[e2])");
    EXPECT_PARSE("cmd 2>&1 >&2 1>|f", "([cmd] 2>&[1] 1>&[2] 1>[f])");
    EXPECT_PARSE("cmd 0<&0 x2>y", "([cmd][x2] 0>&[0] 1>[y])");
    EXPECT_PARSE("> only", "( 1>[only])");
    EXPECT_PARSE("echo 2 > f", "([echo][2] 1>[f])");
}

static void nsh_parse_incomplete(struct ktest *t)
{
    EXPECT_INCOMPLETE("echo 'abc");
    EXPECT_INCOMPLETE("echo \"abc");
    EXPECT_INCOMPLETE("echo \"a\\");
    EXPECT_INCOMPLETE("echo \\");
    EXPECT_INCOMPLETE("a &&");
    EXPECT_INCOMPLETE("a ||\n");
    EXPECT_INCOMPLETE("a |");
    EXPECT_INCOMPLETE("a | \n\n");
    EXPECT_INCOMPLETE("echo 'multi\nline");
    // Completed by the next line.
    EXPECT_PARSE("echo 'multi\nline'", "([echo]['multi\nline'])");
}

static void nsh_parse_errors(struct ktest *t)
{
    EXPECT_PARSE_ERROR(";", "syntax error near ';'");
    EXPECT_PARSE_ERROR("a ;; b", "syntax error near ';'");
    EXPECT_PARSE_ERROR("| a", "syntax error near '|'");
    EXPECT_PARSE_ERROR("a && && b", "syntax error near '&&'");
    EXPECT_PARSE_ERROR("a || & b", "syntax error near '&'");
    EXPECT_PARSE_ERROR("& a", "syntax error near '&'");
    EXPECT_PARSE_ERROR("a | | b", "syntax error near '|'");
    EXPECT_PARSE_ERROR("a >", "syntax error: unexpected end of input");
    EXPECT_PARSE_ERROR("a > ;", "syntax error near ';'");
    EXPECT_PARSE_ERROR("a >\nb", "syntax error near newline");
    EXPECT_PARSE_ERROR("a 2>&", "syntax error: unexpected end of input");
    EXPECT_PARSE_ERROR("!", "syntax error: unexpected end of input");
    EXPECT_PARSE_ERROR("echo $(ls)", "$(...) command substitution is not supported");
    EXPECT_PARSE_ERROR("echo \"$(ls)\"", "$(...) command substitution is not supported");
    EXPECT_PARSE_ERROR("echo `ls`", "`...` command substitution is not supported");
    EXPECT_PARSE_ERROR("echo ${a", "bad substitution: '${' without '}'");
    EXPECT_PARSE_ERROR("echo ${a b}", "bad substitution: '${a b}'");
    EXPECT_PARSE_ERROR("echo ${}", "bad substitution: '${}'");
    EXPECT_PARSE_ERROR("echo ${a:-x}", "bad substitution: '${a:-x}'");
    EXPECT_PARSE_ERROR("cmd 10>x", "bad file descriptor '10' in redirection");
    // A small buffer gets a cut message, still terminated.
    struct nsh_arena a = {0};
    struct nsh_program p;
    char err[8];
    EXPECT_EQ((int)nsh_parse("a ;; b", 6, &a, &p, err, sizeof(err)), (int)NSH_PARSE_ERROR);
    EXPECT_STREQ(err, "syntax ");
    nsh_arena_free(&a);
}

static void nsh_parse_names(struct ktest *t)
{
    EXPECT_TRUE(nsh_is_name("a", 1));
    EXPECT_TRUE(nsh_is_name("_x9", 3));
    EXPECT_FALSE(nsh_is_name("9x", 2));
    EXPECT_FALSE(nsh_is_name("", 0));
    EXPECT_FALSE(nsh_is_name("a-b", 3));
    EXPECT_EQ(nsh_assignment_name_len("A=1"), 1u);
    EXPECT_EQ(nsh_assignment_name_len("long_NAME9=x=y"), 10u);
    EXPECT_EQ(nsh_assignment_name_len("A="), 1u);
    EXPECT_EQ(nsh_assignment_name_len("=x"), 0u);
    EXPECT_EQ(nsh_assignment_name_len("1A=x"), 0u);
    EXPECT_EQ(nsh_assignment_name_len("'A'=x"), 0u);
    EXPECT_EQ(nsh_assignment_name_len("echo"), 0u);
}

// Every prefix of tricky lines, and pseudo-random noise from the shell's
// own alphabet: the parser answers (ASan and UBSan watch) and never says
// OK with a broken tree.
static void nsh_parse_robust(struct ktest *t)
{
    static const char *const lines[] = {
        "a=1 b=\"x $y\" c | d 2>&1 && ! e 'f g' || h\\ i &",
        "echo ${x}${?}$$\"${1}\"'$z' # c\n next ; \\\n more",
        "x >>y <z 2>w 1>&2 0<&0",
    };
    char out[4096], err[160];
    for (size_t l = 0; l < ARRAY_SIZE(lines); l++)
        for (size_t n = 0; n <= strlen(lines[l]); n++) {
            struct nsh_arena a = {0};
            struct nsh_program p;
            enum nsh_parse_result r = nsh_parse(lines[l], n, &a, &p, err, sizeof(err));
            EXPECT_TRUE(r == NSH_PARSE_OK || r == NSH_PARSE_INCOMPLETE || r == NSH_PARSE_ERROR);
            if (r == NSH_PARSE_OK)
                dump(&p, out, sizeof(out));
            nsh_arena_free(&a);
        }
    static const char alphabet[] = "ab =$'\"\\|&;<>#{}!?12\n\t(`";
    uint32_t seed = 12345;
    for (int round = 0; round < 3000; round++) {
        char buf[48];
        size_t len = 1 + round % (sizeof(buf) - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        struct nsh_arena a = {0};
        struct nsh_program p;
        if (nsh_parse(buf, len, &a, &p, err, sizeof(err)) == NSH_PARSE_OK) {
            dump(&p, out, sizeof(out));
            for (size_t i = 0; i < p.nitems; i++)
                EXPECT_GT(p.items[i].npipes, 0u);
        }
        nsh_arena_free(&a);
    }
}

KTEST_SUITE(nsh_parse, KTEST_CASE(nsh_parse_words), KTEST_CASE(nsh_parse_lists),
            KTEST_CASE(nsh_parse_redirections), KTEST_CASE(nsh_parse_incomplete),
            KTEST_CASE(nsh_parse_errors), KTEST_CASE(nsh_parse_names),
            KTEST_CASE(nsh_parse_robust));
