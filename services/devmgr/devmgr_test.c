// Host tests of the device manager's logic (devmgr.h): command-line
// virtio-mmio windows, virtio-mmio probing, PCI enumeration over a fake
// q35-like configuration space, the driver table and matching.
#include <stdio.h>
#include <stdlib.h>
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

// ---- virtio-mmio from the ACPI DSDT ----

// The DSDT of QEMU 7.2 microvm (ACPI on) with a virtio-blk-device and a
// virtio-rng-device, read from guest memory: the serial port, RTC, GED
// (with an OperationRegion, Field and _EVT method), power button, two
// LNRO0005 devices VR23 and VR22, \_S5_.
static const uint8_t qemu_microvm_dsdt[] = {
    0x44, 0x53, 0x44, 0x54, 0xd8, 0x01, 0x00, 0x00, 0x02, 0x0d, 0x42, 0x4f, 0x43, 0x48, 0x53, 0x20,
    0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43,
    0x01, 0x00, 0x00, 0x00, 0x10, 0x42, 0x1a, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x2e, 0x46, 0x57,
    0x43, 0x46, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x51, 0x45, 0x4d, 0x55, 0x30, 0x30, 0x30, 0x32,
    0x00, 0x08, 0x5f, 0x53, 0x54, 0x41, 0x0a, 0x0b, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x0d, 0x0a,
    0x0a, 0x47, 0x01, 0x10, 0x05, 0x10, 0x05, 0x01, 0x0c, 0x79, 0x00, 0x5b, 0x82, 0x32, 0x43, 0x4f,
    0x4d, 0x31, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x05, 0x01, 0x08, 0x5f, 0x55, 0x49,
    0x44, 0x01, 0x08, 0x5f, 0x53, 0x54, 0x41, 0x0a, 0x0f, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x10,
    0x0a, 0x0d, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00, 0x5b,
    0x82, 0x25, 0x52, 0x54, 0x43, 0x5f, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0b, 0x00,
    0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x10, 0x0a, 0x0d, 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01,
    0x08, 0x22, 0x00, 0x01, 0x79, 0x00, 0x5b, 0x82, 0x4c, 0x06, 0x47, 0x45, 0x44, 0x5f, 0x08, 0x5f,
    0x48, 0x49, 0x44, 0x0d, 0x41, 0x43, 0x50, 0x49, 0x30, 0x30, 0x31, 0x33, 0x00, 0x08, 0x5f, 0x55,
    0x49, 0x44, 0x0d, 0x47, 0x45, 0x44, 0x00, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x0e, 0x0a, 0x0b,
    0x89, 0x06, 0x00, 0x03, 0x01, 0x09, 0x00, 0x00, 0x00, 0x79, 0x00, 0x5b, 0x80, 0x45, 0x52, 0x45,
    0x47, 0x00, 0x0c, 0x00, 0x00, 0xa0, 0xfe, 0x0a, 0x04, 0x5b, 0x81, 0x0b, 0x45, 0x52, 0x45, 0x47,
    0x43, 0x45, 0x53, 0x45, 0x4c, 0x20, 0x14, 0x1d, 0x5f, 0x45, 0x56, 0x54, 0x09, 0x70, 0x45, 0x53,
    0x45, 0x4c, 0x60, 0xa0, 0x10, 0x93, 0x7b, 0x60, 0x0a, 0x02, 0x00, 0x0a, 0x02, 0x86, 0x50, 0x57,
    0x52, 0x42, 0x0a, 0x80, 0x5b, 0x82, 0x19, 0x50, 0x57, 0x52, 0x42, 0x08, 0x5f, 0x48, 0x49, 0x44,
    0x0d, 0x50, 0x4e, 0x50, 0x30, 0x43, 0x30, 0x43, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x00, 0x5b,
    0x82, 0x42, 0x04, 0x56, 0x52, 0x32, 0x33, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c, 0x4e, 0x52,
    0x4f, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x0a, 0x17, 0x08, 0x5f, 0x43,
    0x43, 0x41, 0x01, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17, 0x86, 0x09, 0x00, 0x01,
    0x00, 0x2e, 0xb0, 0xfe, 0x00, 0x02, 0x00, 0x00, 0x89, 0x06, 0x00, 0x01, 0x01, 0x2f, 0x00, 0x00,
    0x00, 0x79, 0x00, 0x5b, 0x82, 0x42, 0x04, 0x56, 0x52, 0x32, 0x32, 0x08, 0x5f, 0x48, 0x49, 0x44,
    0x0d, 0x4c, 0x4e, 0x52, 0x4f, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x0a,
    0x16, 0x08, 0x5f, 0x43, 0x43, 0x41, 0x01, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17,
    0x86, 0x09, 0x00, 0x01, 0x00, 0x2c, 0xb0, 0xfe, 0x00, 0x02, 0x00, 0x00, 0x89, 0x06, 0x00, 0x01,
    0x01, 0x2e, 0x00, 0x00, 0x00, 0x79, 0x00, 0x10, 0x10, 0x5c, 0x00, 0x08, 0x5f, 0x53, 0x35, 0x5f,
    0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00,
};

static void devmgr_acpi_qemu_microvm(struct ktest *t)
{
    struct vmmio_window w[4];
    struct acpi_vmmio_scan sc;
    size_t n;
    char err[DEVMGR_ERR_MAX];
    ASSERT_OK(acpi_dsdt_vmmio(qemu_microvm_dsdt, sizeof(qemu_microvm_dsdt), w, 4, &n, &sc, err,
                              sizeof(err)));
    EXPECT_STREQ(err, "");
    EXPECT_EQ(sc.skipped, 0u);
    EXPECT_EQ(sc.bad, 0u);
    EXPECT_EQ(sc.devices, 2u);
    ASSERT_EQ(n, 2u);
    EXPECT_EQ(w[0].base, 0xfeb02e00ull);
    EXPECT_EQ(w[0].size, 0x200ull);
    EXPECT_EQ(w[0].irq, 47u);
    EXPECT_EQ(w[0].id, 23u);
    EXPECT_EQ(w[1].base, 0xfeb02c00ull);
    EXPECT_EQ(w[1].irq, 46u);
    EXPECT_EQ(w[1].id, 22u);
    // Room for one: the other is counted.
    ASSERT_OK(acpi_dsdt_vmmio(qemu_microvm_dsdt, sizeof(qemu_microvm_dsdt), w, 1, &n, &sc, err,
                              sizeof(err)));
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(sc.dropped, 1u);
    EXPECT_TRUE(strstr(err, "more than 1") != NULL);
}

// A DSDT built byte by byte. Objects with a PkgLength are opened (the
// opcode written, the body's start remembered) and closed (the length
// encoded in front of the body, in the fewest bytes or in `force` bytes).
struct aml {
    uint8_t b[8192];
    size_t n;
    size_t open[32];
    unsigned depth;
    size_t ends[4]; // where build_rich's top-level objects end
};

static void aml_bytes(struct aml *a, const void *p, size_t n)
{
    memcpy(a->b + a->n, p, n);
    a->n += n;
}

static void aml_u8(struct aml *a, uint8_t v)
{
    a->b[a->n++] = v;
}

static void aml_u16(struct aml *a, uint16_t v)
{
    aml_u8(a, (uint8_t)v);
    aml_u8(a, (uint8_t)(v >> 8));
}

static void aml_u32(struct aml *a, uint32_t v)
{
    aml_u16(a, (uint16_t)v);
    aml_u16(a, (uint16_t)(v >> 16));
}

static void aml_open(struct aml *a, uint8_t op)
{
    if (op == 0x82)
        aml_u8(a, 0x5b); // DeviceOp is 5B 82
    aml_u8(a, op);
    a->open[a->depth++] = a->n;
}

// Closes the innermost object; `force` (1-4, or 0 for the fewest) bytes of
// PkgLength, plus `delta` added to the encoded value (to corrupt it).
static void aml_close_as(struct aml *a, unsigned force, int delta)
{
    size_t start = a->open[--a->depth], body = a->n - start;
    unsigned hdr = force ? force : body + 1 < 0x40 ? 1 : body + 2 < 0x1000 ? 2 : 3;
    uint32_t v = (uint32_t)((int)(body + hdr) + delta);
    memmove(a->b + start + hdr, a->b + start, body);
    if (hdr == 1) {
        a->b[start] = (uint8_t)v;
    } else {
        a->b[start] = (uint8_t)((hdr - 1) << 6 | (v & 0x0f));
        for (unsigned i = 1; i < hdr; i++)
            a->b[start + i] = (uint8_t)(v >> (4 + 8 * (i - 1)));
    }
    a->n += hdr;
}

static void aml_close(struct aml *a)
{
    aml_close_as(a, 0, 0);
}

static void aml_begin(struct aml *a)
{
    memset(a, 0, sizeof(*a));
    aml_bytes(a, "DSDT", 4);
    aml_u32(a, 0);
    aml_u8(a, 2);
    aml_u8(a, 0);
    aml_bytes(a, "NIMBUSTESTDSDT  ", 14); // OEM id and table id
    aml_u32(a, 1);
    aml_bytes(a, "NBTC", 4);
    aml_u32(a, 1);
}

// Sets the length field and the checksum over the first `len` bytes.
static void aml_seal(struct aml *a, size_t len)
{
    uint8_t sum = 0;
    a->b[4] = (uint8_t)len;
    a->b[5] = (uint8_t)(len >> 8);
    a->b[6] = (uint8_t)(len >> 16);
    a->b[7] = (uint8_t)(len >> 24);
    a->b[9] = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + a->b[i]);
    a->b[9] = (uint8_t)-sum;
}

static void aml_end(struct aml *a)
{
    aml_seal(a, a->n);
}

static void aml_name_string(struct aml *a, const char *path)
{
    aml_bytes(a, path, strlen(path));
}

static void aml_string_name(struct aml *a, const char *seg, const char *value)
{
    aml_u8(a, 0x08);
    aml_bytes(a, seg, 4);
    aml_u8(a, 0x0d);
    aml_bytes(a, value, strlen(value) + 1);
}

static void aml_int_name(struct aml *a, const char *seg, uint8_t v)
{
    aml_u8(a, 0x08);
    aml_bytes(a, seg, 4);
    aml_u8(a, 0x0a);
    aml_u8(a, v);
}

static void res_mem32f(struct aml *a, uint32_t base, uint32_t size)
{
    aml_u8(a, 0x86);
    aml_u16(a, 9);
    aml_u8(a, 1); // read-write
    aml_u32(a, base);
    aml_u32(a, size);
}

static void res_extirq(struct aml *a, uint32_t gsi)
{
    aml_u8(a, 0x89);
    aml_u16(a, 6);
    aml_u8(a, 0x01); // consumer, level, active high
    aml_u8(a, 1);
    aml_u32(a, gsi);
}

static void res_end(struct aml *a)
{
    aml_u8(a, 0x79);
    aml_u8(a, 0);
}

// Opens Name(_CRS, Buffer(size) {...}); close with aml_close. size 0: the
// bytes' count (patched by crs_close).
static size_t crs_open(struct aml *a)
{
    aml_u8(a, 0x08);
    aml_bytes(a, "_CRS", 4);
    aml_open(a, 0x11);
    aml_u8(a, 0x0a);
    aml_u8(a, 0);
    return a->n;
}

// Closes the buffer; its declared size is the bytes written less `shrink`.
static void crs_close(struct aml *a, size_t start, size_t shrink)
{
    a->b[start - 1] = (uint8_t)(a->n - start - shrink);
    aml_close(a);
}

// Device(name) { _HID "LNRO0005", _UID uid, _CRS { Memory32Fixed, Interrupt } }
static void vmmio_device(struct aml *a, const char *name, uint32_t base, uint32_t gsi, uint8_t uid)
{
    aml_open(a, 0x82);
    aml_name_string(a, name);
    aml_string_name(a, "_HID", "LNRO0005");
    aml_int_name(a, "_UID", uid);
    size_t c = crs_open(a);
    res_mem32f(a, base, 0x200);
    res_extirq(a, gsi);
    res_end(a);
    crs_close(a, c, 0);
    aml_close(a);
}

struct scan_result {
    status_t st;
    size_t n;
    struct acpi_vmmio_scan sc;
    struct vmmio_window w[8];
    char err[DEVMGR_ERR_MAX];
};

// Scans a copy of the first len bytes in a buffer of exactly that size (so
// that the address sanitizer sees any read past it).
static struct scan_result *scan(const struct aml *a, size_t len, size_t max)
{
    static struct scan_result r;
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, a->b, len);
    memset(&r, 0, sizeof(r));
    r.st = acpi_dsdt_vmmio(copy, len, r.w, max, &r.n, &r.sc, r.err, sizeof(r.err));
    free(copy);
    return &r;
}

// Like QEMU's layout with more around it: \_SB with a serial port (EISA id),
// a method, an operation region and field, a mutex, an alias, a transport,
// a PCI-like device holding a transport (found by nesting), an If block
// holding a transport (not looked into), a Scope by a dual name path with a
// transport in a 2-byte PkgLength, and a top-level \_S5_ package.
static void build_rich(struct aml *a)
{
    aml_begin(a);
    aml_open(a, 0x10);
    aml_name_string(a, "\\_SB_");
    aml_open(a, 0x82);
    aml_name_string(a, "COM1");
    aml_u8(a, 0x08);
    aml_bytes(a, "_HID", 4);
    aml_u8(a, 0x0c);
    aml_u32(a, 0x0105d041); // EISAID("PNP0501")
    size_t c = crs_open(a);
    static const uint8_t io[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00};
    aml_bytes(a, io, sizeof(io));
    res_end(a);
    crs_close(a, c, 0);
    aml_close(a);
    aml_open(a, 0x14); // Method(_EVT, 1) { Store(Zero, Local0) }
    aml_bytes(a, "_EVT\x01\x70\x00\x60", 8);
    aml_close(a);
    static const uint8_t region[] = {0x5b, 0x80, 'E',  'R',  'E',  'G',  0x00,
                                     0x0c, 0x00, 0x00, 0xa0, 0xfe, 0x0a, 0x04};
    aml_bytes(a, region, sizeof(region));
    aml_u8(a, 0x5b);
    aml_open(a, 0x81);
    aml_bytes(a,
              "EREG\x01"
              "ESEL\x20",
              10);
    aml_close(a);
    aml_bytes(a, "\x5b\x01MTX0\x00", 7); // Mutex(MTX0, 0)
    aml_bytes(a,
              "\x06\\\x2e_SB_MTX0"
              "MTXA",
              15); // Alias(\_SB.MTX0, MTXA)
    vmmio_device(a, "VR00", 0xfeb00000, 16, 0);
    aml_open(a, 0x82);
    aml_name_string(a, "PCI0");
    aml_string_name(a, "_HID", "PNP0A08");
    vmmio_device(a, "VR01", 0xfeb00200, 17, 1);
    aml_close(a);
    aml_open(a, 0xa0); // If (One) { Device(VRIF) ... }: not followed
    aml_u8(a, 0x01);
    vmmio_device(a, "VRIF", 0xfeb00f00, 30, 9);
    aml_close(a);
    aml_close(a);
    a->ends[0] = a->n; // \_SB_: 2 transports
    aml_open(a, 0x10);
    aml_name_string(a, "\\\x2e_SB_PCI0");
    aml_u8(a, 0x08); // Name(PAD0, Buffer(100) {}): makes the scope need 2 PkgLength bytes
    aml_bytes(a, "PAD0", 4);
    aml_open(a, 0x11);
    aml_u8(a, 0x0a);
    aml_u8(a, 100);
    for (int i = 0; i < 100; i++)
        aml_u8(a, (uint8_t)i);
    aml_close(a);
    vmmio_device(a, "VR02", 0xfeb00400, 18, 2);
    aml_close(a);
    a->ends[1] = a->n; // \_SB_.PCI0: 1 more
    aml_u8(a, 0x08);   // Name(\_S5_, Package() {5, 0})
    aml_bytes(a, "\\_S5_", 5);
    aml_open(a, 0x12);
    aml_bytes(a, "\x02\x0a\x05\x00", 4);
    aml_close(a);
    a->ends[2] = a->n;
    aml_bytes(a, "\x08QWRD\x0e\x01\x02\x03\x04\x05\x06\x07\x08", 14); // a QWord constant last
    aml_end(a);
}

static void devmgr_acpi_built(struct ktest *t)
{
    static struct aml a;
    build_rich(&a);
    struct scan_result *r = scan(&a, a.n, 8);
    ASSERT_OK(r->st);
    EXPECT_STREQ(r->err, "");
    EXPECT_EQ(r->sc.skipped, 0u);
    EXPECT_EQ(r->sc.devices, 3u);
    ASSERT_EQ(r->n, 3u);
    EXPECT_EQ(r->w[0].base, 0xfeb00000ull);
    EXPECT_EQ(r->w[0].irq, 16u);
    EXPECT_EQ(r->w[1].base, 0xfeb00200ull);
    EXPECT_EQ(r->w[1].irq, 17u);
    EXPECT_EQ(r->w[1].id, 1u);
    EXPECT_EQ(r->w[2].base, 0xfeb00400ull);
    EXPECT_EQ(r->w[2].size, 0x200ull);
    EXPECT_EQ(r->w[2].irq, 18u);
    EXPECT_EQ(r->w[2].id, 2u);

    // Only an empty table: nothing, no complaint.
    aml_begin(&a);
    aml_end(&a);
    r = scan(&a, a.n, 8);
    EXPECT_OK(r->st);
    EXPECT_EQ(r->n, 0u);
    EXPECT_EQ(r->sc.devices, 0u);
    EXPECT_STREQ(r->err, "");

    // A near-miss _HID, an EISA-id _HID, a _CID: not transports.
    aml_begin(&a);
    static const char *const hids[] = {"LNRO000", "LNRO00050", "lnro0005"};
    for (size_t i = 0; i < 3; i++) {
        aml_open(&a, 0x82);
        aml_name_string(&a, "DEVX");
        aml_string_name(&a, "_HID", hids[i]);
        aml_string_name(&a, "_CID", "LNRO0005");
        aml_close(&a);
    }
    aml_end(&a);
    r = scan(&a, a.n, 8);
    EXPECT_OK(r->st);
    EXPECT_EQ(r->n, 0u);
    EXPECT_EQ(r->sc.devices, 0u);
    EXPECT_EQ(r->sc.skipped, 0u);
}

// Every 2-, 3- and 4-byte PkgLength encoding of the same device is read the
// same.
static void devmgr_acpi_pkglength_forms(struct ktest *t)
{
    static struct aml a;
    for (unsigned form = 1; form <= 4; form++) {
        aml_begin(&a);
        aml_open(&a, 0x82);
        aml_name_string(&a, "VR07");
        aml_string_name(&a, "_HID", "LNRO0005");
        size_t c = crs_open(&a);
        res_mem32f(&a, 0xd0000000, 0x1000);
        res_extirq(&a, 40);
        res_end(&a);
        crs_close(&a, c, 0);
        aml_close_as(&a, form, 0);
        aml_end(&a);
        struct scan_result *r = scan(&a, a.n, 8);
        EXPECT_OK(r->st);
        EXPECT_EQ(r->n, 1u);
        EXPECT_EQ(r->w[0].base, 0xd0000000ull);
        EXPECT_EQ(r->w[0].size, 0x1000ull);
        EXPECT_EQ(r->w[0].irq, 40u);
    }
    // A multi-byte form with the reserved bits 5:4 set is malformed.
    aml_begin(&a);
    vmmio_device(&a, "VR08", 0x1000, 5, 0);
    size_t dev = ACPI_HEADER_LEN + 2; // the device's PkgLength
    ASSERT_EQ(a.b[dev] >> 6, 0);
    aml_end(&a);
    ASSERT_EQ(scan(&a, a.n, 8)->n, 1u);
    aml_begin(&a);
    aml_open(&a, 0x82);
    aml_name_string(&a, "VR08");
    aml_string_name(&a, "_HID", "LNRO0005");
    aml_close_as(&a, 2, 0);
    a.b[dev] |= 0x10;
    aml_end(&a);
    struct scan_result *r = scan(&a, a.n, 8);
    EXPECT_EQ(r->sc.devices, 0u);
    EXPECT_EQ(r->sc.skipped, 1u);
    EXPECT_TRUE(strstr(r->err, "bad PkgLength") != NULL);
    // A PkgLength smaller than its own encoding (0, or 1 in the 2-byte form).
    for (unsigned form = 1; form <= 2; form++) {
        aml_begin(&a);
        aml_open(&a, 0x82);
        aml_name_string(&a, "VR09");
        aml_close_as(&a, form, -(int)(a.n - a.open[0]) - 1);
        aml_end(&a);
        r = scan(&a, a.n, 8);
        EXPECT_EQ(r->sc.skipped, 1u);
        if (!strstr(r->err, "bad PkgLength"))
            KTEST_FAIL_(t, "form %u: '%s'", form, r->err);
    }
}

// Cut anywhere (with a header made valid for the shorter length), the
// table is read without a fault and yields exactly the transports of the
// top-level objects wholly inside; a cut inside an object is reported.
static void devmgr_acpi_truncated(struct ktest *t)
{
    static struct aml a, cut;
    build_rich(&a);
    size_t full = a.n;
    for (size_t len = ACPI_HEADER_LEN; len <= full; len++) {
        cut = a;
        aml_seal(&cut, len);
        struct scan_result *r = scan(&cut, len, 8);
        if (r->st != OK) {
            KTEST_FAIL_(t, "cut at %zu: %s", len, status_str(r->st));
            continue;
        }
        size_t want = len >= a.ends[1] ? 3 : len >= a.ends[0] ? 2 : 0;
        bool boundary = len == ACPI_HEADER_LEN || len == a.ends[0] || len == a.ends[1] ||
                        len == a.ends[2] || len == full;
        if (r->n != want)
            KTEST_FAIL_(t, "cut at %zu: %zu windows, not %zu", len, r->n, want);
        if (boundary != (r->sc.skipped == 0))
            KTEST_FAIL_(t, "cut at %zu: %u lists skipped", len, r->sc.skipped);
        for (size_t i = 0; i < r->n; i++)
            if (r->w[i].size != 0x200)
                KTEST_FAIL_(t, "cut at %zu: window %zu of size %llu", len, i,
                            (unsigned long long)r->w[i].size);
    }
    // The header's length field says how much to read, not the buffer.
    aml_seal(&a, full);
    struct scan_result *r = scan(&a, full - 1, 8);
    EXPECT_STATUS(r->st, ERR_BAD_FORMAT);
    EXPECT_TRUE(strstr(r->err, "length") != NULL);
}

// Each kind of term the scanner steps over, alone at the end of the table
// and cut short anywhere: reported, and never read past.
static void devmgr_acpi_term_cuts(struct ktest *t)
{
    static struct aml a;
    static const struct {
        const char *bytes;
        size_t len;
    } terms[] = {
        {"\x5b\x80REG0\x00\x0c\x00\x00\xa0\xfe\x0a\x04", 14}, // OperationRegion
        {"\x5b\x01MTX0\x00", 7},                              // Mutex
        {"\x5b\x02"
         "EVT0",
         6},                            // Event
        {"\x06\\\x2e_SB_MTX0MTXA", 15}, // Alias
        {"\x15^^\x2f\x03"
         "ABCDEFGHIJKL\x08\x01",
         19}, // External, multi-name
        {"\x08NAM0\x0d"
         "abc\x00",
         10},                            // Name(NAM0, "abc")
        {"\x08NAM1\x5b\x30", 7},         // Name(NAM1, Revision)
        {"\x14\x08MTH0\x00\xa4\x00", 9}, // Method: skipped whole
        {"\x10\x05\\\x00\xa3", 5},       // Scope(\) { Noop }
    };
    for (size_t k = 0; k < sizeof(terms) / sizeof(terms[0]); k++) {
        for (size_t cut = 1; cut <= terms[k].len; cut++) {
            aml_begin(&a);
            aml_bytes(&a, terms[k].bytes, cut);
            aml_end(&a);
            struct scan_result *r = scan(&a, a.n, 8);
            bool whole = cut == terms[k].len;
            // (Scope(\) holds a Noop the scanner does not know: skipped.)
            unsigned want = k == 8 ? 1 : !whole;
            if (r->st != OK || r->sc.skipped != want)
                KTEST_FAIL_(t, "term %zu cut at %zu: %s, %u skipped", k, cut, status_str(r->st),
                            r->sc.skipped);
        }
    }
}

// A Device's PkgLength exactly to its parent's end is fine; one byte more
// runs past it; one byte less cuts its _CRS.
static void devmgr_acpi_nesting_lengths(struct ktest *t)
{
    static struct aml a;
    for (int delta = -1; delta <= 1; delta++) {
        aml_begin(&a);
        aml_open(&a, 0x10);
        aml_name_string(&a, "_SB_");
        aml_open(&a, 0x82);
        aml_name_string(&a, "VR00");
        aml_string_name(&a, "_HID", "LNRO0005");
        size_t c = crs_open(&a);
        res_mem32f(&a, 0x2000, 0x200);
        res_extirq(&a, 9);
        res_end(&a);
        crs_close(&a, c, 0);
        aml_close_as(&a, 0, delta);
        aml_close(&a);
        vmmio_device(&a, "VR01", 0x3000, 10, 1); // after the scope: always found
        aml_end(&a);
        struct scan_result *r = scan(&a, a.n, 8);
        ASSERT_OK(r->st);
        if (delta == 0) {
            EXPECT_EQ(r->n, 2u);
            EXPECT_EQ(r->sc.skipped, 0u);
            EXPECT_STREQ(r->err, "");
            continue;
        }
        ASSERT_EQ(r->n, 1u);
        EXPECT_EQ(r->w[0].base, 0x3000ull);
        if (delta > 0) {
            EXPECT_EQ(r->sc.devices, 1u);
            EXPECT_EQ(r->sc.skipped, 1u);
            EXPECT_TRUE(strstr(r->err, "runs past its parent") != NULL);
        } else {
            // The device ends inside its _CRS buffer: that Name is malformed
            // (the list stops) and the device has no _CRS.
            EXPECT_EQ(r->sc.devices, 2u);
            EXPECT_EQ(r->sc.bad, 1u);
            EXPECT_EQ(r->sc.skipped, 2u); // the device's list, then the scope's
        }
    }
}

// Scope() nested ACPI_DEPTH_MAX deep is followed; one more is skipped whole,
// and the walk goes on after it.
static void devmgr_acpi_depth(struct ktest *t)
{
    static struct aml a;
    for (unsigned levels = ACPI_DEPTH_MAX - 1; levels <= ACPI_DEPTH_MAX; levels++) {
        aml_begin(&a);
        for (unsigned i = 0; i < levels; i++) {
            aml_open(&a, 0x10);
            aml_name_string(&a, "SCOP");
        }
        vmmio_device(&a, "VR00", 0x4000, 11, 0);
        for (unsigned i = 0; i < levels; i++)
            aml_close(&a);
        vmmio_device(&a, "VR01", 0x5000, 12, 1);
        aml_end(&a);
        struct scan_result *r = scan(&a, a.n, 8);
        ASSERT_OK(r->st);
        if (levels < ACPI_DEPTH_MAX) {
            EXPECT_EQ(r->n, 2u);
            EXPECT_EQ(r->sc.skipped, 0u);
        } else {
            ASSERT_EQ(r->n, 1u);
            EXPECT_EQ(r->w[0].base, 0x5000ull);
            EXPECT_EQ(r->sc.skipped, 1u);
            EXPECT_TRUE(strstr(r->err, "nested deeper than 16") != NULL);
        }
    }
    // Unknown opcodes stop their own list only.
    aml_begin(&a);
    aml_open(&a, 0x10);
    aml_name_string(&a, "_SB_");
    aml_bytes(&a, "\x70\x01\x60", 3); // Store(One, Local0) at scope level
    vmmio_device(&a, "VR00", 0x4000, 11, 0);
    aml_close(&a);
    vmmio_device(&a, "VR01", 0x5000, 12, 1);
    aml_end(&a);
    struct scan_result *r = scan(&a, a.n, 8);
    ASSERT_OK(r->st);
    ASSERT_EQ(r->n, 1u);
    EXPECT_EQ(r->w[0].base, 0x5000ull);
    EXPECT_EQ(r->sc.skipped, 1u);
    EXPECT_TRUE(strstr(r->err, "opcode 0x70") != NULL);
}

// One device whose _CRS is written by `body`, scanned.
static struct scan_result *scan_crs(struct aml *a, void (*body)(struct aml *), size_t shrink)
{
    aml_begin(a);
    aml_open(a, 0x82);
    aml_name_string(a, "VR00");
    aml_string_name(a, "_HID", "LNRO0005");
    if (body) {
        size_t c = crs_open(a);
        body(a);
        crs_close(a, c, shrink);
    }
    aml_close(a);
    aml_end(a);
    return scan(a, a->n, 8);
}

static void crs_good(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    res_extirq(a, 13);
    res_end(a);
}
static void crs_no_end(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    res_extirq(a, 13);
}
static void crs_no_irq(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    res_end(a);
}
static void crs_no_mem(struct aml *a)
{
    res_extirq(a, 13);
    res_end(a);
}
static void crs_two_mem(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    res_mem32f(a, 0x7000, 0x200);
    res_extirq(a, 13);
    res_end(a);
}
static void crs_two_irq(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    res_extirq(a, 13);
    res_extirq(a, 14);
    res_end(a);
}
static void crs_size0(struct aml *a)
{
    res_mem32f(a, 0x6000, 0);
    res_extirq(a, 13);
    res_end(a);
}
static void crs_mem_short(struct aml *a)
{
    aml_bytes(a, "\x86\x08\x00\x01\x00\x60\x00\x00\x00\x02\x00", 11); // length 8
    res_extirq(a, 13);
    res_end(a);
}
static void crs_irq_count0(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    aml_bytes(a, "\x89\x06\x00\x01\x00\x0d\x00\x00\x00", 9);
    res_end(a);
}
static void crs_irq_count_long(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    // 2 interrupts in 8 bytes (they need 10)
    aml_bytes(a, "\x89\x08\x00\x01\x02\x0d\x00\x00\x00\x0e\x00", 11);
    res_end(a);
}
static void crs_large_one_past_end(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    aml_bytes(a, "\x89\x06\x00\x01\x01\x0d\x00\x00", 8); // 5 of its 6 bytes
}
static void crs_large_past_end(struct aml *a)
{
    res_mem32f(a, 0x6000, 0x200);
    aml_bytes(a, "\x89\x40\x00\x01\x01", 5);
}
static void crs_small_irq(struct aml *a)
{
    aml_bytes(a, "\x22\x00\x20", 3); // IRQ descriptor: IRQ 13
    res_mem32f(a, 0x6000, 0x200);
    res_end(a);
}

static void devmgr_acpi_crs(struct ktest *t)
{
    static struct aml a;
    static const struct {
        void (*body)(struct aml *);
        size_t shrink;
        const char *msg; // NULL: accepted
    } cases[] = {
        {crs_good, 0, NULL},
        {crs_small_irq, 0, NULL},
        {NULL, 0, "no Name(_CRS"},
        {crs_no_end, 0, "no End Tag"},
        {crs_good, 1, "runs past the buffer"}, // the size ends before the End Tag's checksum
        {crs_good, 2, "no End Tag"},
        {crs_no_irq, 0, "no interrupt"},
        {crs_no_mem, 0, "no Memory32Fixed"},
        {crs_two_mem, 0, "more than one memory"},
        {crs_two_irq, 0, "more than one interrupt"},
        {crs_size0, 0, "size 0"},
        {crs_mem_short, 0, "wrong length"},
        {crs_irq_count0, 0, "malformed Extended Interrupt"},
        {crs_irq_count_long, 0, "malformed Extended Interrupt"},
        {crs_large_past_end, 0, "runs past the buffer"},
        {crs_large_one_past_end, 0, "runs past the buffer"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct scan_result *r = scan_crs(&a, cases[i].body, cases[i].shrink);
        if (r->st != OK || r->sc.devices != 1) {
            KTEST_FAIL_(t, "case %zu: %s, %u devices", i, status_str(r->st), r->sc.devices);
            continue;
        }
        if (!cases[i].msg) {
            EXPECT_EQ(r->n, 1u);
            EXPECT_EQ(r->w[0].base, 0x6000ull);
            EXPECT_EQ(r->w[0].irq, 13u);
            EXPECT_EQ(r->sc.bad, 0u);
            continue;
        }
        EXPECT_EQ(r->n, 0u);
        EXPECT_EQ(r->sc.bad, 1u);
        if (!strstr(r->err, cases[i].msg) || !strstr(r->err, "LNRO0005"))
            KTEST_FAIL_(t, "case %zu: message '%s' lacks '%s'", i, r->err, cases[i].msg);
    }
}

static void devmgr_acpi_header(struct ktest *t)
{
    static struct aml a;
    build_rich(&a);
    size_t full = a.n;
    struct scan_result *r = scan(&a, full, 8);
    ASSERT_OK(r->st);

    a.b[0] = 'S'; // "SSDT"
    aml_seal(&a, full);
    r = scan(&a, full, 8);
    EXPECT_STATUS(r->st, ERR_BAD_FORMAT);
    EXPECT_TRUE(strstr(r->err, "signature") != NULL);
    EXPECT_EQ(r->n, 0u);
    a.b[0] = 'D';

    aml_seal(&a, full);
    a.b[40]++; // a byte of the body
    r = scan(&a, full, 8);
    EXPECT_STATUS(r->st, ERR_BAD_FORMAT);
    EXPECT_TRUE(strstr(r->err, "checksum") != NULL);
    a.b[40]--;

    aml_seal(&a, ACPI_HEADER_LEN - 1);
    r = scan(&a, full, 8);
    EXPECT_STATUS(r->st, ERR_BAD_FORMAT);
    EXPECT_TRUE(strstr(r->err, "length") != NULL);
    aml_seal(&a, ACPI_HEADER_LEN); // a header alone is a valid, empty table
    r = scan(&a, full, 8);
    EXPECT_OK(r->st);
    EXPECT_EQ(r->n, 0u);
    aml_seal(&a, full);
    a.b[6] = 0x20; // 2 MiB and more
    r = scan(&a, full, 8);
    EXPECT_STATUS(r->st, ERR_BAD_FORMAT);

    r = scan(&a, ACPI_HEADER_LEN - 1, 8);
    EXPECT_STATUS(r->st, ERR_BAD_FORMAT);
    EXPECT_TRUE(strstr(r->err, "shorter") != NULL);
}

static void devmgr_vmmio_merge(struct ktest *t)
{
    struct vmmio_window list[4] = {
        {.base = 0xfeb02c00, .size = 0x200, .irq = 46},
    };
    const struct vmmio_window acpi[] = {
        {.base = 0xfeb02c00, .size = 0x200, .irq = 46, .id = 22}, // the same
        {.base = 0xfeb02e00, .size = 0x200, .irq = 47, .id = 23}, // new
        {.base = 0xfeb02d00, .size = 0x200, .irq = 48},           // overlaps the first
        {.base = 0xfeb02e00, .size = 0x200, .irq = 49},           // same base, other interrupt
        {.base = 0xfeb02a00, .size = 0x200, .irq = 44},           // ends where the first begins
        {.base = 0xfeb03000, .size = 0x200, .irq = 50},           // new
        {.base = 0xfeb03200, .size = 0x200, .irq = 51},           // no room
    };
    struct vmmio_merge_stats st = {0};
    size_t n = vmmio_merge(list, 1, 4, acpi, sizeof(acpi) / sizeof(acpi[0]), &st);
    ASSERT_EQ(n, 4u);
    EXPECT_EQ(list[0].id, 0u); // the first listed is kept
    EXPECT_EQ(list[1].base, 0xfeb02e00ull);
    EXPECT_EQ(list[1].id, 23u);
    EXPECT_EQ(list[2].base, 0xfeb02a00ull);
    EXPECT_EQ(list[3].base, 0xfeb03000ull);
    EXPECT_EQ(st.duplicates, 1u);
    EXPECT_EQ(st.conflicts, 2u);
    EXPECT_EQ(st.dropped, 1u);
    // The command line and ACPI of the same machine: one device each.
    struct vmmio_window cl[VMMIO_MAX], dsdt[4];
    unsigned bad;
    char err[DEVMGR_ERR_MAX];
    size_t ncl = vmmio_parse_cmdline("virtio_mmio.device=512@0xfeb02e00:47:23 "
                                     "virtio_mmio.device=512@0xfeb02c00:46:22",
                                     cl, VMMIO_MAX, &bad, err, sizeof(err));
    ASSERT_EQ(ncl, 2u);
    struct acpi_vmmio_scan sc;
    size_t nd;
    ASSERT_OK(acpi_dsdt_vmmio(qemu_microvm_dsdt, sizeof(qemu_microvm_dsdt), dsdt, 4, &nd, &sc, err,
                              sizeof(err)));
    st = (struct vmmio_merge_stats){0};
    EXPECT_EQ(vmmio_merge(cl, ncl, VMMIO_MAX, dsdt, nd, &st), 2u);
    EXPECT_EQ(st.duplicates, 2u);
    EXPECT_EQ(st.conflicts, 0u);
}

KTEST_SUITE(devmgr_discover, KTEST_CASE(devmgr_cmdline_entries),
            KTEST_CASE(devmgr_cmdline_malformed), KTEST_CASE(devmgr_vmmio_probe),
            KTEST_CASE(devmgr_pci_enumerate), KTEST_CASE(devmgr_pci_names));
KTEST_SUITE(devmgr_acpi, KTEST_CASE(devmgr_acpi_qemu_microvm), KTEST_CASE(devmgr_acpi_built),
            KTEST_CASE(devmgr_acpi_pkglength_forms), KTEST_CASE(devmgr_acpi_truncated),
            KTEST_CASE(devmgr_acpi_term_cuts), KTEST_CASE(devmgr_acpi_nesting_lengths),
            KTEST_CASE(devmgr_acpi_depth), KTEST_CASE(devmgr_acpi_crs),
            KTEST_CASE(devmgr_acpi_header), KTEST_CASE(devmgr_vmmio_merge));
KTEST_SUITE(devmgr_drivers, KTEST_CASE(devmgr_drivers_parse), KTEST_CASE(devmgr_drivers_match));
