// Native system calls of Nimbus.
//
// Entry is the SYSCALL instruction: rax = number, arguments in rdi, rsi, rdx,
// r10, r8, r9 (the Linux x86_64 convention, so one process can use both
// personalities); the result comes back in rax: a status_t (0 or a negative
// ERR_* code) for every native call. rcx and r11 are clobbered, every other
// register is preserved. Native numbers live in their own range, above every
// Linux number; a number in neither table fails with ERR_BAD_SYSCALL (native
// range) or -ENOSYS (Linux range).
//
// Pointers are user addresses; a bad one gives ERR_INVALID_ARGS, never a
// crash. Deadlines are absolute CLOCK_MONOTONIC nanoseconds (DEADLINE_INFINITE
// = UINT64_MAX, 0 = do not block).
#pragma once

#define NB_SYSCALL_BASE 0x1000

// Handles
#define NB_SYS_HANDLE_CLOSE     0x1000 // (handle_t h)
#define NB_SYS_HANDLE_DUPLICATE 0x1001 // (handle_t h, rights_t rights, handle_t *out)
#define NB_SYS_HANDLE_REPLACE   0x1002 // (handle_t h, rights_t rights, handle_t *out)
#define NB_SYS_HANDLE_INFO      0x1003 // (handle_t h, struct nb_handle_info *out)
#define NB_SYS_HANDLE_REVOCABLE 0x1004 // (handle_t h, handle_t *wrapped, handle_t *revoker)
#define NB_SYS_HANDLE_REVOKE    0x1005 // (handle_t revoker)

// Signals and waiting
#define NB_SYS_OBJECT_WAIT_ONE    0x1010 // (h, signals_t want, u64 deadline, signals_t *observed)
#define NB_SYS_OBJECT_SIGNAL      0x1011 // (h, signals_t clear, signals_t set)
#define NB_SYS_OBJECT_SIGNAL_PEER 0x1012 // (h, signals_t clear, signals_t set)
#define NB_SYS_OBJECT_WAIT_ASYNC  0x1013 // (h, handle_t port, u64 key, signals_t, u32 mode)

// Channels
#define NB_SYS_CHANNEL_CREATE 0x1020 // (u32 flags, handle_t *end0, handle_t *end1)
#define NB_SYS_CHANNEL_WRITE  0x1021 // (h, const struct nb_msg_out *msg)
#define NB_SYS_CHANNEL_READ   0x1022 // (h, struct nb_msg_in *msg)
#define NB_SYS_CHANNEL_CALL   0x1023 // (h, const nb_msg_out *req, nb_msg_in *reply, u64 deadline)
// (h, const nb_msg_out *reply or NULL, nb_msg_in *next, u64 deadline): a server's turn
#define NB_SYS_CHANNEL_REPLY_WAIT 0x1024

// Ports
#define NB_SYS_PORT_CREATE 0x1030 // (handle_t *out)
#define NB_SYS_PORT_WAIT   0x1031 // (h, u64 deadline, struct nb_port_packet *out)
#define NB_SYS_PORT_QUEUE  0x1032 // (h, const struct nb_port_packet *pkt)
#define NB_SYS_PORT_CANCEL 0x1033 // (h port, handle_t object, u64 key)

// Events, timers
#define NB_SYS_EVENT_CREATE     0x1040 // (handle_t *out)
#define NB_SYS_EVENTPAIR_CREATE 0x1041 // (handle_t *a, handle_t *b)
#define NB_SYS_TIMER_CREATE     0x1042 // (handle_t *out)
#define NB_SYS_TIMER_SET        0x1043 // (h, u64 deadline)
#define NB_SYS_TIMER_CANCEL     0x1044 // (h)

// Memory
#define NB_SYS_VMO_CREATE   0x1050 // (u64 size, handle_t *out)
#define NB_SYS_VMO_READ     0x1051 // (h, void *buf, u64 offset, u64 len)
#define NB_SYS_VMO_WRITE    0x1052 // (h, const void *buf, u64 offset, u64 len)
#define NB_SYS_VMO_GET_SIZE 0x1053 // (h, u64 *size)
#define NB_SYS_VMO_SET_SIZE 0x1054 // (h, u64 size)
// (h vmo, handle_t vmex, handle_t *out): replaces the vmo handle (consumed)
// by one with RIGHT_EXECUTE added and RIGHT_WRITE removed; vmex is a resource
// of kind NB_RESOURCE_VMEX.
#define NB_SYS_VMO_REPLACE_AS_EXECUTABLE 0x1055
// (handle_t process or 0 = self, h vmo, u64 offset, u64 len, u32 flags,
// uintptr_t *addr)
#define NB_SYS_VM_MAP     0x1058
#define NB_SYS_VM_UNMAP   0x1059 // (handle_t process or 0, uintptr_t addr, u64 len)
#define NB_SYS_VM_PROTECT 0x105a // (handle_t process or 0, uintptr_t addr, u64 len, u32 flags)

// Processes and threads
#define NB_SYS_PROCESS_CREATE 0x1060 // (const char *name, u64 name_len, handle_t *out)
// (h process, uintptr_t entry, uintptr_t stack, handle_t bootstrap, u64 arg2)
#define NB_SYS_PROCESS_START 0x1061
#define NB_SYS_PROCESS_EXIT  0x1062 // (i64 code): does not return
#define NB_SYS_TASK_KILL     0x1063 // (h process or thread)
#define NB_SYS_PROCESS_INFO  0x1064 // (h, struct nb_process_info *out)
#define NB_SYS_THREAD_CREATE 0x1068 // (h process, const char *name, u64 len, handle_t *out)
#define NB_SYS_THREAD_START  0x1069 // (h, uintptr_t entry, uintptr_t stack, u64 arg1, u64 arg2)
#define NB_SYS_THREAD_EXIT   0x106a // (): does not return

// Time
#define NB_SYS_CLOCK_GET 0x1070 // (u32 clock_id, u64 *ns)
#define NB_SYS_NANOSLEEP 0x1071 // (u64 deadline)

// Kernel log and debug console
#define NB_SYS_LOG_WRITE   0x1080 // (h log, const char *buf, u64 len)
#define NB_SYS_LOG_READ    0x1081 // (h log, u64 *seq, struct nb_log_record *out)
#define NB_SYS_DEBUG_WRITE 0x1082 // (const char *buf, u64 len): needs nothing; the console

// Resources and devices (include/nimbus/resource.h)
#define NB_SYS_RESOURCE_CREATE  0x1090 // (h parent, u32 kind, u64 base, u64 size, handle_t *out)
#define NB_SYS_RESOURCE_INFO    0x1091 // (h, struct nb_resource_info *out)
#define NB_SYS_IOPORT_ENABLE    0x1092 // (h ioport resource, u64 base, u64 count): in/out allowed
#define NB_SYS_INTERRUPT_CREATE 0x1093 // (h irq resource, u32 gsi, u32 flags, handle_t *out)
#define NB_SYS_INTERRUPT_ACK    0x1094 // (h): clears SIGNAL_SIGNALED and unmasks the line
#define NB_SYS_POWER            0x1095 // (h power resource, u32 action): NB_POWER_*
// Device memory, DMA, PCI, MSI, entropy (docs/DEVICES.md)
#define NB_SYS_VMO_CREATE_PHYSICAL \
    0x1096 // (h mmio resource, u64 paddr, u64 size, u32 cache, handle_t *out)
#define NB_SYS_VMO_CREATE_CONTIGUOUS 0x1097 // (h dma resource, u64 size, u32 flags, handle_t *out)
#define NB_SYS_VMO_PHYS              0x1098 // (h vmo, u64 offset, u64 *paddr): contiguous/physical vmos only
#define NB_SYS_PCI_CONFIG_READ       0x1099 // (h pci resource, u32 id, u32 offset, u32 width, u32 *value)
#define NB_SYS_PCI_CONFIG_WRITE      0x109a // (h pci resource, u32 id, u32 offset, u32 width, u32 value)
#define NB_SYS_INTERRUPT_CREATE_MSI \
    0x109b // (h pci resource, u32 id, u32 flags, handle_t *out, nb_msi_message *msg)
#define NB_SYS_ENTROPY_ADD 0x109c // (h entropy resource, const void *buf, u64 len, u64 bits)

// System information (include/nimbus/sysinfo.h)
#define NB_SYS_SYSTEM_INFO     0x10a0 // (h info resource, u32 topic, void *buf, u64 size, u64 *actual)
#define NB_SYS_PROCESS_GET     0x10a1 // (h process resource, u64 pid, handle_t *out)
#define NB_SYS_PROCESS_HANDLES 0x10a2 // (h process, nb_handle_entry *buf, u64 max, u64 *actual)

// Linux file descriptors (docs/USERSPACE.md, "Standard input and output")
#define NB_SYS_FD_BIND 0x10b0 // (handle_t channel, i32 fd, u32 flags): moves the handle in

#define NB_SYSCALL_LAST 0x10ff

#define NB_CLOCK_MONOTONIC 0
#define NB_CLOCK_REALTIME  1

// VM_MAP flags
#define NB_VM_READ  (1u << 0)
#define NB_VM_WRITE (1u << 1)
#define NB_VM_EXEC  (1u << 2)
#define NB_VM_FIXED (1u << 8) // map exactly at *addr

// NB_SYS_FD_BIND flags
#define NB_FD_TERMINAL (1u << 0) // a terminal: isatty() is true, TIOCGWINSZ answers

// Interrupt object flags (NB_SYS_INTERRUPT_CREATE)
#define NB_INTERRUPT_EDGE  0         // ISA-style edge-triggered, active high (the default)
#define NB_INTERRUPT_LEVEL (1u << 0) // level-triggered, active low (PCI INTx)
