// nimbus:host
// Helpers for the object-layer test suites (see obj/objtest.h).
#include "obj/objtest.h"
#include "mm/pmm.h"
#include "mm/slab.h"
#include "obj/channel.h"
#include "obj/port.h"
#include "obj/revoke.h"
#include "lib/panic.h"
#include "sched/clock.h"

#ifdef HOST_TEST
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "mm/host_phys.h"
#else
#include "sched/thread.h"
#endif

static struct slab_cache_stats stats[64];

static uint64_t heap_objs_in_use(void)
{
    size_t n = MIN(slab_stats(stats, ARRAY_SIZE(stats)), ARRAY_SIZE(stats));
    uint64_t sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += stats[i].objs_in_use;
    return sum;
}

void objtest_snapshot(struct obj_baseline *b)
{
    struct pmm_stats ps;

    for (uint32_t i = 0; i < OBJ_TYPE_COUNT; i++)
        b->objs[i] = obj_live_count(i);
    b->handles = handle_live_count();
    b->msgs = chan_live_messages();
    b->bindings = port_live_bindings();
    b->cells = revoke_live_cells();
    b->heap_objs = heap_objs_in_use();
    slab_reclaim();
    pmm_get_stats(&ps);
    b->free_pages = ps.free_pages;
}

void objtest_begin(struct obj_baseline *b)
{
#ifdef HOST_TEST
    if (host_mm_init(HOST_PHYS_ARENA_SIZE) != OK)
        panic("objtest: cannot set up the host heap");
#endif
    objtest_snapshot(b);
}

void objtest_expect_baseline(struct ktest *t, const struct obj_baseline *b)
{
    struct obj_baseline now;

    objtest_snapshot(&now);
    for (uint32_t i = 0; i < OBJ_TYPE_COUNT; i++)
        if (now.objs[i] != b->objs[i])
            KTEST_FAIL_(t, "object type %u: %llu live, expected %llu", i,
                        (unsigned long long)now.objs[i], (unsigned long long)b->objs[i]);
    EXPECT_EQ(now.handles, b->handles);
    EXPECT_EQ(now.msgs, b->msgs);
    EXPECT_EQ(now.bindings, b->bindings);
    EXPECT_EQ(now.cells, b->cells);
    EXPECT_EQ(now.heap_objs, b->heap_objs);
    EXPECT_EQ(now.free_pages, b->free_pages);
}

rights_t objtest_rights(struct handle_table *t, handle_t h)
{
    struct nb_handle_info info;

    return handle_get_info(t, h, &info) == OK ? info.rights : 0;
}

uint64_t objtest_deadline_ms(uint64_t ms)
{
    return clock_monotonic_ns() + ms * 1000000ull;
}

#ifdef HOST_TEST
// ---- test threads: pthreads on the host ----
struct spawn_arg {
    void (*fn)(void *);
    void *arg;
};

static void *spawn_trampoline(void *p)
{
    struct spawn_arg a = *(struct spawn_arg *)p;

    free(p);
    a.fn(a.arg);
    return NULL;
}

void objtest_spawn(struct objtest_thread *th, void (*fn)(void *), void *arg)
{
    _Static_assert(sizeof(pthread_t) <= sizeof(th->opaque), "pthread_t fits");
    struct spawn_arg *a = malloc(sizeof(*a));

    if (!a)
        panic("objtest: out of memory");
    a->fn = fn;
    a->arg = arg;
    if (pthread_create((pthread_t *)th->opaque, NULL, spawn_trampoline, a) != 0)
        panic("objtest: pthread_create failed");
}

void objtest_join(struct objtest_thread *th)
{
    pthread_join(*(pthread_t *)th->opaque, NULL);
}

void objtest_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
#else
// ---- test threads: kernel threads ----
struct spawn_arg {
    void (*fn)(void *);
    void *arg;
};

static int spawn_trampoline(void *p)
{
    struct spawn_arg a = *(struct spawn_arg *)p;

    kfree(p);
    a.fn(a.arg);
    return 0;
}

void objtest_spawn(struct objtest_thread *th, void (*fn)(void *), void *arg)
{
    _Static_assert(sizeof(struct thread *) <= sizeof(th->opaque), "thread pointer fits");
    struct spawn_arg *a = kmalloc(sizeof(*a));
    struct thread *thr;

    if (!a)
        panic("objtest: out of memory");
    a->fn = fn;
    a->arg = arg;
    if (thread_create("objtest", spawn_trampoline, a, PRIO_DEFAULT, &thr) != OK)
        panic("objtest: thread_create failed");
    *(struct thread **)th->opaque = thr;
    thread_start(thr);
}

void objtest_join(struct objtest_thread *th)
{
    int code;

    thread_join(*(struct thread **)th->opaque, DEADLINE_INFINITE, &code);
}

void objtest_sleep_ms(uint64_t ms)
{
    thread_sleep_ns(ms * 1000000ull);
}
#endif

// ---- polling helpers, both builds ----
bool objtest_wait_for(volatile int *p, int want)
{
    for (int i = 0; i < 2000; i++) {
        if (__atomic_load_n(p, __ATOMIC_ACQUIRE) == want)
            return true;
        objtest_sleep_ms(1);
    }
    return false;
}

bool objtest_wait_blocked(struct handle_table *t, handle_t h, int n)
{
    struct kobject *o;

    if (handle_get(t, h, OBJ_ANY, RIGHT_NONE, &o) != OK)
        return false;
    bool ok = false;
    for (int i = 0; i < 2000 && !ok; i++) {
        irqstate_t s = obj_lock(o);
        ok = wait_queue_count(&o->waitq) >= n;
        obj_unlock(o, s);
        if (!ok)
            objtest_sleep_ms(1);
    }
    obj_unref(o);
    return ok;
}
