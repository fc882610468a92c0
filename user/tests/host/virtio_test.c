// libvirtio against a fake device: a virtio-mmio version 2 register file
// (and a virtio-pci modern function built on the same state) that consumes
// and produces split rings in host memory, where "physical" addresses are
// host addresses. The device echoes each chain's readable bytes into its
// writable buffers, or misbehaves on request (bad used ids, lengths beyond
// the buffers, an id returned twice, a runaway used index, a scribbled
// descriptor table).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/virtio.h"

enum fake_bug {
    BUG_NONE,
    REVERSE,
    BUG_BAD_ID,
    BUG_BIG_LEN,
    BUG_ID_TWICE,
    BUG_RUNAWAY,
    BUG_SCRIBBLE
};

struct fake_queue {
    uint32_t num, ready;
    uint64_t desc, avail, used;
    uint16_t last_avail, used_idx;
};

struct fake {
    uint32_t magic, version, device_id;
    uint64_t features, driver_features;
    uint32_t dfsel, gfsel, status, qsel, isr, cfg_gen, cfg_bump;
    bool refuse_features_ok;
    struct fake_queue q[2];
    uint16_t qmax;
    uint8_t config[16];
    bool auto_run;
    enum fake_bug bug;
    unsigned notifies, processed, status_writes;
    uint8_t status_log[8];
    bool walk_error; // a chain longer than the queue or a bad address
};

static void set64(uint64_t *v, bool high, uint32_t x)
{
    *v = high ? (*v & 0xffffffffu) | (uint64_t)x << 32 : (*v & ~0xffffffffull) | x;
}

static void fake_process(struct fake *f, unsigned qi)
{
    struct fake_queue *q = &f->q[qi];
    if (!q->ready || !q->num)
        return;
    struct nb_virtq_desc *desc = (struct nb_virtq_desc *)(uintptr_t)q->desc;
    volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)q->avail;
    volatile uint16_t *used = (volatile uint16_t *)(uintptr_t)q->used;
    volatile struct nb_virtq_used_elem *ring = (volatile struct nb_virtq_used_elem *)(used + 2);
    uint16_t first_used = q->used_idx;
    while (q->last_avail != avail[1]) {
        uint16_t head = avail[2 + q->last_avail % q->num];
        q->last_avail++;
        uint8_t data[256];
        size_t have = 0;
        uint32_t wrote = 0;
        uint16_t i = head;
        for (uint32_t steps = 0;; steps++) {
            if (i >= q->num || steps >= q->num) {
                f->walk_error = true;
                break;
            }
            struct nb_virtq_desc *d = &desc[i];
            uint8_t *buf = (uint8_t *)(uintptr_t)d->addr;
            if (d->flags & VIRTQ_DESC_F_WRITE) {
                for (uint32_t k = 0; k < d->len; k++)
                    buf[k] = have ? data[(wrote + k) % have] : 0x5a;
                wrote += d->len;
            } else {
                for (uint32_t k = 0; k < d->len && have < sizeof(data); k++)
                    data[have++] = buf[k];
            }
            if (!(d->flags & VIRTQ_DESC_F_NEXT))
                break;
            i = d->next;
        }
        uint32_t id = head, len = wrote;
        if (f->bug == BUG_BAD_ID)
            id = q->num + 7;
        if (f->bug == BUG_BIG_LEN)
            len = wrote + 4096;
        ring[q->used_idx % q->num].id = id;
        ring[q->used_idx % q->num].len = len;
        q->used_idx++;
        if (f->bug == BUG_ID_TWICE) {
            ring[q->used_idx % q->num].id = id;
            ring[q->used_idx % q->num].len = len;
            q->used_idx++;
        }
        used[1] = q->used_idx;
        f->processed++;
    }
    if (f->bug == REVERSE) { // complete out of order: newest first
        uint16_t n = (uint16_t)(q->used_idx - first_used);
        for (uint16_t k = 0; k < n / 2; k++) {
            struct nb_virtq_used_elem a = ring[(uint16_t)(first_used + k) % q->num];
            struct nb_virtq_used_elem b = ring[(uint16_t)(first_used + n - 1 - k) % q->num];
            ring[(uint16_t)(first_used + k) % q->num].id = b.id;
            ring[(uint16_t)(first_used + k) % q->num].len = b.len;
            ring[(uint16_t)(first_used + n - 1 - k) % q->num].id = a.id;
            ring[(uint16_t)(first_used + n - 1 - k) % q->num].len = a.len;
        }
    }
    if (f->bug == BUG_SCRIBBLE) // after the device read them all
        memset(desc, 0xff, q->num * sizeof(*desc));
    if (f->bug == BUG_RUNAWAY)
        used[1] = (uint16_t)(q->used_idx + 100);
    *(volatile uint16_t *)(used + 2 + 4 * q->num) = q->last_avail; // avail_event
    f->isr |= NB_VIRTIO_ISR_QUEUE;
}

static uint32_t fake_read(void *ctx, uint32_t off, unsigned width)
{
    struct fake *f = ctx;
    struct fake_queue *q = &f->q[f->qsel < 2 ? f->qsel : 0];
    bool qok = f->qsel < 2;
    if (off >= VIRTIO_MMIO_CONFIG) {
        uint32_t at = off - VIRTIO_MMIO_CONFIG, v = 0;
        if (f->cfg_bump) {
            f->cfg_bump--;
            f->cfg_gen++;
        }
        for (unsigned k = 0; k < width && at + k < sizeof(f->config); k++)
            v |= (uint32_t)f->config[at + k] << (8 * k);
        return v;
    }
    switch (off) {
    case VIRTIO_MMIO_MAGIC:
        return f->magic;
    case VIRTIO_MMIO_VERSION:
        return f->version;
    case VIRTIO_MMIO_DEVICE_ID:
        return f->device_id;
    case VIRTIO_MMIO_VENDOR_ID:
        return 0x554d4551;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        return f->dfsel < 2 ? (uint32_t)(f->features >> (32 * f->dfsel)) : 0;
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return qok ? f->qmax : 0;
    case VIRTIO_MMIO_QUEUE_READY:
        return qok ? q->ready : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS:
        return f->isr;
    case VIRTIO_MMIO_STATUS:
        return f->status;
    case VIRTIO_MMIO_CONFIG_GENERATION:
        return f->cfg_gen;
    }
    return 0;
}

static void fake_status(struct fake *f, uint32_t v)
{
    if (f->status_writes < sizeof(f->status_log))
        f->status_log[f->status_writes] = (uint8_t)v;
    f->status_writes++;
    if (v == 0) {
        struct fake_queue zero = {0};
        f->q[0] = f->q[1] = zero;
        f->driver_features = 0;
        f->isr = 0;
    }
    if ((v & VIRTIO_STATUS_FEATURES_OK) && f->refuse_features_ok)
        v &= ~VIRTIO_STATUS_FEATURES_OK;
    f->status = v;
}

static void fake_write(void *ctx, uint32_t off, unsigned width, uint32_t v)
{
    struct fake *f = ctx;
    (void)width;
    struct fake_queue *q = &f->q[f->qsel < 2 ? f->qsel : 0];
    bool qok = f->qsel < 2;
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        f->dfsel = v;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        f->gfsel = v;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        if (f->gfsel < 2) {
            f->driver_features &= ~(0xffffffffull << (32 * f->gfsel));
            f->driver_features |= (uint64_t)v << (32 * f->gfsel);
        }
        break;
    case VIRTIO_MMIO_QUEUE_SEL:
        f->qsel = v;
        break;
    case VIRTIO_MMIO_QUEUE_NUM:
        if (qok)
            q->num = v;
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        if (qok)
            q->ready = v;
        break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        if (qok)
            set64(&q->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
        break;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        if (qok)
            set64(&q->avail, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
        break;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        if (qok)
            set64(&q->used, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
        break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
        f->notifies++;
        if (f->auto_run && v < 2)
            fake_process(f, v);
        break;
    case VIRTIO_MMIO_INTERRUPT_ACK:
        f->isr &= ~v;
        break;
    case VIRTIO_MMIO_STATUS:
        fake_status(f, v);
        break;
    }
}

static void fake_init(struct fake *f, struct nb_vio_region *r)
{
    memset(f, 0, sizeof(*f));
    f->magic = VIRTIO_MMIO_MAGIC_VALUE;
    f->version = 2;
    f->device_id = VIRTIO_ID_RNG;
    f->features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX | 1ull << 5;
    f->qmax = 16;
    f->auto_run = true;
    for (unsigned i = 0; i < sizeof(f->config); i++)
        f->config[i] = (uint8_t)(0x10 + i);
    r->ctx = f;
    r->read = fake_read;
    r->write = fake_write;
    r->size = 0x200;
}

static void virtio_mmio_probe(struct ktest *t)
{
    struct fake f;
    struct nb_vio_region r;
    struct nb_virtio_dev d;
    fake_init(&f, &r);
    f.magic = 0x12345678;
    EXPECT_STATUS(nb_virtio_mmio_init(&d, &r), ERR_NOT_FOUND);
    fake_init(&f, &r);
    f.version = 1; // legacy
    EXPECT_STATUS(nb_virtio_mmio_init(&d, &r), ERR_NOT_SUPPORTED);
    fake_init(&f, &r);
    f.device_id = 0; // an empty slot
    EXPECT_STATUS(nb_virtio_mmio_init(&d, &r), ERR_NOT_FOUND);
    fake_init(&f, &r);
    r.size = 0x40; // too small a mapping
    EXPECT_STATUS(nb_virtio_mmio_init(&d, &r), ERR_INVALID_ARGS);
    fake_init(&f, &r);
    ASSERT_OK(nb_virtio_mmio_init(&d, &r));
    EXPECT_EQ(d.device_id, (uint32_t)VIRTIO_ID_RNG);
    // Device configuration: bytes little-endian, 8-byte fields in halves,
    // retried while the generation moves.
    EXPECT_EQ(nb_virtio_config_read(&d, 0, 1), 0x10u);
    EXPECT_EQ(nb_virtio_config_read(&d, 2, 2), 0x1312u);
    EXPECT_EQ(nb_virtio_config_read(&d, 4, 8), 0x1b1a191817161514ull);
    f.cfg_bump = 2;
    EXPECT_EQ(nb_virtio_config_read(&d, 0, 4), 0x13121110u);
    EXPECT_EQ(f.cfg_bump, 0u);
    // Reads past the region are 0, not out of bounds.
    EXPECT_EQ(nb_vio_read(&r, 0x200, 4), 0u);
    EXPECT_EQ(nb_vio_read(&r, 0x1fe, 4), 0u);
    EXPECT_EQ(nb_vio_read(&r, 0x101, 4), 0u); // misaligned
}

static void virtio_negotiate(struct ktest *t)
{
    struct fake f;
    struct nb_vio_region r;
    struct nb_virtio_dev d;
    fake_init(&f, &r);
    ASSERT_OK(nb_virtio_mmio_init(&d, &r));
    f.status = VIRTIO_STATUS_DRIVER_OK; // left over from a previous driver
    ASSERT_OK(nb_virtio_negotiate(&d, 1ull << 5 | 1ull << 7));
    EXPECT_EQ(d.features, f.features); // bit 7 not offered
    EXPECT_EQ(f.driver_features, f.features);
    EXPECT_TRUE(nb_virtio_has(&d, VIRTIO_F_EVENT_IDX));
    ASSERT_GE(f.status_writes, 4u);
    EXPECT_EQ(f.status_log[0], 0);
    EXPECT_EQ(f.status_log[1], VIRTIO_STATUS_ACKNOWLEDGE);
    EXPECT_EQ(f.status_log[2], VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    EXPECT_EQ(f.status_log[3],
              VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    EXPECT_FALSE(f.status & VIRTIO_STATUS_DRIVER_OK);
    nb_virtio_driver_ok(&d);
    EXPECT_TRUE(f.status & VIRTIO_STATUS_DRIVER_OK);

    // Not wanted, not taken (EVENT_IDX is always taken when offered).
    ASSERT_OK(nb_virtio_negotiate(&d, 0));
    EXPECT_EQ(d.features, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX);

    // A legacy-only device, and one refusing the features.
    f.features = 1ull << 5;
    EXPECT_STATUS(nb_virtio_negotiate(&d, 1ull << 5), ERR_NOT_SUPPORTED);
    EXPECT_TRUE(f.status & VIRTIO_STATUS_FAILED);
    f.features = 1ull << VIRTIO_F_VERSION_1;
    f.refuse_features_ok = true;
    EXPECT_STATUS(nb_virtio_negotiate(&d, 0), ERR_NOT_SUPPORTED);
    EXPECT_TRUE(f.status & VIRTIO_STATUS_FAILED);
}

struct setup {
    struct fake f;
    struct nb_vio_region r;
    struct nb_virtio_dev d;
    struct nb_virtq q;
    void *mem;
};

static bool setup(struct ktest *t, struct setup *s, uint64_t features, uint16_t size)
{
    fake_init(&s->f, &s->r);
    s->f.features = features;
    s->mem = NULL;
    if (nb_virtio_mmio_init(&s->d, &s->r) != OK || nb_virtio_negotiate(&s->d, 0) != OK) {
        KTEST_FAIL_(t, "device setup");
        return false;
    }
    size_t bytes = nb_virtq_mem_size(size);
    s->mem = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
    status_t st = nb_virtq_init(&s->q, &s->d, 0, size, s->mem, (uint64_t)(uintptr_t)s->mem);
    if (st != OK) {
        KTEST_FAIL_(t, "nb_virtq_init: %d", st);
        free(s->mem);
        s->mem = NULL;
        return false;
    }
    nb_virtio_driver_ok(&s->d);
    return true;
}

static void teardown(struct setup *s)
{
    if (s->mem) {
        nb_virtq_destroy(&s->q);
        free(s->mem);
    }
}

static struct nb_virtq_buf buf(void *p, uint32_t len)
{
    return (struct nb_virtq_buf){(uint64_t)(uintptr_t)p, len};
}

static void virtq_setup_errors(struct ktest *t)
{
    struct setup s;
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1, 8));
    EXPECT_EQ(s.f.q[0].num, 8u);
    EXPECT_EQ(s.f.q[0].ready, 1u);
    EXPECT_EQ(s.f.q[0].desc, (uint64_t)(uintptr_t)s.mem);
    EXPECT_EQ(s.f.q[0].avail, s.f.q[0].desc + 8 * 16);
    EXPECT_EQ(s.f.q[0].used % 4, 0u);
    EXPECT_GE(s.f.q[0].used, s.f.q[0].avail + 2 * (3 + 8));
    EXPECT_LE(s.f.q[0].used + 6 + 8 * 8, s.f.q[0].desc + nb_virtq_mem_size(8));
    struct nb_virtq q2;
    static uint8_t mem[4096] __attribute__((aligned(16)));
    uint64_t pa = (uint64_t)(uintptr_t)mem;
    EXPECT_STATUS(nb_virtq_init(&q2, &s.d, 0, 8, mem, pa), ERR_NOT_FOUND);    // in use
    EXPECT_STATUS(nb_virtq_init(&q2, &s.d, 1, 6, mem, pa), ERR_INVALID_ARGS); // not 2^n
    EXPECT_STATUS(nb_virtq_init(&q2, &s.d, 1, 0, mem, pa), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_virtq_init(&q2, &s.d, 1, 32, mem, pa), ERR_OUT_OF_RANGE); // > max 16
    EXPECT_STATUS(nb_virtq_init(&q2, &s.d, 1, 8, mem, pa + 8), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_virtq_init(&q2, &s.d, 5, 8, mem, pa), ERR_NOT_FOUND); // no such queue
    uint8_t b[4];
    struct nb_virtq_buf bad[2] = {buf(b, 4), buf(b, 0)};
    EXPECT_STATUS(nb_virtq_add(&s.q, bad, 1, 1, NULL), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_virtq_add(&s.q, bad, 0, 0, NULL), ERR_INVALID_ARGS);
    struct nb_virtq_buf many[9];
    for (int i = 0; i < 9; i++)
        many[i] = buf(b, 4);
    EXPECT_STATUS(nb_virtq_add(&s.q, many, 9, 0, NULL), ERR_INVALID_ARGS);
    EXPECT_EQ(s.q.num_free, 8);
    teardown(&s);
}

// Chains of one to three descriptors, echoed; the queue fills, drains and
// its 16-bit indexes wrap.
static void virtq_echo(struct ktest *t)
{
    struct setup s;
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1, 8));
    s.f.auto_run = false;
    char out[3][8], in[3][16];
    int cookies[3];
    for (unsigned round = 0; round < 70000; round++) {
        unsigned n = 0;
        // Two chains: (out, in, in) and (out, in).
        snprintf(out[0], sizeof(out[0]), "r%u", round % 1000);
        memset(in, 0, sizeof(in));
        struct nb_virtq_buf a[3] = {buf(out[0], 4), buf(in[0], 3), buf(in[1], 5)};
        struct nb_virtq_buf b[2] = {buf(out[1], 2), buf(in[2], 6)};
        memcpy(out[1], "xy", 2);
        if (nb_virtq_add(&s.q, a, 1, 2, &cookies[0]) == OK)
            n++;
        if (nb_virtq_add(&s.q, b, 1, 1, &cookies[1]) == OK)
            n++;
        if (n != 2) {
            KTEST_FAIL_(t, "round %u: add failed", round);
            break;
        }
        EXPECT_EQ(s.q.num_free, 3);
        struct nb_virtq_buf c[4] = {buf(in[0], 1), buf(in[0], 1), buf(in[0], 1), buf(in[0], 1)};
        if (round == 0)
            EXPECT_STATUS(nb_virtq_add(&s.q, c, 0, 4, NULL), ERR_SHOULD_WAIT);
        nb_virtq_kick(&s.q);
        fake_process(&s.f, 0);
        void *ck;
        uint32_t len;
        status_t st = nb_virtq_get(&s.q, &ck, &len);
        if (st != OK || ck != &cookies[0] || len != 8 || memcmp(in[0], out[0], 3) ||
            memcmp(in[1], out[0] + 3, 1) || in[1][1] != out[0][0]) {
            KTEST_FAIL_(t, "round %u: first chain %d len %u", round, st, len);
            break;
        }
        st = nb_virtq_get(&s.q, &ck, &len);
        if (st != OK || ck != &cookies[1] || len != 6 || memcmp(in[2], "xyxyxy", 6)) {
            KTEST_FAIL_(t, "round %u: second chain %d len %u", round, st, len);
            break;
        }
        if (nb_virtq_get(&s.q, &ck, &len) != ERR_SHOULD_WAIT) {
            KTEST_FAIL_(t, "round %u: extra entry", round);
            break;
        }
        if (s.q.num_free != 8)
            break;
    }
    EXPECT_EQ(s.q.num_free, 8);
    EXPECT_EQ(s.q.device_errors, 0u);
    EXPECT_FALSE(s.f.walk_error);
    EXPECT_EQ(s.f.processed, 140000u);
    EXPECT_EQ(s.q.avail_idx, (uint16_t)140000);
    teardown(&s);
}

// With EVENT_IDX the device asks for a notification at one avail index;
// without it, the used ring's NO_NOTIFY flag stops them.
static void virtq_notify_suppression(struct ktest *t)
{
    struct setup s;
    uint8_t o[4] = {1, 2, 3, 4}, in[4];
    struct nb_virtq_buf b[2] = {buf(o, 4), buf(in, 4)};
    void *ck;
    uint32_t len;
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX, 8));
    ASSERT_TRUE(s.q.event_idx);
    s.f.auto_run = false;
    EXPECT_FALSE(nb_virtq_kick(&s.q)); // nothing new
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, NULL));
    EXPECT_TRUE(nb_virtq_kick(&s.q)); // avail_event 0: the device wants index 0 -> 1
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, NULL));
    EXPECT_FALSE(nb_virtq_kick(&s.q)); // it has not caught up: no new wish
    EXPECT_EQ(s.f.notifies, 1u);
    fake_process(&s.f, 0); // avail_event = 2
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, NULL));
    EXPECT_TRUE(nb_virtq_kick(&s.q));
    EXPECT_EQ(s.f.notifies, 2u);
    // The driver's side: used_event follows what it consumed.
    EXPECT_OK(nb_virtq_get(&s.q, &ck, &len));
    EXPECT_EQ(*s.q.used_event, 1);
    nb_virtq_disable_cb(&s.q);
    EXPECT_OK(nb_virtq_get(&s.q, &ck, &len));
    EXPECT_EQ(*s.q.used_event, 1); // not while disabled
    EXPECT_FALSE(nb_virtq_enable_cb(&s.q));
    EXPECT_EQ(*s.q.used_event, 2);
    fake_process(&s.f, 0);
    nb_virtq_disable_cb(&s.q);
    EXPECT_TRUE(nb_virtq_enable_cb(&s.q)); // work arrived: process before waiting
    EXPECT_EQ(s.q.notifications, 2u);
    teardown(&s);

    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1, 8));
    ASSERT_FALSE(s.q.event_idx);
    s.f.auto_run = false;
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, NULL));
    EXPECT_TRUE(nb_virtq_kick(&s.q));
    s.q.used[0] = VIRTQ_USED_F_NO_NOTIFY;
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, NULL));
    EXPECT_FALSE(nb_virtq_kick(&s.q));
    s.q.used[0] = 0;
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, NULL));
    EXPECT_TRUE(nb_virtq_kick(&s.q));
    EXPECT_EQ(s.f.notifies, 2u);
    nb_virtq_disable_cb(&s.q);
    EXPECT_EQ(s.q.avail[0], VIRTQ_AVAIL_F_NO_INTERRUPT);
    EXPECT_FALSE(nb_virtq_enable_cb(&s.q));
    EXPECT_EQ(s.q.avail[0], 0);
    teardown(&s);
}

// A malicious device: every bad entry is reported, counted and survived;
// the free list stays whole.
static void virtq_bad_device(struct ktest *t)
{
    struct setup s;
    uint8_t o[4] = {1, 2, 3, 4}, in[8];
    struct nb_virtq_buf b[2] = {buf(o, 4), buf(in, 8)};
    int cookie;
    void *ck;
    uint32_t len;

    // A used id beyond the queue: skipped, the chain stays the device's.
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1, 8));
    s.f.bug = BUG_BAD_ID;
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, &cookie));
    nb_virtq_kick(&s.q);
    EXPECT_STATUS(nb_virtq_get(&s.q, &ck, &len), ERR_IO_DATA_INTEGRITY);
    EXPECT_NULL(ck);
    EXPECT_EQ(s.q.device_errors, 1u);
    EXPECT_EQ(s.q.num_free, 6);
    EXPECT_STATUS(nb_virtq_get(&s.q, &ck, &len), ERR_SHOULD_WAIT);
    teardown(&s);

    // A length beyond the writable buffers: completed, clamped, reported.
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1, 8));
    s.f.bug = BUG_BIG_LEN;
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, &cookie));
    nb_virtq_kick(&s.q);
    EXPECT_STATUS(nb_virtq_get(&s.q, &ck, &len), ERR_IO_DATA_INTEGRITY);
    EXPECT_TRUE(ck == &cookie);
    EXPECT_EQ(len, 8u);
    EXPECT_EQ(s.q.num_free, 8);
    EXPECT_EQ(s.q.device_errors, 1u);
    teardown(&s);

    // An id returned twice: the second is refused, nothing freed twice.
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1, 8));
    s.f.auto_run = false;
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, &cookie));
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, &cookie));
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, &cookie));
    s.f.bug = BUG_ID_TWICE;
    s.f.q[0].last_avail = 2; // the device only looks at the third chain
    nb_virtq_kick(&s.q);
    fake_process(&s.f, 0);
    EXPECT_OK(nb_virtq_get(&s.q, &ck, &len));
    EXPECT_STATUS(nb_virtq_get(&s.q, &ck, &len), ERR_IO_DATA_INTEGRITY);
    EXPECT_NULL(ck);
    EXPECT_EQ(s.q.num_free, 4);
    EXPECT_EQ(s.q.device_errors, 1u);
    // The queue still works: fill what is free, nothing overlaps.
    s.f.bug = BUG_NONE;
    int n = 0;
    while (nb_virtq_add(&s.q, b, 1, 1, &cookie) == OK)
        n++;
    EXPECT_EQ(n, 2);
    teardown(&s);

    // The device scribbles over the descriptor table: the driver's own
    // chain links keep the free list intact.
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1, 8));
    s.f.bug = BUG_SCRIBBLE;
    for (int round = 0; round < 20; round++) {
        struct nb_virtq_buf c[3] = {buf(o, 4), buf(in, 4), buf(in + 4, 4)};
        ASSERT_OK(nb_virtq_add(&s.q, c, 1, 2, &cookie));
        ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, &cookie));
        nb_virtq_kick(&s.q);
        EXPECT_OK(nb_virtq_get(&s.q, &ck, &len));
        EXPECT_OK(nb_virtq_get(&s.q, &ck, &len));
        EXPECT_EQ(s.q.num_free, 8);
    }
    EXPECT_FALSE(s.f.walk_error);
    EXPECT_EQ(s.q.device_errors, 0u);
    teardown(&s);

    // A used index far ahead of what was queued breaks the queue.
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1, 8));
    s.f.bug = BUG_RUNAWAY;
    ASSERT_OK(nb_virtq_add(&s.q, b, 1, 1, &cookie));
    nb_virtq_kick(&s.q);
    EXPECT_STATUS(nb_virtq_get(&s.q, &ck, &len), ERR_IO_DATA_INTEGRITY);
    EXPECT_TRUE(s.q.broken);
    EXPECT_STATUS(nb_virtq_get(&s.q, &ck, &len), ERR_BAD_STATE);
    EXPECT_STATUS(nb_virtq_add(&s.q, b, 1, 1, &cookie), ERR_BAD_STATE);
    teardown(&s);
}

// Block-style requests (header out, data in or out, status in) completed
// newest first, in batches of varying size: every cookie comes back once,
// with the right length, and the free list ends whole.
static void virtq_out_of_order(struct ktest *t)
{
    struct setup s;
    ASSERT_TRUE(setup(t, &s, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX, 16));
    s.f.auto_run = false;
    s.f.bug = REVERSE;
    static uint8_t hdr[5][16], data[5][64], status[5];
    unsigned done = 0;
    for (unsigned round = 0; round < 3000; round++) {
        unsigned n = 1 + round % 5; // 3 descriptors each: 5 fit in 16
        for (unsigned r = 0; r < n; r++) {
            memset(hdr[r], (int)(round + r), sizeof(hdr[r]));
            struct nb_virtq_buf b[3] = {buf(hdr[r], 16), buf(data[r], 16 + 8 * r),
                                        buf(&status[r], 1)};
            if (nb_virtq_add(&s.q, b, 1, 2, &status[r]) != OK) {
                KTEST_FAIL_(t, "round %u: add %u failed", round, r);
                teardown(&s);
                return;
            }
        }
        nb_virtq_kick(&s.q);
        fake_process(&s.f, 0);
        bool seen[5] = {0};
        void *ck;
        uint32_t len;
        for (unsigned r = 0; r < n; r++) {
            if (nb_virtq_get(&s.q, &ck, &len) != OK) {
                KTEST_FAIL_(t, "round %u: get %u failed", round, r);
                teardown(&s);
                return;
            }
            unsigned which = (unsigned)((uint8_t *)ck - status);
            EXPECT_EQ(which, n - 1 - r); // newest first
            if (which < 5) {
                EXPECT_FALSE(seen[which]);
                seen[which] = true;
                EXPECT_EQ(len, 16 + 8 * which + 1);
            }
            done++;
        }
        EXPECT_EQ(s.q.num_free, 16);
    }
    EXPECT_EQ(done, 9000u);
    EXPECT_EQ(s.q.device_errors, 0u);
    EXPECT_FALSE(s.f.walk_error);
    teardown(&s);
}

// ---- virtio-pci: configuration space with vendor capabilities, BARs
// routed to the same fake state (common configuration layout).
struct fake_pci {
    uint8_t cfg[256];
    struct fake f;
    uint8_t maps; // bitmask of cap types mapped
    uint32_t notify_at;
};

static status_t fp_cfg_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
    struct fake_pci *p = ctx;
    if (off + width > 256)
        return ERR_OUT_OF_RANGE;
    uint32_t v = 0;
    for (unsigned k = 0; k < width; k++)
        v |= (uint32_t)p->cfg[off + k] << (8 * k);
    *val = v;
    return OK;
}

static uint32_t common_read(void *ctx, uint32_t off, unsigned width)
{
    struct fake *f = ctx;
    (void)width;
    struct fake_queue *q = &f->q[f->qsel < 2 ? f->qsel : 0];
    switch (off) {
    case VIRTIO_PCI_COMMON_DF:
        return f->dfsel < 2 ? (uint32_t)(f->features >> (32 * f->dfsel)) : 0;
    case VIRTIO_PCI_COMMON_NUMQ:
        return 2;
    case VIRTIO_PCI_COMMON_STATUS:
        return f->status;
    case VIRTIO_PCI_COMMON_CFGGEN:
        return f->cfg_gen;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        return q->num ? q->num : f->qmax;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        return q->ready;
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return f->qsel * 3;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        return 0xffff;
    }
    return 0;
}

static void common_write(void *ctx, uint32_t off, unsigned width, uint32_t v)
{
    struct fake *f = ctx;
    static const struct {
        uint32_t pci, mmio;
    } map[] = {
        {VIRTIO_PCI_COMMON_DFSELECT, VIRTIO_MMIO_DEVICE_FEATURES_SEL},
        {VIRTIO_PCI_COMMON_GFSELECT, VIRTIO_MMIO_DRIVER_FEATURES_SEL},
        {VIRTIO_PCI_COMMON_GF, VIRTIO_MMIO_DRIVER_FEATURES},
        {VIRTIO_PCI_COMMON_STATUS, VIRTIO_MMIO_STATUS},
        {VIRTIO_PCI_COMMON_Q_SELECT, VIRTIO_MMIO_QUEUE_SEL},
        {VIRTIO_PCI_COMMON_Q_SIZE, VIRTIO_MMIO_QUEUE_NUM},
        {VIRTIO_PCI_COMMON_Q_ENABLE, VIRTIO_MMIO_QUEUE_READY},
        {VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_MMIO_QUEUE_DESC_LOW},
        {VIRTIO_PCI_COMMON_Q_DESCHI, VIRTIO_MMIO_QUEUE_DESC_HIGH},
        {VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_MMIO_QUEUE_DRIVER_LOW},
        {VIRTIO_PCI_COMMON_Q_AVAILHI, VIRTIO_MMIO_QUEUE_DRIVER_HIGH},
        {VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_MMIO_QUEUE_DEVICE_LOW},
        {VIRTIO_PCI_COMMON_Q_USEDHI, VIRTIO_MMIO_QUEUE_DEVICE_HIGH},
    };
    for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].pci == off)
            fake_write(f, map[i].mmio, width, v);
}

static uint32_t notify_read(void *ctx, uint32_t off, unsigned width)
{
    (void)ctx, (void)off, (void)width;
    return 0;
}

static void notify_write(void *ctx, uint32_t off, unsigned width, uint32_t v)
{
    struct fake_pci *p = ctx;
    (void)width;
    p->notify_at = off;
    fake_write(&p->f, VIRTIO_MMIO_QUEUE_NOTIFY, 4, v);
}

static uint32_t isr_read(void *ctx, uint32_t off, unsigned width)
{
    struct fake *f = ctx;
    (void)off, (void)width;
    uint32_t v = f->isr;
    f->isr = 0;
    return v;
}

static uint32_t devcfg_read(void *ctx, uint32_t off, unsigned width)
{
    return fake_read(ctx, VIRTIO_MMIO_CONFIG + off, width);
}

static status_t fp_map_bar(void *ctx, uint8_t bar, uint32_t offset, uint32_t length,
                           struct nb_vio_region *out)
{
    struct fake_pci *p = ctx;
    if (bar != 4)
        return ERR_INVALID_ARGS;
    unsigned type = offset / 0x1000 + 1;
    p->maps |= (uint8_t)(1u << type);
    out->size = length;
    out->ctx = &p->f;
    out->write = common_write;
    switch (type) {
    case VIRTIO_PCI_CAP_COMMON_CFG:
        out->read = common_read;
        break;
    case VIRTIO_PCI_CAP_NOTIFY_CFG:
        out->ctx = p;
        out->read = notify_read;
        out->write = notify_write;
        break;
    case VIRTIO_PCI_CAP_ISR_CFG:
        out->read = isr_read;
        break;
    default:
        out->read = devcfg_read;
        break;
    }
    return OK;
}

static void put(uint8_t *cfg, uint32_t off, unsigned width, uint32_t v)
{
    for (unsigned k = 0; k < width; k++)
        cfg[off + k] = (uint8_t)(v >> (8 * k));
}

static void fake_pci_init(struct fake_pci *p, bool loop)
{
    struct nb_vio_region unused;
    memset(p, 0, sizeof(*p));
    fake_init(&p->f, &unused);
    p->f.device_id = VIRTIO_ID_BLOCK;
    put(p->cfg, 0, 2, VIRTIO_PCI_VENDOR);
    put(p->cfg, 2, 2, 0x1040 + VIRTIO_ID_BLOCK);
    put(p->cfg, 6, 2, 0x10);
    put(p->cfg, 0x34, 1, 0x40);
    // An MSI-X capability first, then the four virtio structures in BAR 4
    // at 0x1000 * (type - 1).
    put(p->cfg, 0x40, 1, 0x11);
    put(p->cfg, 0x41, 1, 0x50);
    uint8_t at = 0x50;
    for (unsigned type = 1; type <= 4; type++) {
        uint8_t next = type < 4 ? (uint8_t)(at + 0x14) : (loop ? 0x40 : 0);
        put(p->cfg, at, 1, 0x09);
        put(p->cfg, at + 1, 1, next);
        put(p->cfg, at + 2, 1, type == 2 ? 20 : 16);
        put(p->cfg, at + 3, 1, type);
        put(p->cfg, at + 4, 1, 4);
        put(p->cfg, at + 8, 4, 0x1000 * (type - 1));
        put(p->cfg, at + 12, 4, 0x100);
        if (type == 2)
            put(p->cfg, at + 16, 4, 4); // notify_off_multiplier
        at = (uint8_t)(at + 0x14);
    }
}

static void virtio_pci_modern(struct ktest *t)
{
    struct fake_pci p;
    struct nb_virtio_dev d;
    struct nb_virtio_pci_access acc = {&p, fp_cfg_read, fp_map_bar};
    fake_pci_init(&p, false);
    ASSERT_OK(nb_virtio_pci_init(&d, &acc));
    EXPECT_EQ(d.device_id, (uint32_t)VIRTIO_ID_BLOCK);
    EXPECT_EQ(p.maps, 0x1e);
    EXPECT_EQ(d.notify_mult, 4u);
    ASSERT_OK(nb_virtio_negotiate(&d, 0));
    EXPECT_EQ(p.f.driver_features, p.f.features & ~(1ull << 5));
    EXPECT_EQ(nb_virtio_config_read(&d, 0, 4), 0x13121110u);

    // A queue through the common configuration; queue 1 notifies at
    // queue_notify_off (3) * multiplier (4).
    static uint8_t mem[8192] __attribute__((aligned(4096)));
    struct nb_virtq q;
    ASSERT_OK(nb_virtq_init(&q, &d, 1, 8, mem, (uint64_t)(uintptr_t)mem));
    nb_virtio_driver_ok(&d);
    EXPECT_TRUE(p.f.status & VIRTIO_STATUS_DRIVER_OK);
    uint8_t o[2] = {7, 9}, in[4];
    struct nb_virtq_buf b[2] = {buf(o, 2), buf(in, 4)};
    ASSERT_OK(nb_virtq_add(&q, b, 1, 1, &p));
    EXPECT_TRUE(nb_virtq_kick(&q));
    EXPECT_EQ(p.notify_at, 12u);
    EXPECT_EQ(nb_virtio_isr(&d), NB_VIRTIO_ISR_QUEUE);
    EXPECT_EQ(nb_virtio_isr(&d), 0u);
    void *ck;
    uint32_t len;
    EXPECT_OK(nb_virtq_get(&q, &ck, &len));
    EXPECT_TRUE(ck == &p);
    EXPECT_EQ(len, 4u);
    EXPECT_EQ(in[0] + in[1] * 256 + in[2] * 65536 + in[3] * 16777216, 0x09070907);
    nb_virtq_destroy(&q);

    // A looping capability list ends; missing structures are refused.
    fake_pci_init(&p, true);
    EXPECT_OK(nb_virtio_pci_init(&d, &acc));
    fake_pci_init(&p, false);
    put(p.cfg, 0x50 + 3, 1, 5); // common configuration becomes a PCI cfg window
    EXPECT_STATUS(nb_virtio_pci_init(&d, &acc), ERR_NOT_SUPPORTED);
    fake_pci_init(&p, false);
    put(p.cfg, 0x50 + 0x14 + 4, 1, 9); // notify in BAR 9
    EXPECT_STATUS(nb_virtio_pci_init(&d, &acc), ERR_NOT_SUPPORTED);
    fake_pci_init(&p, false);
    put(p.cfg, 6, 2, 0); // no capability list
    EXPECT_STATUS(nb_virtio_pci_init(&d, &acc), ERR_NOT_SUPPORTED);
    fake_pci_init(&p, false);
    put(p.cfg, 0, 2, 0x8086);
    EXPECT_STATUS(nb_virtio_pci_init(&d, &acc), ERR_NOT_FOUND);
}

KTEST_SUITE(virtio, KTEST_CASE(virtio_mmio_probe), KTEST_CASE(virtio_negotiate),
            KTEST_CASE(virtq_setup_errors), KTEST_CASE(virtq_echo),
            KTEST_CASE(virtq_notify_suppression), KTEST_CASE(virtq_bad_device),
            KTEST_CASE(virtq_out_of_order), KTEST_CASE(virtio_pci_modern));
