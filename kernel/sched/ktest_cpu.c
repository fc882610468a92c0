// In-kernel test helper: running a test body pinned to one CPU.
#include "sched/ktest_cpu.h"
#include "sched/thread.h"

struct driver {
    void (*fn)(struct ktest *t);
    struct ktest *t;
};

static int driver_main(void *arg)
{
    struct driver *d = arg;
    d->fn(d->t);
    return 0;
}

void ktest_run_on_cpu0(struct ktest *t, void (*fn)(struct ktest *t))
{
    struct driver d = {fn, t};
    struct thread *th;
    ASSERT_OK(thread_create("t-driver", driver_main, &d, PRIO_DEFAULT, &th));
    ASSERT_OK(thread_set_cpu(th, 0, true));
    thread_start(th);
    ASSERT_OK(thread_join(th, DEADLINE_INFINITE, NULL));
}
