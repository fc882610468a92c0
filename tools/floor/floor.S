/*
 * The floor for `make bench`: the least a PVH kernel can do. QEMU (or its
 * firmware) jumps to floor_start in 32-bit protected mode, paging off; the
 * first instruction reads the TSC, then the kernel writes
 *
 *     floor: tsc=<16 hex digits>
 *
 * to COM1 (0x3f8; QEMU's UART sends without being programmed) and ends QEMU
 * through isa-debug-exit (port 0xf4, value 0x10: QEMU exits with 33). About
 * a hundred instructions. Under -icount shift=0,sleep=off the TSC figure is
 * the number of guest instructions run before the kernel's entry (the
 * firmware's share of every PVH boot); the host time from QEMU's launch to
 * its exit is the VMM's own cost of one boot.
 */
    .section .note.Xen, "a"
    .balign 4
    .long 4                 /* name size: "Xen\0" */
    .long 4                 /* descriptor size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long floor_start

    .text
    .code32
    .globl floor_start
floor_start:
    rdtsc
    mov %eax, %ebx          /* low half */
    mov %edx, %ebp          /* high half */
    mov $0x3f8, %dx
    mov $prefix, %esi
    mov $(prefix_end - prefix), %ecx
1:  lodsb
    outb %al, %dx
    loop 1b
    mov $16, %ecx           /* 16 hex digits, high nibble first */
2:  mov %ebp, %eax
    shr $28, %eax
    shld $4, %ebx, %ebp
    shl $4, %ebx
    cmp $10, %al
    jb 3f
    add $('a' - '0' - 10), %al
3:  add $'0', %al
    outb %al, %dx
    loop 2b
    mov $'\n', %al
    outb %al, %dx
    mov $0xf4, %dx
    mov $0x10, %al
    outb %al, %dx
4:  hlt                     /* no exit device: stay here */
    jmp 4b

    .section .rodata
prefix:
    .ascii "floor: tsc="
prefix_end:

    .section .note.GNU-stack, "", @progbits
