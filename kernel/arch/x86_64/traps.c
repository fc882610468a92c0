// Exceptions and interrupts: the IDT, the dispatcher, the fault report with a
// symbolized backtrace, and catching faults on purpose (for tests).
#include "init/crash.h"
#include "lib/fmt.h"
#include "lib/klog.h"
#include "lib/ksyms.h"
#include "lib/panic.h"
#include "lib/printk.h"
#include "mm/kstack.h"
#include "mm/mmu.h"
#include "x86.h"
#include "x86_cpu.h"
#include "x86_irq.h"

struct idt_entry {
    uint16_t off_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
} __packed;
_Static_assert(sizeof(struct idt_entry) == 16, "idt_entry layout");

#define IDT_INTERRUPT_GATE 0x8e // present, ring 0, 64-bit interrupt gate
#define TRAP_STUB_SIZE     16
#define VEC_DE             0
#define VEC_NMI            2
#define VEC_DF             8
#define VEC_PF             14
#define VEC_MC             18

struct x86_jmpbuf {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags;
};

struct fault_catch {
    struct x86_jmpbuf jb;
    struct fault_info *info;
};

int x86_catch_setjmp(struct x86_jmpbuf *jb) __attribute__((returns_twice));
__noreturn void x86_catch_longjmp(struct x86_jmpbuf *jb);

extern char x86_trap_stubs[];
static struct idt_entry idt[256] __aligned(16);

static const char *const exception_names[32] = {
    [0] = "#DE divide error",
    [1] = "#DB debug",
    [2] = "NMI",
    [3] = "#BP breakpoint",
    [4] = "#OF overflow",
    [5] = "#BR bound range",
    [6] = "#UD invalid opcode",
    [7] = "#NM device not available",
    [8] = "#DF double fault",
    [10] = "#TS invalid TSS",
    [11] = "#NP segment not present",
    [12] = "#SS stack fault",
    [13] = "#GP general protection",
    [14] = "#PF page fault",
    [16] = "#MF x87 floating point",
    [17] = "#AC alignment check",
    [18] = "#MC machine check",
    [19] = "#XM SIMD floating point",
    [20] = "#VE virtualization",
    [21] = "#CP control protection",
    [28] = "#HV hypervisor injection",
    [29] = "#VC VMM communication",
    [30] = "#SX security",
};

const char *x86_exception_name(unsigned vector)
{
    if (vector < 32 && exception_names[vector])
        return exception_names[vector];
    return vector < 32 ? "reserved exception" : "interrupt";
}

void x86_idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t a = (uint64_t)x86_trap_stubs + v * TRAP_STUB_SIZE;
        idt[v] = (struct idt_entry){
            .off_lo = a & 0xffff,
            .selector = GDT_KCODE,
            .type = IDT_INTERRUPT_GATE,
            .off_mid = (a >> 16) & 0xffff,
            .off_hi = a >> 32,
        };
    }
    idt[VEC_DF].ist = IST_DOUBLE_FAULT;
    idt[VEC_NMI].ist = IST_NMI;
    idt[VEC_MC].ist = IST_MACHINE_CHECK;
}

// Every CPU shares the one IDT; the IST stacks it names are per CPU (TSS).
void x86_idt_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __packed ptr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(ptr));
}

bool arch_call_catching_faults(void (*fn)(void *), void *arg, struct fault_info *info)
{
    struct fault_catch c = {.info = info};
    struct x86_cpu *cpu = x86_this_cpu();
    struct fault_catch *outer = cpu->catch;
    cpu->catch = &c;
    if (x86_catch_setjmp(&c.jb) == 0) {
        fn(arg);
        cpu->catch = outer;
        return true;
    }
    cpu->catch = outer;
    return false;
}

static void describe_pf(uint64_t err, char *buf, size_t n)
{
    ksnprintf(buf, n, "[%s %s %s%s%s]", err & 1 ? "protection" : "not-present",
              err & 2 ? "write" : "read", err & 4 ? "user" : "kernel",
              err & 16 ? " instruction-fetch" : "", err & 8 ? " reserved-bit" : "");
}

static void print_reg_line(const char *a, uint64_t va, const char *b, uint64_t vb, const char *c,
                           uint64_t vc)
{
    pr_emerg("  %-3s %016llx  %-3s %016llx  %-3s %016llx", a, (unsigned long long)va, b,
             (unsigned long long)vb, c, (unsigned long long)vc);
}

static void print_registers(const struct trap_frame *f)
{
    print_reg_line("RAX", f->rax, "RBX", f->rbx, "RCX", f->rcx);
    print_reg_line("RDX", f->rdx, "RSI", f->rsi, "RDI", f->rdi);
    print_reg_line("RBP", f->rbp, "RSP", f->rsp, "R8", f->r8);
    print_reg_line("R9", f->r9, "R10", f->r10, "R11", f->r11);
    print_reg_line("R12", f->r12, "R13", f->r13, "R14", f->r14);
    print_reg_line("R15", f->r15, "CR2", read_cr2(), "CR3", read_cr3());
    print_reg_line("CS", f->cs, "SS", f->ss, "FLG", f->rflags);
    print_reg_line("CR0", read_cr0(), "CR4", read_cr4(), "ERR", f->error);
}

void x86_report_trap(const struct trap_frame *f, const char *why)
{
    char extra[96] = "";
    if (f->vector == VEC_PF)
        describe_pf(f->error, extra, sizeof(extra));
    if (why)
        pr_emerg("%s", why);
    pr_emerg("EXCEPTION: %s (vector %llu) in %s mode on CPU %u, error 0x%llx %s",
             x86_exception_name((unsigned)f->vector), (unsigned long long)f->vector,
             (f->cs & 3) ? "user" : "kernel", arch_cpu_index(), (unsigned long long)f->error,
             extra);
    uint64_t cr2 = read_cr2();
    if (f->vector == VEC_PF)
        pr_emerg("  address 0x%llx%s", (unsigned long long)cr2,
                 kstack_is_guard(cr2) ? " (kernel stack guard page: stack overflow)" : "");
    else if (f->vector == VEC_DF && kstack_is_guard(cr2))
        pr_emerg("  kernel stack overflow: last page fault at 0x%llx in a stack guard page",
                 (unsigned long long)cr2);
    char sym[128];
    ksym_format(f->rip, sym, sizeof(sym));
    pr_emerg("  RIP %016llx %s", (unsigned long long)f->rip, sym);
    print_registers(f);
    x86_backtrace(f->rip, f->rbp);
}

// True if the 16 bytes of a frame record at fp can be read safely.
static bool frame_readable(uint64_t fp)
{
    paddr_t pa;
    if (fp & 7 || fp < DIRECT_MAP_BASE)
        return false;
    return arch_mmu_query(arch_mmu_kernel_root(), ALIGN_DOWN(fp, PAGE_SIZE), &pa, NULL) == OK &&
           arch_mmu_query(arch_mmu_kernel_root(), ALIGN_DOWN(fp + 15, PAGE_SIZE), &pa, NULL) == OK;
}

void x86_backtrace(uint64_t rip, uint64_t rbp)
{
    char sym[128];
    uint64_t last = 0, repeats = 0;
    pr_emerg("Backtrace:");
    ksym_format(rip, sym, sizeof(sym));
    pr_emerg("  [<%016llx>] %s", (unsigned long long)rip, sym);
    for (int depth = 0; depth < 64 && rbp && frame_readable(rbp); depth++) {
        const uint64_t *fp = (const uint64_t *)rbp;
        uint64_t ret = fp[1];
        if (ret < KERNEL_VMA)
            break;
        if (ret == last) { // deep recursion: say how deep, not every frame
            repeats++;
        } else {
            if (repeats)
                pr_emerg("  ... the frame above %llu more times", (unsigned long long)repeats);
            repeats = 0;
            ksym_format(ret - 1, sym, sizeof(sym)); // inside the call, not after it
            pr_emerg("  [<%016llx>] %s", (unsigned long long)ret, sym);
        }
        last = ret;
        if (fp[0] <= rbp)
            break; // frames must go up the stack
        rbp = fp[0];
    }
    if (repeats)
        pr_emerg("  ... the frame above %llu more times", (unsigned long long)repeats);
}

void arch_dump_stack(void)
{
    struct trap_frame f = {0};
    __asm__ volatile("movq %%rbx, %0\n\tmovq %%r12, %1\n\tmovq %%r13, %2\n\t"
                     "movq %%r14, %3\n\tmovq %%r15, %4\n\tmovq %%rsp, %5"
                     : "=m"(f.rbx), "=m"(f.r12), "=m"(f.r13), "=m"(f.r14), "=m"(f.r15),
                       "=m"(f.rsp));
    f.rbp = (uint64_t)__builtin_frame_address(0);
    f.rip = (uint64_t)__builtin_return_address(0);
    f.rflags = read_rflags();
    __asm__ volatile("movq %%cs, %0\n\tmovq %%ss, %1" : "=r"(f.cs), "=r"(f.ss));
    char sym[128];
    ksym_format(f.rip, sym, sizeof(sym));
    pr_emerg("  called from %016llx %s", (unsigned long long)f.rip, sym);
    print_registers(&f);
    x86_backtrace(f.rip, ((const uint64_t *)f.rbp)[0]);
}

// Resumes a test that took this fault on purpose.
static void deliver_to_catch(struct x86_cpu *cpu, const struct trap_frame *f)
{
    struct fault_catch *c = cpu->catch;
    cpu->catch = NULL;
    *c->info = (struct fault_info){
        .vector = (int)f->vector,
        .name = x86_exception_name((unsigned)f->vector),
        .error = f->error,
        .addr = f->vector == VEC_PF ? read_cr2() : 0,
        .ip = f->rip,
    };
    x86_catch_longjmp(&c->jb);
}

void x86_trap_dispatch(struct trap_frame *f)
{
    struct x86_cpu *cpu = x86_this_cpu();
    if (f->vector < 32 && (f->cs & 3)) {
        x86_user_fault(f); // returns only when the fault was served
        x86_user_return(f);
        return;
    }
    if (f->vector < 32 && x86_kernel_user_fault(f))
        return;
    if (f->vector < 32) {
        bool catchable = f->vector != VEC_DF && f->vector != VEC_NMI && f->vector != VEC_MC;
        if (cpu->catch && catchable && !(f->cs & 3))
            deliver_to_catch(cpu, f);
        printk_panic_begin();
        x86_report_trap(f, NULL);
        crash_stop();
    }
    x86_irq_dispatch((unsigned)f->vector);
    if (f->cs & 3)
        x86_user_return(f);
}
