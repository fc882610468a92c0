// nimbus:host
// Tests of the line discipline: what readers get and what is echoed for
// typed lines, erase, kill, end of input, interrupt and a full queue in
// cooked mode; raw mode; switching; output processing.
#include "lib/ldisc.h"
#include "lib/ktest.h"
#include "lib/string.h"

static char echoed[1024];
static size_t echoed_len;

static void record_echo(const char *s, size_t n)
{
    for (size_t i = 0; i < n && echoed_len < sizeof(echoed) - 1; i++)
        echoed[echoed_len++] = s[i];
    echoed[echoed_len] = 0;
}

static void type(struct ldisc *ld, const char *s)
{
    while (*s)
        ldisc_input(ld, *s++);
}

// Reads one record into buf as a string.
static size_t read_str(struct ldisc *ld, char *buf, size_t n)
{
    size_t got = ldisc_read(ld, buf, n - 1);
    buf[got] = 0;
    return got;
}

static void setup(struct ldisc *ld)
{
    echoed_len = 0;
    echoed[0] = 0;
    ldisc_init(ld, record_echo);
}

static void ldisc_line_is_held_until_enter(struct ktest *t)
{
    static struct ldisc ld;
    char buf[64];
    setup(&ld);
    type(&ld, "ls -l");
    EXPECT_FALSE(ldisc_readable(&ld));
    EXPECT_EQ(ldisc_input(&ld, '\r'), LDISC_RECORD);
    EXPECT_STREQ(echoed, "ls -l\n");
    ASSERT_TRUE(ldisc_readable(&ld));
    EXPECT_EQ(read_str(&ld, buf, sizeof(buf)), 6u);
    EXPECT_STREQ(buf, "ls -l\n");
    EXPECT_FALSE(ldisc_readable(&ld));
}

static void ldisc_erase_and_kill(struct ktest *t)
{
    static struct ldisc ld;
    char buf[64];
    setup(&ld);
    type(&ld, "abc\x7f\x08x\x15yz\x7f\n");
    EXPECT_STREQ(echoed, "abc\b \b\b \bx\b \b\b \byz\b \b\n");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "y\n");
    type(&ld, "\x7f\x7f\n"); // erase on an empty line echoes nothing
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "\n");
}

static void ldisc_ctrl_d(struct ktest *t)
{
    static struct ldisc ld;
    char buf[64];
    setup(&ld);
    type(&ld, "part\x04\x04next\n");
    EXPECT_EQ(read_str(&ld, buf, sizeof(buf)), 4u);
    EXPECT_STREQ(buf, "part");
    ASSERT_TRUE(ldisc_readable(&ld));
    EXPECT_EQ(ldisc_read(&ld, buf, sizeof(buf)), 0u); // end of input
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "next\n");
    EXPECT_FALSE(ldisc_readable(&ld));
}

static void ldisc_short_reads_stay_in_record(struct ktest *t)
{
    static struct ldisc ld;
    char buf[8];
    setup(&ld);
    type(&ld, "hello\nworld\n");
    EXPECT_EQ(read_str(&ld, buf, 4), 3u);
    EXPECT_STREQ(buf, "hel");
    EXPECT_EQ(read_str(&ld, buf, sizeof(buf)), 3u);
    EXPECT_STREQ(buf, "lo\n");
    EXPECT_EQ(read_str(&ld, buf, sizeof(buf)), 6u);
    EXPECT_STREQ(buf, "world\n");
}

static void ldisc_limits(struct ktest *t)
{
    static struct ldisc ld;
    static char buf[LDISC_LINE_MAX + 8];
    setup(&ld);
    for (int i = 0; i < LDISC_LINE_MAX + 10; i++)
        ldisc_input(&ld, 'a');
    ldisc_input(&ld, '\x01'); // other control bytes are dropped
    ldisc_input(&ld, '\n');
    EXPECT_EQ(ldisc_read(&ld, buf, sizeof(buf)), (size_t)LDISC_LINE_MAX);
    EXPECT_EQ(buf[LDISC_LINE_MAX - 1], '\n');
    for (int i = 0; i < LDISC_RECORDS + 3; i++)
        type(&ld, "x\n");
    int lines = 0;
    while (ldisc_readable(&ld) && ldisc_read(&ld, buf, sizeof(buf)) == 2)
        lines++;
    EXPECT_EQ(lines, LDISC_RECORDS); // the rest was dropped
    EXPECT_FALSE(ldisc_readable(&ld));
}

static void ldisc_ctrl_c(struct ktest *t)
{
    static struct ldisc ld;
    char buf[64];
    setup(&ld);
    type(&ld, "queued\npartial");
    EXPECT_TRUE(ldisc_readable(&ld));
    echoed_len = 0;
    EXPECT_EQ(ldisc_input(&ld, LDISC_CTRL_C), LDISC_INTERRUPT);
    EXPECT_STREQ(echoed, "^C\n");
    EXPECT_FALSE(ldisc_readable(&ld)); // the queued line went too
    type(&ld, "after\n");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "after\n");
    // On an empty line: still an interrupt, still echoed.
    echoed_len = 0;
    EXPECT_EQ(ldisc_input(&ld, LDISC_CTRL_C), LDISC_INTERRUPT);
    EXPECT_STREQ(echoed, "^C\n");
    EXPECT_FALSE(ldisc_readable(&ld));
}

static void ldisc_ctrl_w(struct ktest *t)
{
    static struct ldisc ld;
    char buf[64];
    setup(&ld);
    type(&ld, "echo one two  \x17");
    EXPECT_STREQ(echoed, "echo one two  \b \b\b \b\b \b\b \b\b \b");
    type(&ld, "three\x17\x17\x17\x17x\n");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "x\n");
}

// Echo through the context form goes to the given context.
static void count_echo(void *ctx, const char *s, size_t n)
{
    (void)s;
    *(size_t *)ctx += n;
}

static void ldisc_echo_context(struct ktest *t)
{
    static struct ldisc ld;
    size_t count = 0;
    ldisc_init_ctx(&ld, count_echo, &count);
    type(&ld, "ab\r");
    EXPECT_EQ(count, 3u);
    ldisc_init(&ld, NULL); // no echo at all
    type(&ld, "ab\r");
    EXPECT_TRUE(ldisc_readable(&ld));
    EXPECT_EQ(count, 3u);
}

static void ldisc_raw_mode(struct ktest *t)
{
    static struct ldisc ld;
    char buf[64];
    setup(&ld);
    ldisc_set_mode(&ld, LDISC_RAW);
    EXPECT_EQ(ldisc_input(&ld, 'a'), LDISC_RECORD);
    type(&ld, "\r\x03\x04\x7f\x1b[A");
    EXPECT_EQ(echoed_len, 0u); // no echo
    // Everything typed since the last read is one record, byte for byte.
    EXPECT_EQ(ldisc_record_len(&ld), 8u);
    EXPECT_EQ(ldisc_peek(&ld, buf, sizeof(buf)), 8u);
    EXPECT_EQ(ldisc_read(&ld, buf, sizeof(buf)), 8u);
    EXPECT_EQ(memcmp(buf, "a\r\x03\x04\x7f\x1b[A", 8), 0);
    EXPECT_FALSE(ldisc_readable(&ld));
    // After a read, the next bytes start a new record; a partial read
    // leaves the rest, which keeps growing.
    type(&ld, "xyz");
    EXPECT_EQ(ldisc_read(&ld, buf, 1), 1u);
    type(&ld, "w");
    EXPECT_EQ(read_str(&ld, buf, sizeof(buf)), 3u);
    EXPECT_STREQ(buf, "yzw");
}

static void ldisc_raw_limits(struct ktest *t)
{
    static struct ldisc ld;
    static char buf[LDISC_LINE_MAX + 8];
    setup(&ld);
    ldisc_set_mode(&ld, LDISC_RAW);
    // A record holds at most LDISC_LINE_MAX bytes; the ring LDISC_DATA.
    size_t queued = 0;
    for (int i = 0; i < LDISC_DATA + 10; i++)
        queued += ldisc_input(&ld, 'r') == LDISC_RECORD;
    EXPECT_EQ(queued, (size_t)LDISC_DATA);
    EXPECT_EQ(ldisc_input(&ld, 'r'), 0u); // full: dropped
    int records = 0;
    while (ldisc_readable(&ld)) {
        EXPECT_EQ(ldisc_read(&ld, buf, sizeof(buf)), (size_t)LDISC_LINE_MAX);
        records++;
    }
    EXPECT_EQ(records, LDISC_RECORDS);
}

static void ldisc_mode_switch(struct ktest *t)
{
    static struct ldisc ld;
    char buf[64];
    setup(&ld);
    type(&ld, "done\npart");
    ldisc_set_mode(&ld, LDISC_RAW); // the edited line is handed on
    type(&ld, "ial");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "done\n");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "part");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "ial");
    type(&ld, "raw");
    ldisc_set_mode(&ld, LDISC_COOKED);
    echoed_len = 0;
    type(&ld, "ok\r");
    EXPECT_STREQ(echoed, "ok\n");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "raw");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "ok\n");
    ldisc_set_mode(&ld, 7); // anything else is cooked
    EXPECT_EQ(ld.mode, LDISC_COOKED);
    type(&ld, "gone");
    ldisc_flush(&ld);
    type(&ld, "\n");
    read_str(&ld, buf, sizeof(buf));
    EXPECT_STREQ(buf, "\n");
}

static void ldisc_output_crnl(struct ktest *t)
{
    char out[16];
    size_t used;
    EXPECT_EQ(ldisc_output("a\nb\n", 4, out, sizeof(out), &used), 6u);
    EXPECT_EQ(used, 4u);
    EXPECT_EQ(memcmp(out, "a\r\nb\r\n", 6), 0);
    // A pair is never split: with room for 2 bytes, "a\n" gives just "a".
    EXPECT_EQ(ldisc_output("a\nb", 3, out, 2, &used), 1u);
    EXPECT_EQ(used, 1u);
    EXPECT_EQ(ldisc_output("\n", 1, out, 1, &used), 0u);
    EXPECT_EQ(used, 0u);
    EXPECT_EQ(ldisc_output("xyz", 3, out, 0, &used), 0u);
    EXPECT_EQ(used, 0u);
    EXPECT_EQ(ldisc_output("\r\n", 2, out, sizeof(out), &used), 3u); // CR passes as is
    EXPECT_EQ(memcmp(out, "\r\r\n", 3), 0);
}

KTEST_SUITE(ldisc, KTEST_CASE(ldisc_line_is_held_until_enter), KTEST_CASE(ldisc_erase_and_kill),
            KTEST_CASE(ldisc_ctrl_d), KTEST_CASE(ldisc_short_reads_stay_in_record),
            KTEST_CASE(ldisc_limits), KTEST_CASE(ldisc_ctrl_c), KTEST_CASE(ldisc_ctrl_w),
            KTEST_CASE(ldisc_echo_context), KTEST_CASE(ldisc_raw_mode),
            KTEST_CASE(ldisc_raw_limits), KTEST_CASE(ldisc_mode_switch),
            KTEST_CASE(ldisc_output_crnl));
