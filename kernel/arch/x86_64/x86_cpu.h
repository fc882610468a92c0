// Per-CPU state, CPU features and the trap frame of x86_64. Private to
// kernel/arch/x86_64.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "lib/compiler.h"

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

// One per CPU, reached through GS base (self pointer first).
struct x86_cpu {
    struct x86_cpu *self;
    uint64_t kernel_rsp; // stack top of the running thread (syscall entry)
    uint64_t user_rsp;   // scratch: user stack pointer at syscall entry
    uint32_t index;
    uint64_t gdt[9]; // null, kcode, kdata, ucode32, udata, ucode64, tss (2 slots), spare
    struct tss tss;
    struct fault_catch *catch;      // armed by arch_call_catching_faults
    uint64_t stack_base, stack_top; // current kernel stack, for backtraces
};

#define X86_CPU_KERNEL_RSP 8 // offsets used by syscall.S
#define X86_CPU_USER_RSP   16
_Static_assert(offsetof(struct x86_cpu, kernel_rsp) == X86_CPU_KERNEL_RSP, "syscall.S offsets");
_Static_assert(offsetof(struct x86_cpu, user_rsp) == X86_CPU_USER_RSP, "syscall.S offsets");

extern struct x86_cpu x86_boot_cpu;

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

// Early CPU setup: features, GDT/TSS, IDT, NX/SMEP/SMAP/UMIP. Boot CPU only
// for now.
void x86_cpu_init(void);
// After the memory manager is up: IST stacks with guard pages.
void x86_cpu_init_ist(void);
void x86_idt_init(void);
void x86_trap_dispatch(struct trap_frame *f);
void x86_report_trap(const struct trap_frame *f, const char *why);
void x86_backtrace(uint64_t rip, uint64_t rbp);
const char *x86_exception_name(unsigned vector);
