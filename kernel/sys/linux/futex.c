// Linux futexes: a thread sleeps on a user address until another wakes it.
// Waiters hang in a small hash table of buckets keyed by (address space,
// user address); each waiter sleeps on its own wait queue, so a wake picks
// exactly the waiters of its address and a requeue can move them.
//
// Lock order: bucket lock (lower index first when two are held), then a
// waiter's own lock.
#include "lib/list.h"
#include "lib/spinlock.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "sched/wait.h"
#include "sys/linux.h"
#include "sys/process.h"
#include "sys/usercopy.h"

#define FUTEX_BUCKETS 64 // a power of two

#define FUTEX_WAIT           0
#define FUTEX_WAKE           1
#define FUTEX_REQUEUE        3
#define FUTEX_CMP_REQUEUE    4
#define FUTEX_WAIT_BITSET    9
#define FUTEX_WAKE_BITSET    10
#define FUTEX_PRIVATE_FLAG   128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_CMD_MASK       0x7f
#define FUTEX_BITSET_ANY     0xffffffffu
#define NS_PER_SEC           1000000000ull

struct futex_bucket {
    struct spinlock lock;
    struct list_node waiters; // struct futex_waiter (lock); set up on first use
};

struct futex_waiter {
    struct list_node node;       // in bucket->waiters while queued (bucket lock)
    struct futex_bucket *bucket; // where it is queued (both bucket locks to change)
    const struct vm_aspace *as;  // the key: address space ... (bucket lock)
    uintptr_t uaddr;             // ... and user address (bucket lock)
    uint32_t bitset;             // wakes must meet it (set before queueing)
    bool queued;                 // false once a waker took it (bucket lock)
    struct spinlock lock;        // guards wq
    struct wait_queue wq;        // only this waiter's thread
};

static struct futex_bucket buckets[FUTEX_BUCKETS] = {
    [0 ... FUTEX_BUCKETS - 1] = {.lock = SPINLOCK_INIT("futex")},
};

static struct futex_bucket *bucket_of(const struct vm_aspace *as, uintptr_t uaddr)
{
    uint64_t h = ((uint64_t)(uintptr_t)as ^ (uint64_t)uaddr) * 0x9e3779b97f4a7c15ull;
    return &buckets[h >> 58]; // the top log2(FUTEX_BUCKETS) bits
}
_Static_assert(FUTEX_BUCKETS == 64, "bucket_of takes 6 bits");

// Locks b (interrupts off, saved state returned) and sets up its list once.
static irqstate_t bucket_lock(struct futex_bucket *b)
{
    irqstate_t s = spin_lock_irqsave(&b->lock);
    if (!b->waiters.next)
        list_init(&b->waiters);
    return s;
}

// Takes w off its bucket and wakes its thread (bucket lock held).
static void waiter_wake(struct futex_waiter *w)
{
    list_remove(&w->node);
    w->queued = false;
    spin_lock(&w->lock);
    wait_queue_wake(&w->wq, 1, OK);
    spin_unlock(&w->lock);
}

static bool key_matches(const struct futex_waiter *w, const struct vm_aspace *as, uintptr_t uaddr)
{
    return w->as == as && w->uaddr == uaddr;
}

int futex_wake(const struct vm_aspace *as, uintptr_t uaddr, int max, uint32_t bitset)
{
    struct futex_bucket *b = bucket_of(as, uaddr);
    int n = 0;
    irqstate_t s = bucket_lock(b);
    list_for_each_safe(it, tmp, &b->waiters)
    {
        struct futex_waiter *w = list_entry(it, struct futex_waiter, node);
        if (max >= 0 && n >= max)
            break;
        if (key_matches(w, as, uaddr) && (w->bitset & bitset)) {
            waiter_wake(w);
            n++;
        }
    }
    spin_unlock_irqrestore(&b->lock, s);
    return n;
}

// Locks the bucket w is queued on now (a requeue may move it meanwhile).
static struct futex_bucket *lock_waiter_bucket(struct futex_waiter *w, irqstate_t *s)
{
    for (;;) {
        struct futex_bucket *b = __atomic_load_n(&w->bucket, __ATOMIC_ACQUIRE);
        *s = bucket_lock(b);
        if (b == __atomic_load_n(&w->bucket, __ATOMIC_RELAXED))
            return b;
        spin_unlock_irqrestore(&b->lock, *s);
    }
}

// Sleeps on (as, uaddr) while the word there holds val.
static int64_t futex_wait(const struct vm_aspace *as, uintptr_t uaddr, uint32_t val,
                          uint64_t deadline, uint32_t bitset)
{
    struct futex_waiter w = {.as = as, .uaddr = uaddr, .bitset = bitset, .queued = true};
    w.bucket = bucket_of(as, uaddr);
    w.lock = (struct spinlock)SPINLOCK_INIT("futex waiter");
    wait_queue_init(&w.wq);
    uint32_t cur;
    // (1) Compare under the bucket lock: a waker changes the word before it
    // takes this lock, so either we see its value or it sees us queued.
    // (User memory faults are served under spinlocks: vm_fault spins too.)
    irqstate_t s = bucket_lock(w.bucket);
    int64_t r = copy_from_user(&cur, uaddr, sizeof(cur)) != OK ? -LNX_EFAULT
                : cur != val                                   ? -LNX_EAGAIN
                                                               : 0;
    if (r) {
        spin_unlock_irqrestore(&w.bucket->lock, s);
        return r;
    }
    list_add_tail(&w.bucket->waiters, &w.node);
    // (2) Our own lock before the bucket's goes: a waker needs it to wake us,
    // and wait_queue_block drops it only once we are on w.wq.
    spin_lock(&w.lock);
    spin_unlock(&w.bucket->lock);
    status_t st = wait_queue_block(&w.wq, &w.lock, deadline);
    spin_unlock(&w.lock);
    // (3) Leave the bucket unless a waker took us off it; taking the bucket
    // lock also waits for a waker still holding w.lock to be done with it.
    irqstate_t s2;
    struct futex_bucket *b = lock_waiter_bucket(&w, &s2);
    if (w.queued)
        list_remove(&w.node);
    else
        st = OK; // woken after all: the wake is not lost
    spin_unlock_irqrestore(&b->lock, s2);
    arch_irq_restore(s);
    if (st == OK)
        return 0;
    return st == ERR_TIMED_OUT ? -LNX_ETIMEDOUT : -LNX_EINTR;
}

// Locks the buckets of two keys in a fixed order (once if the same).
static void lock_two(struct futex_bucket *a, struct futex_bucket *b, irqstate_t *s)
{
    *s = arch_irq_save();
    struct futex_bucket *first = a < b ? a : b, *second = a < b ? b : a;
    bucket_lock(first);
    if (second != first)
        bucket_lock(second);
}

static void unlock_two(struct futex_bucket *a, struct futex_bucket *b, irqstate_t s)
{
    spin_unlock(&a->lock);
    if (b != a)
        spin_unlock(&b->lock);
    arch_irq_restore(s);
}

// Wakes nwake waiters on uaddr and moves up to nmove others to uaddr2; with
// `cmp`, only if the word at uaddr still holds val3.
static int64_t futex_requeue(const struct vm_aspace *as, uintptr_t uaddr, uintptr_t uaddr2,
                             int nwake, int nmove, bool cmp, uint32_t val3)
{
    struct futex_bucket *b1 = bucket_of(as, uaddr), *b2 = bucket_of(as, uaddr2);
    irqstate_t s;
    int woken = 0, moved = 0;
    lock_two(b1, b2, &s);
    uint32_t cur;
    int64_t r = !cmp                                             ? 0
                : copy_from_user(&cur, uaddr, sizeof(cur)) != OK ? -LNX_EFAULT
                : cur != val3                                    ? -LNX_EAGAIN
                                                                 : 0;
    if (r) {
        unlock_two(b1, b2, s);
        return r;
    }
    list_for_each_safe(it, tmp, &b1->waiters)
    {
        struct futex_waiter *w = list_entry(it, struct futex_waiter, node);
        if (!key_matches(w, as, uaddr))
            continue;
        if (woken < nwake) {
            waiter_wake(w);
            woken++;
        } else if (moved < nmove) {
            list_remove(&w->node);
            w->uaddr = uaddr2;
            __atomic_store_n(&w->bucket, b2, __ATOMIC_RELEASE);
            list_add_tail(&b2->waiters, &w->node);
            moved++;
        } else {
            break;
        }
    }
    unlock_two(b1, b2, s);
    return woken + (cmp ? moved : 0);
}

void linux_clear_child_tid(uintptr_t uaddr)
{
    uint32_t zero = 0;
    struct process *p = process_current();
    if (!p || !p->as || copy_to_user(uaddr, &zero, sizeof(zero)) != OK)
        return; // a bad address is the program's problem, as on Linux
    futex_wake(p->as, uaddr, 1, FUTEX_BITSET_ANY);
}

struct lnx_timespec {
    int64_t sec, nsec;
};

// The monotonic deadline for a futex timeout: relative for FUTEX_WAIT,
// absolute on the chosen clock for FUTEX_WAIT_BITSET.
static int64_t futex_deadline(uintptr_t uts, bool absolute, bool realtime, uint64_t *deadline)
{
    struct lnx_timespec ts;
    *deadline = DEADLINE_INFINITE;
    if (!uts)
        return 0;
    if (copy_from_user(&ts, uts, sizeof(ts)) != OK)
        return -LNX_EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || (uint64_t)ts.nsec >= NS_PER_SEC)
        return -LNX_EINVAL;
    uint64_t now = clock_monotonic_ns();
    uint64_t base = absolute ? (realtime ? clock_realtime_ns() : now) : 0;
    if ((uint64_t)ts.sec > (UINT64_MAX - NS_PER_SEC) / NS_PER_SEC / 2)
        return 0; // centuries away: forever
    uint64_t t = (uint64_t)ts.sec * NS_PER_SEC + (uint64_t)ts.nsec;
    uint64_t rel = absolute ? (t > base ? t - base : 0) : t;
    *deadline = rel ? now + rel : DEADLINE_NONE;
    return 0;
}

int64_t linux_futex(const uint64_t a[6])
{
    uintptr_t uaddr = a[0];
    unsigned op = (unsigned)a[1], cmd = op & FUTEX_CMD_MASK;
    uint32_t val = (uint32_t)a[2], bitset = FUTEX_BITSET_ANY;
    const struct vm_aspace *as = process_current()->as;
    if (uaddr & 3)
        return -LNX_EINVAL;
    if ((op & FUTEX_CLOCK_REALTIME) && cmd != FUTEX_WAIT_BITSET)
        return -LNX_ENOSYS;
    switch (cmd) {
    case FUTEX_WAIT_BITSET:
    case FUTEX_WAKE_BITSET:
        bitset = (uint32_t)a[5];
        if (!bitset)
            return -LNX_EINVAL;
        break;
    default:
        break;
    }
    uint64_t deadline;
    int64_t r;
    switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
        r = futex_deadline(a[3], cmd == FUTEX_WAIT_BITSET, op & FUTEX_CLOCK_REALTIME, &deadline);
        return r ? r : futex_wait(as, uaddr, val, deadline, bitset);
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
        return futex_wake(as, uaddr, val > INT32_MAX ? -1 : (int)val, bitset);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
        if ((a[4] & 3) || (int32_t)val < 0 || (int32_t)a[3] < 0)
            return -LNX_EINVAL;
        return futex_requeue(as, uaddr, a[4], (int)val, (int)(int32_t)a[3],
                             cmd == FUTEX_CMP_REQUEUE, (uint32_t)a[5]);
    default:
        return -LNX_ENOSYS;
    }
}
