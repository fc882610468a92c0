// ubench: user-space benchmarks of the kernel's paths that programs feel:
// system call entry, thread switches through futexes, channel round trips
// between processes, port wake-ups, page faults and process spawn-to-exit. One line per probe on
// stdout:
//
//   ubench: NAME median_ns=... min_ns=... max_ns=... median_cycles=... rounds=N iters=M
//
// tools/bench.py runs it through init (etc/bench.manifest). Under QEMU
// -icount shift=0,sleep=off the cycle figures count instructions. With
// smp=2 (bench.py's tcg-smp2 series) the scheduler places the busy echo
// peer on the other CPU, so channel_call_cross_vcpu crosses vCPUs; with one
// CPU it is the same path as channel_call_cross_process.
// `ubench echo` is the round-trip peer (channel_read, object_wait_one,
// channel_write: three system calls per request), `ubench echo-turn` the
// one of channel_call_reply_wait (nb_channel_reply_wait: one system call
// per request, and the direct hand-off both ways), `ubench exit` the spawn
// target.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/process.h"
#include "nb/syscall.h"

#define ROUNDS 11
#define MSG    64
// futex(2) operations (musl's headers do not carry linux/futex.h).
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static uint64_t now_ns(void)
{
    uint64_t ns = 0;
    nb_clock_get(NB_CLOCK_MONOTONIC, &ns);
    return ns;
}

struct probe {
    const char *name;
    // Runs n operations, returns 0 or a status; the caller times it.
    status_t (*run)(uint64_t n);
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
    uint64_t ns[ROUNDS], cyc[ROUNDS];
    if (p->run(p->iters > 4 ? 4 : p->iters) != OK) { // warm-up, and a check
        printf("ubench: %s failed\n", p->name);
        return;
    }
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t t0 = now_ns(), c0 = rdtsc();
        status_t s = p->run(p->iters);
        cyc[r] = (rdtsc() - c0) / p->iters;
        ns[r] = (now_ns() - t0) / p->iters;
        if (s != OK) {
            printf("ubench: %s failed: %d\n", p->name, s);
            return;
        }
    }
    sort(ns, ROUNDS);
    sort(cyc, ROUNDS);
    printf("ubench: %s median_ns=%llu min_ns=%llu max_ns=%llu median_cycles=%llu rounds=%d "
           "iters=%llu\n",
           p->name, (unsigned long long)ns[ROUNDS / 2], (unsigned long long)ns[0],
           (unsigned long long)ns[ROUNDS - 1], (unsigned long long)cyc[ROUNDS / 2], ROUNDS,
           (unsigned long long)p->iters);
    fflush(stdout);
}

// ---- System calls ----

static status_t null_native(uint64_t n)
{
    struct nb_handle_info info;
    for (uint64_t i = 0; i < n; i++)
        if (nb_handle_info(HANDLE_INVALID, &info) != ERR_BAD_HANDLE)
            return ERR_INTERNAL;
    return OK;
}

static status_t getpid_linux(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (syscall(SYS_getpid) <= 0)
            return ERR_INTERNAL;
    return OK;
}

// ---- Thread switches: two threads hand a futex word back and forth ----

static int switch_turn;       // whose move: 0 the caller, 1 the partner
static uint64_t switch_moves; // the partner's moves this run

static void futex_wait(int *word, int val)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(int *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

// Waits until it is `me`'s move, then gives the move to the other side.
static void switch_move(int me)
{
    while (__atomic_load_n(&switch_turn, __ATOMIC_ACQUIRE) != me)
        futex_wait(&switch_turn, !me);
    __atomic_store_n(&switch_turn, !me, __ATOMIC_RELEASE);
    futex_wake(&switch_turn);
}

static void *switch_partner(void *arg)
{
    for (uint64_t i = 0; i < switch_moves; i++)
        switch_move(1);
    return NULL;
}

// n switches (n / 2 round trips); the thread's creation is in the figure,
// spread over the run.
static status_t thread_switch(uint64_t n)
{
    pthread_t th;
    switch_turn = 1;
    switch_moves = (n + 1) / 2;
    if (pthread_create(&th, NULL, switch_partner, NULL) != 0)
        return ERR_NO_RESOURCES;
    for (uint64_t i = 0; i < switch_moves; i++)
        switch_move(0);
    return pthread_join(th, NULL) == 0 ? OK : ERR_INTERNAL;
}

// ---- Channel round trip to another process ----

static handle_t echo_chan = HANDLE_INVALID; // to `ubench echo`
static handle_t turn_chan = HANDLE_INVALID; // to `ubench echo-turn`
static struct nb_initrd rd;
static const void *self_image;
static size_t self_size;

static status_t round_trips(handle_t ch, uint64_t n)
{
    uint8_t buf[MSG] = {0};
    struct nb_msg_out req = {buf, NULL, MSG, 0};
    for (uint64_t i = 0; i < n; i++) {
        struct nb_msg_in rep = {buf, NULL, MSG, 0, 0, 0};
        status_t s = nb_channel_call(ch, &req, &rep, NB_DEADLINE_INFINITE);
        if (s != OK)
            return s;
    }
    return OK;
}

static status_t chan_round_trip(uint64_t n)
{
    return round_trips(echo_chan, n);
}

static status_t chan_round_trip_turn(uint64_t n)
{
    return round_trips(turn_chan, n);
}

// The peer: answers every message on its bootstrap user0 channel.
static int echo_main(void)
{
    handle_t ch = nb_bootstrap_take(BOOTSTRAP_ROLE_USER0);
    uint8_t buf[MSG];
    for (;;) {
        struct nb_msg_in in = {buf, NULL, MSG, 0, 0, 0};
        status_t s = nb_channel_read(ch, &in);
        if (s == ERR_SHOULD_WAIT) {
            signals_t seen;
            nb_object_wait_one(ch, SIGNAL_READABLE | SIGNAL_PEER_CLOSED, NB_DEADLINE_INFINITE,
                               &seen);
            continue;
        }
        if (s != OK)
            return 0;
        struct nb_msg_out out = {buf, NULL, in.nbytes, 0};
        nb_channel_write(ch, &out);
    }
}

// The other peer: a server loop on nb_channel_reply_wait, one system call
// per request (reply to the last one, wait for and read the next).
static int echo_turn_main(void)
{
    handle_t ch = nb_bootstrap_take(BOOTSTRAP_ROLE_USER0);
    uint8_t buf[MSG];
    struct nb_msg_in in = {buf, NULL, MSG, 0, 0, 0};
    status_t s = nb_channel_reply_wait(ch, NULL, &in, NB_DEADLINE_INFINITE);
    while (s == OK) {
        struct nb_msg_out out = {buf, NULL, in.nbytes, 0};
        in = (struct nb_msg_in){buf, NULL, MSG, 0, 0, 0};
        s = nb_channel_reply_wait(ch, &out, &in, NB_DEADLINE_INFINITE);
    }
    return 0;
}

static status_t spawn_self(const char *arg, const uint32_t *roles, const handle_t *handles,
                           uint32_t n, handle_t *proc)
{
    const char *argv[] = {"test/ubench", arg, NULL};
    struct nb_spawn sp = {.name = arg,
                          .elf = self_image,
                          .elf_size = self_size,
                          .argv = argv,
                          .roles = roles,
                          .handles = handles,
                          .nhandles = n,
                          .vmex = HANDLE_INVALID};
    return nb_spawn(&sp, proc);
}

static status_t start_echo(const char *which, handle_t *chan, handle_t *proc)
{
    handle_t ours, theirs;
    uint32_t role = BOOTSTRAP_ROLE_USER0;
    status_t s = nb_channel_create(0, &ours, &theirs);
    if (s == OK && (s = spawn_self(which, &role, &theirs, 1, proc)) == OK)
        *chan = ours;
    return s;
}

// ---- Port wake-up: one process waits, the other queues ----

static status_t port_wakeup(uint64_t n)
{
    // Two ports and the echo process would cost a round trip; a port that
    // this thread queues to and waits on measures the wake path without a
    // switch (a packet already queued). The cross-process wake-up is the
    // channel round trip above.
    static handle_t port = HANDLE_INVALID;
    if (port == HANDLE_INVALID && nb_port_create(&port) != OK)
        return ERR_NO_RESOURCES;
    struct nb_port_packet pkt = {.key = 1};
    for (uint64_t i = 0; i < n; i++) {
        status_t s = nb_port_queue(port, &pkt);
        if (s == OK)
            s = nb_port_wait(port, NB_DEADLINE_INFINITE, &pkt);
        if (s != OK)
            return s;
    }
    return OK;
}

// ---- Page faults: first touch of fresh anonymous pages ----

static status_t page_fault(uint64_t n)
{
    handle_t vmo;
    uintptr_t addr = 0;
    status_t s = nb_vmo_create(n * 4096, &vmo);
    if (s == OK)
        s = nb_vm_map(HANDLE_INVALID, vmo, 0, n * 4096, NB_VM_READ | NB_VM_WRITE, &addr);
    for (uint64_t i = 0; s == OK && i < n; i++)
        ((volatile char *)addr)[i * 4096] = 1;
    if (addr)
        nb_vm_unmap(HANDLE_INVALID, addr, n * 4096);
    nb_handle_close(vmo);
    return s;
}

// ---- Spawn to exit ----

static status_t spawn_to_exit(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        handle_t proc;
        struct nb_process_info info;
        status_t s = spawn_self("exit", NULL, NULL, 0, &proc);
        if (s == OK)
            s = nb_process_wait(proc, NB_DEADLINE_INFINITE, &info);
        nb_handle_close(proc);
        if (s != OK || info.exit_code != 0)
            return s != OK ? s : ERR_INTERNAL;
    }
    return OK;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exit"))
        return 0;
    if (argc > 1 && !strcmp(argv[1], "echo"))
        return echo_main();
    if (argc > 1 && !strcmp(argv[1], "echo-turn"))
        return echo_turn_main();
    handle_t initrd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    if (initrd == HANDLE_INVALID || nb_initrd_open(&rd, initrd) != OK ||
        nb_initrd_find(&rd, "test/ubench", &self_image, &self_size) != OK) {
        printf("ubench: needs the initrd handle (manifest: handles=initrd,vmex)\n");
        return 1;
    }
    handle_t echo = HANDLE_INVALID, turn = HANDLE_INVALID;
    const struct probe probes[] = {
        {"null_syscall", null_native, 10000},
        {"getpid_linux", getpid_linux, 10000},
        {"port_queue_wait", port_wakeup, 2000},
        {"page_fault", page_fault, 256},
        {"thread_switch_futex", thread_switch, 2000},
        {"channel_call_cross_process", chan_round_trip, 1000},
        {"channel_call_cross_vcpu", chan_round_trip, 1000},
        {"channel_call_reply_wait", chan_round_trip_turn, 1000},
        {"spawn_to_exit", spawn_to_exit, 8},
    };
    if (start_echo("echo", &echo_chan, &echo) != OK ||
        start_echo("echo-turn", &turn_chan, &turn) != OK)
        printf("ubench: cannot start the echo processes\n");
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        measure(&probes[i]);
    printf("ubench: done\n");
    fflush(stdout);
    nb_task_kill(echo);
    nb_task_kill(turn);
    return 0;
}
