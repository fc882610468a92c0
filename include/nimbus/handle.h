// Handles: the only way user space names a kernel object. A handle value is
// local to one handle table (one process) and encodes a slot index and the
// slot's generation, so a closed handle's value stays invalid after its slot
// is reused (until the generation wraps, HANDLE_GEN_MAX reuses later).
#pragma once

#include <stdint.h>

#include "nimbus/rights.h"

typedef uint32_t handle_t;

#define HANDLE_INVALID    ((handle_t)0) // never a valid handle
#define HANDLE_INDEX_BITS 18
#define HANDLE_GEN_BITS   13
#define HANDLE_INDEX_MAX  ((1u << HANDLE_INDEX_BITS) - 1)
#define HANDLE_GEN_MAX    ((1u << HANDLE_GEN_BITS) - 1)

// value = generation << HANDLE_INDEX_BITS | index; generation is 1 ..
// HANDLE_GEN_MAX (never 0, so no handle is 0) and bit 31 is always clear.
#define HANDLE_MAKE(index, gen) ((handle_t)(((uint32_t)(gen) << HANDLE_INDEX_BITS) | (index)))
#define HANDLE_INDEX(h)         ((uint32_t)(h)&HANDLE_INDEX_MAX)
#define HANDLE_GEN(h)           (((uint32_t)(h) >> HANDLE_INDEX_BITS) & HANDLE_GEN_MAX)

// What handle_get_info reports about a handle.
struct nb_handle_info {
    uint32_t type;   // OBJ_* of the object
    rights_t rights; // the handle's rights
};

_Static_assert(HANDLE_INDEX_BITS + HANDLE_GEN_BITS == 31, "handle values keep bit 31 clear");
_Static_assert(sizeof(struct nb_handle_info) == 8, "nb_handle_info layout");
