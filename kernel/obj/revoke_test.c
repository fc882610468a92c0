// nimbus:host
// Tests of revocation: a revoked handle fails at once in every table and in
// flight, derived handles follow, nesting, and objects are released.
#include "obj/channel.h"
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/revoke.h"
#include "obj/signal.h"

static struct handle_table tab, tab2;

static void revoke_cuts_every_derived_handle(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev, wrapped, rev, dup, repl, moved, again;
    struct nb_handle_info info;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(handle_table_init(&tab2, 16));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(handle_revocable_create(&tab, ev, RIGHT_SAME_RIGHTS, &wrapped, &rev));
    ASSERT_OK(handle_get_info(&tab, rev, &info));
    EXPECT_EQ(info.type, (uint32_t)OBJ_REVOKER);
    ASSERT_OK(handle_duplicate(&tab, wrapped, RIGHT_SAME_RIGHTS, &dup));
    ASSERT_OK(handle_duplicate(&tab, wrapped, RIGHT_SAME_RIGHTS, &moved));
    ASSERT_OK(handle_move(&tab, moved, &tab2, &moved));
    ASSERT_OK(handle_replace(&tab, dup, RIGHT_SIGNAL | RIGHT_WAIT, &repl));
    EXPECT_OK(obj_signal(&tab, repl, 0, SIGNAL_USER0));
    EXPECT_OK(obj_signal(&tab2, moved, 0, SIGNAL_USER1));
    ASSERT_OK(handle_revoke(&tab, rev));
    // Every handle of the cell fails, in both tables, with its own status.
    EXPECT_STATUS(obj_signal(&tab, wrapped, 0, SIGNAL_USER0), ERR_REVOKED);
    EXPECT_STATUS(obj_wait_one(&tab, repl, SIGNAL_USER0, DEADLINE_NONE, &seen), ERR_REVOKED);
    EXPECT_STATUS(handle_get_info(&tab2, moved, &info), ERR_REVOKED);
    EXPECT_STATUS(handle_duplicate(&tab, wrapped, RIGHT_SAME_RIGHTS, &again), ERR_REVOKED);
    EXPECT_STATUS(handle_replace(&tab, wrapped, RIGHT_SAME_RIGHTS, &again), ERR_REVOKED);
    EXPECT_STATUS(handle_move(&tab2, moved, &tab, &again), ERR_REVOKED);
    // The original is untouched; revoking again is harmless.
    EXPECT_OK(obj_wait_one(&tab, ev, SIGNAL_USER0 | SIGNAL_USER1, DEADLINE_NONE, &seen));
    EXPECT_EQ(seen, SIGNAL_USER0 | SIGNAL_USER1);
    EXPECT_OK(handle_revoke(&tab, rev));
    // Revoked handles still close.
    EXPECT_OK(handle_close(&tab, wrapped));
    EXPECT_OK(handle_close(&tab2, moved));
    EXPECT_STATUS(handle_close(&tab, wrapped), ERR_BAD_HANDLE);
    handle_table_destroy(&tab2);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void revoke_reaches_handles_in_flight(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev, wrapped, rev, c0, c1, got;
    static unsigned char buf[8];
    struct nb_msg_out out = {"m", &wrapped, 1, 1};
    struct nb_msg_in in = {buf, &got, sizeof(buf), 1, 0, 0};

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(handle_revocable_create(&tab, ev, RIGHT_SIGNAL | RIGHT_TRANSFER, &wrapped, &rev));
    ASSERT_OK(chan_write(&tab, c0, &out));
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT] + 1);
    ASSERT_OK(handle_revoke(&tab, rev));
    ASSERT_OK(handle_close(&tab, ev));
    // The object went with its last unrevoked handle, though one is in flight.
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT]);
    ASSERT_OK(chan_read(&tab, c1, &in));
    ASSERT_EQ(in.nhandles, 1u);
    EXPECT_STATUS(obj_signal(&tab, got, 0, SIGNAL_USER0), ERR_REVOKED);
    // A revoked handle cannot be sent on either.
    out.handles = &got;
    EXPECT_STATUS(chan_write(&tab, c0, &out), ERR_REVOKED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void revoke_closes_a_delegated_endpoint(struct ktest *t)
{
    struct obj_baseline b;
    handle_t c0, c1, wrapped, rev;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(chan_create(&tab, &c0, &c1));
    ASSERT_OK(handle_revocable_create(&tab, c1, RIGHT_SAME_RIGHTS, &wrapped, &rev));
    ASSERT_OK(handle_close(&tab, c1)); // only the delegated handle is left
    EXPECT_STATUS(obj_wait_one(&tab, c0, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    ASSERT_OK(handle_revoke(&tab, rev));
    EXPECT_OK(obj_wait_one(&tab, c0, SIGNAL_PEER_CLOSED, DEADLINE_NONE, &seen));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void revoke_nests(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev, outer, rev_outer, inner, rev_inner, inner2, rev_inner2, h;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 64));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(handle_revocable_create(&tab, ev, RIGHT_SAME_RIGHTS, &outer, &rev_outer));
    ASSERT_OK(handle_revocable_create(&tab, outer, RIGHT_SAME_RIGHTS, &inner, &rev_inner));
    ASSERT_OK(handle_revocable_create(&tab, outer, RIGHT_SAME_RIGHTS, &inner2, &rev_inner2));
    // Revoking an inner cell leaves the outer one alone.
    ASSERT_OK(handle_revoke(&tab, rev_inner));
    EXPECT_STATUS(obj_signal(&tab, inner, 0, SIGNAL_USER0), ERR_REVOKED);
    EXPECT_OK(obj_signal(&tab, outer, 0, SIGNAL_USER0));
    EXPECT_OK(obj_signal(&tab, inner2, 0, SIGNAL_USER0));
    // Revoking the outer one reaches the remaining inner one.
    ASSERT_OK(handle_revoke(&tab, rev_outer));
    EXPECT_STATUS(obj_signal(&tab, outer, 0, SIGNAL_USER0), ERR_REVOKED);
    EXPECT_STATUS(obj_signal(&tab, inner2, 0, SIGNAL_USER0), ERR_REVOKED);
    EXPECT_OK(obj_signal(&tab, ev, 0, SIGNAL_USER0));
    // Nesting is bounded.
    handle_t cur = ev, r;
    int depth = 0;
    status_t st;
    while ((st = handle_revocable_create(&tab, cur, RIGHT_SAME_RIGHTS, &h, &r)) == OK) {
        cur = h;
        depth++;
    }
    EXPECT_STATUS(st, ERR_OUT_OF_RANGE);
    EXPECT_EQ(depth, REVOKE_MAX_DEPTH);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void revoke_rights_and_checks(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev, weak, wrapped, rev, rev_weak;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(handle_duplicate(&tab, ev, RIGHT_WAIT, &weak));
    EXPECT_STATUS(handle_revocable_create(&tab, weak, RIGHT_WAIT, &wrapped, &rev),
                  ERR_ACCESS_DENIED);
    EXPECT_STATUS(handle_revocable_create(&tab, ev, RIGHTS_ALL, &wrapped, &rev), ERR_INVALID_ARGS);
    ASSERT_OK(handle_revocable_create(&tab, ev, RIGHT_WAIT, &wrapped, &rev));
    EXPECT_EQ(objtest_rights(&tab, wrapped), RIGHT_WAIT);
    ASSERT_OK(handle_duplicate(&tab, rev, RIGHT_DUPLICATE, &rev_weak));
    EXPECT_STATUS(handle_revoke(&tab, rev_weak), ERR_ACCESS_DENIED);
    EXPECT_STATUS(handle_revoke(&tab, ev), ERR_WRONG_TYPE);
    // Closing the revoker does not revoke.
    ASSERT_OK(handle_close(&tab, rev));
    ASSERT_OK(handle_close(&tab, rev_weak));
    signals_t seen;
    EXPECT_STATUS(obj_wait_one(&tab, wrapped, SIGNAL_SIGNALED, DEADLINE_NONE, &seen),
                  ERR_TIMED_OUT);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

struct rwaiter {
    handle_t h;
    status_t st;
};

static void rwaiter_thread(void *p)
{
    struct rwaiter *w = p;
    signals_t seen;
    w->st = obj_wait_one(&tab, w->h, SIGNAL_SIGNALED, objtest_deadline_ms(2000), &seen);
}

static void revoke_ends_waits(struct ktest *t)
{
    struct obj_baseline b;
    struct objtest_thread th;
    struct rwaiter w;
    handle_t ev, wrapped, rev;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(handle_revocable_create(&tab, ev, RIGHT_SAME_RIGHTS, &wrapped, &rev));
    w.h = wrapped;
    objtest_spawn(&th, rwaiter_thread, &w);
    EXPECT_TRUE(objtest_wait_blocked(&tab, ev, 1));
    ASSERT_OK(handle_revoke(&tab, rev));
    objtest_join(&th);
    EXPECT_STATUS(w.st, ERR_REVOKED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(revoke, KTEST_CASE(revoke_cuts_every_derived_handle),
            KTEST_CASE(revoke_reaches_handles_in_flight),
            KTEST_CASE(revoke_closes_a_delegated_endpoint), KTEST_CASE(revoke_nests),
            KTEST_CASE(revoke_rights_and_checks), KTEST_CASE(revoke_ends_waits), );
