// In-kernel test of console line atomicity on several CPUs: one pinned
// thread per CPU (up to 4) prints lines through printk and console_write at
// the same moment; a console sink records what reaches the console and the
// test checks that every line arrived whole, as does every log record.
#include "arch.h"
#include "lib/fmt.h"
#include "lib/klog.h"
#include "lib/ktest.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "sched/clock.h"
#include "sched/thread.h"

#define MIX_CPUS   4
#define MIX_ROUNDS 24  // lines each CPU prints at least
#define MIX_MAX    120 // and at most, printing on while another is below MIX_ROUNDS
#define MIX_BUF    (128 * 1024)
#define MIX_TAIL   "abcdefghijklmnopqrstuvwxyz0123456789"

static char mix_buf[MIX_BUF];
static uint32_t mix_len;  // bytes recorded (atomic; may pass MIX_BUF: then dropped)
static bool mix_armed;    // the sink records (atomic)
static bool mix_sink_set; // added once: sinks cannot be removed
static bool reenter;      // the sink prints once itself (atomic)

// Records console output. Reserving the space atomically keeps each call's
// bytes together even if two CPUs were to call it at once (the bug this
// test looks for): mixing then shows inside the lines, not in the buffer.
static void mix_sink(const char *s, size_t n)
{
    if (__atomic_exchange_n(&reenter, false, __ATOMIC_ACQ_REL))
        printk_line(LOG_INFO, "conmix-re inner", 15, true); // as a fault inside printk would
    if (!__atomic_load_n(&mix_armed, __ATOMIC_ACQUIRE))
        return;
    uint32_t at = __atomic_fetch_add(&mix_len, (uint32_t)n, __ATOMIC_RELAXED);
    if (at < MIX_BUF)
        memcpy(mix_buf + at, s, MIN(n, (size_t)(MIX_BUF - at)));
}

struct mixer {
    unsigned id, ncpus;
    unsigned *arrived;     // workers started (atomic)
    unsigned *reached;     // workers past MIX_ROUNDS lines (atomic)
    unsigned lines, klogs; // printed: all, through printk
};

static int mix_worker(void *arg)
{
    struct mixer *m = arg;
    char line[96];

    __atomic_fetch_add(m->arrived, 1, __ATOMIC_SEQ_CST);
    uint64_t deadline = clock_monotonic_ns() + 2000000000ull;
    while (__atomic_load_n(m->arrived, __ATOMIC_ACQUIRE) < m->ncpus &&
           clock_monotonic_ns() < deadline)
        thread_yield(); // the test thread may share this CPU: let it start the others
    // Every worker prints until all have printed MIX_ROUNDS lines, so each
    // one's lines overlap the others' however the host schedules the vCPUs.
    unsigned i = 0;
    while (i < MIX_MAX &&
           (i < MIX_ROUNDS || __atomic_load_n(m->reached, __ATOMIC_ACQUIRE) < m->ncpus) &&
           clock_monotonic_ns() < deadline + 10000000000ull) {
        if ((i + m->id) % 2) {
            int n = ksnprintf(line, sizeof(line), "conmix-w %u %03u " MIX_TAIL "\n", m->id, i);
            console_write(line, (size_t)n);
        } else {
            int n = ksnprintf(line, sizeof(line), "conmix %u %03u " MIX_TAIL, m->id, i);
            printk_line(LOG_INFO, line, (size_t)n, true);
            m->klogs++;
        }
        if (++i == MIX_ROUNDS)
            __atomic_fetch_add(m->reached, 1, __ATOMIC_RELEASE);
    }
    m->lines = i;
    return 0;
}

static const char *find_byte(const char *s, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == c)
            return s + i;
    return NULL;
}

static bool contains(const char *s, size_t n, const char *what)
{
    size_t w = strlen(what);
    for (size_t i = 0; i + w <= n; i++)
        if (!memcmp(s + i, what, w))
            return true;
    return false;
}

// Whether `s` (n bytes, no newline) is exactly a line of the test: a printk
// one, "[  seconds.micros] conmix C NNN TAIL", or a console_write one,
// "conmix-w C NNN TAIL" (no prefix); sets *cpu. With `prefix` false the
// printk line comes without its prefix (as the log ring keeps it).
static bool mix_line_ok(const char *s, size_t n, bool prefix, unsigned *cpu)
{
    bool has_prefix = n && s[0] == '[';
    if (has_prefix) {
        const char *e = find_byte(s, n, ']');
        if (!e || (size_t)(e - s) + 2 > n || e[1] != ' ')
            return false;
        n -= (size_t)(e + 2 - s);
        s = e + 2;
    }
    size_t head = n >= 9 && !memcmp(s, "conmix-w ", 9) ? 9
                  : n >= 7 && !memcmp(s, "conmix ", 7) ? 7
                                                       : 0;
    if (head == 9 ? has_prefix : has_prefix != prefix)
        return false; // a prefix torn from its line
    size_t want = head + 6 + sizeof(MIX_TAIL) - 1;
    if (!head || n != want)
        return false;
    s += head;
    if (s[0] < '0' || s[0] >= '0' + MIX_CPUS || s[1] != ' ' || s[5] != ' ')
        return false;
    for (int i = 2; i < 5; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    *cpu = (unsigned)(s[0] - '0');
    return !memcmp(s + 6, MIX_TAIL, sizeof(MIX_TAIL) - 1);
}

static void console_lines_stay_whole_across_cpus(struct ktest *t)
{
    unsigned n = MIN(arch_cpu_count(), (unsigned)MIX_CPUS);
    if (n < 2)
        KTEST_SKIP("needs 2 CPUs online");
    if (!mix_sink_set) {
        ASSERT_OK(console_add_sink(mix_sink));
        mix_sink_set = true;
    }
    uint64_t seq = klog_fetch_next_seq();
    __atomic_store_n(&mix_len, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mix_armed, true, __ATOMIC_RELEASE);

    unsigned arrived = 0, reached = 0;
    struct mixer mx[MIX_CPUS];
    struct thread *th[MIX_CPUS];
    for (unsigned c = 0; c < n; c++) {
        mx[c] = (struct mixer){c, n, &arrived, &reached, 0, 0};
        ASSERT_OK(thread_create("t-conmix", mix_worker, &mx[c], PRIO_DEFAULT, &th[c]));
        ASSERT_OK(thread_set_cpu(th[c], c, true));
        thread_start(th[c]);
    }
    for (unsigned c = 0; c < n; c++)
        ASSERT_OK(thread_join(th[c], clock_monotonic_ns() + 30000000000ull, NULL));
    __atomic_store_n(&mix_armed, false, __ATOMIC_RELEASE);

    // The console: every line naming conmix is whole, and all arrived.
    uint32_t len = __atomic_load_n(&mix_len, __ATOMIC_RELAXED);
    ASSERT_TRUE(len <= MIX_BUF);
    unsigned whole[MIX_CPUS] = {0}, broken = 0, klogs = 0;
    for (uint32_t at = 0; at < len;) {
        const char *s = mix_buf + at, *nl = find_byte(s, len - at, '\n');
        size_t raw = nl ? (size_t)(nl - s) : len - at, ln = raw;
        unsigned cpu;
        if (mix_line_ok(s, ln, true, &cpu))
            whole[cpu]++;
        else if (contains(s, ln, "conmix") && broken++ < 3)
            KTEST_FAIL_(t, "mixed console line: %.*s", (int)MIN(ln, (size_t)160), s);
        at += (uint32_t)raw + (nl ? 1 : 0);
    }
    EXPECT_EQ(broken, 0u);
    for (unsigned c = 0; c < n; c++) {
        EXPECT_GE(mx[c].lines, (unsigned)MIX_ROUNDS);
        EXPECT_EQ(whole[c], mx[c].lines);
        klogs += mx[c].klogs;
    }

    // The log: every printk record of the run is whole too.
    static struct klog_entry e;
    unsigned records = 0;
    while (klog_fetch(&seq, &e)) {
        unsigned cpu;
        if (strncmp(e.text, "conmix", 6))
            continue;
        EXPECT_TRUE(mix_line_ok(e.text, strlen(e.text), false, &cpu));
        records++;
    }
    EXPECT_EQ(records, klogs);
}

// A printk on the CPU that is in the middle of one (a fault or NMI report
// from inside printk or a console sink) goes out at once instead of
// waiting for the lock its own CPU holds.
static void console_printk_inside_printk_does_not_hang(struct ktest *t)
{
    if (!mix_sink_set) {
        ASSERT_OK(console_add_sink(mix_sink));
        mix_sink_set = true;
    }
    uint64_t seq = klog_fetch_next_seq();
    __atomic_store_n(&reenter, true, __ATOMIC_RELEASE);
    printk_line(LOG_INFO, "conmix-re outer", 15, true);
    EXPECT_FALSE(__atomic_load_n(&reenter, __ATOMIC_ACQUIRE));
    static struct klog_entry e;
    unsigned inner = 0, outer = 0;
    while (klog_fetch(&seq, &e)) {
        inner += !strcmp(e.text, "conmix-re inner");
        outer += !strcmp(e.text, "conmix-re outer");
    }
    EXPECT_EQ(inner, 1u);
    EXPECT_EQ(outer, 1u);
}

KTEST_SUITE(console_smp, KTEST_CASE(console_lines_stay_whole_across_cpus),
            KTEST_CASE(console_printk_inside_printk_does_not_hang), );
