// nimbus:host
// Tests of hypervisor detection, feature sets and the report, on CPUID
// values recorded under QEMU 7.2 on these machines (TCG -cpu max; KVM -cpu
// host,-arch-capabilities, also with kvm=off and vmware-cpuid-freq=on,+invtsc)
// and built from the specifications: Hyper-V in front of KVM or Xen, VMware
// timing, unknown signatures, garbage max leaves, bare metal.
#include "hv/hv.h"
#include "lib/ktest.h"
#include "lib/string.h"

// Enums compare as int (enum hv_family is unsigned to the compiler).
#define EXPECT_FAMILY(a, b) EXPECT_EQ((int)(a), (int)(b))

#define LEAF1_ECX_KVM  0xf7f83203u // leaf 1 ECX under KVM: bit 31 (hypervisor) set
#define LEAF1_ECX_TCG  0xf6d8320bu // under TCG
#define LEAF1_ECX_BARE 0x77f83203u // the KVM value without bit 31
#define BASE0          0x40000000u
#define BASE1          0x40000100u
#define BASE2          0x40000200u

struct fake_leaf {
    uint32_t leaf, sub;
    struct hv_cpuid_regs r;
};

// A CPU answering from a table; other leaves get `other` (zeros, or what
// an Intel CPU returns for an unknown leaf). Every read is logged.
struct fake_cpu {
    struct fake_leaf leaves[24];
    size_t n;
    struct hv_cpuid_regs other;
    uint32_t reads[80];
    size_t nreads;
};

static void fake_cpuid(void *ctx, uint32_t leaf, uint32_t sub, struct hv_cpuid_regs *r)
{
    struct fake_cpu *c = ctx;
    if (c->nreads < ARRAY_SIZE(c->reads))
        c->reads[c->nreads] = leaf;
    c->nreads++;
    *r = c->other;
    for (size_t i = 0; i < c->n; i++)
        if (c->leaves[i].leaf == leaf && c->leaves[i].sub == sub)
            *r = c->leaves[i].r;
}

static void fake_set(struct fake_cpu *c, uint32_t leaf, uint32_t eax, uint32_t ebx, uint32_t ecx,
                     uint32_t edx)
{
    if (c->n < ARRAY_SIZE(c->leaves))
        c->leaves[c->n++] = (struct fake_leaf){leaf, 0, {eax, ebx, ecx, edx}};
}

static uint32_t le32(const char *p)
{
    return (uint32_t)(uint8_t)p[0] | (uint32_t)(uint8_t)p[1] << 8 | (uint32_t)(uint8_t)p[2] << 16 |
           (uint32_t)(uint8_t)p[3] << 24;
}

// A signature leaf from 12 bytes (EBX, ECX, EDX in memory order).
static void fake_sig(struct fake_cpu *c, uint32_t base, uint32_t max, const char *sig12)
{
    fake_set(c, base, max, le32(sig12), le32(sig12 + 4), le32(sig12 + 8));
}

// An empty CPU with leaf 1 (ECX as given).
static void fake_init_ecx(struct fake_cpu *c, uint32_t leaf1_ecx)
{
    *c = (struct fake_cpu){.n = 0};
    fake_set(c, 1, 0x00a00f11, 0x00000800, leaf1_ecx, 0x178bfbff);
}

static void fake_init(struct fake_cpu *c, bool hypervisor)
{
    fake_init_ecx(c, hypervisor ? LEAF1_ECX_KVM : LEAF1_ECX_BARE);
}

// REFERENCE.md: KVM of these machines (QEMU 7.2, -cpu host,-arch-capabilities).
static void fake_kvm(struct fake_cpu *c, uint32_t base)
{
    fake_set(c, base, base + 1, 0x4b4d564b, 0x564b4d56, 0x0000004d);
    fake_set(c, base + 1, 0x0100fafb, 0, 0, 0);
}

// Hyper-V enlightenments in front (QEMU hv-relaxed,hv-time,hv-vpindex style).
static void fake_hyperv(struct fake_cpu *c)
{
    fake_sig(c, BASE0, 0x40000005, "Microsoft Hv");
    fake_set(c, BASE0 + 1, 0x31237648, 0, 0, 0);          // "Hv#1"
    fake_set(c, BASE0 + 3, 0x00000262, 0, 0, 0);          // time ref, hypercall, vpindex, ref TSC
    fake_set(c, BASE0 + 4, 0x00000020, 0xffffffff, 0, 0); // relaxed timing
}

static struct hv_info detect(struct fake_cpu *c)
{
    struct hv_info info;
    hv_detect(&info, fake_cpuid, c);
    return info;
}

static int count_offered(const struct hv_info *info)
{
    int n = 0;
    for (int f = 0; f < HV_FEATURE_COUNT; f++)
        n += info->features[f].offered;
    return n;
}

static bool was_read(const struct fake_cpu *c, uint32_t leaf)
{
    for (size_t i = 0; i < c->nreads && i < ARRAY_SIZE(c->reads); i++)
        if (c->reads[i] == leaf)
            return true;
    return false;
}

static void hv_detect_kvm_reference(struct ktest *t)
{
    // REFERENCE.md: EAX 0x0100fafb = bits 0 1 3 4 5 6 7 9 11 12 13 14 15 24.
    static const enum hv_feature expected[] = {
        HV_FEAT_KVM_CLOCKSOURCE,     HV_FEAT_KVM_NOP_IO_DELAY,   HV_FEAT_KVM_CLOCKSOURCE2,
        HV_FEAT_KVM_ASYNC_PF,        HV_FEAT_KVM_STEAL_TIME,     HV_FEAT_KVM_PV_EOI,
        HV_FEAT_KVM_PV_UNHALT,       HV_FEAT_KVM_PV_TLB_FLUSH,   HV_FEAT_KVM_PV_SEND_IPI,
        HV_FEAT_KVM_POLL_CONTROL,    HV_FEAT_KVM_PV_SCHED_YIELD, HV_FEAT_KVM_ASYNC_PF_INT,
        HV_FEAT_KVM_MSI_EXT_DEST_ID, HV_FEAT_KVM_CLOCK_STABLE};
    struct fake_cpu c;
    fake_init(&c, true);
    fake_kvm(&c, BASE0);
    struct hv_info info = detect(&c);
    EXPECT_TRUE(info.detected);
    EXPECT_TRUE(info.hypervisor_bit);
    ASSERT_EQ(info.nranges, (size_t)1);
    EXPECT_FAMILY(info.ranges[0].family, HV_FAMILY_KVM);
    EXPECT_EQ(info.ranges[0].base, BASE0);
    EXPECT_EQ(info.ranges[0].max_leaf, BASE0 + 1);
    EXPECT_STREQ(info.ranges[0].printable, "KVMKVMKVM");
    EXPECT_FAMILY(info.primary, HV_FAMILY_KVM);
    EXPECT_EQ(info.primary_base, BASE0);
    EXPECT_EQ(info.kvm.base, BASE0);
    EXPECT_EQ(info.kvm.features, 0x0100fafbu);
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++)
        EXPECT_TRUE(hv_info_offers(&info, expected[i]));
    EXPECT_EQ(count_offered(&info), (int)ARRAY_SIZE(expected));
    EXPECT_FALSE(hv_info_offers(&info, HV_FEAT_KVM_ASYNC_PF_VMEXIT));
    EXPECT_FALSE(hv_info_offers(&info, HV_FEAT_KVM_HINT_REALTIME));
    EXPECT_EQ(info.tsc_khz, 0ull);
    EXPECT_FALSE(was_read(&c, BASE0 + 0x10)); // beyond the max leaf
}

// Old KVM hosts report max leaf 0: the feature leaf is still there.
static void hv_detect_kvm_zero_max_leaf(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_set(&c, BASE0, 0, 0x4b4d564b, 0x564b4d56, 0x0000004d);
    fake_set(&c, BASE0 + 1, 0x0000000b, 0, 0, 1);
    struct hv_info info = detect(&c);
    ASSERT_EQ(info.nranges, (size_t)1);
    EXPECT_EQ(info.ranges[0].max_leaf, BASE0 + 1);
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_KVM_CLOCKSOURCE2));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_KVM_HINT_REALTIME));
}

// TCG answers leaves it does not know, 0x40000002 up and every other range,
// with the data of its last basic leaf.
static void hv_detect_tcg(struct ktest *t)
{
    struct fake_cpu c;
    fake_init_ecx(&c, LEAF1_ECX_TCG);
    c.other = (struct hv_cpuid_regs){0x0000021f, 0x00000240, 0x00000a88, 0};
    fake_set(&c, BASE0, 0x40000001, 0x54474354, 0x43544743, 0x47435447);
    fake_set(&c, BASE0 + 1, 0, 0, 0, 0);
    struct hv_info info = detect(&c);
    ASSERT_EQ(info.nranges, (size_t)1);
    EXPECT_STREQ(info.ranges[0].printable, "TCGTCGTCGTCG");
    EXPECT_FAMILY(info.primary, HV_FAMILY_TCG);
    EXPECT_EQ(info.primary_base, BASE0);
    EXPECT_EQ(count_offered(&info), 0);
    EXPECT_EQ(info.kvm.base, 0u);
}

static void hv_detect_kvm_behind_hyperv(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_hyperv(&c);
    fake_kvm(&c, BASE1);
    struct hv_info info = detect(&c);
    ASSERT_EQ(info.nranges, (size_t)2);
    EXPECT_FAMILY(info.ranges[0].family, HV_FAMILY_HYPERV);
    EXPECT_FAMILY(info.ranges[1].family, HV_FAMILY_KVM);
    EXPECT_FAMILY(info.primary, HV_FAMILY_KVM);
    EXPECT_EQ(info.primary_base, BASE1);
    EXPECT_EQ(info.kvm.features, 0x0100fafbu);
    EXPECT_EQ(info.hyperv.base, BASE0);
    EXPECT_EQ(info.hyperv.interface, 0x31237648u);
    EXPECT_EQ(info.hyperv.spin_retries, 0xffffffffu);
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_KVM_CLOCKSOURCE2));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_HYPERV_REFERENCE_TSC));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_HYPERV_TIME_REF_COUNT));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_HYPERV_VP_INDEX));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_HYPERV_HYPERCALL));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_HYPERV_REC_RELAXED_TIMING));
    EXPECT_FALSE(hv_info_offers(&info, HV_FEAT_HYPERV_STIMER));
}

static void fake_xen(struct fake_cpu *c, uint32_t base)
{
    fake_sig(c, base, base + 5, "XenVMMXenVMM");
    fake_set(c, base + 1, 0x0004000f, 0, 0, 0);       // 4.15
    fake_set(c, base + 2, 1, 0x40000000, 0, 0);       // one page, MSR base
    fake_set(c, base + 3, 0x00000002, 0, 2500000, 0); // TSC reliable, 2.5 GHz
    fake_set(c, base + 4, 0x0000001b, 3, 7, 0);       // APIC, x2APIC, vcpu id, domid
}

static void hv_detect_xen_behind_hyperv(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_hyperv(&c);
    fake_xen(&c, BASE1);
    struct hv_info info = detect(&c);
    ASSERT_EQ(info.nranges, (size_t)2);
    EXPECT_FAMILY(info.primary, HV_FAMILY_XEN);
    EXPECT_EQ(info.primary_base, BASE1);
    EXPECT_EQ(info.xen.major, 4);
    EXPECT_EQ(info.xen.minor, 15);
    EXPECT_EQ(info.xen.hypercall_pages, 1u);
    EXPECT_EQ(info.xen.msr_base, 0x40000000u);
    EXPECT_EQ(info.xen.vcpu_id, 3u);
    EXPECT_EQ(info.xen.domid, 7u);
    EXPECT_EQ(info.tsc_khz, 2500000ull);
    EXPECT_STREQ(info.tsc_khz_source, "xen time leaf");
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_XEN_HYPERCALL_PAGE));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_XEN_TSC_RELIABLE));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_XEN_X2APIC_VIRT));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_XEN_DOMID));
    EXPECT_FALSE(hv_info_offers(&info, HV_FEAT_XEN_UPCALL_VECTOR));
    EXPECT_FALSE(hv_info_offers(&info, HV_FEAT_TSC_FREQ_LEAF));
}

// QEMU -cpu ...,kvm=off: hypervisor bit set, signature leaves zero.
static void hv_detect_hidden(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    struct hv_info info = detect(&c);
    EXPECT_TRUE(info.hypervisor_bit);
    EXPECT_EQ(info.nranges, (size_t)0);
    EXPECT_FAMILY(info.primary, HV_FAMILY_HIDDEN);
    EXPECT_EQ(info.primary_base, 0u);
    EXPECT_EQ(count_offered(&info), 0);
    EXPECT_LE(c.nreads, (size_t)(1 + 16)); // leaf 1 and the signature leaves
}

static void hv_detect_bare_metal(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, false);
    c.other = (struct hv_cpuid_regs){0x00000d01, 0x756e6547, 0x6c65746e, 0x49656e69};
    fake_kvm(&c, BASE0); // whatever is there must not be looked at
    struct hv_info info = detect(&c);
    EXPECT_FALSE(info.hypervisor_bit);
    EXPECT_FAMILY(info.primary, HV_FAMILY_NONE);
    EXPECT_EQ(info.nranges, (size_t)0);
    EXPECT_EQ(c.nreads, (size_t)1);
    EXPECT_EQ(count_offered(&info), 0);
}

// KVM with QEMU's vmware-cpuid-freq=on,+invtsc: max leaf 0x40000010.
static void hv_detect_kvm_timing_leaf(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_set(&c, BASE0, 0x40000010, 0x4b4d564b, 0x564b4d56, 0x0000004d);
    fake_set(&c, BASE0 + 1, 0x0100fafb, 0, 0, 0);
    fake_set(&c, BASE0 + 0x10, 0x0025505c, 0x000f4240, 0, 0);
    struct hv_info info = detect(&c);
    EXPECT_FAMILY(info.primary, HV_FAMILY_KVM);
    EXPECT_EQ(info.ranges[0].max_leaf, BASE0 + 0x10);
    EXPECT_EQ(info.tsc_khz, 2445404ull);
    EXPECT_EQ(info.timing.bus_khz, 1000000u);
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_TSC_FREQ_LEAF));
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_KVM_CLOCKSOURCE2));
}

static void hv_detect_vmware_timing(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_sig(&c, BASE0, BASE0 + 0x10, "VMwareVMware");
    fake_set(&c, BASE0 + 0x10, 2500000, 1000000, 0, 0);
    struct hv_info info = detect(&c);
    EXPECT_FAMILY(info.primary, HV_FAMILY_VMWARE);
    EXPECT_EQ(info.timing.leaf, BASE0 + 0x10);
    EXPECT_EQ(info.timing.bus_khz, 1000000u);
    EXPECT_EQ(info.tsc_khz, 2500000ull);
    EXPECT_STREQ(info.tsc_khz_source, "timing leaf");
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_TSC_FREQ_LEAF));
    EXPECT_EQ(count_offered(&info), 1);
}

static void hv_detect_unknown_signature(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_sig(&c, BASE0, BASE0 + 2, "Nimbus\x01HV\0z\0\0");
    struct hv_info info = detect(&c);
    ASSERT_EQ(info.nranges, (size_t)1);
    EXPECT_FAMILY(info.primary, HV_FAMILY_UNKNOWN);
    EXPECT_EQ(info.primary_base, BASE0);
    EXPECT_EQ(memcmp(info.ranges[0].signature, "Nimbus\x01HV\0z\0", 12), 0);
    EXPECT_STREQ(info.ranges[0].printable, "Nimbus.HV.z");
    EXPECT_EQ(count_offered(&info), 0);
}

// QEMU hv-vendor-id: any vendor string, but the "Hv#1" interface.
static void hv_detect_hyperv_custom_vendor(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_sig(&c, BASE0, 0x40000005, "Linux KVM Hv");
    fake_set(&c, BASE0 + 1, 0x31237648, 0, 0, 0);
    fake_set(&c, BASE0 + 3, 0x00000200, 0, 0, 0);
    struct hv_info info = detect(&c);
    ASSERT_EQ(info.nranges, (size_t)1);
    EXPECT_FAMILY(info.primary, HV_FAMILY_HYPERV);
    EXPECT_STREQ(info.ranges[0].printable, "Linux KVM Hv");
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_HYPERV_REFERENCE_TSC));
}

// Max leaves out of their range: clamped above, empty below; no reads past
// a range's 256 leaves.
static void hv_detect_garbage_max_leaf(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    c.other =
        (struct hv_cpuid_regs){0x00000007, 0x00000340, 0x00000340, 0}; // Intel: last basic leaf
    fake_set(&c, BASE0, 0xffffffff, 0x4b4d564b, 0x564b4d56, 0x0000004d);
    fake_set(&c, BASE0 + 1, 0x0100fafb, 0, 0, 0);
    fake_sig(&c, BASE1, 0x12, "GarbageGarba");
    fake_sig(&c, BASE2, BASE1 + 5, "BelowBaseXYZ");
    struct hv_info info = detect(&c);
    ASSERT_EQ(info.nranges, (size_t)1);
    EXPECT_EQ(info.ranges[0].max_leaf, BASE0 + 0xff);
    EXPECT_TRUE(info.ranges[0].max_leaf_clamped);
    EXPECT_FAMILY(info.primary, HV_FAMILY_KVM);
    EXPECT_TRUE(hv_info_offers(&info, HV_FEAT_KVM_STEAL_TIME));
    ASSERT_LE(c.nreads, ARRAY_SIZE(c.reads));
    for (size_t i = 0; i < c.nreads; i++) {
        uint32_t l = c.reads[i];
        bool signature = l >= BASE0 && (l & 0xff) == 0 && l < BASE0 + 16 * 0x100;
        EXPECT_TRUE(l == 1 || signature || (l > BASE0 && l <= BASE0 + 0xff));
    }
    EXPECT_LE(c.nreads, (size_t)(1 + 16 + 1));
    EXPECT_EQ(info.tsc_khz, 0ull); // no timing leaf read from a garbage range
}

// A KVM range whose max leaf is its base has no feature leaf to read.
static void hv_detect_respects_max_leaf(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_sig(&c, BASE0, BASE0, "KVMKVMKVM\0\0\0");
    fake_set(&c, BASE0 + 1, 0x0100fafb, 0, 0, 0);
    struct hv_info info = detect(&c);
    EXPECT_FAMILY(info.primary, HV_FAMILY_KVM);
    EXPECT_FALSE(was_read(&c, BASE0 + 1));
    EXPECT_EQ(count_offered(&info), 0);
}

static void hv_primary_choice(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_hyperv(&c);
    EXPECT_FAMILY(detect(&c).primary, HV_FAMILY_HYPERV);

    fake_init(&c, true);
    fake_sig(&c, BASE0, BASE0, "TCGTCGTCGTCG");
    fake_sig(&c, BASE1, BASE1, "SomethingNew");
    struct hv_info info = detect(&c);
    EXPECT_EQ(info.nranges, (size_t)2);
    EXPECT_FAMILY(info.primary, HV_FAMILY_TCG); // neither KVM, Xen nor Hyper-V: the first

    fake_init(&c, true);
    fake_sig(&c, BASE0, BASE0, "bhyve bhyve ");
    fake_xen(&c, BASE1);
    fake_kvm(&c, BASE2);
    info = detect(&c);
    EXPECT_EQ(info.nranges, (size_t)3);
    EXPECT_FAMILY(info.primary, HV_FAMILY_XEN); // the first of KVM and Xen
    EXPECT_EQ(hv_info_family_base(&info, HV_FAMILY_KVM), BASE2);
    EXPECT_EQ(hv_info_family_base(&info, HV_FAMILY_BHYVE), BASE0);
    EXPECT_EQ(hv_info_family_base(&info, HV_FAMILY_HYPERV), 0u);
}

static void hv_signatures_known(struct ktest *t)
{
    static const struct {
        const char *sig;
        enum hv_family family;
    } cases[] = {
        {"KVMKVMKVM\0\0\0", HV_FAMILY_KVM},  {"XenVMMXenVMM", HV_FAMILY_XEN},
        {"Microsoft Hv", HV_FAMILY_HYPERV},  {"VMwareVMware", HV_FAMILY_VMWARE},
        {"TCGTCGTCGTCG", HV_FAMILY_TCG},     {"bhyve bhyve ", HV_FAMILY_BHYVE},
        {"BHyVE BHyVE ", HV_FAMILY_BHYVE},   {"ACRNACRNACRN", HV_FAMILY_ACRN},
        {"QNXQVMBSQG\0\0", HV_FAMILY_QNX},   {" lrpepyh  vr", HV_FAMILY_PARALLELS},
        {"KVMKVMKVMKVM", HV_FAMILY_UNKNOWN}, {"xenvmmxenvmm", HV_FAMILY_UNKNOWN},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct fake_cpu c;
        fake_init(&c, true);
        fake_sig(&c, BASE0, BASE0, cases[i].sig);
        struct hv_info info = detect(&c);
        EXPECT_EQ(info.nranges, (size_t)1);
        EXPECT_FAMILY(info.ranges[0].family, cases[i].family);
    }
}

struct bit_case {
    enum hv_feature feature;
    int bit;
};

// With only `bit` set in a feature word, exactly `feature` is offered.
static void check_bits(struct ktest *t, const struct bit_case *cases, size_t n,
                       void (*build)(struct fake_cpu *c, uint32_t word))
{
    for (size_t i = 0; i < n; i++) {
        struct fake_cpu c;
        fake_init(&c, true);
        build(&c, 1u << cases[i].bit);
        struct hv_info info = detect(&c);
        EXPECT_TRUE(hv_info_offers(&info, cases[i].feature));
        EXPECT_EQ(count_offered(&info), 1);
    }
}

static void build_kvm(struct fake_cpu *c, uint32_t word)
{
    fake_sig(c, BASE0, BASE0 + 1, "KVMKVMKVM\0\0\0");
    fake_set(c, BASE0 + 1, word, 0, 0, 0);
}

static void build_hyperv_privileges(struct fake_cpu *c, uint32_t word)
{
    fake_sig(c, BASE0, BASE0 + 4, "Microsoft Hv");
    fake_set(c, BASE0 + 3, word, 0, 0, 0);
}

static void build_hyperv_recommendations(struct fake_cpu *c, uint32_t word)
{
    fake_sig(c, BASE0, BASE0 + 4, "Microsoft Hv");
    fake_set(c, BASE0 + 4, word, 0, 0, 0);
}

static void build_xen_hvm(struct fake_cpu *c, uint32_t word)
{
    fake_sig(c, BASE1, BASE1 + 4, "XenVMMXenVMM");
    fake_set(c, BASE1 + 4, word, 0, 0, 0);
}

// Bit numbers as the KVM documentation, the TLFS and Xen's cpuid.h give them.
static void hv_feature_bits(struct ktest *t)
{
    static const struct bit_case kvm[] = {
        {HV_FEAT_KVM_CLOCKSOURCE, 0},      {HV_FEAT_KVM_NOP_IO_DELAY, 1},
        {HV_FEAT_KVM_CLOCKSOURCE2, 3},     {HV_FEAT_KVM_ASYNC_PF, 4},
        {HV_FEAT_KVM_STEAL_TIME, 5},       {HV_FEAT_KVM_PV_EOI, 6},
        {HV_FEAT_KVM_PV_UNHALT, 7},        {HV_FEAT_KVM_PV_TLB_FLUSH, 9},
        {HV_FEAT_KVM_ASYNC_PF_VMEXIT, 10}, {HV_FEAT_KVM_PV_SEND_IPI, 11},
        {HV_FEAT_KVM_POLL_CONTROL, 12},    {HV_FEAT_KVM_PV_SCHED_YIELD, 13},
        {HV_FEAT_KVM_ASYNC_PF_INT, 14},    {HV_FEAT_KVM_MSI_EXT_DEST_ID, 15},
        {HV_FEAT_KVM_MAP_GPA_RANGE, 16},   {HV_FEAT_KVM_MIGRATION_CONTROL, 17},
        {HV_FEAT_KVM_CLOCK_STABLE, 24}};
    static const struct bit_case hyperv_privileges[] = {
        {HV_FEAT_HYPERV_VP_RUNTIME, 0},      {HV_FEAT_HYPERV_TIME_REF_COUNT, 1},
        {HV_FEAT_HYPERV_SYNIC, 2},           {HV_FEAT_HYPERV_STIMER, 3},
        {HV_FEAT_HYPERV_APIC_MSRS, 4},       {HV_FEAT_HYPERV_HYPERCALL, 5},
        {HV_FEAT_HYPERV_VP_INDEX, 6},        {HV_FEAT_HYPERV_RESET, 7},
        {HV_FEAT_HYPERV_REFERENCE_TSC, 9},   {HV_FEAT_HYPERV_GUEST_IDLE, 10},
        {HV_FEAT_HYPERV_FREQUENCY_MSRS, 11}, {HV_FEAT_HYPERV_REENLIGHTENMENT, 13}};
    static const struct bit_case hyperv_recommendations[] = {
        {HV_FEAT_HYPERV_REC_LOCAL_FLUSH, 1},    {HV_FEAT_HYPERV_REC_REMOTE_FLUSH, 2},
        {HV_FEAT_HYPERV_REC_APIC_MSRS, 3},      {HV_FEAT_HYPERV_REC_RESET, 4},
        {HV_FEAT_HYPERV_REC_RELAXED_TIMING, 5}, {HV_FEAT_HYPERV_REC_X2APIC_MSRS, 8},
        {HV_FEAT_HYPERV_REC_NO_AUTO_EOI, 9},    {HV_FEAT_HYPERV_REC_CLUSTER_IPI, 10},
        {HV_FEAT_HYPERV_REC_EX_MASKS, 11}};
    static const struct bit_case xen_hvm[] = {
        {HV_FEAT_XEN_APIC_VIRT, 0},      {HV_FEAT_XEN_X2APIC_VIRT, 1},
        {HV_FEAT_XEN_IOMMU_MAPPINGS, 2}, {HV_FEAT_XEN_VCPU_ID, 3},
        {HV_FEAT_XEN_DOMID, 4},          {HV_FEAT_XEN_EXT_DEST_ID, 5},
        {HV_FEAT_XEN_UPCALL_VECTOR, 6}};
    check_bits(t, kvm, ARRAY_SIZE(kvm), build_kvm);
    check_bits(t, hyperv_privileges, ARRAY_SIZE(hyperv_privileges), build_hyperv_privileges);
    check_bits(t, hyperv_recommendations, ARRAY_SIZE(hyperv_recommendations),
               build_hyperv_recommendations);
    check_bits(t, xen_hvm, ARRAY_SIZE(xen_hvm), build_xen_hvm);
}

// Leaf base+0x10 means the TSC rate only outside Xen and Hyper-V ranges.
static void hv_timing_leaf_only_where_defined(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_sig(&c, BASE0, BASE0 + 0x10, "Microsoft Hv");
    fake_set(&c, BASE0 + 0x10, 0x1234, 0x5678, 0, 0);
    fake_sig(&c, BASE1, BASE1 + 0x10, "XenVMMXenVMM");
    fake_set(&c, BASE1 + 0x10, 0x1234, 0x5678, 0, 0);
    struct hv_info info = detect(&c);
    EXPECT_EQ(info.nranges, (size_t)2);
    EXPECT_EQ(info.tsc_khz, 0ull);
    EXPECT_EQ(info.timing.leaf, 0u);
    EXPECT_FALSE(was_read(&c, BASE0 + 0x10));
    EXPECT_FALSE(was_read(&c, BASE1 + 0x10));
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static void hv_feature_table(struct ktest *t)
{
    for (int f = 0; f < HV_FEATURE_COUNT; f++) {
        const char *name = hv_feature_name((enum hv_feature)f);
        ASSERT_NOT_NULL(name);
        enum hv_family fam = hv_feature_family((enum hv_feature)f);
        if (fam == HV_FAMILY_XEN)
            EXPECT_TRUE(has_prefix(name, "xen-"));
        else if (fam == HV_FAMILY_HYPERV)
            EXPECT_TRUE(has_prefix(name, "hv-"));
        else
            EXPECT_FALSE(has_prefix(name, "xen-") || has_prefix(name, "hv-"));
        for (int g = 0; g < f; g++)
            EXPECT_NE(strcmp(name, hv_feature_name((enum hv_feature)g)), 0);
    }
    for (int fam = 0; fam < HV_FAMILY_COUNT; fam++)
        EXPECT_NOT_NULL(hv_family_name((enum hv_family)fam));
    EXPECT_NULL(hv_feature_name(HV_FEATURE_COUNT));
    EXPECT_NULL(hv_family_name(HV_FAMILY_COUNT));
    EXPECT_STREQ(hv_feature_name(HV_FEAT_KVM_STEAL_TIME), "steal-time");
    EXPECT_FAMILY(hv_feature_family(HV_FEAT_KVM_STEAL_TIME), HV_FAMILY_KVM);
}

static void hv_set_used(struct ktest *t)
{
    struct fake_cpu c;
    fake_init(&c, true);
    fake_kvm(&c, BASE0);
    struct hv_info info = detect(&c);
    EXPECT_OK(hv_info_set_used(&info, HV_FEAT_KVM_STEAL_TIME));
    EXPECT_TRUE(info.features[HV_FEAT_KVM_STEAL_TIME].used);
    EXPECT_STATUS(hv_info_set_used(&info, HV_FEAT_XEN_DOMID), ERR_NOT_SUPPORTED);
    EXPECT_FALSE(info.features[HV_FEAT_XEN_DOMID].used);
    EXPECT_STATUS(hv_info_set_used(&info, HV_FEATURE_COUNT), ERR_INVALID_ARGS);
    EXPECT_FALSE(hv_info_offers(&info, HV_FEATURE_COUNT));
    EXPECT_FALSE(hv_info_offers(&info, (enum hv_feature) - 1));
}

static void hv_boot_lines(struct ktest *t)
{
    char b[512];
    struct fake_cpu c;
    fake_init(&c, true);
    fake_kvm(&c, BASE0);
    struct hv_info info = detect(&c);
    hv_info_boot_line(&info, b, sizeof(b));
    EXPECT_STREQ(b, "hv: KVM at 0x40000000 (features: clocksource nop-io-delay clocksource2 "
                    "async-pf steal-time pv-eoi pv-unhalt pv-tlb-flush pv-send-ipi poll-control "
                    "pv-sched-yield async-pf-int msi-ext-dest-id clock-stable)");

    fake_init(&c, true);
    fake_hyperv(&c);
    fake_sig(&c, BASE1, BASE1 + 1, "TCGTCGTCGTCG");
    info = detect(&c);
    hv_info_boot_line(&info, b, sizeof(b));
    EXPECT_STREQ(b,
                 "hv: Hyper-V at 0x40000000, also TCG at 0x40000100 (features: hv-time-ref-count "
                 "hv-hypercall hv-vpindex hv-reference-tsc hv-relaxed)");

    fake_init(&c, true);
    fake_sig(&c, BASE0, BASE0 + 0x10, "VMwareVMware");
    fake_set(&c, BASE0 + 0x10, 2500000, 1000000, 0, 0);
    info = detect(&c);
    hv_info_boot_line(&info, b, sizeof(b));
    EXPECT_STREQ(b, "hv: VMware at 0x40000000, tsc 2500000 kHz (features: tsc-freq-leaf)");

    fake_init(&c, true);
    fake_sig(&c, BASE0, BASE0, "Odd\x7fSig\0\0\0\0\0");
    info = detect(&c);
    hv_info_boot_line(&info, b, sizeof(b));
    EXPECT_STREQ(b, "hv: unknown \"Odd.Sig\" at 0x40000000 (features: none)");

    fake_init(&c, true);
    info = detect(&c);
    hv_info_boot_line(&info, b, sizeof(b));
    EXPECT_STREQ(b, "hv: unknown/hidden hypervisor (no signature leaves, no PV features)");

    fake_init(&c, false);
    info = detect(&c);
    hv_info_boot_line(&info, b, sizeof(b));
    EXPECT_STREQ(b, "hv: none (bare metal)");
}

static void hv_boot_line_truncates(struct ktest *t)
{
    char b[80];
    struct fake_cpu c;
    fake_init(&c, true);
    fake_kvm(&c, BASE0);
    struct hv_info info = detect(&c);
    memset(b, 'x', sizeof(b));
    hv_info_boot_line(&info, b, 64);
    EXPECT_LT(strlen(b), (size_t)64);
    EXPECT_STREQ(b, "hv: KVM at 0x40000000 (features: clocksource nop-io-delay ...)");
    // Room for one more name but not for " ...)" after it: cut before it.
    hv_info_boot_line(&info, b, 72);
    EXPECT_STREQ(b, "hv: KVM at 0x40000000 (features: clocksource nop-io-delay ...)");
    hv_info_boot_line(&info, b, 1);
    EXPECT_STREQ(b, "");
    hv_info_boot_line(&info, b, 10);
    EXPECT_STREQ(b, "hv: KVM a");
}

#define MAX_LINES 32

struct lines {
    char text[MAX_LINES][160];
    int n;
};

static void collect(const char *line, void *ctx)
{
    struct lines *l = ctx;
    if (l->n < MAX_LINES)
        kstrlcpy(l->text[l->n], line, sizeof(l->text[0]));
    l->n++;
}

static int find_line(const struct lines *l, const char *prefix)
{
    for (int i = 0; i < l->n && i < MAX_LINES; i++)
        if (has_prefix(l->text[i], prefix))
            return i;
    return -1;
}

static void hv_report_lines(struct ktest *t)
{
    static struct lines l; // large for a kernel stack
    struct fake_cpu c;
    fake_init(&c, true);
    fake_hyperv(&c);
    fake_kvm(&c, BASE1);
    struct hv_info info = detect(&c);
    ASSERT_OK(hv_info_set_used(&info, HV_FEAT_KVM_CLOCKSOURCE2));
    l.n = 0;
    hv_info_report(&info, collect, &l);
    ASSERT_LE(l.n, MAX_LINES);
    EXPECT_STREQ(l.text[0], "hypervisor: KVM at 0x40000100 (primary)");
    EXPECT_GE(find_line(&l, "range 0x40000000: Hyper-V \"Microsoft Hv\", leaves to 0x40000005"), 0);
    EXPECT_GE(find_line(&l, "range 0x40000100: KVM \"KVMKVMKVM\", leaves to 0x40000101"), 0);
    EXPECT_GE(find_line(&l, "kvm: features 0x0100fafb, hints 0x00000000"), 0);
    EXPECT_GE(find_line(&l, "hyper-v: interface 0x31237648"), 0);
    EXPECT_GE(find_line(&l, "tsc: frequency not given"), 0);
    int head = find_line(&l, "features: ");
    ASSERT_GE(head, 0);
    EXPECT_STREQ(l.text[head], "features: 19 offered, 1 used");
    EXPECT_EQ(l.n - head - 1, count_offered(&info)); // one line per offered feature
    EXPECT_GE(find_line(&l, "  clocksource2           KVM      used"), 0);
    EXPECT_GE(find_line(&l, "  steal-time             KVM      offered"), 0);
    EXPECT_GE(find_line(&l, "  hv-relaxed             Hyper-V  offered"), 0);
}

static void hv_report_edge_cases(struct ktest *t)
{
    static struct lines l;
    struct hv_info info = {.detected = false};
    l.n = 0;
    hv_info_report(&info, collect, &l);
    EXPECT_EQ(l.n, 1);
    EXPECT_STREQ(l.text[0], "hypervisor: not probed yet");

    struct fake_cpu c;
    fake_init(&c, true);
    info = detect(&c);
    l.n = 0;
    hv_info_report(&info, collect, &l);
    EXPECT_EQ(l.n, 1);
    EXPECT_STREQ(l.text[0], "hypervisor: unknown/hidden (hypervisor bit set, no signature leaves)");
}

KTEST_SUITE(hv, KTEST_CASE(hv_detect_kvm_reference), KTEST_CASE(hv_detect_kvm_zero_max_leaf),
            KTEST_CASE(hv_detect_tcg), KTEST_CASE(hv_detect_kvm_behind_hyperv),
            KTEST_CASE(hv_detect_xen_behind_hyperv), KTEST_CASE(hv_detect_hidden),
            KTEST_CASE(hv_detect_bare_metal), KTEST_CASE(hv_detect_kvm_timing_leaf),
            KTEST_CASE(hv_detect_vmware_timing), KTEST_CASE(hv_detect_unknown_signature),
            KTEST_CASE(hv_detect_hyperv_custom_vendor), KTEST_CASE(hv_detect_garbage_max_leaf),
            KTEST_CASE(hv_detect_respects_max_leaf), KTEST_CASE(hv_primary_choice),
            KTEST_CASE(hv_signatures_known), KTEST_CASE(hv_feature_table),
            KTEST_CASE(hv_feature_bits), KTEST_CASE(hv_timing_leaf_only_where_defined),
            KTEST_CASE(hv_set_used), KTEST_CASE(hv_boot_lines), KTEST_CASE(hv_boot_line_truncates),
            KTEST_CASE(hv_report_lines), KTEST_CASE(hv_report_edge_cases));
