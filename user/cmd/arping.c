// arping: ARP requests through a network driver (proto/ethernet.nidl,
// docs/VIRTIO.md "arping").
//
//   arping [-c COUNT] [-d N] [-s SRC_IP] [-w SECONDS] TARGET_IP
//
// Sends COUNT (default 3) broadcast "who has TARGET_IP" requests from the
// driver's MAC and SRC_IP (default 10.0.2.15, QEMU user networking's
// guest address), one at a time: the next goes out after a reply or after
// a second. Prints each reply as `reply from IP at MAC in T ms`. Stops
// after SECONDS (default 5) in all. The driver's channel is the `service`
// handle, or else (or with -d N) a connection to network device N (default
// 0) opened through the device manager (the `devices` handle). Exit 0 when
// a reply came, 1 without one (or on failure), 2 on bad usage.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/arp.h"
#include "nb/bootstrap.h"
#include "nb/device.h"
#include "nb/syscall.h"
#include "nb/time.h"
#include "proto/ethernet.h"

#define INTERVAL_NS (1000ull * 1000 * 1000)
#define INFO_TXID   1u

#define OPEN_TIMEOUT_NS (30ull * 1000 * 1000 * 1000)

static const char usage_text[] =
    "usage: arping [-c COUNT] [-d N] [-s SRC_IP] [-w SECONDS] TARGET_IP\n";

static handle_t ch = HANDLE_INVALID;
static uint8_t mac[6];
static uint8_t msg[ETHERNET_MAX_MSG_BYTES];

static bool parse_count(const char *s, unsigned long max, unsigned long *v)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return false;
    *v = strtoul(s, &end, 10);
    return !*end && *v >= 1 && *v <= max;
}

// A device index, 0 .. 1023.
static bool parse_index(const char *s, unsigned long *v)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return false;
    *v = strtoul(s, &end, 10);
    return !*end && *v < 1024;
}

static status_t write_msg(struct nb_msg_in *m, uint32_t txid)
{
    struct nb_msg_header h;
    memcpy(&h, m->bytes, sizeof(h));
    h.txid = txid;
    memcpy(m->bytes, &h, sizeof(h));
    struct nb_msg_out out = {.bytes = m->bytes, .nbytes = m->nbytes};
    return nb_channel_write(ch, &out);
}

// Reads one message by the deadline into msg: OK, ERR_TIMED_OUT, or an
// error (the driver went away).
static status_t read_msg(uint64_t deadline, struct nb_msg_in *m, struct nb_msg_header *h)
{
    for (;;) {
        *m = (struct nb_msg_in){.bytes = msg, .bytes_cap = sizeof(msg)};
        status_t s = nb_channel_read(ch, m);
        if (s == OK) {
            if (m->nbytes < sizeof(*h))
                continue;
            memcpy(h, msg, sizeof(*h));
            return OK;
        }
        if (s != ERR_SHOULD_WAIT)
            return s;
        signals_t obs;
        s = nb_object_wait_one(ch, SIGNAL_READABLE | SIGNAL_PEER_CLOSED, deadline, &obs);
        if (s != OK)
            return s;
        if (!(obs & SIGNAL_READABLE) && (obs & SIGNAL_PEER_CLOSED))
            return ERR_PEER_CLOSED;
    }
}

static int fail(const char *what, status_t s)
{
    fprintf(stderr, "arping: %s: %s\n", what, status_str(s));
    return 1;
}

int main(int argc, char **argv)
{
    unsigned long count = 3, seconds = 5, devno = 0;
    bool have_devno = false;
    uint32_t sip = 0x0a00020f, tip = 0;
    const char *target = NULL;
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        fputs(usage_text, stdout);
        puts("Sends ARP requests for TARGET_IP through the network driver on the `service`\n"
             "handle, or network device N (default 0) opened through the device manager\n"
             "(`devices`), and prints the replies. -c: requests (default 3), -d: device,\n"
             "-s: sender address (default 10.0.2.15), -w: give up after SECONDS (default 5).\n"
             "Exit 0 when a reply came, 1 without one.");
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool opt = a[0] == '-' && a[1] && !a[2] && strchr("cdsw", a[1]);
        if (opt && i + 1 < argc) {
            const char *v = argv[++i];
            bool ok = a[1] == 'c'   ? parse_count(v, 1000000, &count)
                      : a[1] == 'w' ? parse_count(v, 86400, &seconds)
                      : a[1] == 'd' ? parse_index(v, &devno)
                                    : arp_parse_ipv4(v, &sip);
            have_devno = have_devno || a[1] == 'd';
            if (!ok) {
                fprintf(stderr, "arping: bad value '%s' for %s\n", v, a);
                fputs(usage_text, stderr);
                return 2;
            }
        } else if (!target && a[0] != '-') {
            target = a;
        } else {
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (!target || !arp_parse_ipv4(target, &tip)) {
        if (target)
            fprintf(stderr, "arping: bad address '%s'\n", target);
        fputs(usage_text, stderr);
        return 2;
    }
    ch = have_devno ? HANDLE_INVALID : nb_bootstrap_take(BOOTSTRAP_ROLE_SERVICE);
    if (ch == HANDLE_INVALID) {
        status_t s = nb_device_open("net", (uint32_t)devno, OPEN_TIMEOUT_NS, &ch);
        if (s == ERR_BAD_HANDLE) {
            fputs("arping: no network driver (needs the `service` or the `devices` handle)\n",
                  stderr);
            return 1;
        }
        if (s != OK) {
            fprintf(stderr, "arping: cannot open network device %lu: %s\n", devno, status_str(s));
            return 1;
        }
    }
    uint64_t end = nb_deadline_after(seconds * 1000000000ull);
    struct nb_msg_in m = {.bytes = msg, .bytes_cap = sizeof(msg)};
    struct nb_msg_header h;
    status_t s = ethernet_get_info_request_encode(&m);
    if (s != OK || (s = write_msg(&m, INFO_TXID)) != OK)
        return fail("get_info", s);
    for (;;) { // skip events until the answer
        if ((s = read_msg(end, &m, &h)) != OK)
            return fail("get_info", s);
        if (h.txid != INFO_TXID)
            continue;
        status_t st;
        uint64_t mac64, dropped;
        uint32_t fmax, up, offloads;
        if ((s = ethernet_get_info_response_decode(&m, &st, &mac64, &fmax, &up, &dropped,
                                                   &offloads)) != OK ||
            (s = st) != OK)
            return fail("get_info", s);
        arp_mac_from_u64(mac64, mac);
        if (!up)
            fputs("arping: the link is down\n", stderr);
        break;
    }
    char tbuf[16], sbuf[16], mbuf[18];
    arp_format_ipv4(tip, tbuf);
    arp_format_ipv4(sip, sbuf);
    arp_format_mac(mac, mbuf);
    printf("ARPING %s from %s %s\n", tbuf, sbuf, mbuf);
    unsigned long sent = 0, replies = 0;
    while (sent < count && nb_now() < end) {
        uint8_t frame[ARP_FRAME_BYTES];
        size_t n = arp_build_request(frame, sizeof(frame), mac, sip, tip);
        m = (struct nb_msg_in){.bytes = msg, .bytes_cap = sizeof(msg)};
        if ((s = ethernet_send_request_encode(&m, ETHERNET_CSUM_NONE, 0, frame, (uint32_t)n)) !=
                OK ||
            (s = write_msg(&m, 0x100 + (uint32_t)(sent & 0xffff))) != OK)
            return fail("send", s);
        uint64_t t0 = nb_now();
        sent++;
        uint64_t until = t0 + INTERVAL_NS < end ? t0 + INTERVAL_NS : end;
        bool got = false;
        while (!got) {
            s = read_msg(until, &m, &h);
            if (s == ERR_TIMED_OUT)
                break;
            if (s != OK)
                return fail("receive", s);
            if (h.ordinal == ETHERNET_SEND_ORDINAL && h.txid) {
                status_t st;
                if (ethernet_send_response_decode(&m, &st) == OK && st != OK)
                    fprintf(stderr, "arping: send: %s\n", status_str(st));
                continue;
            }
            const void *f;
            uint32_t flen, flags;
            uint16_t cstart, coff;
            struct arp_packet p;
            if (h.ordinal != ETHERNET_FRAME_ORDINAL || h.txid ||
                ethernet_frame_request_decode(&m, &flags, &cstart, &coff, &f, &flen) != OK ||
                !arp_parse(f, flen, &p) || !arp_is_reply(&p, tip, mac))
                continue;
            uint64_t us = (nb_now() - t0) / 1000;
            arp_format_mac(p.sha, mbuf);
            printf("reply from %s at %s in %llu.%llu ms\n", tbuf, mbuf,
                   (unsigned long long)(us / 1000), (unsigned long long)(us % 1000 / 100));
            replies++;
            got = true;
        }
    }
    printf("%lu requests, %lu replies\n", sent, replies);
    return replies ? 0 : 1;
}
