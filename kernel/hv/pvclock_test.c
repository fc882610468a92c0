// nimbus:host
// Tests of the paravirtual time arithmetic: pvclock scaling and reading,
// mul/shift from a rate, the Hyper-V reference TSC page, steal time.
#include "hv/pvclock.h"
#include "lib/ktest.h"

#define NS_PER_SEC 1000000000ull

// (a * b) >> 64 from 32-bit limbs: a reference that does not use the 128-bit
// type the code under test uses.
static uint64_t mulhi64_ref(uint64_t a, uint64_t b)
{
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t lo = a0 * b0, mid1 = a1 * b0, mid2 = a0 * b1, hi = a1 * b1;
    uint64_t carry = ((lo >> 32) + (uint32_t)mid1 + (uint32_t)mid2) >> 32;
    return hi + (mid1 >> 32) + (mid2 >> 32) + carry;
}

// (d * mul) >> 32 without a 128-bit product: the high 32 bits of d times mul
// are whole, only the low half needs the shift.
static uint64_t scale_ref(uint64_t d, uint32_t mul)
{
    return (d >> 32) * mul + (((d & 0xffffffffull) * mul) >> 32);
}

static void pvclock_scale_vectors(struct ktest *t)
{
    const uint32_t half = 0x80000000u; // 0.5 in 32.32
    EXPECT_EQ(pvclock_scale_delta(1000, half, 0), 500ull);
    EXPECT_EQ(pvclock_scale_delta(1000, half, -1), 250ull);
    EXPECT_EQ(pvclock_scale_delta(1000, half, 2), 2000ull);
    EXPECT_EQ(pvclock_scale_delta(1001, half, -1), 250ull); // the shift drops the low bit first
    EXPECT_EQ(pvclock_scale_delta(1000, 0, 0), 0ull);
    EXPECT_EQ(pvclock_scale_delta(1000, half, 64), 0ull);
    EXPECT_EQ(pvclock_scale_delta(1000, half, -64), 0ull);
    EXPECT_EQ(pvclock_scale_delta(1ull << 62, half, -62), 0ull); // 1 * 0.5, rounded down
}

// Deltas whose product with mul needs more than 64 bits.
static void pvclock_scale_large_deltas(struct ktest *t)
{
    const uint64_t deltas[] = {1ull << 40, 1ull << 60, UINT64_MAX >> 1, UINT64_MAX,
                               0x123456789abcdefull};
    const uint32_t muls[] = {0xffffffffu, 0x80000001u, 0xd1b71758u, 3};
    for (size_t i = 0; i < ARRAY_SIZE(deltas); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(muls); j++) {
            EXPECT_EQ(pvclock_scale_delta(deltas[i], muls[j], 0), scale_ref(deltas[i], muls[j]));
            EXPECT_EQ(pvclock_scale_delta(deltas[i], muls[j], -3),
                      scale_ref(deltas[i] >> 3, muls[j]));
        }
    }
    // The vector really overflows a 64-bit product.
    uint64_t d = 1ull << 60;
    EXPECT_NE((d * 0xffffffffull) >> 32, scale_ref(d, 0xffffffffu));
    EXPECT_EQ(pvclock_scale_delta(d, 0xffffffffu, 0), (1ull << 60) - (1ull << 28));
}

static void pvclock_time_at_vectors(struct ktest *t)
{
    struct pvclock_vcpu_time_info s = {.tsc_timestamp = 1000,
                                       .system_time = 5 * NS_PER_SEC,
                                       .tsc_to_system_mul = 0x80000000u,
                                       .tsc_shift = 1}; // a 1 GHz TSC
    EXPECT_EQ(pvclock_time_at(&s, 3000), 5 * NS_PER_SEC + 2000);
    EXPECT_EQ(pvclock_time_at(&s, 1000), 5 * NS_PER_SEC);
    EXPECT_EQ(pvclock_time_at(&s, 999), 5 * NS_PER_SEC); // TSC behind the sample
}

static void pvclock_version_rules(struct ktest *t)
{
    EXPECT_FALSE(pvclock_version_retry(2, 2));
    EXPECT_TRUE(pvclock_version_retry(3, 3)); // update in progress
    EXPECT_TRUE(pvclock_version_retry(2, 4)); // updated during the read
    EXPECT_TRUE(pvclock_version_retry(2, 3));
    EXPECT_FALSE(pvclock_version_retry(0, 0));
}

// A fake TSC that, on its first read, plays the hypervisor updating the area
// underneath the reader.
struct pvclock_fake {
    volatile struct pvclock_vcpu_time_info *area;
    bool update; // play the hypervisor on the first read
    int calls;
    uint64_t tsc[2];
};

static uint64_t pvclock_fake_tsc(void *ctx)
{
    struct pvclock_fake *f = ctx;
    if (f->update && f->calls == 0) {
        f->area->tsc_timestamp = 10000;
        f->area->system_time = 7 * NS_PER_SEC;
        f->area->flags = PVCLOCK_TSC_STABLE_BIT;
        f->area->version = 4;
    }
    return f->tsc[f->calls++ ? 1 : 0];
}

static void pvclock_read_once(struct ktest *t)
{
    struct pvclock_vcpu_time_info area = {.version = 2,
                                          .tsc_timestamp = 500,
                                          .system_time = 100,
                                          .tsc_to_system_mul = 0x80000000u,
                                          .tsc_shift = 1};
    struct pvclock_fake f = {.area = &area, .tsc = {1500, 0}};
    uint8_t flags = 0xff;
    EXPECT_EQ(pvclock_read(&area, pvclock_fake_tsc, &f, &flags), 1100ull);
    EXPECT_EQ(f.calls, 1);
    EXPECT_EQ(flags, 0);
}

static void pvclock_read_retries_on_change(struct ktest *t)
{
    struct pvclock_vcpu_time_info area = {.version = 2,
                                          .tsc_timestamp = 500,
                                          .system_time = 100,
                                          .tsc_to_system_mul = 0x80000000u,
                                          .tsc_shift = 1};
    struct pvclock_fake f = {.area = &area, .update = true, .tsc = {9000, 12000}};
    uint8_t flags = 0;
    uint64_t ns = pvclock_read(&area, pvclock_fake_tsc, &f, &flags);
    EXPECT_EQ(f.calls, 2);
    EXPECT_EQ(ns, 7 * NS_PER_SEC + 2000); // new sample, second TSC value
    EXPECT_EQ(flags, PVCLOCK_TSC_STABLE_BIT);
}

static void pvclock_read_retries_while_odd(struct ktest *t)
{
    struct pvclock_vcpu_time_info area = {.version = 3,
                                          .tsc_timestamp = 1,
                                          .system_time = 1,
                                          .tsc_to_system_mul = 0x80000000u,
                                          .tsc_shift = 1};
    struct pvclock_fake f = {.area = &area, .update = true, .tsc = {10500, 10500}};
    uint64_t ns = pvclock_read(&area, pvclock_fake_tsc, &f, NULL);
    EXPECT_EQ(f.calls, 2);
    EXPECT_EQ(ns, 7 * NS_PER_SEC + 500);
}

static void pvclock_mul_shift_vectors(struct ktest *t)
{
    uint32_t mul = 0;
    int8_t shift = 0;
    // 1 GHz: ratio 1 = 0.5 * 2^1.
    ASSERT_OK(pvclock_mul_shift(NS_PER_SEC, NS_PER_SEC, &mul, &shift));
    EXPECT_EQ(mul, 0x80000000u);
    EXPECT_EQ(shift, 1);
    // 3 GHz: 1/3 = (2/3) * 2^-1, and 2/3 * 2^32 = 2863311530.67.
    ASSERT_OK(pvclock_mul_shift(3 * NS_PER_SEC, NS_PER_SEC, &mul, &shift));
    EXPECT_EQ(mul, 2863311530u);
    EXPECT_EQ(shift, -1);
    // 2.5 GHz: 0.4 = 0.8 * 2^-1, and 0.8 * 2^32 = 3435973836.8.
    ASSERT_OK(pvclock_mul_shift(2500000000ull, NS_PER_SEC, &mul, &shift));
    EXPECT_EQ(mul, 3435973836u);
    EXPECT_EQ(shift, -1);
    // 1 MHz: 1000 = (125/128) * 2^10, and 125/128 * 2^32 = 4194304000 exactly.
    ASSERT_OK(pvclock_mul_shift(1000000, NS_PER_SEC, &mul, &shift));
    EXPECT_EQ(mul, 4194304000u);
    EXPECT_EQ(shift, 10);
}

static void pvclock_mul_shift_errors(struct ktest *t)
{
    uint32_t mul = 0;
    int8_t shift = 0;
    EXPECT_STATUS(pvclock_mul_shift(0, NS_PER_SEC, &mul, &shift), ERR_INVALID_ARGS);
    EXPECT_STATUS(pvclock_mul_shift(NS_PER_SEC, 0, &mul, &shift), ERR_INVALID_ARGS);
    EXPECT_STATUS(pvclock_mul_shift(1, UINT64_MAX, &mul, &shift), ERR_OUT_OF_RANGE);
    EXPECT_OK(pvclock_mul_shift(UINT64_MAX, 1, &mul, &shift)); // 2^-64 = 0.5 * 2^-63
    EXPECT_EQ(shift, -63);
    EXPECT_GE(mul, 0x80000000u);
}

// k seconds of ticks at `hz` scale to k * 1e9 ns, low by at most one part in
// 2^31 plus the ticks a right shift drops.
static void check_rate(struct ktest *t, uint64_t hz, uint64_t seconds)
{
    uint32_t mul;
    int8_t shift;
    ASSERT_OK(pvclock_mul_shift(hz, NS_PER_SEC, &mul, &shift));
    EXPECT_GE(mul, 0x80000000u);
    uint64_t exact = seconds * NS_PER_SEC;
    uint64_t got = pvclock_scale_delta(seconds * hz, mul, shift);
    EXPECT_LE(got, exact);
    EXPECT_LE(exact - got, (exact >> 31) + 2);
}

static void pvclock_mul_shift_accuracy(struct ktest *t)
{
    const uint64_t rates[] = {32768,      1000000,    19200000,   1000000000,
                              2500000000, 3123456789, 4999999999, 100000000000};
    for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
        check_rate(t, rates[i], 1);
        check_rate(t, rates[i], 3600);
    }
}

static void hyperv_scale_vectors(struct ktest *t)
{
    EXPECT_EQ(hyperv_tsc_scale(UINT64_MAX, 1ull << 63, -5), (1ull << 63) - 1 - 5);
    EXPECT_EQ(hyperv_tsc_scale(UINT64_MAX, UINT64_MAX, 0), UINT64_MAX - 1);
    EXPECT_EQ(hyperv_tsc_scale(12345, 0, 7), 7ull);
    // A 2.5 GHz TSC: scale = 2^64 * 1e7 / 2.5e9, rounded down; 10 s of ticks
    // are 1e8 units of 100 ns, less the rounding.
    uint64_t scale = 73786976294838206ull;
    uint64_t t100 = hyperv_tsc_scale(25000000000ull, scale, 0);
    EXPECT_LE(t100, 100000000ull);
    EXPECT_GE(t100, 100000000ull - 1);
    uint64_t x = 0x9e3779b97f4a7c15ull, y = 0xbf58476d1ce4e5b9ull;
    for (int i = 0; i < 64; i++) {
        EXPECT_EQ(hyperv_tsc_scale(x, y, 0), mulhi64_ref(x, y));
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        y ^= x >> 7;
    }
}

struct hyperv_fake {
    volatile struct hyperv_tsc_page *page;
    int calls;
    bool bump;
};

static uint64_t hyperv_fake_tsc(void *ctx)
{
    struct hyperv_fake *f = ctx;
    if (f->bump && f->calls == 0) {
        f->page->tsc_scale = 1ull << 62; // 0.25
        f->page->tsc_sequence++;
    }
    f->calls++;
    return 4000;
}

static void hyperv_page_read(struct ktest *t)
{
    struct hyperv_tsc_page page = {.tsc_sequence = 5, .tsc_scale = 1ull << 63, .tsc_offset = 10};
    struct hyperv_fake f = {.page = &page};
    uint64_t v = 0;
    EXPECT_OK(hyperv_tsc_page_read(&page, hyperv_fake_tsc, &f, &v));
    EXPECT_EQ(v, 2010ull);
    EXPECT_EQ(f.calls, 1);

    f = (struct hyperv_fake){.page = &page, .bump = true};
    EXPECT_OK(hyperv_tsc_page_read(&page, hyperv_fake_tsc, &f, &v));
    EXPECT_EQ(f.calls, 2); // the sequence moved: read again with the new scale
    EXPECT_EQ(v, 1010ull);

    page.tsc_sequence = HYPERV_TSC_PAGE_INVALID;
    f = (struct hyperv_fake){.page = &page};
    v = 99;
    EXPECT_STATUS(hyperv_tsc_page_read(&page, hyperv_fake_tsc, &f, &v), ERR_BAD_STATE);
    EXPECT_EQ(f.calls, 0);
    EXPECT_EQ(v, 99ull);
}

struct steal_fake {
    volatile struct kvm_steal_time *st;
    int relaxed;
};

// The hypervisor finishes its update while the reader waits.
static void steal_fake_relax(void *ctx)
{
    struct steal_fake *f = ctx;
    f->relaxed++;
    f->st->steal = 777000;
    f->st->version++;
}

static void steal_time_read(struct ktest *t)
{
    struct kvm_steal_time st = {.steal = 1234, .version = 2};
    struct steal_fake f = {.st = &st};
    EXPECT_EQ(kvm_steal_time_read(&st, steal_fake_relax, &f), 1234ull);
    EXPECT_EQ(f.relaxed, 0);
    EXPECT_EQ(kvm_steal_time_read(&st, NULL, NULL), 1234ull);

    st.version = 3; // update in progress
    st.steal = 5;   // half-written
    EXPECT_EQ(kvm_steal_time_read(&st, steal_fake_relax, &f), 777000ull);
    EXPECT_EQ(f.relaxed, 1);
}

KTEST_SUITE(pvclock, KTEST_CASE(pvclock_scale_vectors), KTEST_CASE(pvclock_scale_large_deltas),
            KTEST_CASE(pvclock_time_at_vectors), KTEST_CASE(pvclock_version_rules),
            KTEST_CASE(pvclock_read_once), KTEST_CASE(pvclock_read_retries_on_change),
            KTEST_CASE(pvclock_read_retries_while_odd), KTEST_CASE(pvclock_mul_shift_vectors),
            KTEST_CASE(pvclock_mul_shift_errors), KTEST_CASE(pvclock_mul_shift_accuracy),
            KTEST_CASE(hyperv_scale_vectors), KTEST_CASE(hyperv_page_read),
            KTEST_CASE(steal_time_read));
