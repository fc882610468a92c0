// In-kernel checks of detection on the hypervisor the kernel runs under: the
// test reads the signature leaves itself and compares them with what
// hv_detect() made of them. Kernel only (it executes CPUID).
#include "hv/hv.h"
#include "hv/leaves.h"
#include "lib/ktest.h"
#include "lib/string.h"

// Enums compare as int (enum hv_family is unsigned to the compiler).
#define EXPECT_FAMILY(a, b) EXPECT_EQ((int)(a), (int)(b))

static struct hv_info live; // detected afresh by each case

static void cpu_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, struct hv_cpuid_regs *r)
{
    hv_cpuid(leaf, subleaf, r);
}

static void detect_live(void)
{
    hv_detect(&live, cpu_cpuid, NULL);
}

static bool hypervisor_bit(void)
{
    struct hv_cpuid_regs r;
    hv_cpuid(HV_CPUID_LEAF_FEATURES, 0, &r);
    return r.ecx & HV_CPUID_1_ECX_HYPERVISOR;
}

// True if the signature leaf at base holds these 12 bytes.
static bool signature_is(uint32_t base, const char *sig)
{
    struct hv_cpuid_regs r;
    hv_cpuid(base, 0, &r);
    uint32_t words[3] = {r.ebx, r.ecx, r.edx};
    return memcmp(words, sig, HV_SIGNATURE_LEN) == 0;
}

static int count_offered(const struct hv_info *info)
{
    int n = 0;
    for (int f = 0; f < HV_FEATURE_COUNT; f++)
        n += info->features[f].offered;
    return n;
}

static void print_diag(const char *line, void *ctx)
{
    ktest_output("    # hvinfo: ");
    ktest_output(line);
    ktest_output("\n");
}

static void hv_live_hypervisor_bit(struct ktest *t)
{
    detect_live();
    EXPECT_TRUE(live.detected);
    EXPECT_EQ(live.hypervisor_bit, hypervisor_bit());
    if (!hypervisor_bit())
        EXPECT_FAMILY(live.primary, HV_FAMILY_NONE);
    hv_info_report(&live, print_diag, NULL);
}

static void expect_kvm_at(struct ktest *t, uint32_t base)
{
    struct hv_cpuid_regs f;
    hv_cpuid(base + KVM_LEAF_FEATURES, 0, &f);
    EXPECT_FAMILY(live.primary, HV_FAMILY_KVM);
    EXPECT_EQ(live.primary_base, base);
    EXPECT_EQ(live.kvm.features, f.eax);
    EXPECT_EQ(hv_info_offers(&live, HV_FEAT_KVM_CLOCKSOURCE2),
              (f.eax & KVM_FEATURE_CLOCKSOURCE2) != 0);
    EXPECT_EQ(hv_info_offers(&live, HV_FEAT_KVM_STEAL_TIME), (f.eax & KVM_FEATURE_STEAL_TIME) != 0);
}

static void hv_live_primary_matches_signature(struct ktest *t)
{
    const uint32_t base0 = HV_LEAF_FIRST_BASE, base1 = base0 + HV_LEAF_RANGE_STEP;
    if (!hypervisor_bit())
        KTEST_SKIP("bare metal");
    detect_live();
    if (signature_is(base0, "TCGTCGTCGTCG")) {
        EXPECT_FAMILY(live.primary, HV_FAMILY_TCG);
        EXPECT_EQ(live.primary_base, base0);
        EXPECT_EQ(count_offered(&live), (int)hv_info_offers(&live, HV_FEAT_TSC_FREQ_LEAF));
    } else if (signature_is(base0, "KVMKVMKVM\0\0\0")) {
        expect_kvm_at(t, base0);
    } else if (signature_is(base0, "Microsoft Hv")) {
        ASSERT_GE(live.nranges, (size_t)1);
        EXPECT_FAMILY(live.ranges[0].family, HV_FAMILY_HYPERV);
        if (signature_is(base1, "KVMKVMKVM\0\0\0"))
            expect_kvm_at(t, base1);
    } else if (signature_is(base0, "\0\0\0\0\0\0\0\0\0\0\0\0") && live.nranges == 0) {
        EXPECT_FAMILY(live.primary, HV_FAMILY_HIDDEN);
        EXPECT_EQ(count_offered(&live), 0);
    } else {
        EXPECT_NE(live.primary_base, 0u);
    }
}

// Every range whose raw signature names a family appears under that family.
static void hv_live_ranges_match_signatures(struct ktest *t)
{
    static const struct {
        const char *sig;
        enum hv_family family;
    } known[] = {{"KVMKVMKVM\0\0\0", HV_FAMILY_KVM},
                 {"TCGTCGTCGTCG", HV_FAMILY_TCG},
                 {"Microsoft Hv", HV_FAMILY_HYPERV},
                 {"XenVMMXenVMM", HV_FAMILY_XEN},
                 {"VMwareVMware", HV_FAMILY_VMWARE}};
    detect_live();
    if (!live.hypervisor_bit)
        KTEST_SKIP("bare metal");
    for (uint32_t k = 0; k < HV_LEAF_MAX_RANGES; k++) {
        uint32_t base = HV_LEAF_FIRST_BASE + k * HV_LEAF_RANGE_STEP;
        for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
            if (!signature_is(base, known[i].sig))
                continue;
            bool found = false;
            for (size_t j = 0; j < live.nranges; j++)
                found |= live.ranges[j].base == base && live.ranges[j].family == known[i].family;
            EXPECT_TRUE(found);
        }
    }
}

// hv_init() (if the boot ran it) saw what a fresh detection sees.
static void hv_live_global_matches(struct ktest *t)
{
    if (!hv_info.detected)
        KTEST_SKIP("hv_init has not run");
    detect_live();
    EXPECT_FAMILY(hv_info.primary, live.primary);
    EXPECT_EQ(hv_info.primary_base, live.primary_base);
    EXPECT_EQ(hv_info.nranges, live.nranges);
    for (int f = 0; f < HV_FEATURE_COUNT; f++)
        EXPECT_EQ(hv_feature_offered((enum hv_feature)f), live.features[f].offered);
    char line[256];
    hv_boot_line(line, sizeof(line));
    EXPECT_EQ(strncmp(line, "hv: ", 4), 0);
}

KTEST_SUITE(hv_live, KTEST_CASE(hv_live_hypervisor_bit),
            KTEST_CASE(hv_live_primary_matches_signature),
            KTEST_CASE(hv_live_ranges_match_signatures), KTEST_CASE(hv_live_global_matches));
