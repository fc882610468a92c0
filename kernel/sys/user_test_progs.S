/* Tiny position-independent user programs for the in-kernel user-mode
 * tests: each is copied into a fresh process and run from its first byte. */
#include "nimbus/syscall.h"

#define PROG(name) .globl utprog_##name, utprog_##name##_end; utprog_##name:
#define END(name) utprog_##name##_end:

    .section .rodata
    .balign 16

PROG(exit42)
    movl $NB_SYS_PROCESS_EXIT, %eax
    movl $42, %edi
    syscall
    ud2
END(exit42)

PROG(hello)
    movl $NB_SYS_DEBUG_WRITE, %eax
    leaq 1f(%rip), %rdi
    movl $(2f - 1f), %esi
    syscall
    movl %eax, %edi             /* exit with the status of the write */
    movl $NB_SYS_PROCESS_EXIT, %eax
    syscall
1:  .ascii "hello from user mode\n"
2:
END(hello)

PROG(null)
    xorl %eax, %eax
    movq (%rax), %rax
    ud2
END(null)

PROG(ud)
    ud2
END(ud)

PROG(div)
    xorl %ecx, %ecx
    movl $1, %eax
    xorl %edx, %edx
    divl %ecx
    ud2
END(div)

PROG(write_code)
    leaq utprog_write_code(%rip), %rax
    movb $0x90, (%rax)
    ud2
END(write_code)

PROG(exec_stack)
    movb $0xc3, -64(%rsp)       /* a `ret` on the (non-executable) stack */
    leaq -64(%rsp), %rax
    call *%rax
    ud2
END(exec_stack)

/* Exit 0 if a kernel pointer, a low pointer and an unmapped pointer each
 * give ERR_INVALID_ARGS (-10) from a system call, else the first bad status. */
PROG(bad_pointers)
    movl $NB_SYS_CLOCK_GET, %eax
    xorl %edi, %edi
    movq $0xffffffff80100000, %rsi
    syscall
    cmpl $-10, %eax
    jne 9f
    movl $NB_SYS_CLOCK_GET, %eax
    xorl %edi, %edi
    movl $0x10, %esi
    syscall
    cmpl $-10, %eax
    jne 9f
    movl $NB_SYS_CLOCK_GET, %eax
    xorl %edi, %edi
    movq $0x600000000000, %rsi
    syscall
    cmpl $-10, %eax
    jne 9f
    movl $NB_SYS_DEBUG_WRITE, %eax
    movq $0x600000000000, %rdi
    movl $16, %esi
    syscall
    cmpl $-10, %eax
    jne 9f
    movl $0x1fff, %eax          /* unassigned native number: ERR_BAD_SYSCALL */
    syscall
    cmpl $-13, %eax
    jne 9f
    xorl %eax, %eax
9:  movl %eax, %edi
    negl %edi
    movl $NB_SYS_PROCESS_EXIT, %eax
    syscall
END(bad_pointers)

PROG(spin)
1:  jmp 1b
END(spin)

/* Linux personality: write(1, ...), getpid, then exit_group(7). Unknown
 * Linux call 57 (fork) must give -ENOSYS (-38), else exit 99. */
PROG(linux)
    movl $1, %eax               /* write */
    movl $1, %edi
    leaq 1f(%rip), %rsi
    movl $(2f - 1f), %edx
    syscall
    cmpl $(2f - 1f), %eax
    jne 8f
    movl $57, %eax
    syscall
    cmpl $-38, %eax
    jne 8f
    movl $231, %eax             /* exit_group */
    movl $7, %edi
    syscall
8:  movl $231, %eax
    movl $99, %edi
    syscall
1:  .ascii "hello from the Linux personality\n"
2:
END(linux)

/* Touches 64 pages of a demand-zero buffer (the stack vmo's low end is
 * passed in rsi) and checks they read back, then exits 0. */
PROG(touch_pages)
    movq %rsi, %rdi
    movq %rdi, %rbx
    movl $64, %ecx
1:  movq %rcx, (%rbx)
    addq $4096, %rbx
    loop 1b
    movq %rdi, %rbx
    movl $64, %ecx
2:  cmpq %rcx, (%rbx)
    jne 3f
    addq $4096, %rbx
    loop 2b
    xorl %edi, %edi
    jmp 4f
3:  movl $1, %edi
4:  movl $NB_SYS_PROCESS_EXIT, %eax
    syscall
END(touch_pages)

    .section .note.GNU-stack, "", @progbits
