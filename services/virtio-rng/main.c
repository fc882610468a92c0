// virtio-rng: feeds the kernel's entropy pool from a virtio entropy device
// (docs/VIRTIO.md). One request of RNG_CHUNK bytes at start, then one per
// interval; what the device returns goes to NB_SYS_ENTROPY_ADD.
//
//   virtio-rng (--mmio ADDR --irq GSI | --pci BUS:DEV.FN) [--interval MS] [--once]
//
// Roles: `entropy`, and those of vdrv.h (`mmio`, `irq` or `pci`, `dma`).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../virtio-common/vdrv.h"
#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/loop.h"
#include "nb/syscall.h"
#include "nb/time.h"

#define RNG_CHUNK   64
#define RNG_QUEUE   4
#define INTERVAL_MS 30000

static struct {
    struct vdrv v;
    struct nb_virtq q;
    struct vdrv_dma ring, buf;
    handle_t entropy;
    struct nb_loop loop;
    struct vdrv_irq irq;
    struct nb_loop_timer timer;
    uint64_t interval_ns;
    bool once, pending;
    uint64_t fed;
} rng;

static void request(void)
{
    if (rng.pending)
        return;
    struct nb_virtq_buf b = {rng.buf.pa, RNG_CHUNK};
    if (nb_virtq_add(&rng.q, &b, 0, 1, &rng) == OK) {
        rng.pending = true;
        nb_virtq_kick(&rng.q);
    }
}

static void harvest(void)
{
    void *cookie;
    uint32_t len;
    status_t s;
    while ((s = nb_virtq_get(&rng.q, &cookie, &len)) != ERR_SHOULD_WAIT) {
        if (s == ERR_BAD_STATE)
            return;
        if (cookie)
            rng.pending = false;
        if (s != OK) {
            nb_logf("virtio-rng: device error (%s); ignoring its reply", status_str(s));
            continue;
        }
        if (len == 0)
            continue;
        // Credit half the bits: the device is trusted, not blindly.
        status_t e = nb_entropy_add(rng.entropy, rng.buf.va, len, (uint64_t)len * 4);
        memset(rng.buf.va, 0, RNG_CHUNK);
        if (e != OK)
            nb_logf("virtio-rng: entropy add: %s", status_str(e));
        else if (rng.fed++ == 0)
            nb_logf("virtio-rng: first %u bytes fed to the entropy pool", len);
        if (rng.once)
            nb_loop_quit(&rng.loop);
    }
}

static void on_timer(struct nb_loop *loop, struct nb_loop_timer *t)
{
    request();
    nb_loop_timer_start(loop, t, nb_deadline_after(rng.interval_ns));
}

static int usage(const char *err)
{
    nb_logf("virtio-rng: %s", err);
    fprintf(stderr, "usage: virtio-rng (--mmio ADDR --irq GSI | --pci BUS:DEV.FN) [--interval MS] "
                    "[--once]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct vdrv_args a = {0};
    char err[128];
    uint64_t ms = INTERVAL_MS;
    for (int i = 1; i < argc; i++) {
        int r = vdrv_arg(&a, argc, argv, &i, err, sizeof(err));
        if (r < 0)
            return usage(err);
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--once")) {
            rng.once = true;
        } else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
            char *end;
            ms = strtoull(argv[++i], &end, 0);
            if (*end || ms < 10 || ms > 86400000)
                return usage("bad --interval (10 .. 86400000 ms)");
        } else {
            snprintf(err, sizeof(err), "unknown argument '%s'", argv[i]);
            return usage(err);
        }
    }
    if (!vdrv_args_ok(&a, err, sizeof(err)))
        return usage(err);
    rng.interval_ns = ms * 1000000ull;

    status_t s = vdrv_open(&rng.v, "virtio-rng", &a, VIRTIO_ID_RNG);
    if (s != OK)
        return 1;
    rng.entropy = nb_bootstrap_take(BOOTSTRAP_ROLE_ENTROPY);
    if (rng.entropy == HANDLE_INVALID) {
        nb_logf("virtio-rng: no 'entropy' handle");
        return 1;
    }
    if ((s = nb_virtio_negotiate(&rng.v.dev, 0)) != OK ||
        (s = vdrv_queue(&rng.v, &rng.q, 0, RNG_QUEUE, &rng.ring)) != OK ||
        (s = vdrv_dma_alloc(&rng.v, RNG_CHUNK, &rng.buf)) != OK) {
        nb_logf("virtio-rng: device setup: %s", status_str(s));
        nb_virtio_fail(&rng.v.dev);
        return 1;
    }
    nb_virtio_driver_ok(&rng.v.dev);
    if ((s = nb_loop_init(&rng.loop)) != OK ||
        (s = nb_loop_timer_init(&rng.timer, on_timer, NULL)) != OK)
        return 1;
    rng.irq = (struct vdrv_irq){.v = &rng.v, .loop = &rng.loop, .serve = harvest};
    if (vdrv_irq_start(&rng.irq) != OK)
        return 1;
    request();
    if (!rng.once)
        nb_loop_timer_start(&rng.loop, &rng.timer, nb_deadline_after(rng.interval_ns));
    nb_logf("virtio-rng: running (%s, every %llu ms)", rng.v.dev.tr->name, (unsigned long long)ms);
    s = nb_loop_run(&rng.loop, NB_DEADLINE_INFINITE);
    nb_virtio_reset(&rng.v.dev);
    return rng.once && s == OK ? 0 : 1;
}
