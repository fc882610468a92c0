// Tests of the shell's line editor (user/sh/ledit.c): bytes in, the line
// and the screen out. A small terminal model plays the editor's output
// (printable bytes, CR, BS, ESC [ K, ESC [ n C/D, ESC [ H ESC [ 2 J) so the
// tests check what a typist would see, not just the buffer.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledit.h"
#include "lib/ktest.h"

#define COLS 4096

struct screen {
    char row[COLS + 1]; // the current row
    size_t col;
    char done[8][COLS + 1]; // rows ended by CR LF
    size_t ndone;
    int bells;
};

static void play(struct screen *s, const char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = out[i];
        if (c == '\r') {
            s->col = 0;
        } else if (c == '\n') {
            if (s->ndone < 8)
                memcpy(s->done[s->ndone++], s->row, sizeof(s->row));
            memset(s->row, 0, sizeof(s->row));
        } else if (c == '\b') {
            if (s->col)
                s->col--;
        } else if (c == '\a') {
            s->bells++;
        } else if (c == 0x1b && i + 1 < n && out[i + 1] == '[') {
            size_t j = i + 2, arg = 0;
            bool have = false;
            while (j < n && out[j] >= '0' && out[j] <= '9') {
                arg = arg * 10 + (size_t)(out[j++] - '0');
                have = true;
            }
            char f = j < n ? out[j] : 0;
            if (f == 'K')
                memset(s->row + s->col, 0, COLS + 1 - s->col);
            else if (f == 'D')
                s->col -= s->col < (have ? arg : 1) ? s->col : (have ? arg : 1);
            else if (f == 'C')
                s->col += have ? arg : 1;
            else if (f == 'H')
                s->col = 0;
            else if (f == 'J')
                memset(s->row, 0, sizeof(s->row));
            i = j;
        } else if (s->col < COLS) {
            for (size_t k = strlen(s->row); k < s->col; k++)
                s->row[k] = ' ';
            s->row[s->col++] = c;
        }
    }
}

struct rig {
    struct nsh_ledit e;
    struct screen s;
    struct nsh_history h;
};

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof(*r));
    nsh_ledit_start(&r->e, "$ ", &r->h);
    play(&r->s, r->e.out, r->e.out_len);
    r->e.out_len = 0;
    return r;
}

static void rig_free(struct rig *r)
{
    nsh_history_free(&r->h);
    free(r);
}

// A new line, as the shell starts one: on a fresh row.
static void restart(struct rig *r, struct nsh_history *h)
{
    play(&r->s, "\r\n", 2);
    nsh_ledit_start(&r->e, "$ ", h);
    play(&r->s, r->e.out, r->e.out_len);
    r->e.out_len = 0;
}

// Feeds bytes, draining the output after each as the shell does; the last
// result.
static enum nsh_ledit_result feed(struct rig *r, const char *bytes)
{
    enum nsh_ledit_result res = NSH_LEDIT_MORE;
    for (const char *p = bytes; *p; p++) {
        res = nsh_ledit_feed(&r->e, (unsigned char)*p);
        play(&r->s, r->e.out, r->e.out_len);
        r->e.out_len = 0;
    }
    return res;
}

static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        n--;
    return n;
}

// The screen row shows the prompt and the line (blanks at the end look
// alike: "\b \b" leaves one), the cursor where the editor's is.
static bool consistent(const struct rig *r)
{
    char want[NSH_LINE_MAX + 8];
    snprintf(want, sizeof(want), "$ %s", r->e.buf);
    size_t n = trimmed_len(want);
    return trimmed_len(r->s.row) == n && !memcmp(r->s.row, want, n) && r->s.col == 2 + r->e.cur &&
           strlen(r->e.buf) == r->e.len && r->e.cur <= r->e.len;
}

#define LEFT  "\x1b[D"
#define RIGHT "\x1b[C"
#define UP    "\x1b[A"
#define DOWN  "\x1b[B"

static void nsh_ledit_typing(struct ktest *t)
{
    struct rig *r = rig_new();
    EXPECT_STREQ(r->s.row, "$ ");
    EXPECT_EQ((int)feed(r, "echo hi"), (int)NSH_LEDIT_MORE);
    EXPECT_TRUE(consistent(r));
    EXPECT_EQ((int)feed(r, "\r"), (int)NSH_LEDIT_LINE);
    EXPECT_STREQ(r->e.buf, "echo hi");
    EXPECT_EQ(r->s.ndone, 1u);
    EXPECT_STREQ(r->s.done[0], "$ echo hi");
    // Insert in the middle, arrows both ways, clamped at the ends.
    restart(r, &r->h);
    feed(r, "helo" LEFT "l");
    EXPECT_STREQ(r->e.buf, "hello");
    EXPECT_EQ(r->e.cur, 4u);
    EXPECT_TRUE(consistent(r));
    feed(r, LEFT LEFT LEFT LEFT LEFT LEFT LEFT "<" RIGHT RIGHT RIGHT RIGHT RIGHT RIGHT RIGHT ">");
    EXPECT_STREQ(r->e.buf, "<hello>");
    EXPECT_TRUE(consistent(r));
    // Home and End in their spellings.
    feed(r, "\x01"
            "a"
            "\x05"
            "b"
            "\x1b[H"
            "c"
            "\x1b[F"
            "d"
            "\x1b[1~"
            "e"
            "\x1b[4~"
            "f");
    EXPECT_STREQ(r->e.buf, "eca<hello>bdf");
    EXPECT_TRUE(consistent(r));
    feed(r, "\x1bOH"
            "g"
            "\x1bOF"
            "h"
            "\x1b[7~"
            "i"
            "\x1b[8~"
            "j"
            "\x02"
            "k"
            "\x06"
            "l");
    EXPECT_STREQ(r->e.buf, "igeca<hello>bdfhkjl");
    EXPECT_TRUE(consistent(r));
    // Enter in the middle of the line takes all of it; LF works as Enter.
    feed(r, "\x01" RIGHT);
    EXPECT_EQ((int)feed(r, "\n"), (int)NSH_LEDIT_LINE);
    EXPECT_STREQ(r->e.buf, "igeca<hello>bdfhkjl");
    EXPECT_STREQ(r->s.done[r->s.ndone - 1], "$ igeca<hello>bdfhkjl");
    rig_free(r);
}

static void nsh_ledit_erasing(struct ktest *t)
{
    struct rig *r = rig_new();
    feed(r, "abcd\x7f");
    EXPECT_STREQ(r->e.buf, "abc");
    EXPECT_TRUE(consistent(r));
    feed(r, LEFT "\x08"); // Ctrl-H in the middle
    EXPECT_STREQ(r->e.buf, "ac");
    EXPECT_TRUE(consistent(r));
    feed(r, "\x01\x7f\x7f"); // nothing before the cursor
    EXPECT_STREQ(r->e.buf, "ac");
    feed(r, "\x1b[3~"); // Delete under the cursor
    EXPECT_STREQ(r->e.buf, "c");
    EXPECT_TRUE(consistent(r));
    feed(r, "\x04"); // Ctrl-D on a non-empty line deletes too
    EXPECT_STREQ(r->e.buf, "");
    EXPECT_TRUE(consistent(r));
    feed(r, "one two  three");
    feed(r, "\x17"); // Ctrl-W: the word before the cursor
    EXPECT_STREQ(r->e.buf, "one two  ");
    feed(r, "\x17");
    EXPECT_STREQ(r->e.buf, "one ");
    EXPECT_TRUE(consistent(r));
    feed(r, "xyz" LEFT LEFT "\x0b"); // Ctrl-K: to the end
    EXPECT_STREQ(r->e.buf, "one x");
    EXPECT_TRUE(consistent(r));
    feed(r, LEFT "\x15"); // Ctrl-U: the whole line
    EXPECT_STREQ(r->e.buf, "");
    EXPECT_EQ(r->e.cur, 0u);
    EXPECT_TRUE(consistent(r));
    feed(r, "kept\x0c"); // Ctrl-L redraws
    EXPECT_TRUE(consistent(r));
    EXPECT_EQ((int)feed(r, "\r"), (int)NSH_LEDIT_LINE);
    EXPECT_STREQ(r->e.buf, "kept");
    rig_free(r);
}

static void nsh_ledit_control(struct ktest *t)
{
    struct rig *r = rig_new();
    EXPECT_EQ((int)feed(r, "abc\x03"), (int)NSH_LEDIT_CANCEL);
    EXPECT_STREQ(r->s.done[0], "$ abc^C");
    restart(r, &r->h);
    EXPECT_EQ((int)feed(r, "\x04"), (int)NSH_LEDIT_EOF);
    // CR LF is one Enter; a lone LF later is an Enter of its own.
    restart(r, &r->h);
    EXPECT_EQ((int)feed(r, "a\r"), (int)NSH_LEDIT_LINE);
    restart(r, &r->h);
    EXPECT_EQ((int)feed(r, "\n"), (int)NSH_LEDIT_MORE);
    EXPECT_EQ((int)feed(r, "b\n"), (int)NSH_LEDIT_LINE);
    EXPECT_STREQ(r->e.buf, "b");
    // Unknown keys and bytes change nothing; modified arrows (Ctrl-Left:
    // ESC [ 1 ; 5 D) move as plain ones.
    restart(r, &r->h);
    feed(r, "x\x1b[5~\x1b[1;5D\x1bz\t\x80\xff\x1b[99999999999Zy");
    EXPECT_STREQ(r->e.buf, "yx");
    EXPECT_TRUE(consistent(r));
    // The line is bounded; the terminal bell says so.
    restart(r, &r->h);
    for (int i = 0; i < NSH_LINE_MAX + 10; i++)
        feed(r, "z");
    EXPECT_EQ(r->e.len, (size_t)NSH_LINE_MAX - 1);
    EXPECT_EQ(r->s.bells, 11);
    EXPECT_TRUE(consistent(r));
    rig_free(r);
}

static void nsh_ledit_history(struct ktest *t)
{
    struct rig *r = rig_new();
    nsh_history_add(&r->h, "one");
    nsh_history_add(&r->h, "two");
    nsh_history_add(&r->h, "two"); // a repeat
    nsh_history_add(&r->h, "   "); // blank
    EXPECT_EQ(r->h.count, 2u);
    restart(r, &r->h);
    feed(r, "par");
    feed(r, UP);
    EXPECT_STREQ(r->e.buf, "two");
    EXPECT_TRUE(consistent(r));
    feed(r, UP UP UP);
    EXPECT_STREQ(r->e.buf, "one");
    feed(r, "!");
    feed(r, DOWN);
    EXPECT_STREQ(r->e.buf, "two");
    feed(r, DOWN);
    EXPECT_STREQ(r->e.buf, "par"); // the line being typed comes back
    EXPECT_TRUE(consistent(r));
    feed(r, DOWN);
    EXPECT_STREQ(r->e.buf, "par");
    feed(r, "\x10"); // Ctrl-P
    EXPECT_STREQ(r->e.buf, "two");
    feed(r, "\x0e"); // Ctrl-N
    EXPECT_STREQ(r->e.buf, "par");
    // The ring keeps the newest NSH_HISTORY_MAX lines.
    for (int i = 0; i < 150; i++) {
        char line[16];
        snprintf(line, sizeof(line), "cmd %d", i);
        nsh_history_add(&r->h, line);
    }
    EXPECT_EQ(r->h.count, (size_t)NSH_HISTORY_MAX);
    EXPECT_EQ(r->h.total, 152ul);
    EXPECT_STREQ(nsh_history_get(&r->h, 0), "cmd 50");
    EXPECT_STREQ(nsh_history_get(&r->h, NSH_HISTORY_MAX - 1), "cmd 149");
    EXPECT_NULL(nsh_history_get(&r->h, NSH_HISTORY_MAX));
    restart(r, &r->h);
    for (int i = 0; i < 120; i++)
        feed(r, UP);
    EXPECT_STREQ(r->e.buf, "cmd 50");
    EXPECT_TRUE(consistent(r));
    // No history at all: arrows do nothing.
    restart(r, NULL);
    feed(r, "q" UP DOWN);
    EXPECT_STREQ(r->e.buf, "q");
    rig_free(r);
}

// Pseudo-random keys: after every one the screen matches the editor.
static void nsh_ledit_random_keys(struct ktest *t)
{
    static const char *const keys[] = {
        "a",    "b",       " ",    "\x7f", "\x08", LEFT,   RIGHT,    UP,       DOWN,   "\x01",
        "\x05", "\x1b[3~", "\x0b", "\x17", "\x15", "\x04", "\x1b[H", "\x1b[F", "\x0c", "\x1b"};
    struct rig *r = rig_new();
    nsh_history_add(&r->h, "history line one");
    nsh_history_add(&r->h, "h2");
    uint32_t seed = 777;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        enum nsh_ledit_result res = feed(r, keys[(seed >> 16) % ARRAY_SIZE(keys)]);
        if (res != NSH_LEDIT_MORE) {
            restart(r, &r->h);
        }
        if (r->e.esc == 0 && !consistent(r) && bad++ < 3)
            ktest_fail(t, __FILE__, __LINE__, "step %d: screen '%s' col %zu, line '%s' cur %zu", i,
                       r->s.row, r->s.col, r->e.buf, r->e.cur);
    }
    rig_free(r);
}

KTEST_SUITE(nsh_ledit, KTEST_CASE(nsh_ledit_typing), KTEST_CASE(nsh_ledit_erasing),
            KTEST_CASE(nsh_ledit_control), KTEST_CASE(nsh_ledit_history),
            KTEST_CASE(nsh_ledit_random_keys));
