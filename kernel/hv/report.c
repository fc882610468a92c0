// nimbus:host
// What the hypervisor layer found, as text: the `hvinfo` report and the boot
// line.
#include <stdarg.h>

#include "hv/hv.h"
#include "lib/fmt.h"
#include "lib/string.h"

#define REPORT_LINE_MAX 160

// A bounded string being appended to; len stops at n - 1.
struct line {
    char *buf;
    size_t n, len;
};

static void lput(struct line *l, const char *fmt, ...) __printf(2, 3);
static void lput(struct line *l, const char *fmt, ...)
{
    if (l->len + 1 >= l->n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = kvsnprintf(l->buf + l->len, l->n - l->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        l->len = MIN(l->len + (size_t)w, l->n - 1);
}

static bool lfits(const struct line *l, size_t extra)
{
    return l->len + extra < l->n;
}

// "KVM", or for an unknown family the signature itself.
static void put_range_name(struct line *l, const struct hv_range *r)
{
    if (r->family == HV_FAMILY_UNKNOWN)
        lput(l, "unknown \"%s\"", r->printable);
    else
        lput(l, "%s", hv_family_name(r->family));
}

static const struct hv_range *primary_range(const struct hv_info *info)
{
    for (size_t i = 0; i < info->nranges; i++)
        if (info->ranges[i].base == info->primary_base)
            return &info->ranges[i];
    return NULL;
}

// "KVM at 0x40000100, also Hyper-V at 0x40000000"
static void put_ranges(struct line *l, const struct hv_info *info)
{
    const struct hv_range *p = primary_range(info);
    put_range_name(l, p);
    lput(l, " at %#x", p->base);
    for (size_t i = 0; i < info->nranges; i++) {
        if (&info->ranges[i] == p)
            continue;
        lput(l, ", also ");
        put_range_name(l, &info->ranges[i]);
        lput(l, " at %#x", info->ranges[i].base);
    }
}

static int last_offered(const struct hv_info *info)
{
    int last = -1;
    for (int f = 0; f < HV_FEATURE_COUNT; f++)
        if (info->features[f].offered)
            last = f;
    return last;
}

// " (features: a b c)", cut with "..." where the buffer ends.
static void put_feature_list(struct line *l, const struct hv_info *info)
{
    static const char more[] = " ...)";
    int last = last_offered(info);
    lput(l, " (features:");
    if (last < 0)
        lput(l, " none");
    for (int f = 0; f <= last; f++) {
        if (!info->features[f].offered)
            continue;
        const char *name = hv_feature_name((enum hv_feature)f);
        size_t reserve = f == last ? 1 : sizeof(more) - 1;
        if (!lfits(l, 1 + strlen(name) + reserve)) {
            lput(l, "%s", more);
            return;
        }
        lput(l, " %s", name);
    }
    lput(l, ")");
}

void hv_info_boot_line(const struct hv_info *info, char *buf, size_t n)
{
    struct line l = {buf, n, 0};
    if (n == 0)
        return;
    buf[0] = 0;
    if (!info->detected) {
        lput(&l, "hv: not probed");
        return;
    }
    if (!info->hypervisor_bit) {
        lput(&l, "hv: none (bare metal)");
        return;
    }
    if (info->nranges == 0) {
        lput(&l, "hv: unknown/hidden hypervisor (no signature leaves, no PV features)");
        return;
    }
    lput(&l, "hv: ");
    put_ranges(&l, info);
    if (info->tsc_khz)
        lput(&l, ", tsc %llu kHz", (unsigned long long)info->tsc_khz);
    put_feature_list(&l, info);
}

typedef void (*print_fn)(const char *line, void *ctx);

static void emit(print_fn print, void *ctx, const char *fmt, ...) __printf(3, 4);
static void emit(print_fn print, void *ctx, const char *fmt, ...)
{
    char buf[REPORT_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    print(buf, ctx);
}

static void report_ranges(const struct hv_info *info, print_fn print, void *ctx)
{
    for (size_t i = 0; i < info->nranges; i++) {
        const struct hv_range *r = &info->ranges[i];
        emit(print, ctx, "range %#x: %s \"%s\", leaves to %#x%s", r->base,
             hv_family_name(r->family), r->printable, r->max_leaf,
             r->max_leaf_clamped ? " (max leaf out of range, clamped)" : "");
    }
}

static void report_family_words(const struct hv_info *info, print_fn print, void *ctx)
{
    const struct hv_kvm_info *k = &info->kvm;
    const struct hv_xen_info *x = &info->xen;
    const struct hv_hyperv_info *h = &info->hyperv;
    if (k->base)
        emit(print, ctx, "kvm: features 0x%08x, hints 0x%08x", k->features, k->hints);
    if (x->base)
        emit(print, ctx,
             "xen: version %u.%u, hypercall pages %u, msr base %#x, time %#x (mode %u), hvm %#x",
             x->major, x->minor, x->hypercall_pages, x->msr_base, x->time_flags, x->tsc_mode,
             x->hvm_features);
    if (h->base)
        emit(print, ctx,
             "hyper-v: interface 0x%08x, privileges 0x%08x, features 0x%08x, "
             "recommendations 0x%08x",
             h->interface, h->privileges, h->features, h->recommendations);
}

static void report_features(const struct hv_info *info, print_fn print, void *ctx)
{
    int offered = 0, used = 0;
    for (int f = 0; f < HV_FEATURE_COUNT; f++) {
        offered += info->features[f].offered;
        used += info->features[f].used;
    }
    emit(print, ctx, "features: %d offered, %d used", offered, used);
    for (int f = 0; f < HV_FEATURE_COUNT; f++) {
        const struct hv_feature_state *s = &info->features[f];
        if (!s->offered && !s->used)
            continue;
        enum hv_family fam = hv_feature_family((enum hv_feature)f);
        emit(print, ctx, "  %-22s %-8s %s", hv_feature_name((enum hv_feature)f),
             fam == HV_FAMILY_NONE ? "any" : hv_family_name(fam), s->used ? "used" : "offered");
    }
}

void hv_info_report(const struct hv_info *info, print_fn print, void *ctx)
{
    if (!info->detected) {
        emit(print, ctx, "hypervisor: not probed yet");
        return;
    }
    if (!info->hypervisor_bit) {
        emit(print, ctx, "hypervisor: none (bare metal, CPUID.1:ECX[31] clear)");
        return;
    }
    if (info->nranges == 0) {
        emit(print, ctx, "hypervisor: unknown/hidden (hypervisor bit set, no signature leaves)");
        return;
    }
    emit(print, ctx, "hypervisor: %s at %#x (primary)", hv_family_name(info->primary),
         info->primary_base);
    report_ranges(info, print, ctx);
    report_family_words(info, print, ctx);
    if (info->tsc_khz)
        emit(print, ctx, "tsc: %llu kHz (%s)", (unsigned long long)info->tsc_khz,
             info->tsc_khz_source);
    else
        emit(print, ctx, "tsc: frequency not given by the hypervisor");
    report_features(info, print, ctx);
}
