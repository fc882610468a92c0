// lbench: the Linux side of `make bench`. The same kinds of paths that
// Nimbus's user/tests/ubench.c measures, through Linux's system calls, in a
// static musl program that runs as the guest's only program (/init execs it)
// or on the host (the integration test runs it with --quick). One line per
// probe on stdout, in ubench's format:
//
//   lbench: NAME median_ns=... min_ns=... max_ns=... median_cycles=... rounds=N iters=M
//
// then `lbench: done`. Each probe runs a warm-up, then ROUNDS rounds of
// `iters` operations; the figures are per operation: CLOCK_MONOTONIC
// nanoseconds (median, min, max over the rounds) and the median of rdtsc
// deltas, which under QEMU -icount shift=0,sleep=off count guest
// instructions (kernel and both peers of a round trip included).
//
//   lbench [--quick] [--exit]   all probes; --quick: 3 rounds of 1/100 the
//                               iterations; --exit: leave QEMU through
//                               isa-debug-exit afterwards (needs ring-3 I/O
//                               privilege: PID 1 in the guest)
//   lbench exit                 returns 0 at once (the posix_spawn target)
//   lbench tsc-khz              prints `lbench: tsc_khz=N` (the TSC rate)
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS_MAX 11
#define MSG        64 // bytes per round-trip message, as ubench's channel call
// futex(2) operations (musl's headers do not carry linux/futex.h).
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
// isa-debug-exit (the port QEMU is given by tools/nimbuslib.py): QEMU exits
// with (value << 1) | 1; 0x10 gives 33, which the launcher maps to success.
#define EXIT_PORT  0xf4
#define EXIT_VALUE 0x10

extern char **environ;

static int rounds = ROUNDS_MAX;
static uint64_t scale = 1; // iterations divided by this (--quick: 100)
static const char *self_path = "/lbench";

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct probe {
    const char *name;
    int (*setup)(void);     // may be NULL; 0 = ready
    int (*run)(uint64_t n); // n operations; 0 = all went well
    void (*teardown)(void); // may be NULL
    uint64_t iters;
};

static void sort(uint64_t *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static void measure(const struct probe *p)
{
    uint64_t ns[ROUNDS_MAX], cyc[ROUNDS_MAX];
    uint64_t iters = p->iters / scale ? p->iters / scale : 1;
    if (p->setup && p->setup() != 0) {
        printf("lbench: %s failed: setup: %s\n", p->name, strerror(errno));
        fflush(stdout);
        return;
    }
    int bad = p->run(iters > 4 ? 4 : iters); // warm-up, and a check
    for (int r = 0; !bad && r < rounds; r++) {
        uint64_t t0 = now_ns(), c0 = rdtsc();
        bad = p->run(iters);
        cyc[r] = (rdtsc() - c0) / iters;
        ns[r] = (now_ns() - t0) / iters;
    }
    if (p->teardown)
        p->teardown();
    if (bad) {
        printf("lbench: %s failed: %s\n", p->name, strerror(errno));
        fflush(stdout);
        return;
    }
    sort(ns, rounds);
    sort(cyc, rounds);
    printf("lbench: %s median_ns=%llu min_ns=%llu max_ns=%llu median_cycles=%llu rounds=%d "
           "iters=%llu\n",
           p->name, (unsigned long long)ns[rounds / 2], (unsigned long long)ns[0],
           (unsigned long long)ns[rounds - 1], (unsigned long long)cyc[rounds / 2], rounds,
           (unsigned long long)iters);
    fflush(stdout);
}

// ---- The null system call ----

static int getpid_loop(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (syscall(SYS_getpid) <= 0)
            return -1;
    return 0;
}

// ---- Page faults: first touch of fresh anonymous pages ----

static int page_fault(uint64_t n)
{
    volatile char *p =
        mmap(NULL, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        p[i * 4096] = 1;
    return munmap((void *)p, n * 4096);
}

// ---- Round trips to another process: an echo child on a pipe pair or a
// unix socket pair answers every MSG-byte message with the same bytes ----

static int echo_fd[2] = {-1, -1}; // ours: [0] read, [1] write
static pid_t echo_pid = -1;

static int full_read(int fd, char *buf, size_t n)
{
    while (n) {
        ssize_t got = read(fd, buf, n);
        if (got <= 0)
            return -1;
        buf += got;
        n -= (size_t)got;
    }
    return 0;
}

static int full_write(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t put = write(fd, buf, n);
        if (put <= 0)
            return -1;
        buf += put;
        n -= (size_t)put;
    }
    return 0;
}

static void echo_loop(int in, int out)
{
    char buf[MSG];
    while (full_read(in, buf, MSG) == 0 && full_write(out, buf, MSG) == 0) {
    }
    _exit(0);
}

static int start_echo(int child_in, int child_out, int close_a, int close_b)
{
    echo_pid = fork();
    if (echo_pid < 0)
        return -1;
    if (echo_pid == 0) {
        close(close_a);
        if (close_b != close_a)
            close(close_b);
        echo_loop(child_in, child_out);
    }
    return 0;
}

static void stop_echo(void)
{
    if (echo_fd[1] >= 0)
        close(echo_fd[1]);
    if (echo_fd[0] >= 0 && echo_fd[0] != echo_fd[1])
        close(echo_fd[0]);
    echo_fd[0] = echo_fd[1] = -1;
    if (echo_pid > 0) {
        kill(echo_pid, SIGKILL);
        waitpid(echo_pid, NULL, 0);
    }
    echo_pid = -1;
}

static int pipe_setup(void)
{
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0)
        return -1;
    if (pipe(from_child) != 0) {
        close(to_child[0]);
        close(to_child[1]);
        return -1;
    }
    echo_fd[0] = from_child[0];
    echo_fd[1] = to_child[1];
    if (start_echo(to_child[0], from_child[1], to_child[1], from_child[0]) != 0) {
        close(to_child[0]);
        close(from_child[1]);
        stop_echo();
        return -1;
    }
    close(to_child[0]);
    close(from_child[1]);
    return 0;
}

static int unix_setup(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    echo_fd[0] = echo_fd[1] = sv[0];
    if (start_echo(sv[1], sv[1], sv[0], sv[0]) != 0) {
        close(sv[1]);
        stop_echo();
        return -1;
    }
    close(sv[1]);
    return 0;
}

static int round_trip(uint64_t n)
{
    char buf[MSG];
    memset(buf, 0x5a, sizeof(buf));
    for (uint64_t i = 0; i < n; i++)
        if (full_write(echo_fd[1], buf, MSG) != 0 || full_read(echo_fd[0], buf, MSG) != 0)
            return -1;
    return 0;
}

// ---- Thread switches: two threads hand a futex word back and forth (the
// same protocol as ubench's thread_switch_futex) ----

static int switch_turn;       // whose move: 0 the caller, 1 the partner
static uint64_t switch_moves; // each side's moves this run

static void futex_wait(int *word, int val)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(int *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void switch_move(int me)
{
    while (__atomic_load_n(&switch_turn, __ATOMIC_ACQUIRE) != me)
        futex_wait(&switch_turn, !me);
    __atomic_store_n(&switch_turn, !me, __ATOMIC_RELEASE);
    futex_wake(&switch_turn);
}

static void *switch_partner(void *arg)
{
    (void)arg;
    for (uint64_t i = 0; i < switch_moves; i++)
        switch_move(1);
    return NULL;
}

// n switches (n / 2 round trips); the thread's creation is in the figure,
// spread over the run, as in ubench.
static int futex_ping_pong(uint64_t n)
{
    pthread_t th;
    switch_turn = 1;
    switch_moves = (n + 1) / 2;
    if (pthread_create(&th, NULL, switch_partner, NULL) != 0)
        return -1;
    for (uint64_t i = 0; i < switch_moves; i++)
        switch_move(0);
    return pthread_join(th, NULL) == 0 ? 0 : -1;
}

// ---- Processes ----

static int fork_exit_wait(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int status;
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0)
            _exit(0);
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
            return -1;
    }
    return 0;
}

// posix_spawn of this program (`lbench exit`) + wait: a new program image
// from the initramfs, the closest Linux path to Nimbus's nb_spawn.
static int spawn_exec_wait(uint64_t n)
{
    char *argv[] = {(char *)self_path, "exit", NULL};
    for (uint64_t i = 0; i < n; i++) {
        int status;
        pid_t pid;
        if (posix_spawn(&pid, self_path, NULL, NULL, argv, environ) != 0)
            return -1;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
            return -1;
    }
    return 0;
}

// The TSC rate: rdtsc against CLOCK_MONOTONIC over 200 ms. On the host this
// is also the guest's TSC rate under TCG without -icount (QEMU passes the
// host's TSC through), which bench_linux.py gives Linux as tsc_early_khz.
static int tsc_khz(void)
{
    struct timespec pause = {0, 200000000};
    uint64_t t0 = now_ns(), c0 = rdtsc();
    nanosleep(&pause, NULL);
    uint64_t c1 = rdtsc(), t1 = now_ns();
    if (t1 <= t0 || c1 <= c0)
        return 1;
    printf("lbench: tsc_khz=%llu\n", (unsigned long long)((c1 - c0) * 1000000 / (t1 - t0)));
    return 0;
}

static void leave_qemu(void)
{
    fflush(stdout);
    if (iopl(3) == 0)
        outb(EXIT_VALUE, EXIT_PORT);
    sync();
    reboot(RB_POWER_OFF);
}

int main(int argc, char **argv)
{
    int exit_after = 0;
    if (argc > 1 && !strcmp(argv[1], "exit"))
        return 0;
    if (argc > 1 && !strcmp(argv[1], "tsc-khz"))
        return tsc_khz();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            rounds = 3;
            scale = 100;
        } else if (!strcmp(argv[i], "--exit")) {
            exit_after = 1;
        } else {
            fprintf(stderr, "usage: lbench [--quick] [--exit] | lbench exit | lbench tsc-khz\n");
            return 2;
        }
    }
    if (argv[0][0] == '/' || strchr(argv[0], '/'))
        self_path = argv[0];
    const struct probe probes[] = {
        {"getpid", NULL, getpid_loop, NULL, 10000},
        {"page_fault", NULL, page_fault, NULL, 256},
        {"futex_ping_pong", NULL, futex_ping_pong, NULL, 2000},
        {"pipe_round_trip", pipe_setup, round_trip, stop_echo, 200},
        {"unix_socket_round_trip", unix_setup, round_trip, stop_echo, 200},
        {"fork_exit_wait", NULL, fork_exit_wait, NULL, 20},
        {"spawn_exec_wait", NULL, spawn_exec_wait, NULL, 20},
    };
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        measure(&probes[i]);
    printf("lbench: done\n");
    fflush(stdout);
    if (exit_after && getpid() == 1) // only as the guest's init, never on a host
        leave_qemu();
    return 0;
}
