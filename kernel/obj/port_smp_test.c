// In-kernel test of port binding lifetimes on several CPUs: a port's last
// handle closing, its bound object firing a ONCE or EDGE binding, the
// object's last handle closing (port_unbind_all), port_cancel, a bind whose
// ONCE trigger is already asserted and a port_wait, each pair started at the
// same moment on different CPUs, many times. A broken reference count shows
// as an assertion in port.c (binding_unref_not_last), a use after free
// (slab poison), or bindings or objects left behind.
#include "arch.h"
#include "lib/ktest.h"
#include "obj/event.h"
#include "obj/objtest.h"
#include "obj/port.h"
#include "obj/signal.h"
#include "sched/clock.h"
#include "sched/ktest_cpu.h"
#include "sched/thread.h"

#define RACE_ROUNDS   1500
#define RACE_VARIANTS 5
#define RACE_SECONDS  20ull

static struct handle_table race_tab;

struct race {
    unsigned gen;     // round the workers may start (atomic)
    unsigned done;    // workers finished with the round (atomic)
    unsigned variant; // what the round races (set before gen)
    unsigned stop;    // workers leave (atomic)
    handle_t port, ev;
};

static void race_delay(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        arch_cpu_relax();
}

// The other side of each race, on its own CPU.
static int race_worker(void *arg)
{
    struct race *r = arg;
    unsigned seen = 0;
    struct nb_port_packet pkt;

    for (;;) {
        unsigned g;
        while ((g = __atomic_load_n(&r->gen, __ATOMIC_ACQUIRE)) == seen &&
               !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
            arch_cpu_relax();
        if (g == seen)
            return 0;
        seen = g;
        race_delay(g % 37);
        switch (r->variant) {
        case 0: // fire ONCE and EDGE while the port closes
        case 2: // fire while port_cancel takes the ONCE binding
            (void)obj_signal(&race_tab, r->ev, 0, SIGNAL_SIGNALED | SIGNAL_USER0);
            break;
        case 1: // the object's last handle (port_unbind_all) while the port closes
            (void)handle_close(&race_tab, r->ev);
            break;
        case 3: // a bind that fires at once while the port closes
            (void)port_bind(&race_tab, r->port, r->ev, 3, SIGNAL_SIGNALED, PORT_BIND_ONCE);
            break;
        case 4: // take a queued packet while the port closes
            (void)port_wait(&race_tab, r->port, DEADLINE_NONE, &pkt);
            break;
        }
        __atomic_fetch_add(&r->done, 1, __ATOMIC_RELEASE);
    }
}

// On CPU 0 (ktest_run_on_cpu0), against the worker pinned to CPU 1: both
// spin, so they must not share a CPU.
static void race_body(struct ktest *t)
{
    struct obj_baseline b;
    static struct race r;
    struct thread *th;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&race_tab, 16));
    r = (struct race){0};
    ASSERT_OK(thread_create("t-portrace", race_worker, &r, PRIO_DEFAULT, &th));
    ASSERT_OK(thread_set_cpu(th, 1, true));
    thread_start(th);
    uint64_t end = clock_monotonic_ns() + RACE_SECONDS * 1000000000ull;
    unsigned round = 0, counts[RACE_VARIANTS] = {0};
    for (; round < RACE_ROUNDS && clock_monotonic_ns() < end; round++) {
        unsigned v = round % RACE_VARIANTS;
        // (v 3, 4: the trigger is up before the bind / a packet is queued.)
        if (port_create(&race_tab, &r.port) != OK || event_create(&race_tab, &r.ev) != OK ||
            port_bind(&race_tab, r.port, r.ev, 1, SIGNAL_SIGNALED, PORT_BIND_ONCE) != OK ||
            port_bind(&race_tab, r.port, r.ev, 2, SIGNAL_USER0, PORT_BIND_EDGE) != OK ||
            ((v == 3 || v == 4) &&
             obj_signal(&race_tab, r.ev, 0, SIGNAL_SIGNALED | SIGNAL_USER0) != OK)) {
            KTEST_FAIL_(t, "round %u (variant %u): set-up failed", round, v);
            break; // the worker is stopped below; the table goes with its handles
        }
        r.variant = v;
        __atomic_store_n(&r.gen, round + 1, __ATOMIC_RELEASE);
        race_delay((round * 7) % 41);
        if (v == 2)
            (void)port_cancel(&race_tab, r.port, r.ev, 1);
        else
            EXPECT_OK(handle_close(&race_tab, r.port));
        uint64_t stuck = clock_monotonic_ns() + 5000000000ull;
        while (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) != round + 1 &&
               clock_monotonic_ns() < stuck)
            arch_cpu_relax();
        if (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) != round + 1) {
            KTEST_FAIL_(t, "round %u (variant %u): the worker did not finish in 5 s", round, v);
            break;
        }
        if (v == 2)
            EXPECT_OK(handle_close(&race_tab, r.port));
        if (v != 1)
            EXPECT_OK(handle_close(&race_tab, r.ev));
        // Both objects' handles are gone: every binding must be freed now.
        EXPECT_EQ(port_live_bindings(), b.bindings);
        if (t->failures) {
            KTEST_FAIL_(t, "round %u (variant %u) went wrong", round, v);
            break;
        }
        counts[v]++;
    }
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    ASSERT_OK(thread_join(th, clock_monotonic_ns() + 5000000000ull, NULL));
    for (unsigned v = 0; v < RACE_VARIANTS; v++)
        EXPECT_GT(counts[v], 0u);
    handle_table_destroy(&race_tab);
    objtest_expect_baseline(t, &b);
}

static void port_close_races_binding_fire(struct ktest *t)
{
    if (arch_cpu_count() < 2)
        KTEST_SKIP("needs 2 CPUs online");
    ktest_run_on_cpu0(t, race_body);
}

KTEST_SUITE(port_smp, KTEST_CASE(port_close_races_binding_fire), );
