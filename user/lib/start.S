// The entry point of libnimbus programs (linked with -e nb_start).
//
// A process starts with the value of its bootstrap channel handle in rdi
// (NB_SYS_PROCESS_START's `bootstrap`). musl's _start overwrites rdi at once,
// so this shim saves it first, then goes to _start with every other register
// and the stack exactly as the kernel left them (rsp -> argc, System V ABI).
// Under Linux rdi is 0 at entry: no bootstrap channel.

    .text
    .globl nb_start
    .type nb_start, @function
nb_start:
    movq %rdi, nb_start_rdi(%rip)
    jmp _start
    .size nb_start, . - nb_start

    .bss
    .balign 8
    .globl nb_start_rdi
    .type nb_start_rdi, @object
nb_start_rdi:
    .quad 0
    .size nb_start_rdi, 8

// Standard input and output are bound before main (user/lib/stdio.c). The
// entry also makes the linker pull nb_stdio_init out of libnimbus.a.
// Priority 101, the first one free for programs: before other constructors.
    .section .init_array.00101, "aw", @init_array
    .balign 8
    .quad nb_stdio_init

    .section .note.GNU-stack, "", @progbits
