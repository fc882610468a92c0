// nettest: the virtio-net driver end to end (docs/VIRTIO.md, "virtio-net").
// Starts /bin/virtio-net itself with the device's resources and keeps the
// client end of its service channel; checks the MAC and the link, sends an
// ARP request for QEMU user networking's gateway and expects the reply,
// then runs /bin/arping over duplicates of the channel. KTAP on stdout.
//
//   nettest --mmio ADDR --irq GSI
//
// Wants from init: handles=log?,initrd,vmex, and either mmio, irq, dma or
// root_resource (then it derives them as blktest does).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/arp.h"
#include "nb/bootstrap.h"
#include "nb/initrd.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"
#include "nimbus/resource.h"
#include "proto/ethernet.h"

#define WAIT_LIMIT (30 * NB_NSEC_PER_SEC)
#define ARP_LIMIT  (10 * NB_NSEC_PER_SEC)
#define GATEWAY    0x0a000202u // 10.0.2.2
#define GUEST      0x0a00020fu // 10.0.2.15

static handle_t client = HANDLE_INVALID, driver = HANDLE_INVALID;
static struct nb_initrd initrd;
static uint8_t msg[ETHERNET_MAX_MSG_BYTES];
static uint8_t mac[6];
static uint32_t link_events, link_state = 2, next_txid = 1;

// Reads one message by the deadline into msg (link events are noted and
// skipped): OK, ERR_TIMED_OUT or the channel's error.
static status_t read_msg(uint64_t deadline, struct nb_msg_in *m, struct nb_msg_header *h)
{
    for (;;) {
        *m = (struct nb_msg_in){.bytes = msg, .bytes_cap = sizeof(msg)};
        status_t s = nb_channel_read(client, m);
        if (s == OK) {
            if (m->nbytes < sizeof(*h))
                continue;
            memcpy(h, msg, sizeof(*h));
            uint32_t up;
            if (h->ordinal == ETHERNET_LINK_ORDINAL && !h->txid &&
                ethernet_link_request_decode(m, &up) == OK) {
                link_events++;
                link_state = up;
                continue;
            }
            return OK;
        }
        if (s != ERR_SHOULD_WAIT)
            return s;
        signals_t obs;
        if ((s = nb_object_wait_one(client, SIGNAL_READABLE, deadline, &obs)) != OK)
            return s;
    }
}

// Writes the request in m with a fresh txid and waits for its response
// (frames that arrive meanwhile are dropped).
static status_t call(struct nb_msg_in *m)
{
    struct nb_msg_header h;
    memcpy(&h, m->bytes, sizeof(h));
    uint32_t txid = h.txid = next_txid++;
    memcpy(m->bytes, &h, sizeof(h));
    struct nb_msg_out out = {.bytes = m->bytes, .nbytes = m->nbytes};
    status_t s = nb_channel_write(client, &out);
    uint64_t deadline = nb_deadline_after(WAIT_LIMIT);
    while (s == OK) {
        if ((s = read_msg(deadline, m, &h)) == OK && h.txid == txid)
            return OK;
    }
    return s;
}

static status_t send_frame(const void *frame, uint32_t len, status_t *st)
{
    struct nb_msg_in m = {.bytes = msg, .bytes_cap = sizeof(msg)};
    status_t s = ethernet_send_request_encode(&m, frame, len);
    if (s == OK && (s = call(&m)) == OK)
        s = ethernet_send_response_decode(&m, st);
    return s;
}

static void net_info(struct ktest *t)
{
    struct nb_msg_in m = {.bytes = msg, .bytes_cap = sizeof(msg)};
    ASSERT_OK(ethernet_get_info_request_encode(&m));
    ASSERT_OK(call(&m));
    status_t st;
    uint64_t mac64, dropped;
    uint32_t fmax, up;
    ASSERT_OK(ethernet_get_info_response_decode(&m, &st, &mac64, &fmax, &up, &dropped));
    ASSERT_OK(st);
    arp_mac_from_u64(mac64, mac);
    char s[18];
    arp_format_mac(mac, s);
    printf("# mac %s, frame_max %u, link %s, %llu dropped\n", s, fmax, up ? "up" : "down",
           (unsigned long long)dropped);
    EXPECT_EQ(mac64 >> 48, 0u);
    EXPECT_NE(mac64, 0u);
    EXPECT_FALSE(mac[0] & 1); // not multicast
    EXPECT_EQ(fmax, (uint32_t)ETHERNET_FRAME_MAX);
    EXPECT_EQ(up, 1u);
    // The driver announces the link once at start (read before the reply).
    EXPECT_EQ(link_events, 1u);
    EXPECT_EQ(link_state, 1u);
}

static void net_bad_send(struct ktest *t)
{
    status_t st;
    uint8_t small[ETHERNET_FRAME_MIN - 1] = {0};
    ASSERT_OK(send_frame(small, sizeof(small), &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
    ASSERT_OK(send_frame(small, 0, &st));
    EXPECT_STATUS(st, ERR_INVALID_ARGS);
}

// Sends a request for tip every second until a reply or the limit.
static status_t arp_roundtrip(uint32_t tip, struct arp_packet *reply, uint64_t *ns)
{
    uint64_t end = nb_deadline_after(ARP_LIMIT);
    while (nb_now() < end) {
        uint8_t frame[ARP_FRAME_BYTES];
        size_t n = arp_build_request(frame, sizeof(frame), mac, GUEST, tip);
        status_t st, s;
        while ((s = send_frame(frame, (uint32_t)n, &st)) == OK && st == ERR_SHOULD_WAIT &&
               nb_now() < end)
            nb_nanosleep(nb_deadline_after(NB_NSEC_PER_SEC / 100)); // the ring is full
        if (s != OK)
            return s;
        if (st != OK)
            return st;
        uint64_t t0 = nb_now(), until = t0 + NB_NSEC_PER_SEC;
        for (;;) {
            struct nb_msg_in m;
            struct nb_msg_header h;
            s = read_msg(until < end ? until : end, &m, &h);
            if (s == ERR_TIMED_OUT)
                break;
            if (s != OK)
                return s;
            const void *f;
            uint32_t len;
            if (h.ordinal == ETHERNET_FRAME_ORDINAL &&
                ethernet_frame_request_decode(&m, &f, &len) == OK && arp_parse(f, len, reply) &&
                arp_is_reply(reply, tip, mac)) {
                *ns = nb_now() - t0;
                return OK;
            }
        }
    }
    return ERR_TIMED_OUT;
}

static void net_arp_gateway(struct ktest *t)
{
    struct arp_packet p;
    uint64_t ns = 0;
    ASSERT_OK(arp_roundtrip(GATEWAY, &p, &ns));
    char s[18];
    arp_format_mac(p.sha, s);
    printf("# 10.0.2.2 is at %s (%llu us)\n", s, (unsigned long long)(ns / 1000));
    static const uint8_t slirp_gw[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
    EXPECT_TRUE(memcmp(p.sha, slirp_gw, 6) == 0);
    EXPECT_TRUE(memcmp(p.tha, mac, 6) == 0);
    EXPECT_EQ(p.tpa, GUEST);
    // A second round trip: the receive buffer was posted again.
    ASSERT_OK(arp_roundtrip(GATEWAY, &p, &ns));
}

// Many frames back to back: the transmit ring fills (ERR_SHOULD_WAIT is
// allowed) and drains; the link still answers afterwards.
static void net_tx_burst(struct ktest *t)
{
    uint32_t ok = 0, full = 0;
    for (int i = 0; i < 64; i++) {
        uint8_t frame[ARP_FRAME_BYTES];
        size_t n = arp_build_request(frame, sizeof(frame), mac, GUEST, 0x0a000263); // .99
        status_t st;
        ASSERT_OK(send_frame(frame, (uint32_t)n, &st));
        if (st == OK)
            ok++;
        else if (st == ERR_SHOULD_WAIT)
            full++;
        else
            EXPECT_OK(st);
    }
    printf("# 64 sends: %u queued, %u while the ring was full\n", ok, full);
    EXPECT_GE(ok, 1u);
    struct arp_packet p;
    uint64_t ns;
    EXPECT_OK(arp_roundtrip(GATEWAY, &p, &ns));
}

// /bin/arping over a duplicate of our channel; its output comes back on a
// channel. Returns its exit code, -1 when it could not run.
static int run_arping(const char **args, char *out, size_t cap)
{
    const void *elf;
    size_t elf_size;
    handle_t conn, mine, theirs, proc;
    out[0] = 0;
    if (nb_initrd_find(&initrd, "/bin/arping", &elf, &elf_size) != OK ||
        nb_handle_duplicate(client, RIGHT_SAME_RIGHTS, &conn) != OK)
        return -1;
    if (nb_channel_create(0, &mine, &theirs) != OK)
        return -1;
    const char *argv[8] = {"/bin/arping"};
    for (int i = 0; args[i] && i < 6; i++)
        argv[i + 1] = args[i];
    uint32_t roles[] = {BOOTSTRAP_ROLE_SERVICE, BOOTSTRAP_ROLE_STDOUT};
    handle_t hs[] = {conn, theirs};
    struct nb_spawn sp = {.name = "arping",
                          .elf = elf,
                          .elf_size = elf_size,
                          .argv = argv,
                          .roles = roles,
                          .handles = hs,
                          .nhandles = 2};
    if (nb_spawn(&sp, &proc) != OK) {
        nb_handle_close(mine);
        return -1;
    }
    size_t n = 0;
    for (;;) {
        signals_t obs;
        if (nb_object_wait_one(mine, SIGNAL_READABLE | SIGNAL_PEER_CLOSED,
                               nb_deadline_after(WAIT_LIMIT), &obs) != OK)
            break;
        struct nb_msg_in m = {.bytes = out + n, .bytes_cap = (uint32_t)(cap - 1 - n)};
        status_t s = nb_channel_read(mine, &m);
        if (s == ERR_SHOULD_WAIT)
            continue;
        if (s != OK)
            break;
        n += m.nbytes;
        if (n + 1 >= cap)
            break;
    }
    out[n] = 0;
    nb_handle_close(mine);
    struct nb_process_info info;
    status_t s = nb_process_wait(proc, nb_deadline_after(WAIT_LIMIT), &info);
    nb_handle_close(proc);
    for (const char *line = out; *line;) { // arping's output into the log
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        printf("# arping: %.*s\n", len, line);
        line += len + (nl ? 1 : 0);
    }
    return s == OK ? (int)info.exit_code : -1;
}

static void net_arping(struct ktest *t)
{
    static char out[4096];
    const char *ok[] = {"-c", "2", "-w", "10", "10.0.2.2", NULL};
    ASSERT_EQ(run_arping(ok, out, sizeof(out)), 0);
    EXPECT_NOT_NULL(strstr(out, "reply from 10.0.2.2 at 52:55:0a:00:02:02 in "));
    // Nobody has 10.0.2.99: no reply, exit 1.
    const char *none[] = {"-c", "1", "-w", "2", "10.0.2.99", NULL};
    EXPECT_EQ(run_arping(none, out, sizeof(out)), 1);
    EXPECT_NOT_NULL(strstr(out, "1 requests, 0 replies"));
    const char *bad[] = {"10.0.2", NULL};
    EXPECT_EQ(run_arping(bad, out, sizeof(out)), 2);
    const char *bad2[] = {"-c", "0", "10.0.2.2", NULL};
    EXPECT_EQ(run_arping(bad2, out, sizeof(out)), 2);
}

KTEST_SUITE(net, KTEST_CASE(net_info), KTEST_CASE(net_bad_send), KTEST_CASE(net_arp_gateway),
            KTEST_CASE(net_tx_burst), KTEST_CASE(net_arping));

// The driver's resources: given by init, or derived from root_resource.
static status_t resource(uint32_t role, uint32_t kind, uint64_t base, uint64_t size, handle_t *out)
{
    *out = nb_bootstrap_take(role);
    if (*out != HANDLE_INVALID)
        return OK;
    handle_t root = nb_bootstrap_peek(BOOTSTRAP_ROLE_ROOT_RESOURCE);
    if (root == HANDLE_INVALID)
        return ERR_NOT_FOUND;
    return nb_resource_create(root, kind, base, size, out);
}

static status_t start_driver(int argc, char **argv)
{
    uint64_t addr = 0, gsi = 0;
    const char *a_addr = NULL, *a_gsi = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--mmio"))
            addr = strtoull(a_addr = argv[i + 1], NULL, 0);
        if (!strcmp(argv[i], "--irq"))
            gsi = strtoull(a_gsi = argv[i + 1], NULL, 0);
    }
    if (!addr || !a_gsi) {
        fprintf(stderr, "nettest: usage: nettest --mmio ADDR --irq GSI\n");
        return ERR_INVALID_ARGS;
    }
    handle_t rdh = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    const void *elf;
    size_t elf_size;
    status_t s;
    if (rdh == HANDLE_INVALID || (s = nb_initrd_open(&initrd, rdh)) != OK ||
        (s = nb_initrd_find(&initrd, "/bin/virtio-net", &elf, &elf_size)) != OK) {
        fprintf(stderr, "nettest: no /bin/virtio-net in the initrd\n");
        return ERR_NOT_FOUND;
    }
    handle_t hs[5], theirs;
    uint32_t roles[5] = {BOOTSTRAP_ROLE_MMIO, BOOTSTRAP_ROLE_IRQ, BOOTSTRAP_ROLE_DMA,
                         BOOTSTRAP_ROLE_SERVICE, BOOTSTRAP_ROLE_LOG};
    uint32_t n = 4;
    if ((s = resource(BOOTSTRAP_ROLE_MMIO, NB_RESOURCE_MMIO, addr & ~0xfffull, 4096, &hs[0])) !=
            OK ||
        (s = resource(BOOTSTRAP_ROLE_IRQ, NB_RESOURCE_IRQ, gsi, 1, &hs[1])) != OK ||
        (s = resource(BOOTSTRAP_ROLE_DMA, NB_RESOURCE_DMA, 0, 0, &hs[2])) != OK) {
        fprintf(stderr, "nettest: no device resources (mmio, irq, dma or root_resource): %s\n",
                status_str(s));
        return s;
    }
    if ((s = nb_channel_create(0, &client, &theirs)) != OK)
        return s;
    hs[3] = theirs;
    handle_t log = nb_bootstrap_peek(BOOTSTRAP_ROLE_LOG);
    if (log != HANDLE_INVALID && nb_handle_duplicate(log, RIGHT_SAME_RIGHTS, &hs[4]) == OK)
        n = 5;
    const char *dargv[] = {"/bin/virtio-net", "--mmio", a_addr, "--irq", a_gsi, NULL};
    struct nb_spawn sp = {.name = "virtio-net",
                          .elf = elf,
                          .elf_size = elf_size,
                          .argv = dargv,
                          .roles = roles,
                          .handles = hs,
                          .nhandles = n};
    if ((s = nb_spawn(&sp, &driver)) != OK) {
        fprintf(stderr, "nettest: cannot start /bin/virtio-net: %s\n", status_str(s));
        return s;
    }
    return OK;
}

int main(int argc, char **argv)
{
    if (nb_bootstrap_load() != OK) {
        fputs("nettest: no bootstrap message\n", stderr);
        return 1;
    }
    if (start_driver(argc, argv) != OK)
        return 1;
    int failed = ktest_run(NULL);
    nb_handle_close(client);
    nb_task_kill(driver);
    return failed ? 1 : 0;
}
