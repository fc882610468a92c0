// Boot stage timestamps (TSC), printed as one line and kept for `boottime`
// and the benchmarks.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BOOT_STAGES_MAX 16

struct boot_stage {
    const char *name;
    uint64_t tsc;
};

// Records that stage `name` (a static string) is reached now.
void boot_stage(const char *name);
// Records stage 0 ("entry") with the TSC read at the PVH entry.
void boot_stage_entry(uint64_t tsc);
// The stages so far; returns how many.
size_t boot_stages(const struct boot_stage **out);
// Prints "boot: stages (us): entry=0 console=12 ..." at LOG_INFO.
void boot_stages_print(void);
