// Tests of the commands' formatting (user/lib/sysinfo.c): type names,
// rights letters, sizes, states, times, dates (against the host's gmtime),
// log records and process ids.
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/ktest.h"
#include "nb/sysinfo.h"
#include "nimbus/object.h"

static void sysinfo_fmt_types_rights(struct ktest *t)
{
    char buf[NB_RIGHTS_BUF];
    EXPECT_STREQ(nb_object_type_name(OBJ_CHANNEL), "channel");
    EXPECT_STREQ(nb_object_type_name(OBJ_VMO), "vmo");
    EXPECT_STREQ(nb_object_type_name(OBJ_LOG), "log");
    EXPECT_STREQ(nb_object_type_name(OBJ_RESOURCE), "resource");
    EXPECT_STREQ(nb_object_type_name(OBJ_NONE), "none");
    EXPECT_STREQ(nb_object_type_name(OBJ_TYPE_COUNT), "?");
    EXPECT_STREQ(nb_object_type_name(UINT32_MAX), "?");
    for (uint32_t i = 0; i < OBJ_TYPE_COUNT; i++)
        EXPECT_TRUE(strcmp(nb_object_type_name(i), "?") != 0);

    EXPECT_STREQ(nb_format_rights(RIGHT_NONE, buf, sizeof(buf)), "-----------");
    EXPECT_STREQ(nb_format_rights(RIGHTS_ALL, buf, sizeof(buf)), NB_RIGHTS_LETTERS);
    EXPECT_STREQ(nb_format_rights(RIGHT_READ | RIGHT_WRITE | RIGHT_WAIT, buf, sizeof(buf)),
                 "rw------W--");
    EXPECT_STREQ(nb_format_rights(RIGHT_MANAGE | RIGHT_INSPECT, buf, sizeof(buf)), "---------IM");
    EXPECT_STREQ(nb_format_rights(RIGHT_EXECUTE | RIGHT_SAME_RIGHTS, buf, sizeof(buf)),
                 "-----x-----+");
    // Cut to the buffer, always terminated.
    char small[4];
    EXPECT_STREQ(nb_format_rights(RIGHTS_ALL, small, sizeof(small)), "rwd");
}

static void sysinfo_fmt_sizes_states(struct ktest *t)
{
    char buf[32];
    EXPECT_STREQ(nb_format_size(0, buf, sizeof(buf)), "0 B");
    EXPECT_STREQ(nb_format_size(1023, buf, sizeof(buf)), "1023 B");
    EXPECT_STREQ(nb_format_size(1024, buf, sizeof(buf)), "1.0 KiB");
    EXPECT_STREQ(nb_format_size(1536, buf, sizeof(buf)), "1.5 KiB");
    EXPECT_STREQ(nb_format_size(1024 * 1024 - 1, buf, sizeof(buf)), "1023.9 KiB");
    EXPECT_STREQ(nb_format_size(256ull << 20, buf, sizeof(buf)), "256.0 MiB");
    EXPECT_STREQ(nb_format_size((3ull << 30) + (1ull << 29), buf, sizeof(buf)), "3.5 GiB");
    EXPECT_STREQ(nb_format_size(UINT64_MAX, buf, sizeof(buf)), "15.9 EiB");

    EXPECT_STREQ(nb_process_state_name(NB_PROCESS_NEW, 0), "new");
    EXPECT_STREQ(nb_process_state_name(NB_PROCESS_RUNNING, 0), "running");
    EXPECT_STREQ(nb_process_state_name(NB_PROCESS_DEAD, 0), "dead");
    EXPECT_STREQ(nb_process_state_name(NB_PROCESS_DEAD, NB_PROCESS_KILLED), "killed");
    EXPECT_STREQ(nb_process_state_name(NB_PROCESS_DEAD, NB_PROCESS_FAULTED), "faulted");
    EXPECT_STREQ(nb_process_state_name(7, 0), "?");
}

static void sysinfo_fmt_times(struct ktest *t)
{
    char buf[48];
    EXPECT_STREQ(nb_format_seconds(0, buf, sizeof(buf)), "0.000");
    EXPECT_STREQ(nb_format_seconds(1234567890, buf, sizeof(buf)), "1.234");
    EXPECT_STREQ(nb_format_uptime(0, buf, sizeof(buf)), "0:00:00");
    EXPECT_STREQ(nb_format_uptime(3723ull * 1000000000, buf, sizeof(buf)), "1:02:03");
    EXPECT_STREQ(nb_format_uptime(86399ull * 1000000000, buf, sizeof(buf)), "23:59:59");
    EXPECT_STREQ(nb_format_uptime(86400ull * 1000000000, buf, sizeof(buf)), "1 day, 0:00:00");
    EXPECT_STREQ(nb_format_uptime((2 * 86400ull + 61) * 1000000000, buf, sizeof(buf)),
                 "2 days, 0:01:01");

    EXPECT_STREQ(nb_format_date(0, buf, sizeof(buf)), "1970-01-01 00:00:00 UTC");
    EXPECT_STREQ(nb_format_date(951782400ull * 1000000000, buf, sizeof(buf)),
                 "2000-02-29 00:00:00 UTC");
    EXPECT_STREQ(nb_format_date(1709251199ull * 1000000000 + 999999999, buf, sizeof(buf)),
                 "2024-02-29 23:59:59 UTC");
    // Against the host's calendar, over 2^34 seconds (to year 2514; u64 ns end in 2554).
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        time_t s = (time_t)(i < 1000 ? (uint64_t)i * 86400 * 366 / 3 : x % (1ull << 34));
        struct tm tm;
        char want[48];
        gmtime_r(&s, &tm);
        strftime(want, sizeof(want), "%Y-%m-%d %H:%M:%S UTC", &tm);
        nb_format_date((uint64_t)s * 1000000000, buf, sizeof(buf));
        if (strcmp(buf, want)) {
            KTEST_FAIL_(t, "%lld seconds: %s, want %s", (long long)s, buf, want);
            return;
        }
    }
}

static void sysinfo_fmt_log_pid(struct ktest *t)
{
    static struct nb_log_record rec;
    char buf[NB_LOG_LINE_MAX + 32];
    rec.ts_ns = 1234567891;
    strcpy(rec.line, "hello");
    rec.len = 5;
    EXPECT_STREQ(nb_format_log_record(&rec, buf, sizeof(buf)), "[    1.234567] hello");
    rec.ts_ns = 123456ull * 1000000000;
    rec.len = 3; // the length counts, not the NUL
    EXPECT_STREQ(nb_format_log_record(&rec, buf, sizeof(buf)), "[123456.000000] hel");
    memset(rec.line, 'x', sizeof(rec.line)); // no NUL at all: len still bounds it
    rec.len = 9999;
    nb_format_log_record(&rec, buf, sizeof(buf));
    EXPECT_EQ(strlen(buf), 16 + sizeof(rec.line));

    uint64_t pid = 0;
    EXPECT_OK(nb_parse_pid("1", &pid));
    EXPECT_EQ(pid, 1u);
    EXPECT_OK(nb_parse_pid("18446744073709551615", &pid));
    EXPECT_EQ(pid, UINT64_MAX);
    EXPECT_STATUS(nb_parse_pid("18446744073709551616", &pid), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_parse_pid("0", &pid), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_parse_pid("", &pid), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_parse_pid(NULL, &pid), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_parse_pid("-1", &pid), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_parse_pid("12a", &pid), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_parse_pid(" 12", &pid), ERR_INVALID_ARGS);
}

KTEST_SUITE(sysinfo_fmt, KTEST_CASE(sysinfo_fmt_types_rights), KTEST_CASE(sysinfo_fmt_sizes_states),
            KTEST_CASE(sysinfo_fmt_times), KTEST_CASE(sysinfo_fmt_log_pid));
