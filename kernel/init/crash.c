// Fatal-error policy and deliberate faults (`crash=KIND`) for testing the
// exception reports end to end.
#include <stdbool.h>

#include "arch.h"
#include "init/cmdline.h"
#include "init/crash.h"
#include "lib/klog.h"
#include "lib/panic.h"
#include "lib/printk.h"
#include "lib/fmt.h"
#include "lib/string.h"

#define EXIT_CODE_PANIC 0x12 // QEMU exits with (0x12 << 1) | 1 = 37

static bool exit_on_panic;
static char crash_kind[16];

static status_t set_panic(const char *val, size_t len, bool has_val)
{
    if (!has_val || len != 4 || strncmp(val, "exit", 4) != 0) {
        if (has_val && len == 4 && strncmp(val, "halt", 4) == 0) {
            exit_on_panic = false;
            return OK;
        }
        return ERR_INVALID_ARGS;
    }
    exit_on_panic = true;
    return OK;
}
CMDLINE_PARAM(panic_param, "panic", set_panic, "exit|halt: what a fatal error does (default halt)");

static status_t set_crash(const char *val, size_t len, bool has_val)
{
    if (!has_val || len == 0 || len >= sizeof(crash_kind))
        return ERR_INVALID_ARGS;
    memcpy(crash_kind, val, len);
    crash_kind[len] = 0;
    return OK;
}
CMDLINE_PARAM(crash_param, "crash", set_crash,
              "pf|ud|de|gp|nx|rodata|stack|panic: fault on purpose");

void crash_stop(void)
{
    if (exit_on_panic) {
        pr_emerg("nimbus: fatal error, exiting (panic=exit)");
        arch_vm_exit(EXIT_CODE_PANIC);
    }
    pr_emerg("nimbus: fatal error, halted");
    arch_halt();
}

void panic(const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    printk_panic_begin();
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pr_emerg("PANIC: %s", msg);
    arch_dump_stack();
    crash_stop();
}

static const char crash_rodata[8] = "ro";
static volatile uint64_t crash_sink;
static unsigned char crash_data[16] = {0xc3}; // a `ret`, in non-executable data

// Recurses until the stack runs into its guard page.
static volatile int crash_depth_limit = 1 << 30;
static int __attribute__((noinline)) crash_recurse(int depth)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    if (depth < crash_depth_limit)
        return crash_recurse(depth + 1) + pad[0];
    return pad[0];
}

void crash_requested(void)
{
    if (!crash_kind[0])
        return;
    pr_warn("crash: taking a '%s' fault on purpose", crash_kind);
    volatile uint64_t zero = 0;
    if (!strcmp(crash_kind, "pf"))
        (void)*(volatile int *)(uintptr_t)(zero + 8);
    else if (!strcmp(crash_kind, "ud"))
        __builtin_trap();
    else if (!strcmp(crash_kind, "de"))
        crash_sink = 100 / zero; // stored, so the division cannot be dropped
    else if (!strcmp(crash_kind, "gp"))
        (void)*(volatile int *)(uintptr_t)(zero + 0x8000000000000000ull);
    else if (!strcmp(crash_kind, "nx"))
        ((void (*)(void))(uintptr_t)crash_data)();
    else if (!strcmp(crash_kind, "rodata"))
        *(volatile char *)(uintptr_t)crash_rodata = 'x';
    else if (!strcmp(crash_kind, "stack"))
        crash_recurse(0);
    else if (!strcmp(crash_kind, "panic"))
        panic("crash=panic asked for a panic");
    pr_err("crash: unknown kind '%s' (pf, ud, de, gp, nx, rodata, stack, panic)", crash_kind);
}
