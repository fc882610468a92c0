/* System call entry (SYSCALL) and the way back to user mode. The frame
 * built here is a struct trap_frame, so system calls, interrupts and faults
 * from user mode share one return path. */
#include "frame.inc"
#include "x86.h"

#define CPU_KERNEL_RSP 8
#define CPU_USER_RSP   16
#define SYSCALL_VECTOR 0x100

    .text
    .globl x86_syscall_entry
x86_syscall_entry:
    swapgs
    movq %rsp, %gs:CPU_USER_RSP
    movq %gs:CPU_KERNEL_RSP, %rsp
    pushq $(GDT_UDATA | 3)          /* ss */
    pushq %gs:CPU_USER_RSP          /* rsp */
    pushq %r11                      /* rflags */
    pushq $(GDT_UCODE64 | 3)        /* cs */
    pushq %rcx                      /* rip */
    pushq $0                        /* error */
    pushq $SYSCALL_VECTOR           /* vector */
    PUSH_GPRS
    xorl %ebp, %ebp
    movq %rsp, %rdi
    sti
    call x86_syscall
    cli
    movq %rsp, %rdi
    call x86_user_return
    POP_GPRS
    addq $16, %rsp                  /* vector, error */
    /* SYSRET only to a canonical address with the usual selectors (a
     * non-canonical RIP would fault in ring 0); else IRET. */
    movq (%rsp), %rcx
    shrq $47, %rcx
    jnz 1f
    cmpq $(GDT_UCODE64 | 3), 8(%rsp)
    jne 1f
    movq (%rsp), %rcx               /* rip */
    movq 16(%rsp), %r11             /* rflags */
    movq 24(%rsp), %rsp             /* user stack; interrupts are off */
    swapgs
    sysretq
1:  swapgs
    iretq

/* x86_enter_user_frame(f): enters user mode with the registers of the
 * struct trap_frame at f (built by the caller, selectors included). */
    .globl x86_enter_user_frame
x86_enter_user_frame:
    cli
    movq %rdi, %rsp
    POP_GPRS
    addq $16, %rsp                  /* vector, error */
    swapgs
    iretq

/* User copies: rep movsq for the bulk, then rep movsb for the last 0-7
 * bytes (one step per 8 bytes: under emulation each step of a rep string
 * instruction costs about as much as a whole instruction). Either may
 * fault; the page-fault handler serves the fault and the instruction goes
 * on where it stopped, or it resumes at x86_user_copy_fault when the fault
 * cannot be served.
 * int x86_user_copy(void *dst, const void *src, size_t n): 0 or 1 (fault). */
    .globl x86_user_copy, x86_user_copy_insn, x86_user_copy_tail_insn, x86_user_copy_fault
x86_user_copy:
    movq %rdx, %rcx
    shrq $3, %rcx
x86_user_copy_insn:
    rep movsq
    movq %rdx, %rcx
    andq $7, %rcx
x86_user_copy_tail_insn:
    rep movsb
    xorl %eax, %eax
    ret
x86_user_copy_fault:
    movl $1, %eax
    ret

    .section .note.GNU-stack, "", @progbits
