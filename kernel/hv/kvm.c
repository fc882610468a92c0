// nimbus:host
// KVM paravirtual interfaces. First the pure helpers (also built into the
// host tests): the TSC rate a pvclock scale stands for, the wall clock
// protocol, IPI destination windows and the TLB-flush hand-over. Then, for
// the kernel only, the live part: per-CPU areas, MSRs and hypercalls.
#include "hv/kvm.h"
#include "lib/compiler.h"

typedef unsigned __int128 u128;

#define NS_PER_SEC          1000000000ull
#define PVCLOCK_FRAC_BITS   32
#define PVCLOCK_RATE_SHIFTS 31 // |tsc_shift| accepted by kvm_pvclock_tsc_hz
#define LIMB_BITS           32

// n / d for a 32-bit d, one 32-bit limb at a time, so that every step is a
// 64-by-32 division (the kernel links no 128-bit division helper).
static u128 div128_by_32(u128 n, uint32_t d)
{
    u128 q = 0;
    uint64_t rem = 0;
    for (int limb = 3; limb >= 0; limb--) {
        uint64_t cur = rem << LIMB_BITS | (uint32_t)(n >> (LIMB_BITS * limb));
        q |= (u128)(cur / d) << (LIMB_BITS * limb);
        rem = cur % d;
    }
    return q;
}

// A tick lasts mul * 2^shift / 2^32 ns, so the rate is
// 1e9 * 2^(32 - shift) / mul.
uint64_t kvm_pvclock_tsc_hz(uint32_t mul, int8_t shift)
{
    if (!mul || shift > PVCLOCK_RATE_SHIFTS || shift < -PVCLOCK_RATE_SHIFTS)
        return 0;
    u128 n = (u128)NS_PER_SEC << (PVCLOCK_FRAC_BITS - shift);
    u128 hz = div128_by_32(n + mul / 2, mul);
    return (hz >> 64) ? 0 : (uint64_t)hz;
}

status_t kvm_wall_clock_read(const volatile struct kvm_wall_clock *w, int tries, uint64_t *ns)
{
    for (int i = 0; i < tries; i++) {
        uint32_t version = w->version;
        barrier();
        uint32_t sec = w->sec, nsec = w->nsec;
        barrier();
        if (!pvclock_version_retry(version, w->version)) {
            *ns = sec * NS_PER_SEC + nsec;
            return OK;
        }
    }
    return ERR_BAD_STATE;
}

bool kvm_ipi_next_window(const uint32_t *ids, size_t n, uint64_t *from, struct kvm_ipi_window *w)
{
    uint64_t lo = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= *from && ids[i] < lo)
            lo = ids[i];
    if (lo == UINT64_MAX)
        return false;
    *w = (struct kvm_ipi_window){.min = (uint32_t)lo};
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < lo || ids[i] - lo >= KVM_IPI_WINDOW_IDS)
            continue;
        uint64_t bit = ids[i] - lo;
        w->bits[bit / 64] |= 1ull << (bit % 64);
    }
    *from = lo + KVM_IPI_WINDOW_IDS;
    return true;
}

unsigned kvm_ipi_window_count(const struct kvm_ipi_window *w)
{
    unsigned count = 0;
    for (int i = 0; i < 2; i++)
        for (uint64_t b = w->bits[i]; b; b &= b - 1)
            count++;
    return count;
}

bool kvm_steal_preempted(const volatile struct kvm_steal_time *st)
{
    return __atomic_load_n(&st->preempted, __ATOMIC_RELAXED) & KVM_VCPU_PREEMPTED;
}

// The host clears `preempted` (and flushes if asked) when the vCPU runs
// again; the exchange fails if that happened since the load, and the loop
// then sees the vCPU running.
bool kvm_steal_request_flush(volatile struct kvm_steal_time *st)
{
    uint8_t state = __atomic_load_n(&st->preempted, __ATOMIC_RELAXED);
    while (state & KVM_VCPU_PREEMPTED) {
        if (__atomic_compare_exchange_n(&st->preempted, &state, state | KVM_VCPU_FLUSH_TLB, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            return true;
    }
    return false;
}

#ifndef HOST_TEST
#include <stddef.h>

#include "arch.h"
#include "hv/cpu.h"
#include "hv/hv.h"
#include "init/cmdline.h"
#include "lib/fmt.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/phys.h"
#include "mm/pmm.h"
#include "sched/clock.h"

#define KVMCLOCK_RATING  300
#define WALL_CLOCK_TRIES 100

// CPUID facts used here (Intel SDM / AMD APM): vendor strings, the initial
// APIC id in leaf 1 EBX[31:24], the x2APIC id in leaf 0xB EDX.
#define CPUID_VENDOR_LEAF      0x0
#define CPUID_FEATURES_LEAF    0x1
#define CPUID_1_EBX_APIC_SHIFT 24
#define CPUID_TOPOLOGY_LEAF    0xb

// What the host writes for one CPU: 128 bytes, KVM_MAX_CPUS of them in one
// pmm block.
struct kvm_cpu_area {
    struct pvclock_vcpu_time_info clock; // MSR_KVM_SYSTEM_TIME(_NEW)
    uint32_t pv_eoi;                     // MSR_KVM_PV_EOI_EN: KVM_PV_EOI_PENDING
    uint8_t pad[28];
    struct kvm_steal_time steal; // MSR_KVM_STEAL_TIME
};
_Static_assert(sizeof(struct kvm_cpu_area) == 128, "kvm per-CPU area layout");
_Static_assert(offsetof(struct kvm_cpu_area, steal) % 64 == 0,
               "steal time must be 64-byte aligned");
_Static_assert(offsetof(struct kvm_cpu_area, pv_eoi) % 4 == 0,
               "PV EOI word must be 4-byte aligned");

#define KVM_AREAS_ORDER 1
_Static_assert(KVM_MAX_CPUS * sizeof(struct kvm_cpu_area) == PAGE_SIZE << KVM_AREAS_ORDER,
               "per-CPU areas fill the block");

// Per-CPU state; each entry is written only by its CPU (in kvm_cpu_init and
// kvm_pv_eoi_ack), other CPUs read the flags.
struct kvm_cpu {
    uint32_t apic_id;
    bool clock_on, steal_on, eoi_on;
    uint64_t eoi_count; // EOIs through the PV EOI flag
};

// Decided once on the boot CPU by kvm_init(), read-only afterwards.
static struct {
    bool present;
    unsigned boot_cpu;     // the CPU kvm_init() ran on
    bool hypercalls;       // one of the instructions works
    bool vmmcall;          // which one: vmmcall (AMD's), else vmcall
    uint32_t time_msr;     // MSR_KVM_SYSTEM_TIME(_NEW), 0 without kvmclock
    uint32_t wall_msr;     // its wall clock partner
    bool steal, eoi, poll; // offered, and the areas exist
    struct kvm_cpu_area *areas;
    paddr_t areas_pa;
    bool stable;       // host: readings agree across CPUs
    uint64_t tsc_hz;   // from kvmclock's scale
    uint64_t prior_hz; // the kernel's rate before kvmclock
    const char *prior_source;
} kvm;

static struct kvm_cpu kvm_cpus[KVM_MAX_CPUS];
static struct kvm_wall_clock wall_clock; // the host writes it at each MSR write

struct hv_pv_ops hv_pv;

static long kvm_hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    long ret;
    if (kvm.vmmcall)
        __asm__ volatile("vmmcall"
                         : "=a"(ret)
                         : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3)
                         : "memory");
    else
        __asm__ volatile("vmcall"
                         : "=a"(ret)
                         : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3)
                         : "memory");
    return ret;
}

static status_t hypercall_status(long ret)
{
    if (ret >= 0)
        return OK;
    return ret == -KVM_ENOSYS ? ERR_NOT_SUPPORTED : ERR_INVALID_ARGS;
}

static bool offered(enum hv_feature f)
{
    return hv_feature_offered(f);
}

static bool cpu_is_amd(void)
{
    struct hv_cpuid_regs r;
    hv_cpuid(CPUID_VENDOR_LEAF, 0, &r);
    uint32_t v[3] = {r.ebx, r.edx, r.ecx};
    return memcmp(v, "AuthenticAMD", sizeof(v)) == 0 || memcmp(v, "HygonGenuine", sizeof(v)) == 0;
}

// The running CPU's APIC id: the x2APIC id where leaf 0xB exists, else the
// initial 8-bit id.
static uint32_t current_apic_id(void)
{
    struct hv_cpuid_regs r;
    hv_cpuid(CPUID_VENDOR_LEAF, 0, &r);
    if (r.eax >= CPUID_TOPOLOGY_LEAF) {
        hv_cpuid(CPUID_TOPOLOGY_LEAF, 0, &r);
        if (r.ebx)
            return r.edx;
    }
    hv_cpuid(CPUID_FEATURES_LEAF, 0, &r);
    return r.ebx >> CPUID_1_EBX_APIC_SHIFT;
}

static void probe_hypercall(void *arg)
{
    long *ret = arg;
    *ret = kvm_hypercall(KVM_HC_VAPIC_POLL_IRQ, 0, 0, 0, 0);
}

// The CPU vendor's instruction first, then the other one: a host that
// wants the other instruction tries to patch ours and we take the fault. A
// host that emulates the guest kernel (the PVM-based KVM of this project's
// machines) patches both, so neither works there: no hypercalls then.
static bool choose_hypercall_insn(void)
{
    struct fault_info fault;
    long ret;
    kvm.vmmcall = cpu_is_amd();
    for (int i = 0; i < 2; i++, kvm.vmmcall = !kvm.vmmcall)
        if (arch_call_catching_faults(probe_hypercall, &ret, &fault) && ret == 0)
            return true;
    return false;
}

static struct kvm_cpu_area *cpu_area(unsigned cpu)
{
    return cpu < KVM_MAX_CPUS && kvm.areas ? &kvm.areas[cpu] : NULL;
}

static paddr_t cpu_area_pa(unsigned cpu)
{
    return kvm.areas_pa + cpu * sizeof(struct kvm_cpu_area);
}

// Host-side halt polling stays on: Nimbus idles with a plain hlt and does no
// guest-side polling, so the host's short poll before descheduling a halted
// vCPU is what keeps a quick wake-up cheap. A future guest halt-poll loop
// would call kvm_set_host_polling(false) while it is active.
void kvm_cpu_init(void)
{
    unsigned cpu = arch_cpu_index();
    if (!kvm.present || cpu >= KVM_MAX_CPUS)
        return;
    struct kvm_cpu *c = &kvm_cpus[cpu];
    c->apic_id = current_apic_id();
    if (kvm.poll)
        hv_wrmsr(MSR_KVM_POLL_CONTROL, KVM_POLL_CONTROL_HOST_POLLS);
    if (!cpu_area(cpu))
        return;
    paddr_t pa = cpu_area_pa(cpu);
    if (kvm.time_msr) {
        hv_wrmsr(kvm.time_msr, (pa + offsetof(struct kvm_cpu_area, clock)) | KVM_MSR_ENABLE);
        c->clock_on = true;
    }
    if (kvm.steal) {
        hv_wrmsr(MSR_KVM_STEAL_TIME, (pa + offsetof(struct kvm_cpu_area, steal)) | KVM_MSR_ENABLE);
        c->steal_on = true;
    }
    if (kvm.eoi) {
        hv_wrmsr(MSR_KVM_PV_EOI_EN, (pa + offsetof(struct kvm_cpu_area, pv_eoi)) | KVM_MSR_ENABLE);
        c->eoi_on = true;
    }
}

// A CPU whose own area is not registered yet (early in its bring-up) reads
// the boot CPU's: the same time when the host says kvmclock is stable, and
// close to it otherwise (clock_monotonic_ns keeps it monotonic). Returning
// 0 instead would throw the monotonic clock far forward.
uint64_t kvm_clock_read_ns(void)
{
    unsigned cpu = arch_cpu_index();
    if (cpu >= KVM_MAX_CPUS || !kvm_cpus[cpu].clock_on)
        cpu = kvm.boot_cpu;
    if (!kvm_cpus[cpu].clock_on)
        return 0;
    return pvclock_read(&kvm.areas[cpu].clock, hv_ordered_tsc, NULL, NULL);
}

static const struct clocksource kvmclock_source = {
    .name = "kvmclock",
    .rating = KVMCLOCK_RATING,
    .read_ns = kvm_clock_read_ns,
};

// A consistent copy of the area (the version protocol of pvclock_read).
static void clock_snapshot(const volatile struct pvclock_vcpu_time_info *p,
                           struct pvclock_vcpu_time_info *out)
{
    uint32_t version;
    do {
        version = p->version;
        barrier();
        out->version = version;
        out->tsc_timestamp = p->tsc_timestamp;
        out->system_time = p->system_time;
        out->tsc_to_system_mul = p->tsc_to_system_mul;
        out->tsc_shift = p->tsc_shift;
        out->flags = p->flags;
        barrier();
    } while (pvclock_version_retry(version, p->version));
}

// The new MSRs when CLOCKSOURCE2 is offered, else the old ones.
static void choose_clock_msrs(void)
{
    if (offered(HV_FEAT_KVM_CLOCKSOURCE2)) {
        kvm.time_msr = MSR_KVM_SYSTEM_TIME_NEW;
        kvm.wall_msr = MSR_KVM_WALL_CLOCK_NEW;
    } else if (offered(HV_FEAT_KVM_CLOCKSOURCE)) {
        kvm.time_msr = MSR_KVM_SYSTEM_TIME;
        kvm.wall_msr = MSR_KVM_WALL_CLOCK;
    }
}

static enum hv_feature clock_feature(void)
{
    return kvm.time_msr == MSR_KVM_SYSTEM_TIME_NEW ? HV_FEAT_KVM_CLOCKSOURCE2
                                                   : HV_FEAT_KVM_CLOCKSOURCE;
}

// Wall clock = the host's time at system time 0 + system time now.
static void start_wall_clock(void)
{
    uint64_t boot_ns;
    hv_wrmsr(kvm.wall_msr, virt_to_phys(&wall_clock));
    if (kvm_wall_clock_read(&wall_clock, WALL_CLOCK_TRIES, &boot_ns) != OK || !boot_ns) {
        pr_warn("kvm: the wall clock structure never settled");
        return;
    }
    clock_set_realtime(boot_ns + kvm_clock_read_ns(), "kvm-wallclock");
}

// Registers kvmclock and hands its TSC rate to the clock code (the
// TSC-deadline timer converts with it). A host that did not fill the area
// gets kvmclock turned off again.
static void start_clock(void)
{
    unsigned cpu = arch_cpu_index();
    struct pvclock_vcpu_time_info snap;
    clock_snapshot(&kvm.areas[cpu].clock, &snap);
    if (!snap.version || !snap.tsc_to_system_mul) {
        pr_warn("kvm: kvmclock area left empty by the host; not using it");
        hv_wrmsr(kvm.time_msr, 0);
        kvm_cpus[cpu].clock_on = false;
        kvm.time_msr = 0;
        return;
    }
    kvm.stable = (snap.flags & PVCLOCK_TSC_STABLE_BIT) && offered(HV_FEAT_KVM_CLOCK_STABLE);
    kvm.prior_hz = clock_tsc_hz();
    kvm.prior_source = clock_tsc_source();
    kvm.tsc_hz = kvm_pvclock_tsc_hz(snap.tsc_to_system_mul, snap.tsc_shift);
    clock_register(&kvmclock_source);
    clock_set_tsc_hz(kvm.tsc_hz, "kvmclock");
    hv_feature_set_used(clock_feature());
    start_wall_clock();
}

static status_t alloc_areas(void)
{
    paddr_t pa;
    status_t st = pmm_alloc(KVM_AREAS_ORDER, PMM_ZERO, &pa);
    if (st != OK)
        return st;
    kvm.areas_pa = pa;
    kvm.areas = phys_to_virt(pa);
    return OK;
}

static status_t kvm_send_ipi(const uint32_t *apic_ids, size_t n, uint8_t vector)
{
    uint64_t from = 0, icr = (vector & KVM_ICR_VECTOR_MASK) | KVM_ICR_FIXED | KVM_ICR_LEVEL_ASSERT;
    struct kvm_ipi_window w;
    status_t st = OK;
    while (kvm_ipi_next_window(apic_ids, n, &from, &w)) {
        long ret = kvm_hypercall(KVM_HC_SEND_IPI, w.bits[0], w.bits[1], w.min, icr);
        if (ret < 0)
            return hypercall_status(ret);
        if ((unsigned long)ret < kvm_ipi_window_count(&w))
            st = ERR_NOT_FOUND; // the host returns how many it delivered
    }
    return st;
}

static status_t kvm_kick(uint32_t apic_id)
{
    return hypercall_status(kvm_hypercall(KVM_HC_KICK_CPU, 0, apic_id, 0, 0));
}

// PV spinlocks (lib/spinlock.h): on by default where the host offers
// PV_UNHALT and hypercalls work; `pvspin=off` keeps the plain spinning.
static bool pvspin_allowed = true;

static status_t set_pvspin(const char *val, size_t len, bool has_val)
{
    if (!has_val || (len == 2 && !memcmp(val, "on", 2)))
        pvspin_allowed = true;
    else if (len == 3 && !memcmp(val, "off", 3))
        pvspin_allowed = false;
    else
        return ERR_INVALID_ARGS;
    return OK;
}
CMDLINE_PARAM(pvspin_param, "pvspin", set_pvspin,
              "on|off: halting spinlock waiters kicked by KVM_HC_KICK_CPU (where offered)");

// A waiter halted in the spinlock slow path, by kernel CPU index.
static void kvm_spin_kick(unsigned cpu)
{
    kvm_kick(kvm_cpu_apic_id(cpu));
}

static bool kvm_pv_spinlocks;

static status_t kvm_yield_to(uint32_t apic_id)
{
    return hypercall_status(kvm_hypercall(KVM_HC_SCHED_YIELD, apic_id, 0, 0, 0));
}

static struct kvm_steal_time *steal_area(unsigned cpu)
{
    if (cpu >= KVM_MAX_CPUS || !kvm_cpus[cpu].steal_on)
        return NULL;
    return &kvm.areas[cpu].steal;
}

static bool kvm_vcpu_preempted(unsigned cpu)
{
    struct kvm_steal_time *st = steal_area(cpu);
    return st && kvm_steal_preempted(st);
}

static bool kvm_defer_tlb_flush(unsigned cpu)
{
    struct kvm_steal_time *st = steal_area(cpu);
    return st && kvm_steal_request_flush(st);
}

static void relax(void *ctx)
{
    arch_cpu_relax();
}

uint64_t hv_steal_ns(unsigned cpu)
{
    struct kvm_steal_time *st = steal_area(cpu);
    return st ? kvm_steal_time_read(st, relax, NULL) : 0;
}

// The hypercall-based members of hv_pv, once a probe shows hypercalls work.
static void start_hypercall_ops(void)
{
    if (!offered(HV_FEAT_KVM_PV_SEND_IPI) && !offered(HV_FEAT_KVM_PV_UNHALT) &&
        !offered(HV_FEAT_KVM_PV_SCHED_YIELD))
        return;
    kvm.hypercalls = choose_hypercall_insn();
    if (!kvm.hypercalls) {
        pr_info("kvm: hypercalls fault with vmcall and vmmcall alike (the host rewrites the "
                "instruction); no PV IPIs, kicks or yields");
        return;
    }
    if (offered(HV_FEAT_KVM_PV_SEND_IPI)) {
        hv_pv.send_ipi = kvm_send_ipi;
        hv_feature_set_used(HV_FEAT_KVM_PV_SEND_IPI);
    }
    if (offered(HV_FEAT_KVM_PV_UNHALT)) {
        hv_pv.kick = kvm_kick;
        hv_feature_set_used(HV_FEAT_KVM_PV_UNHALT);
        // Only while the boot CPU runs alone (kvm_init comes before the
        // other CPUs start; spin_pv_enable refuses otherwise).
        kvm_pv_spinlocks = pvspin_allowed && spin_pv_enable(kvm_spin_kick) == OK;
    }
    if (offered(HV_FEAT_KVM_PV_SCHED_YIELD)) {
        hv_pv.yield_to = kvm_yield_to;
        hv_feature_set_used(HV_FEAT_KVM_PV_SCHED_YIELD);
    }
}

// The steal-time-based members. The TLB-flush hand-over rides on the
// preempted byte, and is pointless when the host promises never to preempt
// a vCPU (HINTS_REALTIME).
static void start_steal_ops(void)
{
    if (!kvm.steal)
        return;
    hv_pv.vcpu_preempted = kvm_vcpu_preempted;
    if (offered(HV_FEAT_KVM_PV_TLB_FLUSH) && !offered(HV_FEAT_KVM_HINT_REALTIME)) {
        hv_pv.defer_tlb_flush = kvm_defer_tlb_flush;
        hv_feature_set_used(HV_FEAT_KVM_PV_TLB_FLUSH);
    }
}

static void mark_area_features_used(void)
{
    if (kvm.steal)
        hv_feature_set_used(HV_FEAT_KVM_STEAL_TIME);
    if (kvm.eoi)
        hv_feature_set_used(HV_FEAT_KVM_PV_EOI);
    if (kvm.poll)
        hv_feature_set_used(HV_FEAT_KVM_POLL_CONTROL);
}

static void log_summary(void)
{
    char line[256];
    int n;
    if (kvm.time_msr)
        n = ksnprintf(line, sizeof(line), "kvm: kvmclock (%s, TSC %llu kHz, was %llu kHz from %s)",
                      kvm.stable ? "stable" : "not stable", (unsigned long long)(kvm.tsc_hz / 1000),
                      (unsigned long long)(kvm.prior_hz / 1000), kvm.prior_source);
    else
        n = ksnprintf(line, sizeof(line), "kvm: no kvmclock");
    size_t at = MIN((size_t)n, sizeof(line) - 1);
    const char *insn = !kvm.hypercalls ? "" : kvm.vmmcall ? ", vmmcall" : ", vmcall";
    ksnprintf(line + at, sizeof(line) - at, "%s%s%s%s%s%s%s%s", insn,
              kvm.steal ? ", steal time" : "", kvm.eoi ? ", pv-eoi" : "",
              hv_pv.send_ipi ? ", pv-ipi" : "",
              !hv_pv.kick        ? ""
              : kvm_pv_spinlocks ? ", kick (pv spinlocks)"
                                 : ", kick",
              hv_pv.yield_to ? ", yield" : "", hv_pv.defer_tlb_flush ? ", tlb hand-over" : "",
              kvm.poll ? ", host polls" : "");
    pr_info("%s", line);
}

void kvm_init(void)
{
    if (kvm.present || !hv_info.kvm.base)
        return;
    kvm.present = true;
    kvm.boot_cpu = arch_cpu_index();
    choose_clock_msrs();
    kvm.steal = offered(HV_FEAT_KVM_STEAL_TIME);
    kvm.eoi = offered(HV_FEAT_KVM_PV_EOI);
    kvm.poll = offered(HV_FEAT_KVM_POLL_CONTROL);
    if ((kvm.time_msr || kvm.steal || kvm.eoi) && alloc_areas() != OK) {
        pr_warn("kvm: no memory for the per-CPU areas; kvmclock, steal time, PV EOI off");
        kvm.time_msr = 0;
        kvm.steal = kvm.eoi = false;
    }
    kvm_cpu_init();
    if (kvm.time_msr)
        start_clock();
    start_hypercall_ops();
    start_steal_ops();
    mark_area_features_used();
    log_summary();
}

// A single locked read-and-clear (msr.rst: testing and clearing must be one
// instruction, or the host could clear the bit in between and expect an
// APIC EOI that never comes).
bool kvm_pv_eoi_ack(void)
{
    if (!kvm.eoi)
        return false;
    unsigned cpu = arch_cpu_index();
    if (cpu >= KVM_MAX_CPUS || !kvm_cpus[cpu].eoi_on)
        return false;
    uint32_t old =
        __atomic_fetch_and(&kvm.areas[cpu].pv_eoi, ~KVM_PV_EOI_PENDING, __ATOMIC_RELAXED);
    if (!(old & KVM_PV_EOI_PENDING))
        return false;
    kvm_cpus[cpu].eoi_count++;
    return true;
}

bool kvm_clock_active(void)
{
    return kvm.time_msr != 0;
}

bool kvm_clock_stable(void)
{
    return kvm.stable;
}

uint64_t kvm_clock_tsc_hz(void)
{
    return kvm.time_msr ? kvm.tsc_hz : 0;
}

uint64_t kvm_prior_tsc_hz(const char **source)
{
    if (source)
        *source = kvm.time_msr ? kvm.prior_source : NULL;
    return kvm.time_msr ? kvm.prior_hz : 0;
}

bool kvm_hypercalls_available(void)
{
    return kvm.hypercalls;
}

volatile uint32_t *kvm_pv_eoi_word(unsigned cpu)
{
    if (cpu >= KVM_MAX_CPUS || !kvm_cpus[cpu].eoi_on)
        return NULL;
    return &kvm.areas[cpu].pv_eoi;
}

uint64_t kvm_pv_eoi_count(unsigned cpu)
{
    return cpu < KVM_MAX_CPUS ? __atomic_load_n(&kvm_cpus[cpu].eoi_count, __ATOMIC_RELAXED) : 0;
}

uint32_t kvm_cpu_apic_id(unsigned cpu)
{
    return cpu < KVM_MAX_CPUS ? kvm_cpus[cpu].apic_id : 0;
}

status_t kvm_set_host_polling(bool on)
{
    if (!kvm.poll)
        return ERR_NOT_SUPPORTED;
    hv_wrmsr(MSR_KVM_POLL_CONTROL, on ? KVM_POLL_CONTROL_HOST_POLLS : 0);
    return OK;
}

status_t kvm_host_polling(bool *on)
{
    if (!kvm.poll)
        return ERR_NOT_SUPPORTED;
    *on = hv_rdmsr(MSR_KVM_POLL_CONTROL) & KVM_POLL_CONTROL_HOST_POLLS;
    return OK;
}
#endif // !HOST_TEST
