// The log object: handles onto the kernel log ring.
#include "obj/log.h"
#include "lib/fmt.h"
#include "lib/klog.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sched/timer.h"

#define NS_PER_TOKEN (1000000000ull / LOGOBJ_PER_SEC)

struct log_obj {
    struct kobject obj;
    struct ktimer notify; // raises READABLE after an append
    uint32_t pending;     // atomic: notify is armed
};

static struct spinlock create_lock = SPINLOCK_INIT("log create");
static struct log_obj *the_log; // (create_lock to set; then read-only)

static void log_destroy(struct kobject *o)
{
    kfree(container_of(o, struct log_obj, obj)); // never: the kernel keeps a reference
}

static const struct kobject_ops log_ops = {
    .type = OBJ_LOG,
    .name = "log",
    .default_rights = LOGOBJ_RIGHTS,
    .destroy = log_destroy,
};

static void notify_fn(struct ktimer *t, void *arg)
{
    struct log_obj *l = arg;
    __atomic_store_n(&l->pending, 0, __ATOMIC_RELEASE);
    irqstate_t s = obj_lock(&l->obj);
    obj_signal_locked(&l->obj, 0, SIGNAL_READABLE);
    obj_unlock(&l->obj, s);
}

// printk's append hook: arms the notify timer once per burst of records.
// Crash reports (LOG_CRIT and worse) may come from code holding timer
// locks, so they wake nobody (readers that wait with a deadline see them).
static void appended(int level)
{
    struct log_obj *l = __atomic_load_n(&the_log, __ATOMIC_ACQUIRE);
    if (!l || level <= LOG_CRIT || __atomic_exchange_n(&l->pending, 1, __ATOMIC_ACQ_REL))
        return;
    ktimer_arm(&l->notify, 0);
}

status_t logobj_get(struct kobject **out)
{
    irqstate_t s = spin_lock_irqsave(&create_lock);
    struct log_obj *l = the_log;
    if (!l && (l = kzalloc(sizeof(*l))) != NULL) {
        obj_init(&l->obj, &log_ops, NULL); // this reference is the kernel's, for ever
        // And a handle count that never drops to zero: the last user handle
        // going must not mark the object closed (waits would fail from then on).
        obj_handle_added(&l->obj);
        ktimer_init(&l->notify, notify_fn, l);
        __atomic_store_n(&the_log, l, __ATOMIC_RELEASE);
    }
    if (l)
        obj_ref(&l->obj);
    spin_unlock_irqrestore(&create_lock, s);
    if (!l)
        return ERR_NO_MEMORY;
    klog_set_append_hook(appended);
    *out = &l->obj;
    return OK;
}

status_t logobj_handle_create(struct handle_table *t, rights_t rights, handle_t *out)
{
    struct kobject *o;
    if (rights & ~LOGOBJ_RIGHTS)
        return ERR_INVALID_ARGS;
    status_t st = logobj_get(&o);
    if (st != OK)
        return st;
    st = handle_install(t, o, rights, out);
    obj_unref(o);
    return st;
}

static status_t get_log(struct handle_table *t, handle_t h, rights_t need, struct log_obj **out)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_LOG, need, &o);
    if (st == OK)
        *out = container_of(o, struct log_obj, obj);
    return st;
}

bool logobj_bucket_take(struct logobj_bucket *b, uint64_t now)
{
    if (!b->initialized) {
        *b = (struct logobj_bucket){.tokens = LOGOBJ_BURST, .refill_ns = now, .initialized = true};
    } else if (now > b->refill_ns) {
        uint64_t elapsed = MIN(now - b->refill_ns, 10ull * 1000000000ull);
        uint64_t add = elapsed / NS_PER_TOKEN;
        if (b->tokens + add >= LOGOBJ_BURST) {
            b->tokens = LOGOBJ_BURST;
            b->refill_ns = now;
        } else {
            b->tokens += (uint32_t)add;
            b->refill_ns += add * NS_PER_TOKEN;
        }
    }
    if (b->tokens == 0)
        return false;
    b->tokens--;
    return true;
}

status_t logobj_write(struct handle_table *t, handle_t h, const char *tag,
                      struct logobj_bucket *bucket, const char *text, size_t len)
{
    struct log_obj *l;
    status_t st = get_log(t, h, RIGHT_WRITE, &l);
    if (st != OK)
        return st;
    obj_unref(&l->obj); // the object is never destroyed
    uint32_t dropped = 0;
    if (bucket) {
        irqstate_t s = obj_lock(&l->obj); // (serializes the writer's bucket)
        bool ok = logobj_bucket_take(bucket, clock_monotonic_ns());
        if (!ok)
            bucket->dropped++;
        dropped = ok ? bucket->dropped : 0;
        if (ok)
            bucket->dropped = 0;
        obj_unlock(&l->obj, s);
        if (!ok)
            return OK;
    }
    char line[KLOG_LINE_MAX];
    if (dropped) {
        int n = ksnprintf(line, sizeof(line), "[%s] %u lines dropped (too many)", tag, dropped);
        printk_line(LOG_WARNING, line, (size_t)MIN(n, (int)sizeof(line) - 1), true);
    }
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    len = MIN(len, (size_t)LOGOBJ_LINE_MAX);
    int n = ksnprintf(line, sizeof(line), "[%s] ", tag);
    size_t at = (size_t)MIN(n, (int)sizeof(line) - 1);
    for (size_t i = 0; i < len && at < sizeof(line) - 1; i++) {
        unsigned char c = (unsigned char)text[i];
        line[at++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    printk_line(LOG_INFO, line, at, true);
    return OK;
}

status_t logobj_read(struct handle_table *t, handle_t h, uint64_t *seq, struct nb_log_record *out)
{
    _Static_assert(NB_LOG_LINE_MAX == KLOG_LINE_MAX, "a record's line holds a klog line");
    struct log_obj *l;
    status_t st = get_log(t, h, RIGHT_READ, &l);
    if (st != OK)
        return st;
    obj_unref(&l->obj);
    // Cleared before looking, so a record appended after the look raises it again.
    irqstate_t s = obj_lock(&l->obj);
    obj_signal_locked(&l->obj, SIGNAL_READABLE, 0);
    obj_unlock(&l->obj, s);
    struct klog_entry *e = kmalloc(sizeof(*e));
    if (!e)
        return ERR_NO_MEMORY;
    if (!klog_fetch(seq, e)) {
        kfree(e);
        return ERR_SHOULD_WAIT;
    }
    memset(out, 0, sizeof(*out));
    out->seq = e->seq;
    out->ts_ns = e->ts_ns;
    out->level = (uint32_t)e->level;
    out->len = (uint32_t)strlen(e->text);
    memcpy(out->line, e->text, out->len);
    kfree(e);
    if (*seq < klog_fetch_next_seq()) {
        s = obj_lock(&l->obj);
        obj_signal_locked(&l->obj, 0, SIGNAL_READABLE);
        obj_unlock(&l->obj, s);
    }
    return OK;
}
