// nimbus:host
// Tests of the console line discipline: what readers get and what is echoed
// for typed lines, erase, kill, end of input and a full queue.
#include "dev/ldisc.h"
#include "lib/ktest.h"

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
    EXPECT_TRUE(ldisc_input(&ld, '\r'));
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

KTEST_SUITE(ldisc, KTEST_CASE(ldisc_line_is_held_until_enter), KTEST_CASE(ldisc_erase_and_kill),
            KTEST_CASE(ldisc_ctrl_d), KTEST_CASE(ldisc_short_reads_stay_in_record),
            KTEST_CASE(ldisc_limits));
