// blkbench: block I/O throughput through the block protocol (docs/PERFORMANCE.md,
// "Block I/O"). Opens block device 0 through the device manager (the
// `devices` role, as /bin/blk does), then on the whole disk:
//
//   randread_4k   4 KiB reads at random 4 KiB-aligned offsets     (IOPS)
//   seqread_1m    1 MiB reads, one after another, wrapping        (MB/s)
//   seqwrite_1m   1 MiB writes, likewise                          (MB/s)
//
// each at queue depth 1 and 32. The queue depth counts the benchmark's own
// requests (4 KiB or 1 MiB), as tools/linuxbench/blkbench.c counts them on
// Linux: QD32 keeps 32 of them outstanding. A 1 MiB request is 16 protocol
// requests of 64 KiB (BLOCK_MAX_SECTORS) sent back to back; a connection
// never has more than MAX_PIECES protocol requests outstanding (the
// channel's queue bound: every answer finds room without the driver
// holding it), so at QD32 of 1 MiB at most 8 MiB is outstanding. Each
// write's 64 KiB pieces start with a 16-byte stamp ("NBBLKBEN" and the
// piece's byte offset on the disk) so a test can check the image.
//
//   blkbench [--seconds S] [--count N] [--only NAME]
//
// Each case runs until S seconds (default 2) have passed or N requests
// (default: no limit) have completed, whichever comes first, after a short
// warm-up. Offsets come from a fixed xorshift64 seed. One line per case on
// stdout:
//
//   blkbench: NAME qd=Q ops=N bytes=B ns=T iops=I mbps=M
//
// (mbps: 10^6 bytes per second), with the `info` handle followed by
// `cpu_driver_ns=D cpu_bench_ns=B`: the CPU time the driver (processes
// named virtio-blk) and blkbench used during the case, kernel time on their
// behalf included; `blkbench: NAME failed: WHY` on an error,
// and `blkbench: done` at the end. Exit status 0, 1 if a case failed, 2 on
// bad usage.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/sysinfo.h"
#include "nb/syscall.h"
#include "nb/time.h"
#include "nb/transport.h"
#include "proto/block.h"
#include "proto/devmgr.h"

#define MAX_QD       32
#define MAX_PIECES   128 // protocol requests outstanding: CHAN_QUEUE_MAX_MSGS
#define PIECE_BYTES  ((uint32_t)BLOCK_MAX_SECTORS * BLOCK_SECTOR_SIZE)
#define BIG_BYTES    (1024u * 1024)
#define SMALL_BYTES  4096u
#define WAIT_LIMIT   (30 * NB_NSEC_PER_SEC)
#define OPEN_LIMIT   (30 * NB_NSEC_PER_SEC)
#define WARMUP_OPS   4
#define STAMP_MAGIC  "NBBLKBEN"
#define PRNG_SEED    0x9e3779b97f4a7c15ull
#define PIECES_OF(b) (((b) + PIECE_BYTES - 1) / PIECE_BYTES)

static const char usage_text[] = "usage: blkbench [--seconds S] [--count N] [--only NAME]\n";

struct bcase {
    const char *name;
    uint32_t bytes; // per request
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

static handle_t ch = HANDLE_INVALID, vmo = HANDLE_INVALID;
static struct nb_channel_transport ct;
static uint8_t tbuf[BLOCK_MAX_MSG_BYTES + 64];
static uint64_t disk_bytes;
static handle_t info = HANDLE_INVALID;

// CPU time so far of the driver and of blkbench (false without `info`).
static bool cpu_times(uint64_t *driver, uint64_t *self)
{
    void *buf;
    size_t size;
    if (info == HANDLE_INVALID || nb_info_get(info, NB_INFO_PROCESSES, &buf, &size) != OK)
        return false;
    const struct nb_process_info *p = buf;
    *driver = *self = 0;
    for (size_t i = 0; i < size / sizeof(*p); i++) {
        if (!strncmp(p[i].name, "virtio-blk", sizeof(p[i].name)))
            *driver += p[i].cpu_ns;
        else if (!strncmp(p[i].name, "blkbench", sizeof(p[i].name)))
            *self += p[i].cpu_ns;
    }
    free(buf);
    return true;
}

// One run of a case: requests ("ops") of `bytes` in up to qd op slots, each
// slot with its own region of the vmo; pieces go out through a FIFO that
// the channel's queue drains.
struct run {
    const struct bcase *c;
    uint64_t prng, next_seq, deadline, limit;
    uint64_t started, completed, bytes;
    uint32_t active, outstanding;
    uint64_t op_off[MAX_QD];
    uint32_t op_left[MAX_QD];
    uint32_t fifo[MAX_QD * PIECES_OF(BIG_BYTES)];
    uint32_t fifo_head, fifo_len;
    const char *err;
    status_t err_status;
};

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void fifo_push(struct run *r, uint32_t v)
{
    uint32_t cap = sizeof(r->fifo) / sizeof(r->fifo[0]);
    r->fifo[(r->fifo_head + r->fifo_len++) % cap] = v;
}

static bool stop_now(struct run *r)
{
    if (r->err || (r->limit && r->started >= r->limit))
        return true;
    return r->deadline && nb_now() >= r->deadline;
}

// Starts a request in op slot `slot`: its offset, its stamps, its pieces.
static void start_op(struct run *r, uint32_t slot)
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
    uint32_t pieces = PIECES_OF(c->bytes);
    r->op_off[slot] = off;
    r->op_left[slot] = pieces;
    for (uint32_t p = 0; p < pieces; p++) {
        if (c->write) {
            uint8_t stamp[16];
            uint64_t at = off + (uint64_t)p * PIECE_BYTES;
            memcpy(stamp, STAMP_MAGIC, 8);
            memcpy(stamp + 8, &at, 8);
            status_t s = nb_vmo_write(vmo, stamp, (uint64_t)slot * c->bytes + p * PIECE_BYTES,
                                      sizeof(stamp));
            if (s != OK) {
                r->err = "stamping the vmo";
                r->err_status = s;
            }
        }
        fifo_push(r, slot << 8 | p);
    }
    r->started++;
    r->active++;
}

// Sends queued pieces while the channel takes them.
static void flush(struct run *r)
{
    uint32_t cap = sizeof(r->fifo) / sizeof(r->fifo[0]);
    while (r->fifo_len && r->outstanding < MAX_PIECES && !r->err) {
        uint32_t v = r->fifo[r->fifo_head];
        uint32_t slot = v >> 8, p = v & 0xff;
        const struct bcase *c = r->c;
        uint32_t len = c->bytes - p * PIECE_BYTES;
        if (len > PIECE_BYTES)
            len = PIECE_BYTES;
        uint64_t sector = (r->op_off[slot] + (uint64_t)p * PIECE_BYTES) / BLOCK_SECTOR_SIZE;
        uint64_t voff = (uint64_t)slot * c->bytes + (uint64_t)p * PIECE_BYTES;
        uint8_t m[BLOCK_MAX_MSG_BYTES];
        struct nb_msg_in req = {.bytes = m, .bytes_cap = sizeof(m)};
        status_t s = c->write ? block_write_request_encode(&req, sector, len / 512, voff)
                              : block_read_request_encode(&req, sector, len / 512, voff);
        if (s != OK) {
            r->err = "encoding a request";
            r->err_status = s;
            return;
        }
        uint32_t txid = v + 1;
        memcpy(m, &txid, sizeof(txid));
        struct nb_msg_out out = {.bytes = m, .nbytes = req.nbytes};
        s = nb_channel_write(ch, &out);
        if (s == ERR_SHOULD_WAIT)
            return; // the driver's queue is full: after the next answers
        if (s != OK) {
            r->err = "sending a request";
            r->err_status = s;
            return;
        }
        r->fifo_head = (r->fifo_head + 1) % cap;
        r->fifo_len--;
        r->outstanding++;
    }
}

// Reads every answer there is; completes requests, starts the next ones.
static void take_answers(struct run *r)
{
    for (;;) {
        uint8_t m[BLOCK_MAX_MSG_BYTES];
        struct nb_msg_in in = {.bytes = m, .bytes_cap = sizeof(m)};
        status_t s = nb_channel_read(ch, &in);
        if (s == ERR_SHOULD_WAIT)
            return;
        if (s != OK) {
            r->err = "reading an answer";
            r->err_status = s;
            return;
        }
        status_t st;
        s = r->c->write ? block_write_response_decode(&in, &st)
                        : block_read_response_decode(&in, &st);
        uint32_t txid = 0;
        if (in.nbytes >= sizeof(txid))
            memcpy(&txid, m, sizeof(txid));
        uint32_t slot = (txid - 1) >> 8;
        if (s != OK || txid == 0 || slot >= r->c->qd || r->op_left[slot] == 0) {
            r->err = "a bad answer";
            r->err_status = s != OK ? s : ERR_PROTOCOL;
            return;
        }
        if (st != OK) {
            r->err = r->c->write ? "a write failed" : "a read failed";
            r->err_status = st;
            return;
        }
        r->outstanding--;
        if (--r->op_left[slot] == 0) {
            r->completed++;
            r->bytes += r->c->bytes;
            r->active--;
            if (!stop_now(r))
                start_op(r, slot);
        }
    }
}

// Runs c for `limit` requests or until `deadline` (0: no bound); false on
// an error (r->err says which).
static bool run_case(struct run *r, const struct bcase *c, uint64_t limit, uint64_t deadline)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->prng = PRNG_SEED;
    r->limit = limit;
    r->deadline = deadline;
    for (uint32_t i = 0; i < c->qd && !stop_now(r); i++)
        start_op(r, i);
    flush(r);
    while (r->active && !r->err) {
        signals_t obs;
        status_t s = nb_object_wait_one(ch, SIGNAL_READABLE | SIGNAL_PEER_CLOSED,
                                        nb_deadline_after(WAIT_LIMIT), &obs);
        if (s != OK) {
            r->err = "waiting for an answer";
            r->err_status = s;
            break;
        }
        if (!(obs & SIGNAL_READABLE) && (obs & SIGNAL_PEER_CLOSED)) {
            r->err = "the driver closed the connection";
            r->err_status = ERR_PEER_CLOSED;
            break;
        }
        take_answers(r);
        flush(r);
    }
    return !r->err;
}

static struct run run;

static bool bench(const struct bcase *c, uint64_t seconds, uint64_t count)
{
    if (!run_case(&run, c, WARMUP_OPS, 0)) {
        printf("blkbench: %s failed: %s: %s\n", c->name, run.err, status_str(run.err_status));
        return false;
    }
    uint64_t d0 = 0, b0 = 0, d1 = 0, b1 = 0;
    bool cpu = cpu_times(&d0, &b0);
    uint64_t t0 = nb_now();
    uint64_t deadline = seconds ? t0 + seconds * NB_NSEC_PER_SEC : 0;
    bool ok = run_case(&run, c, count, deadline);
    uint64_t ns = nb_now() - t0;
    cpu = cpu && cpu_times(&d1, &b1);
    if (!ok) {
        printf("blkbench: %s failed: %s: %s\n", c->name, run.err, status_str(run.err_status));
        return false;
    }
    if (ns == 0)
        ns = 1;
    uint64_t iops = run.completed * NB_NSEC_PER_SEC / ns;
    uint64_t mbps_x10 = run.bytes * 10000 / ns; // 10^6 bytes/s, one decimal
    printf("blkbench: %s qd=%u ops=%llu bytes=%llu ns=%llu iops=%llu mbps=%llu.%llu", c->name,
           c->qd, (unsigned long long)run.completed, (unsigned long long)run.bytes,
           (unsigned long long)ns, (unsigned long long)iops, (unsigned long long)(mbps_x10 / 10),
           (unsigned long long)(mbps_x10 % 10));
    if (cpu)
        printf(" cpu_driver_ns=%llu cpu_bench_ns=%llu", (unsigned long long)(d1 - d0),
               (unsigned long long)(b1 - b0));
    printf("\n");
    fflush(stdout);
    return true;
}

// After the write cases: the first piece of the disk holds its stamp.
static bool check_stamp(void)
{
    status_t st, s = block_read(&ct.tr, 0, 1, 0, &st);
    if (s == OK)
        s = st;
    uint8_t sec[16], want[16];
    if (s == OK)
        s = nb_vmo_read(vmo, sec, 0, sizeof(sec));
    uint64_t zero = 0;
    memcpy(want, STAMP_MAGIC, 8);
    memcpy(want + 8, &zero, 8);
    if (s != OK || memcmp(sec, want, sizeof(want)) != 0) {
        printf("blkbench: verify failed: sector 0 lacks the write stamp (%s)\n", status_str(s));
        return false;
    }
    printf("blkbench: verify ok\n");
    return true;
}

static handle_t open_device(void)
{
    handle_t dev = nb_bootstrap_take(BOOTSTRAP_ROLE_DEVICES);
    if (dev == HANDLE_INVALID) {
        fputs("blkbench: no `devices` handle (start me with handles=devices)\n", stderr);
        return HANDLE_INVALID;
    }
    static uint64_t dbuf[(DEVMGR_MAX_MSG_BYTES + 7) / 8];
    struct nb_channel_transport dt;
    nb_channel_transport_init(&dt, dev, dbuf, sizeof(dbuf));
    dt.timeout_ns = WAIT_LIMIT;
    // The driver may still be starting: devmgr says ERR_NOT_FOUND or
    // ERR_BAD_STATE until it runs.
    uint64_t give_up = nb_deadline_after(OPEN_LIMIT);
    status_t s, st;
    handle_t c = HANDLE_INVALID;
    for (;;) {
        s = devmgr_open(&dt.tr, "blk", 3, 0, &st, &c);
        if (s == OK && st == OK)
            break;
        if (s != OK || (st != ERR_NOT_FOUND && st != ERR_BAD_STATE) || nb_now() >= give_up) {
            fprintf(stderr, "blkbench: cannot open block device 0: %s\n",
                    status_str(s != OK ? s : st));
            c = HANDLE_INVALID;
            break;
        }
        nb_nanosleep(nb_deadline_after(50 * NB_NSEC_PER_MSEC));
    }
    nb_handle_close(dev);
    return c;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    *v = strtoull(s, &end, 0);
    return !*end;
}

int main(int argc, char **argv)
{
    uint64_t seconds = 2, count = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            fputs(usage_text, stdout);
            return 0;
        }
        bool ok = i + 1 < argc;
        if (ok && !strcmp(argv[i], "--seconds"))
            ok = parse_u64(argv[++i], &seconds);
        else if (ok && !strcmp(argv[i], "--count"))
            ok = parse_u64(argv[++i], &count);
        else if (ok && !strcmp(argv[i], "--only"))
            only = argv[++i];
        else
            ok = false;
        if (!ok || (!seconds && !count)) {
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (only) {
        bool known = false;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            known |= !strcmp(cases[i].name, only);
        if (!known) {
            fprintf(stderr, "blkbench: no case %s\n", only);
            return 2;
        }
    }
    if (nb_bootstrap_load() != OK) {
        fputs("blkbench: no bootstrap message\n", stderr);
        return 1;
    }
    info = nb_bootstrap_take(BOOTSTRAP_ROLE_INFO);
    if ((ch = open_device()) == HANDLE_INVALID)
        return 1;
    nb_channel_transport_init(&ct, ch, tbuf, sizeof(tbuf));
    ct.timeout_ns = WAIT_LIMIT;
    status_t s, st;
    uint64_t sectors;
    uint32_t bs, flags, max_requests;
    s = block_get_info(&ct.tr, &st, &sectors, &bs, &flags, &max_requests);
    if (s != OK || st != OK) {
        fprintf(stderr, "blkbench: get_info: %s\n", status_str(s != OK ? s : st));
        return 1;
    }
    disk_bytes = sectors * BLOCK_SECTOR_SIZE;
    if (disk_bytes < BIG_BYTES) {
        fprintf(stderr, "blkbench: the disk has %llu bytes; it needs at least 1 MiB\n",
                (unsigned long long)disk_bytes);
        return 1;
    }
    handle_t dup;
    if ((s = nb_vmo_create((uint64_t)MAX_QD * BIG_BYTES, &vmo)) != OK ||
        (s = nb_handle_duplicate(vmo, RIGHT_SAME_RIGHTS, &dup)) != OK ||
        (s = block_attach_vmo(&ct.tr, dup, &st)) != OK || (s = st) != OK) {
        fprintf(stderr, "blkbench: cannot attach a vmo: %s\n", status_str(s));
        return 1;
    }
    // Every page of the vmo holds data before the first case, as Linux's
    // buffers do: otherwise reads would pay for its pages' first touch and
    // writes would copy pages never touched (zeros, without a copy).
    static uint8_t fill[64 * 1024];
    memset(fill, 0xa5, sizeof(fill));
    for (uint64_t off = 0; off < (uint64_t)MAX_QD * BIG_BYTES; off += sizeof(fill)) {
        if ((s = nb_vmo_write(vmo, fill, off, sizeof(fill))) != OK) {
            fprintf(stderr, "blkbench: cannot fill the vmo: %s\n", status_str(s));
            return 1;
        }
    }
    printf("blkbench: disk bytes=%llu max_requests=%u read_only=%s\n",
           (unsigned long long)disk_bytes, max_requests,
           flags & BLOCK_FLAG_READ_ONLY ? "yes" : "no");
    bool ok = true, wrote = false;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bcase *c = &cases[i];
        if (only && strcmp(only, c->name))
            continue;
        if (c->write && (flags & BLOCK_FLAG_READ_ONLY)) {
            printf("blkbench: %s failed: the disk is read-only\n", c->name);
            ok = false;
            continue;
        }
        ok &= bench(c, seconds, count);
        wrote |= c->write;
    }
    if (ok && wrote)
        ok = check_stamp();
    printf("blkbench: done\n");
    fflush(stdout);
    nb_handle_close(ch);
    return ok ? 0 : 1;
}
