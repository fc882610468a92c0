// Revocation: a holder can cut off access it delegated.
//
// handle_revocable_create(h) makes a new handle to h's object (rights reduced
// as asked) that belongs to a fresh revocation cell, plus a revoker handle
// (OBJ_REVOKER) for that cell. Every handle derived from the wrapped one
// (duplicate, replace, sending it over a channel) belongs to the same cell.
// handle_revoke(revoker) marks the cell revoked and at once detaches the
// object from every handle of the cell, in every table and in every message
// in flight: any later use of those handles fails with ERR_REVOKED (closing
// them still works), waits through them end with ERR_REVOKED, and the
// object's references and handle count drop (so a revoked channel endpoint
// whose other handles are gone closes, and its peer sees PEER_CLOSED).
//
// Wrapping a handle that is itself revocable nests: revoking the outer cell
// revokes the inner ones too. Nesting is limited to REVOKE_MAX_DEPTH.
// Closing the revoker does not revoke: the delegation simply becomes
// permanent. Operations already under way (a blocked call) complete.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/list.h"
#include "lib/spinlock.h"
#include "obj/handle.h"

#define REVOKE_MAX_DEPTH 8

struct revoke_cell {
    struct spinlock lock;
    uint32_t refs;              // atomic: member handles, the revoker, child cells
    bool revoked;               // (lock)
    uint8_t depth;              // 1 for a cell without parent; immutable
    struct list_node handles;   // struct handle.cell_node of the members (lock)
    struct list_node children;  // cells made by wrapping a member (lock)
    struct list_node sibling;   // in parent->children (parent's lock)
    struct revoke_cell *parent; // a reference is held; immutable
};

// Wraps h (needs RIGHT_DUPLICATE); `rights` as for handle_duplicate.
// ERR_OUT_OF_RANGE when nesting deeper than REVOKE_MAX_DEPTH.
status_t handle_revocable_create(struct handle_table *t, handle_t h, rights_t rights,
                                 handle_t *wrapped, handle_t *revoker);

// Revokes the cell of `revoker` (an OBJ_REVOKER handle with RIGHT_MANAGE).
// Revoking twice is harmless.
status_t handle_revoke(struct handle_table *t, handle_t revoker);

// Live cells (leak checks).
uint64_t revoke_live_cells(void);

// ---- For the handle layer ----
void revoke_cell_ref(struct revoke_cell *c);
void revoke_cell_unref(struct revoke_cell *c);
// Makes hp a member of c; ERR_REVOKED if c is revoked.
status_t revoke_cell_link(struct revoke_cell *c, struct handle *hp);
// Removes hp from its cell and returns its object (NULL if revoked); the
// caller inherits the object reference.
struct kobject *revoke_cell_unlink(struct handle *hp);
// hp's object with a new reference, or ERR_REVOKED.
status_t revoke_cell_get_obj(struct handle *hp, struct kobject **out);
