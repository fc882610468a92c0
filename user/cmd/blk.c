// blk: talks to a block driver (proto/block.nidl, docs/VIRTIO.md).
//
//   blk [-d N] info | read SECTOR [COUNT] | write SECTOR TEXT | flush
//
// The driver's channel comes as the `service` role (a connection speaking
// the block protocol: whoever started the driver hands one out with
// `connect`), or else through the device manager: with the `devices` role,
// blk asks devmgr to open block device N (class "blk", default 0).
// read hexdumps COUNT sectors (default 1, at most BLOCK_MAX_SECTORS); write
// puts TEXT at the start of SECTOR, the rest of the sector zeroed.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/device.h"
#include "nb/syscall.h"
#include "nb/transport.h"
#include "proto/block.h"

#define CALL_TIMEOUT (30ull * 1000000000ull)

static const char usage_text[] =
    "usage: blk [-d N] info | read SECTOR [COUNT] | write SECTOR TEXT | flush\n";

static struct nb_channel_transport ct;
static uint8_t tbuf[BLOCK_MAX_MSG_BYTES + 64];

static int fail(const char *what, status_t s)
{
    fprintf(stderr, "blk: %s: %s\n", what, status_str(s));
    return 1;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    *v = strtoull(s, &end, 0);
    return !*end;
}

static void hexdump(uint64_t base, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        printf("%08llx ", (unsigned long long)(base + i));
        for (size_t k = 0; k < 16; k++)
            printf(k == 8 ? "  %02x" : " %02x", p[i + k]);
        printf("  |");
        for (size_t k = 0; k < 16; k++)
            putchar(p[i + k] >= 0x20 && p[i + k] < 0x7f ? p[i + k] : '.');
        printf("|\n");
    }
}

static status_t attach(size_t bytes, handle_t *vmo)
{
    status_t st, s = nb_vmo_create(bytes, vmo);
    if (s != OK)
        return s;
    handle_t dup;
    if ((s = nb_handle_duplicate(*vmo, RIGHT_SAME_RIGHTS, &dup)) != OK)
        return s;
    s = block_attach_vmo(&ct.tr, dup, &st);
    return s != OK ? s : st;
}

// A connection to block device `index` through the device manager.
static handle_t open_device(uint32_t index)
{
    handle_t ch;
    status_t s = nb_device_open("blk", index, CALL_TIMEOUT, &ch);
    if (s == ERR_BAD_HANDLE)
        fputs("blk: no block driver (needs the `service` or the `devices` handle)\n", stderr);
    else if (s != OK)
        fprintf(stderr, "blk: cannot open block device %u: %s\n", index, status_str(s));
    return s == OK ? ch : HANDLE_INVALID;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        fputs(usage_text, stdout);
        puts("Talks to a block driver (the block protocol) through the `service` handle,\n"
             "or opens block device N (default 0) through the device manager (`devices`).");
        return 0;
    }
    uint64_t devno = 0;
    bool have_devno = false;
    if (argc >= 3 && !strcmp(argv[1], "-d")) {
        if (!parse_u64(argv[2], &devno) || devno > UINT32_MAX) {
            fputs(usage_text, stderr);
            return 2;
        }
        have_devno = true;
        argv += 2;
        argc -= 2;
    }
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    uint64_t sector = 0, count = 1;
    bool ok = (!strcmp(cmd, "info") && argc == 2) || (!strcmp(cmd, "flush") && argc == 2) ||
              (!strcmp(cmd, "read") && (argc == 3 || argc == 4)) ||
              (!strcmp(cmd, "write") && argc == 4);
    if (ok && argc >= 3)
        ok = parse_u64(argv[2], &sector);
    if (ok && !strcmp(cmd, "read") && argc == 4)
        ok = parse_u64(argv[3], &count) && count >= 1 && count <= BLOCK_MAX_SECTORS;
    if (ok && !strcmp(cmd, "write"))
        ok = strlen(argv[3]) <= BLOCK_SECTOR_SIZE;
    if (!ok) {
        fputs(usage_text, stderr);
        return 2;
    }
    handle_t ch = have_devno ? HANDLE_INVALID : nb_bootstrap_take(BOOTSTRAP_ROLE_SERVICE);
    if (ch == HANDLE_INVALID)
        ch = open_device((uint32_t)devno);
    if (ch == HANDLE_INVALID)
        return 1;
    nb_channel_transport_init(&ct, ch, tbuf, sizeof(tbuf));
    ct.timeout_ns = CALL_TIMEOUT;

    status_t s, st;
    if (!strcmp(cmd, "info")) {
        uint64_t sectors;
        uint32_t bs, flags, maxr;
        if ((s = block_get_info(&ct.tr, &st, &sectors, &bs, &flags, &maxr)) != OK || st != OK)
            return fail("info", s != OK ? s : st);
        printf("sectors %llu (%llu KiB)\nblock size %u\nread-only %s\nflush %s\ndiscard "
               "%s\nrequests in flight %u\n",
               (unsigned long long)sectors, (unsigned long long)sectors / 2, bs,
               flags & BLOCK_FLAG_READ_ONLY ? "yes" : "no", flags & BLOCK_FLAG_FLUSH ? "yes" : "no",
               flags & BLOCK_FLAG_DISCARD ? "yes" : "no", maxr);
        return 0;
    }
    if (!strcmp(cmd, "flush")) {
        if ((s = block_flush(&ct.tr, &st)) != OK || st != OK)
            return fail("flush", s != OK ? s : st);
        return 0;
    }
    size_t bytes = (size_t)count * BLOCK_SECTOR_SIZE;
    handle_t vmo;
    if ((s = attach(bytes, &vmo)) != OK)
        return fail("attach", s);
    if (!strcmp(cmd, "read")) {
        if ((s = block_read(&ct.tr, sector, (uint32_t)count, 0, &st)) != OK || st != OK)
            return fail("read", s != OK ? s : st);
        uint8_t *buf = malloc(bytes);
        if (!buf || (s = nb_vmo_read(vmo, buf, 0, bytes)) != OK)
            return fail("read", buf ? s : ERR_NO_MEMORY);
        hexdump(sector * BLOCK_SECTOR_SIZE, buf, bytes);
        free(buf);
        return 0;
    }
    uint8_t sec[BLOCK_SECTOR_SIZE] = {0};
    memcpy(sec, argv[3], strlen(argv[3]));
    if ((s = nb_vmo_write(vmo, sec, 0, sizeof(sec))) != OK)
        return fail("write", s);
    if ((s = block_write(&ct.tr, sector, 1, 0, &st)) != OK || st != OK)
        return fail("write", s != OK ? s : st);
    return 0;
}
