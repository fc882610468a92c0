// nimbus:host
// The CMOS real-time clock: the read protocol and calendar arithmetic (pure,
// also built into the host tests), then the port access and the boot-time
// wall clock (kernel only).
#include "dev/rtc.h"

#define RTC_UIP_SPINS     100000 // status A reads before giving up on an update
#define RTC_READ_ATTEMPTS 100    // snapshot pairs before giving up on a stable time
#define RTC_YEAR_BASE     2000   // without a century register
#define UNIX_EPOCH_YEAR   1970
#define SECS_PER_DAY      86400ull
#define BCD_BAD           0xff
#define RTC_FLOATING_BUS  0xff // what reads of a port with no device return

// Cumulative days before each month in a common year.
static const uint16_t days_before_month[12] = {0,   31,  59,  90,  120, 151,
                                               181, 212, 243, 273, 304, 334};

static bool is_leap(unsigned year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static unsigned days_in_month(unsigned year, unsigned month)
{
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return days[month - 1] + (month == 2 && is_leap(year));
}

// Leap years in [1, year).
static uint64_t leaps_before(unsigned year)
{
    unsigned y = year - 1;
    return y / 4 - y / 100 + y / 400;
}

bool rtc_time_valid(const struct rtc_time *tm)
{
    if (tm->year < UNIX_EPOCH_YEAR || tm->month < 1 || tm->month > 12)
        return false;
    if (tm->day < 1 || tm->day > days_in_month(tm->year, tm->month))
        return false;
    return tm->hour < 24 && tm->minute < 60 && tm->second < 60;
}

status_t rtc_time_to_unix(const struct rtc_time *tm, uint64_t *secs)
{
    if (!rtc_time_valid(tm))
        return ERR_INVALID_ARGS;
    uint64_t days = 365ull * (tm->year - UNIX_EPOCH_YEAR) + leaps_before(tm->year) -
                    leaps_before(UNIX_EPOCH_YEAR) + days_before_month[tm->month - 1] +
                    (tm->month > 2 && is_leap(tm->year)) + tm->day - 1u;
    *secs = days * SECS_PER_DAY + tm->hour * 3600u + tm->minute * 60u + tm->second;
    return OK;
}

// A BCD byte as binary, or BCD_BAD when a digit is over 9.
static uint8_t from_bcd(uint8_t v)
{
    if ((v & 0xf) > 9 || (v >> 4) > 9)
        return BCD_BAD;
    return (uint8_t)((v >> 4) * 10 + (v & 0xf));
}

static uint8_t field(uint8_t v, bool binary)
{
    return binary ? v : from_bcd(v);
}

// Hours per status B; BCD_BAD when out of range. 12-hour mode counts
// 12, 1, ..., 11 from midnight and again from noon, with the PM flag.
static uint8_t decode_hour(uint8_t raw, uint8_t status_b)
{
    bool binary = status_b & RTC_B_BINARY;
    if (status_b & RTC_B_24H)
        return field(raw, binary);
    uint8_t h = field(raw & (uint8_t)~RTC_HOUR_PM, binary);
    if (h < 1 || h > 12)
        return BCD_BAD;
    return (uint8_t)(h % 12 + ((raw & RTC_HOUR_PM) ? 12 : 0));
}

status_t rtc_decode(const struct rtc_regs *raw, uint8_t status_b, bool has_century,
                    struct rtc_time *out)
{
    bool binary = status_b & RTC_B_BINARY;
    uint8_t yy = field(raw->year, binary);
    uint8_t cc = has_century ? field(raw->century, binary) : RTC_YEAR_BASE / 100;
    if (yy > 99 || cc > 99)
        return ERR_BAD_FORMAT;
    struct rtc_time tm = {
        .year = (uint16_t)(cc * 100u + yy),
        .month = field(raw->month, binary),
        .day = field(raw->day, binary),
        .hour = decode_hour(raw->hour, status_b),
        .minute = field(raw->minute, binary),
        .second = field(raw->second, binary),
    };
    if (!rtc_time_valid(&tm))
        return ERR_BAD_FORMAT;
    *out = tm;
    return OK;
}

// Waits until status A shows no update in progress.
static bool wait_no_update(rtc_read_fn read, void *ctx)
{
    for (int i = 0; i < RTC_UIP_SPINS; i++)
        if (!(read(ctx, RTC_REG_STATUS_A) & RTC_A_UIP))
            return true;
    return false;
}

static bool snapshot(rtc_read_fn read, void *ctx, uint8_t century_reg, struct rtc_regs *r)
{
    if (!wait_no_update(read, ctx))
        return false;
    r->second = read(ctx, RTC_REG_SECONDS);
    r->minute = read(ctx, RTC_REG_MINUTES);
    r->hour = read(ctx, RTC_REG_HOURS);
    r->day = read(ctx, RTC_REG_DAY);
    r->month = read(ctx, RTC_REG_MONTH);
    r->year = read(ctx, RTC_REG_YEAR);
    r->century = century_reg != RTC_NO_CENTURY ? read(ctx, century_reg) : 0;
    return true;
}

static bool same_regs(const struct rtc_regs *a, const struct rtc_regs *b)
{
    return a->second == b->second && a->minute == b->minute && a->hour == b->hour &&
           a->day == b->day && a->month == b->month && a->year == b->year &&
           a->century == b->century;
}

// A chip that is not there reads as all ones (status A would claim an
// update in progress forever). Two equal snapshots in a row cannot straddle
// an update: an update changes
// at least the seconds, so a torn read differs from its neighbour.
status_t rtc_read_time(rtc_read_fn read, void *ctx, uint8_t century_reg, struct rtc_time *out)
{
    if (read(ctx, RTC_REG_STATUS_A) == RTC_FLOATING_BUS &&
        read(ctx, RTC_REG_STATUS_B) == RTC_FLOATING_BUS)
        return ERR_NOT_FOUND;
    if (!(read(ctx, RTC_REG_STATUS_D) & RTC_D_VRT))
        return ERR_BAD_STATE;
    struct rtc_regs prev, cur;
    if (!snapshot(read, ctx, century_reg, &prev))
        return ERR_TIMED_OUT;
    for (int i = 0; i < RTC_READ_ATTEMPTS; i++) {
        if (!snapshot(read, ctx, century_reg, &cur))
            return ERR_TIMED_OUT;
        if (same_regs(&prev, &cur)) {
            uint8_t status_b = read(ctx, RTC_REG_STATUS_B);
            return rtc_decode(&cur, status_b, century_reg != RTC_NO_CENTURY, out);
        }
        prev = cur;
    }
    return ERR_TIMED_OUT;
}

#ifndef HOST_TEST
#include "arch.h"
#include "dev/acpi.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "sched/clock.h"

#define CMOS_PORT_INDEX 0x70 // bit 7 of the index masks NMIs: kept clear
#define CMOS_PORT_DATA  0x71
#define CMOS_REG_LIMIT  0x80 // 128 registers (bit 7 of the index is the NMI mask)
#define FADT_CENTURY    108  // offset of the CENTURY byte (a CMOS index) in the FADT
#define NS_PER_SEC      1000000000ull

static struct spinlock cmos_lock = SPINLOCK_INIT("cmos"); // the index/data port pair

// One index/data pair; callers hold cmos_lock.
static uint8_t cmos_read(void *ctx, uint8_t reg)
{
    arch_pio_out8(CMOS_PORT_INDEX, reg);
    return arch_pio_in8(CMOS_PORT_DATA);
}

// The CMOS index of the century register from the FADT, or RTC_NO_CENTURY.
static uint8_t fadt_century_reg(const struct acpi_info *ai)
{
    const struct acpi_table *t = ai ? acpi_table_find(ai, "FACP") : NULL;
    if (!t || t->length <= FADT_CENTURY)
        return RTC_NO_CENTURY;
    const uint8_t *b = acpi_read_phys(t->pa + FADT_CENTURY, 1, NULL);
    if (!b || *b >= CMOS_REG_LIMIT || *b <= RTC_REG_STATUS_D)
        return RTC_NO_CENTURY;
    return *b;
}

static bool acpi_says_no_rtc(const struct acpi_info *ai)
{
    return ai && ai->fadt.present && ai->fadt.boot_flags_valid &&
           (ai->fadt.boot_flags & ACPI_BOOT_NO_CMOS_RTC);
}

// The century register, from the FADT (RTC_NO_CENTURY before ACPI is up).
static uint8_t century_reg(void)
{
    return fadt_century_reg(acpi());
}

status_t rtc_read(struct rtc_time *out)
{
    if (acpi_says_no_rtc(acpi()))
        return ERR_NOT_FOUND;
    uint8_t century = century_reg();
    irqstate_t s = spin_lock_irqsave(&cmos_lock);
    status_t st = rtc_read_time(cmos_read, NULL, century, out);
    spin_unlock_irqrestore(&cmos_lock, s);
    return st;
}

void rtc_init(void)
{
    struct rtc_time tm;
    uint64_t secs;
    if (clock_realtime_ns())
        return; // the hypervisor's wall clock is better than whole seconds
    status_t st = rtc_read(&tm);
    if (st == OK)
        st = rtc_time_to_unix(&tm, &secs);
    if (st != OK) {
        pr_warn("rtc: no wall clock from the CMOS RTC: %s", status_str(st));
        return;
    }
    clock_set_realtime(secs * NS_PER_SEC, "cmos-rtc");
    pr_info("rtc: %04u-%02u-%02u %02u:%02u:%02u UTC (century %s)", tm.year, tm.month, tm.day,
            tm.hour, tm.minute, tm.second,
            century_reg() != RTC_NO_CENTURY ? "from the FADT's CMOS register" : "assumed 20");
}
#endif // !HOST_TEST
