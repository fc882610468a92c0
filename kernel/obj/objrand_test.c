// nimbus:host
// A randomized sequence test of the object layer: thousands of mixed
// operations (create, duplicate, replace, close, write, read, move, bind,
// wait, revocable wrap, revoke) over several handle tables, with a fixed
// seed. A model predicts every status; after each step every handle is
// checked against it (type, rights unchanged, revocation), and at the end
// every object, handle, message, binding, cell, heap object and page is back.
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/channel.h"
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/port.h"
#include "obj/revoke.h"
#include "obj/signal.h"
#include "obj/timer.h"
#include "obj/vmo.h"

#define NTABLES   3
#define TABLE_MAX 48
#define NSTEPS    20000
#define MAX_OBJS  8192
#define MAX_CELLS 4096
#define MAX_MSGS  16384
#define MSG_MAX_H 3

struct ment { // a handle in a table
    handle_t h;
    int oid;
    rights_t rights;
    int cell; // -1: not revocable
};

struct mobj {
    uint32_t type;
    int peer; // channel, event pair: the other end; -1 otherwise
    int cell; // revoker: its cell
};

struct mcell {
    int parent;
    int depth;
    bool revoked;
};

struct mmsg {
    int dst; // endpoint that will read it
    uint64_t serial;
    bool consumed;
    uint32_t nh;
    struct ment hs[MSG_MAX_H]; // h unused
};

struct model {
    struct handle_table tabs[NTABLES];
    struct ment ents[NTABLES][TABLE_MAX];
    uint32_t nents[NTABLES];
    struct mobj objs[MAX_OBJS];
    int nobjs;
    struct mcell cells[MAX_CELLS];
    int ncells;
    struct mmsg msgs[MAX_MSGS];
    int nmsgs;
    uint64_t rng;
    int step;
};

// On the heap while the test runs (over a MiB: in .bss it would be taken
// from every boot's memory, see docs/BOOT.md "Memory floor").
static struct model *model;
#define M (*model)

static uint32_t rnd(uint32_t n)
{
    M.rng ^= M.rng << 13;
    M.rng ^= M.rng >> 7;
    M.rng ^= M.rng << 17;
    return (uint32_t)(M.rng % n);
}

static bool cell_revoked(int c)
{
    for (; c >= 0; c = M.cells[c].parent)
        if (M.cells[c].revoked)
            return true;
    return false;
}

static int new_obj(uint32_t type, int peer, int cell)
{
    if (M.nobjs == MAX_OBJS)
        return -1;
    M.objs[M.nobjs] = (struct mobj){type, peer, cell};
    return M.nobjs++;
}

static void add_ent(int ti, handle_t h, int oid, rights_t rights, int cell)
{
    M.ents[ti][M.nents[ti]++] = (struct ment){h, oid, rights, cell};
}

static void del_ent(int ti, uint32_t i)
{
    M.ents[ti][i] = M.ents[ti][--M.nents[ti]];
}

static struct ment *pick(int ti, uint32_t *idx)
{
    if (M.nents[ti] == 0)
        return NULL;
    *idx = rnd(M.nents[ti]);
    return &M.ents[ti][*idx];
}

// Rights to ask for: a subset, SAME_RIGHTS, or (sometimes) one right too many.
static rights_t pick_rights(rights_t have, bool *escalates)
{
    *escalates = false;
    uint32_t r = rnd(8);
    if (r == 0)
        return RIGHT_SAME_RIGHTS;
    if (r == 1 && have != RIGHTS_ALL) {
        rights_t extra;
        do
            extra = 1u << rnd(11);
        while (have & extra);
        *escalates = true;
        return have | extra;
    }
    return have & (rnd(0x800) | RIGHT_DUPLICATE | RIGHT_TRANSFER);
}

static rights_t resolve(rights_t have, rights_t want)
{
    return want == RIGHT_SAME_RIGHTS ? have : want;
}

// The status a lookup of e with `need` rights gives before anything else.
static status_t lookup_status(const struct ment *e, rights_t need)
{
    if (e->cell >= 0 && cell_revoked(e->cell))
        return ERR_REVOKED;
    return (e->rights & need) == need ? OK : ERR_ACCESS_DENIED;
}

// ---- operations: each returns the status the model expected, after
// checking the kernel returned the same ----

#define CHECK_STATUS(got, want)                                                     \
    do {                                                                            \
        status_t g_ = (got), w_ = (want);                                           \
        if (g_ != w_) {                                                             \
            KTEST_FAIL_(t, "step %d (%s): got %s, model says %s", M.step, __func__, \
                        status_str(g_), status_str(w_));                            \
            return false;                                                           \
        }                                                                           \
    } while (0)

static bool op_create(struct ktest *t, int ti)
{
    handle_t a, c;
    status_t st;
    uint32_t kind = rnd(6), need = (kind == 1 || kind == 2) ? 2 : 1;
    uint32_t types[] = {OBJ_EVENT, OBJ_EVENTPAIR, OBJ_CHANNEL, OBJ_PORT, OBJ_VMO, OBJ_TIMER};
    struct handle_table *tb = &M.tabs[ti];

    if (M.nobjs + 2 > MAX_OBJS)
        return true;
    switch (kind) {
    case 0:
        st = event_create(tb, &a);
        break;
    case 1:
        st = eventpair_create(tb, &a, &c);
        break;
    case 2:
        st = chan_create(tb, &a, &c);
        break;
    case 3:
        st = port_create(tb, &a);
        break;
    case 4:
        st = vmo_create(tb, rnd(3 * PAGE_SIZE), &a);
        break;
    default:
        st = timer_create(tb, &a);
        break;
    }
    CHECK_STATUS(st, M.nents[ti] + need > TABLE_MAX ? ERR_NO_RESOURCES : OK);
    if (st != OK)
        return true;
    int o = new_obj(types[kind], -1, -1);
    add_ent(ti, a, o, objtest_rights(tb, a), -1);
    if (need == 2) {
        int p = new_obj(types[kind], o, -1);
        M.objs[o].peer = p;
        add_ent(ti, c, p, objtest_rights(tb, c), -1);
    }
    if (kind == 5 && rnd(2))
        CHECK_STATUS(timer_set(tb, a, objtest_deadline_ms(3600 * 1000)), OK);
    return true;
}

static bool op_duplicate(struct ktest *t, int ti)
{
    uint32_t i;
    struct ment *e = pick(ti, &i);
    bool esc;
    handle_t out;

    if (!e)
        return true;
    rights_t want = pick_rights(e->rights, &esc);
    status_t exp = lookup_status(e, RIGHT_DUPLICATE);
    if (exp == OK && esc)
        exp = ERR_INVALID_ARGS;
    if (exp == OK && M.nents[ti] + 1 > TABLE_MAX)
        exp = ERR_NO_RESOURCES;
    CHECK_STATUS(handle_duplicate(&M.tabs[ti], e->h, want, &out), exp);
    if (exp == OK) {
        rights_t r = resolve(e->rights, want);
        EXPECT_EQ(r & ~e->rights, 0u); // never more than the source
        add_ent(ti, out, e->oid, r, e->cell);
    }
    return true;
}

static bool op_replace(struct ktest *t, int ti)
{
    uint32_t i;
    struct ment *e = pick(ti, &i);
    bool esc;
    handle_t out;

    if (!e)
        return true;
    rights_t want = pick_rights(e->rights, &esc);
    status_t exp = lookup_status(e, RIGHT_NONE);
    if (exp == OK && esc)
        exp = ERR_INVALID_ARGS;
    CHECK_STATUS(handle_replace(&M.tabs[ti], e->h, want, &out), exp);
    if (exp == OK) {
        e->rights = resolve(e->rights, want);
        e->h = out;
    }
    return true;
}

static bool op_close(struct ktest *t, int ti)
{
    uint32_t i;
    struct ment *e = pick(ti, &i);

    if (!e)
        return true;
    CHECK_STATUS(handle_close(&M.tabs[ti], e->h), OK);
    del_ent(ti, i);
    return true;
}

static bool op_move(struct ktest *t, int ti)
{
    uint32_t i;
    struct ment *e = pick(ti, &i);
    int to = (int)rnd(NTABLES);
    handle_t out;

    if (!e)
        return true;
    status_t exp = lookup_status(e, RIGHT_TRANSFER);
    if (exp == OK && to != ti && M.nents[to] + 1 > TABLE_MAX)
        exp = ERR_NO_RESOURCES;
    if (exp == OK && to == ti && M.nents[ti] + 1 > TABLE_MAX)
        exp = ERR_NO_RESOURCES; // moving within a table needs a free slot too
    CHECK_STATUS(handle_move(&M.tabs[ti], e->h, &M.tabs[to], &out), exp);
    if (exp == OK) {
        struct ment moved = *e;
        moved.h = out;
        del_ent(ti, i);
        M.ents[to][M.nents[to]++] = moved;
    }
    return true;
}

// An entry of table ti for an object of `type`, or NULL.
static struct ment *pick_type(int ti, uint32_t type, uint32_t *idx)
{
    uint32_t n = M.nents[ti], start = n ? rnd(n) : 0;

    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (start + k) % n;
        if (M.objs[M.ents[ti][i].oid].type == type) {
            *idx = i;
            return &M.ents[ti][i];
        }
    }
    return NULL;
}

// True if some table holds a usable handle to oid.
static bool reachable(int oid)
{
    for (int ti = 0; ti < NTABLES; ti++)
        for (uint32_t i = 0; i < M.nents[ti]; i++)
            if (M.ents[ti][i].oid == oid && !cell_revoked(M.ents[ti][i].cell))
                return true;
    return false;
}

// Expected status of sending the handles at idx[] through channel entry ce.
static status_t send_status(int ti, const struct ment *ce, const uint32_t *idx, uint32_t n)
{
    status_t st = lookup_status(ce, RIGHT_WRITE);

    for (uint32_t k = 0; k < n && st == OK; k++) {
        const struct ment *h = &M.ents[ti][idx[k]];
        if (h->cell >= 0 && cell_revoked(h->cell))
            st = ERR_REVOKED;
        else if (h->oid == ce->oid || h->oid == M.objs[ce->oid].peer)
            st = ERR_NOT_SUPPORTED;
        else if (!(h->rights & RIGHT_TRANSFER))
            st = ERR_ACCESS_DENIED;
    }
    return st;
}

// Records a sent message and takes its handles out of the model table.
static void record_message(int ti, const struct ment *ce, uint32_t *idx, uint32_t n,
                           uint64_t serial)
{
    struct mmsg *m = &M.msgs[M.nmsgs++];

    *m = (struct mmsg){.dst = M.objs[ce->oid].peer, .serial = serial, .nh = n};
    for (uint32_t k = 0; k < n; k++)
        m->hs[k] = M.ents[ti][idx[k]];
    // Delete from the highest index down so the swaps do not disturb the rest.
    for (uint32_t a = 0; a < n; a++)
        for (uint32_t b2 = a + 1; b2 < n; b2++)
            if (idx[b2] > idx[a]) {
                uint32_t tmp = idx[a];
                idx[a] = idx[b2];
                idx[b2] = tmp;
            }
    for (uint32_t k = 0; k < n; k++)
        del_ent(ti, idx[k]);
}

// True if endpoint `to` can be reached from endpoint `from` through
// messages queued at endpoints (the ownership graph of in-flight handles).
static bool queued_path(int from, int to)
{
    static int stack[MAX_OBJS];
    static uint8_t seen[MAX_OBJS];
    int sp = 0;

    memset(seen, 0, sizeof(seen));
    stack[sp++] = from;
    seen[from] = 1;
    while (sp) {
        int x = stack[--sp];
        if (x == to)
            return true;
        for (int i = 0; i < M.nmsgs; i++) {
            if (M.msgs[i].dst != x || M.msgs[i].consumed)
                continue;
            for (uint32_t k = 0; k < M.msgs[i].nh; k++) {
                int o = M.msgs[i].hs[k].oid;
                if (M.objs[o].type == OBJ_CHANNEL && !seen[o]) {
                    seen[o] = 1;
                    stack[sp++] = o;
                }
            }
        }
    }
    return false;
}

// Sending endpoints around can build a ring of channels each holding the
// next one's last handle in its queue, which nothing reclaims (a known
// limitation, see docs/CAPABILITIES.md); the test does not build rings.
static bool would_make_ring(int ti, const struct ment *ce, const uint32_t *idx, uint32_t n)
{
    int dst = M.objs[ce->oid].peer;

    for (uint32_t k = 0; k < n; k++) {
        int o = M.ents[ti][idx[k]].oid;
        if (M.objs[o].type == OBJ_CHANNEL && o != dst && o != ce->oid && queued_path(o, dst))
            return true;
    }
    return false;
}

static bool op_write(struct ktest *t, int ti)
{
    uint32_t ci, idx[MSG_MAX_H], n = rnd(MSG_MAX_H + 1);
    struct ment *ce = pick_type(ti, OBJ_CHANNEL, &ci);
    handle_t hs[MSG_MAX_H];

    if (!ce || M.nmsgs == MAX_MSGS || n > M.nents[ti] - 1)
        return true;
    for (uint32_t k = 0; k < n; k++) { // distinct entries other than the channel's
        bool again;
        do {
            idx[k] = rnd(M.nents[ti]);
            again = idx[k] == ci;
            for (uint32_t j = 0; j < k; j++)
                again |= idx[j] == idx[k];
        } while (again);
        hs[k] = M.ents[ti][idx[k]].h;
    }
    if (would_make_ring(ti, ce, idx, n))
        return true;
    uint64_t serial = (uint64_t)M.step;
    struct nb_msg_out out = {&serial, hs, sizeof(serial), n};
    status_t exp = send_status(ti, ce, idx, n);
    status_t st = chan_write(&M.tabs[ti], ce->h, &out);
    if (exp == OK &&
        (st == ERR_SHOULD_WAIT || (st == ERR_PEER_CLOSED && !reachable(M.objs[ce->oid].peer))))
        return true; // outcomes the model cannot tell apart; nothing moved
    CHECK_STATUS(st, exp);
    if (st == OK)
        record_message(ti, ce, idx, n, serial);
    return true;
}

// The oldest message the model expects at endpoint oid, or NULL.
static struct mmsg *model_head(int oid)
{
    for (int i = 0; i < M.nmsgs; i++)
        if (M.msgs[i].dst == oid && !M.msgs[i].consumed)
            return &M.msgs[i];
    return NULL;
}

static bool op_read(struct ktest *t, int ti)
{
    uint32_t ci;
    struct ment *ce = pick_type(ti, OBJ_CHANNEL, &ci);
    uint64_t serial = 0;
    handle_t hs[MSG_MAX_H];

    if (!ce)
        return true;
    struct nb_msg_in in = {&serial, hs, sizeof(serial), MSG_MAX_H, 0, 0};
    struct mmsg *head = model_head(ce->oid);
    status_t exp = lookup_status(ce, RIGHT_READ);
    if (exp == OK && !head)
        exp = reachable(M.objs[ce->oid].peer) ? ERR_SHOULD_WAIT : ERR_PEER_CLOSED;
    if (exp == OK && M.nents[ti] + head->nh > TABLE_MAX)
        exp = ERR_NO_RESOURCES;
    status_t st = chan_read(&M.tabs[ti], ce->h, &in);
    if (exp == ERR_PEER_CLOSED && st == ERR_SHOULD_WAIT)
        return true; // the peer lives on only in flight
    CHECK_STATUS(st, exp);
    if (st != OK)
        return true;
    EXPECT_EQ(serial, head->serial);
    CHECK_STATUS((status_t)in.nhandles, (status_t)head->nh);
    head->consumed = true;
    for (uint32_t k = 0; k < head->nh; k++)
        add_ent(ti, hs[k], head->hs[k].oid, head->hs[k].rights, head->hs[k].cell);
    return true;
}

static bool op_wrap(struct ktest *t, int ti)
{
    uint32_t i;
    struct ment *e = pick(ti, &i);
    bool esc;
    handle_t w, r;

    if (!e || M.ncells == MAX_CELLS || M.nobjs == MAX_OBJS)
        return true;
    rights_t want = pick_rights(e->rights, &esc);
    status_t exp = lookup_status(e, RIGHT_DUPLICATE);
    if (exp == OK && esc)
        exp = ERR_INVALID_ARGS;
    if (exp == OK && e->cell >= 0 && M.cells[e->cell].depth >= REVOKE_MAX_DEPTH)
        exp = ERR_OUT_OF_RANGE;
    if (exp == OK && M.nents[ti] + 2 > TABLE_MAX)
        exp = ERR_NO_RESOURCES;
    CHECK_STATUS(handle_revocable_create(&M.tabs[ti], e->h, want, &w, &r), exp);
    if (exp != OK)
        return true;
    int c = M.ncells++;
    M.cells[c] = (struct mcell){e->cell, e->cell >= 0 ? M.cells[e->cell].depth + 1 : 1, false};
    struct ment src = *e; // e may move when entries are added
    add_ent(ti, w, src.oid, resolve(src.rights, want), c);
    add_ent(ti, r, new_obj(OBJ_REVOKER, -1, c), objtest_rights(&M.tabs[ti], r), -1);
    return true;
}

static bool op_revoke(struct ktest *t, int ti)
{
    uint32_t i;
    struct ment *e = pick_type(ti, OBJ_REVOKER, &i);

    if (!e)
        return true;
    status_t exp = lookup_status(e, RIGHT_MANAGE);
    CHECK_STATUS(handle_revoke(&M.tabs[ti], e->h), exp);
    if (exp == OK)
        M.cells[M.objs[e->oid].cell].revoked = true;
    return true;
}

static bool op_signal(struct ktest *t, int ti)
{
    uint32_t i;
    struct ment *e = pick(ti, &i);
    uint32_t type;

    if (!e)
        return true;
    type = M.objs[e->oid].type;
    if (type == OBJ_TIMER) {
        CHECK_STATUS(timer_set(&M.tabs[ti], e->h, objtest_deadline_ms(3600 * 1000)),
                     lookup_status(e, RIGHT_WRITE));
        return true;
    }
    status_t exp = lookup_status(e, RIGHT_SIGNAL);
    bool user = type == OBJ_EVENT || type == OBJ_EVENTPAIR || type == OBJ_CHANNEL;
    if (exp == OK && !user)
        exp = ERR_INVALID_ARGS;
    CHECK_STATUS(obj_signal(&M.tabs[ti], e->h, rnd(2) ? SIGNAL_USER0 : 0, SIGNAL_USER0 << rnd(2)),
                 exp);
    return true;
}

static bool op_bind(struct ktest *t, int ti)
{
    uint32_t pi, oi;
    struct ment *pe = pick_type(ti, OBJ_PORT, &pi);
    struct ment *oe = pick(ti, &oi);

    if (!pe || !oe)
        return true;
    status_t exp = lookup_status(pe, RIGHT_WRITE);
    if (exp == OK)
        exp = lookup_status(oe, RIGHT_WAIT);
    if (exp == OK && M.objs[oe->oid].type == OBJ_PORT)
        exp = ERR_NOT_SUPPORTED;
    uint32_t mode = rnd(2) ? PORT_BIND_EDGE : PORT_BIND_ONCE;
    status_t st = port_bind(&M.tabs[ti], pe->h, oe->h, rnd(4),
                            SIGNAL_USER0 | SIGNAL_READABLE | SIGNAL_PEER_CLOSED, mode);
    if (exp == OK && st == ERR_ALREADY_EXISTS)
        return true; // bindings are not modelled
    CHECK_STATUS(st, exp);
    return true;
}

static bool op_port_wait(struct ktest *t, int ti)
{
    uint32_t pi;
    struct ment *pe = pick_type(ti, OBJ_PORT, &pi);
    struct nb_port_packet pkt;

    if (!pe)
        return true;
    status_t exp = lookup_status(pe, RIGHT_READ);
    status_t st = port_wait(&M.tabs[ti], pe->h, DEADLINE_NONE, &pkt);
    if (exp == OK && st == ERR_TIMED_OUT)
        return true;
    CHECK_STATUS(st, exp);
    if (st == OK)
        EXPECT_LT(pkt.key, 4u);
    return true;
}

// Every model handle is in its table with its type and rights, or revoked.
static bool check_tables(struct ktest *t)
{
    for (int ti = 0; ti < NTABLES; ti++) {
        CHECK_STATUS((status_t)handle_table_count(&M.tabs[ti]), (status_t)M.nents[ti]);
        for (uint32_t i = 0; i < M.nents[ti]; i++) {
            const struct ment *e = &M.ents[ti][i];
            struct nb_handle_info info;
            status_t st = handle_get_info(&M.tabs[ti], e->h, &info);
            if (e->cell >= 0 && cell_revoked(e->cell)) {
                CHECK_STATUS(st, ERR_REVOKED);
                continue;
            }
            CHECK_STATUS(st, OK);
            if (info.type != M.objs[e->oid].type || info.rights != e->rights) {
                KTEST_FAIL_(t, "step %d: handle %#x is type %u rights %#x, model %u %#x", M.step,
                            e->h, info.type, info.rights, M.objs[e->oid].type, e->rights);
                return false;
            }
        }
    }
    return true;
}

typedef bool (*rand_op)(struct ktest *t, int ti);

static const rand_op ops[] = {
    op_create, op_create, op_duplicate, op_replace, op_close,  op_close,  op_move, op_write,
    op_write,  op_read,   op_read,      op_wrap,    op_revoke, op_signal, op_bind, op_port_wait,
};

static void objrand_mixed_operations(struct ktest *t)
{
    struct obj_baseline b;

    objtest_begin(&b);
    model = kzalloc(sizeof(*model));
    ASSERT_NOT_NULL(model);
    M.rng = 0x9e3779b97f4a7c15ull; // fixed seed: failures reproduce
    for (int ti = 0; ti < NTABLES; ti++)
        ASSERT_OK(handle_table_init(&M.tabs[ti], TABLE_MAX));
    for (M.step = 0; M.step < NSTEPS; M.step++) {
        int ti = (int)rnd(NTABLES);
        if (!ops[rnd(ARRAY_SIZE(ops))](t, ti) || !check_tables(t))
            break;
    }
    EXPECT_EQ(M.step, NSTEPS);
    EXPECT_GT(M.nmsgs, 100);
    EXPECT_GT(M.ncells, 20);
    for (int ti = 0; ti < NTABLES; ti++)
        handle_table_destroy(&M.tabs[ti]);
    kfree(model);
    model = NULL;
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(objrand, KTEST_CASE(objrand_mixed_operations));
