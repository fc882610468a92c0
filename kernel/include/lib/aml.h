// AML data encodings (ACPI specification, "AML Grammar Definition"): the
// pieces both the kernel's _S5 finder (dev/acpi_aml.c) and the device
// manager's DSDT scan (services/devmgr/acpi.c) decode. Every length is
// checked against n; nothing here executes AML.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define AML_ZERO_OP      0x00
#define AML_ONE_OP       0x01
#define AML_BYTE_PREFIX  0x0a
#define AML_WORD_PREFIX  0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_QWORD_PREFIX 0x0e
#define AML_ONES_OP      0xff

// A PkgLength at p[0..n): the bytes it takes (1 to 4) and its value in *v
// (which counts those bytes), or 0 when it is malformed (reserved bits of
// the multi-byte form set) or truncated.
size_t aml_pkg_length(const uint8_t *p, size_t n, uint32_t *v);

// An integer constant at p[0..n) (ZeroOp, OneOp, OnesOp, or a Byte, Word,
// DWord or QWord prefix and its little-endian data): the bytes it takes and
// its value in *v, or 0 when p holds something else or is truncated.
size_t aml_integer(const uint8_t *p, size_t n, uint64_t *v);
