// FPU and SSE state for user threads: enabled per CPU (user programs built
// with musl use SSE from their first printf), saved and restored with
// FXSAVE/FXRSTOR on every switch between threads that own a state. XSAVE is
// avoided on purpose: the nested KVM of the project's machines cannot
// emulate it (REFERENCE.md); the kernel itself never touches these
// registers (-mgeneral-regs-only).
#include "arch.h"
#include "lib/string.h"
#include "x86.h"

#define CR0_MP         (1u << 1)
#define CR0_EM         (1u << 2)
#define CR0_TS         (1u << 3)
#define CR0_NE         (1u << 5)
#define CR4_OSFXSR     (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define FCW_DEFAULT    0x037f // all x87 exceptions masked, 64-bit precision
#define MXCSR_DEFAULT  0x1f80 // all SSE exceptions masked, round to nearest
#define FXSAVE_MXCSR   24     // byte offset of MXCSR in the FXSAVE image

_Static_assert(sizeof(struct arch_fpu) == 512, "FXSAVE image size");

void arch_fpu_init_cpu(void)
{
    write_cr0((read_cr0() & ~(uint64_t)(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
}

void arch_fpu_init_state(struct arch_fpu *f)
{
    memset(f, 0, sizeof(*f));
    f->bytes[0] = FCW_DEFAULT & 0xff;
    f->bytes[1] = FCW_DEFAULT >> 8;
    uint32_t mxcsr = MXCSR_DEFAULT;
    memcpy(&f->bytes[FXSAVE_MXCSR], &mxcsr, sizeof(mxcsr));
}

void arch_fpu_save(struct arch_fpu *f)
{
    __asm__ volatile("fxsave64 %0" : "=m"(*f));
}

void arch_fpu_restore(const struct arch_fpu *f)
{
    __asm__ volatile("fxrstor64 %0" ::"m"(*f));
}
