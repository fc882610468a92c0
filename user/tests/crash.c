// crash MODE: ends itself with a CPU exception, so the kernel's handling of
// user faults can be tested (utest starts it and expects TERMINATED with the
// fault it asked for). Exits 2 if the fault did not happen.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nb/ioport.h"

// cppcheck-suppress stringLiteralWrite ; writing it is the fault wanted
static const char rodata_text[] = "read-only";
static uint8_t data_code[16] = {0xc3}; // "ret", in a non-executable data page

// volatile: the compiler must not see through these and fold the faults away.
static volatile uintptr_t null_addr = 0;
static volatile int zero = 0;

static void null_read(void)
{
    (void)*(volatile int *)null_addr;
}

static void null_write(void)
{
    *(volatile int *)null_addr = 1;
}

static void rodata_write(void)
{
    volatile char *p = (volatile char *)(uintptr_t)rodata_text;
    p[0] = 'R';
}

static void exec_data(void)
{
    void (*volatile fn)(void) = (void (*)(void))(uintptr_t)data_code;
    fn();
}

static void exec_stack(void)
{
    volatile uint8_t code[16] = {0xc3};
    void (*volatile fn)(void) = (void (*)(void))(uintptr_t)code;
    fn();
}

// In assembly: the compiler turns 1 / x into compares, with no division.
static void divide_by_zero(void)
{
    uint32_t lo = 1, hi = 0, divisor = (uint32_t)zero;
    __asm__ volatile("divl %2" : "+a"(lo), "+d"(hi) : "r"(divisor));
}

static void invalid_opcode(void)
{
    __asm__ volatile("ud2");
}

static void kernel_read(void)
{
    (void)*(volatile int *)(uintptr_t)0xffffffff80000000ull;
}

static void noncanonical_read(void)
{
    (void)*(volatile int *)(uintptr_t)0x0000800000000000ull;
}

// Recurses until the stack's guard page stops it.
static int stack_overflow(int depth)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    if (depth == INT32_MAX) // never: 2 TiB of stack
        return 0;
    return stack_overflow(depth + 1) + pad[0];
}

static void overflow(void)
{
    stack_overflow(0);
}

// A port read without NB_SYS_IOPORT_ENABLE: #GP (the COM1 scratch register,
// which utest has just been allowed to use: its permission must not leak).
static void ioport_read(void)
{
    (void)nb_inb(0x3ff);
}

static const struct {
    const char *mode;
    void (*fn)(void);
} modes[] = {
    {"null-read", null_read},     {"null-write", null_write},   {"rodata-write", rodata_write},
    {"exec-data", exec_data},     {"exec-stack", exec_stack},   {"divide", divide_by_zero},
    {"ud2", invalid_opcode},      {"kernel-read", kernel_read}, {"noncanonical", noncanonical_read},
    {"stack-overflow", overflow}, {"ioport", ioport_read},
};

int main(int argc, char **argv)
{
    for (size_t i = 0; argc > 1 && i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (!strcmp(argv[1], modes[i].mode)) {
            modes[i].fn();
            printf("crash: %s did not fault\n", argv[1]);
            return 2;
        }
    }
    printf("usage: crash MODE (null-read, null-write, rodata-write, exec-data, exec-stack,\n"
           "       divide, ud2, kernel-read, noncanonical, stack-overflow, ioport)\n");
    return 1;
}
