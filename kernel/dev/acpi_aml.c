// nimbus:host
// Finds the soft-off sleep type in the DSDT without an AML interpreter: only
// the pattern `Name (_S5_, Package () {SLP_TYPa, SLP_TYPb, ...})`, decoded
// with the AML encodings of the ACPI specification (NameOp, PackageOp,
// PkgLength, integer constants) and bounded by the table at every step.
#include <stdbool.h>

#include "dev/acpi.h"
#include "lib/printk.h"
#include "lib/string.h"

#define AML_ZERO_OP     0x00
#define AML_ONE_OP      0x01
#define AML_NAME_OP     0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD       0x0c
#define AML_QWORD       0x0e
#define AML_PACKAGE_OP  0x12
#define AML_ONES_OP     0xff
#define AML_ROOT_CHAR   '\\'
#define AML_PARENT_CHAR '^'
#define SLP_TYP_MAX     7 // three bits

// Decodes a PkgLength at p[0..n): returns the bytes it takes (1 to 4) and the
// value in *v, or 0 when it is malformed or truncated.
static size_t aml_pkg_length(const uint8_t *p, size_t n, uint32_t *v)
{
    if (n == 0)
        return 0;
    size_t follow = p[0] >> 6;
    if (n < 1 + follow)
        return 0;
    if (follow == 0) {
        *v = p[0] & 0x3f;
        return 1;
    }
    if (p[0] & 0x30) // bits 5:4 are reserved in the multi-byte form
        return 0;
    *v = p[0] & 0x0f;
    for (size_t i = 0; i < follow; i++)
        *v |= (uint32_t)p[1 + i] << (4 + 8 * i);
    return 1 + follow;
}

// Decodes an integer constant (ZeroOp, OneOp, OnesOp, or a Byte/Word/DWord/
// QWord prefix and its little-endian data) at p[0..n): returns the bytes it
// takes, or 0 when p holds something else or is truncated.
static size_t aml_integer(const uint8_t *p, size_t n, uint64_t *v)
{
    size_t data;

    if (n == 0)
        return 0;
    switch (p[0]) {
    case AML_ZERO_OP:
        *v = 0;
        return 1;
    case AML_ONE_OP:
        *v = 1;
        return 1;
    case AML_ONES_OP:
        *v = UINT64_MAX;
        return 1;
    case AML_BYTE_PREFIX:
        data = 1;
        break;
    case AML_WORD_PREFIX:
        data = 2;
        break;
    case AML_DWORD:
        data = 4;
        break;
    case AML_QWORD:
        data = 8;
        break;
    default:
        return 0;
    }
    if (n < 1 + data)
        return 0;
    *v = 0;
    for (size_t i = 0; i < data; i++)
        *v |= (uint64_t)p[1 + i] << (8 * i);
    return 1 + data;
}

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
