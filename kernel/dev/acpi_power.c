// nimbus:host
// Power planning from the ACPI tables: which registers power_off() and
// power_reboot() write, and with what (ACPI specification: PM1 control and
// sleep control register bits, the FADT reset register). Pure: it decides and
// touches no hardware.
#include <stdbool.h>

#include "dev/acpi.h"
#include "lib/string.h"

unsigned acpi_gas_access_bits(const struct acpi_gas *g, unsigned dflt)
{
    if (g->access_size > ACPI_ACCESS_QWORD)
        return 0;
    if (g->access_size != ACPI_ACCESS_UNDEFINED)
        return 8u << (g->access_size - 1);
    unsigned need = (unsigned)g->bit_offset + g->bit_width;
    if (g->bit_width == 0)
        return dflt;
    for (unsigned w = 8; w <= 64; w *= 2)
        if (need <= w)
            return w;
    return 0;
}

// Whether the kernel can write g: a memory or I/O register of a usable width.
static bool gas_usable(const struct acpi_gas *g, unsigned dflt)
{
    unsigned bits = acpi_gas_access_bits(g, dflt);

    if (g->address == 0 || bits == 0)
        return false;
    if (g->space == ACPI_GAS_IO)
        return bits <= 32 && g->address + bits / 8 - 1 <= ACPI_IO_PORT_MAX;
    return g->space == ACPI_GAS_MEMORY;
}

static status_t refuse(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return ERR_NOT_SUPPORTED;
}

status_t acpi_poweroff_plan(const struct acpi_info *ai, struct acpi_poweroff *p, const char **why)
{
    memset(p, 0, sizeof *p);
    if (!ai || !ai->present)
        return refuse(why, "no ACPI tables");
    if (!ai->fadt.present)
        return refuse(why, "no FADT");
    if (!ai->s5.valid)
        return refuse(why, "no \\_S5_ sleep type in the DSDT");
    const struct acpi_fadt *f = &ai->fadt;
    p->typ_a = ai->s5.typ_a;
    p->typ_b = ai->s5.typ_b;
    if ((f->hw_reduced || !gas_usable(&f->pm1a_cnt, 16)) && gas_usable(&f->sleep_ctl, 8)) {
        p->method = ACPI_OFF_SLEEP_CTL;
        p->reg_a = f->sleep_ctl;
        return OK;
    }
    if (f->hw_reduced)
        return refuse(why, "hardware-reduced ACPI without a usable sleep control register");
    if (!gas_usable(&f->pm1a_cnt, 16))
        return refuse(why, "no usable PM1a control block");
    p->method = ACPI_OFF_PM1;
    p->reg_a = f->pm1a_cnt;
    if (gas_usable(&f->pm1b_cnt, 16))
        p->reg_b = f->pm1b_cnt;
    return OK;
}

uint16_t acpi_pm1_sleep_value(uint16_t cur, uint8_t typ)
{
    uint16_t v = cur & (uint16_t) ~(ACPI_PM1_SLP_TYP_MASK | ACPI_PM1_SLP_EN);
    return (uint16_t)(v | ((typ << ACPI_PM1_SLP_TYP_SHIFT) & ACPI_PM1_SLP_TYP_MASK) |
                      ACPI_PM1_SLP_EN);
}

uint8_t acpi_sleep_ctl_value(uint8_t typ)
{
    return (uint8_t)(((typ << ACPI_SLEEP_CTL_TYP_SHIFT) & ACPI_SLEEP_CTL_TYP_MASK) |
                     ACPI_SLEEP_CTL_SLP_EN);
}

status_t acpi_reset_plan(const struct acpi_info *ai, struct acpi_gas *reg, uint8_t *value,
                         const char **why)
{
    if (!ai || !ai->present || !ai->fadt.present)
        return refuse(why, "no FADT");
    const struct acpi_fadt *f = &ai->fadt;
    if (!(f->flags & ACPI_FADT_RESET_REG_SUP))
        return refuse(why, "the FADT does not offer a reset register");
    if (f->reset_reg.space == ACPI_GAS_PCI_CONFIG)
        return refuse(why, "the reset register is in PCI configuration space");
    if (!gas_usable(&f->reset_reg, 8))
        return refuse(why, "the reset register is not usable");
    *reg = f->reset_reg;
    *value = f->reset_value;
    return OK;
}

enum acpi_answer acpi_has_8042(const struct acpi_info *ai)
{
    if (!ai || !ai->present || !ai->fadt.present || !ai->fadt.boot_flags_valid)
        return ACPI_UNKNOWN;
    return (ai->fadt.boot_flags & ACPI_BOOT_8042) ? ACPI_YES : ACPI_NO;
}
