// Power-off and reboot (see dev/power.h). What to write where comes from the
// ACPI tables (dev/acpi.c decides, this file acts); the legacy fallbacks are
// the 8042's "pulse reset line" command and the PC reset control register.
#include "arch.h"
#include "dev/acpi.h"
#include "dev/power.h"
#include "lib/printk.h"
#include "sched/clock.h"

// 8042 keyboard controller.
#define PORT_8042_STATUS 0x64
#define PORT_8042_CMD    0x64
#define I8042_STATUS_IBF (1u << 1) // input buffer full: not ready for a command
#define I8042_CMD_RESET  0xfe      // pulse the CPU reset line
#define PORT_ABSENT      0xff      // what a read from a port without a device gives
#define I8042_WAIT_SPINS 100000

// PC chipset reset control register: RST_CPU going 0 -> 1 resets, SYS_RST
// makes it a full reset.
#define PORT_RESET_CONTROL 0xcf9
#define RESET_SYS_RST      (1u << 1)
#define RESET_RST_CPU      (1u << 2)

// How long a VMM (or the hardware) gets to act on a request before the next
// method is tried, and a bound in case the clock does not run.
#define SETTLE_NS      (200ull * 1000 * 1000)
#define SETTLE_SPINS   20000000ull
#define ACPI_ENABLE_NS (300ull * 1000 * 1000)

static const struct power_hv_ops *hv_ops; // set at boot, read when going down

void power_set_hv_ops(const struct power_hv_ops *ops)
{
    hv_ops = ops;
}

// Waits about ns nanoseconds, or until `done` (if given) says so.
static bool settle(uint64_t ns, bool (*done)(const void *), const void *arg)
{
    uint64_t start = clock_monotonic_ns();
    for (uint64_t i = 0; i < SETTLE_SPINS && clock_monotonic_ns() - start < ns; i++) {
        if (done && done(arg))
            return true;
        arch_cpu_relax();
    }
    return false;
}

// Calls a hypervisor method, which returns only if it failed.
static void try_hv(const char *what, status_t (*fn)(void))
{
    if (!fn)
        return;
    status_t s = fn();
    pr_warn("power: %s %s failed: %s\n", hv_ops->name, what, status_str(s));
}

// ---- power-off ----

static bool sci_enabled(const void *arg)
{
    uint64_t v;
    return acpi_gas_read(arg, 16, &v) == OK && (v & ACPI_PM1_SCI_EN);
}

// Hands the fixed hardware from the firmware to the OS (SCI_EN) if the
// firmware still owns it: PM1 control writes are meant for an OS in ACPI mode.
static void acpi_take_over(const struct acpi_fadt *f)
{
    if (sci_enabled(&f->pm1a_cnt))
        return;
    if (f->smi_cmd == 0 || f->smi_cmd > ACPI_IO_PORT_MAX || f->acpi_enable == 0)
        return;
    arch_pio_out8((uint16_t)f->smi_cmd, f->acpi_enable);
    if (!settle(ACPI_ENABLE_NS, sci_enabled, &f->pm1a_cnt))
        pr_warn("power: the firmware did not hand over ACPI (SCI_EN stays clear)\n");
}

// Writes SLP_TYPx | SLP_EN to PM1a and then PM1b control, keeping their
// other bits, as the specification orders it.
static status_t pm1_off(const struct acpi_info *ai, const struct acpi_poweroff *p)
{
    uint64_t a, b = 0;

    acpi_take_over(&ai->fadt);
    status_t s = acpi_gas_read(&p->reg_a, 16, &a);
    if (s == OK && p->reg_b.address)
        s = acpi_gas_read(&p->reg_b, 16, &b);
    if (s == OK)
        s = acpi_gas_write(&p->reg_a, 16, acpi_pm1_sleep_value((uint16_t)a, p->typ_a));
    if (s == OK && p->reg_b.address)
        s = acpi_gas_write(&p->reg_b, 16, acpi_pm1_sleep_value((uint16_t)b, p->typ_b));
    return s;
}

// Enters S5 through ACPI; returns if that did not work.
static void acpi_off(void)
{
    const struct acpi_info *ai = acpi();
    struct acpi_poweroff p;
    const char *why = "no ACPI tables (acpi_init found none, or was not called)";
    status_t s;

    if (!ai || acpi_poweroff_plan(ai, &p, &why) != OK) {
        pr_warn("power: no ACPI power-off: %s\n", why);
        return;
    }
    if (p.method == ACPI_OFF_SLEEP_CTL)
        s = acpi_gas_write(&p.reg_a, 8, acpi_sleep_ctl_value(p.typ_a));
    else
        s = pm1_off(ai, &p);
    if (s != OK) {
        pr_warn("power: ACPI S5 request failed: %s\n", status_str(s));
        return;
    }
    settle(SETTLE_NS, NULL, NULL);
    pr_warn("power: ACPI S5 request had no effect\n");
}

void power_off(void)
{
    arch_irq_save();
    pr_notice("power: powering off\n");
    try_hv("power-off", hv_ops ? hv_ops->power_off : NULL);
    acpi_off();
    pr_emerg("power: cannot power off this machine; halted\n");
    arch_halt();
}

// ---- reboot ----

static void acpi_reset(const struct acpi_info *ai)
{
    struct acpi_gas reg;
    uint8_t value;
    const char *why = "no ACPI tables";

    if (!ai || acpi_reset_plan(ai, &reg, &value, &why) != OK) {
        pr_info("power: no ACPI reset: %s\n", why);
        return;
    }
    status_t s = acpi_gas_write(&reg, 8, value);
    if (s != OK) {
        pr_warn("power: ACPI reset register write failed: %s\n", status_str(s));
        return;
    }
    settle(SETTLE_NS, NULL, NULL);
    pr_warn("power: ACPI reset register had no effect\n");
}

// Whether an 8042 exists: the FADT says so, or (without an answer there) its
// status port reads like a device.
static bool i8042_present(const struct acpi_info *ai)
{
    enum acpi_answer a = acpi_has_8042(ai);
    if (a != ACPI_UNKNOWN)
        return a == ACPI_YES;
    return arch_pio_in8(PORT_8042_STATUS) != PORT_ABSENT;
}

static void i8042_reset(const struct acpi_info *ai)
{
    if (!i8042_present(ai))
        return;
    for (int i = 0; i < I8042_WAIT_SPINS && (arch_pio_in8(PORT_8042_STATUS) & I8042_STATUS_IBF);
         i++)
        arch_cpu_relax();
    arch_pio_out8(PORT_8042_CMD, I8042_CMD_RESET);
    settle(SETTLE_NS, NULL, NULL);
    pr_warn("power: 8042 reset had no effect\n");
}

// The PC reset control register; hardware-reduced platforms (microvm) have
// no such legacy hardware.
static void pci_reset(const struct acpi_info *ai)
{
    if (ai && ai->fadt.present && ai->fadt.hw_reduced)
        return;
    arch_pio_out8(PORT_RESET_CONTROL, RESET_SYS_RST);
    arch_pio_out8(PORT_RESET_CONTROL, RESET_SYS_RST | RESET_RST_CPU);
    settle(SETTLE_NS, NULL, NULL);
    pr_warn("power: reset control port had no effect\n");
}

void power_reboot(void)
{
    const struct acpi_info *ai = acpi();

    arch_irq_save();
    pr_notice("power: rebooting\n");
    try_hv("reboot", hv_ops ? hv_ops->reboot : NULL);
    acpi_reset(ai);
    i8042_reset(ai);
    pci_reset(ai);
    pr_emerg("power: no reset worked; forcing a triple fault\n");
    arch_triple_fault();
}

// ---- requests from user space ----

void power_request(bool reboot, const char *who)
{
    pr_notice("power: %s requested by %s\n", reboot ? "reboot" : "off", who);
    if (reboot)
        power_reboot();
    power_off();
}
