/* Kernel context switch: callee-saved registers and RFLAGS go on the old
 * stack, the stack pointer into *from; then the same in reverse from *to. */

    .text
    .globl arch_context_switch
arch_context_switch:            /* %rdi = from, %rsi = to */
    pushfq
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popfq
    ret

/* First instructions of a new thread: arch_context_init left the entry
 * function in %r12 (popped by the switch above). */
    .globl x86_thread_trampoline
x86_thread_trampoline:
    xorl %ebp, %ebp
    callq *%r12
    ud2

    .section .note.GNU-stack, "", @progbits
