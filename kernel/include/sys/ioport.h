// I/O port permissions of processes (NB_SYS_IOPORT_ENABLE): a bitmap per
// process, made on first use and freed with the process, loaded into a CPU's
// TSS when one of its threads is switched in (arch_ioport_load).
#pragma once

#include <stdint.h>

#include "nimbus/status.h"

struct process;

// Lets p (the calling thread's process) use ports [base, base + count).
// Takes effect at once for the caller and, through an interprocessor call,
// for p's threads running on other CPUs. ERR_INVALID_ARGS for count 0,
// ERR_OUT_OF_RANGE past port 0xffff, ERR_NO_MEMORY.
status_t ioport_enable(struct process *p, uint64_t base, uint64_t count);

// Frees p's bitmap (process teardown).
void ioport_release(struct process *p);

// Context-switch hook: `owner` (struct uthread) is the user thread about
// to run on this CPU. Interrupts off, run-queue lock held.
void user_switch_in(void *owner);
