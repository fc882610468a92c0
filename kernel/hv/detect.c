// nimbus:host
// Hypervisor detection: walks the CPUID hypervisor ranges, names each by its
// signature, reads the feature leaves of the families Nimbus drives, and
// picks the family whose paravirtual interfaces the kernel will use.
#include "hv/hv.h"
#include "hv/leaves.h"
#include "lib/compiler.h"
#include "lib/string.h"

struct cpuid_src {
    hv_cpuid_fn fn;
    void *ctx;
};

static struct hv_cpuid_regs read_leaf(const struct cpuid_src *src, uint32_t leaf, uint32_t sub)
{
    struct hv_cpuid_regs r = {0};
    src->fn(src->ctx, leaf, sub, &r);
    return r;
}

struct known_signature {
    const char *bytes; // compared over len bytes
    size_t len;
    enum hv_family family;
};

// QNX's signature is ten characters; what follows it is not specified.
static const struct known_signature known_signatures[] = {
    {"KVMKVMKVM\0\0\0", HV_SIGNATURE_LEN, HV_FAMILY_KVM},
    {"XenVMMXenVMM", HV_SIGNATURE_LEN, HV_FAMILY_XEN},
    {"Microsoft Hv", HV_SIGNATURE_LEN, HV_FAMILY_HYPERV},
    {"VMwareVMware", HV_SIGNATURE_LEN, HV_FAMILY_VMWARE},
    {"TCGTCGTCGTCG", HV_SIGNATURE_LEN, HV_FAMILY_TCG},
    {"bhyve bhyve ", HV_SIGNATURE_LEN, HV_FAMILY_BHYVE},
    {"BHyVE BHyVE ", HV_SIGNATURE_LEN, HV_FAMILY_BHYVE},
    {"ACRNACRNACRN", HV_SIGNATURE_LEN, HV_FAMILY_ACRN},
    {"QNXQVMBSQG", 10, HV_FAMILY_QNX},
    {" lrpepyh  vr", HV_SIGNATURE_LEN, HV_FAMILY_PARALLELS},
};

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static enum hv_family family_of_signature(const uint8_t *sig)
{
    for (size_t i = 0; i < ARRAY_SIZE(known_signatures); i++)
        if (memcmp(sig, known_signatures[i].bytes, known_signatures[i].len) == 0)
            return known_signatures[i].family;
    return HV_FAMILY_UNKNOWN;
}

// The signature for printing: trailing NULs dropped, other unprintable
// bytes shown as '.'.
static void make_printable(const uint8_t *sig, char *out)
{
    size_t len = HV_SIGNATURE_LEN;
    while (len > 0 && sig[len - 1] == 0)
        len--;
    for (size_t i = 0; i < len; i++)
        out[i] = (sig[i] >= ' ' && sig[i] <= '~') ? (char)sig[i] : '.';
    out[len] = 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

// A hypervisor that keeps the Hyper-V interface but changes the vendor
// signature (QEMU's hv-vendor-id) still answers "Hv#1" at base+1.
static bool speaks_hyperv(const struct cpuid_src *src, const struct hv_range *r)
{
    if (r->max_leaf < r->base + HYPERV_LEAF_INTERFACE)
        return false;
    return read_leaf(src, r->base + HYPERV_LEAF_INTERFACE, 0).eax == HYPERV_INTERFACE_HV1;
}

// Decides the usable extent of a range from its EAX. Returns false if the
// range is empty: a max leaf below the base means nothing is there (Intel
// CPUs answer unknown leaves with another leaf's data), except for a known
// signature, and old KVM hosts that report 0 for base+1.
static bool settle_max_leaf(struct hv_range *r, uint32_t eax)
{
    uint32_t last = r->base + HV_LEAF_RANGE_STEP - 1;
    if (eax < r->base) {
        if (r->family == HV_FAMILY_UNKNOWN)
            return false;
        eax = r->family == HV_FAMILY_KVM ? r->base + KVM_LEAF_FEATURES : r->base;
    }
    r->max_leaf_clamped = eax > last;
    r->max_leaf = r->max_leaf_clamped ? last : eax;
    return true;
}

// Reads the signature leaf at `base`; false if the range is empty.
static bool probe_range(const struct cpuid_src *src, uint32_t base, struct hv_range *r)
{
    struct hv_cpuid_regs regs = read_leaf(src, base + HV_LEAF_SIGNATURE, 0);
    *r = (struct hv_range){.base = base};
    put_le32(r->signature, regs.ebx);
    put_le32(r->signature + 4, regs.ecx);
    put_le32(r->signature + 8, regs.edx);
    if (all_zero(r->signature, HV_SIGNATURE_LEN))
        return false;
    r->family = family_of_signature(r->signature);
    make_printable(r->signature, r->printable);
    if (!settle_max_leaf(r, regs.eax))
        return false;
    if (r->family == HV_FAMILY_UNKNOWN && speaks_hyperv(src, r))
        r->family = HV_FAMILY_HYPERV;
    return true;
}

static const struct hv_range *first_range(const struct hv_info *info, enum hv_family family)
{
    for (size_t i = 0; i < info->nranges; i++)
        if (info->ranges[i].family == family)
            return &info->ranges[i];
    return NULL;
}

uint32_t hv_info_family_base(const struct hv_info *info, enum hv_family family)
{
    const struct hv_range *r = first_range(info, family);
    return r ? r->base : 0;
}

static bool has_leaf(const struct hv_range *r, uint32_t offset)
{
    return r->max_leaf >= r->base + offset;
}

static void read_kvm(const struct cpuid_src *src, const struct hv_range *r, struct hv_kvm_info *k)
{
    k->base = r->base;
    if (has_leaf(r, KVM_LEAF_FEATURES)) {
        struct hv_cpuid_regs f = read_leaf(src, r->base + KVM_LEAF_FEATURES, 0);
        k->features = f.eax;
        k->hints = f.edx;
    }
}

static void read_xen_time_and_hvm(const struct cpuid_src *src, const struct hv_range *r,
                                  struct hv_xen_info *x)
{
    if (has_leaf(r, XEN_LEAF_TIME)) {
        struct hv_cpuid_regs t = read_leaf(src, r->base + XEN_LEAF_TIME, 0);
        x->time_flags = t.eax;
        x->tsc_mode = t.ebx;
        x->tsc_khz = t.ecx;
    }
    if (has_leaf(r, XEN_LEAF_HVM)) {
        struct hv_cpuid_regs h = read_leaf(src, r->base + XEN_LEAF_HVM, 0);
        x->hvm_features = h.eax;
        x->vcpu_id = (h.eax & XEN_HVM_VCPU_ID_PRESENT) ? h.ebx : 0;
        x->domid = (h.eax & XEN_HVM_DOMID_PRESENT) ? h.ecx : 0;
    }
}

static void read_xen(const struct cpuid_src *src, const struct hv_range *r, struct hv_xen_info *x)
{
    x->base = r->base;
    if (has_leaf(r, XEN_LEAF_VERSION)) {
        uint32_t v = read_leaf(src, r->base + XEN_LEAF_VERSION, 0).eax;
        x->major = (uint16_t)(v >> XEN_VERSION_MAJOR_SHIFT);
        x->minor = (uint16_t)(v & XEN_VERSION_MINOR_MASK);
    }
    if (has_leaf(r, XEN_LEAF_HYPERCALL)) {
        struct hv_cpuid_regs h = read_leaf(src, r->base + XEN_LEAF_HYPERCALL, 0);
        x->hypercall_pages = h.eax;
        x->msr_base = h.ebx;
        x->features1 = h.ecx;
    }
    read_xen_time_and_hvm(src, r, x);
}

static void read_hyperv(const struct cpuid_src *src, const struct hv_range *r,
                        struct hv_hyperv_info *h)
{
    h->base = r->base;
    if (has_leaf(r, HYPERV_LEAF_INTERFACE))
        h->interface = read_leaf(src, r->base + HYPERV_LEAF_INTERFACE, 0).eax;
    if (has_leaf(r, HYPERV_LEAF_FEATURES)) {
        struct hv_cpuid_regs f = read_leaf(src, r->base + HYPERV_LEAF_FEATURES, 0);
        h->privileges = f.eax;
        h->hypercall_privs = f.ebx;
        h->features = f.edx;
    }
    if (has_leaf(r, HYPERV_LEAF_RECOMMENDATIONS)) {
        struct hv_cpuid_regs f = read_leaf(src, r->base + HYPERV_LEAF_RECOMMENDATIONS, 0);
        h->recommendations = f.eax;
        h->spin_retries = f.ebx;
    }
    if (has_leaf(r, HYPERV_LEAF_LIMITS))
        h->max_vps = read_leaf(src, r->base + HYPERV_LEAF_LIMITS, 0).eax;
}

// The base+0x10 timing leaf of the first range that has one. Xen and
// Hyper-V define their own leaves there (or nothing), so they are skipped,
// and so is a range whose max leaf was garbage.
static void read_timing(const struct cpuid_src *src, struct hv_info *info)
{
    for (size_t i = 0; i < info->nranges; i++) {
        const struct hv_range *r = &info->ranges[i];
        if (r->family == HV_FAMILY_XEN || r->family == HV_FAMILY_HYPERV)
            continue;
        if (r->max_leaf_clamped || !has_leaf(r, HV_LEAF_TIMING))
            continue;
        struct hv_cpuid_regs t = read_leaf(src, r->base + HV_LEAF_TIMING, 0);
        if (t.eax == 0)
            continue;
        info->timing = (struct hv_timing_info){r->base + HV_LEAF_TIMING, t.eax, t.ebx};
        return;
    }
}

static void read_families(const struct cpuid_src *src, struct hv_info *info)
{
    const struct hv_range *r;
    if ((r = first_range(info, HV_FAMILY_KVM)))
        read_kvm(src, r, &info->kvm);
    if ((r = first_range(info, HV_FAMILY_XEN)))
        read_xen(src, r, &info->xen);
    if ((r = first_range(info, HV_FAMILY_HYPERV)))
        read_hyperv(src, r, &info->hyperv);
    read_timing(src, info);
}

// KVM or Xen wherever they sit (they may hide behind Hyper-V
// enlightenments), else Hyper-V, else whatever came first.
static const struct hv_range *choose_primary(const struct hv_info *info)
{
    for (size_t i = 0; i < info->nranges; i++)
        if (info->ranges[i].family == HV_FAMILY_KVM || info->ranges[i].family == HV_FAMILY_XEN)
            return &info->ranges[i];
    const struct hv_range *r = first_range(info, HV_FAMILY_HYPERV);
    return r ? r : (info->nranges ? &info->ranges[0] : NULL);
}

static void choose_tsc_khz(struct hv_info *info)
{
    if (info->timing.tsc_khz) {
        info->tsc_khz = info->timing.tsc_khz;
        info->tsc_khz_source = "timing leaf";
    } else if (info->xen.tsc_khz) {
        info->tsc_khz = info->xen.tsc_khz;
        info->tsc_khz_source = "xen time leaf";
    }
}

void hv_detect(struct hv_info *info, hv_cpuid_fn cpuid, void *ctx)
{
    const struct cpuid_src src = {cpuid, ctx};
    *info = (struct hv_info){.detected = true, .primary = HV_FAMILY_NONE};
    info->hypervisor_bit =
        read_leaf(&src, HV_CPUID_LEAF_FEATURES, 0).ecx & HV_CPUID_1_ECX_HYPERVISOR;
    if (!info->hypervisor_bit)
        return; // the leaves above 0x40000000 mean nothing on bare metal
    for (uint32_t k = 0; k < HV_LEAF_MAX_RANGES; k++) {
        uint32_t base = HV_LEAF_FIRST_BASE + k * HV_LEAF_RANGE_STEP;
        if (probe_range(&src, base, &info->ranges[info->nranges]))
            info->nranges++;
    }
    read_families(&src, info);
    const struct hv_range *p = choose_primary(info);
    info->primary = p ? p->family : HV_FAMILY_HIDDEN;
    info->primary_base = p ? p->base : 0;
    choose_tsc_khz(info);
    hv_info_derive_features(info);
}
