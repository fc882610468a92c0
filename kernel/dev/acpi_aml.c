// nimbus:host
// Finds the soft-off sleep type in the DSDT without an AML interpreter: only
// the pattern `Name (_S5_, Package () {SLP_TYPa, SLP_TYPb, ...})`, decoded
// with the AML encodings of the ACPI specification (NameOp, PackageOp,
// PkgLength, integer constants) and bounded by the table at every step.
#include <stdbool.h>

#include "dev/acpi.h"
#include "lib/aml.h"
#include "lib/printk.h"
#include "lib/string.h"

#define AML_NAME_OP     0x08
#define AML_PACKAGE_OP  0x12
#define AML_ROOT_CHAR   '\\'
#define AML_PARENT_CHAR '^'
#define SLP_TYP_MAX     7 // three bits

// Whether the name at aml[i] is the object of a Name operator, allowing a
// root prefix or parent prefixes in between.
static bool aml_named(const uint8_t *aml, size_t i)
{
    while (i > 0 && aml[i - 1] == AML_PARENT_CHAR)
        i--;
    if (i > 0 && aml[i - 1] == AML_ROOT_CHAR)
        i--;
    return i > 0 && aml[i - 1] == AML_NAME_OP;
}

// Decodes `Package (n) {a, b, ...}` at aml[p..len) into the first two
// integers, each of which must fit SLP_TYPx.
static bool aml_s5_package(const uint8_t *aml, size_t len, size_t p, struct acpi_sleep_type *out)
{
    uint32_t pkg_len;
    uint64_t a, b;
    size_t k;

    if (p >= len || aml[p] != AML_PACKAGE_OP)
        return false;
    p++;
    k = aml_pkg_length(aml + p, len - p, &pkg_len);
    if (k == 0 || pkg_len < k + 1 || pkg_len > len - p) // PkgLength counts itself
        return false;
    size_t end = p + pkg_len;
    p += k;
    if (aml[p++] < 2) // NumElements
        return false;
    if (!(k = aml_integer(aml + p, end - p, &a)))
        return false;
    p += k;
    if (!(k = aml_integer(aml + p, end - p, &b)))
        return false;
    if (a > SLP_TYP_MAX || b > SLP_TYP_MAX)
        return false;
    *out = (struct acpi_sleep_type){.valid = true, .typ_a = (uint8_t)a, .typ_b = (uint8_t)b};
    return true;
}

bool acpi_find_s5(const uint8_t *aml, size_t len, struct acpi_sleep_type *out)
{
    static const char name[4] = {'_', 'S', '5', '_'};

    *out = (struct acpi_sleep_type){0};
    for (size_t i = 0; aml && len >= 4 && i <= len - 4; i++) {
        if (memcmp(aml + i, name, 4) != 0 || !aml_named(aml, i))
            continue;
        if (aml_s5_package(aml, len, i + 4, out))
            return true;
        pr_warn("acpi: \\_S5_ at DSDT offset %zu is not a package of sleep types; ignored\n", i);
    }
    return false;
}
