// Application processors: every CPU the ACPI MADT lists as enabled is
// started with INIT-SIPI-SIPI into ap_trampoline.S, one at a time, and ends
// up in its idle thread. Indices are handed out in start order, so the
// online CPUs are 0 .. arch_cpu_count() - 1.
#include "dev/acpi.h"
#include "hv/hv.h"
#include "init/boot_info.h"
#include "lib/fmt.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/mmu.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sched/thread.h"
#include "x86.h"
#include "x86_cpu.h"
#include "x86_irq.h"

#define US                1000ull
#define MS                1000000ull
#define INIT_DELAY_NS     (10 * MS)   // after INIT, before the first STARTUP IPI
#define SIPI_DELAY_NS     (200 * US)  // after each STARTUP IPI
#define ONLINE_TIMEOUT_NS (2000 * MS) // first STARTUP IPI to online
#define XAPIC_MAX_ID      0xfe        // 0xff is the broadcast address

// The handshake that decides, once, whether a starting CPU joins.
enum ap_state { AP_STARTING, AP_ONLINE, AP_ABANDONED };

struct x86_cpu *x86_cpus[MAX_CPUS];
uint64_t x86_cpus_online = 1;          // the boot CPU
static uint32_t start_state[MAX_CPUS]; // enum ap_state (atomic)

extern const char x86_ap_trampoline[], x86_ap_trampoline_end[], x86_ap_params[];

struct ap_params {
    uint64_t cr3, efer, stack, entry, cpu;
    uint32_t alive, reserved;
};
_Static_assert(offsetof(struct ap_params, cr3) == AP_PARAM_CR3, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_params, efer) == AP_PARAM_EFER, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_params, stack) == AP_PARAM_STACK, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_params, entry) == AP_PARAM_ENTRY, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_params, cpu) == AP_PARAM_CPU, "ap_trampoline.S layout");
_Static_assert(offsetof(struct ap_params, alive) == AP_PARAM_ALIVE, "ap_trampoline.S layout");
_Static_assert(sizeof(struct ap_params) == AP_PARAM_SIZE, "ap_trampoline.S layout");

// The parameter block inside the copied trampoline, through the direct map.
static volatile struct ap_params *ap_params(void)
{
    char *page = phys_to_virt(AP_TRAMPOLINE_PA);
    return (volatile struct ap_params *)(page +
                                         ((uintptr_t)x86_ap_params - (uintptr_t)x86_ap_trampoline));
}

unsigned arch_cpu_count(void)
{
    uint64_t m = __atomic_load_n(&x86_cpus_online, __ATOMIC_RELAXED);
    unsigned n = 0;
    for (; m; m &= m - 1) // no popcnt: not every CPU (or emulator) has it
        n++;
    return n;
}

bool arch_cpu_online(unsigned cpu)
{
    return cpu < MAX_CPUS && (__atomic_load_n(&x86_cpus_online, __ATOMIC_ACQUIRE) >> cpu & 1);
}

uint32_t arch_cpu_hw_id(unsigned cpu)
{
    return arch_cpu_online(cpu) ? x86_cpus[cpu]->apic_id : UINT32_MAX;
}

static void delay_ns(uint64_t ns)
{
    uint64_t end = clock_monotonic_ns() + ns;
    while (clock_monotonic_ns() < end)
        arch_cpu_relax();
}

// C entry of an application processor, on its idle thread's stack.
static __noreturn void ap_main(struct x86_cpu *c)
{
    x86_cpu_setup_ap(c);
    hv_init_cpu(); // before its first interrupt (PV EOI) and clock reads
    x86_apic_init_ap();
    uint32_t expected = AP_STARTING;
    if (!__atomic_compare_exchange_n(&start_state[c->index], &expected, AP_ONLINE, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        arch_halt(); // too late: the boot CPU gave up on us
    // From here on shootdowns include this CPU; whatever was unmapped
    // before is flushed now.
    __atomic_fetch_or(&x86_cpus_online, 1ull << c->index, __ATOMIC_SEQ_CST);
    x86_tlb_flush_local(arch_mmu_kernel_root(), 0, TLB_FLUSH_ALL);
    sched_start_cpu();
}

// The start-up page must be RAM that nothing else uses (the RSDP may lie
// below 1 MiB) and the kernel root must be reachable from 32-bit mode.
static status_t check_trampoline_page(void)
{
    paddr_t lo = AP_TRAMPOLINE_PA, hi = lo + PAGE_SIZE;
    if (arch_mmu_kernel_root() >> 32 || boot_info.rsdp - lo < PAGE_SIZE)
        return ERR_NOT_SUPPORTED;
    for (size_t i = 0; i < boot_info.nmem; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        if (m->type == BOOT_MEM_RAM && m->base <= lo && m->base + m->size >= hi)
            return OK;
    }
    return ERR_NOT_FOUND;
}

static status_t prepare_trampoline(void)
{
    status_t st = check_trampoline_page();
    if (st != OK)
        return st;
    memcpy(phys_to_virt(AP_TRAMPOLINE_PA), x86_ap_trampoline,
           (size_t)((uintptr_t)x86_ap_trampoline_end - (uintptr_t)x86_ap_trampoline));
    volatile struct ap_params *p = ap_params();
    p->cr3 = arch_mmu_kernel_root();
    p->efer = x86_cpu_features.nx ? EFER_NXE : 0;
    p->entry = (uint64_t)ap_main;
    return x86_mmu_map_trampoline();
}

// What CPU `index` needs before it starts: its struct x86_cpu with IST
// stacks, its run queue and idle thread (on whose stack it starts). Kept
// for the next CPU if this one does not come up.
static status_t prepare_cpu(unsigned index, struct x86_cpu **out, uint64_t *stack)
{
    struct x86_cpu *c = x86_cpus[index];
    if (!c) {
        if (!(c = kzalloc(sizeof(*c))))
            return ERR_NO_MEMORY;
        status_t st = x86_cpu_alloc_ist(c);
        if (st != OK)
            return st; // (boot-time shortage: the stacks stay allocated)
        x86_cpus[index] = c;
    }
    status_t st = sched_prepare_cpu(index, stack);
    if (st != OK)
        return st;
    c->index = index;
    c->stack_top = *stack;
    c->stack_base = *stack - KSTACK_SIZE;
    *out = c;
    return OK;
}

// Gives up on a CPU that did not come online in time, unless it is just
// doing so; an abandoned CPU gets INIT again, which parks it.
static bool abandon_cpu(struct x86_cpu *c)
{
    uint32_t expected = AP_STARTING;
    if (!__atomic_compare_exchange_n(&start_state[c->index], &expected, AP_ABANDONED, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return false;
    x86_apic_send_icr(c->apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
    pr_err("smp: CPU with APIC ID %u did not come online within %llu ms (%s); going on "
           "without it",
           c->apic_id, ONLINE_TIMEOUT_NS / MS,
           ap_params()->alive ? "it ran the start-up code" : "it never ran the start-up code");
    return true;
}

// INIT was sent earlier. STARTUP IPIs (the second only if the first was not
// taken), then wait for the CPU to come online.
static bool start_cpu(struct x86_cpu *c, uint32_t apic_id, uint64_t stack)
{
    volatile struct ap_params *p = ap_params();
    c->apic_id = apic_id;
    p->stack = stack;
    p->cpu = (uint64_t)c;
    p->alive = 0;
    __atomic_store_n(&start_state[c->index], AP_STARTING, __ATOMIC_SEQ_CST);
    uint64_t start = clock_monotonic_ns();
    for (int i = 0; i < 2 && !p->alive; i++) {
        x86_apic_send_icr(apic_id, ICR_STARTUP | (AP_TRAMPOLINE_PA >> PAGE_SHIFT));
        delay_ns(SIPI_DELAY_NS);
    }
    while (__atomic_load_n(&start_state[c->index], __ATOMIC_ACQUIRE) != AP_ONLINE) {
        if (clock_monotonic_ns() - start > ONLINE_TIMEOUT_NS && abandon_cpu(c))
            return false;
        arch_cpu_relax();
    }
    while (!arch_cpu_online(c->index))
        arch_cpu_relax(); // it is between the handshake and the online mask
    return true;
}

// APIC IDs of the CPUs to start: enabled in the MADT, not this one, and
// addressable in the APIC mode in use.
static unsigned find_cpus(uint32_t *ids)
{
    const struct acpi_info *ai = acpi();
    unsigned n = 0;
    if (!ai || !ai->madt.present) {
        pr_info("smp: no ACPI MADT; the boot CPU only");
        return 0;
    }
    for (uint32_t i = 0; i < ai->madt.ncpus && n < MAX_CPUS - 1; i++) {
        const struct acpi_cpu *cpu = &ai->madt.cpus[i];
        if (!cpu->enabled || cpu->apic_id == x86_boot_cpu.apic_id)
            continue;
        if (!x86_apic_x2apic() && cpu->apic_id > XAPIC_MAX_ID) {
            pr_warn("smp: CPU with APIC ID %u needs x2APIC mode; not started", cpu->apic_id);
            continue;
        }
        ids[n++] = cpu->apic_id;
    }
    return n;
}

static void start_all(const uint32_t *ids, unsigned n)
{
    status_t st = prepare_trampoline();
    if (st != OK) {
        pr_warn("smp: cannot use page %#x to start CPUs (%s); the boot CPU only", AP_TRAMPOLINE_PA,
                status_str(st));
        return;
    }
    for (unsigned i = 0; i < n; i++)
        x86_apic_send_icr(ids[i], ICR_INIT | ICR_LEVEL_ASSERT);
    delay_ns(INIT_DELAY_NS); // once for all of them
    unsigned index = 1;
    for (unsigned i = 0; i < n; i++) {
        struct x86_cpu *c;
        uint64_t stack;
        if ((st = prepare_cpu(index, &c, &stack)) != OK) {
            pr_err("smp: no memory to start more CPUs (%s)", status_str(st));
            break;
        }
        if (start_cpu(c, ids[i], stack))
            index++;
    }
    x86_mmu_unmap_trampoline();
}

static void log_online(void)
{
    char ids[MAX_CPUS * 11] = "";
    size_t len = 0;
    unsigned n = arch_cpu_count();
    for (unsigned i = 0; i < n && len < sizeof(ids); i++)
        len += ksnprintf(ids + len, sizeof(ids) - len, "%s%u", i ? " " : "", arch_cpu_hw_id(i));
    pr_info("smp: %u CPU%s online (apic id%s %s)", n, n == 1 ? "" : "s", n == 1 ? "" : "s", ids);
}

void arch_start_cpus(void)
{
    uint32_t ids[MAX_CPUS];
    x86_boot_cpu.apic_id = x86_apic_id();
    x86_ipi_init();
    unsigned n = find_cpus(ids);
    if (n)
        start_all(ids, n);
    log_online();
}
