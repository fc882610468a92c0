// Intrusive doubly linked circular lists.
#pragma once

#include <stdbool.h>

#include "lib/compiler.h"

struct list_node {
    struct list_node *next, *prev;
};

#define LIST_INIT(name)  \
    {                    \
        &(name), &(name) \
    }

static inline void list_init(struct list_node *l)
{
    l->next = l->prev = l;
}

static inline bool list_empty(const struct list_node *l)
{
    return l->next == l;
}

static inline void list_insert_after(struct list_node *pos, struct list_node *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}

static inline void list_add_tail(struct list_node *l, struct list_node *n)
{
    list_insert_after(l->prev, n);
}

static inline void list_add_head(struct list_node *l, struct list_node *n)
{
    list_insert_after(l, n);
}

static inline void list_remove(struct list_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

// Removes and returns the first node, or NULL.
static inline struct list_node *list_pop_head(struct list_node *l)
{
    if (list_empty(l))
        return NULL;
    struct list_node *n = l->next;
    list_remove(n);
    return n;
}

#define list_entry(n, T, m)  container_of(n, T, m)
#define list_for_each(it, l) for (struct list_node *it = (l)->next; it != (l); it = it->next)
#define list_for_each_safe(it, tmp, l) \
    for (struct list_node *it = (l)->next, *tmp = it->next; it != (l); it = tmp, tmp = it->next)
