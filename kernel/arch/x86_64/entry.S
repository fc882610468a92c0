/* PVH entry: the VMM starts us in 32-bit protected mode, paging off, with
 * %ebx = physical address of struct hvm_start_info. We load our own GDT,
 * build nothing at run time (the boot page tables below are static), turn on
 * long mode and jump to the higher-half kernel. */
#include "init/memfloor.h"
#include "x86.h"

#define KERNEL_VMA_ 0xffffffff80000000
#define PTE_P   0x1
#define PTE_W   0x2
#define PTE_PS  0x80
#define COM1    0x3f8

    .section .note.Xen, "a"
    .balign 4
    .long 4                 /* name size: "Xen\0" */
    .long 4                 /* descriptor size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long pvh_start32

    .section .boot.text, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %edi             /* hvm_start_info, first argument of kmain */
    rdtsc                       /* boot stage 0: entry */
    movl %eax, %esi
    movl %edx, %ebp
    lgdt boot_gdt_ptr
    ljmp $0x08, $1f
1:  movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs

    /* A guest too small for the kernel and its initrd: QEMU puts the initrd
     * (the first module) at the top of RAM, and here that is on top of the
     * kernel image, whose data the C code cannot trust any more. */
    cmpl $1, 12(%edi)           /* hvm_start_info.nr_modules */
    jb 6f
    movl 16(%edi), %ebx         /* .modlist_paddr (low half) */
    movl (%ebx), %eax           /* modlist[0].paddr */
    cmpl $__kernel_phys_end, %eax
    jae 6f
    addl 8(%ebx), %eax          /* + .size */
    cmpl $__kernel_phys_start, %eax
    ja too_small
6:
    /* Long mode is required: say so on the serial port if it is missing. */
    movl $CPUID_EXT_MAX, %eax
    cpuid
    cmpl $CPUID_EXT_FEATURES, %eax
    jb no_long_mode
    movl $CPUID_EXT_FEATURES, %eax
    cpuid
    testl $CPUID_EXT_EDX_LM, %edx
    jz no_long_mode
    movl %edx, %ebx

    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    testl $CPUID_EXT_EDX_NX, %ebx
    jz 2f
    orl $EFER_NXE, %eax
2:  wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP | CR0_PE), %eax
    movl %eax, %cr0
    ljmp $0x18, $start64

too_small:
    /* With panic=exit on the command line, end QEMU as a panic does (37). */
    movl 24(%edi), %edx         /* .cmdline_paddr (low half) */
    xorl %ecx, %ecx
    testl %edx, %edx
    jz 8f
7:  xorl %ecx, %ecx
    cmpb $0, (%edx)
    je 8f
    movl %edx, %esi
    movl $str_panic_exit, %edi
    movl $10, %ecx
    repe cmpsb
    je 9f
    incl %edx
    jmp 7b
9:  movl $0x12, %ecx            /* EXIT_CODE_PANIC */
8:  movl $msg_too_small, %ebx
    jmp print_halt

no_long_mode:
    movl $msg_no_lm, %ebx
    xorl %ecx, %ecx
print_halt:                     /* %ebx: message; %ecx: exit code or 0 */
3:  movb (%ebx), %al
    testb %al, %al
    jz 5f
    movw $(COM1 + 5), %dx       /* wait for the transmitter to be empty */
4:  inb %dx, %al
    testb $0x20, %al
    jz 4b
    movb (%ebx), %al
    movw $COM1, %dx
    outb %al, %dx
    incl %ebx
    jmp 3b
5:  testl %ecx, %ecx
    jz 10f
    movl %ecx, %eax
    movw $PORT_DEBUG_EXIT, %dx
    outl %eax, %dx
10: hlt
    jmp 10b

    .code64
start64:
    movabs $high_entry, %rax
    jmp *%rax

    .section .boot.data, "aw"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00af9a000000ffff    /* 0x18: 64-bit code */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
msg_no_lm:
    .asciz "nimbus: this CPU has no long mode (x86_64); halting\r\n"
#define STR_(x) #x
#define STR(x)  STR_(x)
msg_too_small:
    .ascii "nimbus: not enough memory: the initrd overlaps the kernel image, "
    .asciz "need at least " STR(NIMBUS_MIN_MEMORY_MIB) " MiB\r\n"
str_panic_exit:
    .ascii "panic=exit"

    /* Boot page tables: identity and direct map of 0..4 GiB, and the kernel
     * image's first GiB at KERNEL_VMA, all with 2 MiB pages. mmu_init()
     * replaces them with the real tables. */
    .balign 4096
boot_pml4:
    .quad boot_pdpt_low + (PTE_P | PTE_W)
    .fill 255, 8, 0
    .quad boot_pdpt_low + (PTE_P | PTE_W)   /* 256: DIRECT_MAP_BASE */
    .fill 254, 8, 0
    .quad boot_pdpt_high + (PTE_P | PTE_W)  /* 511: KERNEL_VMA */
boot_pdpt_low:
    .quad boot_pd + (PTE_P | PTE_W)
    .quad boot_pd + 0x1000 + (PTE_P | PTE_W)
    .quad boot_pd + 0x2000 + (PTE_P | PTE_W)
    .quad boot_pd + 0x3000 + (PTE_P | PTE_W)
    .fill 508, 8, 0
boot_pdpt_high:
    .fill 510, 8, 0
    .quad boot_pd + (PTE_P | PTE_W)         /* 510: -2 GiB */
    .quad 0
boot_pd:
    .set i, 0
    .rept 2048
    .quad (i << 21) + (PTE_P | PTE_W | PTE_PS)
    .set i, i + 1
    .endr

    .text
    .code64
high_entry:
    movl $GDT_KDATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    /* Clear .bss (the stack lives there, so before using it). */
    movl %edi, %r12d
    movq $__bss_start, %rdi
    movq $__bss_end, %rcx
    subq %rdi, %rcx
    shrq $3, %rcx
    xorl %eax, %eax
    rep stosq
    movq $boot_stack_top, %rsp
    movl %r12d, %edi            /* zero-extends: hvm_start_info */
    shlq $32, %rbp
    movl %esi, %esi
    orq %rbp, %rsi              /* TSC at entry */
    xorl %ebp, %ebp
    call kmain
6:  cli
    hlt
    jmp 6b

    .bss
    .balign 4096
    .globl boot_stack, boot_stack_top
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
