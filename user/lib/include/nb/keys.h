// Port keys for the event loop: a table from 64-bit keys to registrations.
// A key names a slot and the slot's generation, so a packet that arrives for
// a registration already gone (or a key forged by another holder of the
// port) finds nothing instead of a stale pointer. Pure C over malloc: the
// host tests build it too.
#pragma once

#include <stdint.h>

#include "nimbus/status.h"

struct nb_key_slot {
    void *item;         // NULL when free
    uint32_t kind;      // the registration's kind, checked on lookup
    uint32_t gen;       // 1.. ; bumped when the slot is freed
    uint32_t next_free; // free list link
};

struct nb_keys {
    struct nb_key_slot *slots;
    uint32_t cap;
    uint32_t free_head; // NB_KEYS_NONE when empty
    uint32_t count;     // slots in use
};

#define NB_KEYS_NONE UINT32_MAX

void nb_keys_init(struct nb_keys *k);
void nb_keys_destroy(struct nb_keys *k);

// A new key for item (not NULL) of `kind` (non-zero). ERR_NO_MEMORY.
status_t nb_keys_add(struct nb_keys *k, void *item, uint32_t kind, uint64_t *key);

// The item under key if it has `kind`, else NULL; _take also frees the key.
void *nb_keys_get(const struct nb_keys *k, uint64_t key, uint32_t kind);
void *nb_keys_take(struct nb_keys *k, uint64_t key, uint32_t kind);
