// The driver table (/etc/drivers): which program drives which device.
//
//   # bus         id         program
//   virtio-mmio   2          /bin/virtio-blk
//   pci           1af4:1042  /bin/virtio-blk
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devmgr.h"

static status_t bad(struct driver_table *t, char *err, size_t size, unsigned line, const char *fmt,
                    ...)
{
    char msg[DEVMGR_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err && size)
        snprintf(err, size, "line %u: %s", line, msg);
    t->count = 0;
    return ERR_BAD_FORMAT;
}

// Hex digits, the whole word, at most `max`.
static bool parse_hex(const char *s, size_t len, uint32_t max, uint32_t *out)
{
    uint32_t v = 0;
    if (!len || len > 8)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return false;
        v = v * 16 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_dec(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;
    if (!len || len > 9)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

#define WORDS_MAX 4

status_t drivers_parse(const char *text, size_t len, struct driver_table *t, char *err,
                       size_t err_size)
{
    unsigned line = 0;
    size_t pos = 0;
    t->count = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        line++;
        const char *w[WORDS_MAX];
        size_t wl[WORDS_MAX];
        unsigned nw = 0;
        size_t i = pos;
        while (i < end) {
            while (i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
                i++;
            if (i >= end || text[i] == '#')
                break;
            size_t s = i;
            while (i < end && text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
                i++;
            if (nw == WORDS_MAX)
                return bad(t, err, err_size, line, "too many words (expected BUS ID PROGRAM)");
            w[nw] = text + s;
            wl[nw++] = i - s;
        }
        pos = end + 1;
        if (!nw)
            continue;
        if (nw != 3)
            return bad(t, err, err_size, line, "expected BUS ID PROGRAM, got %u words", nw);
        if (t->count == DRIVERS_MAX)
            return bad(t, err, err_size, line, "more than %d drivers", DRIVERS_MAX);
        struct driver_rule r = {.line = line};
        if (wl[0] == 11 && !memcmp(w[0], "virtio-mmio", 11)) {
            r.bus = DRIVER_BUS_MMIO;
            if (!parse_dec(w[1], wl[1], &r.device_id) || !r.device_id)
                return bad(t, err, err_size, line, "virtio-mmio: bad device id '%.*s'", (int)wl[1],
                           w[1]);
        } else if (wl[0] == 3 && !memcmp(w[0], "pci", 3)) {
            r.bus = DRIVER_BUS_PCI;
            const char *colon = memchr(w[1], ':', wl[1]);
            uint32_t v, d;
            if (!colon || !parse_hex(w[1], (size_t)(colon - w[1]), 0xfffe, &v) ||
                !parse_hex(colon + 1, wl[1] - (size_t)(colon - w[1]) - 1, 0xffff, &d))
                return bad(t, err, err_size, line, "pci: bad id '%.*s' (expected VVVV:DDDD hex)",
                           (int)wl[1], w[1]);
            r.vendor = (uint16_t)v;
            r.device = (uint16_t)d;
        } else {
            return bad(t, err, err_size, line, "unknown bus '%.*s' (virtio-mmio or pci)",
                       (int)wl[0], w[0]);
        }
        if (w[2][0] != '/' || wl[2] > DRIVER_PATH_MAX)
            return bad(t, err, err_size, line,
                       "program must be an absolute path of at most %d "
                       "characters",
                       DRIVER_PATH_MAX);
        memcpy(r.path, w[2], wl[2]);
        r.path[wl[2]] = '\0';
        t->rules[t->count++] = r;
    }
    return OK;
}

const struct driver_rule *drivers_match_mmio(const struct driver_table *t, uint32_t device_id)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->rules[i].bus == DRIVER_BUS_MMIO && t->rules[i].device_id == device_id)
            return &t->rules[i];
    return NULL;
}

static const struct driver_rule *match_pci_exact(const struct driver_table *t, uint16_t vendor,
                                                 uint16_t device)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->rules[i].bus == DRIVER_BUS_PCI && t->rules[i].vendor == vendor &&
            t->rules[i].device == device)
            return &t->rules[i];
    return NULL;
}

const struct driver_rule *drivers_match_pci(const struct driver_table *t, uint16_t vendor,
                                            uint16_t device, uint16_t subsys)
{
    const struct driver_rule *r = match_pci_exact(t, vendor, device);
    if (r || vendor != 0x1af4 || device < 0x1000 || device > 0x103f)
        return r;
    uint32_t type = virtio_pci_type(vendor, device, subsys);
    return type ? match_pci_exact(t, vendor, (uint16_t)(0x1040 + type)) : NULL;
}
