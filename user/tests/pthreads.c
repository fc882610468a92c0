// pthreads: musl's threads on the Linux personality (clone, futex,
// CLONE_CHILD_CLEARTID, TLS per thread). KTAP on stdout; exit status =
// failed cases. `pthreads exitgroup` is the child of pthreads_exit_group:
// a second thread ends the process with exit_group(EXIT_GROUP_CODE).
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/ktest.h"
#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"

#define NTHREADS     8
#define COUNT_ITERS  10000
#define COUNT_THREAD 4
#define PING_ROUNDS  1000
#define NS_PER_SEC   1000000000ll
// futex(2) operations (musl's headers do not carry linux/futex.h).
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#define EXIT_GROUP_CODE    5
#define EXIT_GROUP_WAIT_NS (10 * NS_PER_SEC)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void *square(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    return (void *)(v * v + 1);
}

static void pthreads_create_join(struct ktest *t)
{
    pthread_t th[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, square, (void *)(i + 2)), 0);
    for (uintptr_t i = 0; i < NTHREADS; i++) {
        void *ret = NULL;
        EXPECT_EQ(pthread_join(th[i], &ret), 0);
        EXPECT_EQ((uintptr_t)ret, (i + 2) * (i + 2) + 1);
    }
}

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *count_up(void *arg)
{
    for (int i = 0; i < COUNT_ITERS; i++) {
        pthread_mutex_lock(&count_lock);
        long v = counter;
        if (i % 97 == 0)
            sched_yield(); // hold the lock across a switch now and then
        counter = v + 1;
        pthread_mutex_unlock(&count_lock);
    }
    return NULL;
}

static void pthreads_mutex_counter(struct ktest *t)
{
    pthread_t th[COUNT_THREAD];
    counter = 0;
    for (int i = 0; i < COUNT_THREAD; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, count_up, NULL), 0);
    for (int i = 0; i < COUNT_THREAD; i++)
        EXPECT_EQ(pthread_join(th[i], NULL), 0);
    EXPECT_EQ(counter, (long)COUNT_THREAD * COUNT_ITERS);
}

// Ping-pong: `turn` says whose move it is; each side waits for its turn.
struct pingpong {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int turn, rounds;
};

static void play(struct pingpong *pp, int me)
{
    for (int i = 0; i < PING_ROUNDS; i++) {
        pthread_mutex_lock(&pp->lock);
        while (pp->turn != me)
            pthread_cond_wait(&pp->cond, &pp->lock);
        pp->turn = !me;
        pp->rounds++;
        pthread_cond_signal(&pp->cond);
        pthread_mutex_unlock(&pp->lock);
    }
}

static void *pong(void *arg)
{
    play(arg, 1);
    return NULL;
}

static void pthreads_cond_pingpong(struct ktest *t)
{
    struct pingpong pp = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, pong, &pp), 0);
    play(&pp, 0);
    EXPECT_EQ(pthread_join(th, NULL), 0);
    EXPECT_EQ(pp.rounds, 2 * PING_ROUNDS);
    EXPECT_EQ(pp.turn, 0);
}

static void *quick(void *arg)
{
    return arg;
}

// The thread has ended (its tid word cleared) before the join starts.
static void pthreads_join_exited(struct ktest *t)
{
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, quick, (void *)0x5eed), 0);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    void *ret = NULL;
    EXPECT_EQ(pthread_join(th, &ret), 0);
    EXPECT_EQ((uintptr_t)ret, 0x5eedu);
}

static __thread int tls_value = 7;
static __thread long tls_tid;

static void *tls_worker(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    uintptr_t ok = tls_value == 7; // a fresh copy of the initial image
    tls_value = (int)(100 + i);
    tls_tid = syscall(SYS_gettid);
    sched_yield();
    ok &= tls_value == (int)(100 + i) && tls_tid == syscall(SYS_gettid);
    ok &= tls_tid != getpid();
    return (void *)ok;
}

static void pthreads_tls(struct ktest *t)
{
    pthread_t th[4];
    tls_value = 1;
    for (uintptr_t i = 0; i < 4; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, tls_worker, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *ok = NULL;
        EXPECT_EQ(pthread_join(th[i], &ok), 0);
        EXPECT_EQ((uintptr_t)ok, 1u);
    }
    EXPECT_EQ(tls_value, 1); // the main thread's copy is untouched
}

static void exit_early(void)
{
    pthread_exit((void *)0xabc);
}

static void *exiter(void *arg)
{
    exit_early();
    return NULL; // not reached
}

static void pthreads_exit(struct ktest *t)
{
    pthread_t th;
    void *ret = NULL;
    ASSERT_EQ(pthread_create(&th, NULL, exiter, NULL), 0);
    EXPECT_EQ(pthread_join(th, &ret), 0);
    EXPECT_EQ((uintptr_t)ret, 0xabcu);
}

static void pthreads_cond_timeout(struct ktest *t)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec abs;
    const long wait_ns = 100 * 1000 * 1000;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += wait_ns;
    if (abs.tv_nsec >= NS_PER_SEC) {
        abs.tv_sec++;
        abs.tv_nsec -= NS_PER_SEC;
    }
    uint64_t start = now_ns();
    pthread_mutex_lock(&m);
    EXPECT_EQ(pthread_cond_timedwait(&c, &m, &abs), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    uint64_t took = now_ns() - start;
    EXPECT_GE(took, (uint64_t)wait_ns - 1000 * 1000); // realtime and monotonic may differ by a tick
    EXPECT_LT(took, (uint64_t)5 * NS_PER_SEC);
}

// The raw call: a stale value gives EAGAIN, an unmet wait ETIMEDOUT, a
// wake with nobody waiting wakes none.
static void pthreads_futex_raw(struct ktest *t)
{
    static int word = 5;
    struct timespec rel = {0, 20 * 1000 * 1000};
    errno = 0;
    EXPECT_EQ(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 6, &rel, NULL, 0), -1l);
    EXPECT_EQ(errno, EAGAIN);
    uint64_t start = now_ns();
    errno = 0;
    EXPECT_EQ(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0), -1l);
    EXPECT_EQ(errno, ETIMEDOUT);
    EXPECT_GE(now_ns() - start, (uint64_t)rel.tv_nsec);
    EXPECT_EQ(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0l);
}

// ---- exit_group from a thread that is not the main one ----

static void *group_exiter(void *arg)
{
    syscall(SYS_exit_group, EXIT_GROUP_CODE);
    return NULL; // not reached
}

// The child: main blocks in pthread_join; the process must end anyway.
static int exit_group_main(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, group_exiter, NULL) != 0)
        return 1;
    pthread_join(th, NULL);
    return 2; // exit_group left this thread running
}

static void pthreads_exit_group_from_thread(struct ktest *t)
{
    struct nb_initrd rd;
    handle_t initrd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD), proc;
    if (initrd == HANDLE_INVALID)
        KTEST_SKIP("no initrd handle");
    const char *argv[] = {"test/pthreads", "exitgroup", NULL};
    struct nb_spawn sp = {.name = "exitgroup", .argv = argv, .vmex = HANDLE_INVALID};
    ASSERT_OK(nb_initrd_open(&rd, initrd));
    ASSERT_OK(nb_initrd_find(&rd, "test/pthreads", &sp.elf, &sp.elf_size));
    ASSERT_OK(nb_spawn(&sp, &proc));
    struct nb_process_info info = {0};
    status_t s = nb_process_wait(proc, nb_deadline_after(EXIT_GROUP_WAIT_NS), &info);
    if (s == ERR_TIMED_OUT)
        nb_task_kill(proc);
    nb_handle_close(proc);
    ASSERT_OK(s);
    EXPECT_EQ(info.state, (uint32_t)NB_PROCESS_DEAD);
    EXPECT_EQ(info.exit_code, EXIT_GROUP_CODE);
}

KTEST_SUITE(pthreads, KTEST_CASE(pthreads_create_join), KTEST_CASE(pthreads_mutex_counter),
            KTEST_CASE(pthreads_cond_pingpong), KTEST_CASE(pthreads_join_exited),
            KTEST_CASE(pthreads_tls), KTEST_CASE(pthreads_exit), KTEST_CASE(pthreads_cond_timeout),
            KTEST_CASE(pthreads_futex_raw), KTEST_CASE(pthreads_exit_group_from_thread));

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exitgroup"))
        return exit_group_main();
    return ktest_run(NULL);
}
