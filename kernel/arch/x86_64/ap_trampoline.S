/* Application processor start-up code. The boot CPU copies it to
 * AP_TRAMPOLINE_PA (a page below 1 MiB) and sends a STARTUP IPI with vector
 * AP_TRAMPOLINE_PA >> 12: the AP starts here in real mode with
 * CS = AP_TRAMPOLINE_PA >> 4, IP = 0. It goes to protected mode, turns on
 * PAE paging with the kernel's page tables (which identity-map this page
 * while CPUs start) and long mode, and calls the C entry on its own stack.
 * Everything it needs is in the parameter block at the end, filled in by the
 * boot CPU for each AP in turn. */
#include "x86.h"
#include "x86_cpu.h"

#define CR0_NW   (1 << 29)
#define CR0_CD   (1 << 30)
/* Linear address of a trampoline label once copied. */
#define TPA(x)   (AP_TRAMPOLINE_PA + (x) - x86_ap_trampoline)
/* Offset of a label from the start (real mode: CS = DS = the page). */
#define TOFF(x)  ((x) - x86_ap_trampoline)

    .section .rodata
    .balign 16
    .globl x86_ap_trampoline, x86_ap_trampoline_end, x86_ap_params
    .code16
x86_ap_trampoline:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    /* (1) Protected mode, with caching on (INIT leaves CR0.CD and NW set). */
    lgdtl TOFF(ap_gdt_ptr)
    movl %cr0, %eax
    andl $~(CR0_CD | CR0_NW), %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl $0x08, $TPA(ap_protected)

    .code32
ap_protected:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl $1, TPA(x86_ap_params) + AP_PARAM_ALIVE /* (read-only once paging is on) */
    /* (2) PAE paging on the kernel root, long mode, NX as on the boot CPU. */
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl TPA(x86_ap_params) + AP_PARAM_CR3, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    orl TPA(x86_ap_params) + AP_PARAM_EFER, %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP), %eax
    movl %eax, %cr0
    ljmpl $0x18, $TPA(ap_long)

    .code64
ap_long:
    xorl %eax, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    /* (3) Own stack, and on to the higher-half C entry. */
    movq TPA(x86_ap_params) + AP_PARAM_STACK, %rsp
    movq TPA(x86_ap_params) + AP_PARAM_CPU, %rdi
    movq TPA(x86_ap_params) + AP_PARAM_ENTRY, %rax
    xorl %ebp, %ebp
    callq *%rax
1:  hlt
    jmp 1b

    /* Accessed bits preset: the 64-bit code segment is loaded with paging
     * on, and this page is mapped read-only then. */
    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf93000000ffff    /* 0x10: data */
    .quad 0x00af9b000000ffff    /* 0x18: 64-bit code */
ap_gdt_end:
ap_gdt_ptr:
    .word ap_gdt_end - ap_gdt - 1
    .long TPA(ap_gdt)

    .balign 8
x86_ap_params:
    .fill AP_PARAM_SIZE, 1, 0
x86_ap_trampoline_end:       /* kernel.ld checks that it fits in a page */

    .section .note.GNU-stack, "", @progbits
