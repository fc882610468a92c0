// Per-CPU state, CPU features and the trap frame of x86_64. Private to
// kernel/arch/x86_64.
#pragma once

// The page below 1 MiB the application processors start in (real mode), and
// the layout of the parameter block the boot CPU fills in for each of them
// (shared with ap_trampoline.S).
#define AP_TRAMPOLINE_PA 0x8000
#define AP_PARAM_CR3     0  // u64: kernel page tables (below 4 GiB)
#define AP_PARAM_EFER    8  // u64: EFER bits to set besides LME (NXE)
#define AP_PARAM_STACK   16 // u64: stack top for the C entry
#define AP_PARAM_ENTRY   24 // u64: C entry, called with the struct x86_cpu
#define AP_PARAM_CPU     32 // u64: struct x86_cpu of the starting CPU
#define AP_PARAM_ALIVE   40 // u32: set to 1 once in protected mode
#define AP_PARAM_SIZE    48

#ifndef __ASSEMBLY__
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "lib/compiler.h"
#include "lib/iobitmap.h"

struct x86_features {
    bool nx, pge, pat, gbpages, smep, smap, umip, x2apic, tsc_deadline, hypervisor;
    uint32_t max_leaf, max_ext_leaf;
    char vendor[13];
};
extern struct x86_features x86_cpu_features;

// Hardware task state segment (only the stack fields are used in long mode).
struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __packed;
_Static_assert(sizeof(struct tss) == 104, "tss layout");

// IST slots: stacks the CPU switches to for faults that may hit a broken stack.
#define IST_DOUBLE_FAULT  1
#define IST_NMI           2
#define IST_MACHINE_CHECK 3

// Registers saved by trapentry.S, in push order reversed.
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; // pushed by the CPU
};
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap_frame layout");

struct fault_catch;

// One per CPU, reached through GS base (self pointer first). Written by the
// CPU itself, except the fields the boot CPU fills in before starting it.
struct x86_cpu {
    struct x86_cpu *self;
    uint64_t kernel_rsp; // stack top of the running thread (syscall entry)
    uint64_t user_rsp;   // scratch: user stack pointer at syscall entry
    uint32_t index;      // 0 = boot CPU (set before start)
    uint32_t apic_id;    // (set before start)
    uint64_t gdt[9];     // null, kcode, kdata, ucode32, udata, ucode64, tss (2 slots), spare
    struct tss tss;      // IST stacks set before start
    // The TSS's I/O permission bitmap (right after it; the TSS limit covers
    // it), then the 0xff byte the CPU may read past its end.
    uint8_t iomap[IOBITMAP_BYTES + 1];
    struct iobitmap_copy iocopy;    // what iomap shows (ioport.c)
    struct fault_catch *catch;      // armed by arch_call_catching_faults
    uint64_t stack_base, stack_top; // current kernel stack, for backtraces
};

_Static_assert(offsetof(struct x86_cpu, iomap) ==
                   offsetof(struct x86_cpu, tss) + sizeof(struct tss),
               "the I/O bitmap follows the TSS");

#define X86_CPU_KERNEL_RSP 8 // offsets used by syscall.S
#define X86_CPU_USER_RSP   16
_Static_assert(offsetof(struct x86_cpu, kernel_rsp) == X86_CPU_KERNEL_RSP, "syscall.S offsets");
_Static_assert(offsetof(struct x86_cpu, user_rsp) == X86_CPU_USER_RSP, "syscall.S offsets");

extern struct x86_cpu x86_boot_cpu;
// Every started CPU by index (NULL past the last one); written once, by the
// boot CPU, before that CPU starts.
extern struct x86_cpu *x86_cpus[MAX_CPUS];
// Bit i: CPU i is online (answers IPIs and TLB shootdowns).
extern uint64_t x86_cpus_online;

static inline struct x86_cpu *x86_this_cpu(void)
{
    struct x86_cpu *c;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(c));
    return c;
}

// SYSCALL/SYSRET set-up (per CPU) and the C side of the entry.
void x86_syscall_init(void);
void x86_syscall(struct trap_frame *f);
// What happens on every return to user mode: kills, reschedules.
void x86_user_return(struct trap_frame *f);
// A page fault in kernel mode on a user address (user copies): true when
// served or turned into a copy failure.
bool x86_kernel_user_fault(struct trap_frame *f);
// A CPU exception taken in user mode.
void x86_user_fault(struct trap_frame *f);

// Early CPU setup of the boot CPU: features, GDT/TSS, IDT,
// NX/SMEP/SMAP/UMIP.
void x86_cpu_init(void);
// After the memory manager is up: IST stacks with guard pages for c.
status_t x86_cpu_alloc_ist(struct x86_cpu *c);
// The same descriptor tables, protections and MSRs as the boot CPU, on an
// application processor (c prepared by the boot CPU).
void x86_cpu_setup_ap(struct x86_cpu *c);
void x86_idt_init(void);
// Loads the (shared) IDT on this CPU.
void x86_idt_load(void);
void x86_trap_dispatch(struct trap_frame *f);
void x86_report_trap(const struct trap_frame *f, const char *why);
void x86_backtrace(uint64_t rip, uint64_t rbp);
const char *x86_exception_name(unsigned vector);

// Page tables on SMP: the kernel root and the user roots each CPU may cache.
// Identity-maps the trampoline page in the kernel root while CPUs start.
status_t x86_mmu_map_trampoline(void);
// Removes that mapping and the tables under it, flushing every CPU.
void x86_mmu_unmap_trampoline(void);
// Invalidates [va, va + n pages) of root on this CPU (n = TLB_FLUSH_ALL:
// everything of root, global pages included for the kernel root).
void x86_tlb_flush_local(paddr_t root, vaddr_t va, size_t n);
#define TLB_FLUSH_ALL ((size_t)-1)
#define TLB_FLUSH_MAX 32 // pages flushed one by one; more flush everything
// Asks every CPU in `cpus` (not the caller's) to run x86_tlb_flush_local and
// waits until all have. Interrupts may be off; see ipi.c for why that is safe.
void x86_tlb_shootdown(uint64_t cpus, paddr_t root, vaddr_t va, size_t n);
// Serves IPI requests that must not wait for interrupts to be enabled (TLB
// shootdowns); called from spin loops (arch_cpu_relax).
void x86_ipi_poll(void);
// Registers the IPI vectors (boot CPU, before other CPUs start).
void x86_ipi_init(void);
#endif
