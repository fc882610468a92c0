// nimbus:host
// Revocation cells and the revoker object (see obj/revoke.h).
#include "obj/revoke.h"
#include "lib/panic.h"
#include "mm/slab.h"

#define REVOKER_RIGHTS (RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_MANAGE | RIGHT_INSPECT)

struct revoker {
    struct kobject obj;
    struct revoke_cell *cell; // a reference is held
};

static uint64_t live_cells; // atomic

uint64_t revoke_live_cells(void)
{
    return __atomic_load_n(&live_cells, __ATOMIC_RELAXED);
}

void revoke_cell_ref(struct revoke_cell *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

// Takes a reference unless the count already reached zero (the cell is on
// its way out). Used while walking a parent's children under its lock.
static bool cell_ref_live(struct revoke_cell *c)
{
    uint32_t n = __atomic_load_n(&c->refs, __ATOMIC_RELAXED);

    while (n != 0)
        if (__atomic_compare_exchange_n(&c->refs, &n, n + 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return true;
    return false;
}

void revoke_cell_unref(struct revoke_cell *c)
{
    while (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        struct revoke_cell *parent = c->parent;
        ASSERT(list_empty(&c->handles));
        if (parent) {
            spin_lock(&parent->lock);
            list_remove(&c->sibling);
            spin_unlock(&parent->lock);
        }
        kfree(c);
        __atomic_sub_fetch(&live_cells, 1, __ATOMIC_RELAXED);
        c = parent; // drop the reference c held on its parent
    }
}

// A new cell under parent (NULL for none), holding one reference.
static status_t cell_new(struct revoke_cell *parent, struct revoke_cell **out)
{
    struct revoke_cell *c = kmalloc(sizeof(*c));

    if (!c)
        return ERR_NO_MEMORY;
    c->lock = (struct spinlock)SPINLOCK_INIT("revoke_cell");
    c->refs = 1;
    c->revoked = false;
    c->depth = parent ? parent->depth + 1 : 1;
    list_init(&c->handles);
    list_init(&c->children);
    list_init(&c->sibling);
    c->parent = parent;
    if (parent) {
        spin_lock(&parent->lock);
        bool revoked = parent->revoked;
        if (!revoked) {
            list_add_tail(&parent->children, &c->sibling);
            revoke_cell_ref(parent);
        }
        spin_unlock(&parent->lock);
        if (revoked) {
            kfree(c);
            return ERR_REVOKED;
        }
    }
    __atomic_add_fetch(&live_cells, 1, __ATOMIC_RELAXED);
    *out = c;
    return OK;
}

status_t revoke_cell_link(struct revoke_cell *c, struct handle *hp)
{
    spin_lock(&c->lock);
    bool revoked = c->revoked;
    if (!revoked) {
        list_add_tail(&c->handles, &hp->cell_node);
        revoke_cell_ref(c);
    }
    spin_unlock(&c->lock);
    return revoked ? ERR_REVOKED : OK;
}

struct kobject *revoke_cell_unlink(struct handle *hp)
{
    struct revoke_cell *c = hp->cell;

    spin_lock(&c->lock);
    list_remove(&hp->cell_node);
    struct kobject *o = hp->obj;
    hp->obj = NULL;
    spin_unlock(&c->lock);
    return o;
}

status_t revoke_cell_get_obj(struct handle *hp, struct kobject **out)
{
    struct revoke_cell *c = hp->cell;
    status_t st = ERR_REVOKED;

    spin_lock(&c->lock);
    if (!c->revoked) {
        obj_ref(hp->obj);
        *out = hp->obj;
        st = OK;
    }
    spin_unlock(&c->lock);
    return st;
}

// Detaches the objects of every member handle of c. Cell lock held on entry
// and exit; dropped around each object release.
static void cell_detach_members_locked(struct revoke_cell *c)
{
    struct list_node *n;

    while ((n = list_pop_head(&c->handles))) {
        struct handle *hp = list_entry(n, struct handle, cell_node);
        struct kobject *o = hp->obj;
        hp->obj = NULL;
        spin_unlock(&c->lock);
        obj_handle_removed(o, hp, ERR_REVOKED);
        obj_unref(o);
        spin_lock(&c->lock);
    }
}

// Marks c and its descendants revoked and detaches their handles' objects.
// (1) set revoked, so no lookup or derivation succeeds any more; (2) detach
// member objects; (3) recurse into children, each pinned by a reference.
static void cell_revoke(struct revoke_cell *c)
{
    spin_lock(&c->lock);
    if (c->revoked) {
        spin_unlock(&c->lock);
        return;
    }
    c->revoked = true;                  // (1)
    cell_detach_members_locked(c);      // (2)
    while (!list_empty(&c->children)) { // (3)
        struct revoke_cell *child = list_entry(c->children.next, struct revoke_cell, sibling);
        list_remove(&child->sibling);
        if (!cell_ref_live(child))
            continue; // dying: its unref finds itself already unlinked
        spin_unlock(&c->lock);
        cell_revoke(child);
        revoke_cell_unref(child);
        spin_lock(&c->lock);
    }
    spin_unlock(&c->lock);
}

static void revoker_destroy(struct kobject *o)
{
    struct revoker *r = container_of(o, struct revoker, obj);

    revoke_cell_unref(r->cell);
    kfree(r);
}

static const struct kobject_ops revoker_ops = {
    .type = OBJ_REVOKER,
    .name = "revoker",
    .default_rights = REVOKER_RIGHTS,
    .destroy = revoker_destroy,
};

// Invoke part of handle_revocable_create: table lock held, h looked up.
static status_t wrap_locked(struct handle_table *t, struct handle *hp, struct kobject *o,
                            rights_t rights, handle_t *wrapped, handle_t *revoker)
{
    struct revoke_cell *c;
    struct handle *hw = NULL, *hr = NULL;
    struct revoker *r = kmalloc(sizeof(*r));
    status_t st = r ? cell_new(hp->cell, &c) : ERR_NO_MEMORY;

    if (st != OK) {
        kfree(r);
        return st;
    }
    obj_init(&r->obj, &revoker_ops, NULL);
    r->cell = c; // the cell's creation reference moves to the revoker
    st = handle_new(o, rights, c, &hw);
    if (st == OK)
        st = handle_new(&r->obj, REVOKER_RIGHTS, NULL, &hr);
    if (st == OK) {
        *wrapped = handle_attach_locked(t, hw);
        *revoker = handle_attach_locked(t, hr);
    } else if (hw) {
        handle_free(hw, ERR_CANCELED); // no lock order issue: hw's object has other handles
    }
    obj_unref(&r->obj);
    return st;
}

status_t handle_revocable_create(struct handle_table *t, handle_t h, rights_t rights,
                                 handle_t *wrapped, handle_t *revoker)
{
    struct handle *hp;
    struct kobject *o;
    rights_t r;

    handle_table_lock(t);
    status_t st = handle_lookup_locked(t, h, &hp, &o);
    if (st != OK) {
        handle_table_unlock(t);
        return st;
    }
    st = handle_check(hp, o, OBJ_ANY, RIGHT_DUPLICATE);
    if (st == OK)
        st = handle_reduce_rights(hp->rights, rights, &r);
    if (st == OK && hp->cell && hp->cell->depth >= REVOKE_MAX_DEPTH)
        st = ERR_OUT_OF_RANGE;
    if (st == OK)
        st = handle_reserve_locked(t, 2);
    if (st == OK)
        st = wrap_locked(t, hp, o, r, wrapped, revoker);
    handle_table_unlock(t);
    obj_unref(o);
    return st;
}

status_t handle_revoke(struct handle_table *t, handle_t revoker)
{
    struct kobject *o;
    status_t st = handle_get(t, revoker, OBJ_REVOKER, RIGHT_MANAGE, &o);

    if (st != OK)
        return st;
    cell_revoke(container_of(o, struct revoker, obj)->cell);
    obj_unref(o);
    return OK;
}
