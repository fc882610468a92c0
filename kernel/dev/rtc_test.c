// nimbus:host
// Tests of the CMOS RTC: calendar conversion (against timegm() on the host),
// decoding per status register B, and the read protocol on a fake chip that
// updates under the reader. Kernel builds add `rtc_live`, which reads the
// real chip.
#include "dev/rtc.h"
#include "lib/ktest.h"

#ifdef HOST_TEST
#include <time.h>
#endif

#define SECS_PER_DAY 86400ull

static uint64_t to_unix(struct ktest *t, uint16_t y, uint8_t mo, uint8_t d, uint8_t h, uint8_t mi,
                        uint8_t s)
{
    struct rtc_time tm = {y, mo, d, h, mi, s};
    uint64_t secs = 0;
    EXPECT_OK(rtc_time_to_unix(&tm, &secs));
    return secs;
}

// Instants whose Unix times are well known: the epoch, the 2000 leap day,
// the signed and unsigned 32-bit limits, the start of 2024.
static void rtc_unix_anchors(struct ktest *t)
{
    EXPECT_EQ(to_unix(t, 1970, 1, 1, 0, 0, 0), 0ull);
    EXPECT_EQ(to_unix(t, 1970, 1, 2, 0, 0, 0), SECS_PER_DAY);
    EXPECT_EQ(to_unix(t, 2000, 1, 1, 0, 0, 0), 946684800ull);
    EXPECT_EQ(to_unix(t, 2000, 2, 29, 0, 0, 0), 951782400ull);
    EXPECT_EQ(to_unix(t, 2000, 3, 1, 0, 0, 0), 951868800ull);
    EXPECT_EQ(to_unix(t, 2024, 1, 1, 0, 0, 0), 1704067200ull);
    EXPECT_EQ(to_unix(t, 2038, 1, 19, 3, 14, 7), 0x7fffffffull);
    EXPECT_EQ(to_unix(t, 2038, 1, 19, 3, 14, 8), 0x80000000ull);
    EXPECT_EQ(to_unix(t, 2106, 2, 7, 6, 28, 16), 0x100000000ull);
}

// The test's own calendar, written apart from the code under test.
static unsigned month_days(unsigned y, unsigned m)
{
    if (m == 2)
        return (y % 400 == 0 || (y % 4 == 0 && y % 100 != 0)) ? 29 : 28;
    return (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
}

#ifdef HOST_TEST
static uint64_t reference_unix(const struct rtc_time *tm)
{
    struct tm c = {.tm_year = tm->year - 1900,
                   .tm_mon = tm->month - 1,
                   .tm_mday = tm->day,
                   .tm_hour = tm->hour,
                   .tm_min = tm->minute,
                   .tm_sec = tm->second};
    return (uint64_t)timegm(&c);
}
#endif

// Every day from 1970 through 2400 (which covers 2000, 2100, 2400 and the
// 32-bit limits): each is one day after the one before, and matches timegm()
// on the host. Times of day vary with the date.
static void rtc_unix_every_day(struct ktest *t)
{
    struct rtc_time tm = {1970, 1, 1, 0, 0, 0};
    uint64_t prev = 0, days = 0;
    for (; tm.year <= 2400; days++) {
        tm.hour = (uint8_t)(days % 24);
        tm.minute = (uint8_t)(days % 60);
        tm.second = (uint8_t)(days * 7 % 60);
        uint64_t secs;
        ASSERT_OK(rtc_time_to_unix(&tm, &secs));
        uint64_t midnight = secs - tm.hour * 3600u - tm.minute * 60u - tm.second;
        ASSERT_EQ(midnight, days * SECS_PER_DAY);
        if (days)
            ASSERT_EQ(midnight - prev, SECS_PER_DAY);
#ifdef HOST_TEST
        ASSERT_EQ(secs, reference_unix(&tm));
#endif
        prev = midnight;
        if (++tm.day > month_days(tm.year, tm.month)) {
            tm.day = 1;
            if (++tm.month > 12) {
                tm.month = 1;
                tm.year++;
            }
        }
    }
    EXPECT_EQ(days, 431 * 365ull + 105); // 1970..2400: 105 leap years
}

static bool valid(uint16_t y, uint8_t mo, uint8_t d, uint8_t h, uint8_t mi, uint8_t s)
{
    struct rtc_time tm = {y, mo, d, h, mi, s};
    return rtc_time_valid(&tm);
}

static void rtc_time_validation(struct ktest *t)
{
    EXPECT_TRUE(valid(2000, 2, 29, 0, 0, 0));
    EXPECT_TRUE(valid(2024, 2, 29, 12, 0, 0));
    EXPECT_TRUE(valid(2099, 12, 31, 23, 59, 59));
    EXPECT_TRUE(valid(2024, 4, 30, 0, 0, 0));
    EXPECT_FALSE(valid(2100, 2, 29, 0, 0, 0)); // century, not a leap year
    EXPECT_FALSE(valid(2023, 2, 29, 0, 0, 0));
    EXPECT_FALSE(valid(2024, 2, 30, 0, 0, 0));
    EXPECT_FALSE(valid(2024, 4, 31, 0, 0, 0));
    EXPECT_FALSE(valid(2024, 0, 1, 0, 0, 0));
    EXPECT_FALSE(valid(2024, 13, 1, 0, 0, 0));
    EXPECT_FALSE(valid(2024, 1, 0, 0, 0, 0));
    EXPECT_FALSE(valid(2024, 1, 1, 24, 0, 0));
    EXPECT_FALSE(valid(2024, 1, 1, 0, 60, 0));
    EXPECT_FALSE(valid(2024, 1, 1, 0, 0, 60));
    EXPECT_FALSE(valid(1969, 12, 31, 23, 59, 59));
    struct rtc_time bad = {2023, 2, 29, 0, 0, 0};
    uint64_t secs = 1;
    EXPECT_STATUS(rtc_time_to_unix(&bad, &secs), ERR_INVALID_ARGS);
    EXPECT_EQ(secs, 1ull); // untouched
}

static void expect_time(struct ktest *t, const struct rtc_time *tm, uint16_t y, uint8_t mo,
                        uint8_t d, uint8_t h, uint8_t mi, uint8_t s)
{
    EXPECT_EQ(tm->year, y);
    EXPECT_EQ(tm->month, mo);
    EXPECT_EQ(tm->day, d);
    EXPECT_EQ(tm->hour, h);
    EXPECT_EQ(tm->minute, mi);
    EXPECT_EQ(tm->second, s);
}

static void rtc_decode_bcd_and_binary(struct ktest *t)
{
    struct rtc_time tm;
    struct rtc_regs bcd = {
        .second = 0x59, .minute = 0x58, .hour = 0x23, .day = 0x31, .month = 0x12, .year = 0x99};
    ASSERT_OK(rtc_decode(&bcd, RTC_B_24H, false, &tm));
    expect_time(t, &tm, 2099, 12, 31, 23, 58, 59);
    struct rtc_regs bin = {
        .second = 59, .minute = 58, .hour = 23, .day = 29, .month = 2, .year = 24};
    ASSERT_OK(rtc_decode(&bin, RTC_B_24H | RTC_B_BINARY, false, &tm));
    expect_time(t, &tm, 2024, 2, 29, 23, 58, 59);
    // The same bytes read as BCD mean something else (0x3b is not BCD).
    EXPECT_STATUS(rtc_decode(&bin, RTC_B_24H, false, &tm), ERR_BAD_FORMAT);
}

static uint8_t hour12(struct ktest *t, uint8_t raw, uint8_t status_b)
{
    struct rtc_regs r = {.hour = raw, .day = 1, .month = 1, .year = 24};
    struct rtc_time tm = {0};
    EXPECT_OK(rtc_decode(&r, status_b, false, &tm));
    return tm.hour;
}

static void rtc_decode_12_hour(struct ktest *t)
{
    EXPECT_EQ(hour12(t, 0x12, 0), 0); // 12 AM is midnight
    EXPECT_EQ(hour12(t, 0x01, 0), 1);
    EXPECT_EQ(hour12(t, 0x11, 0), 11);
    EXPECT_EQ(hour12(t, RTC_HOUR_PM | 0x12, 0), 12); // 12 PM is noon
    EXPECT_EQ(hour12(t, RTC_HOUR_PM | 0x01, 0), 13);
    EXPECT_EQ(hour12(t, RTC_HOUR_PM | 0x11, 0), 23);
    EXPECT_EQ(hour12(t, RTC_HOUR_PM | 12, RTC_B_BINARY), 12);
    EXPECT_EQ(hour12(t, RTC_HOUR_PM | 7, RTC_B_BINARY), 19);
    EXPECT_EQ(hour12(t, 12, RTC_B_BINARY), 0);
    struct rtc_regs r = {.hour = 0x00, .day = 1, .month = 1, .year = 24};
    struct rtc_time tm;
    EXPECT_STATUS(rtc_decode(&r, 0, false, &tm), ERR_BAD_FORMAT); // no hour 0 on a 12-hour clock
    r.hour = 0x13;
    EXPECT_STATUS(rtc_decode(&r, 0, false, &tm), ERR_BAD_FORMAT);
    r.hour = RTC_HOUR_PM | 0x01;
    EXPECT_STATUS(rtc_decode(&r, RTC_B_24H, false, &tm), ERR_BAD_FORMAT); // PM flag in 24-hour mode
}

static void rtc_decode_rejects_garbage(struct ktest *t)
{
    struct rtc_time tm;
    struct rtc_regs ok = {
        .second = 0x30, .minute = 0x30, .hour = 0x10, .day = 0x15, .month = 0x06, .year = 0x24};
    ASSERT_OK(rtc_decode(&ok, RTC_B_24H, false, &tm));
    struct rtc_regs r = ok;
    r.second = 0x5a;
    EXPECT_STATUS(rtc_decode(&r, RTC_B_24H, false, &tm), ERR_BAD_FORMAT);
    r = ok;
    r.day = 0x31; // June 31st
    EXPECT_STATUS(rtc_decode(&r, RTC_B_24H, false, &tm), ERR_BAD_FORMAT);
    r = ok;
    r.month = 0x13;
    EXPECT_STATUS(rtc_decode(&r, RTC_B_24H, false, &tm), ERR_BAD_FORMAT);
    r = ok;
    r.month = 0x02;
    r.day = 0x29;
    r.year = 0x23;
    EXPECT_STATUS(rtc_decode(&r, RTC_B_24H, false, &tm), ERR_BAD_FORMAT);
    struct rtc_regs absent = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; // no chip on the bus
    EXPECT_STATUS(rtc_decode(&absent, 0xff, false, &tm), ERR_BAD_FORMAT);
    EXPECT_STATUS(rtc_decode(&absent, 0, true, &tm), ERR_BAD_FORMAT);
}

static void rtc_decode_century(struct ktest *t)
{
    struct rtc_time tm;
    struct rtc_regs r = {.second = 0,
                         .minute = 0,
                         .hour = 0,
                         .day = 0x31,
                         .month = 0x12,
                         .year = 0x99,
                         .century = 0x19};
    ASSERT_OK(rtc_decode(&r, RTC_B_24H, true, &tm));
    EXPECT_EQ(tm.year, 1999);
    r.century = 0x21;
    r.year = 0x00;
    ASSERT_OK(rtc_decode(&r, RTC_B_24H, true, &tm));
    EXPECT_EQ(tm.year, 2100);
    r = (struct rtc_regs){.day = 19, .month = 1, .year = 38, .century = 20};
    ASSERT_OK(rtc_decode(&r, RTC_B_24H | RTC_B_BINARY, true, &tm));
    EXPECT_EQ(tm.year, 2038);
    r.century = 0x1a;
    EXPECT_STATUS(rtc_decode(&r, RTC_B_24H, true, &tm), ERR_BAD_FORMAT);
}

// A fake MC146818: keeps a binary time, encodes it per status B on every
// read, and advances it one second at chosen moments.
#define FAKE_CENTURY_REG 0x32

struct fake_rtc {
    struct rtc_time now;
    uint8_t status_b;
    uint8_t status_d;
    int uip_reads;      // status A reads that still show an update in progress
    int time_reads;     // time registers read so far
    int tick_at;        // advance the time when time_reads reaches this (0: never)
    int tick_every;     // then again every this many reads (0: once)
    bool stuck_uip;     // update-in-progress never clears
    int status_a_reads; // how often status A was polled
};

static void fake_tick(struct fake_rtc *f)
{
    struct rtc_time *n = &f->now;
    if (++n->second < 60)
        return;
    n->second = 0;
    if (++n->minute < 60)
        return;
    n->minute = 0;
    if (++n->hour < 24)
        return;
    n->hour = 0;
    if (++n->day <= month_days(n->year, n->month))
        return;
    n->day = 1;
    if (++n->month <= 12)
        return;
    n->month = 1;
    n->year++;
}

static uint8_t to_bcd(unsigned v)
{
    return (uint8_t)((v / 10) << 4 | (v % 10));
}

static uint8_t fake_encode(const struct fake_rtc *f, unsigned v)
{
    return (f->status_b & RTC_B_BINARY) ? (uint8_t)v : to_bcd(v);
}

static uint8_t fake_hour(const struct fake_rtc *f)
{
    unsigned h = f->now.hour;
    if (f->status_b & RTC_B_24H)
        return fake_encode(f, h);
    uint8_t pm = h >= 12 ? RTC_HOUR_PM : 0;
    return (uint8_t)(fake_encode(f, h % 12 == 0 ? 12 : h % 12) | pm);
}

static uint8_t fake_time_reg(struct fake_rtc *f, uint8_t reg)
{
    switch (reg) {
    case RTC_REG_SECONDS:
        return fake_encode(f, f->now.second);
    case RTC_REG_MINUTES:
        return fake_encode(f, f->now.minute);
    case RTC_REG_HOURS:
        return fake_hour(f);
    case RTC_REG_DAY:
        return fake_encode(f, f->now.day);
    case RTC_REG_MONTH:
        return fake_encode(f, f->now.month);
    case RTC_REG_YEAR:
        return fake_encode(f, f->now.year % 100);
    case FAKE_CENTURY_REG:
        return fake_encode(f, f->now.year / 100);
    }
    return 0xff;
}

static uint8_t fake_read(void *ctx, uint8_t reg)
{
    struct fake_rtc *f = ctx;
    if (reg == RTC_REG_STATUS_A) {
        f->status_a_reads++;
        if (f->stuck_uip || f->uip_reads > 0) {
            f->uip_reads--;
            return RTC_A_UIP;
        }
        return 0;
    }
    if (reg == RTC_REG_STATUS_B)
        return f->status_b;
    if (reg == RTC_REG_STATUS_D)
        return f->status_d;
    uint8_t v = fake_time_reg(f, reg);
    f->time_reads++;
    if (f->tick_at && f->time_reads >= f->tick_at) {
        fake_tick(f);
        f->tick_at = f->tick_every ? f->time_reads + f->tick_every : 0;
    }
    return v;
}

static struct fake_rtc fake_at(uint16_t y, uint8_t mo, uint8_t d, uint8_t h, uint8_t mi, uint8_t s)
{
    return (struct fake_rtc){
        .now = {y, mo, d, h, mi, s}, .status_b = RTC_B_24H, .status_d = RTC_D_VRT};
}

static void rtc_read_plain(struct ktest *t)
{
    struct fake_rtc f = fake_at(2024, 2, 29, 13, 5, 9);
    f.uip_reads = 3;
    struct rtc_time tm;
    ASSERT_OK(rtc_read_time(fake_read, &f, RTC_NO_CENTURY, &tm));
    expect_time(t, &tm, 2024, 2, 29, 13, 5, 9);
    EXPECT_GE(f.status_a_reads, 4); // waited out the update
}

// The update lands in the middle of the first snapshot (after the hours,
// before the date) on New Year's Eve: the torn reading (2024-01-01 23:59:59)
// must not come out.
static void rtc_read_torn_update(struct ktest *t)
{
    static const uint8_t modes[] = {RTC_B_24H, RTC_B_24H | RTC_B_BINARY, 0, RTC_B_BINARY};
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        struct fake_rtc f = fake_at(2023, 12, 31, 23, 59, 59);
        f.status_b = modes[i];
        f.tick_at = 3;
        struct rtc_time tm;
        ASSERT_OK(rtc_read_time(fake_read, &f, FAKE_CENTURY_REG, &tm));
        expect_time(t, &tm, 2024, 1, 1, 0, 0, 0);
    }
}

// No chip: every register reads all ones.
static uint8_t floating_bus(void *ctx, uint8_t reg)
{
    struct fake_rtc *f = ctx;
    if (reg != RTC_REG_STATUS_A && reg != RTC_REG_STATUS_B && reg != RTC_REG_STATUS_D)
        f->time_reads++;
    return 0xff;
}

static void rtc_read_failures(struct ktest *t)
{
    struct rtc_time tm;
    struct fake_rtc f = fake_at(2024, 1, 1, 0, 0, 0);
    f.stuck_uip = true;
    EXPECT_STATUS(rtc_read_time(fake_read, &f, RTC_NO_CENTURY, &tm), ERR_TIMED_OUT);
    f = fake_at(2024, 1, 1, 0, 0, 0);
    f.status_d = 0; // the battery died: the time is not valid
    EXPECT_STATUS(rtc_read_time(fake_read, &f, RTC_NO_CENTURY, &tm), ERR_BAD_STATE);
    f = fake_at(2024, 1, 1, 0, 0, 0); // only its read counter is used
    EXPECT_STATUS(rtc_read_time(floating_bus, &f, RTC_NO_CENTURY, &tm), ERR_NOT_FOUND);
    EXPECT_EQ(f.time_reads, 0);
    f = fake_at(2024, 1, 1, 0, 0, 0);
    f.tick_at = 1;
    f.tick_every = 6; // changes within every snapshot, forever
    EXPECT_STATUS(rtc_read_time(fake_read, &f, RTC_NO_CENTURY, &tm), ERR_TIMED_OUT);
}

KTEST_SUITE(rtc, KTEST_CASE(rtc_unix_anchors), KTEST_CASE(rtc_unix_every_day),
            KTEST_CASE(rtc_time_validation), KTEST_CASE(rtc_decode_bcd_and_binary),
            KTEST_CASE(rtc_decode_12_hour), KTEST_CASE(rtc_decode_rejects_garbage),
            KTEST_CASE(rtc_decode_century), KTEST_CASE(rtc_read_plain),
            KTEST_CASE(rtc_read_torn_update), KTEST_CASE(rtc_read_failures));

#ifndef HOST_TEST
#include "sched/clock.h"

#define NS_PER_SEC      1000000000ull
#define UNIX_2024_01_01 1704067200ull
#define RTC_AGREE_SECS  3 // whole-second RTC plus the time between the readings

static void rtc_live_reads_a_recent_date(struct ktest *t)
{
    struct rtc_time tm;
    status_t st = rtc_read(&tm);
    if (st == ERR_NOT_FOUND)
        KTEST_SKIP("no CMOS RTC on this machine");
    ASSERT_OK(st);
    EXPECT_TRUE(rtc_time_valid(&tm));
    EXPECT_GE(tm.year, 2024); // QEMU sets the RTC from the host clock
}

static void rtc_live_agrees_with_wall_clock(struct ktest *t)
{
    struct rtc_time tm;
    uint64_t secs;
    status_t st = rtc_read(&tm);
    if (st == ERR_NOT_FOUND)
        KTEST_SKIP("no CMOS RTC on this machine");
    ASSERT_OK(st);
    ASSERT_OK(rtc_time_to_unix(&tm, &secs));
    uint64_t wall = clock_realtime_ns() / NS_PER_SEC;
    ASSERT_GE(wall, UNIX_2024_01_01);
    uint64_t diff = wall > secs ? wall - secs : secs - wall;
    EXPECT_LE(diff, (uint64_t)RTC_AGREE_SECS);
}

KTEST_SUITE(rtc_live, KTEST_CASE(rtc_live_reads_a_recent_date),
            KTEST_CASE(rtc_live_agrees_with_wall_clock));
#endif
