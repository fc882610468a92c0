// Number parsing without the C library.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nimbus/status.h"

// Parses an unsigned number in base 10, or base 16 with a 0x prefix, from
// s[0..len). An optional K/M/G suffix multiplies by 2^10/2^20/2^30 when
// `suffixes` is true. Fails with ERR_INVALID_ARGS on junk or an empty string and
// ERR_OUT_OF_RANGE on overflow.
status_t parse_u64(const char *s, size_t len, bool suffixes, uint64_t *out);
