// Handle tables: per-process maps from handle values to (object, rights).
//
// A struct handle is one capability: an object reference plus a rights mask,
// and optionally the revocation cell it belongs to. It lives in one table
// slot, or inside a channel message while in flight; sending a handle moves
// the struct, it is never copied.
//
// Status codes: a value that was never issued, was closed, or whose slot was
// reused gives ERR_BAD_HANDLE; a revoked handle ERR_REVOKED; a handle to
// another type of object ERR_WRONG_TYPE; missing rights ERR_ACCESS_DENIED.
// Asking duplicate or replace for rights the handle does not have gives
// ERR_INVALID_ARGS (rights are only ever reduced).
//
// Locking: the table lock is a plain spinlock (tables are never touched from
// interrupt context) and is the outermost lock of any handle operation.
#pragma once

#include <stdint.h>

#include "lib/spinlock.h"
#include "nimbus/handle.h"
#include "nimbus/rights.h"
#include "nimbus/sysinfo.h"
#include "obj/object.h"

#define HANDLE_TABLE_DEFAULT_MAX 1024u // handles per table unless told otherwise

struct revoke_cell;

struct handle {
    struct kobject *obj;        // NULL once revoked (cell lock, when cell != NULL)
    rights_t rights;            // immutable
    struct revoke_cell *cell;   // revocable group, or NULL; a reference is held
    struct list_node cell_node; // in cell->handles (cell lock)
};

struct handle_slot {
    struct handle *h;   // NULL when free
    uint32_t gen;       // generation of the handle in (or next put into) the slot
    uint32_t next_free; // free-list link while free
};

struct handle_table {
    struct spinlock lock;
    struct handle_slot *slots; // (lock) grows up to max in steps
    uint32_t cap;              // (lock) slots allocated
    uint32_t max;              // most handles the table may hold; immutable
    uint32_t count;            // (lock) handles in the table
    uint32_t free_head;        // (lock) FIFO of free slots, so reuse is spread out
    uint32_t free_tail;        // (lock)
};

// An empty table for at most max_handles (1 .. HANDLE_INDEX_MAX + 1).
status_t handle_table_init(struct handle_table *t, uint32_t max_handles);

// Closes every handle and frees the table's memory.
void handle_table_destroy(struct handle_table *t);

uint32_t handle_table_count(struct handle_table *t);

// Gives o (one reference taken per handle) handles in t with the given
// rights, all or none: ERR_NO_RESOURCES when t cannot take n more,
// ERR_NO_MEMORY.
status_t handle_install(struct handle_table *t, struct kobject *o, rights_t rights, handle_t *out);
status_t handle_install_pair(struct handle_table *t, struct kobject *o0, struct kobject *o1,
                             rights_t rights, handle_t *out0, handle_t *out1);

// Closes h. ERR_BAD_HANDLE if h is not in t (closing twice is an error).
// A revoked handle can be closed.
status_t handle_close(struct handle_table *t, handle_t h);

// A new handle to h's object with `rights` (a subset of h's, or
// RIGHT_SAME_RIGHTS). Needs RIGHT_DUPLICATE.
status_t handle_duplicate(struct handle_table *t, handle_t h, rights_t rights, handle_t *out);

// Replaces h by a new value with `rights` (a subset, or RIGHT_SAME_RIGHTS);
// h is invalid afterwards. Needs no right. On failure h is untouched.
status_t handle_replace(struct handle_table *t, handle_t h, rights_t rights, handle_t *out);

// Moves h (needs RIGHT_TRANSFER) from one table to another, as the kernel
// does when it gives a new process its handles. All or nothing:
// ERR_NO_RESOURCES if `to` is full (h stays). Waits through h end.
status_t handle_move(struct handle_table *from, handle_t h, struct handle_table *to, handle_t *out);

// The object of h, with a reference the caller drops with obj_unref, if it
// has `type` (OBJ_ANY: any type) and every right in `need`.
status_t handle_get(struct handle_table *t, handle_t h, uint32_t type, rights_t need,
                    struct kobject **out);

// Type and rights of h (no right needed).
status_t handle_get_info(struct handle_table *t, handle_t h, struct nb_handle_info *out);

// Lists the handles of t, in slot order: fills out[0 .. min(max, count))
// and sets *count to the number of handles in the table (which may exceed
// max). A revoked handle shows type OBJ_NONE and object id 0.
// ERR_NO_MEMORY.
status_t handle_table_list(struct handle_table *t, struct nb_handle_entry *out, uint32_t max,
                           uint32_t *count);

// Live struct handle count across all tables and messages (leak checks).
uint64_t handle_live_count(void);

// ---- For object code that moves handles (channel, revocation, waits) ----

// rights_t arithmetic for duplicate/replace: the resulting rights, or
// ERR_INVALID_ARGS if `want` is not a subset of `have`.
status_t handle_reduce_rights(rights_t have, rights_t want, rights_t *out);

static inline void handle_table_lock(struct handle_table *t)
{
    spin_lock(&t->lock);
}

static inline void handle_table_unlock(struct handle_table *t)
{
    spin_unlock(&t->lock);
}

// Table lock held for all of these.
// The handle under value h, and its object with a reference (NULL object
// never returned: a revoked handle gives ERR_REVOKED).
status_t handle_lookup_locked(struct handle_table *t, handle_t h, struct handle **hp,
                              struct kobject **obj);
// Checks type and rights of a looked-up handle.
status_t handle_check(const struct handle *hp, const struct kobject *o, uint32_t type,
                      rights_t need);
// Makes sure n more handles fit (may allocate).
status_t handle_reserve_locked(struct handle_table *t, uint32_t n);
// Puts hp in a free slot (after handle_reserve_locked) and returns its value.
handle_t handle_attach_locked(struct handle_table *t, struct handle *hp);
// Takes the handle under h out of the table; the caller now owns hp.
struct handle *handle_detach_locked(struct handle_table *t, handle_t h);

// A new struct handle (not in any table) for o with rights, taking a
// reference and a handle count on o; cell may be NULL. ERR_NO_MEMORY, or
// ERR_REVOKED if the cell has been revoked meanwhile.
status_t handle_new(struct kobject *o, rights_t rights, struct revoke_cell *cell,
                    struct handle **out);

// Destroys a struct handle that is in no table: drops its object (cancelling
// waits made through it with `cancel`) and its cell. No locks held.
void handle_free(struct handle *hp, status_t cancel);
