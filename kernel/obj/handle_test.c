// nimbus:host
// Tests of handle tables: encoding, stale and bad values, rights reduction,
// table limits and deterministic destruction.
#include "obj/channel.h"
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/signal.h"
#include "obj/vmo.h"

static struct handle_table tab, tab2;

static void handle_values_encode_index_and_generation(struct ktest *t)
{
    struct obj_baseline b;
    handle_t a, c, again;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 4));
    ASSERT_OK(event_create(&tab, &a));
    ASSERT_OK(event_create(&tab, &c));
    EXPECT_NE(a, HANDLE_INVALID);
    EXPECT_NE(a, c);
    EXPECT_EQ(a >> 31, 0u);
    EXPECT_NE(HANDLE_GEN(a), 0u);
    ASSERT_OK(handle_close(&tab, a));
    // Reuse goes through every free slot first, and a reused slot has a new
    // generation: the closed value stays invalid.
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(event_create(&tab, &again));
        EXPECT_NE(again, a);
    }
    struct nb_handle_info info;
    EXPECT_STATUS(handle_get_info(&tab, a, &info), ERR_BAD_HANDLE);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_never_issued_values_are_bad(struct ktest *t)
{
    struct obj_baseline b;
    struct nb_handle_info info;
    handle_t h;
    static const handle_t bad[] = {0, 1, HANDLE_MAKE(3, 1), 0x80000000u | 1u, 0xffffffffu};

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &h));
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        EXPECT_STATUS(handle_get_info(&tab, bad[i], &info), ERR_BAD_HANDLE);
        EXPECT_STATUS(handle_close(&tab, bad[i]), ERR_BAD_HANDLE);
    }
    // The right index with the wrong generation.
    EXPECT_STATUS(handle_close(&tab, HANDLE_MAKE(HANDLE_INDEX(h), HANDLE_GEN(h) + 1)),
                  ERR_BAD_HANDLE);
    // A value from another table means nothing here.
    ASSERT_OK(handle_table_init(&tab2, 8));
    EXPECT_STATUS(handle_get_info(&tab2, h, &info), ERR_BAD_HANDLE);
    handle_table_destroy(&tab2);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_double_close_fails(struct ktest *t)
{
    struct obj_baseline b;
    handle_t h;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &h));
    EXPECT_OK(handle_close(&tab, h));
    EXPECT_STATUS(handle_close(&tab, h), ERR_BAD_HANDLE);
    EXPECT_STATUS(obj_signal(&tab, h, 0, SIGNAL_USER0), ERR_BAD_HANDLE);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_wrong_type(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev;
    uint64_t size;
    unsigned char buf[16] = {0};
    struct nb_msg_out m = {buf, NULL, sizeof(buf), 0};

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &ev));
    EXPECT_STATUS(vmo_get_size(&tab, ev, &size), ERR_WRONG_TYPE);
    EXPECT_STATUS(chan_write(&tab, ev, &m), ERR_WRONG_TYPE);
    EXPECT_STATUS(obj_signal_peer(&tab, ev, 0, SIGNAL_USER0), ERR_ACCESS_DENIED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_rights_only_shrink(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev, dup, dup2, repl, same;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(event_create(&tab, &ev));
    rights_t all = objtest_rights(&tab, ev);
    EXPECT_TRUE(all & RIGHT_DUPLICATE);
    // Dropping rights works; SAME_RIGHTS keeps them.
    ASSERT_OK(handle_duplicate(&tab, ev, RIGHT_WAIT | RIGHT_DUPLICATE, &dup));
    EXPECT_EQ(objtest_rights(&tab, dup), RIGHT_WAIT | RIGHT_DUPLICATE);
    ASSERT_OK(handle_duplicate(&tab, ev, RIGHT_SAME_RIGHTS, &same));
    EXPECT_EQ(objtest_rights(&tab, same), all);
    // Asking for more than the source has is refused and creates nothing.
    uint32_t before = handle_table_count(&tab);
    EXPECT_STATUS(handle_duplicate(&tab, dup, RIGHT_WAIT | RIGHT_SIGNAL, &dup2), ERR_INVALID_ARGS);
    EXPECT_STATUS(handle_duplicate(&tab, dup, RIGHTS_ALL, &dup2), ERR_INVALID_ARGS);
    EXPECT_EQ(handle_table_count(&tab), before);
    // Without DUPLICATE nothing can be duplicated.
    ASSERT_OK(handle_duplicate(&tab, ev, RIGHT_WAIT, &dup2));
    EXPECT_STATUS(handle_duplicate(&tab, dup2, RIGHT_WAIT, &same), ERR_ACCESS_DENIED);
    // Replace reduces, invalidates the old value, and cannot escalate.
    EXPECT_STATUS(handle_replace(&tab, dup2, RIGHT_WAIT | RIGHT_SIGNAL, &repl), ERR_INVALID_ARGS);
    EXPECT_EQ(objtest_rights(&tab, dup2), RIGHT_WAIT); // untouched on failure
    ASSERT_OK(handle_replace(&tab, dup2, RIGHT_NONE, &repl));
    EXPECT_NE(repl, dup2);
    EXPECT_EQ(objtest_rights(&tab, dup2), 0u);
    struct nb_handle_info info;
    EXPECT_OK(handle_get_info(&tab, repl, &info));
    EXPECT_EQ(info.rights, RIGHT_NONE);
    EXPECT_EQ(info.type, (uint32_t)OBJ_EVENT);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_missing_rights_denied(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev, weak;
    signals_t seen;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(handle_duplicate(&tab, ev, RIGHT_DUPLICATE, &weak));
    EXPECT_STATUS(obj_signal(&tab, weak, 0, SIGNAL_SIGNALED), ERR_ACCESS_DENIED);
    EXPECT_STATUS(obj_wait_one(&tab, weak, SIGNAL_SIGNALED, DEADLINE_NONE, &seen),
                  ERR_ACCESS_DENIED);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_table_full(struct ktest *t)
{
    struct obj_baseline b;
    handle_t h[4], extra, c0, c1;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 4));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(event_create(&tab, &h[i]));
    // One slot left: a pair does not fit and nothing leaks.
    EXPECT_STATUS(chan_create(&tab, &c0, &c1), ERR_NO_RESOURCES);
    EXPECT_EQ(obj_live_count(OBJ_CHANNEL), b.objs[OBJ_CHANNEL]);
    ASSERT_OK(event_create(&tab, &h[3]));
    EXPECT_STATUS(event_create(&tab, &extra), ERR_NO_RESOURCES);
    EXPECT_STATUS(handle_duplicate(&tab, h[0], RIGHT_SAME_RIGHTS, &extra), ERR_NO_RESOURCES);
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT] + 4);
    // Replace needs no extra slot.
    EXPECT_OK(handle_replace(&tab, h[0], RIGHT_SAME_RIGHTS, &h[0]));
    EXPECT_OK(handle_close(&tab, h[1]));
    EXPECT_OK(event_create(&tab, &h[1]));
    EXPECT_STATUS(handle_table_init(&tab2, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(handle_table_init(&tab2, HANDLE_INDEX_MAX + 2), ERR_INVALID_ARGS);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_table_grows_to_its_limit(struct ktest *t)
{
    struct obj_baseline b;
    static handle_t hs[1000];

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 1000));
    for (int i = 0; i < 1000; i++)
        ASSERT_OK(event_create(&tab, &hs[i]));
    EXPECT_EQ(handle_table_count(&tab), 1000u);
    for (int i = 0; i < 1000; i++)
        EXPECT_EQ(objtest_rights(&tab, hs[i]) != 0, true);
    for (int i = 0; i < 1000; i += 2)
        EXPECT_OK(handle_close(&tab, hs[i]));
    EXPECT_EQ(handle_table_count(&tab), 500u);
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT] + 500);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_last_handle_destroys(struct ktest *t)
{
    struct obj_baseline b;
    handle_t ev, dup;
    struct kobject *o;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    ASSERT_OK(event_create(&tab, &ev));
    ASSERT_OK(handle_duplicate(&tab, ev, RIGHT_SAME_RIGHTS, &dup));
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT] + 1);
    EXPECT_OK(handle_close(&tab, ev));
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT] + 1);
    // A kernel reference keeps the object past its last handle.
    ASSERT_OK(handle_get(&tab, dup, OBJ_EVENT, RIGHT_NONE, &o));
    EXPECT_OK(handle_close(&tab, dup));
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT] + 1);
    EXPECT_TRUE(o->no_handles);
    obj_unref(o);
    EXPECT_EQ(obj_live_count(OBJ_EVENT), b.objs[OBJ_EVENT]);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void handle_generation_wraps_late(struct ktest *t)
{
    struct obj_baseline b;
    handle_t first, h;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 1));
    ASSERT_OK(event_create(&tab, &first));
    ASSERT_OK(handle_close(&tab, first));
    // A one-slot table reuses its slot each time: the value only comes back
    // after HANDLE_GEN_MAX generations.
    for (uint32_t i = 1; i < HANDLE_GEN_MAX; i++) {
        ASSERT_OK(event_create(&tab, &h));
        ASSERT_NE(h, first);
        ASSERT_OK(handle_close(&tab, h));
    }
    ASSERT_OK(event_create(&tab, &h));
    EXPECT_EQ(h, first);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(handle, KTEST_CASE(handle_values_encode_index_and_generation),
            KTEST_CASE(handle_never_issued_values_are_bad), KTEST_CASE(handle_double_close_fails),
            KTEST_CASE(handle_wrong_type), KTEST_CASE(handle_rights_only_shrink),
            KTEST_CASE(handle_missing_rights_denied), KTEST_CASE(handle_table_full),
            KTEST_CASE(handle_table_grows_to_its_limit), KTEST_CASE(handle_last_handle_destroys),
            KTEST_CASE(handle_generation_wraps_late));
