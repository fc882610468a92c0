// lblk: the Linux side of the block benchmark (docs/PERFORMANCE.md, "Block
// I/O"): the cases of Nimbus's user/tests/blkbench.c on a block device
// opened with O_DIRECT, in a static musl program that /init of the Linux
// guest execs (tools/linuxbench/init.c, word `blk`).
//
//   lblk [--seconds S] [--count N] [--only NAME] [--exit] DEVICE
//
// DEVICE: a block device, or a plain file (the host tests).
//
//   randread_4k   4 KiB reads at random 4 KiB-aligned offsets
//   seqread_1m    1 MiB reads, one after another, wrapping at the end
//   seqwrite_1m   1 MiB writes, likewise
//
// at queue depth 1 (pread/pwrite) and 32 (Linux native AIO: io_setup,
// io_submit, io_getevents through syscall(2); 32 requests outstanding). The
// queue depth counts these requests, as blkbench counts its own. The same
// xorshift64 seed gives the same random offsets as blkbench; each 64 KiB of
// a write starts with the same 16-byte stamp. Output in blkbench's format:
//
//   blkbench: NAME qd=Q ops=N bytes=B ns=T iops=I mbps=M
//
// with ` dev_requests=N` added when /sys/block/NAME/stat can be read (the
// requests the block layer sent the device during the case: its reads or
// writes completed), and ` cpu_busy_ns=N` when /proc/stat can be read: the guest's CPU
// time outside idle and I/O wait during the case (the kernel's block
// layer, driver and interrupts included; 1/USER_HZ resolution), then
// `blkbench: done`. --exit: leave QEMU through isa-debug-exit at the
// end (needs I/O privilege: PID 1 in the guest).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_QD      32
#define PIECE_BYTES (64u * 1024)
#define BIG_BYTES   (1024u * 1024)
#define SMALL_BYTES 4096u
#define WARMUP_OPS  4
#define STAMP_MAGIC "NBBLKBEN"
#define PRNG_SEED   0x9e3779b97f4a7c15ull
#define EXIT_PORT   0xf4
#define EXIT_VALUE  0x10
#define BLKGETSIZE64_ _IOR(0x12, 114, size_t)

// Linux's native AIO ABI (linux/aio_abi.h; musl has no header for it).
typedef unsigned long aio_context_t;
enum { IOCB_CMD_PREAD = 0, IOCB_CMD_PWRITE = 1 };
struct iocb {
    uint64_t aio_data;
    uint32_t aio_key, aio_rw_flags;
    uint16_t aio_lio_opcode;
    int16_t aio_reqprio;
    uint32_t aio_fildes;
    uint64_t aio_buf, aio_nbytes;
    int64_t aio_offset;
    uint64_t aio_reserved2;
    uint32_t aio_flags, aio_resfd;
};
struct io_event {
    uint64_t data, obj;
    int64_t res, res2;
};

struct bcase {
    const char *name;
    uint32_t bytes;
    uint32_t qd;
    bool write, random;
};

static const struct bcase cases[] = {
    {"randread_4k_qd1", SMALL_BYTES, 1, false, true},
    {"randread_4k_qd32", SMALL_BYTES, 32, false, true},
    {"seqread_1m_qd1", BIG_BYTES, 1, false, false},
    {"seqread_1m_qd32", BIG_BYTES, 32, false, false},
    {"seqwrite_1m_qd1", BIG_BYTES, 1, true, false},
    {"seqwrite_1m_qd32", BIG_BYTES, 32, true, false},
};

static int fd = -1;
static char stat_path[128]; // /sys/block/NAME/stat, or empty
static uint8_t *buf; // MAX_QD * BIG_BYTES, 4 KiB aligned
static uint64_t disk_bytes;
static aio_context_t aio;

struct run {
    const struct bcase *c;
    uint64_t prng, next_seq, deadline, limit, started, completed, bytes;
    const char *err;
    int err_no;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// CPU time not idle (nor waiting for I/O) since boot, from /proc/stat's
// first line; false if it cannot be read.
static bool busy_ns(uint64_t *ns)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (n < 5 || hz <= 0)
        return false;
    uint64_t busy = 0;
    for (int i = 0; i < n; i++)
        if (i != 3 && i != 4) // idle, iowait
            busy += v[i];
    *ns = busy * (1000000000ull / (uint64_t)hz);
    return true;
}

// Reads (write false) or writes completed by the device so far.
static bool dev_requests(bool write, uint64_t *n)
{
    FILE *f = stat_path[0] ? fopen(stat_path, "r") : NULL;
    unsigned long long v[5];
    int got = f ? fscanf(f, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]) : 0;
    if (f)
        fclose(f);
    if (got != 5)
        return false;
    *n = write ? v[4] : v[0];
    return true;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static bool stop_now(struct run *r)
{
    if (r->err || (r->limit && r->started >= r->limit))
        return true;
    return r->deadline && now_ns() >= r->deadline;
}

// The next request's offset, its stamps written into slot's buffer.
static uint64_t next_op(struct run *r, uint32_t slot)
{
    const struct bcase *c = r->c;
    uint64_t off;
    if (c->random) {
        off = xorshift(&r->prng) % (disk_bytes / c->bytes) * c->bytes;
    } else {
        if (r->next_seq + c->bytes > disk_bytes)
            r->next_seq = 0;
        off = r->next_seq;
        r->next_seq += c->bytes;
    }
    if (c->write) {
        uint8_t *b = buf + (size_t)slot * c->bytes;
        for (uint32_t p = 0; p < c->bytes; p += PIECE_BYTES) {
            uint64_t at = off + p;
            memcpy(b + p, STAMP_MAGIC, 8);
            memcpy(b + p + 8, &at, 8);
        }
    }
    r->started++;
    return off;
}

static void fail(struct run *r, const char *what, int err)
{
    if (!r->err) {
        r->err = what;
        r->err_no = err;
    }
}

static void run_sync(struct run *r)
{
    const struct bcase *c = r->c;
    while (!stop_now(r)) {
        uint64_t off = next_op(r, 0);
        ssize_t n = c->write ? pwrite(fd, buf, c->bytes, (off_t)off)
                             : pread(fd, buf, c->bytes, (off_t)off);
        if (n != (ssize_t)c->bytes) {
            fail(r, c->write ? "pwrite" : "pread", n < 0 ? errno : EIO);
            return;
        }
        r->completed++;
        r->bytes += c->bytes;
    }
}

static void prep(struct run *r, struct iocb *cb, uint32_t slot)
{
    const struct bcase *c = r->c;
    uint64_t off = next_op(r, slot);
    memset(cb, 0, sizeof(*cb));
    cb->aio_data = slot;
    cb->aio_lio_opcode = c->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
    cb->aio_fildes = (uint32_t)fd;
    cb->aio_buf = (uint64_t)(uintptr_t)(buf + (size_t)slot * c->bytes);
    cb->aio_nbytes = c->bytes;
    cb->aio_offset = (int64_t)off;
}

static void run_aio(struct run *r)
{
    const struct bcase *c = r->c;
    static struct iocb cbs[MAX_QD];
    struct iocb *list[MAX_QD];
    uint32_t n = 0, active = 0;
    for (uint32_t i = 0; i < c->qd && !stop_now(r); i++) {
        prep(r, &cbs[i], i);
        list[n++] = &cbs[i];
    }
    while (n || active) {
        if (n) {
            long k = syscall(SYS_io_submit, aio, (long)n, list);
            if (k != (long)n) {
                fail(r, "io_submit", k < 0 ? errno : EAGAIN);
                if (k <= 0 && !active)
                    return;
                n = k > 0 ? (uint32_t)k : 0;
            }
            active += n;
            n = 0;
        }
        struct io_event ev[MAX_QD];
        struct timespec limit = {30, 0};
        long got = syscall(SYS_io_getevents, aio, 1L, (long)MAX_QD, ev, &limit);
        if (got <= 0) {
            fail(r, "io_getevents", got < 0 ? errno : ETIMEDOUT);
            return;
        }
        for (long i = 0; i < got; i++) {
            uint32_t slot = (uint32_t)ev[i].data;
            active--;
            if (ev[i].res != (int64_t)c->bytes) {
                fail(r, c->write ? "an AIO write" : "an AIO read",
                     ev[i].res < 0 ? (int)-ev[i].res : EIO);
                continue;
            }
            r->completed++;
            r->bytes += c->bytes;
            if (!stop_now(r)) {
                prep(r, &cbs[slot], slot);
                list[n++] = &cbs[slot];
            }
        }
    }
}

static bool run_case(struct run *r, const struct bcase *c, uint64_t limit, uint64_t deadline)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->prng = PRNG_SEED;
    r->limit = limit;
    r->deadline = deadline;
    if (c->qd == 1)
        run_sync(r);
    else
        run_aio(r);
    return !r->err;
}

static bool bench(const struct bcase *c, uint64_t seconds, uint64_t count)
{
    struct run r;
    if (!run_case(&r, c, WARMUP_OPS, 0)) {
        printf("blkbench: %s failed: %s: %s\n", c->name, r.err, strerror(r.err_no));
        return false;
    }
    uint64_t busy0 = 0, busy1 = 0, req0 = 0, req1 = 0;
    bool cpu = busy_ns(&busy0), reqs = dev_requests(c->write, &req0);
    uint64_t t0 = now_ns();
    bool ok = run_case(&r, c, count, seconds ? t0 + seconds * 1000000000ull : 0);
    uint64_t ns = now_ns() - t0;
    cpu = cpu && busy_ns(&busy1);
    reqs = reqs && dev_requests(c->write, &req1);
    if (!ok) {
        printf("blkbench: %s failed: %s: %s\n", c->name, r.err, strerror(r.err_no));
        return false;
    }
    if (!ns)
        ns = 1;
    unsigned long long iops = r.completed * 1000000000ull / ns, x10 = r.bytes * 10000 / ns;
    printf("blkbench: %s qd=%u ops=%llu bytes=%llu ns=%llu iops=%llu mbps=%llu.%llu", c->name,
           c->qd, (unsigned long long)r.completed, (unsigned long long)r.bytes,
           (unsigned long long)ns, iops, x10 / 10, x10 % 10);
    if (reqs)
        printf(" dev_requests=%llu", (unsigned long long)(req1 - req0));
    if (cpu)
        printf(" cpu_busy_ns=%llu", (unsigned long long)(busy1 - busy0));
    printf("\n");
    fflush(stdout);
    return true;
}

static const char usage_text[] =
    "usage: lblk [--seconds S] [--count N] [--only NAME] [--exit] DEVICE\n";

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return !*end && !errno;
}

static void leave(int status, bool exit_qemu)
{
    fflush(stdout);
    if (exit_qemu && iopl(3) == 0)
        outb(EXIT_VALUE, EXIT_PORT);
    if (exit_qemu)
        reboot(RB_POWER_OFF);
    exit(status);
}

int main(int argc, char **argv)
{
    uint64_t seconds = 2, count = 0;
    const char *only = NULL, *dev = NULL;
    bool exit_qemu = false;
    for (int i = 1; i < argc; i++) {
        bool ok = true;
        if (!strcmp(argv[i], "--seconds"))
            ok = parse_u64(i + 1 < argc ? argv[++i] : NULL, &seconds);
        else if (!strcmp(argv[i], "--count"))
            ok = parse_u64(i + 1 < argc ? argv[++i] : NULL, &count);
        else if (!strcmp(argv[i], "--only"))
            ok = (only = i + 1 < argc ? argv[++i] : NULL) != NULL;
        else if (!strcmp(argv[i], "--exit"))
            exit_qemu = true;
        else if (argv[i][0] != '-' && !dev)
            dev = argv[i];
        else
            ok = false;
        if (!ok) {
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (!dev || (!seconds && !count)) {
        fputs(usage_text, stderr);
        return 2;
    }
    bool ok = true, known = !only;
    for (size_t i = 0; only && i < sizeof(cases) / sizeof(cases[0]); i++)
        known |= !strcmp(cases[i].name, only);
    if (!known) {
        fprintf(stderr, "lblk: no case %s\n", only);
        return 2;
    }
    // A block device, or a plain file (the tests run it on the host).
    struct stat sb;
    fd = open(dev, O_RDWR | O_DIRECT);
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        disk_bytes = (uint64_t)sb.st_size;
    else if (fd >= 0 && ioctl(fd, BLKGETSIZE64_, &disk_bytes) != 0)
        disk_bytes = 0;
    if (fd < 0 || !disk_bytes) {
        printf("blkbench: failed: %s: %s\n", dev, strerror(errno));
        leave(1, exit_qemu);
    }
    if (disk_bytes < BIG_BYTES || posix_memalign((void **)&buf, 4096, MAX_QD * BIG_BYTES) ||
        syscall(SYS_io_setup, MAX_QD, &aio) != 0) {
        printf("blkbench: failed: setup (%llu bytes): %s\n", (unsigned long long)disk_bytes,
               strerror(errno));
        leave(1, exit_qemu);
    }
    memset(buf, 0xa5, MAX_QD * BIG_BYTES);
    if (!strncmp(dev, "/dev/", 5) && !strchr(dev + 5, '/'))
        snprintf(stat_path, sizeof(stat_path), "/sys/block/%s/stat", dev + 5);
    printf("blkbench: disk bytes=%llu device=%s\n", (unsigned long long)disk_bytes, dev);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (!only || !strcmp(only, cases[i].name))
            ok &= bench(&cases[i], seconds, count);
    printf("blkbench: done\n");
    leave(ok ? 0 : 1, exit_qemu);
    return 0;
}
