// In-kernel tests of system information: the NB_INFO_* topics, buffers too
// small, wrong resources, the process registry, handle listings and the log
// object (read, write, sequence numbers, wrap-around, rate limit).
#include "dev/acpi.h"
#include "lib/fmt.h"
#include "lib/klog.h"
#include "lib/ktest.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/event.h"
#include "obj/log.h"
#include "obj/resource.h"
#include "obj/revoke.h"
#include "obj/signal.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "sys/process.h"
#include "sys/sysinfo.h"

#define SECOND 1000000000ull

struct fixture {
    struct handle_table t;
    handle_t info, procs, vmex, event;
};

static status_t resource_handle(struct handle_table *t, uint32_t kind, handle_t *out)
{
    struct kobject *o;
    status_t st = resource_create_kernel(kind, &o);
    if (st != OK)
        return st;
    st = handle_install(t, o, RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT, out);
    obj_unref(o);
    return st;
}

static status_t fixture_init(struct fixture *f)
{
    status_t st = handle_table_init(&f->t, 64);
    if (st == OK)
        st = resource_handle(&f->t, NB_RESOURCE_INFO, &f->info);
    if (st == OK)
        st = resource_handle(&f->t, NB_RESOURCE_PROCESS, &f->procs);
    if (st == OK)
        st = resource_handle(&f->t, NB_RESOURCE_VMEX, &f->vmex);
    if (st == OK)
        st = event_create(&f->t, &f->event);
    return st;
}

// A topic's data in a kmalloc'd buffer (free with kfree).
static status_t get_topic(struct fixture *f, uint32_t topic, void **buf, size_t *size)
{
    size_t n = 0;
    *buf = NULL;
    status_t st = sysinfo_get(&f->t, f->info, topic, NULL, 0, &n);
    if (st == OK) // no data at all (no processes, say)
        *size = n;
    if (st != ERR_BUFFER_TOO_SMALL)
        return st;
    *buf = kmalloc(n + 4096);
    if (!*buf)
        return ERR_NO_MEMORY;
    return sysinfo_get(&f->t, f->info, topic, *buf, n + 4096, size);
}

static bool contains(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (!strncmp(s, needle, n))
            return true;
    return false;
}

static const struct nb_process_info *find_pid(const struct nb_process_info *p, size_t n,
                                              uint64_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].pid == pid)
            return &p[i];
    return NULL;
}

static void sysinfo_topics(struct ktest *t)
{
    struct fixture f;
    void *buf;
    size_t n;
    ASSERT_OK(fixture_init(&f));

    ASSERT_OK(get_topic(&f, NB_INFO_SYSTEM, &buf, &n));
    struct nb_system_info *sys = buf;
    EXPECT_EQ(n, sizeof(*sys));
    EXPECT_GT(sys->uptime_ns, 0u);
    EXPECT_GE(sys->cpus, 1u);
    EXPECT_EQ(strncmp(sys->version, "Nimbus ", 7), 0);
    EXPECT_GT(strlen(sys->hypervisor), 0u);
    EXPECT_STREQ(sys->clocksource, clock_source_name());
    kfree(buf);

    ASSERT_OK(get_topic(&f, NB_INFO_MEMORY, &buf, &n));
    struct nb_memory_info *mem = buf;
    EXPECT_EQ(n, sizeof(*mem));
    EXPECT_EQ(mem->page_size, 4096u);
    EXPECT_GT(mem->total_pages, 0u);
    EXPECT_GT(mem->free_pages, 0u);
    EXPECT_LT(mem->free_pages, mem->total_pages);
    EXPECT_GT(mem->slab_bytes, 0u);
    EXPECT_GT(mem->kstack_bytes, 0u); // this thread's stack at least
    kfree(buf);

    ASSERT_OK(get_topic(&f, NB_INFO_SLABS, &buf, &n));
    struct nb_slab_info *slabs = buf;
    EXPECT_EQ(n % sizeof(*slabs), 0u);
    bool found = false;
    for (size_t i = 0; i < n / sizeof(*slabs); i++) {
        EXPECT_LE(slabs[i].in_use, slabs[i].total);
        EXPECT_LT(strlen(slabs[i].name), sizeof(slabs[i].name));
        if (!strcmp(slabs[i].name, "kmalloc-64")) {
            found = true;
            EXPECT_EQ(slabs[i].object_size, 64u);
        }
    }
    EXPECT_TRUE(found);
    kfree(buf);

    ASSERT_OK(get_topic(&f, NB_INFO_BOOT, &buf, &n));
    struct nb_boot_stage *stages = buf;
    ASSERT_GE(n / sizeof(*stages), 2u);
    EXPECT_STREQ(stages[0].name, "entry");
    EXPECT_EQ(stages[0].ns, 0u);
    found = false;
    for (size_t i = 1; i < n / sizeof(*stages); i++) {
        EXPECT_GE(stages[i].ns, stages[i - 1].ns);
        found |= !strcmp(stages[i].name, "memory");
    }
    EXPECT_TRUE(found);
    kfree(buf);

    ASSERT_OK(get_topic(&f, NB_INFO_HYPERVISOR, &buf, &n));
    char *text = buf;
    ASSERT_GT(n, 0u);
    EXPECT_EQ(text[n - 1], '\n');
    text[n] = 0; // (the buffer has room)
    EXPECT_TRUE(contains(text, "\nclock: ") || !strncmp(text, "clock: ", 7));
    EXPECT_FALSE(contains(text, "hvinfo: "));
    kfree(buf);

    EXPECT_STATUS(sysinfo_get(&f.t, f.info, 0, NULL, 0, &n), ERR_INVALID_ARGS);
    EXPECT_STATUS(sysinfo_get(&f.t, f.info, 99, NULL, 0, &n), ERR_INVALID_ARGS);
    handle_table_destroy(&f.t);
}

static void sysinfo_buffer_too_small(struct ktest *t)
{
    static uint8_t buf[4096];
    struct fixture f;
    size_t n = 0, m = 0;
    ASSERT_OK(fixture_init(&f));
    static const uint32_t topics[] = {NB_INFO_SYSTEM, NB_INFO_MEMORY, NB_INFO_SLABS, NB_INFO_BOOT,
                                      NB_INFO_HYPERVISOR};
    for (size_t i = 0; i < ARRAY_SIZE(topics); i++) {
        EXPECT_STATUS(sysinfo_get(&f.t, f.info, topics[i], NULL, 0, &n), ERR_BUFFER_TOO_SMALL);
        ASSERT_GT(n, 1u);
        ASSERT_LE(n, sizeof(buf));
        memset(buf, 0xaa, sizeof(buf));
        EXPECT_STATUS(sysinfo_get(&f.t, f.info, topics[i], buf, n - 1, &m), ERR_BUFFER_TOO_SMALL);
        EXPECT_EQ(m, n);
        EXPECT_EQ(buf[0], 0xaa); // nothing copied
        EXPECT_EQ(buf[n - 2], 0xaa);
    }
    // Exactly the size: copied.
    EXPECT_OK(sysinfo_get(&f.t, f.info, NB_INFO_MEMORY, buf, sizeof(struct nb_memory_info), &m));
    EXPECT_EQ(((struct nb_memory_info *)buf)->page_size, 4096u);
    handle_table_destroy(&f.t);
}

// The DSDT topic: the table the FADT names, whole and valid (signature,
// length field equal to the size, zero checksum), or ERR_NOT_FOUND when the
// machine has no ACPI (microvm with acpi=off).
static void sysinfo_acpi_dsdt(struct ktest *t)
{
    struct fixture f;
    void *buf;
    size_t n = 0, m = 0;
    ASSERT_OK(fixture_init(&f));
    const struct acpi_info *ai = acpi();
    status_t st = get_topic(&f, NB_INFO_ACPI_DSDT, &buf, &n);
    if (!ai || !ai->fadt.present || !ai->fadt.dsdt) {
        EXPECT_STATUS(st, ERR_NOT_FOUND);
        kfree(buf);
        handle_table_destroy(&f.t);
        KTEST_SKIP("no ACPI DSDT on this machine");
    }
    ASSERT_OK(st);
    const uint8_t *d = buf;
    ASSERT_GE(n, 36u);
    EXPECT_EQ(memcmp(d, "DSDT", 4), 0);
    uint32_t len;
    memcpy(&len, d + 4, sizeof(len));
    EXPECT_EQ((size_t)len, n);
    EXPECT_EQ(acpi_checksum(d, n), 0);
    const struct acpi_table *tab = acpi_table_find(ai, "DSDT");
    ASSERT_NOT_NULL(tab);
    EXPECT_EQ(tab->pa, ai->fadt.dsdt);
    EXPECT_EQ((size_t)tab->length, n);
    // One byte short: nothing copied, the size told.
    uint8_t *small = kmalloc(n);
    ASSERT_NOT_NULL(small);
    memset(small, 0xaa, n);
    EXPECT_STATUS(sysinfo_get(&f.t, f.info, NB_INFO_ACPI_DSDT, small, n - 1, &m),
                  ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(m, n);
    EXPECT_EQ(small[0], 0xaa);
    EXPECT_STATUS(sysinfo_get(&f.t, f.vmex, NB_INFO_ACPI_DSDT, small, n, &m), ERR_WRONG_TYPE);
    kfree(small);
    kfree(buf);
    handle_table_destroy(&f.t);
}

static void sysinfo_wrong_resource(struct ktest *t)
{
    struct fixture f;
    size_t n;
    handle_t h;
    ASSERT_OK(fixture_init(&f));
    EXPECT_STATUS(sysinfo_get(&f.t, f.vmex, NB_INFO_SYSTEM, NULL, 0, &n), ERR_WRONG_TYPE);
    EXPECT_STATUS(sysinfo_get(&f.t, f.procs, NB_INFO_SYSTEM, NULL, 0, &n), ERR_WRONG_TYPE);
    EXPECT_STATUS(sysinfo_get(&f.t, f.event, NB_INFO_SYSTEM, NULL, 0, &n), ERR_WRONG_TYPE);
    EXPECT_STATUS(sysinfo_get(&f.t, HANDLE_INVALID, NB_INFO_SYSTEM, NULL, 0, &n), ERR_BAD_HANDLE);
    EXPECT_STATUS(sysinfo_process_get(&f.t, f.info, 1, &h), ERR_WRONG_TYPE);
    EXPECT_STATUS(sysinfo_process_get(&f.t, f.event, 1, &h), ERR_WRONG_TYPE);
    EXPECT_STATUS(sysinfo_process_get(&f.t, f.procs, UINT64_MAX, &h), ERR_NOT_FOUND);
    EXPECT_STATUS(sysinfo_process_get(&f.t, f.procs, 0, &h), ERR_NOT_FOUND);
    handle_table_destroy(&f.t);
}

// Whether the PROCESSES topic lists pid, and its info.
static bool listed(struct ktest *t, struct fixture *f, uint64_t pid, struct nb_process_info *out)
{
    void *buf;
    size_t n;
    if (get_topic(f, NB_INFO_PROCESSES, &buf, &n) != OK) {
        kfree(buf);
        KTEST_FAIL_(t, "no PROCESSES topic");
        return false;
    }
    const struct nb_process_info *p = find_pid(buf, n / sizeof(*p), pid);
    if (p && out)
        *out = *p;
    kfree(buf);
    return p != NULL;
}

static void sysinfo_process_registry(struct ktest *t)
{
    struct fixture f;
    struct process *p, *q;
    struct nb_process_info info;
    handle_t h;
    ASSERT_OK(fixture_init(&f));
    ASSERT_OK(process_create_kernel("sysinfo-reg", &p));
    uint64_t pid = p->pid;
    EXPECT_TRUE(listed(t, &f, pid, &info));
    EXPECT_STREQ(info.name, "sysinfo-reg");
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_NEW);

    // By id: a reference, and a handle with the default rights.
    ASSERT_OK(process_get_by_pid(pid, &q));
    EXPECT_TRUE(p == q);
    obj_unref(&q->obj);
    ASSERT_OK(sysinfo_process_get(&f.t, f.procs, pid, &h));
    struct nb_handle_info hi;
    ASSERT_OK(handle_get_info(&f.t, h, &hi));
    EXPECT_EQ(hi.type, (uint32_t)OBJ_PROCESS);
    EXPECT_EQ(hi.rights, p->obj.ops->default_rights);

    // Killed: DEAD, still listed while a handle holds it, no longer found by id.
    process_kill(p, 5, NB_PROCESS_KILLED);
    EXPECT_STATUS(process_get_by_pid(pid, &q), ERR_NOT_FOUND);
    EXPECT_TRUE(listed(t, &f, pid, &info));
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_DEAD);
    obj_unref(&p->obj);
    EXPECT_TRUE(listed(t, &f, pid, NULL)); // the handle still holds it

    // Gone with its last handle.
    ASSERT_OK(handle_close(&f.t, h));
    EXPECT_FALSE(listed(t, &f, pid, NULL));
    EXPECT_STATUS(sysinfo_process_get(&f.t, f.procs, pid, &h), ERR_NOT_FOUND);
    handle_table_destroy(&f.t);
}

static const struct nb_handle_entry *find_handle(const struct nb_handle_entry *e, size_t n,
                                                 handle_t h)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].handle == h)
            return &e[i];
    return NULL;
}

static void sysinfo_handle_listing(struct ktest *t)
{
    struct process *p;
    struct nb_handle_entry e[8];
    handle_t ev, dup, rd, wrapped, revoker;
    size_t n = 0;
    ASSERT_OK(process_create_kernel("sysinfo-handles", &p));
    struct handle_table *pt = &p->handles;
    ASSERT_OK(sysinfo_process_handles(p, e, ARRAY_SIZE(e), &n));
    EXPECT_EQ(n, 0u);
    ASSERT_OK(event_create(pt, &ev));
    ASSERT_OK(handle_duplicate(pt, ev, RIGHT_WAIT | RIGHT_DUPLICATE, &dup));
    ASSERT_OK(logobj_handle_create(pt, RIGHT_READ, &rd));
    ASSERT_OK(handle_revocable_create(pt, ev, RIGHT_SAME_RIGHTS, &wrapped, &revoker));

    ASSERT_OK(sysinfo_process_handles(p, e, ARRAY_SIZE(e), &n));
    ASSERT_EQ(n, 5u);
    const struct nb_handle_entry *a = find_handle(e, n, ev), *b = find_handle(e, n, dup);
    const struct nb_handle_entry *c = find_handle(e, n, rd), *w = find_handle(e, n, wrapped);
    const struct nb_handle_entry *r = find_handle(e, n, revoker);
    ASSERT_TRUE(a && b && c && w && r);
    EXPECT_EQ(a->type, (uint32_t)OBJ_EVENT);
    EXPECT_EQ(b->type, (uint32_t)OBJ_EVENT);
    EXPECT_EQ(b->rights, RIGHT_WAIT | RIGHT_DUPLICATE);
    EXPECT_NE(a->object_id, 0u);
    EXPECT_EQ(a->object_id, b->object_id); // one object, one id
    EXPECT_EQ(w->object_id, a->object_id); // also through a revocable handle
    EXPECT_EQ(c->type, (uint32_t)OBJ_LOG);
    EXPECT_EQ(c->rights, RIGHT_READ);
    EXPECT_NE(c->object_id, a->object_id);
    EXPECT_EQ(r->type, (uint32_t)OBJ_REVOKER);
    EXPECT_NE(r->object_id, a->object_id);

    // Too small: nothing promised in the buffer, the count says how many.
    EXPECT_STATUS(sysinfo_process_handles(p, e, 2, &n), ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, 5u);
    EXPECT_STATUS(sysinfo_process_handles(p, NULL, 0, &n), ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, 5u);

    // A revoked handle: no object any more.
    ASSERT_OK(handle_revoke(pt, revoker));
    ASSERT_OK(sysinfo_process_handles(p, e, ARRAY_SIZE(e), &n));
    ASSERT_EQ(n, 5u); // the revoker stays
    w = find_handle(e, n, wrapped);
    ASSERT_NOT_NULL(w);
    EXPECT_EQ(w->type, (uint32_t)OBJ_NONE);
    EXPECT_EQ(w->object_id, 0u);

    ASSERT_OK(handle_close(pt, dup));
    ASSERT_OK(sysinfo_process_handles(p, e, ARRAY_SIZE(e), &n));
    EXPECT_EQ(n, 4u);
    EXPECT_NULL(find_handle(e, n, dup));

    // A dead process's table is empty.
    process_kill(p, 0, NB_PROCESS_KILLED);
    ASSERT_OK(sysinfo_process_handles(p, e, ARRAY_SIZE(e), &n));
    EXPECT_EQ(n, 0u);
    obj_unref(&p->obj);
}

static void sysinfo_object_ids_unique(struct ktest *t)
{
    struct nb_handle_entry e[16];
    handle_t h[16];
    size_t n;
    struct process *p;
    ASSERT_OK(process_create_kernel("sysinfo-ids", &p));
    for (int i = 0; i < 16; i++)
        ASSERT_OK(event_create(&p->handles, &h[i]));
    ASSERT_OK(sysinfo_process_handles(p, e, ARRAY_SIZE(e), &n));
    ASSERT_EQ(n, 16u);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            EXPECT_NE(e[i].object_id, e[j].object_id);
    // Different from the process's own id.
    for (size_t i = 0; i < n; i++)
        EXPECT_NE(e[i].object_id, p->obj.koid);
    process_kill(p, 0, NB_PROCESS_KILLED);
    obj_unref(&p->obj);
}

// A killed thread blocked in a wait with no deadline comes back
// (ERR_CANCELED), as process_kill needs (kill, ps and handles rely on it).
struct kill_waiter {
    struct handle_table *t;
    handle_t h;
    status_t st;
};

static int kill_waiter_main(void *arg)
{
    struct kill_waiter *k = arg;
    signals_t seen;
    k->st = obj_wait_one(k->t, k->h, SIGNAL_SIGNALED, DEADLINE_INFINITE, &seen);
    return 0;
}

static void sysinfo_kill_blocked_waiter(struct ktest *t)
{
    struct handle_table tab;
    struct thread *th;
    struct kill_waiter k = {&tab, HANDLE_INVALID, OK};
    ASSERT_OK(handle_table_init(&tab, 4));
    ASSERT_OK(event_create(&tab, &k.h));
    ASSERT_OK(thread_create("kill-waiter", kill_waiter_main, &k, PRIO_DEFAULT, &th));
    thread_start(th);
    thread_sleep_ns(20 * 1000000ull); // it blocks
    thread_kill(th);
    ASSERT_OK(thread_join(th, clock_monotonic_ns() + 5 * SECOND, NULL));
    EXPECT_STATUS(k.st, ERR_CANCELED);
    handle_table_destroy(&tab);
}

// ---- The log object ----

static void sysinfo_log_write_read(struct ktest *t)
{
    static struct nb_log_record rec;
    struct handle_table tab;
    handle_t rw, ro, wo, ev;
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(logobj_handle_create(&tab, RIGHT_READ | RIGHT_WRITE | RIGHT_WAIT, &rw));
    ASSERT_OK(logobj_handle_create(&tab, RIGHT_READ, &ro));
    ASSERT_OK(logobj_handle_create(&tab, RIGHT_WRITE, &wo));
    ASSERT_OK(event_create(&tab, &ev));
    EXPECT_STATUS(logobj_handle_create(&tab, RIGHT_MANAGE, &ev), ERR_INVALID_ARGS);

    uint64_t start = klog_fetch_next_seq(), seq = start;
    uint64_t t0 = clock_monotonic_ns();
    const char msg[] = "first line\nsecond\x1b[1m\n\n";
    ASSERT_OK(logobj_write(&tab, rw, "ktest", NULL, msg, sizeof(msg) - 1));
    ASSERT_OK(logobj_read(&tab, ro, &seq, &rec));
    EXPECT_EQ(rec.seq, start);
    EXPECT_EQ(seq, start + 1);
    EXPECT_EQ(rec.level, (uint32_t)LOG_INFO);
    EXPECT_GE(rec.ts_ns, t0);
    EXPECT_STREQ(rec.line, "[ktest] first line?second?[1m");
    EXPECT_EQ(rec.len, (uint32_t)strlen(rec.line));
    EXPECT_STATUS(logobj_read(&tab, rw, &seq, &rec), ERR_SHOULD_WAIT);
    EXPECT_EQ(seq, start + 1);

    // Long lines are cut; the rest of the record is zeros.
    static char big[600];
    memset(big, 'x', sizeof(big));
    ASSERT_OK(logobj_write(&tab, wo, "k", NULL, big, sizeof(big)));
    ASSERT_OK(logobj_read(&tab, rw, &seq, &rec));
    EXPECT_EQ(rec.len, 4u + LOGOBJ_LINE_MAX);
    EXPECT_EQ(rec.line[rec.len], 0);
    EXPECT_EQ(rec.line[NB_LOG_LINE_MAX - 1], 0);

    // Kernel records are there too, with their level.
    pr_debug("sysinfo_test: a debug record");
    ASSERT_OK(logobj_read(&tab, ro, &seq, &rec));
    EXPECT_EQ(rec.level, (uint32_t)LOG_DEBUG);
    EXPECT_STREQ(rec.line, "sysinfo_test: a debug record");

    // Rights and types.
    EXPECT_STATUS(logobj_read(&tab, wo, &seq, &rec), ERR_ACCESS_DENIED);
    EXPECT_STATUS(logobj_write(&tab, ro, "k", NULL, "x", 1), ERR_ACCESS_DENIED);
    EXPECT_STATUS(logobj_read(&tab, ev, &seq, &rec), ERR_WRONG_TYPE);
    EXPECT_STATUS(logobj_write(&tab, ev, "k", NULL, "x", 1), ERR_WRONG_TYPE);
    EXPECT_STATUS(logobj_read(&tab, HANDLE_INVALID, &seq, &rec), ERR_BAD_HANDLE);
    handle_table_destroy(&tab);
}

static void sysinfo_log_readable(struct ktest *t)
{
    static struct nb_log_record rec;
    struct handle_table tab;
    handle_t h;
    signals_t seen = 0;
    ASSERT_OK(handle_table_init(&tab, 4));
    ASSERT_OK(logobj_handle_create(&tab, RIGHT_READ | RIGHT_WAIT, &h));
    // Earlier records may still have a notification on its way: let it land.
    thread_sleep_ns(20 * 1000000ull);
    uint64_t seq = klog_fetch_next_seq();
    EXPECT_STATUS(logobj_read(&tab, h, &seq, &rec), ERR_SHOULD_WAIT); // clears READABLE
    EXPECT_STATUS(obj_wait_one(&tab, h, SIGNAL_READABLE, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    pr_debug("sysinfo_test: wake the readers");
    ASSERT_OK(obj_wait_one(&tab, h, SIGNAL_READABLE, clock_monotonic_ns() + 5 * SECOND, &seen));
    EXPECT_TRUE(seen & SIGNAL_READABLE);
    ASSERT_OK(logobj_read(&tab, h, &seq, &rec));
    EXPECT_STREQ(rec.line, "sysinfo_test: wake the readers");
    // Caught up: the read cleared it.
    EXPECT_STATUS(obj_wait_one(&tab, h, SIGNAL_READABLE, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    // Two records, one read: still readable after it.
    pr_debug("sysinfo_test: one");
    pr_debug("sysinfo_test: two");
    ASSERT_OK(obj_wait_one(&tab, h, SIGNAL_READABLE, clock_monotonic_ns() + 5 * SECOND, &seen));
    ASSERT_OK(logobj_read(&tab, h, &seq, &rec));
    EXPECT_OK(obj_wait_one(&tab, h, SIGNAL_READABLE, DEADLINE_NONE, &seen));
    ASSERT_OK(logobj_read(&tab, h, &seq, &rec));
    EXPECT_STREQ(rec.line, "sysinfo_test: two");
    handle_table_destroy(&tab);
}

static void sysinfo_log_wraparound(struct ktest *t)
{
    static struct nb_log_record rec;
    struct handle_table tab;
    handle_t h;
    ASSERT_OK(handle_table_init(&tab, 4));
    ASSERT_OK(logobj_handle_create(&tab, RIGHT_READ, &h));
    static char pad[151], want[KLOG_LINE_MAX];
    memset(pad, 'p', sizeof(pad) - 1);
    uint64_t first = klog_fetch_next_seq();
    // ~200-byte records at debug level (not on the console): 64 KiB wraps.
    for (int i = 0; i < 600; i++)
        pr_debug("sysinfo_test: wrap %04d %s", i, pad);
    uint64_t end = klog_fetch_next_seq();
    EXPECT_GE(end, first + 600);

    // From the start: the oldest records are gone, the sequence jumps.
    uint64_t seq = first;
    ASSERT_OK(logobj_read(&tab, h, &seq, &rec));
    EXPECT_GT(rec.seq, first);
    EXPECT_EQ(seq, rec.seq + 1);
    uint64_t prev = rec.seq, count = 1;
    while (logobj_read(&tab, h, &seq, &rec) == OK) {
        EXPECT_EQ(rec.seq, prev + 1);
        prev = rec.seq;
        count++;
    }
    EXPECT_EQ(prev, end - 1);
    EXPECT_LT(count, 600u);
    EXPECT_GT(count, 100u);
    // The last one is the last written.
    seq = end - 1;
    ASSERT_OK(logobj_read(&tab, h, &seq, &rec));
    ksnprintf(want, sizeof(want), "sysinfo_test: wrap 0599 %s", pad);
    EXPECT_STREQ(rec.line, want);
    handle_table_destroy(&tab);
}

static void sysinfo_log_rate_limit(struct ktest *t)
{
    static struct nb_log_record rec;
    struct logobj_bucket b = {0};
    uint64_t now = 1000 * SECOND;
    int taken = 0;
    for (int i = 0; i < 2 * LOGOBJ_BURST; i++)
        taken += logobj_bucket_take(&b, now);
    EXPECT_EQ(taken, LOGOBJ_BURST);
    EXPECT_FALSE(logobj_bucket_take(&b, now + SECOND / LOGOBJ_PER_SEC / 2));
    EXPECT_TRUE(logobj_bucket_take(&b, now + SECOND / LOGOBJ_PER_SEC));
    EXPECT_FALSE(logobj_bucket_take(&b, now + SECOND / LOGOBJ_PER_SEC));
    // One second: LOGOBJ_PER_SEC more.
    taken = 0;
    for (int i = 0; i < 2 * LOGOBJ_BURST; i++)
        taken += logobj_bucket_take(&b, now + SECOND + SECOND / LOGOBJ_PER_SEC);
    EXPECT_EQ(taken, LOGOBJ_PER_SEC);
    // A long pause fills it, no more.
    taken = 0;
    for (int i = 0; i < 2 * LOGOBJ_BURST; i++)
        taken += logobj_bucket_take(&b, now + 3600 * SECOND);
    EXPECT_EQ(taken, LOGOBJ_BURST);

    // Through log writes: an empty bucket drops (still OK), and the next
    // accepted line reports how many.
    struct handle_table tab;
    handle_t h;
    ASSERT_OK(handle_table_init(&tab, 4));
    ASSERT_OK(logobj_handle_create(&tab, RIGHT_READ | RIGHT_WRITE, &h));
    b = (struct logobj_bucket){.initialized = true, .tokens = 0, .refill_ns = UINT64_MAX};
    uint64_t seq = klog_fetch_next_seq();
    EXPECT_OK(logobj_write(&tab, h, "flood", &b, "lost", 4));
    EXPECT_OK(logobj_write(&tab, h, "flood", &b, "lost", 4));
    EXPECT_STATUS(logobj_read(&tab, h, &seq, &rec), ERR_SHOULD_WAIT);
    EXPECT_EQ(b.dropped, 2u);
    b.tokens = 1;
    EXPECT_OK(logobj_write(&tab, h, "flood", &b, "kept", 4));
    ASSERT_OK(logobj_read(&tab, h, &seq, &rec));
    EXPECT_STREQ(rec.line, "[flood] 2 lines dropped (too many)");
    EXPECT_EQ(rec.level, (uint32_t)LOG_WARNING);
    ASSERT_OK(logobj_read(&tab, h, &seq, &rec));
    EXPECT_STREQ(rec.line, "[flood] kept");
    EXPECT_EQ(b.dropped, 0u);
    handle_table_destroy(&tab);
}

KTEST_SUITE(sysinfo, KTEST_CASE(sysinfo_topics), KTEST_CASE(sysinfo_buffer_too_small),
            KTEST_CASE(sysinfo_acpi_dsdt), KTEST_CASE(sysinfo_wrong_resource),
            KTEST_CASE(sysinfo_process_registry), KTEST_CASE(sysinfo_handle_listing),
            KTEST_CASE(sysinfo_object_ids_unique), KTEST_CASE(sysinfo_kill_blocked_waiter),
            KTEST_CASE(sysinfo_log_write_read), KTEST_CASE(sysinfo_log_readable),
            KTEST_CASE(sysinfo_log_wraparound), KTEST_CASE(sysinfo_log_rate_limit));
