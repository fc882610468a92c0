// CPU bring-up: feature detection (boot CPU), and on every CPU its GDT with
// TSS, GS base, IDT, control register protections (NX, WP, SMEP, SMAP, UMIP,
// global pages), PAT and the SYSCALL MSRs.
#include "lib/fmt.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/kstack.h"
#include "lib/panic.h"
#include "x86.h"
#include "x86_cpu.h"

struct x86_features x86_cpu_features;
struct x86_cpu x86_boot_cpu;

static void detect_features(struct x86_features *f)
{
    struct cpuid_regs r = cpuid(0, 0);
    f->max_leaf = r.eax;
    memcpy(f->vendor, &r.ebx, 4);
    memcpy(f->vendor + 4, &r.edx, 4);
    memcpy(f->vendor + 8, &r.ecx, 4);
    f->vendor[12] = 0;
    r = cpuid(CPUID_FEATURES, 0);
    f->pge = r.edx & CPUID_1_EDX_PGE;
    f->pat = r.edx & CPUID_1_EDX_PAT;
    f->x2apic = r.ecx & CPUID_1_ECX_X2APIC;
    f->tsc_deadline = r.ecx & CPUID_1_ECX_TSC_DEADLINE;
    f->hypervisor = r.ecx & CPUID_1_ECX_HYPERVISOR;
    if (f->max_leaf >= CPUID_EXT7) {
        r = cpuid(CPUID_EXT7, 0);
        f->smep = r.ebx & CPUID_7_EBX_SMEP;
        f->smap = r.ebx & CPUID_7_EBX_SMAP;
        f->umip = r.ecx & CPUID_7_ECX_UMIP;
    }
    f->max_ext_leaf = cpuid(CPUID_EXT_MAX, 0).eax;
    if (f->max_ext_leaf >= CPUID_EXT_FEATURES) {
        r = cpuid(CPUID_EXT_FEATURES, 0);
        f->nx = r.edx & CPUID_EXT_EDX_NX;
        f->gbpages = r.edx & CPUID_EXT_EDX_1GB;
    }
}

// ---- Hardware random numbers (the entropy pool's seed) ----

#define CPUID_1_ECX_RDRAND (1u << 30)
#define CPUID_7_EBX_RDSEED (1u << 18)
#define RANDOM_TRIES       16 // both may fail transiently (CF=0): retry a little

static int random_caps = -1; // bit 0 RDRAND, bit 1 RDSEED; -1 not probed yet

static bool rdseed(uint64_t *v)
{
    uint8_t ok;
    __asm__ volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok)::"cc");
    return ok;
}

static bool rdrand(uint64_t *v)
{
    uint8_t ok;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok)::"cc");
    return ok;
}

bool arch_cpu_random(uint64_t *v)
{
    int caps = __atomic_load_n(&random_caps, __ATOMIC_RELAXED);
    if (caps < 0) {
        caps = (cpuid(CPUID_FEATURES, 0).ecx & CPUID_1_ECX_RDRAND) ? 1 : 0;
        if (x86_cpu_features.max_leaf >= CPUID_EXT7 &&
            (cpuid(CPUID_EXT7, 0).ebx & CPUID_7_EBX_RDSEED))
            caps |= 2;
        __atomic_store_n(&random_caps, caps, __ATOMIC_RELAXED);
    }
    for (int i = 0; i < RANDOM_TRIES; i++) {
        if ((caps & 2) && rdseed(v))
            return true;
        if ((caps & 1) && rdrand(v))
            return true;
        if (!caps)
            break;
    }
    return false;
}

// Segment descriptors: flat 64-bit code and data, ring 0 and ring 3.
#define SEG_KCODE64  0x00af9a000000ffffull
#define SEG_KDATA    0x00cf92000000ffffull
#define SEG_UCODE32  0x00cffa000000ffffull
#define SEG_UDATA    0x00cff2000000ffffull
#define SEG_UCODE64  0x00affa000000ffffull
#define SEG_TSS_TYPE 0x89ull // present, 64-bit available TSS

// The TSS descriptor covers the TSS and the I/O bitmap with its end byte.
static void gdt_set_tss(uint64_t *gdt, const struct tss *tss)
{
    uint64_t base = (uint64_t)tss, limit = sizeof(*tss) + IOBITMAP_BYTES + 1 - 1;
    gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (SEG_TSS_TYPE << 40) |
                       ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
    gdt[GDT_TSS / 8 + 1] = base >> 32;
}

static void load_gdt(struct x86_cpu *c)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __packed ptr = {sizeof(c->gdt) - 1, (uint64_t)c->gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movl %2, %%eax\n\t"
                     "movl %%eax, %%ds\n\t"
                     "movl %%eax, %%es\n\t"
                     "movl %%eax, %%ss\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "movl %%eax, %%fs\n\t"
                     "movl %%eax, %%gs\n\t"
                     "ltr %w3"
                     :
                     : "m"(ptr), "i"((uint64_t)GDT_KCODE), "i"(GDT_KDATA), "r"(GDT_TSS)
                     : "rax", "memory");
}

static void enable_protections(const struct x86_features *f)
{
    uint64_t cr4 = read_cr4();
    if (f->pge)
        cr4 |= CR4_PGE;
    if (f->smep)
        cr4 |= CR4_SMEP;
    if (f->smap)
        cr4 |= CR4_SMAP;
    if (f->umip)
        cr4 |= CR4_UMIP;
    write_cr4(cr4);
    write_cr0(read_cr0() | CR0_WP);
    if (f->nx)
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
}

static uint64_t boot_pat; // the boot CPU's PAT, copied to the others

// What every CPU sets up the same way, its own descriptor tables aside.
static void cpu_setup(struct x86_cpu *c)
{
    c->self = c;
    c->gdt[GDT_KCODE / 8] = SEG_KCODE64;
    c->gdt[GDT_KDATA / 8] = SEG_KDATA;
    c->gdt[GDT_UCODE32 / 8] = SEG_UCODE32;
    c->gdt[GDT_UDATA / 8] = SEG_UDATA;
    c->gdt[GDT_UCODE64 / 8] = SEG_UCODE64;
    // The I/O bitmap: all ports denied (user in/out faults) until a process
    // with permissions runs here (ioport.c).
    c->tss.iomap_base = sizeof(struct tss);
    iobitmap_copy_init(&c->iocopy, c->iomap);
    c->iomap[IOBITMAP_BYTES] = 0xff;
    gdt_set_tss(c->gdt, &c->tss);
    load_gdt(c);
    wrmsr(MSR_GS_BASE, (uint64_t)c);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    x86_idt_load();
    enable_protections(&x86_cpu_features);
    x86_syscall_init();
}

void x86_cpu_init(void)
{
    detect_features(&x86_cpu_features);
    if (x86_cpu_features.pat) {
        // PAT entry 1 (PWT alone in a page-table entry; power-on default
        // write-through, which the kernel never uses) becomes write-combining
        // for frame buffers (mmu.c); 0 stays WB, 3 UC. The APs copy it.
        boot_pat = (rdmsr(MSR_PAT) & ~(0xffull << 8)) | ((uint64_t)PAT_WC << 8);
        wrmsr(MSR_PAT, boot_pat);
    }
    x86_idt_init();
    x86_boot_cpu.index = 0;
    cpu_setup(&x86_boot_cpu);
    x86_cpus[0] = &x86_boot_cpu;
}

void x86_cpu_setup_ap(struct x86_cpu *c)
{
    cpu_setup(c);
    if (x86_cpu_features.pat)
        wrmsr(MSR_PAT, boot_pat);
}

// Gives the double-fault, NMI and machine-check handlers their own guarded
// stacks, so a kernel stack overflow is still reported.
status_t x86_cpu_alloc_ist(struct x86_cpu *c)
{
    static const int slots[] = {IST_DOUBLE_FAULT, IST_NMI, IST_MACHINE_CHECK};
    for (unsigned i = 0; i < ARRAY_SIZE(slots); i++) {
        struct kstack ks;
        status_t st = kstack_alloc(&ks);
        if (st != OK)
            return st;
        c->tss.ist[slots[i] - 1] = ks.top;
    }
    return OK;
}

#define PIC1_DATA          0x21
#define PIC2_DATA          0xa1
#define PIC1_CMD           0x20
#define PIC2_CMD           0xa0
#define PIC_ICW1_INIT_ICW4 0x11
#define PIC_ICW4_8086      0x01
#define PIC1_VECTOR        0x20
#define PIC2_VECTOR        0x28

// Moves the legacy 8259 PICs off the exception vectors and masks every line:
// interrupts come through the (IO)APIC.
static void pic_disable(void)
{
    outb(PIC1_CMD, PIC_ICW1_INIT_ICW4);
    outb(PIC2_CMD, PIC_ICW1_INIT_ICW4);
    outb(PIC1_DATA, PIC1_VECTOR);
    outb(PIC2_DATA, PIC2_VECTOR);
    outb(PIC1_DATA, 4); // slave on IRQ2
    outb(PIC2_DATA, 2);
    outb(PIC1_DATA, PIC_ICW4_8086);
    outb(PIC2_DATA, PIC_ICW4_8086);
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
}

void arch_early_init(void)
{
    x86_cpu_init();
    pic_disable();
}

void arch_late_init(void)
{
    if (x86_cpu_alloc_ist(&x86_boot_cpu) != OK)
        panic("cpu: no memory for the IST stacks");
}

void arch_run_on_stack(uint64_t top, void (*fn)(void))
{
    x86_boot_cpu.stack_top = top;
    x86_boot_cpu.stack_base = top - KSTACK_SIZE;
    __asm__ volatile("movq %0, %%rsp\n\t"
                     "xorl %%ebp, %%ebp\n\t"
                     "callq *%1\n\t"
                     "ud2" ::"r"(top),
                     "r"(fn)
                     : "memory");
    __builtin_unreachable();
}

const char *arch_cpu_description(void)
{
    static char desc[160];
    const struct x86_features *f = &x86_cpu_features;
    ksnprintf(desc, sizeof(desc), "%s%s%s%s%s%s%s%s%s", f->vendor, f->nx ? " nx" : "",
              f->smep ? " smep" : "", f->smap ? " smap" : "", f->umip ? " umip" : "",
              f->pge ? " pge" : "", f->gbpages ? " 1g-pages" : "", f->x2apic ? " x2apic" : "",
              f->tsc_deadline ? " tsc-deadline" : "");
    return desc;
}

extern char x86_thread_trampoline[];

void arch_context_init(struct arch_context *ctx, uint64_t stack_top, void (*entry)(void))
{
    // The frame arch_context_switch pops: r15 r14 r13 r12 rbx rbp rflags, ret.
    uint64_t *sp = (uint64_t *)(stack_top - 16); // keep 16-byte alignment at the call
    *--sp = (uint64_t)x86_thread_trampoline;
    *--sp = 0x2;             // RFLAGS: interrupts disabled
    *--sp = 0;               // rbp
    *--sp = 0;               // rbx
    *--sp = (uint64_t)entry; // r12
    *--sp = 0;               // r13
    *--sp = 0;               // r14
    *--sp = 0;               // r15
    ctx->rsp = (uint64_t)sp;
}

unsigned arch_cpu_index(void)
{
    unsigned idx;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(idx) : "i"(offsetof(struct x86_cpu, index)));
    return idx;
}
