// nimbus:host
// Test-only allocation failure injection (see mm/allocfail.h).
#include "mm/allocfail.h"

#include <stddef.h>

#ifndef HOST_TEST
#include "sched/thread.h"
#endif

static bool armed;             // read without a lock on every allocation
static const void *owner;      // the thread whose allocations count (NULL: all)
static unsigned long fail_at;  // the allocation number that fails
static unsigned long seen;     // allocations counted since arming
static unsigned long injected; // failures handed out
static bool sticky;

static const void *this_thread(void)
{
#ifdef HOST_TEST
    static _Thread_local char me;
    return &me;
#else
    return thread_current();
#endif
}

void allocfail_arm(unsigned long nth, unsigned flags)
{
    __atomic_store_n(&armed, false, __ATOMIC_SEQ_CST);
    owner = (flags & ALLOCFAIL_ANY_THREAD) ? NULL : this_thread();
    fail_at = nth;
    sticky = flags & ALLOCFAIL_STICKY;
    __atomic_store_n(&seen, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&injected, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&armed, true, __ATOMIC_SEQ_CST);
}

unsigned long allocfail_disarm(void)
{
    __atomic_store_n(&armed, false, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&injected, __ATOMIC_SEQ_CST);
}

unsigned long allocfail_seen(void)
{
    return __atomic_load_n(&seen, __ATOMIC_SEQ_CST);
}

bool allocfail_should_fail(void)
{
    if (!__atomic_load_n(&armed, __ATOMIC_RELAXED))
        return false;
    if (owner && owner != this_thread())
        return false;
    unsigned long n = __atomic_add_fetch(&seen, 1, __ATOMIC_SEQ_CST);
    if (n == fail_at || (sticky && n > fail_at)) {
        __atomic_add_fetch(&injected, 1, __ATOMIC_SEQ_CST);
        return true;
    }
    return false;
}
