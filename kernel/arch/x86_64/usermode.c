// User mode on x86_64: SYSCALL set-up, the C side of system call entry, user
// faults, thread switch hooks and user memory copies.
#include "lib/printk.h"
#include "mm/kstack.h"
#include "mm/mmu.h"
#include "mm/vm.h"
#include "nimbus/process.h"
#include "sys/user.h"
#include "sys/usercopy.h"
#include "x86.h"
#include "x86_cpu.h"

#define MSR_STAR   0xc0000081
#define MSR_LSTAR  0xc0000082
#define MSR_SFMASK 0xc0000084
// Flags cleared on SYSCALL: IF (no interrupts until the stack is ours), TF,
// DF, AC, NT.
#define SYSCALL_FLAGS_MASK 0x47700
#define VEC_DE             0
#define VEC_UD             6
#define VEC_SS             12
#define VEC_GP             13
#define VEC_PF             14
#define PF_WRITE           2u
#define PF_FETCH           16u
// The flags user mode may set: CF, PF, AF, ZF, SF, DF, OF (bit 1 always reads 1).
#define RFLAGS_USER   0xcd5
#define RFLAGS_FIXED1 0x2

extern char x86_syscall_entry[];
extern char x86_user_copy_insn[], x86_user_copy_tail_insn[], x86_user_copy_fault[];
int x86_user_copy(void *dst, const void *src, size_t n);
__noreturn void x86_enter_user_frame(struct trap_frame *f);

void x86_syscall_init(void)
{
    wrmsr(MSR_STAR, ((uint64_t)GDT_UCODE32 << 48) | ((uint64_t)GDT_KCODE << 32));
    wrmsr(MSR_LSTAR, (uint64_t)x86_syscall_entry);
    wrmsr(MSR_SFMASK, SYSCALL_FLAGS_MASK);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    arch_fpu_init_cpu();
}

void arch_prepare_switch(uint64_t kstack_top, paddr_t root, uint64_t fs_base)
{
    struct x86_cpu *c = x86_this_cpu();
    if (kstack_top) {
        c->tss.rsp[0] = kstack_top;
        c->kernel_rsp = kstack_top;
        c->stack_top = kstack_top;
        c->stack_base = kstack_top - KSTACK_SIZE;
    }
    arch_mmu_activate(root ? root : arch_mmu_kernel_root()); // tracks which CPUs use root
    wrmsr(MSR_FS_BASE, fs_base);
}

uint64_t arch_read_fs_base(void)
{
    return rdmsr(MSR_FS_BASE);
}

void x86_syscall(struct trap_frame *f)
{
    const uint64_t args[6] = {f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9};
    f->rax = (uint64_t)sys_dispatch(f->rax, args);
}

__noreturn void arch_enter_user_frame(const struct user_regs *r)
{
    struct trap_frame f = {
        .r15 = r->r15,
        .r14 = r->r14,
        .r13 = r->r13,
        .r12 = r->r12,
        .r11 = r->r11,
        .r10 = r->r10,
        .r9 = r->r9,
        .r8 = r->r8,
        .rbp = r->rbp,
        .rdi = r->rdi,
        .rsi = r->rsi,
        .rdx = r->rdx,
        .rcx = r->rcx,
        .rbx = r->rbx,
        .rax = r->rax,
        .rip = r->rip,
        .cs = GDT_UCODE64 | 3,
        .rsp = r->rsp,
        .ss = GDT_UDATA | 3,
        .rflags = (r->rflags & RFLAGS_USER) | RFLAGS_IF | RFLAGS_FIXED1,
    };
    x86_enter_user_frame(&f);
}

// A system call's frame sits at the top of the thread's kernel stack, where
// x86_syscall_entry built it.
static const struct trap_frame *syscall_frame(void)
{
    return (const struct trap_frame *)x86_this_cpu()->kernel_rsp - 1;
}

void arch_user_regs_current(struct user_regs *out)
{
    const struct trap_frame *f = syscall_frame();
    *out = (struct user_regs){
        .rax = f->rax,
        .rbx = f->rbx,
        .rcx = f->rcx,
        .rdx = f->rdx,
        .rsi = f->rsi,
        .rdi = f->rdi,
        .rbp = f->rbp,
        .rsp = f->rsp,
        .r8 = f->r8,
        .r9 = f->r9,
        .r10 = f->r10,
        .r11 = f->r11,
        .r12 = f->r12,
        .r13 = f->r13,
        .r14 = f->r14,
        .r15 = f->r15,
        .rip = f->rip,
        .rflags = f->rflags,
    };
}

void x86_user_return(struct trap_frame *f)
{
    user_return();
}

static unsigned pf_access(uint64_t err)
{
    return err & PF_FETCH ? VM_EXEC : err & PF_WRITE ? VM_WRITE : VM_READ;
}

// The exit code a shell shows for a process ended by this fault.
static int fault_exit_code(unsigned vector)
{
    switch (vector) {
    case VEC_DE:
        return NB_EXIT_FAULT_FPE;
    case VEC_UD:
        return NB_EXIT_FAULT_ILL;
    case VEC_PF:
    case VEC_GP:
    case VEC_SS:
        return NB_EXIT_FAULT_SEGV;
    default:
        return NB_EXIT_FAULT_BUS;
    }
}

void x86_user_fault(struct trap_frame *f)
{
    unsigned v = (unsigned)f->vector;
    if (f->rip == (uint64_t)x86_syscall_entry) {
        // Seen under nested, software-assisted KVM: SYSCALL "jumps" to the
        // entry point without leaving ring 3.
        user_fault_kill("SYSCALL did not enter the kernel (this hypervisor cannot run user "
                        "mode)",
                        NB_EXIT_FAULT_SEGV, USER_FAULT_NO_ADDR, f->rip);
    }
    if (v == VEC_PF) {
        uint64_t cr2 = read_cr2();
        status_t st = user_page_fault(cr2, pf_access(f->error));
        if (st == OK)
            return;
        if (st == ERR_NO_MEMORY) // a valid access the kernel had no page for
            user_fault_kill("out of memory (no page for a page fault)", NB_EXIT_KILLED, cr2,
                            f->rip);
        user_fault_kill(x86_exception_name(v), fault_exit_code(v), cr2, f->rip);
    }
    user_fault_kill(x86_exception_name(v), fault_exit_code(v), USER_FAULT_NO_ADDR, f->rip);
}

// A page fault in kernel mode on a user address: serve it, or make the user
// copy in progress fail. Returns true when handled.
bool x86_kernel_user_fault(struct trap_frame *f)
{
    // Only the user-copy routine touches user memory on purpose; any other
    // kernel fault on a low address is a kernel bug and must be reported,
    // not served (or it recurses when there is no process yet).
    uint64_t cr2 = read_cr2();
    if (f->vector != VEC_PF || cr2 >= USER_TOP ||
        (f->rip != (uint64_t)x86_user_copy_insn && f->rip != (uint64_t)x86_user_copy_tail_insn))
        return false;
    if (user_page_fault(cr2, pf_access(f->error)) != OK)
        f->rip = (uint64_t)x86_user_copy_fault;
    return true;
}

static int copy_guarded(void *dst, const void *src, size_t n)
{
    bool smap = x86_cpu_features.smap;
    if (smap)
        __asm__ volatile("stac" ::: "memory");
    int r = x86_user_copy(dst, src, n);
    if (smap)
        __asm__ volatile("clac" ::: "memory");
    return r;
}

status_t copy_from_user(void *dst, uintptr_t src, size_t n)
{
    if (!n)
        return OK;
    if (!user_range_ok(src, n))
        return ERR_INVALID_ARGS;
    return copy_guarded(dst, (const void *)src, n) ? ERR_INVALID_ARGS : OK;
}

status_t copy_to_user(uintptr_t dst, const void *src, size_t n)
{
    if (!n)
        return OK;
    if (!user_range_ok(dst, n))
        return ERR_INVALID_ARGS;
    return copy_guarded((void *)dst, src, n) ? ERR_INVALID_ARGS : OK;
}

status_t copy_string_from_user(char *dst, uintptr_t src, size_t cap, size_t *len)
{
    for (size_t i = 0; i < cap; i++) {
        status_t st = copy_from_user(&dst[i], src + i, 1);
        if (st != OK)
            return st;
        if (dst[i] == 0) {
            if (len)
                *len = i;
            return OK;
        }
    }
    if (cap)
        dst[cap - 1] = 0;
    return ERR_OUT_OF_RANGE;
}
