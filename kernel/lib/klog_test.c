// nimbus:host
// Tests of the kernel log ring: order, wrap-around, dropping the oldest.
#include "lib/fmt.h"
#include "lib/klog.h"
#include "lib/ktest.h"
#include "lib/string.h"

#ifdef HOST_TEST
static void klog_order_and_wrap(struct ktest *t)
{
    static struct klog_entry e;
    char line[200], pad[100];
    memset(pad, 'p', sizeof(pad));
    klog_reset();
    // 5000 records of ~100 bytes do not fit in 64 KiB: the ring wraps often.
    for (int i = 0; i < 5000; i++) {
        int n = ksnprintf(line, sizeof(line), "record %d %.*s", i, i % 90, pad);
        klog_append(6, (uint64_t)i, line, (size_t)n);
    }
    uint64_t seq = 0, prev = 0;
    int seen = 0;
    while (klog_read(&seq, &e)) {
        if (seen)
            EXPECT_EQ(e.seq, prev + 1);
        EXPECT_EQ(e.ts_ns, e.seq);
        char want[32];
        int n = ksnprintf(want, sizeof(want), "record %llu ", (unsigned long long)e.seq);
        EXPECT_EQ(strncmp(e.text, want, (size_t)n), 0);
        prev = e.seq;
        seen++;
    }
    EXPECT_EQ(prev, 4999u);
    EXPECT_GT(seen, 300);
    EXPECT_LT(seen, 5000);
}

static void klog_read_from_sequence(struct ktest *t)
{
    static struct klog_entry e;
    klog_reset();
    klog_append(3, 10, "a", 1);
    klog_append(4, 20, "bb", 2);
    klog_append(6, 30, "ccc", 3);
    uint64_t seq = 1;
    ASSERT_EQ(klog_read(&seq, &e), 1);
    EXPECT_STREQ(e.text, "bb");
    EXPECT_EQ(e.level, 4);
    EXPECT_EQ(seq, 2u);
    ASSERT_EQ(klog_read(&seq, &e), 1);
    EXPECT_STREQ(e.text, "ccc");
    EXPECT_EQ(klog_read(&seq, &e), 0);
}

static void klog_long_line_is_cut(struct ktest *t)
{
    static struct klog_entry e;
    static char big[1000];
    memset(big, 'x', sizeof(big));
    klog_reset();
    klog_append(6, 0, big, sizeof(big));
    uint64_t seq = 0;
    ASSERT_EQ(klog_read(&seq, &e), 1);
    EXPECT_EQ(strlen(e.text), (size_t)KLOG_LINE_MAX - 1);
}

KTEST_SUITE(klog, KTEST_CASE(klog_order_and_wrap), KTEST_CASE(klog_read_from_sequence),
            KTEST_CASE(klog_long_line_is_cut));
#endif
