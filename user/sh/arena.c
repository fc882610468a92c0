// The shell's arena (arena.h).
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define BLOCK_MIN 4096u
#define ALIGN     16u

struct nsh_arena_block {
    struct nsh_arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void *nsh_arena_alloc(struct nsh_arena *a, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct nsh_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t want = size > BLOCK_MIN ? size : BLOCK_MIN;
        b = malloc(sizeof(*b) + want);
        if (!b)
            return NULL;
        b->size = want;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *nsh_arena_strndup(struct nsh_arena *a, const char *s, size_t len)
{
    char *p = nsh_arena_alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

void nsh_arena_free(struct nsh_arena *a)
{
    while (a->head) {
        struct nsh_arena_block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

bool nsh_strvec_push(struct nsh_arena *a, struct nsh_strvec *v, char *s)
{
    if (v->count + 1 >= v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        char **items = nsh_arena_alloc(a, cap * sizeof(*items));
        if (!items)
            return false;
        if (v->count)
            memcpy(items, v->items, v->count * sizeof(*items));
        v->items = items;
        v->cap = cap;
    }
    v->items[v->count++] = s;
    v->items[v->count] = NULL;
    return true;
}
