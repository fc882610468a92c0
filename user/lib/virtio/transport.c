// libvirtio transports: register regions, virtio-mmio version 2, virtio-pci
// modern, and the device status handshake (docs/VIRTIO.md).
#include <string.h>

#include "nb/virtio.h"

// ---- Regions.
static uint32_t mmio_read(void *ctx, uint32_t off, unsigned width)
{
    volatile uint8_t *p = (volatile uint8_t *)ctx + off;
    switch (width) {
    case 1:
        return *p;
    case 2:
        return *(volatile uint16_t *)p;
    default:
        return *(volatile uint32_t *)p;
    }
}

static void mmio_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
    volatile uint8_t *p = (volatile uint8_t *)ctx + off;
    switch (width) {
    case 1:
        *p = (uint8_t)val;
        break;
    case 2:
        *(volatile uint16_t *)p = (uint16_t)val;
        break;
    default:
        *(volatile uint32_t *)p = val;
        break;
    }
}

void nb_vio_region_mmio(struct nb_vio_region *r, volatile void *base, uint32_t size)
{
    r->ctx = (void *)(uintptr_t)base;
    r->read = mmio_read;
    r->write = mmio_write;
    r->size = size;
}

static bool region_ok(const struct nb_vio_region *r, uint32_t off, unsigned width)
{
    return r->read && (width == 1 || width == 2 || width == 4) && (off & (width - 1)) == 0 &&
           off < r->size && r->size - off >= width;
}

uint32_t nb_vio_read(const struct nb_vio_region *r, uint32_t off, unsigned width)
{
    return region_ok(r, off, width) ? r->read(r->ctx, off, width) : 0;
}

void nb_vio_write(const struct nb_vio_region *r, uint32_t off, unsigned width, uint32_t val)
{
    if (region_ok(r, off, width))
        r->write(r->ctx, off, width, val);
}

void nb_vio_mb(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void nb_vio_rmb(void)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

void nb_vio_wmb(void)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

// ---- virtio-mmio, version 2.
static uint8_t mmio_get_status(struct nb_virtio_dev *d)
{
    return (uint8_t)nb_vio_read(&d->regs, VIRTIO_MMIO_STATUS, 4);
}

static void mmio_set_status(struct nb_virtio_dev *d, uint8_t s)
{
    nb_vio_write(&d->regs, VIRTIO_MMIO_STATUS, 4, s);
}

static uint64_t mmio_get_features(struct nb_virtio_dev *d)
{
    uint64_t f = 0;
    for (uint32_t i = 0; i < 2; i++) {
        nb_vio_write(&d->regs, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, i);
        f |= (uint64_t)nb_vio_read(&d->regs, VIRTIO_MMIO_DEVICE_FEATURES, 4) << (32 * i);
    }
    return f;
}

static void mmio_set_features(struct nb_virtio_dev *d, uint64_t f)
{
    for (uint32_t i = 0; i < 2; i++) {
        nb_vio_write(&d->regs, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, i);
        nb_vio_write(&d->regs, VIRTIO_MMIO_DRIVER_FEATURES, 4, (uint32_t)(f >> (32 * i)));
    }
}

static uint32_t mmio_config_generation(struct nb_virtio_dev *d)
{
    return nb_vio_read(&d->regs, VIRTIO_MMIO_CONFIG_GENERATION, 4);
}

static uint16_t mmio_queue_max(struct nb_virtio_dev *d, uint16_t index)
{
    nb_vio_write(&d->regs, VIRTIO_MMIO_QUEUE_SEL, 4, index);
    if (nb_vio_read(&d->regs, VIRTIO_MMIO_QUEUE_READY, 4))
        return 0; // in use already
    uint32_t max = nb_vio_read(&d->regs, VIRTIO_MMIO_QUEUE_NUM_MAX, 4);
    return (uint16_t)(max > VIRTQ_MAX_SIZE ? VIRTQ_MAX_SIZE : max);
}

static void write64(const struct nb_vio_region *r, uint32_t lo, uint32_t hi, uint64_t v)
{
    nb_vio_write(r, lo, 4, (uint32_t)v);
    nb_vio_write(r, hi, 4, (uint32_t)(v >> 32));
}

static status_t mmio_queue_enable(struct nb_virtio_dev *d, uint16_t index, uint16_t size,
                                  uint64_t desc, uint64_t avail, uint64_t used)
{
    const struct nb_vio_region *r = &d->regs;
    nb_vio_write(r, VIRTIO_MMIO_QUEUE_SEL, 4, index);
    nb_vio_write(r, VIRTIO_MMIO_QUEUE_NUM, 4, size);
    write64(r, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH, desc);
    write64(r, VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, avail);
    write64(r, VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, used);
    nb_vio_write(r, VIRTIO_MMIO_QUEUE_READY, 4, 1);
    return nb_vio_read(r, VIRTIO_MMIO_QUEUE_READY, 4) == 1 ? OK : ERR_IO;
}

static void mmio_notify(struct nb_virtio_dev *d, uint16_t index)
{
    nb_vio_write(&d->regs, VIRTIO_MMIO_QUEUE_NOTIFY, 4, index);
}

static uint32_t mmio_isr(struct nb_virtio_dev *d)
{
    uint32_t s = nb_vio_read(&d->regs, VIRTIO_MMIO_INTERRUPT_STATUS, 4);
    if (s)
        nb_vio_write(&d->regs, VIRTIO_MMIO_INTERRUPT_ACK, 4, s);
    return s;
}

static const struct nb_virtio_transport mmio_transport = {
    .name = "virtio-mmio",
    .get_status = mmio_get_status,
    .set_status = mmio_set_status,
    .get_features = mmio_get_features,
    .set_features = mmio_set_features,
    .config_generation = mmio_config_generation,
    .queue_max = mmio_queue_max,
    .queue_enable = mmio_queue_enable,
    .notify = mmio_notify,
    .isr = mmio_isr,
};

status_t nb_virtio_mmio_init(struct nb_virtio_dev *d, const struct nb_vio_region *regs)
{
    if (!d || !regs || !regs->read || regs->size < VIRTIO_MMIO_CONFIG)
        return ERR_INVALID_ARGS;
    memset(d, 0, sizeof(*d));
    d->regs = *regs;
    if (nb_vio_read(regs, VIRTIO_MMIO_MAGIC, 4) != VIRTIO_MMIO_MAGIC_VALUE)
        return ERR_NOT_FOUND;
    if (nb_vio_read(regs, VIRTIO_MMIO_VERSION, 4) != 2)
        return ERR_NOT_SUPPORTED;
    d->device_id = nb_vio_read(regs, VIRTIO_MMIO_DEVICE_ID, 4);
    if (d->device_id == 0)
        return ERR_NOT_FOUND; // a placeholder slot without a device
    d->tr = &mmio_transport;
    d->config = *regs;
    d->config_base = VIRTIO_MMIO_CONFIG;
    return OK;
}

// ---- virtio-pci modern.
static uint8_t pci_get_status(struct nb_virtio_dev *d)
{
    return (uint8_t)nb_vio_read(&d->regs, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void pci_set_status(struct nb_virtio_dev *d, uint8_t s)
{
    nb_vio_write(&d->regs, VIRTIO_PCI_COMMON_STATUS, 1, s);
}

static uint64_t pci_get_features(struct nb_virtio_dev *d)
{
    uint64_t f = 0;
    for (uint32_t i = 0; i < 2; i++) {
        nb_vio_write(&d->regs, VIRTIO_PCI_COMMON_DFSELECT, 4, i);
        f |= (uint64_t)nb_vio_read(&d->regs, VIRTIO_PCI_COMMON_DF, 4) << (32 * i);
    }
    return f;
}

static void pci_set_features(struct nb_virtio_dev *d, uint64_t f)
{
    for (uint32_t i = 0; i < 2; i++) {
        nb_vio_write(&d->regs, VIRTIO_PCI_COMMON_GFSELECT, 4, i);
        nb_vio_write(&d->regs, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(f >> (32 * i)));
    }
}

static uint32_t pci_config_generation(struct nb_virtio_dev *d)
{
    return nb_vio_read(&d->regs, VIRTIO_PCI_COMMON_CFGGEN, 1);
}

static uint16_t pci_queue_max(struct nb_virtio_dev *d, uint16_t index)
{
    if (index >= nb_vio_read(&d->regs, VIRTIO_PCI_COMMON_NUMQ, 2))
        return 0;
    nb_vio_write(&d->regs, VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    if (nb_vio_read(&d->regs, VIRTIO_PCI_COMMON_Q_ENABLE, 2))
        return 0;
    uint32_t max = nb_vio_read(&d->regs, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    return (uint16_t)(max > VIRTQ_MAX_SIZE ? VIRTQ_MAX_SIZE : max);
}

static status_t pci_queue_enable(struct nb_virtio_dev *d, uint16_t index, uint16_t size,
                                 uint64_t desc, uint64_t avail, uint64_t used)
{
    const struct nb_vio_region *r = &d->regs;
    nb_vio_write(r, VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    nb_vio_write(r, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
    write64(r, VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_DESCHI, desc);
    write64(r, VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_AVAILHI, avail);
    write64(r, VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_PCI_COMMON_Q_USEDHI, used);
    nb_vio_write(r, VIRTIO_PCI_COMMON_Q_MSIX, 2, d->msix_vector);
    if (nb_vio_read(r, VIRTIO_PCI_COMMON_Q_MSIX, 2) != d->msix_vector)
        return ERR_NO_RESOURCES; // the device could not take the vector
    nb_vio_write(r, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    return nb_vio_read(r, VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 1 ? OK : ERR_IO;
}

static void pci_notify(struct nb_virtio_dev *d, uint16_t index)
{
    nb_vio_write(&d->regs, VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    uint32_t off = nb_vio_read(&d->regs, VIRTIO_PCI_COMMON_Q_NOFF, 2);
    uint64_t at = (uint64_t)off * d->notify_mult;
    if (at <= UINT32_MAX)
        nb_vio_write(&d->notify, (uint32_t)at, 2, index);
}

static uint32_t pci_isr(struct nb_virtio_dev *d)
{
    return nb_vio_read(&d->isr_reg, 0, 1); // reading acknowledges
}

static const struct nb_virtio_transport pci_transport = {
    .name = "virtio-pci",
    .get_status = pci_get_status,
    .set_status = pci_set_status,
    .get_features = pci_get_features,
    .set_features = pci_set_features,
    .config_generation = pci_config_generation,
    .queue_max = pci_queue_max,
    .queue_enable = pci_queue_enable,
    .notify = pci_notify,
    .isr = pci_isr,
};

#define PCI_STATUS      0x06
#define PCI_STATUS_CAPS 0x10
#define PCI_CAP_PTR     0x34
#define PCI_CAP_VENDOR  0x09
#define PCI_MAX_CAPS    48 // 192 bytes of capability space / 4

struct pci_cap {
    bool found;
    uint8_t bar;
    uint32_t offset, length;
};

status_t nb_virtio_pci_init(struct nb_virtio_dev *d, const struct nb_virtio_pci_access *pci)
{
    if (!d || !pci || !pci->cfg_read || !pci->map_bar)
        return ERR_INVALID_ARGS;
    memset(d, 0, sizeof(*d));
    uint32_t id, status, ptr;
    status_t s = pci->cfg_read(pci->ctx, 0, 4, &id);
    if (s != OK)
        return s;
    if ((id & 0xffff) != VIRTIO_PCI_VENDOR)
        return ERR_NOT_FOUND;
    uint32_t dev = id >> 16;
    if (dev >= 0x1041 && dev <= 0x107f)
        d->device_id = dev - 0x1040;
    else if (dev >= 0x1000 && dev <= 0x103f)
        d->device_id = 0; // transitional: the subsystem id names the device
    else
        return ERR_NOT_FOUND;
    if (d->device_id == 0) {
        uint32_t sub;
        if ((s = pci->cfg_read(pci->ctx, 0x2c, 4, &sub)) != OK)
            return s;
        d->device_id = sub >> 16;
    }
    if ((s = pci->cfg_read(pci->ctx, PCI_STATUS, 2, &status)) != OK)
        return s;
    if (!(status & PCI_STATUS_CAPS))
        return ERR_NOT_SUPPORTED;
    if ((s = pci->cfg_read(pci->ctx, PCI_CAP_PTR, 1, &ptr)) != OK)
        return s;

    struct pci_cap caps[5] = {0};
    uint32_t mult = 0;
    for (unsigned n = 0; n < PCI_MAX_CAPS && (ptr &= 0xfc) >= 0x40; n++) {
        uint32_t hdr, bar, off, len;
        if ((s = pci->cfg_read(pci->ctx, ptr, 4, &hdr)) != OK)
            return s;
        uint8_t type = (uint8_t)(hdr >> 24), clen = (uint8_t)(hdr >> 16);
        if ((hdr & 0xff) == PCI_CAP_VENDOR && clen >= 16 && ptr + 16 <= 256 && type >= 1 &&
            type <= 4 && !caps[type].found) {
            if ((s = pci->cfg_read(pci->ctx, ptr + 4, 1, &bar)) != OK ||
                (s = pci->cfg_read(pci->ctx, ptr + 8, 4, &off)) != OK ||
                (s = pci->cfg_read(pci->ctx, ptr + 12, 4, &len)) != OK)
                return s;
            bool ok = bar <= 5;
            if (ok && type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
                ok = clen >= 20 && ptr + 20 <= 256 &&
                     pci->cfg_read(pci->ctx, ptr + 16, 4, &mult) == OK;
            }
            if (ok)
                caps[type] = (struct pci_cap){true, (uint8_t)bar, off, len};
        }
        ptr = (hdr >> 8) & 0xff;
    }
    static const uint32_t min_len[5] = {0, 0x38, 2, 1, 0};
    for (unsigned t = 1; t <= 4; t++) {
        if (t != VIRTIO_PCI_CAP_DEVICE_CFG && (!caps[t].found || caps[t].length < min_len[t]))
            return ERR_NOT_SUPPORTED;
    }
    struct nb_vio_region *dst[5] = {NULL, &d->regs, &d->notify, &d->isr_reg, &d->config};
    for (unsigned t = 1; t <= 4; t++) {
        if (!caps[t].found)
            continue;
        if ((s = pci->map_bar(pci->ctx, caps[t].bar, caps[t].offset, caps[t].length, dst[t])) != OK)
            return s;
    }
    d->notify_mult = mult;
    d->msix_vector = 0xffff;
    d->config_base = 0;
    d->tr = &pci_transport;
    return OK;
}

// ---- Status handshake and feature negotiation.
void nb_virtio_reset(struct nb_virtio_dev *d)
{
    d->tr->set_status(d, 0);
    // The device finishes its reset when status reads 0 again.
    for (int i = 0; i < 1000000 && d->tr->get_status(d) != 0; i++)
        __asm__ volatile("" ::: "memory");
}

void nb_virtio_fail(struct nb_virtio_dev *d)
{
    d->tr->set_status(d, d->tr->get_status(d) | VIRTIO_STATUS_FAILED);
}

status_t nb_virtio_negotiate(struct nb_virtio_dev *d, uint64_t wanted)
{
    if (!d || !d->tr)
        return ERR_INVALID_ARGS;
    nb_virtio_reset(d);
    if (d->tr->get_status(d) != 0)
        return ERR_TIMED_OUT;
    d->tr->set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
    d->tr->set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint64_t offered = d->tr->get_features(d);
    if (!(offered >> VIRTIO_F_VERSION_1 & 1)) {
        nb_virtio_fail(d);
        return ERR_NOT_SUPPORTED;
    }
    uint64_t want = wanted | 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX;
    d->features = offered & want;
    d->tr->set_features(d, d->features);
    uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    d->tr->set_status(d, st);
    if (!(d->tr->get_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
        nb_virtio_fail(d);
        return ERR_NOT_SUPPORTED;
    }
    return OK;
}

void nb_virtio_driver_ok(struct nb_virtio_dev *d)
{
    d->tr->set_status(d, d->tr->get_status(d) | VIRTIO_STATUS_DRIVER_OK);
}

uint32_t nb_virtio_isr(struct nb_virtio_dev *d)
{
    return d->tr->isr(d);
}

static uint64_t config_raw(struct nb_virtio_dev *d, uint32_t off, unsigned width)
{
    uint32_t at = d->config_base + off;
    if (width == 8)
        return nb_vio_read(&d->config, at, 4) | (uint64_t)nb_vio_read(&d->config, at + 4, 4) << 32;
    return nb_vio_read(&d->config, at, width);
}

uint64_t nb_virtio_config_read(struct nb_virtio_dev *d, uint32_t off, unsigned width)
{
    uint64_t v = 0;
    for (int tries = 0; tries < 100; tries++) {
        uint32_t gen = d->tr->config_generation(d);
        v = config_raw(d, off, width);
        if (d->tr->config_generation(d) == gen)
            break;
    }
    return v;
}

void nb_virtio_config_write(struct nb_virtio_dev *d, uint32_t off, unsigned width, uint32_t val)
{
    nb_vio_write(&d->config, d->config_base + off, width, val);
}
