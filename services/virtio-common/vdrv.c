// Shared glue of the virtio driver services (vdrv.h).
#include "vdrv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/syscall.h"
#include "nimbus/resource.h"

#define PAGE 4096u

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s)
        return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end)
        return false;
    *out = v;
    return true;
}

// [SEG:]BUS:DEV.FN in hex.
static bool parse_pci(const char *s, uint32_t *id)
{
    unsigned a, b, c, d;
    char tail;
    if (sscanf(s, "%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4) {
        if (a > 0xff || b > 0xff || c > 31 || d > 7)
            return false;
        *id = NB_PCI_ID(a, b, c, d);
        return true;
    }
    if (sscanf(s, "%x:%x.%x%c", &b, &c, &d, &tail) == 3) {
        if (b > 0xff || c > 31 || d > 7)
            return false;
        *id = NB_PCI_ID(0, b, c, d);
        return true;
    }
    return false;
}

int vdrv_arg(struct vdrv_args *a, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *opt = argv[*i];
    bool has_val = *i + 1 < argc;
    const char *val = has_val ? argv[*i + 1] : NULL;
    if (!strcmp(opt, "--irq-level")) {
        a->irq_level = true;
        return 1;
    }
    if (strcmp(opt, "--mmio") && strcmp(opt, "--irq") && strcmp(opt, "--pci"))
        return 0;
    if (!has_val) {
        snprintf(err, errlen, "%s needs a value", opt);
        return -1;
    }
    (*i)++;
    if (!strcmp(opt, "--mmio")) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", val);
        char *colon = strchr(buf, ':');
        uint64_t size = 0x200;
        if (colon)
            *colon = 0;
        if (!parse_u64(buf, &a->mmio_addr) || (colon && !parse_u64(colon + 1, &size)) ||
            size < 0x100 || size > 0x100000 || (a->mmio_addr & 3)) {
            snprintf(err, errlen, "bad --mmio '%s' (ADDR[:SIZE])", val);
            return -1;
        }
        a->mmio_size = (uint32_t)size;
        a->have_mmio = true;
    } else if (!strcmp(opt, "--irq")) {
        uint64_t gsi;
        if (!parse_u64(val, &gsi) || gsi > 0xffff) {
            snprintf(err, errlen, "bad --irq '%s'", val);
            return -1;
        }
        a->gsi = (uint32_t)gsi;
        a->have_irq = true;
    } else {
        if (!parse_pci(val, &a->pci_id)) {
            snprintf(err, errlen, "bad --pci '%s' ([SEG:]BUS:DEV.FN)", val);
            return -1;
        }
        a->have_pci = true;
    }
    return 1;
}

bool vdrv_args_ok(const struct vdrv_args *a, char *err, size_t errlen)
{
    if (a->have_mmio == a->have_pci) {
        snprintf(err, errlen, "give the device: --mmio ADDR --irq GSI, or --pci BUS:DEV.FN");
        return false;
    }
    if (a->have_mmio && !a->have_irq) {
        snprintf(err, errlen, "--mmio needs --irq GSI");
        return false;
    }
    return true;
}

bool vdrv_parse_args(struct vdrv_args *a, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        int r = vdrv_arg(a, argc, argv, &i, err, errlen);
        if (r < 0)
            return false;
        if (r == 0) {
            snprintf(err, errlen, "unknown argument '%s'", argv[i]);
            return false;
        }
    }
    return vdrv_args_ok(a, err, errlen);
}

// Maps [paddr, paddr + size) of device memory; *va points at paddr.
static status_t map_phys(handle_t mmio, uint64_t paddr, uint64_t size, volatile void **va)
{
    uint64_t base = paddr & ~(uint64_t)(PAGE - 1);
    uint64_t len = (paddr + size - base + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    handle_t vmo;
    status_t s = nb_vmo_create_physical(mmio, base, len, NB_CACHE_UNCACHED, &vmo);
    if (s != OK)
        return s;
    uintptr_t addr = 0;
    s = nb_vm_map(HANDLE_INVALID, vmo, 0, len, NB_VM_READ | NB_VM_WRITE, &addr);
    nb_handle_close(vmo); // the mapping keeps it
    if (s != OK)
        return s;
    *va = (volatile void *)(addr + (paddr - base));
    return OK;
}

static status_t pci_cfg_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
    struct vdrv *v = ctx;
    return nb_pci_config_read(v->pci, v->pci_id, off, width, val);
}

static status_t pci_bar(struct vdrv *v, uint8_t bar, uint64_t *addr)
{
    uint32_t lo, hi = 0;
    status_t s = nb_pci_config_read(v->pci, v->pci_id, 0x10 + 4 * bar, 4, &lo);
    if (s != OK)
        return s;
    if (lo & 1)
        return ERR_NOT_SUPPORTED; // an I/O BAR
    if ((lo & 6) == 4) {
        if (bar == 5)
            return ERR_BAD_FORMAT;
        if ((s = nb_pci_config_read(v->pci, v->pci_id, 0x14 + 4 * bar, 4, &hi)) != OK)
            return s;
    }
    *addr = ((uint64_t)hi << 32) | (lo & ~0xfu);
    return *addr ? OK : ERR_BAD_STATE;
}

// Maps BAR memory with whichever `mmio` handle covers it (devmgr gives
// one resource per memory BAR).
static status_t pci_map(struct vdrv *v, uint64_t paddr, uint64_t size, volatile void **va)
{
    status_t s = map_phys(v->mmio, paddr, size, va);
    for (unsigned i = 0; s != OK && i < v->nbars; i++)
        s = map_phys(v->bars[i], paddr, size, va);
    return s;
}

static status_t pci_map_bar(void *ctx, uint8_t bar, uint32_t offset, uint32_t length,
                            struct nb_vio_region *out)
{
    struct vdrv *v = ctx;
    uint64_t addr;
    volatile void *va;
    status_t s = pci_bar(v, bar, &addr);
    if (s == OK)
        s = pci_map(v, addr + offset, length, &va);
    if (s == OK)
        nb_vio_region_mmio(out, va, length);
    return s;
}

// Turns on bus mastering and memory decoding, and MSI-X with entry 0
// aimed at a fresh interrupt object; every queue uses vector 0.
static status_t pci_msix(struct vdrv *v)
{
    uint32_t cmd, ptr, hdr = 0;
    status_t s = nb_pci_config_read(v->pci, v->pci_id, 4, 2, &cmd);
    if (s == OK)
        s = nb_pci_config_write(v->pci, v->pci_id, 4, 2, cmd | 0x6);
    if (s == OK)
        s = nb_pci_config_read(v->pci, v->pci_id, 0x34, 1, &ptr);
    for (int n = 0; s == OK && n < 48 && (ptr &= 0xfc) >= 0x40; n++) {
        if ((s = nb_pci_config_read(v->pci, v->pci_id, ptr, 4, &hdr)) != OK)
            break;
        if ((hdr & 0xff) == 0x11)
            break;
        ptr = (hdr >> 8) & 0xff;
    }
    if (s != OK)
        return s;
    if ((hdr & 0xff) != 0x11 || ptr < 0x40)
        return ERR_NOT_SUPPORTED;
    uint32_t table;
    if ((s = nb_pci_config_read(v->pci, v->pci_id, ptr + 4, 4, &table)) != OK)
        return s;
    uint64_t bar;
    if ((s = pci_bar(v, (uint8_t)(table & 7), &bar)) != OK)
        return s;
    volatile uint32_t *entry;
    if ((s = pci_map(v, bar + (table & ~7u), 16, (volatile void **)&entry)) != OK)
        return s;
    struct nb_msi_message msg;
    if ((s = nb_interrupt_create_msi(v->pci, v->pci_id, 0, &v->irq, &msg)) != OK)
        return s;
    entry[0] = (uint32_t)msg.address;
    entry[1] = (uint32_t)(msg.address >> 32);
    entry[2] = msg.data;
    entry[3] = 0; // unmasked
    uint32_t ctrl = hdr >> 16;
    ctrl = (ctrl | 0x8000u) & ~0x4000u; // enable, no function mask
    s = nb_pci_config_write(v->pci, v->pci_id, ptr + 2, 2, ctrl);
    v->msix = s == OK;
    return s;
}

static handle_t take(struct vdrv *v, uint32_t role)
{
    handle_t h = nb_bootstrap_take(role);
    if (h == HANDLE_INVALID)
        nb_logf("%s: no '%s' handle", v->name, nb_bootstrap_role_name(role));
    return h;
}

status_t vdrv_open(struct vdrv *v, const char *name, const struct vdrv_args *a, uint32_t device_id)
{
    memset(v, 0, sizeof(*v));
    v->name = name;
    v->irq = v->dma = v->mmio = v->pci = HANDLE_INVALID;
    status_t s = nb_bootstrap_load();
    if (s != OK) {
        nb_logf("%s: no bootstrap message: %s", name, status_str(s));
        return s;
    }
    v->dma = take(v, BOOTSTRAP_ROLE_DMA);
    v->mmio = take(v, BOOTSTRAP_ROLE_MMIO);
    if (v->dma == HANDLE_INVALID || v->mmio == HANDLE_INVALID)
        return ERR_NOT_FOUND;
    if (a->have_mmio) {
        handle_t irq = take(v, BOOTSTRAP_ROLE_IRQ);
        if (irq == HANDLE_INVALID)
            return ERR_NOT_FOUND;
        volatile void *regs;
        struct nb_vio_region r;
        s = map_phys(v->mmio, a->mmio_addr, a->mmio_size, &regs);
        if (s != OK) {
            nb_logf("%s: cannot map registers at %#llx: %s", name, (unsigned long long)a->mmio_addr,
                    status_str(s));
            nb_handle_close(irq);
            return s;
        }
        nb_vio_region_mmio(&r, regs, a->mmio_size);
        s = nb_virtio_mmio_init(&v->dev, &r);
        if (s != OK) {
            nb_logf("%s: no virtio-mmio device at %#llx: %s", name,
                    (unsigned long long)a->mmio_addr, status_str(s));
            nb_handle_close(irq);
            return s;
        }
        s = nb_interrupt_create(irq, a->gsi, a->irq_level ? NB_INTERRUPT_LEVEL : NB_INTERRUPT_EDGE,
                                &v->irq);
        nb_handle_close(irq);
        if (s != OK) {
            nb_logf("%s: cannot take GSI %u: %s", name, a->gsi, status_str(s));
            return s;
        }
    } else {
        v->pci = take(v, BOOTSTRAP_ROLE_PCI);
        if (v->pci == HANDLE_INVALID)
            return ERR_NOT_FOUND;
        v->pci_id = a->pci_id;
        while (v->nbars < 6 &&
               (v->bars[v->nbars] = nb_bootstrap_take(BOOTSTRAP_ROLE_MMIO)) != HANDLE_INVALID)
            v->nbars++;
        struct nb_virtio_pci_access acc = {v, pci_cfg_read, pci_map_bar};
        if ((s = nb_virtio_pci_init(&v->dev, &acc)) != OK) {
            nb_logf("%s: no virtio-pci device at %#x: %s", name, a->pci_id, status_str(s));
            return s;
        }
        if ((s = pci_msix(v)) != OK) {
            nb_logf("%s: cannot set up MSI-X: %s", name, status_str(s));
            return s;
        }
        v->dev.msix_vector = 0;
    }
    if (v->dev.device_id != device_id) {
        nb_logf("%s: the device is a virtio device %u, not %u", name, v->dev.device_id, device_id);
        return ERR_WRONG_TYPE;
    }
    return OK;
}

int vdrv_start_service(struct vdrv *v, const char *name, uint32_t device_id, int argc, char **argv,
                       handle_t *service)
{
    struct vdrv_args a = {0};
    char err[128];
    if (!vdrv_parse_args(&a, argc, argv, err, sizeof(err))) {
        nb_logf("%s: %s", name, err);
        fprintf(stderr, "usage: %s (--mmio ADDR --irq GSI [--irq-level] | --pci BUS:DEV.FN)\n",
                name);
        return 2;
    }
    if (vdrv_open(v, name, &a, device_id) != OK)
        return 1;
    *service = nb_bootstrap_take(BOOTSTRAP_ROLE_SERVICE);
    if (*service == HANDLE_INVALID) {
        nb_logf("%s: no 'service' handle", name);
        return 1;
    }
    return 0;
}

bool vdrv_irq_status(struct vdrv *v)
{
    if (v->msix)
        return true;
    return nb_virtio_isr(&v->dev) != 0;
}

status_t vdrv_irq_ack(struct vdrv *v)
{
    return nb_interrupt_ack(v->irq);
}

static void irq_fired(struct nb_loop *loop, struct nb_wait *w, status_t status, signals_t observed)
{
    struct vdrv_irq *irq = w->ctx;
    (void)observed;
    if (status != OK) {
        nb_logf("%s: interrupt wait: %s", irq->v->name, status_str(status));
        nb_loop_quit(loop);
        return;
    }
    uint32_t isr =
        irq->v->msix ? NB_VIRTIO_ISR_QUEUE | NB_VIRTIO_ISR_CONFIG : nb_virtio_isr(&irq->v->dev);
    if ((isr & NB_VIRTIO_ISR_CONFIG) && irq->config)
        irq->config();
    irq->serve();
    vdrv_irq_ack(irq->v);
    irq->serve(); // what came between the status read and the unmask
    if (nb_wait_start(loop, w) != OK)
        nb_loop_quit(loop);
}

status_t vdrv_irq_start(struct vdrv_irq *irq)
{
    irq->wait = (struct nb_wait){
        .object = irq->v->irq, .signals = SIGNAL_SIGNALED, .fn = irq_fired, .ctx = irq};
    status_t s = nb_wait_start(irq->loop, &irq->wait);
    if (s != OK) {
        nb_logf("%s: cannot wait for interrupts: %s", irq->v->name, status_str(s));
        return s;
    }
    vdrv_irq_ack(irq->v);
    irq->serve();
    return OK;
}

status_t vdrv_dma_alloc(struct vdrv *v, size_t size, struct vdrv_dma *out)
{
    size = (size + PAGE - 1) & ~(size_t)(PAGE - 1);
    memset(out, 0, sizeof(*out));
    out->vmo = HANDLE_INVALID;
    status_t s = nb_vmo_create_contiguous(v->dma, size, 0, &out->vmo);
    if (s != OK)
        return s;
    uintptr_t addr = 0;
    if ((s = nb_vm_map(HANDLE_INVALID, out->vmo, 0, size, NB_VM_READ | NB_VM_WRITE, &addr)) != OK ||
        (s = nb_vmo_phys(out->vmo, 0, &out->pa)) != OK) {
        if (addr)
            nb_vm_unmap(HANDLE_INVALID, addr, size);
        nb_handle_close(out->vmo);
        out->vmo = HANDLE_INVALID;
        return s;
    }
    out->va = (uint8_t *)addr;
    out->size = size;
    memset(out->va, 0, size);
    return OK;
}

void vdrv_dma_free(struct vdrv_dma *m)
{
    if (m->va)
        nb_vm_unmap(HANDLE_INVALID, (uintptr_t)m->va, m->size);
    if (m->vmo != HANDLE_INVALID)
        nb_handle_close(m->vmo);
    memset(m, 0, sizeof(*m));
    m->vmo = HANDLE_INVALID;
}

status_t vdrv_queue(struct vdrv *v, struct nb_virtq *q, uint16_t index, uint16_t want,
                    struct vdrv_dma *mem)
{
    uint16_t max = v->dev.tr->queue_max(&v->dev, index);
    if (max == 0)
        return ERR_NOT_FOUND;
    uint16_t size = 1;
    while ((uint32_t)size * 2 <= want && (uint32_t)size * 2 <= max)
        size = (uint16_t)(size * 2);
    status_t s = vdrv_dma_alloc(v, nb_virtq_mem_size(size), mem);
    if (s != OK)
        return s;
    if ((s = nb_virtq_init(q, &v->dev, index, size, mem->va, mem->pa)) != OK)
        vdrv_dma_free(mem);
    return s;
}
