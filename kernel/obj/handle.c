// nimbus:host
// Handle tables: slot arrays with generations and a FIFO free list.
#include "obj/handle.h"
#include "lib/panic.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/revoke.h"

#define SLOT_NONE       UINT32_MAX
#define TABLE_MIN_SLOTS 16u

static uint64_t live_handles; // atomic

status_t handle_table_init(struct handle_table *t, uint32_t max_handles)
{
    if (max_handles == 0 || max_handles > HANDLE_INDEX_MAX + 1)
        return ERR_INVALID_ARGS;
    t->lock = (struct spinlock)SPINLOCK_INIT("handle_table");
    t->slots = NULL;
    t->cap = 0;
    t->max = max_handles;
    t->count = 0;
    t->free_head = t->free_tail = SLOT_NONE;
    return OK;
}

void handle_table_destroy(struct handle_table *t)
{
    for (uint32_t i = 0;; i++) {
        handle_table_lock(t);
        if (i >= t->cap) {
            handle_table_unlock(t);
            break;
        }
        struct handle_slot *sl = &t->slots[i];
        struct handle *hp = sl->h ? handle_detach_locked(t, HANDLE_MAKE(i, sl->gen)) : NULL;
        handle_table_unlock(t);
        if (hp)
            handle_free(hp, ERR_CANCELED);
    }
    // Emptied under the lock: handle_table_list may look at any time.
    handle_table_lock(t);
    struct handle_slot *slots = t->slots;
    t->slots = NULL;
    t->cap = 0;
    t->free_head = t->free_tail = SLOT_NONE;
    handle_table_unlock(t);
    kfree(slots);
}

uint32_t handle_table_count(struct handle_table *t)
{
    handle_table_lock(t);
    uint32_t n = t->count;
    handle_table_unlock(t);
    return n;
}

uint64_t handle_live_count(void)
{
    return __atomic_load_n(&live_handles, __ATOMIC_RELAXED);
}

status_t handle_reduce_rights(rights_t have, rights_t want, rights_t *out)
{
    if (want == RIGHT_SAME_RIGHTS) {
        *out = have;
        return OK;
    }
    if (want & ~have)
        return ERR_INVALID_ARGS;
    *out = want;
    return OK;
}

// Appends slot i to the free list. Table lock held.
static void free_list_push(struct handle_table *t, uint32_t i)
{
    t->slots[i].next_free = SLOT_NONE;
    if (t->free_tail == SLOT_NONE)
        t->free_head = i;
    else
        t->slots[t->free_tail].next_free = i;
    t->free_tail = i;
}

static uint32_t free_list_pop(struct handle_table *t)
{
    uint32_t i = t->free_head;

    ASSERT(i != SLOT_NONE);
    t->free_head = t->slots[i].next_free;
    if (t->free_head == SLOT_NONE)
        t->free_tail = SLOT_NONE;
    return i;
}

// Grows the slot array to hold at least `need` slots. Table lock held.
static status_t table_grow_locked(struct handle_table *t, uint32_t need)
{
    uint32_t cap = MAX(MAX(t->cap * 2, TABLE_MIN_SLOTS), need);
    cap = MIN(cap, t->max);
    struct handle_slot *slots = kmalloc(sizeof(*slots) * cap);
    if (!slots)
        return ERR_NO_MEMORY;
    if (t->cap)
        memcpy(slots, t->slots, sizeof(*slots) * t->cap);
    kfree(t->slots);
    t->slots = slots;
    for (uint32_t i = t->cap; i < cap; i++) {
        slots[i].h = NULL;
        slots[i].gen = 1;
        free_list_push(t, i);
    }
    t->cap = cap;
    return OK;
}

status_t handle_reserve_locked(struct handle_table *t, uint32_t n)
{
    if (n > t->max - t->count)
        return ERR_NO_RESOURCES;
    if (t->count + n <= t->cap)
        return OK;
    return table_grow_locked(t, t->count + n);
}

handle_t handle_attach_locked(struct handle_table *t, struct handle *hp)
{
    uint32_t i = free_list_pop(t);

    t->slots[i].h = hp;
    t->count++;
    return HANDLE_MAKE(i, t->slots[i].gen);
}

// The slot h names, or NULL if h is not a live handle of t. Table lock held.
static struct handle_slot *slot_of(struct handle_table *t, handle_t h)
{
    uint32_t i = HANDLE_INDEX(h);

    if (h == HANDLE_INVALID || (h >> 31) || i >= t->cap)
        return NULL;
    struct handle_slot *sl = &t->slots[i];
    return sl->h && sl->gen == HANDLE_GEN(h) ? sl : NULL;
}

struct handle *handle_detach_locked(struct handle_table *t, handle_t h)
{
    struct handle_slot *sl = slot_of(t, h);

    if (!sl)
        return NULL;
    struct handle *hp = sl->h;
    sl->h = NULL;
    sl->gen = sl->gen == HANDLE_GEN_MAX ? 1 : sl->gen + 1;
    free_list_push(t, (uint32_t)(sl - t->slots));
    t->count--;
    return hp;
}

status_t handle_lookup_locked(struct handle_table *t, handle_t h, struct handle **hp,
                              struct kobject **obj)
{
    struct handle_slot *sl = slot_of(t, h);

    if (!sl)
        return ERR_BAD_HANDLE;
    *hp = sl->h;
    if (sl->h->cell)
        return revoke_cell_get_obj(sl->h, obj);
    *obj = sl->h->obj;
    obj_ref(*obj);
    return OK;
}

status_t handle_check(const struct handle *hp, const struct kobject *o, uint32_t type,
                      rights_t need)
{
    if (type != OBJ_ANY && o->ops->type != type)
        return ERR_WRONG_TYPE;
    if ((hp->rights & need) != need)
        return ERR_ACCESS_DENIED;
    return OK;
}

status_t handle_new(struct kobject *o, rights_t rights, struct revoke_cell *cell,
                    struct handle **out)
{
    struct handle *hp = kmalloc(sizeof(*hp));

    if (!hp)
        return ERR_NO_MEMORY;
    hp->obj = o;
    hp->rights = rights;
    hp->cell = cell;
    list_init(&hp->cell_node);
    if (cell) {
        status_t st = revoke_cell_link(cell, hp);
        if (st != OK) {
            kfree(hp);
            return st;
        }
    }
    obj_ref(o);
    obj_handle_added(o);
    __atomic_add_fetch(&live_handles, 1, __ATOMIC_RELAXED);
    *out = hp;
    return OK;
}

void handle_free(struct handle *hp, status_t cancel)
{
    struct kobject *o = hp->cell ? revoke_cell_unlink(hp) : hp->obj;

    if (o) {
        obj_handle_removed(o, hp, cancel);
        obj_unref(o);
    }
    if (hp->cell)
        revoke_cell_unref(hp->cell);
    kfree(hp);
    __atomic_sub_fetch(&live_handles, 1, __ATOMIC_RELAXED);
}

// Installs n new handles, all or none. Table lock not held.
static status_t install_n(struct handle_table *t, uint32_t n, struct kobject *const *objs,
                          rights_t rights, handle_t *out)
{
    struct handle *hps[2] = {NULL, NULL};
    status_t st = OK;

    for (uint32_t i = 0; i < n && st == OK; i++)
        st = handle_new(objs[i], rights, NULL, &hps[i]);
    handle_table_lock(t);
    if (st == OK)
        st = handle_reserve_locked(t, n);
    for (uint32_t i = 0; i < n && st == OK; i++)
        out[i] = handle_attach_locked(t, hps[i]);
    handle_table_unlock(t);
    if (st != OK)
        for (uint32_t i = 0; i < n; i++)
            if (hps[i])
                handle_free(hps[i], ERR_CANCELED);
    return st;
}

status_t handle_install(struct handle_table *t, struct kobject *o, rights_t rights, handle_t *out)
{
    return install_n(t, 1, &o, rights, out);
}

status_t handle_install_pair(struct handle_table *t, struct kobject *o0, struct kobject *o1,
                             rights_t rights, handle_t *out0, handle_t *out1)
{
    struct kobject *objs[2] = {o0, o1};
    handle_t out[2];
    status_t st = install_n(t, 2, objs, rights, out);

    if (st == OK) {
        *out0 = out[0];
        *out1 = out[1];
    }
    return st;
}

status_t handle_close(struct handle_table *t, handle_t h)
{
    handle_table_lock(t);
    struct handle *hp = handle_detach_locked(t, h);
    handle_table_unlock(t);
    if (!hp)
        return ERR_BAD_HANDLE;
    handle_free(hp, ERR_CANCELED);
    return OK;
}

status_t handle_get(struct handle_table *t, handle_t h, uint32_t type, rights_t need,
                    struct kobject **out)
{
    struct handle *hp;
    struct kobject *o;

    handle_table_lock(t);
    status_t st = handle_lookup_locked(t, h, &hp, &o);
    if (st == OK)
        st = handle_check(hp, o, type, need);
    handle_table_unlock(t);
    if (st == OK)
        *out = o;
    else if (st != ERR_BAD_HANDLE && st != ERR_REVOKED)
        obj_unref(o);
    return st;
}

status_t handle_get_info(struct handle_table *t, handle_t h, struct nb_handle_info *out)
{
    struct handle *hp;
    struct kobject *o;

    handle_table_lock(t);
    status_t st = handle_lookup_locked(t, h, &hp, &o);
    if (st == OK) {
        out->type = o->ops->type;
        out->rights = hp->rights;
    }
    handle_table_unlock(t);
    if (st == OK)
        obj_unref(o);
    return st;
}

// Decode for duplicate/replace: looks h up and computes the new rights.
static status_t derive_decode(struct handle_table *t, handle_t h, rights_t need, rights_t want,
                              struct handle **hp, struct kobject **o, rights_t *rights)
{
    status_t st = handle_lookup_locked(t, h, hp, o);

    if (st != OK)
        return st;
    st = handle_check(*hp, *o, OBJ_ANY, need);
    if (st == OK)
        st = handle_reduce_rights((*hp)->rights, want, rights);
    if (st != OK)
        obj_unref(*o);
    return st;
}

status_t handle_duplicate(struct handle_table *t, handle_t h, rights_t rights, handle_t *out)
{
    struct handle *hp, *dup = NULL;
    struct kobject *o;
    rights_t r;

    handle_table_lock(t);
    status_t st = derive_decode(t, h, RIGHT_DUPLICATE, rights, &hp, &o, &r);
    if (st != OK) {
        handle_table_unlock(t);
        return st;
    }
    st = handle_reserve_locked(t, 1);
    if (st == OK)
        st = handle_new(o, r, hp->cell, &dup);
    if (st == OK)
        *out = handle_attach_locked(t, dup);
    handle_table_unlock(t);
    obj_unref(o);
    return st;
}

status_t handle_replace(struct handle_table *t, handle_t h, rights_t rights, handle_t *out)
{
    struct handle *hp, *repl = NULL, *old = NULL;
    struct kobject *o;
    rights_t r;

    handle_table_lock(t);
    status_t st = derive_decode(t, h, RIGHT_NONE, rights, &hp, &o, &r);
    if (st != OK) {
        handle_table_unlock(t);
        return st;
    }
    st = handle_new(o, r, hp->cell, &repl);
    if (st == OK) {
        old = handle_detach_locked(t, h);
        *out = handle_attach_locked(t, repl);
    }
    handle_table_unlock(t);
    if (old)
        handle_free(old, ERR_CANCELED);
    obj_unref(o);
    return st;
}

// Locks two tables in address order (one lock if they are the same).
static void lock_two(struct handle_table *a, struct handle_table *b)
{
    if (a == b) {
        handle_table_lock(a);
    } else {
        handle_table_lock(a < b ? a : b);
        handle_table_lock(a < b ? b : a);
    }
}

static void unlock_two(struct handle_table *a, struct handle_table *b)
{
    handle_table_unlock(a);
    if (a != b)
        handle_table_unlock(b);
}

status_t handle_move(struct handle_table *from, handle_t h, struct handle_table *to, handle_t *out)
{
    struct handle *hp;
    struct kobject *o;

    lock_two(from, to);
    status_t st = handle_lookup_locked(from, h, &hp, &o);
    if (st != OK) {
        unlock_two(from, to);
        return st;
    }
    st = handle_check(hp, o, OBJ_ANY, RIGHT_TRANSFER);
    if (st == OK)
        st = handle_reserve_locked(to, 1);
    if (st == OK) {
        handle_detach_locked(from, h);
        *out = handle_attach_locked(to, hp);
    }
    unlock_two(from, to);
    if (st == OK)
        obj_cancel_waits(o, hp, ERR_CANCELED);
    obj_unref(o);
    return st;
}

status_t handle_table_list(struct handle_table *t, struct nb_handle_entry *out, uint32_t max,
                           uint32_t *count)
{
    // Objects behind revocable handles are looked at with a reference, which
    // is dropped only after the table lock (it may be the last one).
    struct kobject **held = max ? kmalloc(sizeof(*held) * max) : NULL;
    uint32_t nheld = 0, n = 0;
    if (max && !held)
        return ERR_NO_MEMORY;
    handle_table_lock(t);
    *count = t->count;
    for (uint32_t i = 0; i < t->cap && n < max; i++) {
        struct handle *hp = t->slots[i].h;
        if (!hp)
            continue;
        struct kobject *o = hp->obj;
        if (hp->cell) {
            o = NULL;
            if (revoke_cell_get_obj(hp, &o) == OK)
                held[nheld++] = o;
        }
        out[n++] = (struct nb_handle_entry){.handle = HANDLE_MAKE(i, t->slots[i].gen),
                                            .type = o ? o->ops->type : OBJ_NONE,
                                            .rights = hp->rights,
                                            .object_id = o ? o->koid : 0};
    }
    handle_table_unlock(t);
    for (uint32_t i = 0; i < nheld; i++)
        obj_unref(held[i]);
    kfree(held);
    return OK;
}
