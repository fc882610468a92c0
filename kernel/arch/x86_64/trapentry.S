/* Interrupt and exception entry: one 16-byte stub per vector pushes an error
 * code (0 when the CPU does not) and the vector number, then trap_common
 * saves the registers as a struct trap_frame and calls x86_trap_dispatch. */
#include "frame.inc"
#include "x86.h"

    .text
    .balign 16
    .globl x86_trap_stubs
x86_trap_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
    testb $3, 24(%rsp)          /* CS of the interrupted context */
    jz 1f
    swapgs
1:  PUSH_GPRS
    cld
    movq %rsp, %rdi
    call x86_trap_dispatch
    POP_GPRS
    testb $3, 24(%rsp)
    jz 2f
    swapgs
2:  addq $16, %rsp              /* vector and error code */
    iretq

/* int x86_catch_setjmp(struct x86_jmpbuf *jb): returns 0, or 1 when
 * x86_catch_longjmp resumes it. Saves callee-saved registers, the stack
 * pointer, the return address and RFLAGS. */
    .globl x86_catch_setjmp
x86_catch_setjmp:
    movq %rbx, 0(%rdi)
    movq %rbp, 8(%rdi)
    movq %r12, 16(%rdi)
    movq %r13, 24(%rdi)
    movq %r14, 32(%rdi)
    movq %r15, 40(%rdi)
    leaq 8(%rsp), %rax
    movq %rax, 48(%rdi)
    movq (%rsp), %rax
    movq %rax, 56(%rdi)
    pushfq
    popq %rax
    movq %rax, 64(%rdi)
    xorl %eax, %eax
    ret

    .globl x86_catch_longjmp
x86_catch_longjmp:
    movq 0(%rdi), %rbx
    movq 8(%rdi), %rbp
    movq 16(%rdi), %r12
    movq 24(%rdi), %r13
    movq 32(%rdi), %r14
    movq 40(%rdi), %r15
    movq 48(%rdi), %rsp
    pushq 64(%rdi)
    popfq
    movl $1, %eax
    jmpq *56(%rdi)

    .section .note.GNU-stack, "", @progbits
