// nimbus:host
// AML data encodings shared by the kernel and the device manager (lib/aml.h).
#include "lib/aml.h"

size_t aml_pkg_length(const uint8_t *p, size_t n, uint32_t *v)
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

size_t aml_integer(const uint8_t *p, size_t n, uint64_t *v)
{
    size_t data;

    if (n == 0)
        return 0;
    switch (p[0]) {
    case AML_ZERO_OP:
    case AML_ONE_OP:
        *v = p[0] == AML_ONE_OP;
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
    case AML_DWORD_PREFIX:
        data = 4;
        break;
    case AML_QWORD_PREFIX:
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
