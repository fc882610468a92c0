// Host tests of the device manager's logic (devmgr.h): command-line
// virtio-mmio windows, virtio-mmio probing, PCI enumeration over a fake
// q35-like configuration space, the driver table and matching.
#include <stdio.h>
#include <string.h>

#include "devmgr.h"
#include "lib/ktest.h"
#include "nimbus/resource.h"

// ---- virtio-mmio ----

static void devmgr_cmdline_entries(struct ktest *t)
{
    struct vmmio_window w[4];
    unsigned bad;
    char err[DEVMGR_ERR_MAX];
    const char *cl = "console=ttyS0 virtio_mmio.device=512@0xfeb00000:12 quiet "
                     "virtio_mmio.device=0x200@feb00200:13:7 virtio_mmio.device=4K@0x1000:5\n";
    size_t n = vmmio_parse_cmdline(cl, w, 4, &bad, err, sizeof(err));
    ASSERT_EQ(n, 3u);
    EXPECT_EQ(bad, 0u);
    EXPECT_STREQ(err, "");
    EXPECT_EQ(w[0].base, 0xfeb00000ull);
    EXPECT_EQ(w[0].size, 512ull);
    EXPECT_EQ(w[0].irq, 12u);
    EXPECT_EQ(w[0].id, 0u);
    EXPECT_EQ(w[1].base, 0xfeb00200ull);
    EXPECT_EQ(w[1].size, 0x200ull);
    EXPECT_EQ(w[1].irq, 13u);
    EXPECT_EQ(w[1].id, 7u);
    EXPECT_EQ(w[2].size, 4096ull);
    EXPECT_EQ(w[2].base, 0x1000ull);

    struct vmmio_window one;
    EXPECT_OK(vmmio_parse_entry("1M@0x10000000:40", 16, &one, err, sizeof(err)));
    EXPECT_EQ(one.size, 1ull << 20);
    EXPECT_EQ(one.irq, 40u);

    // Nothing there, or a key that merely starts alike.
    EXPECT_EQ(vmmio_parse_cmdline("", w, 4, &bad, err, sizeof(err)), 0u);
    EXPECT_EQ(vmmio_parse_cmdline("virtio_mmio.devices=1@2:3 xvirtio_mmio.device=1@2:3", w, 4, &bad,
                                  err, sizeof(err)),
              0u);
    EXPECT_EQ(bad, 0u);
}

static void devmgr_cmdline_malformed(struct ktest *t)
{
    struct vmmio_window w[2], one;
    unsigned bad;
    char err[DEVMGR_ERR_MAX];
    static const struct {
        const char *value, *msg;
    } cases[] = {
        {"", "bad size"},
        {"512", "expected '@'"},
        {"512@", "bad base"},
        {"512@0xfeb00000", "expected ':IRQ'"},
        {"512@0xfeb00000:", "bad interrupt"},
        {"512@0xfeb00000:x", "bad interrupt"},
        {"512@0xfeb00000:12:", "bad device id"},
        {"512@0xfeb00000:12z", "unexpected 'z'"},
        {"0@0x1000:1", "size is 0"},
        {"16G@0xfffffffffffff000:1", "wraps"},
        {"99999999999999999999@1:1", "bad size"},
        {"512Q@1:1", "expected '@'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        EXPECT_STATUS(
            vmmio_parse_entry(cases[i].value, strlen(cases[i].value), &one, err, sizeof(err)),
            ERR_INVALID_ARGS);
        if (!strstr(err, cases[i].msg) || !strstr(err, "virtio_mmio.device="))
            KTEST_FAIL_(t, "'%s': message '%s' lacks '%s'", cases[i].value, err, cases[i].msg);
    }
    // A bad entry is skipped; the good ones stay; the limit counts as bad.
    size_t n = vmmio_parse_cmdline("virtio_mmio.device=1@2 virtio_mmio.device=512@1000:5 "
                                   "virtio_mmio.device=512@2000:6 virtio_mmio.device=512@3000:7",
                                   w, 2, &bad, err, sizeof(err));
    EXPECT_EQ(n, 2u);
    EXPECT_EQ(bad, 2u);
    EXPECT_EQ(w[0].base, 0x1000ull);
    EXPECT_EQ(w[1].base, 0x2000ull);
    EXPECT_TRUE(strstr(err, "more than 2") != NULL);
}

static void devmgr_vmmio_probe(struct ktest *t)
{
    uint32_t regs[64] = {0};
    struct vmmio_probe p;
    EXPECT_STATUS(vmmio_probe(regs, &p), ERR_NOT_FOUND);
    regs[0] = VMMIO_MAGIC;
    regs[1] = 3;
    EXPECT_STATUS(vmmio_probe(regs, &p), ERR_NOT_SUPPORTED);
    regs[1] = 2;
    regs[3] = 0x554d4551; // "QEMU"
    EXPECT_OK(vmmio_probe(regs, &p));
    EXPECT_EQ(p.device_id, 0u); // an empty slot
    regs[2] = VIRTIO_ID_RNG;
    EXPECT_OK(vmmio_probe(regs, &p));
    EXPECT_EQ(p.version, 2u);
    EXPECT_EQ(p.device_id, 4u);
    EXPECT_EQ(p.vendor_id, 0x554d4551u);
    regs[1] = 1; // legacy
    EXPECT_OK(vmmio_probe(regs, &p));
}

// ---- A fake PCI configuration space ----

struct fake_fn {
    uint32_t id;
    uint8_t cfg[256];
    uint32_t bar_mask[6]; // writable bits of each BAR dword (sizes)
};

struct fake_pci {
    struct fake_fn fns[16];
    size_t n;
    unsigned writes, bad_width, decode_on_sizing;
};

static struct fake_fn *fake_find(struct fake_pci *p, uint32_t id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->fns[i].id == id)
            return &p->fns[i];
    return NULL;
}

static status_t fake_read(void *ctx, uint32_t id, uint32_t off, uint32_t width, uint32_t *v)
{
    struct fake_pci *p = ctx;
    if ((width != 1 && width != 2 && width != 4) || off % width || off + width > 256) {
        p->bad_width++;
        return ERR_INVALID_ARGS;
    }
    struct fake_fn *f = fake_find(p, id);
    if (!f) {
        *v = 0xffffffffu >> (32 - 8 * width);
        return OK;
    }
    uint32_t x = 0;
    for (uint32_t i = 0; i < width; i++)
        x |= (uint32_t)f->cfg[off + i] << (8 * i);
    *v = x;
    return OK;
}

static status_t fake_write(void *ctx, uint32_t id, uint32_t off, uint32_t width, uint32_t v)
{
    struct fake_pci *p = ctx;
    struct fake_fn *f = fake_find(p, id);
    p->writes++;
    if (!f || (width != 2 && width != 4) || off % width)
        return ERR_INVALID_ARGS;
    if (width == 2) {
        uint16_t v16 = (uint16_t)v;
        memcpy(&f->cfg[off], &v16, 2);
        return OK;
    }
    if (off >= 0x10 && off < 0x28) {
        if (v == 0xffffffffu && (f->cfg[0x04] & 3))
            p->decode_on_sizing++; // sizing while the BAR decodes
        unsigned bar = (off - 0x10) / 4;
        uint32_t old;
        memcpy(&old, &f->cfg[off], 4);
        uint32_t ro = ~f->bar_mask[bar];
        v = (v & f->bar_mask[bar]) | (old & ro);
    }
    memcpy(&f->cfg[off], &v, 4);
    return OK;
}

static void put16(struct fake_fn *f, uint32_t off, uint16_t v)
{
    memcpy(&f->cfg[off], &v, 2);
}

static void put32(struct fake_fn *f, uint32_t off, uint32_t v)
{
    memcpy(&f->cfg[off], &v, 4);
}

static struct fake_fn *fake_add(struct fake_pci *p, uint32_t bus, uint32_t dev, uint32_t fn,
                                uint16_t vendor, uint16_t device, uint32_t class_rev,
                                uint8_t header)
{
    struct fake_fn *f = &p->fns[p->n++];
    memset(f, 0, sizeof(*f));
    f->id = NB_PCI_ID(0, bus, dev, fn);
    put16(f, 0, vendor);
    put16(f, 2, device);
    put32(f, 8, class_rev);
    f->cfg[0x0e] = header;
    return f;
}

// A memory BAR of `size` bytes (power of two) at `base`.
static void fake_bar32(struct fake_fn *f, unsigned i, uint32_t base, uint32_t size)
{
    put32(f, 0x10 + 4 * i, base);
    f->bar_mask[i] = ~(size - 1) & ~0xfu;
}

// q35: host bridge, a virtio-blk with MSI-X and virtio caps, a multifunction
// device, a PCI bridge to bus 1 with a virtio-rng (transitional) behind it,
// and the ICH9 LPC (ISA) bridge at 00:1f.0.
static void fake_q35(struct fake_pci *p)
{
    memset(p, 0, sizeof(*p));
    fake_add(p, 0, 0, 0, 0x8086, 0x29c0, 0x06000002, 0);

    struct fake_fn *blk = fake_add(p, 0, 2, 0, 0x1af4, 0x1042, 0x01000001, 0);
    put16(blk, 0x2c, 0x1af4);
    put16(blk, 0x2e, 0x1100);
    put16(blk, 0x04, 0x0507); // I/O, memory, bus master, SERR, INTx disable
    put16(blk, 0x06, 0x0010); // capabilities list
    blk->cfg[0x3c] = 11;
    blk->cfg[0x3d] = 1;
    fake_bar32(blk, 1, 0xfebd1000, 0x1000);
    // BAR 4: 64-bit prefetchable, 16 KiB at 0x1_0000_0000 + 0xc000.
    put32(blk, 0x20, 0x0000c000 | 0xc);
    put32(blk, 0x24, 0x1);
    blk->bar_mask[4] = ~(0x4000u - 1) & ~0xfu;
    blk->bar_mask[5] = 0xffffffffu;
    blk->cfg[0x34] = 0x98;
    blk->cfg[0x98] = 0x11; // MSI-X
    blk->cfg[0x99] = 0x84;
    uint8_t virtio_caps[][2] = {
        {0x84, 0x70}, {0x70, 0x60}, {0x60, 0x50}, {0x50, 0x40}, {0x40, 0x00}};
    uint8_t types[] = {5, 4, 3, 2, 1};
    for (size_t i = 0; i < 5; i++) {
        uint8_t o = virtio_caps[i][0];
        blk->cfg[o] = 0x09;
        blk->cfg[o + 1] = virtio_caps[i][1];
        blk->cfg[o + 2] = 16;
        blk->cfg[o + 3] = types[i];
        blk->cfg[o + 4] = 4;
    }

    // A multifunction device with functions 0 and 3.
    struct fake_fn *m0 = fake_add(p, 0, 3, 0, 0x8086, 0x2934, 0x0c030003, 0x80);
    m0->cfg[0x3d] = 1;
    fake_add(p, 0, 3, 3, 0x8086, 0x2937, 0x0c030003, 0x00);
    // A single-function device whose function 1 must not be scanned.
    fake_add(p, 0, 4, 0, 0x1234, 0x1111, 0x03000002, 0);
    fake_add(p, 0, 4, 1, 0xdead, 0xbeef, 0x03000002, 0);

    struct fake_fn *br = fake_add(p, 0, 5, 0, 0x1b36, 0x0001, 0x06040000, 1);
    br->cfg[0x18] = 0;
    br->cfg[0x19] = 1;
    br->cfg[0x1a] = 1;
    struct fake_fn *rng = fake_add(p, 1, 0, 0, 0x1af4, 0x1005, 0x00ff0000, 0);
    put16(rng, 0x2c, 0x1af4);
    put16(rng, 0x2e, VIRTIO_ID_RNG);
    put32(rng, 0x10, 0xc041); // I/O BAR, 32 ports
    rng->bar_mask[0] = 0xffffffe0u;
    put16(rng, 0x06, 0x0010);
    rng->cfg[0x34] = 0x40;
    rng->cfg[0x40] = 0x05; // MSI, then a loop back to itself: must end
    rng->cfg[0x41] = 0x40;

    fake_add(p, 0, 0x1f, 0, 0x8086, 0x2918, 0x06010002, 0x80);
}

static const struct pci_function *by_id(const struct pci_function *f, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].id == id)
            return &f[i];
    return NULL;
}

static void devmgr_pci_enumerate(struct ktest *t)
{
    static struct fake_pci p;
    static struct pci_function f[PCI_MAX_FUNCS];
    fake_q35(&p);
    struct pci_access a = {.read = fake_read, .write = fake_write, .ctx = &p};
    size_t n = pci_enumerate(&a, 0, 0, f, PCI_MAX_FUNCS);
    EXPECT_EQ(p.bad_width, 0u);
    EXPECT_EQ(p.decode_on_sizing, 0u);
    ASSERT_EQ(n, 8u);
    // Order: bus 0 by device, with the bridge's bus right after it.
    EXPECT_EQ(f[0].id, NB_PCI_ID(0, 0, 0, 0));
    EXPECT_EQ(f[0].vendor, 0x8086);
    EXPECT_EQ(f[0].device, 0x29c0);
    EXPECT_EQ(f[0].class_code, 6);
    EXPECT_STREQ(pci_class_name(f[0].class_code), "bridge");
    EXPECT_NULL(by_id(f, n, NB_PCI_ID(0, 0, 4, 1))); // not multifunction
    EXPECT_NOT_NULL(by_id(f, n, NB_PCI_ID(0, 0, 3, 3)));
    EXPECT_NOT_NULL(by_id(f, n, NB_PCI_ID(0, 0, 0x1f, 0)));
    EXPECT_EQ(f[5].id, NB_PCI_ID(0, 0, 5, 0));
    EXPECT_EQ(f[5].header_type, 1);
    EXPECT_EQ(f[5].secondary_bus, 1);
    EXPECT_EQ(f[6].id, NB_PCI_ID(0, 1, 0, 0));

    const struct pci_function *blk = by_id(f, n, NB_PCI_ID(0, 0, 2, 0));
    ASSERT_NOT_NULL(blk);
    EXPECT_EQ(blk->class_code, 1);
    EXPECT_EQ(blk->subsys_vendor, 0x1af4);
    EXPECT_EQ(blk->subsys, 0x1100);
    EXPECT_EQ(blk->irq_line, 11);
    EXPECT_EQ(blk->irq_pin, 1);
    EXPECT_EQ(blk->bars[0].size, 0u);
    EXPECT_EQ(blk->bars[1].base, 0xfebd1000ull);
    EXPECT_EQ(blk->bars[1].size, 0x1000ull);
    EXPECT_FALSE(blk->bars[1].io);
    EXPECT_TRUE(blk->bars[4].is64);
    EXPECT_TRUE(blk->bars[4].prefetch);
    EXPECT_EQ(blk->bars[4].base, 0x10000c000ull);
    EXPECT_EQ(blk->bars[4].size, 0x4000ull);
    EXPECT_EQ(blk->bars[5].size, 0u); // the upper half
    EXPECT_TRUE(blk->msix);
    EXPECT_FALSE(blk->msi);
    ASSERT_EQ(blk->ncaps, 6u);
    EXPECT_EQ(blk->caps[0].id, PCI_CAP_MSIX);
    EXPECT_EQ(blk->caps[0].offset, 0x98);
    EXPECT_EQ(blk->caps[1].id, PCI_CAP_VENDOR);
    EXPECT_EQ(blk->caps[1].vndr_type, 5);
    EXPECT_EQ(blk->caps[5].vndr_type, 1); // common configuration
    EXPECT_EQ(blk->caps[5].bar, 4);
    EXPECT_EQ(virtio_pci_type(blk->vendor, blk->device, blk->subsys), VIRTIO_ID_BLOCK);

    // BARs were restored after sizing.
    uint32_t v;
    fake_read(&p, blk->id, 0x14, 4, &v);
    EXPECT_EQ(v, 0xfebd1000u);
    fake_read(&p, blk->id, 0x24, 4, &v);
    EXPECT_EQ(v, 1u);
    fake_read(&p, blk->id, 0x04, 2, &v); // and the command register
    EXPECT_EQ(v, 0x0507u);

    const struct pci_function *rng = by_id(f, n, NB_PCI_ID(0, 1, 0, 0));
    ASSERT_NOT_NULL(rng);
    EXPECT_TRUE(rng->bars[0].io);
    EXPECT_EQ(rng->bars[0].base, 0xc040ull);
    EXPECT_EQ(rng->bars[0].size, 32ull);
    EXPECT_TRUE(rng->msi);
    EXPECT_LE(rng->ncaps, (uint32_t)PCI_MAX_CAPS);
    EXPECT_EQ(virtio_pci_type(rng->vendor, rng->device, rng->subsys), VIRTIO_ID_RNG);

    const struct pci_function *m = by_id(f, n, NB_PCI_ID(0, 0, 3, 0));
    ASSERT_NOT_NULL(m);
    EXPECT_TRUE(m->multifunction);
    EXPECT_EQ(m->header_type, 0);

    // The limit stops the scan.
    EXPECT_EQ(pci_enumerate(&a, 0, 0, f, 3), 3u);
    // An empty bus.
    static struct fake_pci empty;
    struct pci_access e = {.read = fake_read, .write = fake_write, .ctx = &empty};
    EXPECT_EQ(pci_enumerate(&e, 0, 0, f, PCI_MAX_FUNCS), 0u);
}

static void devmgr_pci_names(struct ktest *t)
{
    char buf[16];
    pci_format_id(NB_PCI_ID(0, 0, 0x1f, 3), buf, sizeof(buf));
    EXPECT_STREQ(buf, "00:1f.3");
    pci_format_id(NB_PCI_ID(1, 2, 3, 4), buf, sizeof(buf));
    EXPECT_STREQ(buf, "0001:02:03.4");
    EXPECT_STREQ(pci_class_name(2), "network");
    EXPECT_STREQ(pci_class_name(0xff), "other");
    EXPECT_STREQ(virtio_type_name(VIRTIO_ID_RNG), "rng");
    EXPECT_NULL(virtio_type_name(0));
    EXPECT_EQ(virtio_pci_type(0x1af4, 0x1041, 0), VIRTIO_ID_NET);
    EXPECT_EQ(virtio_pci_type(0x1af4, 0x1000, 0), VIRTIO_ID_NET);
    EXPECT_EQ(virtio_pci_type(0x1af4, 0x1001, 0x0002), VIRTIO_ID_BLOCK);
    EXPECT_EQ(virtio_pci_type(0x1af4, 0x1005, 0), VIRTIO_ID_RNG);
    EXPECT_EQ(virtio_pci_type(0x8086, 0x1041, 0), 0u);
    EXPECT_EQ(virtio_pci_type(0x1af4, 0x1100, 0), 0u);
}

// ---- The driver table ----

static const char drivers_text[] = "# bus id program\n"
                                   "virtio-mmio 2 /bin/virtio-blk\n"
                                   "virtio-mmio 4 /bin/virtio-rng   # entropy\n"
                                   "\n"
                                   "  pci 1af4:1042 /bin/virtio-blk\n"
                                   "pci\t1AF4:1044\t/bin/virtio-rng\r\n"
                                   "pci 1af4:1041 /bin/virtio-net";

static void devmgr_drivers_parse(struct ktest *t)
{
    static struct driver_table tab;
    char err[DEVMGR_ERR_MAX];
    ASSERT_OK(drivers_parse(drivers_text, strlen(drivers_text), &tab, err, sizeof(err)));
    ASSERT_EQ(tab.count, 5u);
    EXPECT_EQ(tab.rules[0].bus, (uint32_t)DRIVER_BUS_MMIO);
    EXPECT_EQ(tab.rules[0].device_id, 2u);
    EXPECT_STREQ(tab.rules[1].path, "/bin/virtio-rng");
    EXPECT_EQ(tab.rules[2].bus, (uint32_t)DRIVER_BUS_PCI);
    EXPECT_EQ(tab.rules[2].line, 5u);
    EXPECT_EQ(tab.rules[3].vendor, 0x1af4);
    EXPECT_EQ(tab.rules[3].device, 0x1044);
    EXPECT_STREQ(tab.rules[4].path, "/bin/virtio-net");

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"usb 1 /bin/x\n", "line 1: unknown bus 'usb'"},
        {"\nvirtio-mmio 0 /bin/x\n", "line 2: virtio-mmio: bad device id '0'"},
        {"virtio-mmio two /bin/x\n", "bad device id 'two'"},
        {"pci 1af4 /bin/x\n", "pci: bad id '1af4'"},
        {"pci 1af4:10422 /bin/x\n", "pci: bad id"},
        {"pci ffff:1000 /bin/x\n", "pci: bad id"},
        {"pci :1000 /bin/x\n", "pci: bad id"},
        {"pci 1af4:1042\n", "expected BUS ID PROGRAM, got 2 words"},
        {"pci 1af4:1042 /bin/x extra\n", "got 4 words"},
        {"pci 1af4:1042 /bin/x a b\n", "too many words"},
        {"pci 1af4:1042 bin/x\n", "absolute path"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        EXPECT_STATUS(drivers_parse(bad[i].text, strlen(bad[i].text), &tab, err, sizeof(err)),
                      ERR_BAD_FORMAT);
        EXPECT_EQ(tab.count, 0u);
        if (!strstr(err, bad[i].msg))
            KTEST_FAIL_(t, "'%s': message '%s' lacks '%s'", bad[i].text, err, bad[i].msg);
    }
    // Too many rules.
    static char many[64 * (DRIVERS_MAX + 1)];
    size_t len = 0;
    for (int i = 0; i <= DRIVERS_MAX; i++)
        len += (size_t)snprintf(many + len, sizeof(many) - len, "virtio-mmio %d /bin/x\n", i + 1);
    EXPECT_STATUS(drivers_parse(many, len, &tab, err, sizeof(err)), ERR_BAD_FORMAT);
    EXPECT_TRUE(strstr(err, "more than") != NULL);
    EXPECT_OK(drivers_parse("", 0, &tab, err, sizeof(err)));
    EXPECT_EQ(tab.count, 0u);
}

static void devmgr_drivers_match(struct ktest *t)
{
    static struct driver_table tab;
    char err[DEVMGR_ERR_MAX];
    ASSERT_OK(drivers_parse(drivers_text, strlen(drivers_text), &tab, err, sizeof(err)));
    const struct driver_rule *r = drivers_match_mmio(&tab, VIRTIO_ID_BLOCK);
    ASSERT_NOT_NULL(r);
    EXPECT_STREQ(r->path, "/bin/virtio-blk");
    EXPECT_NULL(drivers_match_mmio(&tab, VIRTIO_ID_NET)); // no mmio rule for net
    EXPECT_NULL(drivers_match_mmio(&tab, 0));

    r = drivers_match_pci(&tab, 0x1af4, 0x1042, 0);
    ASSERT_NOT_NULL(r);
    EXPECT_STREQ(r->path, "/bin/virtio-blk");
    // Transitional ids map to the modern rule.
    r = drivers_match_pci(&tab, 0x1af4, 0x1005, VIRTIO_ID_RNG);
    ASSERT_NOT_NULL(r);
    EXPECT_STREQ(r->path, "/bin/virtio-rng");
    r = drivers_match_pci(&tab, 0x1af4, 0x1000, 0);
    ASSERT_NOT_NULL(r);
    EXPECT_STREQ(r->path, "/bin/virtio-net");
    EXPECT_NULL(drivers_match_pci(&tab, 0x1af4, 0x1003, VIRTIO_ID_CONSOLE));
    EXPECT_NULL(drivers_match_pci(&tab, 0x8086, 0x29c0, 0));
    EXPECT_NULL(drivers_match_pci(&tab, 0x1af4, 0x1050, 0));
}

KTEST_SUITE(devmgr_discover, KTEST_CASE(devmgr_cmdline_entries),
            KTEST_CASE(devmgr_cmdline_malformed), KTEST_CASE(devmgr_vmmio_probe),
            KTEST_CASE(devmgr_pci_enumerate), KTEST_CASE(devmgr_pci_names));
KTEST_SUITE(devmgr_drivers, KTEST_CASE(devmgr_drivers_parse), KTEST_CASE(devmgr_drivers_match));
