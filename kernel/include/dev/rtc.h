// The CMOS real-time clock (Motorola MC146818 and compatibles, reached on PCs
// through I/O ports 0x70/0x71). The kernel reads it once at boot to set the
// wall clock when the hypervisor offers nothing better.
//
// The read protocol, the decoding (BCD or binary, 12- or 24-hour, per status
// register B) and the conversion to Unix time are pure: registers come in
// through a caller-supplied reader, so the host tests drive them with a fake
// chip. Only rtc_read() and rtc_init() touch the hardware.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nimbus/status.h"

// Register indices (MC146818 datasheet, register address map).
#define RTC_REG_SECONDS  0x00
#define RTC_REG_MINUTES  0x02
#define RTC_REG_HOURS    0x04
#define RTC_REG_DAY      0x07 // day of the month, 1..31
#define RTC_REG_MONTH    0x08 // 1..12
#define RTC_REG_YEAR     0x09 // 0..99
#define RTC_REG_STATUS_A 0x0a
#define RTC_REG_STATUS_B 0x0b
#define RTC_REG_STATUS_D 0x0d

// Status register A: an update of the time registers is in progress, or will
// start within 244 us. While it reads 0, no update begins for 244 us.
#define RTC_A_UIP (1u << 7)
// Status register B: hours run 0..23 (else 1..12 with RTC_HOUR_PM), and the
// time registers are binary (else BCD).
#define RTC_B_24H    (1u << 1)
#define RTC_B_BINARY (1u << 2)
// Status register D: "valid RAM and time" (the battery held).
#define RTC_D_VRT (1u << 7)
// Hours register in 12-hour mode: the afternoon flag.
#define RTC_HOUR_PM (1u << 7)

// No century register (the ACPI FADT gives its index when there is one; 0
// means none, and the year is taken as 20yy).
#define RTC_NO_CENTURY 0

// A calendar time, UTC (QEMU and most hypervisors keep the RTC in UTC).
struct rtc_time {
    uint16_t year;  // e.g. 2024
    uint8_t month;  // 1..12
    uint8_t day;    // 1..31
    uint8_t hour;   // 0..23
    uint8_t minute; // 0..59
    uint8_t second; // 0..59
};

// The time registers of one snapshot, as read.
struct rtc_regs {
    uint8_t second, minute, hour, day, month, year;
    uint8_t century; // only with a century register
};

// Reads CMOS register `reg`.
typedef uint8_t (*rtc_read_fn)(void *ctx, uint8_t reg);

// Decodes raw registers per status register B. Without a century register
// the year is 2000 + yy. ERR_BAD_FORMAT for a bad BCD digit or a field out
// of range (including a day past the end of its month).
status_t rtc_decode(const struct rtc_regs *raw, uint8_t status_b, bool has_century,
                    struct rtc_time *out);

// The read protocol: wait for update-in-progress to clear, read the time
// registers, and repeat until two reads in a row agree; then decode.
// ERR_NOT_FOUND if no chip answers (status registers read all ones),
// ERR_TIMED_OUT if the chip never settles, ERR_BAD_STATE if status register
// D says the time is not valid, else rtc_decode()'s status.
status_t rtc_read_time(rtc_read_fn read, void *ctx, uint8_t century_reg, struct rtc_time *out);

// True for a real date and time from 1970 on.
bool rtc_time_valid(const struct rtc_time *tm);

// Seconds since 1970-01-01 00:00:00 UTC. ERR_INVALID_ARGS for an invalid
// time (see rtc_time_valid()).
status_t rtc_time_to_unix(const struct rtc_time *tm, uint64_t *secs);

// Kernel only (touches the CMOS ports).

// Reads the RTC now. ERR_NOT_FOUND when ACPI says the machine has none or
// none answers (QEMU's microvm has none under KVM unless given rtc=on).
status_t rtc_read(struct rtc_time *out);

// Sets the wall clock from the RTC ("cmos-rtc") unless a better source (the
// hypervisor's) has already set it. After acpi_init() and hv_init_late().
void rtc_init(void);
