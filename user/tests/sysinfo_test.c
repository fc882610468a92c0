// sysinfo: system information from user space (NB_SYS_SYSTEM_INFO,
// NB_SYS_PROCESS_GET, NB_SYS_PROCESS_HANDLES, NB_SYS_LOG_READ/WRITE). KTAP
// on stdout; exit status = failed cases.
//
// Wants from init (manifest): handles=log?,info,processes,initrd,vmex.
// Without "log" the log cases are skipped; without initrd and vmex those
// that start processes.
//
// `sysinfo --child=hold` is the process the process cases look at: it says
// "ready" on its user0 channel, then waits until that channel closes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/sysinfo.h"
#include "nb/time.h"
#include "nimbus/object.h"

#define WAIT_LIMIT  (10 * NB_NSEC_PER_SEC)
#define SPAWN_COUNT 50

static const char *self_path = "/test/sysinfo";
static const char *self_name = "sysinfo";
static struct nb_initrd initrd;
static bool have_initrd;

static handle_t info_handle(void)
{
    return nb_bootstrap_peek(BOOTSTRAP_ROLE_INFO);
}

static handle_t procs_handle(void)
{
    return nb_bootstrap_peek(BOOTSTRAP_ROLE_PROCESSES);
}

static status_t start(const char *path, const char *arg, const uint32_t *roles, const handle_t *hs,
                      uint32_t n, handle_t *proc)
{
    const char *argv[] = {path, arg, NULL};
    struct nb_spawn sp = {
        .name = "sysinfo-child", .argv = argv, .roles = roles, .handles = hs, .nhandles = n};
    status_t s = nb_initrd_find(&initrd, path, &sp.elf, &sp.elf_size);
    return s == OK ? nb_spawn(&sp, proc) : s;
}

// Starts `--child=hold` and waits for its "ready"; *ch is our end.
static status_t start_holder(handle_t *proc, handle_t *ch)
{
    handle_t theirs;
    uint32_t role = BOOTSTRAP_ROLE_USER0;
    signals_t seen;
    char buf[8];
    status_t s = nb_channel_create(0, ch, &theirs);
    if (s != OK)
        return s;
    if ((s = start(self_path, "--child=hold", &role, &theirs, 1, proc)) != OK) {
        nb_handle_close(*ch);
        return s;
    }
    s = nb_object_wait_one(*ch, SIGNAL_READABLE, nb_deadline_after(WAIT_LIMIT), &seen);
    struct nb_msg_in in = {buf, NULL, sizeof(buf), 0, 0, 0};
    if (s == OK)
        s = nb_channel_read(*ch, &in);
    return s;
}

static const struct nb_process_info *find_pid(const struct nb_process_info *p, size_t n,
                                              uint64_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].pid == pid)
            return &p[i];
    return NULL;
}

static bool listed(uint64_t pid, struct nb_process_info *out)
{
    void *buf;
    size_t size;
    if (nb_info_get(info_handle(), NB_INFO_PROCESSES, &buf, &size) != OK)
        return false;
    const struct nb_process_info *p = find_pid(buf, size / sizeof(*p), pid);
    if (p && out)
        *out = *p;
    free(buf);
    return p != NULL;
}

// ---- Topics ----

static void info_topics(struct ktest *t)
{
    void *buf;
    size_t size;
    uint64_t actual;

    struct nb_system_info si;
    ASSERT_OK(nb_system_info(info_handle(), NB_INFO_SYSTEM, &si, sizeof(si), &actual));
    EXPECT_EQ(actual, sizeof(si));
    EXPECT_GE(si.cpus, 1u);
    EXPECT_GE(si.processes, 2u); // init and this one
    EXPECT_EQ(strncmp(si.version, "Nimbus ", 7), 0);
    EXPECT_GT(si.uptime_ns, 0u);
    EXPECT_GT(si.realtime_ns, 1704067200ull * NB_NSEC_PER_SEC); // after 2024-01-01
    EXPECT_GT(strlen(si.clocksource), 0u);

    struct nb_memory_info m;
    ASSERT_OK(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m), &actual));
    EXPECT_EQ(m.page_size, 4096u);
    EXPECT_LT(m.free_pages, m.total_pages);
    EXPECT_GT(m.user_bytes, 0u); // this program's pages, for one

    ASSERT_OK(nb_info_get(info_handle(), NB_INFO_PROCESSES, &buf, &size));
    const struct nb_process_info *p = buf;
    bool self = false, init = false;
    for (size_t i = 0; i < size / sizeof(*p); i++) {
        self |= !strcmp(p[i].name, self_name) && p[i].state == NB_PROCESS_RUNNING;
        init |= !strcmp(p[i].name, "init") && p[i].state == NB_PROCESS_RUNNING;
        if (!strcmp(p[i].name, self_name)) {
            EXPECT_GE(p[i].threads, 1u);
            EXPECT_GT(p[i].mapped_bytes, 0u);
            EXPECT_GT(p[i].handles, 0u);
        }
    }
    EXPECT_TRUE(self);
    EXPECT_TRUE(init);
    free(buf);

    ASSERT_OK(nb_info_get(info_handle(), NB_INFO_BOOT, &buf, &size));
    const struct nb_boot_stage *st = buf;
    bool ready = false;
    for (size_t i = 0; i < size / sizeof(*st); i++)
        ready |= !strcmp(st[i].name, "ready");
    EXPECT_TRUE(ready);
    EXPECT_STREQ(st[0].name, "entry");
    free(buf);

    ASSERT_OK(nb_info_get(info_handle(), NB_INFO_SLABS, &buf, &size));
    EXPECT_GT(size / sizeof(struct nb_slab_info), 10u);
    free(buf);

    ASSERT_OK(nb_info_get(info_handle(), NB_INFO_HYPERVISOR, &buf, &size));
    ASSERT_GT(size, 0u);
    EXPECT_EQ(((char *)buf)[size - 1], '\n');
    free(buf);
}

static void info_bad_arguments(struct ktest *t)
{
    struct nb_memory_info m;
    uint64_t actual = 0;
    EXPECT_STATUS(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, 0, &actual),
                  ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(actual, sizeof(m));
    actual = 0;
    memset(&m, 0x5a, sizeof(m));
    EXPECT_STATUS(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m) - 1, &actual),
                  ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(actual, sizeof(m));
    EXPECT_EQ(m.page_size, 0x5a5a5a5a5a5a5a5aull); // nothing copied
    EXPECT_STATUS(nb_system_info(info_handle(), 0, &m, sizeof(m), &actual), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_system_info(info_handle(), 1000, &m, sizeof(m), &actual), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_system_info(info_handle(), NB_INFO_MEMORY, (void *)16, sizeof(m), &actual),
                  ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m), (uint64_t *)16),
                  ERR_INVALID_ARGS);
    EXPECT_OK(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m), NULL));
}

static void info_wrong_handles(struct ktest *t)
{
    struct nb_system_info si;
    uint64_t actual;
    handle_t ev, h, self_noinspect;
    ASSERT_OK(nb_event_create(&ev));
    EXPECT_STATUS(nb_system_info(procs_handle(), NB_INFO_SYSTEM, &si, sizeof(si), &actual),
                  ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_system_info(ev, NB_INFO_SYSTEM, &si, sizeof(si), &actual), ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_system_info(HANDLE_INVALID, NB_INFO_SYSTEM, &si, sizeof(si), &actual),
                  ERR_BAD_HANDLE);
    handle_t vmex = nb_bootstrap_peek(BOOTSTRAP_ROLE_VMEX);
    if (vmex != HANDLE_INVALID)
        EXPECT_STATUS(nb_system_info(vmex, NB_INFO_SYSTEM, &si, sizeof(si), &actual),
                      ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_process_get(info_handle(), 1, &h), ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_process_get(ev, 1, &h), ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_process_get(procs_handle(), UINT64_MAX, &h), ERR_NOT_FOUND);

    struct nb_handle_entry e[4];
    uint64_t n;
    EXPECT_STATUS(nb_process_handles(ev, e, 4, &n), ERR_WRONG_TYPE);
    // A process handle without INSPECT: denied.
    struct nb_process_info me;
    void *buf;
    size_t size;
    ASSERT_OK(nb_info_get(info_handle(), NB_INFO_PROCESSES, &buf, &size));
    const struct nb_process_info *p = buf;
    uint64_t pid = 0;
    for (size_t i = 0; i < size / sizeof(*p); i++)
        if (!strcmp(p[i].name, self_name) && p[i].state == NB_PROCESS_RUNNING)
            pid = p[i].pid;
    free(buf);
    ASSERT_NE(pid, 0u);
    EXPECT_STATUS(nb_process_get(procs_handle(), pid, (handle_t *)16), ERR_INVALID_ARGS);
    ASSERT_OK(nb_process_get(procs_handle(), pid, &h));
    ASSERT_OK(nb_process_info(h, &me));
    EXPECT_EQ(me.pid, pid);
    ASSERT_OK(nb_handle_duplicate(h, RIGHT_WAIT, &self_noinspect));
    EXPECT_STATUS(nb_process_handles(self_noinspect, e, 4, &n), ERR_ACCESS_DENIED);
    EXPECT_STATUS(nb_process_handles(h, (struct nb_handle_entry *)16, 1024, &n), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_process_handles(h, e, 4, (uint64_t *)16), ERR_INVALID_ARGS);
    nb_handle_close(self_noinspect);
    nb_handle_close(h);
    nb_handle_close(ev);
}

// ---- Processes ----

static void process_get_list_kill(struct ktest *t)
{
    handle_t proc, ch, other;
    struct nb_process_info info, seen;
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    ASSERT_OK(start_holder(&proc, &ch));
    ASSERT_OK(nb_process_info(proc, &info));
    EXPECT_TRUE(listed(info.pid, &seen));
    EXPECT_STREQ(seen.name, "sysinfo-child");
    EXPECT_EQ(seen.state, (uint32_t)NB_PROCESS_RUNNING);

    // A second handle by id: the same process, and its handle table.
    ASSERT_OK(nb_process_get(procs_handle(), info.pid, &other));
    struct nb_process_info again;
    ASSERT_OK(nb_process_info(other, &again));
    EXPECT_EQ(again.pid, info.pid);
    struct nb_handle_entry e[32];
    uint64_t n = 0;
    ASSERT_OK(nb_process_handles(other, e, 32, &n));
    bool channel = false;
    for (uint64_t i = 0; i < n; i++)
        channel |= e[i].type == OBJ_CHANNEL;
    EXPECT_TRUE(channel); // its user0 channel at least

    // Killed through it: DEAD with the kill's code, no longer found by id.
    ASSERT_OK(nb_task_kill(other));
    ASSERT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info));
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_DEAD);
    EXPECT_EQ(info.exit_code, NB_EXIT_KILLED);
    EXPECT_TRUE(info.flags & NB_PROCESS_KILLED);
    handle_t h;
    EXPECT_STATUS(nb_process_get(procs_handle(), info.pid, &h), ERR_NOT_FOUND);
    EXPECT_TRUE(listed(info.pid, NULL)); // while we hold handles: dead, listed
    nb_handle_close(other);
    nb_handle_close(proc);
    EXPECT_FALSE(listed(info.pid, NULL));
    nb_handle_close(ch);
}

static const struct nb_handle_entry *find_handle(const struct nb_handle_entry *e, uint64_t n,
                                                 handle_t h)
{
    for (uint64_t i = 0; i < n; i++)
        if (e[i].handle == h)
            return &e[i];
    return NULL;
}

static void handles_of_self(struct ktest *t)
{
    static struct nb_handle_entry e[256];
    uint64_t n = 0;
    handle_t ev, dup;
    ASSERT_OK(nb_event_create(&ev));
    ASSERT_OK(nb_handle_duplicate(ev, RIGHT_WAIT | RIGHT_DUPLICATE, &dup));
    ASSERT_OK(nb_process_handles(HANDLE_INVALID, e, 256, &n));
    ASSERT_LE(n, 256u);
    const struct nb_handle_entry *a = find_handle(e, n, ev), *b = find_handle(e, n, dup);
    const struct nb_handle_entry *i = find_handle(e, n, info_handle());
    ASSERT_TRUE(a && b && i);
    EXPECT_EQ(a->type, (uint32_t)OBJ_EVENT);
    EXPECT_EQ(b->rights, RIGHT_WAIT | RIGHT_DUPLICATE);
    EXPECT_EQ(a->object_id, b->object_id);
    EXPECT_NE(a->object_id, 0u);
    EXPECT_EQ(i->type, (uint32_t)OBJ_RESOURCE);
    EXPECT_NE(i->object_id, a->object_id);
    uint64_t before = n;

    // Too small: the count, nothing else.
    uint64_t m = 0;
    EXPECT_STATUS(nb_process_handles(HANDLE_INVALID, e, 1, &m), ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(m, before);
    EXPECT_STATUS(nb_process_handles(HANDLE_INVALID, NULL, 0, &m), ERR_BUFFER_TOO_SMALL);

    nb_handle_close(dup);
    ASSERT_OK(nb_process_handles(HANDLE_INVALID, e, 256, &n));
    EXPECT_EQ(n, before - 1);
    EXPECT_NULL(find_handle(e, n, dup));
    nb_handle_close(ev);
}

// Many children started and reaped: free memory comes back to exactly
// where it was (after a warm-up, so caches and this program's heap have
// reached their working size).
static void many_processes_memory_baseline(struct ktest *t)
{
    struct nb_memory_info m;
    struct nb_process_info info;
    uint64_t actual;
    if (!have_initrd)
        KTEST_SKIP("no initrd handle");
    // The count moves: a live child holds pages.
    handle_t holder, ch;
    ASSERT_OK(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m), &actual));
    uint64_t before = m.free_pages;
    ASSERT_OK(start_holder(&holder, &ch));
    ASSERT_OK(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m), &actual));
    EXPECT_LT(m.free_pages + 16, before);
    nb_handle_close(ch); // it exits when its channel closes
    ASSERT_OK(nb_process_wait(holder, nb_deadline_after(WAIT_LIMIT), &info));
    EXPECT_EQ(info.exit_code, 0);
    nb_handle_close(holder);
    for (int i = 0; i < 3; i++) {
        handle_t proc;
        ASSERT_OK(start("/bin/true", NULL, NULL, NULL, 0, &proc));
        ASSERT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info));
        nb_handle_close(proc);
    }
    nb_nanosleep(nb_deadline_after(50 * NB_NSEC_PER_MSEC)); // dead threads are reaped
    ASSERT_OK(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m), &actual));
    uint64_t baseline = m.free_pages, lowest = baseline;
    for (int i = 0; i < SPAWN_COUNT; i++) {
        handle_t proc;
        ASSERT_OK(start("/bin/true", NULL, NULL, NULL, 0, &proc));
        ASSERT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info));
        EXPECT_EQ(info.exit_code, 0);
        nb_handle_close(proc);
        ASSERT_OK(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m), &actual));
        lowest = m.free_pages < lowest ? m.free_pages : lowest;
    }
    // Thread stacks are freed once the threads are off their CPUs: give it
    // a moment.
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(nb_system_info(info_handle(), NB_INFO_MEMORY, &m, sizeof(m), &actual));
        if (m.free_pages == baseline)
            break;
        nb_nanosleep(nb_deadline_after(20 * NB_NSEC_PER_MSEC));
    }
    printf("    # %d processes: free pages %llu before, %llu after, lowest %llu\n", SPAWN_COUNT,
           (unsigned long long)baseline, (unsigned long long)m.free_pages,
           (unsigned long long)lowest);
    EXPECT_EQ(m.free_pages, baseline);
    EXPECT_FALSE(listed(info.pid, NULL));
}

// ---- The log ----

static handle_t log_handle(void)
{
    return nb_bootstrap_peek(BOOTSTRAP_ROLE_LOG);
}

// Reads to the end; returns the next sequence number.
static uint64_t log_end(handle_t log)
{
    static struct nb_log_record rec;
    uint64_t seq = 0;
    while (nb_log_read(log, &seq, &rec) == OK)
        ;
    return seq;
}

static void log_write_read(struct ktest *t)
{
    static struct nb_log_record rec;
    handle_t log = log_handle(), ro;
    signals_t seen;
    if (log == HANDLE_INVALID)
        KTEST_SKIP("no log handle");
    uint64_t seq = log_end(log);
    EXPECT_STATUS(nb_log_read(log, &seq, &rec), ERR_SHOULD_WAIT);

    const char line[] = "sysinfo: a line from user space\n";
    ASSERT_OK(nb_log_write(log, line, sizeof(line) - 1));
    ASSERT_OK(nb_object_wait_one(log, SIGNAL_READABLE, nb_deadline_after(WAIT_LIMIT), &seen));
    uint64_t before = seq;
    ASSERT_OK(nb_log_read(log, &seq, &rec));
    EXPECT_GE(rec.seq, before);
    EXPECT_EQ(seq, rec.seq + 1);
    char want[80];
    snprintf(want, sizeof(want), "[%s] sysinfo: a line from user space", self_name);
    EXPECT_STREQ(rec.line, want);
    EXPECT_EQ(rec.len, (uint32_t)strlen(want));
    EXPECT_EQ(rec.level, 6u);

    // Old records come back by number; 0 is the oldest still kept.
    uint64_t first = 0;
    ASSERT_OK(nb_log_read(log, &first, &rec));
    EXPECT_LE(rec.seq, before);

    // Rights: a read-only handle cannot write.
    ASSERT_OK(nb_handle_duplicate(log, RIGHT_READ, &ro));
    EXPECT_STATUS(nb_log_write(ro, "x", 1), ERR_ACCESS_DENIED);
    EXPECT_STATUS(nb_object_wait_one(ro, SIGNAL_READABLE, NB_DEADLINE_POLL, &seen),
                  ERR_ACCESS_DENIED);
    nb_handle_close(ro);
    // Bad pointers.
    EXPECT_STATUS(nb_log_read(log, (uint64_t *)16, &rec), ERR_INVALID_ARGS);
    uint64_t zero = 0; // (a record is there: the oldest)
    EXPECT_STATUS(nb_log_read(log, &zero, (struct nb_log_record *)16), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_log_write(log, (const char *)16, 4), ERR_INVALID_ARGS);
    handle_t ev;
    ASSERT_OK(nb_event_create(&ev));
    EXPECT_STATUS(nb_log_read(ev, &seq, &rec), ERR_WRONG_TYPE);
    nb_handle_close(ev);
}

KTEST_SUITE(sysinfo, KTEST_CASE(info_topics), KTEST_CASE(info_bad_arguments),
            KTEST_CASE(info_wrong_handles), KTEST_CASE(process_get_list_kill),
            KTEST_CASE(handles_of_self), KTEST_CASE(many_processes_memory_baseline),
            KTEST_CASE(log_write_read));

// The child side: "ready" on user0, then wait until it closes.
static int child_hold(void)
{
    handle_t ch = nb_bootstrap_take(BOOTSTRAP_ROLE_USER0);
    signals_t seen;
    if (ch == HANDLE_INVALID)
        return 10;
    struct nb_msg_out msg = {"ready", NULL, 5, 0};
    if (nb_channel_write(ch, &msg) != OK)
        return 11;
    nb_object_wait_one(ch, SIGNAL_PEER_CLOSED, NB_DEADLINE_INFINITE, &seen);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--child=hold"))
        return child_hold();
    if (argc > 0 && argv[0][0])
        self_path = argv[0];
    if (nb_bootstrap_load() != OK || info_handle() == HANDLE_INVALID ||
        procs_handle() == HANDLE_INVALID) {
        fputs("sysinfo: needs the info and processes handles (handles=info,processes)\n", stderr);
        return 1;
    }
    handle_t rd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    have_initrd = rd != HANDLE_INVALID && nb_initrd_open(&initrd, rd) == OK;
    return ktest_run(argc > 1 ? argv[1] : NULL);
}
