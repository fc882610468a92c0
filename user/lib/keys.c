// Key table of the event loop (see keys.h).
#include <stdlib.h>

#include "nb/keys.h"

#define KEYS_MIN_CAP 16u
#define KEYS_MAX_CAP (1u << 24)
#define GEN_MAX      UINT32_MAX

static uint64_t key_of(uint32_t index, uint32_t gen)
{
    return (uint64_t)gen << 32 | index;
}

void nb_keys_init(struct nb_keys *k)
{
    *k = (struct nb_keys){.free_head = NB_KEYS_NONE};
}

void nb_keys_destroy(struct nb_keys *k)
{
    free(k->slots);
    nb_keys_init(k);
}

// Doubles the table; the new slots go on the free list.
static status_t grow(struct nb_keys *k)
{
    uint32_t cap = k->cap ? k->cap * 2 : KEYS_MIN_CAP;
    if (cap > KEYS_MAX_CAP)
        return ERR_NO_MEMORY;
    struct nb_key_slot *s = realloc(k->slots, cap * sizeof(*s));
    if (!s)
        return ERR_NO_MEMORY;
    for (uint32_t i = k->cap; i < cap; i++)
        s[i] = (struct nb_key_slot){.gen = 1, .next_free = i + 1 < cap ? i + 1 : k->free_head};
    k->free_head = k->cap;
    k->slots = s;
    k->cap = cap;
    return OK;
}

status_t nb_keys_add(struct nb_keys *k, void *item, uint32_t kind, uint64_t *key)
{
    if (!item || !kind)
        return ERR_INVALID_ARGS;
    if (k->free_head == NB_KEYS_NONE) {
        status_t s = grow(k);
        if (s != OK)
            return s;
    }
    uint32_t i = k->free_head;
    struct nb_key_slot *sl = &k->slots[i];
    k->free_head = sl->next_free;
    sl->item = item;
    sl->kind = kind;
    k->count++;
    *key = key_of(i, sl->gen);
    return OK;
}

static struct nb_key_slot *lookup(const struct nb_keys *k, uint64_t key, uint32_t kind)
{
    uint32_t i = (uint32_t)key, gen = (uint32_t)(key >> 32);
    if (i >= k->cap)
        return NULL;
    struct nb_key_slot *sl = &k->slots[i];
    return sl->item && sl->gen == gen && sl->kind == kind ? sl : NULL;
}

void *nb_keys_get(const struct nb_keys *k, uint64_t key, uint32_t kind)
{
    struct nb_key_slot *sl = lookup(k, key, kind);
    return sl ? sl->item : NULL;
}

void *nb_keys_take(struct nb_keys *k, uint64_t key, uint32_t kind)
{
    struct nb_key_slot *sl = lookup(k, key, kind);
    if (!sl)
        return NULL;
    void *item = sl->item;
    sl->item = NULL;
    sl->kind = 0;
    sl->gen = sl->gen == GEN_MAX ? 1 : sl->gen + 1;
    sl->next_free = k->free_head;
    k->free_head = (uint32_t)(sl - k->slots);
    k->count--;
    return item;
}
