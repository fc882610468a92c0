// What the architecture calls when user mode enters the kernel.
#pragma once

#include <stdint.h>

#include "lib/compiler.h"
#include "nimbus/status.h"

// A system call: number and six arguments; returns the value for rax.
int64_t sys_dispatch(uint64_t nr, const uint64_t args[6]);

// A page fault on a user address (from user mode or a user copy): serves it
// from the current process's address space. `access` is VM_READ, VM_WRITE
// or VM_EXEC.
status_t user_page_fault(uintptr_t addr, unsigned access);

// Ends the current process after a fault it cannot survive, with a one-line
// report: name, id, fault, address (USER_FAULT_NO_ADDR when the fault has
// none), instruction pointer.
#define USER_FAULT_NO_ADDR UINTPTR_MAX
__noreturn void user_fault_kill(const char *fault, int exit_code, uintptr_t addr, uintptr_t ip);

// Runs on every return to user mode: acts on kills and pending reschedules.
void user_return(void);

// What the architecture tells a new program: the AT_HWCAP bits (on x86_64
// CPUID.1:EDX, as Linux reports it) and 64 bits of seed for AT_RANDOM (RDRAND
// when the CPU has it, else TSC jitter; the entropy pool comes with
// virtio-rng).
uint64_t arch_user_hwcap(void);
uint64_t arch_random_seed(void);
