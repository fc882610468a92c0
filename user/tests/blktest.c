// blktest: the virtio-blk driver end to end (docs/VIRTIO.md). Starts
// /bin/virtio-blk itself with the device's resources and keeps the client
// end of its service channel, then writes patterns, reads them back,
// pipelines requests, checks the errors and flushes; last it kills the
// driver with large reads in flight and starts it again on the same
// device. KTAP on stdout.
//
//   blktest --mmio ADDR --irq GSI [--rng-mmio ADDR --rng-irq GSI]
//
// --mmio and --irq go to the driver; with --rng-*, case blk_rng also runs
// /bin/virtio-rng --once on that device (resources from root_resource).
//
// Wants from init: handles=log?,initrd,vmex, and either mmio, irq, dma or
// root_resource (then it derives them: MMIO for the registers' page, IRQ
// for the GSI, DMA). Leaves sector 0 holding BLKTEST_MARK and sectors 1-8
// the pattern of pattern_byte() for tests/integration/test_virtio.py.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/bootstrap.h"
#include "drvtest.h"
#include "nb/initrd.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"
#include "nb/transport.h"
#include "nimbus/resource.h"
#include "proto/block.h"

#define BLKTEST_MARK "NIMBUS BLKTEST MARK"
#define VMO_BYTES    (256u * 1024)
#define WAIT_LIMIT   (30 * NB_NSEC_PER_SEC)

#define KILL_LIMIT (5 * NB_NSEC_PER_SEC)

static handle_t client = HANDLE_INVALID, driver = HANDLE_INVALID, vmo = HANDLE_INVALID;
static const char *dargv[8] = {"/bin/virtio-blk"};
static struct drvtest dt = {.test = "blktest", .program = "/bin/virtio-blk", .argv = dargv};
static struct nb_channel_transport ct;
static uint8_t tbuf[BLOCK_MAX_MSG_BYTES + 64];
static uint64_t sectors;
static uint32_t flags, max_requests;

static uint8_t pattern_byte(uint64_t sector, uint32_t i)
{
    return (uint8_t)(sector * 7 + i * 13 + (i >> 9));
}

static status_t bwrite(uint64_t sector, uint32_t count, uint64_t off)
{
    status_t st;
    status_t s = block_write(&ct.tr, sector, count, off, &st);
    return s != OK ? s : st;
}

static status_t bread(uint64_t sector, uint32_t count, uint64_t off)
{
    status_t st;
    status_t s = block_read(&ct.tr, sector, count, off, &st);
    return s != OK ? s : st;
}

static void blk_info(struct ktest *t)
{
    status_t st;
    uint32_t bs;
    ASSERT_OK(block_get_info(&ct.tr, &st, &sectors, &bs, &flags, &max_requests));
    ASSERT_OK(st);
    EXPECT_GE(sectors, 64u);
    EXPECT_GE(bs, 512u);
    EXPECT_GE(max_requests, 1u);
    EXPECT_FALSE(flags & BLOCK_FLAG_READ_ONLY);
    printf("# %llu sectors, block size %u, flags %#x, %u in flight\n", (unsigned long long)sectors,
           bs, flags, max_requests);
}

static void blk_no_vmo(struct ktest *t)
{
    EXPECT_STATUS(bread(0, 1, 0), ERR_BAD_STATE);
    status_t st;
    handle_t dup; // the driver keeps what it is sent: send a duplicate
    ASSERT_OK(nb_handle_duplicate(vmo, RIGHT_SAME_RIGHTS, &dup));
    ASSERT_OK(block_attach_vmo(&ct.tr, dup, &st));
    ASSERT_OK(st);
}

static void blk_write_read(struct ktest *t)
{
    static uint8_t buf[8 * 512], back[8 * 512];
    for (uint32_t i = 0; i < sizeof(buf); i++)
        buf[i] = pattern_byte(1 + i / 512, i % 512);
    ASSERT_OK(nb_vmo_write(vmo, buf, 0, sizeof(buf)));
    ASSERT_OK(bwrite(1, 8, 0));
    // Clobber the vmo, read back elsewhere in it.
    memset(back, 0, sizeof(back));
    ASSERT_OK(nb_vmo_write(vmo, back, 0, sizeof(back)));
    ASSERT_OK(bread(1, 8, 65536));
    ASSERT_OK(nb_vmo_read(vmo, back, 65536, sizeof(back)));
    EXPECT_TRUE(memcmp(buf, back, sizeof(buf)) == 0);
    // The last sector, at the largest request.
    static uint8_t big[BLOCK_MAX_SECTORS * 512];
    for (uint32_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i ^ 0x5a);
    ASSERT_OK(nb_vmo_write(vmo, big, 0, sizeof(big)));
    ASSERT_OK(bwrite(sectors - BLOCK_MAX_SECTORS, BLOCK_MAX_SECTORS, 0));
    ASSERT_OK(bread(sectors - BLOCK_MAX_SECTORS, BLOCK_MAX_SECTORS, 131072));
    static uint8_t big2[sizeof(big)];
    ASSERT_OK(nb_vmo_read(vmo, big2, 131072, sizeof(big2)));
    EXPECT_TRUE(memcmp(big, big2, sizeof(big)) == 0);
}

static void blk_errors(struct ktest *t)
{
    EXPECT_STATUS(bread(sectors, 1, 0), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(bread(sectors - 1, 2, 0), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(bread(UINT64_MAX, 1, 0), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(bread(0, 0, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(bread(0, BLOCK_MAX_SECTORS + 1, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(bread(0, 1, VMO_BYTES - 256), ERR_OUT_OF_RANGE); // past the vmo
    EXPECT_STATUS(bwrite(0, 1, UINT64_MAX - 10), ERR_OUT_OF_RANGE);
    status_t st;
    if (!(flags & BLOCK_FLAG_DISCARD)) {
        ASSERT_OK(block_discard(&ct.tr, 0, 1, &st));
        EXPECT_STATUS(st, ERR_NOT_SUPPORTED);
    }
}

// Many requests in flight: written back to back, answered by txid.
static void blk_pipeline(struct ktest *t)
{
    enum { N = 12 };
    uint8_t sec[512];
    for (uint32_t r = 0; r < N; r++) {
        memset(sec, 0xc0 + r, sizeof(sec));
        ASSERT_OK(nb_vmo_write(vmo, sec, r * 512, sizeof(sec)));
    }
    for (uint32_t r = 0; r < N; r++) {
        uint8_t m[BLOCK_MAX_MSG_BYTES];
        struct nb_msg_in req = {.bytes = m, .bytes_cap = sizeof(m)};
        ASSERT_OK(block_write_request_encode(&req, 32 + r, 1, r * 512));
        uint32_t txid = 1000 + r;
        memcpy(m, &txid, sizeof(txid));
        struct nb_msg_out out = {.bytes = m, .nbytes = req.nbytes};
        ASSERT_OK(nb_channel_write(client, &out));
    }
    bool seen[N] = {0};
    for (uint32_t r = 0; r < N; r++) {
        signals_t obs;
        ASSERT_OK(nb_object_wait_one(client, SIGNAL_READABLE, nb_deadline_after(WAIT_LIMIT), &obs));
        uint8_t m[BLOCK_MAX_MSG_BYTES];
        struct nb_msg_in in = {.bytes = m, .bytes_cap = sizeof(m)};
        ASSERT_OK(nb_channel_read(client, &in));
        status_t st;
        ASSERT_OK(block_write_response_decode(&in, &st));
        EXPECT_OK(st);
        uint32_t txid;
        memcpy(&txid, m, sizeof(txid));
        ASSERT_TRUE(txid >= 1000 && txid < 1000 + N);
        EXPECT_FALSE(seen[txid - 1000]);
        seen[txid - 1000] = true;
    }
    ASSERT_OK(bread(32, N, 0));
    for (uint32_t r = 0; r < N; r++) {
        ASSERT_OK(nb_vmo_read(vmo, sec, r * 512, sizeof(sec)));
        EXPECT_EQ(sec[0], 0xc0 + r);
        EXPECT_EQ(sec[511], 0xc0 + r);
    }
}

// A second connection has its own vmo and sees the same disk.
static void blk_connect(struct ktest *t)
{
    status_t st;
    handle_t c2, v2;
    ASSERT_OK(block_connect(&ct.tr, &st, &c2));
    ASSERT_OK(st);
    ASSERT_OK(nb_vmo_create(4096, &v2));
    struct nb_channel_transport ct2;
    static uint8_t buf2[BLOCK_MAX_MSG_BYTES + 64];
    nb_channel_transport_init(&ct2, c2, buf2, sizeof(buf2));
    ct2.timeout_ns = WAIT_LIMIT;
    ASSERT_OK(block_read(&ct2.tr, 1, 1, 0, &st));
    EXPECT_STATUS(st, ERR_BAD_STATE);
    handle_t dup2;
    ASSERT_OK(nb_handle_duplicate(v2, RIGHT_SAME_RIGHTS, &dup2));
    ASSERT_OK(block_attach_vmo(&ct2.tr, dup2, &st));
    ASSERT_OK(block_read(&ct2.tr, 1, 1, 512, &st));
    EXPECT_OK(st);
    uint8_t sec[512];
    ASSERT_OK(nb_vmo_read(v2, sec, 512, sizeof(sec)));
    EXPECT_EQ(sec[3], pattern_byte(1, 3));
    nb_handle_close(c2);
}

// The attached vmo's size is checked as it is now: a vmo that grew takes
// requests past its old end, one that shrank refuses them.
static void blk_vmo_resize(struct ktest *t)
{
    status_t st;
    handle_t c2, v2, dup2;
    ASSERT_OK(block_connect(&ct.tr, &st, &c2));
    ASSERT_OK(st);
    ASSERT_OK(nb_vmo_create(4096, &v2));
    struct nb_channel_transport ct2;
    static uint8_t buf2[BLOCK_MAX_MSG_BYTES + 64];
    nb_channel_transport_init(&ct2, c2, buf2, sizeof(buf2));
    ct2.timeout_ns = WAIT_LIMIT;
    ASSERT_OK(nb_handle_duplicate(v2, RIGHT_SAME_RIGHTS, &dup2));
    ASSERT_OK(block_attach_vmo(&ct2.tr, dup2, &st));
    ASSERT_OK(block_read(&ct2.tr, 1, 1, 4096, &st));
    EXPECT_STATUS(st, ERR_OUT_OF_RANGE);
    ASSERT_OK(nb_vmo_set_size(v2, 8192));
    ASSERT_OK(block_read(&ct2.tr, 1, 1, 4096, &st));
    EXPECT_OK(st);
    uint8_t sec[512];
    ASSERT_OK(nb_vmo_read(v2, sec, 4096, sizeof(sec)));
    EXPECT_EQ(sec[5], pattern_byte(1, 5));
    ASSERT_OK(nb_vmo_set_size(v2, 4096));
    ASSERT_OK(block_read(&ct2.tr, 1, 1, 4096, &st));
    EXPECT_STATUS(st, ERR_OUT_OF_RANGE);
    ASSERT_OK(block_write(&ct2.tr, 1, 1, 4096, &st));
    EXPECT_STATUS(st, ERR_OUT_OF_RANGE);
    nb_handle_close(c2);
    nb_handle_close(v2);
}

// More requests than the client's channel holds answers for, written
// before reading any: the driver holds the answers that find the channel
// full and sends them as it empties. Every request is answered once.
static void blk_answers_wait(struct ktest *t)
{
    enum { N = 200 }; // > CHAN_QUEUE_MAX_MSGS (128)
    status_t st;
    handle_t c2, v2, dup2;
    ASSERT_OK(block_connect(&ct.tr, &st, &c2));
    ASSERT_OK(st);
    ASSERT_OK(nb_vmo_create(4096, &v2));
    struct nb_channel_transport ct2;
    static uint8_t buf2[BLOCK_MAX_MSG_BYTES + 64];
    nb_channel_transport_init(&ct2, c2, buf2, sizeof(buf2));
    ct2.timeout_ns = WAIT_LIMIT;
    ASSERT_OK(nb_handle_duplicate(v2, RIGHT_SAME_RIGHTS, &dup2));
    ASSERT_OK(block_attach_vmo(&ct2.tr, dup2, &st));
    ASSERT_OK(st);
    uint32_t sent = 0;
    uint64_t give_up = nb_deadline_after(5 * NB_NSEC_PER_SEC);
    while (sent < N && nb_now() < give_up) {
        uint8_t m[BLOCK_MAX_MSG_BYTES];
        struct nb_msg_in req = {.bytes = m, .bytes_cap = sizeof(m)};
        ASSERT_OK(block_read_request_encode(&req, 1 + sent % 8, 1, (sent % 8) * 512));
        uint32_t txid = 1 + sent;
        memcpy(m, &txid, sizeof(txid));
        struct nb_msg_out out = {.bytes = m, .nbytes = req.nbytes};
        status_t s = nb_channel_write(c2, &out);
        if (s == ERR_SHOULD_WAIT) { // the driver's queue is full: it is holding answers
            nb_nanosleep(nb_deadline_after(10 * NB_NSEC_PER_MSEC));
            continue;
        }
        ASSERT_OK(s);
        sent++;
    }
    EXPECT_GT(sent, 128u);
    // Time for the driver to answer what it can, filling this channel.
    nb_nanosleep(nb_deadline_after(NB_NSEC_PER_SEC));
    static bool seen[N];
    memset(seen, 0, sizeof(seen));
    uint32_t got = 0;
    while (got < sent) {
        signals_t obs;
        status_t s =
            nb_object_wait_one(c2, SIGNAL_READABLE, nb_deadline_after(5 * NB_NSEC_PER_SEC), &obs);
        if (s != OK)
            break; // an answer was lost
        uint8_t m[BLOCK_MAX_MSG_BYTES];
        struct nb_msg_in in = {.bytes = m, .bytes_cap = sizeof(m)};
        ASSERT_OK(nb_channel_read(c2, &in));
        ASSERT_OK(block_read_response_decode(&in, &st));
        EXPECT_OK(st);
        uint32_t txid;
        memcpy(&txid, m, sizeof(txid));
        ASSERT_TRUE(txid >= 1 && txid <= sent);
        EXPECT_FALSE(seen[txid - 1]);
        seen[txid - 1] = true;
        got++;
    }
    EXPECT_EQ(got, sent);
    // The connection still works.
    ASSERT_OK(block_read(&ct2.tr, 1, 1, 0, &st));
    EXPECT_OK(st);
    nb_handle_close(c2);
    nb_handle_close(v2);
}

static void blk_mark_and_flush(struct ktest *t)
{
    uint8_t sec[512] = {0};
    memcpy(sec, BLKTEST_MARK, sizeof(BLKTEST_MARK));
    ASSERT_OK(nb_vmo_write(vmo, sec, 0, sizeof(sec)));
    ASSERT_OK(bwrite(0, 1, 0));
    status_t st;
    ASSERT_OK(block_flush(&ct.tr, &st));
    EXPECT_OK(st);
}

// /bin/blk over a fresh connection: its output comes back on a channel.

static int run_blk(const char *a1, const char *a2, const char *a3, char *out, size_t cap)
{
    status_t st;
    handle_t conn, mine, proc;
    out[0] = 0;
    if (block_connect(&ct.tr, &st, &conn) != OK || st != OK)
        return -1;
    const char *argv[] = {"/bin/blk", a1, a2, a3, NULL};
    if (drvtest_start_command(&dt, argv, conn, &proc, &mine) != OK)
        return -1;
    return drvtest_finish_command(proc, mine, nb_deadline_after(WAIT_LIMIT), out, cap);
}

static void blk_command(struct ktest *t)
{
    static char out[16384];
    ASSERT_EQ(run_blk("info", NULL, NULL, out, sizeof(out)), 0);
    EXPECT_NOT_NULL(strstr(out, "sectors "));
    EXPECT_NOT_NULL(strstr(out, "read-only no"));
    // Sector 60: clear of the pipelined writes (32..43) and of the tail.
    ASSERT_EQ(run_blk("write", "60", "hello from blk", out, sizeof(out)), 0);
    ASSERT_OK(bread(60, 1, 0));
    char sec[512];
    ASSERT_OK(nb_vmo_read(vmo, sec, 0, sizeof(sec)));
    EXPECT_TRUE(memcmp(sec, "hello from blk", 15) == 0);
    ASSERT_EQ(run_blk("read", "60", NULL, out, sizeof(out)), 0);
    EXPECT_NOT_NULL(strstr(out, "00007800  68 65 6c 6c 6f"));
    EXPECT_NOT_NULL(strstr(out, "|hello from blk."));
    ASSERT_EQ(run_blk("flush", NULL, NULL, out, sizeof(out)), 0);
    EXPECT_EQ(run_blk("read", "60", "0", out, sizeof(out)), 2); // usage
    EXPECT_EQ(run_blk("read", "99999999", NULL, out, sizeof(out)), 1);
}

static uint64_t rng_addr, rng_gsi;

// /bin/virtio-rng on the rng device with these options (after --mmio and
// --irq); resources derived from root_resource.
static status_t spawn_rng(const char *opt1, const char *opt2, handle_t *proc)
{
    const void *elf;
    size_t elf_size;
    status_t s;
    handle_t root = nb_bootstrap_peek(BOOTSTRAP_ROLE_ROOT_RESOURCE);
    if ((s = nb_initrd_find(&dt.initrd, "/bin/virtio-rng", &elf, &elf_size)) != OK)
        return s;
    handle_t hs[4];
    uint32_t roles[4] = {BOOTSTRAP_ROLE_MMIO, BOOTSTRAP_ROLE_IRQ, BOOTSTRAP_ROLE_DMA,
                         BOOTSTRAP_ROLE_ENTROPY};
    uint32_t n = 0;
    if ((s = nb_resource_create(root, NB_RESOURCE_MMIO, rng_addr & ~0xfffull, 4096, &hs[n])) ==
            OK &&
        (s = nb_resource_create(root, NB_RESOURCE_IRQ, rng_gsi, 1, &hs[++n])) == OK &&
        (s = nb_resource_create(root, NB_RESOURCE_DMA, 0, 0, &hs[++n])) == OK &&
        (s = nb_resource_create(root, NB_RESOURCE_ENTROPY, 0, 0, &hs[++n])) == OK)
        n++;
    if (s != OK) {
        while (n)
            nb_handle_close(hs[--n]);
        return s;
    }
    char a[32], g[32];
    snprintf(a, sizeof(a), "%#llx", (unsigned long long)rng_addr);
    snprintf(g, sizeof(g), "%llu", (unsigned long long)rng_gsi);
    const char *argv[] = {"/bin/virtio-rng", "--mmio", a, "--irq", g, opt1, opt2, NULL};
    struct nb_spawn sp = {.name = "virtio-rng",
                          .elf = elf,
                          .elf_size = elf_size,
                          .argv = argv,
                          .roles = roles,
                          .handles = hs,
                          .nhandles = 4};
    return nb_spawn(&sp, proc);
}

// /bin/virtio-rng --once on a second device, when given (--rng-mmio ADDR
// --rng-irq GSI): it must feed the entropy pool and exit 0. Then killed
// while it asks every 10 ms (it has no clients to wake: it feeds the
// kernel), and --once again on the same device: it resets the device left
// mid-request and exits 0.
static void blk_rng(struct ktest *t)
{
    if (!rng_addr)
        KTEST_SKIP("no --rng-mmio");
    if (nb_bootstrap_peek(BOOTSTRAP_ROLE_ROOT_RESOURCE) == HANDLE_INVALID)
        KTEST_SKIP("no root_resource");
    handle_t proc;
    struct nb_process_info info;
    ASSERT_OK(spawn_rng("--once", NULL, &proc));
    ASSERT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info));
    EXPECT_EQ(info.exit_code, 0);
    nb_handle_close(proc);

    ASSERT_OK(spawn_rng("--interval", "10", &proc));
    nb_nanosleep(nb_deadline_after(NB_NSEC_PER_SEC / 20));
    ASSERT_OK(nb_task_kill(proc));
    ASSERT_OK(nb_process_wait(proc, nb_deadline_after(KILL_LIMIT), &info));
    EXPECT_EQ(info.exit_code, 137);
    nb_handle_close(proc);
    ASSERT_OK(spawn_rng("--once", NULL, &proc));
    ASSERT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info));
    EXPECT_EQ(info.exit_code, 0);
    nb_handle_close(proc);
    printf("# virtio-rng killed mid-run; --once after it on the same device exited 0\n");
}

static status_t spawn_driver(void);

// Starts 16 reads of 64 KiB, waits delay_ns and kills the driver: every
// read is answered OK or ends with ERR_PEER_CLOSED within KILL_LIMIT, never
// a hang. Then a new driver on the same device (reset and set up afresh,
// with a new connection) reads the mark back. *answered: reads answered.
static void kill_round(struct ktest *t, uint64_t delay_ns, uint32_t *answered)
{
    enum { N = 16, TXID0 = 2000 };
    *answered = N;
    for (uint32_t r = 0; r < N; r++) {
        uint8_t m[BLOCK_MAX_MSG_BYTES];
        struct nb_msg_in req = {.bytes = m, .bytes_cap = sizeof(m)};
        ASSERT_OK(block_read_request_encode(&req, sectors - BLOCK_MAX_SECTORS, BLOCK_MAX_SECTORS,
                                            (r % 4) * 65536ull));
        uint32_t txid = TXID0 + r;
        memcpy(m, &txid, sizeof(txid));
        struct nb_msg_out out = {.bytes = m, .nbytes = req.nbytes};
        ASSERT_OK(nb_channel_write(client, &out));
    }
    if (delay_ns)
        nb_nanosleep(nb_deadline_after(delay_ns));
    uint64_t t0 = nb_now();
    ASSERT_OK(nb_task_kill(driver));
    uint32_t got = 0, bad = 0;
    status_t s;
    for (;;) {
        signals_t obs;
        s = nb_object_wait_one(client, SIGNAL_READABLE | SIGNAL_PEER_CLOSED, t0 + KILL_LIMIT, &obs);
        if (s != OK)
            break;
        uint8_t m[BLOCK_MAX_MSG_BYTES];
        struct nb_msg_in in = {.bytes = m, .bytes_cap = sizeof(m)};
        if ((s = nb_channel_read(client, &in)) == ERR_SHOULD_WAIT)
            continue;
        if (s != OK)
            break;
        status_t st;
        uint32_t txid;
        memcpy(&txid, m, sizeof(txid));
        if (block_read_response_decode(&in, &st) != OK || txid < TXID0 || txid >= TXID0 + N ||
            st != OK)
            bad++;
        got++;
    }
    printf("# killed %llu us after 16 reads of 64 KiB: %u answered, then %s after %llu us\n",
           (unsigned long long)(delay_ns / 1000), got, status_str(s),
           (unsigned long long)((nb_now() - t0) / 1000));
    EXPECT_STATUS(s, ERR_PEER_CLOSED);
    EXPECT_EQ(bad, 0u);
    EXPECT_LE(got, (uint32_t)N);
    *answered = got;
    struct nb_process_info info;
    ASSERT_OK(nb_process_wait(driver, nb_deadline_after(KILL_LIMIT), &info));
    EXPECT_EQ(info.exit_code, 137); // killed, not ended by itself
    nb_handle_close(driver);
    nb_handle_close(client);
    driver = client = HANDLE_INVALID;

    ASSERT_OK(spawn_driver());
    status_t st;
    uint32_t bs;
    uint64_t n;
    ASSERT_OK(block_get_info(&ct.tr, &st, &n, &bs, &flags, &max_requests));
    ASSERT_OK(st);
    EXPECT_EQ(n, sectors);
    handle_t dup;
    ASSERT_OK(nb_handle_duplicate(vmo, RIGHT_SAME_RIGHTS, &dup));
    ASSERT_OK(block_attach_vmo(&ct.tr, dup, &st));
    ASSERT_OK(st);
    char sec[512] = {0};
    ASSERT_OK(nb_vmo_write(vmo, sec, 0, sizeof(sec)));
    ASSERT_OK(bread(0, 1, 0));
    ASSERT_OK(nb_vmo_read(vmo, sec, 0, sizeof(sec)));
    EXPECT_TRUE(memcmp(sec, BLKTEST_MARK, sizeof(BLKTEST_MARK)) == 0);
    ASSERT_OK(bread(sectors - BLOCK_MAX_SECTORS, BLOCK_MAX_SECTORS, 0));
}

// Kill rounds at growing delays, so that some kill lands while the reads
// are with the driver or the device (at least one round must end with
// reads unanswered).
static void blk_kill_in_flight(struct ktest *t)
{
    struct nb_handle_info hi;
    ASSERT_OK(nb_handle_info(driver, &hi));
    ASSERT_TRUE(hi.rights & RIGHT_MANAGE); // what NB_SYS_TASK_KILL needs
    static const uint64_t delays_us[] = {0, 200, 1000, 3000};
    uint32_t cut = 0;
    for (unsigned i = 0; i < sizeof(delays_us) / sizeof(delays_us[0]); i++) {
        uint32_t answered;
        int failed = t->failures;
        kill_round(t, delays_us[i] * 1000, &answered);
        if (t->failures != failed || client == HANDLE_INVALID)
            return;
        cut += answered < 16;
    }
    printf("# %u of 4 kills came with reads unanswered; the restarted driver read the mark back "
           "each time\n",
           cut);
    EXPECT_GE(cut, 1u);
}

// A driver started with bad options exits 2 (its usage line on stderr)
// and leaves the device alone; one without a service channel exits 1.
static void blk_driver_bad_start(struct ktest *t)
{
    static const char *const bad[][4] = {
        {"/bin/virtio-blk", "--bogus", NULL},
        {"/bin/virtio-blk", "--mmio", "0xfeb00e00", NULL}, // no --irq
        {"/bin/virtio-blk", "--pci", "zz:1.0", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct drvtest d = dt;
        handle_t c, proc;
        struct nb_process_info info;
        d.argv = bad[i];
        ASSERT_OK(drvtest_spawn(&d, &c, &proc));
        ASSERT_OK(nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info));
        EXPECT_EQ(info.exit_code, 2);
        nb_handle_close(c);
        nb_handle_close(proc);
    }
    // The device still answers its own driver.
    EXPECT_OK(bread(0, 1, 0));
}

KTEST_SUITE(blk, KTEST_CASE(blk_info), KTEST_CASE(blk_no_vmo), KTEST_CASE(blk_write_read),
            KTEST_CASE(blk_errors), KTEST_CASE(blk_pipeline), KTEST_CASE(blk_connect),
            KTEST_CASE(blk_vmo_resize), KTEST_CASE(blk_answers_wait), KTEST_CASE(blk_command),
            KTEST_CASE(blk_mark_and_flush), KTEST_CASE(blk_rng), KTEST_CASE(blk_driver_bad_start),
            KTEST_CASE(blk_kill_in_flight));

// Starts /bin/virtio-blk (drvtest.h); our end of its service channel is
// behind ct.
static status_t spawn_driver(void)
{
    status_t s = drvtest_spawn(&dt, &client, &driver);
    if (s == OK) {
        nb_channel_transport_init(&ct, client, tbuf, sizeof(tbuf));
        ct.timeout_ns = WAIT_LIMIT;
    }
    return s;
}

static status_t start_driver(int argc, char **argv)
{
    uint64_t addr = 0, gsi = 0;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--mmio"))
            addr = strtoull(argv[i + 1], NULL, 0);
        if (!strcmp(argv[i], "--irq"))
            gsi = strtoull(argv[i + 1], NULL, 0);
        if (!strcmp(argv[i], "--rng-mmio"))
            rng_addr = strtoull(argv[i + 1], NULL, 0);
        if (!strcmp(argv[i], "--rng-irq"))
            rng_gsi = strtoull(argv[i + 1], NULL, 0);
    }
    if (!addr) {
        fprintf(stderr, "blktest: usage: blktest --mmio ADDR --irq GSI\n");
        return ERR_INVALID_ARGS;
    }
    status_t s = drvtest_open(&dt, addr, gsi);
    if (s != OK)
        return s;
    int k = 1;
    for (int i = 1; i + 1 < argc && k < 6; i++) {
        if (!strcmp(argv[i], "--mmio") || !strcmp(argv[i], "--irq")) {
            dargv[k++] = argv[i];
            dargv[k++] = argv[++i];
        }
    }
    dargv[k] = NULL;
    if ((s = spawn_driver()) != OK)
        return s;
    return nb_vmo_create(VMO_BYTES, &vmo);
}

int main(int argc, char **argv)
{
    if (nb_bootstrap_load() != OK) {
        fputs("blktest: no bootstrap message\n", stderr);
        return 1;
    }
    if (start_driver(argc, argv) != OK)
        return 1;
    int failed = ktest_run(NULL);
    nb_handle_close(client); // the driver keeps serving nobody; end it
    if (driver != HANDLE_INVALID)
        nb_task_kill(driver);
    return failed ? 1 : 0;
}
