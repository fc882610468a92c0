// Device discovery without system calls (devmgr.h): the command line's
// virtio-mmio windows, virtio-mmio identification, PCI enumeration.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devmgr.h"
#include "nimbus/resource.h"

#define VMMIO_KEY "virtio_mmio.device="

static void set_err(char *err, size_t size, const char *fmt, ...)
{
    if (!err || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

// Digits of `base` (10 or 16) from s[*i] on; false if none or overflow.
static bool parse_num(const char *s, size_t len, size_t *i, unsigned base, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = *i;
    while (*i < len) {
        char c = s[*i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
        (*i)++;
    }
    *out = v;
    return *i > start;
}

static bool has_hex_prefix(const char *s, size_t len, size_t i)
{
    return i + 1 < len && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
}

status_t vmmio_parse_entry(const char *s, size_t len, struct vmmio_window *w, char *err,
                           size_t err_size)
{
    size_t i = 0;
    uint64_t size, base, irq, id = 0;
    int n = len > 80 ? 80 : (int)len;

    // SIZE: decimal or 0x hex, optional K/M/G.
    bool hex = has_hex_prefix(s, len, i);
    if (hex)
        i += 2;
    if (!parse_num(s, len, &i, hex ? 16 : 10, &size)) {
        set_err(err, err_size, VMMIO_KEY "%.*s: bad size", n, s);
        return ERR_INVALID_ARGS;
    }
    if (i < len &&
        (s[i] == 'K' || s[i] == 'k' || s[i] == 'M' || s[i] == 'm' || s[i] == 'G' || s[i] == 'g')) {
        unsigned shift = (s[i] == 'K' || s[i] == 'k') ? 10 : (s[i] == 'M' || s[i] == 'm') ? 20 : 30;
        if (size > (UINT64_MAX >> shift)) {
            set_err(err, err_size, VMMIO_KEY "%.*s: size too large", n, s);
            return ERR_INVALID_ARGS;
        }
        size <<= shift;
        i++;
    }
    if (!size) {
        set_err(err, err_size, VMMIO_KEY "%.*s: size is 0", n, s);
        return ERR_INVALID_ARGS;
    }
    if (i >= len || s[i] != '@') {
        set_err(err, err_size, VMMIO_KEY "%.*s: expected '@' after the size", n, s);
        return ERR_INVALID_ARGS;
    }
    i++;
    if (has_hex_prefix(s, len, i))
        i += 2;
    if (!parse_num(s, len, &i, 16, &base)) {
        set_err(err, err_size, VMMIO_KEY "%.*s: bad base address (hex)", n, s);
        return ERR_INVALID_ARGS;
    }
    if (base + size < base) {
        set_err(err, err_size, VMMIO_KEY "%.*s: window wraps around", n, s);
        return ERR_INVALID_ARGS;
    }
    if (i >= len || s[i] != ':') {
        set_err(err, err_size, VMMIO_KEY "%.*s: expected ':IRQ' after the base", n, s);
        return ERR_INVALID_ARGS;
    }
    i++;
    if (!parse_num(s, len, &i, 10, &irq) || irq > UINT32_MAX) {
        set_err(err, err_size, VMMIO_KEY "%.*s: bad interrupt number", n, s);
        return ERR_INVALID_ARGS;
    }
    if (i < len && s[i] == ':') {
        i++;
        if (!parse_num(s, len, &i, 10, &id) || id > UINT32_MAX) {
            set_err(err, err_size, VMMIO_KEY "%.*s: bad device id", n, s);
            return ERR_INVALID_ARGS;
        }
    }
    if (i != len) {
        set_err(err, err_size, VMMIO_KEY "%.*s: unexpected '%c'", n, s, s[i]);
        return ERR_INVALID_ARGS;
    }
    *w =
        (struct vmmio_window){.base = base, .size = size, .irq = (uint32_t)irq, .id = (uint32_t)id};
    return OK;
}

size_t vmmio_parse_cmdline(const char *cmdline, struct vmmio_window *out, size_t max, unsigned *bad,
                           char *err, size_t err_size)
{
    size_t count = 0;
    size_t klen = strlen(VMMIO_KEY);
    const char *p = cmdline;
    *bad = 0;
    if (err && err_size)
        err[0] = '\0';
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        const char *word = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        size_t wlen = (size_t)(p - word);
        if (wlen < klen || memcmp(word, VMMIO_KEY, klen))
            continue;
        struct vmmio_window w;
        if (vmmio_parse_entry(word + klen, wlen - klen, &w, err, err_size) != OK) {
            (*bad)++;
            continue;
        }
        if (count == max) {
            (*bad)++;
            set_err(err, err_size, VMMIO_KEY "%.*s: more than %zu windows", (int)(wlen - klen),
                    word + klen, max);
            continue;
        }
        out[count++] = w;
    }
    return count;
}

status_t vmmio_probe(const volatile uint32_t *regs, struct vmmio_probe *out)
{
    if (regs[VMMIO_REG_MAGIC / 4] != VMMIO_MAGIC)
        return ERR_NOT_FOUND;
    out->version = regs[VMMIO_REG_VERSION / 4];
    if (out->version != 1 && out->version != 2)
        return ERR_NOT_SUPPORTED;
    out->device_id = regs[VMMIO_REG_DEVICE_ID / 4];
    out->vendor_id = regs[VMMIO_REG_VENDOR_ID / 4];
    return OK;
}

void vmmio_reset(volatile uint32_t *regs)
{
    regs[VMMIO_REG_STATUS / 4] = 0;
}

// ---- PCI ----

#define PCI_VENDOR_ID      0x00
#define PCI_STATUS         0x06
#define PCI_REVISION       0x08
#define PCI_HEADER_TYPE    0x0e
#define PCI_BAR0           0x10
#define PCI_SECONDARY_BUS  0x19
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID      0x2e
#define PCI_CAP_PTR        0x34
#define PCI_IRQ_LINE       0x3c
#define PCI_IRQ_PIN        0x3d
#define PCI_STATUS_CAPS    0x10
#define PCI_COMMAND_DECODE 0x3u // I/O space, memory space
#define PCI_MAX_BUSES      256

static uint32_t cfg(const struct pci_access *a, uint32_t id, uint32_t off, uint32_t width)
{
    uint32_t v = 0;
    if (a->read(a->ctx, id, off, width, &v) != OK)
        return width == 1 ? 0xff : width == 2 ? 0xffff : 0xffffffffu;
    return v;
}

static void size_bars(const struct pci_access *a, struct pci_function *f, unsigned nbars)
{
    for (unsigned i = 0; i < nbars; i++) {
        uint32_t off = PCI_BAR0 + 4 * i;
        uint32_t orig = cfg(a, f->id, off, 4);
        struct pci_bar *b = &f->bars[i];
        b->io = orig & 1;
        if (b->io) {
            a->write(a->ctx, f->id, off, 4, 0xffffffffu);
            uint32_t got = cfg(a, f->id, off, 4);
            a->write(a->ctx, f->id, off, 4, orig);
            uint32_t mask = got & ~3u & 0xffffu;
            b->base = orig & ~3u;
            b->size = mask ? (uint64_t)((~mask + 1) & 0xffffu) : 0;
            continue;
        }
        b->is64 = ((orig >> 1) & 3) == 2;
        b->prefetch = orig & 8;
        uint64_t base = orig & ~0xfu;
        a->write(a->ctx, f->id, off, 4, 0xffffffffu);
        uint64_t mask = cfg(a, f->id, off, 4) & ~0xfu;
        a->write(a->ctx, f->id, off, 4, orig);
        if (b->is64 && i + 1 < nbars) {
            uint32_t orig_hi = cfg(a, f->id, off + 4, 4);
            a->write(a->ctx, f->id, off + 4, 4, 0xffffffffu);
            uint32_t hi = cfg(a, f->id, off + 4, 4);
            a->write(a->ctx, f->id, off + 4, 4, orig_hi);
            base |= (uint64_t)orig_hi << 32;
            mask |= (uint64_t)hi << 32;
        } else if (mask) {
            mask |= 0xffffffff00000000ull;
        }
        b->base = base;
        b->size = mask ? ~mask + 1 : 0;
        if (b->is64)
            i++; // the upper half is this BAR's
    }
}

static void read_caps(const struct pci_access *a, struct pci_function *f)
{
    if (!(cfg(a, f->id, PCI_STATUS, 2) & PCI_STATUS_CAPS))
        return;
    uint32_t off = cfg(a, f->id, PCI_CAP_PTR, 1) & ~3u;
    unsigned guard = 48; // a looping list ends here
    while (off >= 0x40 && off < 0x100 && guard--) {
        uint8_t cid = (uint8_t)cfg(a, f->id, off, 1);
        if (f->ncaps < PCI_MAX_CAPS) {
            struct pci_cap *c = &f->caps[f->ncaps++];
            *c = (struct pci_cap){.id = cid, .offset = (uint8_t)off};
            if (cid == PCI_CAP_VENDOR) {
                c->vndr_type = (uint8_t)cfg(a, f->id, off + 3, 1);
                c->bar = (uint8_t)cfg(a, f->id, off + 4, 1);
            }
        }
        if (cid == PCI_CAP_MSI)
            f->msi = true;
        if (cid == PCI_CAP_MSIX)
            f->msix = true;
        off = cfg(a, f->id, off + 1, 1) & ~3u;
    }
}

static bool read_function(const struct pci_access *a, uint32_t id, struct pci_function *f)
{
    uint32_t vd = cfg(a, id, PCI_VENDOR_ID, 4);
    if ((vd & 0xffff) == 0xffff || (vd & 0xffff) == 0)
        return false;
    memset(f, 0, sizeof(*f));
    f->id = id;
    f->vendor = (uint16_t)vd;
    f->device = (uint16_t)(vd >> 16);
    uint32_t cr = cfg(a, id, PCI_REVISION, 4);
    f->revision = (uint8_t)cr;
    f->prog_if = (uint8_t)(cr >> 8);
    f->subclass = (uint8_t)(cr >> 16);
    f->class_code = (uint8_t)(cr >> 24);
    uint8_t ht = (uint8_t)cfg(a, id, PCI_HEADER_TYPE, 1);
    f->header_type = ht & 0x7f;
    f->multifunction = ht & 0x80;
    // BARs are sized with memory and I/O decoding off (all-ones in a BAR
    // must not claim addresses meanwhile), then the command is restored.
    uint32_t command = cfg(a, id, PCI_COMMAND, 2);
    if (command & PCI_COMMAND_DECODE)
        a->write(a->ctx, id, PCI_COMMAND, 2, command & ~PCI_COMMAND_DECODE);
    if (f->header_type == 0) {
        f->subsys_vendor = (uint16_t)cfg(a, id, PCI_SUBSYS_VENDOR, 2);
        f->subsys = (uint16_t)cfg(a, id, PCI_SUBSYS_ID, 2);
        size_bars(a, f, 6);
    } else if (f->header_type == 1) {
        f->secondary_bus = (uint8_t)cfg(a, id, PCI_SECONDARY_BUS, 1);
        size_bars(a, f, 2);
    }
    if (command & PCI_COMMAND_DECODE)
        a->write(a->ctx, id, PCI_COMMAND, 2, command);
    f->irq_line = (uint8_t)cfg(a, id, PCI_IRQ_LINE, 1);
    f->irq_pin = (uint8_t)cfg(a, id, PCI_IRQ_PIN, 1);
    read_caps(a, f);
    return true;
}

static size_t scan_bus(const struct pci_access *a, uint32_t seg, uint32_t bus,
                       struct pci_function *out, size_t n, size_t max, bool *seen)
{
    if (bus >= PCI_MAX_BUSES || seen[bus])
        return n;
    seen[bus] = true;
    for (uint32_t dev = 0; dev < 32 && n < max; dev++) {
        for (uint32_t fn = 0; fn < 8 && n < max; fn++) {
            struct pci_function *f = &out[n];
            if (!read_function(a, NB_PCI_ID(seg, bus, dev, fn), f)) {
                if (fn == 0)
                    break; // no function 0: no device
                continue;
            }
            n++;
            bool multi = fn == 0 ? f->multifunction : true;
            if (f->header_type == 1 && f->secondary_bus > bus)
                n = scan_bus(a, seg, f->secondary_bus, out, n, max, seen);
            if (fn == 0 && !multi)
                break;
        }
    }
    return n;
}

size_t pci_enumerate(const struct pci_access *a, uint32_t seg, uint32_t bus,
                     struct pci_function *out, size_t max)
{
    bool seen[PCI_MAX_BUSES] = {false};
    return scan_bus(a, seg, bus, out, 0, max, seen);
}

void pci_format_id(uint32_t id, char *buf, size_t size)
{
    uint32_t seg = id >> 16, bus = (id >> 8) & 0xff, dev = (id >> 3) & 0x1f, fn = id & 7;
    if (seg)
        snprintf(buf, size, "%04x:%02x:%02x.%u", seg, bus, dev, fn);
    else
        snprintf(buf, size, "%02x:%02x.%u", bus, dev, fn);
}

const char *pci_class_name(uint8_t class_code)
{
    static const char *const names[] = {
        "unclassified", "storage",  "network",     "display",   "multimedia", "memory",
        "bridge",       "comm",     "system",      "input",     "docking",    "processor",
        "serial-bus",   "wireless", "intelligent", "satellite", "crypto",     "signal",
    };
    return class_code < sizeof(names) / sizeof(names[0]) ? names[class_code] : "other";
}

// ---- Virtio types ----

const char *virtio_type_name(uint32_t device_id)
{
    switch (device_id) {
    case VIRTIO_ID_NET:
        return "net";
    case VIRTIO_ID_BLOCK:
        return "blk";
    case VIRTIO_ID_CONSOLE:
        return "console";
    case VIRTIO_ID_RNG:
        return "rng";
    case 5:
        return "balloon";
    case 8:
        return "scsi";
    case 9:
        return "9p";
    case 16:
        return "gpu";
    case 18:
        return "input";
    case 19:
        return "vsock";
    default:
        return NULL;
    }
}

uint32_t virtio_pci_type(uint16_t vendor, uint16_t device, uint16_t subsys)
{
    if (vendor != 0x1af4)
        return 0;
    if (device >= 0x1040 && device <= 0x107f)
        return device - 0x1040u;
    if (device >= 0x1000 && device <= 0x103f) {
        if (subsys >= 1 && subsys <= 0x3f)
            return subsys; // transitional: the subsystem id is the type
        static const uint8_t legacy[] = {
            [0x0] = VIRTIO_ID_NET,
            [0x1] = VIRTIO_ID_BLOCK,
            [0x2] = 5,
            [0x3] = VIRTIO_ID_CONSOLE,
            [0x4] = 8,
            [0x5] = VIRTIO_ID_RNG,
            [0x9] = 9,
        };
        uint32_t i = device - 0x1000u;
        return i < sizeof(legacy) ? legacy[i] : 0;
    }
    return 0;
}
