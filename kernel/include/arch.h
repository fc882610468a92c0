// The architecture interface generic kernel code calls. Each architecture
// implements it under kernel/arch/<arch>/; the host test program supplies
// stand-ins.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "mm/phys.h"
#include "nimbus/status.h"

typedef uint64_t irqstate_t;

// CPU setup before anything else: features, descriptor tables, traps,
// protections (NX, SMEP, SMAP, UMIP), legacy interrupt controllers masked.
void arch_early_init(void);
// After the memory manager: guarded stacks for the double-fault and NMI paths.
void arch_late_init(void);
// Switches to the stack whose top is `top` and calls fn there (never returns).
__noreturn void arch_run_on_stack(uint64_t top, void (*fn)(void));
// Short description of the CPU for the boot log.
const char *arch_cpu_description(void);

// Disables interrupts and returns the previous state for arch_irq_restore().
irqstate_t arch_irq_save(void);
void arch_irq_restore(irqstate_t s);

// A relaxing instruction for spin loops.
void arch_cpu_relax(void);

// Halts the CPU forever with interrupts off.
__noreturn void arch_halt(void);

// Enables interrupts and waits for one (atomically: no wake-up is lost
// between the check for work and the wait). Returns with interrupts enabled.
void arch_idle(void);
void arch_irq_enable(void);
bool arch_irqs_enabled(void);

// Interrupt handlers for device and timer vectors.
typedef void (*arch_irq_fn)(void *arg);
// Reserves a free vector for fn; ERR_NO_RESOURCES when none is left.
status_t arch_irq_alloc(arch_irq_fn fn, void *arg, unsigned *vector);

// Interrupt routing through the IOAPICs of the ACPI MADT. A GSI is a global
// system interrupt number; ISA IRQs are translated through the MADT's
// overrides (bus 0). Routed lines start unmasked, delivered to the boot CPU.
status_t arch_irq_init_controllers(void);
status_t arch_irq_route_gsi(unsigned gsi, unsigned vector, bool level, bool active_low);
status_t arch_irq_route_isa(unsigned isa_irq, unsigned vector, unsigned *gsi_out);
status_t arch_irq_mask_gsi(unsigned gsi, bool masked);
// Where an ISA IRQ arrives: its GSI, trigger mode and polarity (the MADT's
// overrides, else identity, edge, active high).
status_t arch_irq_isa_gsi(unsigned isa_irq, unsigned *gsi, bool *level, bool *active_low);
// GSIs run from 0 to arch_irq_gsi_count() - 1 (the end of the highest
// IOAPIC's range; 0 without an IOAPIC). Numbers in gaps between IOAPICs
// route nowhere (ERR_NOT_FOUND).
unsigned arch_irq_gsi_count(void);
// Frees a vector from arch_irq_alloc (its handler is not called afterwards).
void arch_irq_free(unsigned vector);
// Message-signalled interrupts: reserves a vector for fn and gives the MSI
// address and data a device must write to raise it (the boot CPU's local
// APIC, physical destination, fixed delivery, edge). ERR_NO_RESOURCES when no
// vector is left. Free the vector with arch_irq_free.
status_t arch_irq_msi_alloc(arch_irq_fn fn, void *arg, uint64_t *address, uint32_t *data,
                            unsigned *vector);
// Raises `vector` on the calling CPU (a self-IPI, fixed delivery): what a
// device's MSI write would do. For tests.
status_t arch_irq_raise_self(unsigned vector);

// GSI ownership. A kernel driver that routes a line for itself registers as
// its owner (arch_irq_gsi_own). A claim (a user-space driver's interrupt
// object) takes a line over: the owner's release() runs (it stops its device
// from interrupting), the line goes to a fresh vector and the claimant's
// handler; when the claim ends the line is masked, and routed back to the
// owner, whose reclaim() runs. One claim per GSI. Thread context.
struct arch_gsi_owner {
    const char *name;
    void (*release)(void *arg);
    void (*reclaim)(void *arg);
    void *arg;
};
// Routes gsi to `vector` (unmasked) and records `owner` (static storage).
// ERR_ALREADY_EXISTS when the line has an owner or a claim.
status_t arch_irq_gsi_own(unsigned gsi, unsigned vector, bool level, bool active_low,
                          const struct arch_gsi_owner *owner);
// Forgets the owner (masking the line unless it is claimed).
void arch_irq_gsi_disown(unsigned gsi);
// Takes gsi for fn(arg), which runs in interrupt context, never after
// arch_irq_gsi_unclaim returns. The line starts masked (unmask it with
// arch_irq_mask_gsi). ERR_ALREADY_EXISTS: claimed already; ERR_NOT_FOUND: no
// IOAPIC has the line; ERR_NO_RESOURCES: no vector left.
status_t arch_irq_gsi_claim(unsigned gsi, bool level, bool active_low, arch_irq_fn fn, void *arg);
void arch_irq_gsi_unclaim(unsigned gsi);
// Whether gsi is claimed now (tests).
bool arch_irq_gsi_claimed(unsigned gsi);

// The one-shot timer behind ktimers: arch_timer_set(deadline) makes the CPU
// call ktimer_interrupt() once clock_monotonic_ns() >= deadline (UINT64_MAX
// stops it). TSC-deadline mode where the CPU has it, else the local APIC
// timer in one-shot mode.
status_t arch_timer_init(void);
void arch_timer_set(uint64_t deadline_ns);
const char *arch_timer_name(void);

// Saved kernel context of a thread that is not running.
struct arch_context {
    uint64_t rsp; // everything else is on the thread's stack
};

// Prepares ctx so that switching to it calls entry() on the stack whose top
// is stack_top, with interrupts disabled.
void arch_context_init(struct arch_context *ctx, uint64_t stack_top, void (*entry)(void));

// Saves the current context in *from and resumes *to. Returns when something
// switches back to *from.
void arch_context_switch(struct arch_context *from, struct arch_context *to);

// Called by the scheduler just before switching to a thread: the stack that
// interrupts and system calls from user mode use, the address space (0: the
// kernel's own) and the thread's user TLS base.
void arch_prepare_switch(uint64_t kstack_top, paddr_t root, uint64_t fs_base);
// Saves the user TLS base of the thread being switched away from.
uint64_t arch_read_fs_base(void);

// The I/O ports user mode may use on this CPU: the bitmap of the process
// whose thread runs next (lib/iobitmap.h; NULL: none). Interrupts off; bm
// must stay alive through the call. Writes only what changed.
struct iobitmap;
void arch_ioport_load(const struct iobitmap *bm);

// The user registers of a thread: what it enters user mode with, and what a
// Linux clone copies from the calling thread.
struct user_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags; // only the arithmetic flags and DF are kept
};

// Enters user mode with the registers in *r (interrupts enabled there). Does
// not return; the thread comes back into the kernel through system calls,
// interrupts and faults.
__noreturn void arch_enter_user_frame(const struct user_regs *r);
// The user registers of the calling thread as they were at the system call
// it is in now (only valid inside a system call handler).
void arch_user_regs_current(struct user_regs *out);

// The floating-point and vector registers of a user thread (FXSAVE image).
struct arch_fpu {
    uint8_t bytes[512];
} __aligned(16);

// Enables the FPU and SSE for user mode on this CPU.
void arch_fpu_init_cpu(void);
// The state a new thread starts with (defaults of FNINIT and MXCSR).
void arch_fpu_init_state(struct arch_fpu *f);
void arch_fpu_save(struct arch_fpu *f);
void arch_fpu_restore(const struct arch_fpu *f);

// Index of the running CPU (0 = boot CPU).
unsigned arch_cpu_index(void);

// ---- Multiprocessing ----

// CPU indices run from 0 (the boot CPU) to arch_cpu_count() - 1; a CPU mask
// is a uint64_t with bit i for CPU i.
#define MAX_CPUS 64

// Starts every other CPU the firmware lists as enabled (ACPI MADT; none
// without ACPI), each into its idle thread, and logs how many came up. A
// CPU that does not start in time is reported and left parked. Boot CPU,
// once, after sched_init().
void arch_start_cpus(void);
// CPUs online (started, running the scheduler).
unsigned arch_cpu_count(void);
bool arch_cpu_online(unsigned cpu);
// The hardware ID (local APIC ID) of an online CPU.
uint32_t arch_cpu_hw_id(unsigned cpu);

// Interrupts `cpu` (no effect on the caller's own CPU) so that it runs its
// scheduler checks: an idle CPU looks for work, a CPU in user mode passes
// its preemption point. Any context.
void arch_send_reschedule(unsigned cpu);

// Runs fn(arg) on every online CPU of `cpus` (the caller's own included, if
// in the mask), in interrupt context there, and waits until every call has
// returned. fn must not block. Needs interrupts enabled and no spinlock held
// (ERR_BAD_STATE otherwise): the CPUs called may be waiting for them.
status_t arch_call_on_cpus(uint64_t cpus, void (*fn)(void *), void *arg);

// Raw timestamp counter.
uint64_t arch_cycles(void);
// 64 bits from the CPU's random number generator (x86: RDSEED, else
// RDRAND); false when the CPU has none or it keeps failing.
bool arch_cpu_random(uint64_t *v);

// Port I/O (devices the kernel itself drives: the UART).
uint8_t arch_pio_in8(uint16_t port);
void arch_pio_out8(uint16_t port, uint8_t v);

// Prints the caller's registers and a symbolized backtrace (panic uses it).
void arch_dump_stack(void);

// Asks the VMM to end with `code` through QEMU's isa-debug-exit device, when
// present. Returns if there is no such device.
void arch_vm_exit(uint32_t code);

// What a CPU exception taken under arch_call_catching_faults() looked like.
struct fault_info {
    int vector;       // architecture exception number
    const char *name; // "page fault", ...
    uint64_t error;   // error code pushed by the CPU (0 if none)
    uint64_t addr;    // faulting address (page faults), else 0
    uint64_t ip;      // instruction pointer at the fault
};

// Runs fn(arg). Returns true if it returned normally; false if it raised a
// CPU exception, which is then described in *info and not reported. Used by
// tests that take exceptions on purpose.
bool arch_call_catching_faults(void (*fn)(void *), void *arg, struct fault_info *info);
