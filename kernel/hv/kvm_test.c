// Live tests of the KVM paravirtual interfaces on the running vCPU: kvmclock,
// the wall clock, steal time, PV EOI, the PV hypercalls and host polling
// control. Each case skips when the kernel is not under KVM or the host does
// not offer its feature. Kernel only.
#include <stdarg.h>

#include "arch.h"
#include "hv/hv.h"
#include "hv/kvm.h"
#include "lib/fmt.h"
#include "lib/ktest.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "sched/timer.h"

#define MS              1000000ull
#define NS_PER_SEC      1000000000ull
#define UNIX_2024_01_01 1704067200ull
#define CLOCK_READS     10000
#define IRQ_ROUNDS      50
#define TIMER_ROUNDS    20
#define IRQ_TIMEOUT     (2000 * MS)

// A KTAP diagnostic line.
static __printf(1, 2) void diag(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ktest_output(line);
}

static bool used(enum hv_feature f)
{
    return hv_info.features[f].used;
}

static bool kvm_clock_offered(void)
{
    return hv_feature_offered(HV_FEAT_KVM_CLOCKSOURCE2) ||
           hv_feature_offered(HV_FEAT_KVM_CLOCKSOURCE);
}

// |a - b| <= a / 100
static bool within_1pct(uint64_t a, uint64_t b)
{
    uint64_t d = a > b ? a - b : b - a;
    return d <= a / 100;
}

// A test vector whose handler counts; allocated once (vectors are never
// freed).
static volatile int irq_count;
static unsigned test_vector;

static void count_irq(void *arg)
{
    irq_count++;
}

static bool test_vector_ready(void)
{
    return test_vector || arch_irq_alloc(count_irq, NULL, &test_vector) == OK;
}

// Spins with interrupts on until irq_count reaches want or the timeout.
static bool wait_for_irqs(int want)
{
    irqstate_t s = arch_irq_save();
    arch_irq_enable();
    uint64_t end = clock_monotonic_ns() + IRQ_TIMEOUT;
    while (irq_count < want && clock_monotonic_ns() < end)
        arch_cpu_relax();
    arch_irq_save();
    arch_irq_restore(s);
    return irq_count >= want;
}

// An independent TSC calibration against the PIT (Intel 8254), long enough
// for this nested host: the boot-time one counts 2 ms, and a few tens of
// microseconds of host latency between a PIT read and the TSC read (common
// here) skew it by a percent. Channel 0, programmed as a rate generator
// (mode 2) with the full count (0 stands for 65536), counts down at PIT_HZ
// and wraps every 65536 counts.
#define PIT_HZ             1193182ull
#define PIT_PORT_CH0       0x40
#define PIT_PORT_CMD       0x43
#define PIT_CMD_LATCH_CH0  0x00
#define PIT_CMD_MODE2_CH0  0x34 // channel 0, low then high byte, mode 2, binary
#define PIT_FULL_COUNT     0x00 // both bytes: 65536
#define PIT_CALIBRATE_NS   (200 * MS)
#define PIT_MAX_GAP_NS     (20 * MS) // well inside one wrap (55 ms)
#define PIT_SAMPLE_TRIES   8
#define PIT_CALIBRATE_RUNS 5

static void pit_start(void)
{
    arch_pio_out8(PIT_PORT_CMD, PIT_CMD_MODE2_CH0);
    arch_pio_out8(PIT_PORT_CH0, PIT_FULL_COUNT);
    arch_pio_out8(PIT_PORT_CH0, PIT_FULL_COUNT);
}

static uint16_t pit_count(void)
{
    arch_pio_out8(PIT_PORT_CMD, PIT_CMD_LATCH_CH0);
    uint8_t lo = arch_pio_in8(PIT_PORT_CH0);
    return (uint16_t)(lo | arch_pio_in8(PIT_PORT_CH0) << 8);
}

// A PIT count and the TSC at (nearly) the same moment: the midpoint of the
// narrowest of a few TSC brackets around the read.
static uint16_t pit_sample(uint64_t *tsc)
{
    uint64_t narrowest = UINT64_MAX;
    uint16_t count = 0;
    for (int i = 0; i < PIT_SAMPLE_TRIES; i++) {
        uint64_t before = arch_cycles();
        uint16_t c = pit_count();
        uint64_t after = arch_cycles();
        if (after - before < narrowest) {
            narrowest = after - before;
            count = c;
            *tsc = before + narrowest / 2;
        }
    }
    return count;
}

// One 200 ms run, polling often enough to see every wrap (a gap between
// polls longer than PIT_MAX_GAP_NS voids the run). 0 if voided or no PIT.
static uint64_t pit_calibrate_once(void)
{
    pit_start();
    uint64_t t0, t1, ticks = 0, end = clock_monotonic_ns() + PIT_CALIBRATE_NS;
    uint16_t prev = pit_sample(&t0);
    uint64_t last_poll = clock_monotonic_ns();
    while (clock_monotonic_ns() < end) {
        uint16_t now = pit_count();
        uint64_t poll = clock_monotonic_ns();
        if (poll - last_poll > PIT_MAX_GAP_NS)
            return 0;
        last_poll = poll;
        ticks += (uint16_t)(prev - now); // counts down, wraps mod 2^16
        prev = now;
    }
    ticks += (uint16_t)(prev - pit_sample(&t1));
    if (!ticks || t1 - t0 > UINT64_MAX / PIT_HZ)
        return 0; // the PIT never moved: there is none
    return (t1 - t0) * PIT_HZ / ticks;
}

// The first run that was not voided.
// A PIT calibration of the TSC close to `expect` Hz: the first of up to
// PIT_CALIBRATE_RUNS that is within 1%, else the last one made (0: no PIT).
// On a loaded host the vCPU can be descheduled in the middle of one
// measurement, which can only spoil that measurement; a kernel whose TSC
// rate is wrong fails every one of them.
static uint64_t calibrated_tsc_hz(uint64_t expect)
{
    uint64_t hz = 0;
    for (int i = 0; i < PIT_CALIBRATE_RUNS; i++) {
        uint64_t once = pit_calibrate_once();
        if (once)
            hz = once;
        if (hz && within_1pct(hz, expect))
            break;
    }
    return hz;
}

static uint32_t self_apic_id(void)
{
    return kvm_cpu_apic_id(arch_cpu_index());
}

// Why a hypercall-based case cannot run, or NULL if it can.
static const char *hypercall_skip(enum hv_feature f, const char *not_offered)
{
    if (!hv_feature_offered(f))
        return not_offered;
    if (!kvm_hypercalls_available())
        return "hypercalls fault on this host (it rewrites the instruction)";
    return NULL;
}

static void kvm_live_absent_elsewhere(struct ktest *t)
{
    if (hv_info.kvm.base)
        KTEST_SKIP("under KVM");
    EXPECT_FALSE(kvm_clock_active());
    EXPECT_NULL(hv_pv.send_ipi);
    EXPECT_NULL(hv_pv.kick);
    EXPECT_NULL(hv_pv.yield_to);
    EXPECT_NULL(hv_pv.defer_tlb_flush);
    EXPECT_EQ(hv_steal_ns(arch_cpu_index()), 0ull);
    EXPECT_FALSE(kvm_pv_eoi_ack());
    bool on;
    EXPECT_STATUS(kvm_host_polling(&on), ERR_NOT_SUPPORTED);
}

static void kvm_live_clock_registered(struct ktest *t)
{
    if (!kvm_clock_offered())
        KTEST_SKIP("no kvmclock offered");
    ASSERT_TRUE(kvm_clock_active());
    EXPECT_STREQ(clock_source_name(), "kvmclock");
    EXPECT_STREQ(clock_tsc_source(), "kvmclock");
    EXPECT_TRUE(used(HV_FEAT_KVM_CLOCKSOURCE2) || used(HV_FEAT_KVM_CLOCKSOURCE));
    EXPECT_TRUE(!kvm_clock_stable() || hv_feature_offered(HV_FEAT_KVM_CLOCK_STABLE));
}

static void kvm_live_clock_monotonic(struct ktest *t)
{
    if (!kvm_clock_offered())
        KTEST_SKIP("no kvmclock offered");
    uint64_t first = kvm_clock_read_ns(), prev = first, mono_prev = clock_monotonic_ns();
    int backwards = 0, mono_backwards = 0;
    ASSERT_NE(first, 0ull);
    for (int i = 0; i < CLOCK_READS; i++) {
        uint64_t now = kvm_clock_read_ns(), mono = clock_monotonic_ns();
        backwards += now < prev;
        mono_backwards += mono < mono_prev;
        prev = now;
        mono_prev = mono;
    }
    EXPECT_EQ(backwards, 0);
    EXPECT_EQ(mono_backwards, 0);
    EXPECT_GT(prev, first);
    diag("    # kvmclock + monotonic: %d read pairs, %llu ns per pair on average\n", CLOCK_READS,
         (unsigned long long)((prev - first) / CLOCK_READS));
}

// A kvmclock reading and the TSC at the same moment, as nearly as the host
// allows: of several tries, the one with the narrowest TSC bracket (a vCPU
// descheduled between the two reads would skew the pair).
#define PAIR_TRIES 5

static void clock_pair(uint64_t *kvm_ns, uint64_t *tsc)
{
    uint64_t narrowest = UINT64_MAX;
    for (int i = 0; i < PAIR_TRIES; i++) {
        uint64_t before = arch_cycles(), k = kvm_clock_read_ns(), after = arch_cycles();
        if (after - before < narrowest) {
            narrowest = after - before;
            *kvm_ns = k;
            *tsc = before + narrowest / 2;
        }
    }
}

// kvmclock and the TSC at an independently calibrated rate measure the
// same 100 ms sleep.
static void kvm_live_clock_agrees_with_tsc(struct ktest *t)
{
    if (!kvm_clock_offered())
        KTEST_SKIP("no kvmclock offered");
    uint64_t calibrated = calibrated_tsc_hz(kvm_clock_tsc_hz());
    if (!calibrated)
        KTEST_SKIP("no PIT to calibrate the TSC against");
    uint64_t k0 = 0, c0 = 0, k1 = 0, c1 = 0;
    clock_pair(&k0, &c0);
    thread_sleep_ns(100 * MS);
    clock_pair(&k1, &c1);
    uint64_t kvm_ns = k1 - k0;
    ASSERT_LT(c1 - c0, UINT64_MAX / NS_PER_SEC); // the product below fits
    uint64_t tsc_ns = (c1 - c0) * NS_PER_SEC / calibrated;
    EXPECT_GE(kvm_ns, 100 * MS);
    EXPECT_TRUE(within_1pct(kvm_ns, tsc_ns));
    diag("    # 100 ms sleep: kvmclock %llu ns, TSC %llu ns\n", (unsigned long long)kvm_ns,
         (unsigned long long)tsc_ns);
}

static void kvm_live_tsc_rate_matches_calibration(struct ktest *t)
{
    if (!kvm_clock_offered())
        KTEST_SKIP("no kvmclock offered");
    const char *src;
    uint64_t prior = kvm_prior_tsc_hz(&src), hz = kvm_clock_tsc_hz();
    ASSERT_NE(hz, 0ull);
    EXPECT_EQ(clock_tsc_hz(), hz);
    uint64_t calibrated = calibrated_tsc_hz(hz);
    if (!calibrated)
        KTEST_SKIP("no PIT to calibrate the TSC against");
    EXPECT_TRUE(within_1pct(calibrated, hz));
    diag("    # TSC: %llu Hz from kvmclock, %llu Hz calibrated now\n", (unsigned long long)hz,
         (unsigned long long)calibrated);
    diag("    # TSC: %llu Hz at boot, before kvmclock (from %s)\n", (unsigned long long)prior,
         src ? src : "?");
}

static void kvm_live_wall_clock(struct ktest *t)
{
    if (!kvm_clock_offered())
        KTEST_SKIP("no kvmclock offered");
    EXPECT_STREQ(clock_realtime_source(), "kvm-wallclock");
    EXPECT_GE(clock_realtime_ns() / NS_PER_SEC, UNIX_2024_01_01);
}

// Steal time never decreases and never exceeds the time since boot.
static void kvm_live_steal_time(struct ktest *t)
{
    if (!hv_feature_offered(HV_FEAT_KVM_STEAL_TIME))
        KTEST_SKIP("no steal time offered");
    EXPECT_TRUE(used(HV_FEAT_KVM_STEAL_TIME));
    unsigned cpu = arch_cpu_index();
    uint64_t prev = hv_steal_ns(cpu);
    for (int i = 0; i < 10; i++) {
        thread_sleep_ns(5 * MS);
        uint64_t now = hv_steal_ns(cpu);
        EXPECT_GE(now, prev);
        prev = now;
    }
    EXPECT_LE(prev, clock_monotonic_ns());
    EXPECT_EQ(hv_steal_ns(KVM_MAX_CPUS), 0ull);
    if (cpu != KVM_MAX_CPUS - 1)
        EXPECT_EQ(hv_steal_ns(KVM_MAX_CPUS - 1), 0ull); // never initialised
    diag("    # steal time on CPU %u: %llu ns\n", cpu, (unsigned long long)prev);
}

static void kvm_live_send_ipi_self(struct ktest *t)
{
    const char *why = hypercall_skip(HV_FEAT_KVM_PV_SEND_IPI, "no PV send-IPI offered");
    if (why)
        KTEST_SKIP(why);
    ASSERT_NOT_NULL(hv_pv.send_ipi);
    EXPECT_TRUE(used(HV_FEAT_KVM_PV_SEND_IPI));
    ASSERT_TRUE(test_vector_ready());
    uint32_t self = self_apic_id();
    int before = irq_count;
    ASSERT_OK(hv_pv.send_ipi(&self, 1, (uint8_t)test_vector));
    EXPECT_TRUE(wait_for_irqs(before + 1));
    // An id with no vCPU behind it is reported, not silently dropped.
    uint32_t nobody = self + 1000;
    EXPECT_STATUS(hv_pv.send_ipi(&nobody, 1, (uint8_t)test_vector), ERR_NOT_FOUND);
}

// The acknowledgement on this CPU's own PV EOI word, with interrupts off so
// that no injection (the host's write) interleaves: a set flag is taken
// and cleared (the EOI), a clear one means "write the APIC".
static void kvm_live_pv_eoi_flag(struct ktest *t)
{
    if (!hv_feature_offered(HV_FEAT_KVM_PV_EOI))
        KTEST_SKIP("no PV EOI offered");
    EXPECT_TRUE(used(HV_FEAT_KVM_PV_EOI));
    unsigned cpu = arch_cpu_index();
    irqstate_t s = arch_irq_save();
    volatile uint32_t *word = kvm_pv_eoi_word(cpu);
    uint64_t before = kvm_pv_eoi_count(cpu);
    bool clear_acked = true, set_acked = false;
    uint32_t after = 1;
    if (word) {
        *word = 0;
        clear_acked = kvm_pv_eoi_ack();
        *word = KVM_PV_EOI_PENDING; // as the host does when it injects
        set_acked = kvm_pv_eoi_ack();
        after = *word;
    }
    arch_irq_restore(s);
    ASSERT_NOT_NULL(word);
    EXPECT_FALSE(clear_acked);
    EXPECT_TRUE(set_acked);
    EXPECT_EQ(after & KVM_PV_EOI_PENDING, 0u);
    EXPECT_EQ(kvm_pv_eoi_count(cpu), before + 1);
}

static volatile int timer_fired;
static struct ktimer chain_timer;

static void chain_tick(struct ktimer *tm, void *arg)
{
    if (++timer_fired < TIMER_ROUNDS)
        ktimer_arm(tm, clock_monotonic_ns() + MS);
}

// Interrupts one after another, each needing the previous EOI: a lost EOI
// (the flag skipped when the host wanted the APIC written) would stall the
// next delivery. How many went through the flag depends on the host: one
// that takes an exit between injection and EOI takes the flag back.
static void kvm_live_pv_eoi_no_lost_interrupts(struct ktest *t)
{
    if (!hv_feature_offered(HV_FEAT_KVM_PV_EOI))
        KTEST_SKIP("no PV EOI offered");
    unsigned cpu = arch_cpu_index();
    uint64_t eois = kvm_pv_eoi_count(cpu);
    int ipis = 0;
    if (hv_pv.send_ipi && test_vector_ready()) {
        uint32_t self = self_apic_id();
        for (; ipis < IRQ_ROUNDS; ipis++) {
            int before = irq_count;
            ASSERT_OK(hv_pv.send_ipi(&self, 1, (uint8_t)test_vector));
            ASSERT_TRUE(wait_for_irqs(before + 1));
        }
    }
    timer_fired = 0;
    ktimer_init(&chain_timer, chain_tick, NULL);
    ktimer_arm(&chain_timer, clock_monotonic_ns() + MS);
    uint64_t end = clock_monotonic_ns() + IRQ_TIMEOUT;
    while (timer_fired < TIMER_ROUNDS && clock_monotonic_ns() < end)
        thread_sleep_ns(MS);
    ktimer_cancel(&chain_timer);
    EXPECT_EQ(timer_fired, TIMER_ROUNDS);
    diag("    # %d interrupts in a row, %llu EOIs through the PV EOI flag\n", TIMER_ROUNDS + ipis,
         (unsigned long long)(kvm_pv_eoi_count(cpu) - eois));
}

static void kvm_live_sched_yield_self(struct ktest *t)
{
    const char *why = hypercall_skip(HV_FEAT_KVM_PV_SCHED_YIELD, "no PV sched-yield offered");
    if (why)
        KTEST_SKIP(why);
    ASSERT_NOT_NULL(hv_pv.yield_to);
    EXPECT_TRUE(used(HV_FEAT_KVM_PV_SCHED_YIELD));
    EXPECT_OK(hv_pv.yield_to(self_apic_id()));
}

static volatile bool wake_timer_fired;
static struct ktimer wake_timer;

static void wake_tick(struct ktimer *tm, void *arg)
{
    wake_timer_fired = true;
}

// Halts with a 300 ms timer armed as the fallback wake-up; returns how long
// the halt lasted. `kick` first kicks this vCPU with interrupts off.
static uint64_t halt_once(bool kick, struct ktest *t)
{
    wake_timer_fired = false;
    ktimer_init(&wake_timer, wake_tick, NULL);
    irqstate_t s = arch_irq_save();
    uint64_t start = clock_monotonic_ns();
    ktimer_arm(&wake_timer, start + 300 * MS);
    if (kick)
        EXPECT_OK(hv_pv.kick(self_apic_id()));
    arch_idle(); // sti; hlt: returns on the kick or an interrupt
    uint64_t took = clock_monotonic_ns() - start;
    arch_irq_save();
    ktimer_cancel(&wake_timer);
    arch_irq_restore(s);
    return took;
}

// KICK_CPU marks the vCPU unhalted, so its next hlt returns at once.
static void kvm_live_kick_unhalts(struct ktest *t)
{
    const char *why = hypercall_skip(HV_FEAT_KVM_PV_UNHALT, "no PV unhalt offered");
    if (why)
        KTEST_SKIP(why);
    ASSERT_NOT_NULL(hv_pv.kick);
    EXPECT_TRUE(used(HV_FEAT_KVM_PV_UNHALT));
    uint64_t plain = halt_once(false, t);
    if (plain < 200 * MS)
        KTEST_SKIP("something other than the timer ends a halt early");
    uint64_t kicked = halt_once(true, t);
    EXPECT_LT(kicked, 100 * MS);
    diag("    # halt: %llu ms without a kick, %llu ms after one\n",
         (unsigned long long)(plain / MS), (unsigned long long)(kicked / MS));
}

static void kvm_live_poll_control(struct ktest *t)
{
    if (!hv_feature_offered(HV_FEAT_KVM_POLL_CONTROL))
        KTEST_SKIP("no poll control offered");
    EXPECT_TRUE(used(HV_FEAT_KVM_POLL_CONTROL));
    bool on = false;
    ASSERT_OK(kvm_host_polling(&on));
    EXPECT_TRUE(on); // left on at boot
    ASSERT_OK(kvm_set_host_polling(false));
    ASSERT_OK(kvm_host_polling(&on));
    EXPECT_FALSE(on);
    ASSERT_OK(kvm_set_host_polling(true));
    ASSERT_OK(kvm_host_polling(&on));
    EXPECT_TRUE(on);
}

// The running vCPU is not preempted, so its flush cannot be handed over.
static void kvm_live_tlb_flush_handover(struct ktest *t)
{
    if (!hv_feature_offered(HV_FEAT_KVM_PV_TLB_FLUSH) ||
        !hv_feature_offered(HV_FEAT_KVM_STEAL_TIME))
        KTEST_SKIP("no PV TLB flush with steal time offered");
    ASSERT_NOT_NULL(hv_pv.defer_tlb_flush);
    ASSERT_NOT_NULL(hv_pv.vcpu_preempted);
    EXPECT_TRUE(used(HV_FEAT_KVM_PV_TLB_FLUSH));
    unsigned cpu = arch_cpu_index();
    EXPECT_FALSE(hv_pv.vcpu_preempted(cpu));
    EXPECT_FALSE(hv_pv.defer_tlb_flush(cpu));
    EXPECT_FALSE(hv_pv.defer_tlb_flush(KVM_MAX_CPUS)); // no such CPU: send the IPI
}

// Every feature this kernel knows how to use is marked used when offered,
// and the ones it does not use are not.
static void kvm_live_used_flags(struct ktest *t)
{
    if (!hv_info.kvm.base)
        KTEST_SKIP("not under KVM");
    static const enum hv_feature by_area[] = {HV_FEAT_KVM_STEAL_TIME, HV_FEAT_KVM_PV_EOI,
                                              HV_FEAT_KVM_POLL_CONTROL};
    static const enum hv_feature by_hypercall[] = {HV_FEAT_KVM_PV_UNHALT, HV_FEAT_KVM_PV_SEND_IPI,
                                                   HV_FEAT_KVM_PV_SCHED_YIELD};
    for (size_t i = 0; i < ARRAY_SIZE(by_area); i++)
        EXPECT_EQ(used(by_area[i]), hv_feature_offered(by_area[i]));
    for (size_t i = 0; i < ARRAY_SIZE(by_hypercall); i++)
        EXPECT_EQ(used(by_hypercall[i]),
                  hv_feature_offered(by_hypercall[i]) && kvm_hypercalls_available());
    EXPECT_EQ(used(HV_FEAT_KVM_CLOCKSOURCE2), hv_feature_offered(HV_FEAT_KVM_CLOCKSOURCE2));
    EXPECT_FALSE(used(HV_FEAT_KVM_ASYNC_PF));
    EXPECT_FALSE(used(HV_FEAT_KVM_ASYNC_PF_INT));
}

KTEST_SUITE(kvm_live, KTEST_CASE(kvm_live_absent_elsewhere), KTEST_CASE(kvm_live_clock_registered),
            KTEST_CASE(kvm_live_clock_monotonic), KTEST_CASE(kvm_live_clock_agrees_with_tsc),
            KTEST_CASE(kvm_live_tsc_rate_matches_calibration), KTEST_CASE(kvm_live_wall_clock),
            KTEST_CASE(kvm_live_steal_time), KTEST_CASE(kvm_live_send_ipi_self),
            KTEST_CASE(kvm_live_pv_eoi_flag), KTEST_CASE(kvm_live_pv_eoi_no_lost_interrupts),
            KTEST_CASE(kvm_live_sched_yield_self), KTEST_CASE(kvm_live_kick_unhalts),
            KTEST_CASE(kvm_live_poll_control), KTEST_CASE(kvm_live_tlb_flush_handover),
            KTEST_CASE(kvm_live_used_flags));
