// The boot sequence: from the PVH entry to a running kernel.
#include "arch.h"
#include "dev/acpi.h"
#include "dev/console.h"
#include "dev/power.h"
#include "dev/rtc.h"
#include "dev/uart.h"
#include "hv/hv.h"
#include "hv/xen.h"
#include "init/boot_info.h"
#include "init/boottime.h"
#include "init/cmdline.h"
#include "init/crash.h"
#include "init/memfloor.h"
#include "lib/kbench.h"
#include "lib/klog.h"
#include "lib/ktest.h"
#include "lib/panic.h"
#include "lib/parse.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/allocfail.h"
#include "mm/kstack.h"
#include "mm/mmu.h"
#include "mm/pmm.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sched/clockcheck.h"
#include "sys/init_launch.h"
#include "sys/process.h"
#include "sched/thread.h"
#include "sched/timer.h"

#define EXIT_CODE_PASS 0x10 // QEMU exits with 33
#define EXIT_CODE_FAIL 0x11 // QEMU exits with 35

struct boot_info boot_info;

extern char __kernel_phys_start[], __kernel_phys_end[];

static bool ktest_mode;
static char ktest_filter[256];

static status_t set_ktest(const char *val, size_t len, bool has_val)
{
    if (len >= sizeof(ktest_filter))
        return ERR_OUT_OF_RANGE;
    ktest_mode = true;
    memcpy(ktest_filter, val, len);
    ktest_filter[len] = 0;
    return OK;
}
CMDLINE_PARAM(ktest_param, "ktest", set_ktest, "run the in-kernel tests (ktest=a,b: those suites)");

static bool kbench_mode;
static char kbench_filter[256];

static status_t set_kbench(const char *val, size_t len, bool has_val)
{
    if (len >= sizeof(kbench_filter))
        return ERR_OUT_OF_RANGE;
    kbench_mode = true;
    memcpy(kbench_filter, val, len);
    kbench_filter[len] = 0;
    return OK;
}
CMDLINE_PARAM(kbench_param, "kbench", set_kbench,
              "run the in-kernel benchmarks (kbench=a,b: those)");

static status_t set_loglevel(const char *val, size_t len, bool has_val)
{
    uint64_t v;
    status_t st = parse_u64(val, len, false, &v);
    if (st != OK || v > LOG_DEBUG)
        return st != OK ? st : ERR_OUT_OF_RANGE;
    klog_set_console_level((int)v);
    return OK;
}
CMDLINE_PARAM(loglevel_param, "loglevel", set_loglevel, "0-7: console log level (default 6)");

static status_t set_quiet(const char *val, size_t len, bool has_val)
{
    klog_set_console_level(LOG_WARNING);
    return has_val ? ERR_INVALID_ARGS : OK;
}
CMDLINE_PARAM(quiet_param, "quiet", set_quiet, "only warnings and errors on the console");

static bool want_poweroff, want_reboot;

static status_t set_poweroff(const char *val, size_t len, bool has_val)
{
    want_poweroff = true;
    return has_val ? ERR_INVALID_ARGS : OK;
}
CMDLINE_PARAM(poweroff_param, "poweroff", set_poweroff, "power off once booted");

static status_t set_reboot(const char *val, size_t len, bool has_val)
{
    want_reboot = true;
    return has_val ? ERR_INVALID_ARGS : OK;
}
CMDLINE_PARAM(reboot_param, "reboot", set_reboot, "reboot once booted");

// Consumed in user space by the device manager; accepted here.
static status_t accept_virtio_mmio(const char *val, size_t len, bool has_val)
{
    return has_val ? OK : ERR_INVALID_ARGS;
}
CMDLINE_PARAM(virtio_mmio_param, "virtio_mmio.device", accept_virtio_mmio,
              "size@base:irq of a virtio-mmio device (QEMU adds these)");

// Before mmu_init the boot page tables map the first 4 GiB at DIRECT_MAP_BASE.
static const void *read_phys_early(paddr_t pa, size_t len, void *ctx)
{
    if (pa == 0 || pa + len < pa || pa + len > (4ull << 30))
        return NULL;
    return phys_to_virt(pa);
}

static const char *mem_type_name(uint32_t type)
{
    static const char *const names[] = {"?",        "RAM",      "reserved", "ACPI",
                                        "ACPI NVS", "unusable", "disabled", "persistent"};
    return type < ARRAY_SIZE(names) ? names[type] : "?";
}

static void print_memory_map(void)
{
    for (size_t i = 0; i < boot_info.nmem; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        pr_info("  mem [0x%012llx-0x%012llx] %s", (unsigned long long)m->base,
                (unsigned long long)(m->base + m->size - 1), mem_type_name(m->type));
    }
}

// Below the floor (init/memfloor.h) the kernel says so in one line and stops
// instead of failing somewhere later. The entry code already stopped when
// the initrd lies on the kernel image (QEMU puts it at the top of RAM).
#define MIN_MEMORY_MIB NIMBUS_MIN_MEMORY_MIB

static uint64_t ram_mib; // the guest's RAM size as QEMU's -m gave it, about

static __noreturn void not_enough_memory(const char *why)
{
    pr_emerg("nimbus: not enough memory: %llu MiB usable, need at least %u MiB (%s)",
             (unsigned long long)ram_mib, MIN_MEMORY_MIB, why);
    crash_stop();
}

// Checks before anything is allocated (the symbol table, the bss and the
// initrd may already overlap, so nothing here may rely on them).
static void check_memory_floor(void)
{
    uint64_t top = 0;
    for (size_t i = 0; i < boot_info.nmem; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        if (m->type == BOOT_MEM_RAM && m->base + m->size > top)
            top = m->base + m->size;
    }
    ram_mib = (top + (1ull << 20) - 1) >> 20; // a guest of N MiB ends a little below N
    paddr_t kstart = (paddr_t)__kernel_phys_start, kend = (paddr_t)__kernel_phys_end;
    if (boot_info.initrd_size && boot_info.initrd_base < kend &&
        boot_info.initrd_base + boot_info.initrd_size > kstart)
        not_enough_memory("the initrd overlaps the kernel image");
    if (ram_mib < MIN_MEMORY_MIB)
        not_enough_memory("below the floor");
}

static void mm_init(void)
{
    struct mem_range ram[BOOT_MAX_MEM], reserved[3];
    size_t nram = 0, nres = 0;
    for (size_t i = 0; i < boot_info.nmem; i++)
        if (boot_info.mem[i].type == BOOT_MEM_RAM)
            ram[nram++] = (struct mem_range){boot_info.mem[i].base, boot_info.mem[i].size};
    // The first MiB (real-mode leftovers, RSDP, boot structures), the kernel
    // image and the initrd are never handed out.
    reserved[nres++] = (struct mem_range){0, 1ull << 20};
    reserved[nres++] =
        (struct mem_range){(paddr_t)__kernel_phys_start, (paddr_t)((uintptr_t)__kernel_phys_end -
                                                                   (uintptr_t)__kernel_phys_start)};
    if (boot_info.initrd_size)
        reserved[nres++] = (struct mem_range){boot_info.initrd_base, boot_info.initrd_size};
    status_t st = pmm_init(ram, nram, reserved, nres);
    if (st == ERR_NO_MEMORY) // no page left for the allocator's own metadata
        not_enough_memory("no room for the page metadata");
    if (st != OK)
        panic("mm: cannot manage memory: %s", status_str(st));
    if ((st = arch_mmu_init()) != OK)
        panic("mm: cannot build the kernel page tables: %s", status_str(st));
    if ((st = slab_init()) != OK)
        panic("mm: cannot start the slab allocator: %s", status_str(st));
}

static void print_memory_summary(void)
{
    struct pmm_stats s;
    pmm_get_stats(&s);
    pr_info("mm: RAM %llu MiB, free %llu MiB (low %llu MiB, high %llu MiB), reserved %llu KiB",
            (unsigned long long)(s.total_pages >> 8), (unsigned long long)(s.free_pages >> 8),
            (unsigned long long)(s.low_free_pages >> 8),
            (unsigned long long)(s.high_free_pages >> 8),
            (unsigned long long)(s.reserved_pages * 4));
}

// Test aid: allocfail=N makes every allocation from the Nth one after the
// kernel starts init fail (mm/allocfail.h), as if memory ran out then;
// allocfail=N,once fails only the Nth. See docs/BOOT.md "Memory floor".
static uint64_t boot_allocfail_nth;
static unsigned boot_allocfail_flags = ALLOCFAIL_STICKY | ALLOCFAIL_ANY_THREAD;

static status_t set_allocfail(const char *val, size_t len, bool has_val)
{
    size_t n = 0;
    while (n < len && val[n] != ',')
        n++;
    status_t st = parse_u64(val, n, false, &boot_allocfail_nth);
    if (st != OK || boot_allocfail_nth == 0)
        return st != OK ? st : ERR_INVALID_ARGS;
    if (n < len) {
        if (len - n - 1 != 4 || strncmp(val + n + 1, "once", 4) != 0)
            return ERR_INVALID_ARGS;
        boot_allocfail_flags = ALLOCFAIL_ANY_THREAD;
    }
    return OK;
}
CMDLINE_PARAM(allocfail_param, "allocfail", set_allocfail,
              "N[,once]: from init's start, the Nth allocation fails (and all later ones)");

static bool no_init;

static status_t set_noinit(const char *val, size_t len, bool has_val)
{
    no_init = true;
    return has_val ? ERR_INVALID_ARGS : OK;
}
CMDLINE_PARAM(noinit_param, "noinit", set_noinit, "do not start /init");

// Starts the first user program and watches it: init is not supposed to
// end. When it cannot start or ends, the kernel says how and stops the
// machine as after a fatal error (crash_stop: panic=exit ends QEMU, else
// it halts): nothing is left to run, and a VMM should see the guest end
// rather than idle forever.
static void run_init(void)
{
    struct process *init;
    if (no_init)
        return;
    if (!user_mode_works()) {
        pr_err("nimbus: not starting init: this hypervisor cannot run user mode");
        return;
    }
    if (boot_allocfail_nth)
        allocfail_arm(boot_allocfail_nth, boot_allocfail_flags);
    status_t st = init_launch(&init);
    if (st != OK) {
        pr_err("nimbus: cannot start init: %s", status_str(st));
        crash_stop();
    }
    process_wait(init, DEADLINE_INFINITE);
    struct nb_process_info info;
    process_info(init, &info);
    pr_err("nimbus: init ended (exit code %lld%s)", (long long)info.exit_code,
           info.flags & NB_PROCESS_FAULTED ? ", faulted" : "");
    obj_unref(&init->obj);
    crash_stop();
}

// Runs the in-kernel suites and ends QEMU with the verdict.
static __noreturn void run_ktest(void)
{
    int failed = ktest_run(ktest_filter);
    pr_info("nimbus: ktest done: %d passed, %d failed, %d skipped", ktest_totals.passed,
            ktest_totals.failed, ktest_totals.skipped);
    arch_vm_exit(failed ? EXIT_CODE_FAIL : EXIT_CODE_PASS);
    pr_info("nimbus: no exit device; halting");
    arch_halt();
}

// The rest of the boot, on a kernel stack with a guard page.
static __noreturn void kmain_guarded(void)
{
    boot_stage("memory");
    print_memory_summary();
    acpi_init(); // ERR_NOT_FOUND: the VMM gave no ACPI tables (already reported)
    arch_irq_init_controllers();
    hv_init_late(); // kvmclock, steal time, PV EOI, PV IPIs (needs the memory manager)
    hv_print_report();
    rtc_init(); // the wall clock from the CMOS RTC, unless the hypervisor gave one
    if (ktimer_init_hw() != OK)
        panic("timer: cannot run without a one-shot timer");
    sched_init();
    // COM1 input by interrupt; its handler wakes threads, so after sched_init.
    console_input_init();
    arch_irq_enable(); // the boot thread is a thread like any other from here on
    boot_stage("sched");
    arch_start_cpus();
    boot_stage("smp");
    if (ktest_mode)
        run_ktest();
    if (kbench_mode) {
        kbench_run(kbench_filter);
        arch_vm_exit(EXIT_CODE_PASS);
    }
    crash_requested();
    boot_stage("ready");
    boot_stages_print();
    if (want_poweroff)
        power_off();
    if (want_reboot)
        power_reboot();
    pr_info("nimbus: ready. Press Ctrl-A X to leave QEMU.");
    clockcheck_run();
    run_init();
    for (;;)
        thread_sleep_ns(3600ull * 1000000000ull);
}

void kmain(paddr_t start_info, uint64_t entry_tsc);
void kmain(paddr_t start_info, uint64_t entry_tsc)
{
    boot_stage_entry(entry_tsc);
    uart_init();
    arch_early_init();
    clock_init_early(entry_tsc);
    hv_init();
    boot_stage("console");

    const char *why = NULL;
    start_info = xen_pvh_start_info(start_info); // Xen's PVH dom0: memory map by hypercall
    if (boot_info_from_pvh(&boot_info, start_info, read_phys_early, NULL, &why) != OK) {
        pr_emerg("boot: cannot use the boot information at %#llx: %s",
                 (unsigned long long)start_info, why ? why : "unknown error");
        pr_emerg("nimbus: halted");
        arch_halt();
    }
    pr_info("Nimbus booting (%s), TSC %llu kHz (%s)", boot_info.protocol,
            (unsigned long long)(clock_tsc_hz() / 1000), clock_tsc_source());
    pr_info("cpu: %s", arch_cpu_description());
    pr_info("cmdline: %s", boot_info.cmdline);
    cmdline_apply(boot_info.cmdline);
    print_memory_map();
    if (boot_info.initrd_size)
        pr_info("initrd: %llu bytes at %#llx", (unsigned long long)boot_info.initrd_size,
                (unsigned long long)boot_info.initrd_base);
    boot_stage("cpu");

    check_memory_floor();
    mm_init();
    arch_late_init();
    struct kstack ks;
    if (kstack_alloc(&ks) != OK)
        panic("mm: no memory for the boot stack");
    arch_run_on_stack(ks.top, kmain_guarded);
}
