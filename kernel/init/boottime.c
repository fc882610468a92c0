// Boot stage timestamps.
#include "arch.h"
#include "init/boottime.h"
#include "lib/fmt.h"
#include "lib/printk.h"
#include "sched/clock.h"

static struct boot_stage stages[BOOT_STAGES_MAX];
static size_t nstages;

void boot_stage_entry(uint64_t tsc)
{
    stages[0] = (struct boot_stage){"entry", tsc};
    nstages = 1;
}

void boot_stage(const char *name)
{
    if (nstages < BOOT_STAGES_MAX)
        stages[nstages++] = (struct boot_stage){name, arch_cycles()};
}

size_t boot_stages(const struct boot_stage **out)
{
    *out = stages;
    return nstages;
}

// Prints one line per unit: microseconds, and raw TSC cycles (which under
// QEMU -icount are instruction counts).
static void print_line(int raw)
{
    char line[320];
    int n = ksnprintf(line, sizeof(line), "boot: stages (%s):", raw ? "tsc" : "us");
    for (size_t i = 0; i < nstages && n < (int)sizeof(line); i++) {
        uint64_t d = stages[i].tsc - stages[0].tsc;
        uint64_t v = raw ? d : clock_cycles_to_ns(d) / 1000;
        n += ksnprintf(line + n, sizeof(line) - (size_t)n, " %s=%llu", stages[i].name,
                       (unsigned long long)v);
    }
    pr_info("%s", line);
}

void boot_stages_print(void)
{
    print_line(0);
    print_line(1);
}
