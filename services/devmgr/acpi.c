// virtio-mmio transports from the ACPI DSDT (devmgr.h), for QEMU microvm with
// ACPI on, which lists them only there. No AML interpreter: a walk of the
// table's Scope() and Device() objects with the AML encodings of the ACPI
// specification (chapter 20), every length checked against what encloses it,
// then the _CRS resource template of each "LNRO0005" device (chapter 6.4).
// The bytes come from the kernel, which checked the header at boot; they are
// still treated as untrusted.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devmgr.h"
#include "lib/aml.h"

// AML opcodes and prefixes.
#define AML_ALIAS_OP      0x06
#define AML_NAME_OP       0x08
#define AML_STRING_PREFIX 0x0d
#define AML_SCOPE_OP      0x10
#define AML_BUFFER_OP     0x11
#define AML_PACKAGE_OP    0x12
#define AML_VARPACKAGE_OP 0x13
#define AML_METHOD_OP     0x14
#define AML_EXTERNAL_OP   0x15
#define AML_DUAL_PREFIX   0x2e
#define AML_MULTI_PREFIX  0x2f
#define AML_EXT_PREFIX    0x5b
#define AML_ROOT_CHAR     '\\'
#define AML_PARENT_CHAR   '^'
#define AML_IF_OP         0xa0
#define AML_ELSE_OP       0xa1
#define AML_WHILE_OP      0xa2
// Second bytes after AML_EXT_PREFIX.
#define AML_MUTEX_OP       0x01
#define AML_EVENT_OP       0x02
#define AML_REVISION_OP    0x30
#define AML_REGION_OP      0x80
#define AML_FIELD_OP       0x81
#define AML_DEVICE_OP      0x82
#define AML_PROCESSOR_OP   0x83
#define AML_POWERRES_OP    0x84
#define AML_THERMALZONE_OP 0x85
#define AML_INDEXFIELD_OP  0x86
#define AML_BANKFIELD_OP   0x87

// Resource descriptors (ACPI 6.4).
#define RES_LARGE          0x80 // tag bit 7: a large descriptor
#define RES_SMALL_TYPE(t)  (((t) >> 3) & 0x0f)
#define RES_SMALL_LEN(t)   ((t)&0x07)
#define RES_LARGE_TYPE(t)  ((t)&0x7f)
#define RES_IRQ            0x04 // small: IRQ mask (2 or 3 bytes)
#define RES_END            0x0f // small: End Tag
#define RES_MEMORY32_FIXED 0x06 // large: 9 bytes
#define RES_EXTENDED_IRQ   0x09 // large: at least 6 bytes
#define RES_MEM32F_LEN     9
#define RES_EXTIRQ_MIN     6

#define DSDT_SIG "DSDT"

// One Device() being read: what its own Name() objects said.
struct aml_device {
    bool hid_match;
    bool has_uid;
    uint64_t uid;
    const uint8_t *crs; // the _CRS buffer's initialized bytes (NULL: none seen)
    size_t crs_len;
};

struct aml_walk {
    const uint8_t *table; // for offsets in messages
    struct vmmio_window *out;
    size_t max, n;
    struct acpi_vmmio_scan *scan;
    char *err;
    size_t err_size;
    unsigned notes; // problems described so far
};

static void note(struct aml_walk *w, const uint8_t *at, const char *fmt, ...)
{
    char msg[DEVMGR_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    w->notes++;
    if (w->err && w->err_size)
        snprintf(w->err, w->err_size, "DSDT offset %#zx: %s", (size_t)(at - w->table), msg);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// ---- AML encodings ----

// A PkgLength at p[0..n): its encoded bytes in *hdr and the value (which
// counts those bytes) in *v. False when truncated, malformed or smaller than
// its own encoding.
static bool pkg_length(const uint8_t *p, size_t n, size_t *hdr, size_t *v)
{
    uint32_t x;
    size_t h = aml_pkg_length(p, n, &x);
    if (!h || x < h)
        return false;
    *hdr = h;
    *v = x;
    return true;
}

static bool lead_name_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(uint8_t c)
{
    return lead_name_char(c) || (c >= '0' && c <= '9');
}

// A NameString at p[0..n): the bytes it takes, or 0 if malformed. *single
// says whether it is one NameSeg with no prefix (then copied to seg).
static size_t name_string(const uint8_t *p, size_t n, bool *single, char seg[5])
{
    size_t i = 0;
    bool prefixed = false;
    if (i < n && p[i] == AML_ROOT_CHAR) {
        i++;
        prefixed = true;
    } else {
        while (i < n && p[i] == AML_PARENT_CHAR) {
            i++;
            prefixed = true;
        }
    }
    if (i >= n)
        return 0;
    size_t segs = 1;
    if (p[i] == AML_ZERO_OP) { // NullName
        *single = false;
        return i + 1;
    }
    if (p[i] == AML_DUAL_PREFIX) {
        segs = 2;
        i++;
    } else if (p[i] == AML_MULTI_PREFIX) {
        if (i + 1 >= n || p[i + 1] == 0)
            return 0;
        segs = p[i + 1];
        i += 2;
    }
    if (n - i < 4 * segs)
        return 0;
    for (size_t s = 0; s < segs; s++, i += 4) {
        const uint8_t *g = p + i;
        if (!lead_name_char(g[0]) || !name_char(g[1]) || !name_char(g[2]) || !name_char(g[3]))
            return 0;
    }
    *single = !prefixed && segs == 1;
    if (*single) {
        memcpy(seg, p + i - 4, 4);
        seg[4] = '\0';
    }
    return i;
}

// A String constant at p[0..n) (the prefix, ASCII 1-0x7f, a NUL): the bytes
// it takes, or 0.
static size_t string_const(const uint8_t *p, size_t n)
{
    if (n == 0 || p[0] != AML_STRING_PREFIX)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (p[i] == 0)
            return i + 1;
        if (p[i] > 0x7f)
            return 0;
    }
    return 0;
}

// A Buffer at p[0..n): the bytes it takes, its initialized bytes in
// *bytes/*blen (no more than its declared size), or 0 if malformed.
static size_t buffer(const uint8_t *p, size_t n, const uint8_t **bytes, size_t *blen)
{
    size_t hdr, plen;
    uint64_t size;
    if (n == 0 || p[0] != AML_BUFFER_OP || !pkg_length(p + 1, n - 1, &hdr, &plen) || plen > n - 1)
        return 0;
    size_t isz = aml_integer(p + 1 + hdr, plen - hdr, &size);
    if (!isz)
        return 0; // a computed size: not a constant template
    size_t have = plen - hdr - isz;
    *bytes = p + 1 + hdr + isz;
    *blen = size < have ? (size_t)size : have;
    return 1 + plen;
}

// A DataRefObject at p[0..n) (what Name() binds): the bytes it takes, or 0.
static size_t data_object(const uint8_t *p, size_t n)
{
    uint64_t v;
    size_t used, hdr, plen, blen;
    const uint8_t *b;
    if (n == 0)
        return 0;
    if ((used = aml_integer(p, n, &v)) || (used = string_const(p, n)) ||
        (used = buffer(p, n, &b, &blen)))
        return used;
    if (p[0] == AML_PACKAGE_OP || p[0] == AML_VARPACKAGE_OP)
        return pkg_length(p + 1, n - 1, &hdr, &plen) && plen <= n - 1 ? 1 + plen : 0;
    if (n >= 2 && p[0] == AML_EXT_PREFIX && p[1] == AML_REVISION_OP)
        return 2;
    return 0;
}

// ---- _CRS ----

// The memory window and interrupt of a resource template: NULL, or what is
// wrong with it.
static const char *crs_window(const uint8_t *p, size_t n, struct vmmio_window *win)
{
    bool mem = false, irq = false;
    for (size_t i = 0; i < n;) {
        uint8_t tag = p[i];
        if (!(tag & RES_LARGE)) {
            size_t len = RES_SMALL_LEN(tag);
            if (n - i - 1 < len)
                return "_CRS: a descriptor runs past the buffer";
            if (RES_SMALL_TYPE(tag) == RES_END) {
                if (!mem)
                    return "_CRS: no Memory32Fixed range";
                if (!irq)
                    return "_CRS: no interrupt";
                return NULL;
            }
            if (RES_SMALL_TYPE(tag) == RES_IRQ && len >= 2) {
                uint16_t mask = (uint16_t)(p[i + 1] | p[i + 2] << 8);
                if (mask && irq)
                    return "_CRS: more than one interrupt";
                for (uint32_t b = 0; b < 16 && mask; b++)
                    if (mask & (1u << b)) {
                        win->irq = b;
                        irq = true;
                        break;
                    }
            }
            i += 1 + len;
            continue;
        }
        if (n - i < 3)
            return "_CRS: a descriptor runs past the buffer";
        size_t len = (size_t)(p[i + 1] | p[i + 2] << 8);
        if (n - i - 3 < len)
            return "_CRS: a descriptor runs past the buffer";
        const uint8_t *d = p + i + 3;
        if (RES_LARGE_TYPE(tag) == RES_MEMORY32_FIXED) {
            if (len != RES_MEM32F_LEN)
                return "_CRS: Memory32Fixed of the wrong length";
            if (mem)
                return "_CRS: more than one memory range";
            win->base = le32(d + 1);
            win->size = le32(d + 5);
            if (!win->size)
                return "_CRS: memory range of size 0";
            mem = true;
        } else if (RES_LARGE_TYPE(tag) == RES_EXTENDED_IRQ) {
            if (len < RES_EXTIRQ_MIN || d[1] == 0 || (size_t)d[1] * 4 > len - 2)
                return "_CRS: malformed Extended Interrupt";
            if (irq)
                return "_CRS: more than one interrupt";
            win->irq = le32(d + 2);
            irq = true;
        }
        i += 3 + len;
    }
    return "_CRS: no End Tag";
}

// ---- Term lists ----

static void terms(struct aml_walk *w, const uint8_t *p, size_t n, unsigned depth,
                  struct aml_device *dev);

// Records what the device said, if it is a virtio-mmio transport.
static void device_done(struct aml_walk *w, const uint8_t *at, const struct aml_device *d)
{
    if (!d->hid_match)
        return;
    w->scan->devices++;
    struct vmmio_window win = {0};
    const char *why = d->crs ? crs_window(d->crs, d->crs_len, &win) : "no Name(_CRS, Buffer)";
    if (why) {
        w->scan->bad++;
        note(w, at, "device " ACPI_VMMIO_HID ": %s", why);
        return;
    }
    win.id = d->has_uid && d->uid <= UINT32_MAX ? (uint32_t)d->uid : 0;
    if (w->n == w->max) {
        w->scan->dropped++;
        note(w, at, "device " ACPI_VMMIO_HID ": more than %zu windows", w->max);
        return;
    }
    w->out[w->n++] = win;
}

// Name(seg, value) inside a Device: _HID, _UID and _CRS are looked at. The
// bytes taken, or 0 if the value is malformed.
static size_t device_name(const char *seg, const uint8_t *p, size_t n, struct aml_device *dev)
{
    size_t used = data_object(p, n);
    if (!used || !dev)
        return used;
    if (!strcmp(seg, "_HID")) {
        size_t hl = sizeof(ACPI_VMMIO_HID); // with its NUL
        dev->hid_match = used == 1 + hl && !memcmp(p + 1, ACPI_VMMIO_HID, hl);
    } else if (!strcmp(seg, "_UID")) {
        dev->has_uid = aml_integer(p, n, &dev->uid) != 0;
    } else if (!strcmp(seg, "_CRS")) {
        const uint8_t *b;
        size_t bl;
        if (buffer(p, n, &b, &bl)) {
            dev->crs = b;
            dev->crs_len = bl;
        }
    }
    return used;
}

// A Scope() or Device() at p[0..n) (p past the opcode): walks its body. The
// bytes taken, or 0 when its length is bad (the caller's list stops).
static size_t scope_or_device(struct aml_walk *w, const uint8_t *p, size_t n, unsigned depth,
                              bool device)
{
    size_t hdr, plen;
    if (!pkg_length(p, n, &hdr, &plen)) {
        note(w, p, "bad PkgLength");
        return 0;
    }
    if (plen > n) {
        note(w, p, "%s of %zu bytes runs past its parent (%zu left)", device ? "Device" : "Scope",
             plen, n);
        return 0;
    }
    bool single;
    char seg[5];
    size_t nl = name_string(p + hdr, plen - hdr, &single, seg);
    if (!nl) {
        note(w, p, "bad name");
        return 0;
    }
    if (depth >= ACPI_DEPTH_MAX) {
        w->scan->skipped++;
        note(w, p, "nested deeper than %u: skipped", ACPI_DEPTH_MAX);
        return plen;
    }
    struct aml_device d = {0};
    terms(w, p + hdr + nl, plen - hdr - nl, depth + 1, device ? &d : NULL);
    if (device)
        device_done(w, p, &d);
    return plen;
}

// An object with a PkgLength that the scanner does not look into: its size.
static size_t skip_package(struct aml_walk *w, const uint8_t *p, size_t n)
{
    size_t hdr, plen;
    if (!pkg_length(p, n, &hdr, &plen) || plen > n) {
        note(w, p, "bad PkgLength");
        return 0;
    }
    return plen;
}

// OperationRegion(name, space, offset, length) with constant operands.
static size_t op_region(const uint8_t *p, size_t n)
{
    bool single;
    char seg[5];
    uint64_t v;
    size_t i = name_string(p, n, &single, seg), k;
    if (!i || i >= n)
        return 0;
    i++; // RegionSpace
    if (!(k = aml_integer(p + i, n - i, &v)))
        return 0;
    i += k;
    if (!(k = aml_integer(p + i, n - i, &v)))
        return 0;
    return i + k;
}

// Names followed by `extra` fixed bytes (Alias: two names; External, Mutex,
// Event: one name).
static size_t names_then_bytes(const uint8_t *p, size_t n, unsigned names, size_t extra)
{
    bool single;
    char seg[5];
    size_t i = 0;
    for (unsigned k = 0; k < names; k++) {
        size_t l = name_string(p + i, n - i, &single, seg);
        if (!l)
            return 0;
        i += l;
    }
    return n - i < extra ? 0 : i + extra;
}

// One extended (0x5b) term at p[0..n) (p past the 0x5b): the bytes taken
// after the prefix, or 0 to stop the list.
static size_t ext_term(struct aml_walk *w, const uint8_t *p, size_t n, unsigned depth)
{
    if (n == 0)
        return 0;
    size_t used = 0;
    switch (p[0]) {
    case AML_DEVICE_OP:
        used = scope_or_device(w, p + 1, n - 1, depth, true);
        break;
    case AML_FIELD_OP:
    case AML_PROCESSOR_OP:
    case AML_POWERRES_OP:
    case AML_THERMALZONE_OP:
    case AML_INDEXFIELD_OP:
    case AML_BANKFIELD_OP:
        used = skip_package(w, p + 1, n - 1);
        break;
    case AML_REGION_OP:
        used = op_region(p + 1, n - 1);
        break;
    case AML_MUTEX_OP:
        used = names_then_bytes(p + 1, n - 1, 1, 1);
        break;
    case AML_EVENT_OP:
        used = names_then_bytes(p + 1, n - 1, 1, 0);
        break;
    default:
        break;
    }
    return used ? 1 + used : 0;
}

// One term at p[0..n): the bytes it takes, or 0 to stop the list.
static size_t term(struct aml_walk *w, const uint8_t *p, size_t n, unsigned depth,
                   struct aml_device *dev)
{
    bool single;
    char seg[5];
    size_t used = 0, k;
    switch (p[0]) {
    case AML_NAME_OP:
        if ((k = name_string(p + 1, n - 1, &single, seg)) != 0) {
            size_t v = device_name(single ? seg : "", p + 1 + k, n - 1 - k, dev);
            used = v ? k + v : 0;
        }
        break;
    case AML_SCOPE_OP:
        used = scope_or_device(w, p + 1, n - 1, depth, false);
        break;
    case AML_EXT_PREFIX:
        used = ext_term(w, p + 1, n - 1, depth);
        break;
    case AML_METHOD_OP:
    case AML_IF_OP:
    case AML_ELSE_OP:
    case AML_WHILE_OP:
    case AML_BUFFER_OP:
    case AML_PACKAGE_OP:
    case AML_VARPACKAGE_OP:
        used = skip_package(w, p + 1, n - 1);
        break;
    case AML_ALIAS_OP:
        used = names_then_bytes(p + 1, n - 1, 2, 0);
        break;
    case AML_EXTERNAL_OP:
        used = names_then_bytes(p + 1, n - 1, 1, 2);
        break;
    default:
        break;
    }
    return used ? 1 + used : 0;
}

// Walks the terms of p[0..n). An unknown or malformed term ends this list.
static void terms(struct aml_walk *w, const uint8_t *p, size_t n, unsigned depth,
                  struct aml_device *dev)
{
    size_t i = 0;
    while (i < n) {
        unsigned notes = w->notes;
        size_t used = term(w, p + i, n - i, depth, dev);
        if (!used) {
            w->scan->skipped++;
            if (w->notes == notes) // (else the term said what was wrong)
                note(w, p + i, "stopped at opcode %#x (%zu bytes of this list skipped)", p[i],
                     n - i);
            return;
        }
        i += used;
    }
}

// ---- The table ----

static status_t bad_header(char *err, size_t size, const char *why)
{
    if (err && size)
        snprintf(err, size, "DSDT: %s", why);
    return ERR_BAD_FORMAT;
}

status_t acpi_dsdt_vmmio(const uint8_t *table, size_t len, struct vmmio_window *out, size_t max,
                         size_t *count, struct acpi_vmmio_scan *scan, char *err, size_t err_size)
{
    *count = 0;
    *scan = (struct acpi_vmmio_scan){0};
    if (err && err_size)
        err[0] = '\0';
    if (len < ACPI_HEADER_LEN)
        return bad_header(err, err_size, "shorter than a table header");
    if (memcmp(table, DSDT_SIG, 4))
        return bad_header(err, err_size, "signature is not DSDT");
    uint32_t tlen = le32(table + 4);
    if (tlen < ACPI_HEADER_LEN || tlen > len || tlen > ACPI_DSDT_MAX)
        return bad_header(err, err_size, "length field out of range");
    uint8_t sum = 0;
    for (uint32_t i = 0; i < tlen; i++)
        sum = (uint8_t)(sum + table[i]);
    if (sum)
        return bad_header(err, err_size, "bad checksum");
    struct aml_walk w = {
        .table = table, .out = out, .max = max, .scan = scan, .err = err, .err_size = err_size};
    terms(&w, table + ACPI_HEADER_LEN, tlen - ACPI_HEADER_LEN, 0, NULL);
    *count = w.n;
    return OK;
}

// ---- Merging with the command line ----

static bool overlap(const struct vmmio_window *a, const struct vmmio_window *b)
{
    return a->base < b->base + b->size && b->base < a->base + a->size;
}

size_t vmmio_merge(struct vmmio_window *list, size_t n, size_t max, const struct vmmio_window *add,
                   size_t nadd, struct vmmio_merge_stats *st)
{
    for (size_t i = 0; i < nadd; i++) {
        const struct vmmio_window *a = &add[i];
        bool dup = false, clash = false;
        for (size_t j = 0; j < n && !dup && !clash; j++) {
            if (!overlap(a, &list[j]))
                continue;
            dup = a->base == list[j].base && a->size == list[j].size && a->irq == list[j].irq;
            clash = !dup;
        }
        if (dup)
            st->duplicates++;
        else if (clash)
            st->conflicts++;
        else if (n == max)
            st->dropped++;
        else
            list[n++] = *a;
    }
    return n;
}
