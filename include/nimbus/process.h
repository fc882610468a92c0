// Processes as user space sees them.
#pragma once

#include <stdint.h>

#define NB_PROCESS_NAME_MAX 32

#define NB_PROCESS_NEW     0 // created, not started
#define NB_PROCESS_RUNNING 1
#define NB_PROCESS_DEAD    2 // TERMINATED is asserted; exit_code is final

#define NB_PROCESS_KILLED  (1u << 0) // ended by task_kill
#define NB_PROCESS_FAULTED (1u << 1) // ended by a CPU fault it could not survive

// Exit codes of processes ended by a fault, as a Linux shell would report
// them (128 + signal number).
#define NB_EXIT_FAULT_SEGV 139 // page fault, general protection
#define NB_EXIT_FAULT_FPE  136 // divide error
#define NB_EXIT_FAULT_ILL  132 // invalid opcode
#define NB_EXIT_FAULT_BUS  135 // other faults
#define NB_EXIT_KILLED     137 // task_kill

struct nb_process_info {
    uint64_t pid;
    int64_t exit_code;
    uint32_t state; // NB_PROCESS_*
    uint32_t flags; // NB_PROCESS_KILLED, NB_PROCESS_FAULTED
    uint32_t threads;
    uint32_t handles;
    uint64_t cpu_ns;       // CPU time of its threads so far
    uint64_t mapped_bytes; // user memory in regions
    char name[NB_PROCESS_NAME_MAX];
};

_Static_assert(sizeof(struct nb_process_info) == 80, "nb_process_info layout");
