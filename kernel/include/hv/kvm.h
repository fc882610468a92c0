// KVM paravirtual interfaces (Linux KVM documentation: cpuid.rst, msr.rst,
// hypercalls.rst): kvmclock and the KVM wall clock, steal time, PV EOI, host
// halt-polling control, and the hypercalls behind hv_pv (IPIs, kicks,
// directed yields) plus the TLB-flush hand-over through the steal time area.
//
// kvm_init() turns on, on the boot CPU, whatever the host offers and marks
// it used in hv_info; kvm_cpu_init() (through hv_init_cpu()) does the
// per-CPU part on every other CPU. Per-CPU areas for up to KVM_MAX_CPUS CPUs come from pmm at once,
// so CPUs brought up later need no allocation.
//
// The pure helpers (rate from a pvclock scale, IPI windows, the flush
// hand-over, the wall clock protocol) build into the host tests.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/pvclock.h"
#include "nimbus/status.h"

#define KVM_MAX_CPUS 64

// MSRs (msr.rst). The area MSRs take a guest physical address | enable.
#define MSR_KVM_WALL_CLOCK      0x11 // old interface (KVM_FEATURE_CLOCKSOURCE)
#define MSR_KVM_SYSTEM_TIME     0x12
#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define MSR_KVM_STEAL_TIME      0x4b564d03
#define MSR_KVM_PV_EOI_EN       0x4b564d04
#define MSR_KVM_POLL_CONTROL    0x4b564d05
#define KVM_MSR_ENABLE          1ull // bit 0 of the system time, steal time and PV EOI MSRs
// MSR_KVM_POLL_CONTROL bit 0: the host may poll before it deschedules a
// halted vCPU (the reset value). 0 asks it not to, for a guest that polls
// itself before halting.
#define KVM_POLL_CONTROL_HOST_POLLS 1ull
// PV EOI word bit 0: set by the host when it injects an interrupt whose EOI
// may be signalled by clearing the bit instead of writing the APIC.
#define KVM_PV_EOI_PENDING 1u

// Hypercalls (hypercalls.rst): vmcall on Intel, vmmcall on AMD; number in
// rax, arguments in rbx, rcx, rdx, rsi, result in rax (negative: error).
// KVM rewrites the other vendor's instruction in guest memory to its own
// (which faults on read-only kernel text), so kvm_init() probes with a
// harmless call: the vendor's instruction first, then the other.
#define KVM_HC_VAPIC_POLL_IRQ 1    // no arguments, no effect but an exit: the probe
#define KVM_HC_KICK_CPU       5    // a0 flags (0), a1 APIC id
#define KVM_HC_SEND_IPI       10   // a0/a1 bitmap low/high, a2 lowest APIC id, a3 ICR
#define KVM_HC_SCHED_YIELD    11   // a0 APIC id
#define KVM_ENOSYS            1000 // returned negated for an unknown hypercall
// KVM_HC_SEND_IPI covers 128 APIC ids per call in 64-bit mode.
#define KVM_IPI_WINDOW_IDS 128

// The ICR value KVM_HC_SEND_IPI takes: fixed delivery, physical
// destination, edge, asserted (Intel SDM, interrupt command register).
#define KVM_ICR_VECTOR_MASK  0xffu
#define KVM_ICR_FIXED        (0u << 8)
#define KVM_ICR_LEVEL_ASSERT (1u << 14)

// MSR_KVM_WALL_CLOCK(_NEW) writes this (4-byte aligned, in guest RAM): the
// wall-clock time at which kvmclock's system time was 0.
struct kvm_wall_clock {
    uint32_t version; // odd while the host updates it
    uint32_t sec;
    uint32_t nsec;
};
_Static_assert(sizeof(struct kvm_wall_clock) == 12, "wall clock layout");

// ---- Pure helpers (host-tested) ----

// The TSC rate (Hz) a pvclock scale stands for: the inverse of
// ns = ((delta << shift) * mul) >> 32, rounded to nearest. 0 when mul is 0,
// |shift| > 31, or the rate does not fit 64 bits.
uint64_t kvm_pvclock_tsc_hz(uint32_t mul, int8_t shift);

// Reads the wall clock structure (version protocol, up to `tries` reads) as
// ns since 1970. ERR_BAD_STATE if it never holds still.
status_t kvm_wall_clock_read(const volatile struct kvm_wall_clock *w, int tries, uint64_t *ns);

// One KVM_HC_SEND_IPI call's worth of destinations: bit i of bits[] is APIC
// id min + i.
struct kvm_ipi_window {
    uint32_t min;
    uint64_t bits[2];
};

// Gathers the next window from ids[0..n) (any order, duplicates allowed):
// the lowest id >= *from and every id within KVM_IPI_WINDOW_IDS of it.
// Advances *from past the window. false when no id >= *from is left.
// Start with *from = 0; windows come out in increasing order, as few as
// possible.
bool kvm_ipi_next_window(const uint32_t *ids, size_t n, uint64_t *from, struct kvm_ipi_window *w);

// Destinations in a window.
unsigned kvm_ipi_window_count(const struct kvm_ipi_window *w);

// True if the vCPU owning st is preempted (not running on a host CPU).
bool kvm_steal_preempted(const volatile struct kvm_steal_time *st);

// Asks the host to flush the TLB of a preempted vCPU before it runs again:
// sets KVM_VCPU_FLUSH_TLB in st->preempted with a compare-and-exchange while
// KVM_VCPU_PREEMPTED is set. true if the request was placed (no IPI is
// needed); false if the vCPU is running (send the IPI).
bool kvm_steal_request_flush(volatile struct kvm_steal_time *st);

// ---- The paravirtual operations the SMP code calls ----

// Each member is NULL when the hypervisor does not offer it; callers then
// use the native path (APIC ICR writes, halt loops, IPIs).
struct hv_pv_ops {
    // Sends `vector` (fixed, edge) to every listed APIC id. OK, or
    // ERR_NOT_FOUND if some id has no vCPU, or ERR_NOT_SUPPORTED.
    status_t (*send_ipi)(const uint32_t *apic_ids, size_t n, uint8_t vector);
    // Wakes the vCPU with this APIC id from a halt (PV spin lock slow path:
    // the waiter halts with interrupts off and is woken by this).
    status_t (*kick)(uint32_t apic_id);
    // Gives up the rest of this vCPU's time slice to the vCPU with this APIC
    // id, when it is preempted and the caller waits for it.
    status_t (*yield_to)(uint32_t apic_id);
    // True if CPU `cpu` (kernel index) is preempted by the host.
    bool (*vcpu_preempted)(unsigned cpu);
    // Hands the TLB flush of CPU `cpu` to the host if that vCPU is
    // preempted (true: no IPI needed); false: send the flush IPI.
    bool (*defer_tlb_flush)(unsigned cpu);
};

extern struct hv_pv_ops hv_pv;

// Time CPU `cpu` was runnable but not running (ns, steal time), 0 without
// steal time or for a CPU that has not run kvm_cpu_init().
uint64_t hv_steal_ns(unsigned cpu);

// ---- Kernel only ----

// Boot CPU, once, after the memory manager (hv_init_late calls it): turns
// on what KVM offers, registers kvmclock (rating 300) and its TSC rate, sets
// the wall clock, fills hv_pv. Does nothing outside KVM.
void kvm_init(void);
// The per-CPU part of kvm_init() (kvmclock, steal time, PV EOI areas) for
// the calling CPU, early in its bring-up; until then the CPU reads the boot
// CPU's kvmclock area and has no steal time or PV EOI.
void kvm_cpu_init(void);

// Called for every EOI (x86_apic_eoi, interrupts off): true if the host
// marked the interrupt PV-EOI-able and the flag, now cleared, was the EOI;
// false means write the APIC EOI register.
bool kvm_pv_eoi_ack(void);

// kvmclock on this CPU (ns of host system time; the boot CPU's area until
// this CPU's own is registered), 0 when not in use.
uint64_t kvm_clock_read_ns(void);
bool kvm_clock_active(void);
// True if the host said kvmclock readings agree across CPUs.
bool kvm_clock_stable(void);
// The TSC rate from kvmclock's scale, and the rate the kernel had before
// (calibrated or from CPUID), with its source. 0 / NULL without kvmclock.
uint64_t kvm_clock_tsc_hz(void);
uint64_t kvm_prior_tsc_hz(const char **source);

// EOIs done through the PV EOI flag on CPU `cpu`, and (for tests) that
// CPU's PV EOI word (NULL without PV EOI).
uint64_t kvm_pv_eoi_count(unsigned cpu);
volatile uint32_t *kvm_pv_eoi_word(unsigned cpu);

// True if hypercalls work from the kernel (kvm_init's probe). Hosts that
// emulate the guest kernel (this project's PVM-based nested KVM) rewrite the
// instruction instead of running the call; then send_ipi, kick and yield_to
// stay NULL and their features unused.
bool kvm_hypercalls_available(void);
// The APIC id kvm_cpu_init() recorded for CPU `cpu`.
uint32_t kvm_cpu_apic_id(unsigned cpu);

// Host-side halt polling (MSR_KVM_POLL_CONTROL). ERR_NOT_SUPPORTED without
// POLL_CONTROL.
status_t kvm_set_host_polling(bool on);
status_t kvm_host_polling(bool *on);
