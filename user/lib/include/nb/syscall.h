// Native system calls of Nimbus, one inline stub per call of
// include/nimbus/syscall.h. SYSCALL: rax = number, arguments in rdi, rsi,
// rdx, r10, r8, r9; the status comes back in rax; rcx and r11 are clobbered.
// Every stub returns the kernel's status_t unchanged.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nb/abi_pending.h"
#include "nimbus/channel.h"
#include "nimbus/handle.h"
#include "nimbus/process.h"
#include "nimbus/resource.h"
#include "nimbus/rights.h"
#include "nimbus/signals.h"
#include "nimbus/status.h"
#include "nimbus/sysinfo.h"
#include "nimbus/syscall.h"

#define NB_DEADLINE_INFINITE UINT64_MAX // wait for ever
#define NB_DEADLINE_POLL     0          // do not block

static inline uint64_t nb_syscall6(uint64_t n, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                   uint64_t a5, uint64_t a6)
{
    register uint64_t r10 __asm__("r10") = a4;
    register uint64_t r8 __asm__("r8") = a5;
    register uint64_t r9 __asm__("r9") = a6;
    uint64_t ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

// The status in rax: the kernel returns a sign-extended status_t.
static inline status_t nb_sys(uint64_t n, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                              uint64_t a5, uint64_t a6)
{
    return (status_t)(int64_t)nb_syscall6(n, a1, a2, a3, a4, a5, a6);
}

#define NB_PTR(p) ((uint64_t)(uintptr_t)(p))

// ---- Handles ----
static inline status_t nb_handle_close(handle_t h)
{
    return nb_sys(NB_SYS_HANDLE_CLOSE, h, 0, 0, 0, 0, 0);
}
static inline status_t nb_handle_duplicate(handle_t h, rights_t rights, handle_t *out)
{
    return nb_sys(NB_SYS_HANDLE_DUPLICATE, h, rights, NB_PTR(out), 0, 0, 0);
}
static inline status_t nb_handle_replace(handle_t h, rights_t rights, handle_t *out)
{
    return nb_sys(NB_SYS_HANDLE_REPLACE, h, rights, NB_PTR(out), 0, 0, 0);
}
static inline status_t nb_handle_info(handle_t h, struct nb_handle_info *out)
{
    return nb_sys(NB_SYS_HANDLE_INFO, h, NB_PTR(out), 0, 0, 0, 0);
}
static inline status_t nb_handle_revocable(handle_t h, handle_t *wrapped, handle_t *revoker)
{
    return nb_sys(NB_SYS_HANDLE_REVOCABLE, h, NB_PTR(wrapped), NB_PTR(revoker), 0, 0, 0);
}
static inline status_t nb_handle_revoke(handle_t revoker)
{
    return nb_sys(NB_SYS_HANDLE_REVOKE, revoker, 0, 0, 0, 0, 0);
}

// ---- Signals and waiting ----
static inline status_t nb_object_wait_one(handle_t h, signals_t want, uint64_t deadline,
                                          signals_t *observed)
{
    return nb_sys(NB_SYS_OBJECT_WAIT_ONE, h, want, deadline, NB_PTR(observed), 0, 0);
}
static inline status_t nb_object_signal(handle_t h, signals_t clear, signals_t set)
{
    return nb_sys(NB_SYS_OBJECT_SIGNAL, h, clear, set, 0, 0, 0);
}
static inline status_t nb_object_signal_peer(handle_t h, signals_t clear, signals_t set)
{
    return nb_sys(NB_SYS_OBJECT_SIGNAL_PEER, h, clear, set, 0, 0, 0);
}
// mode: PORT_BIND_EDGE or PORT_BIND_ONCE.
static inline status_t nb_object_wait_async(handle_t h, handle_t port, uint64_t key,
                                            signals_t signals, uint32_t mode)
{
    return nb_sys(NB_SYS_OBJECT_WAIT_ASYNC, h, port, key, signals, mode, 0);
}

// ---- Channels ----
static inline status_t nb_channel_create(uint32_t flags, handle_t *end0, handle_t *end1)
{
    return nb_sys(NB_SYS_CHANNEL_CREATE, flags, NB_PTR(end0), NB_PTR(end1), 0, 0, 0);
}
static inline status_t nb_channel_write(handle_t h, const struct nb_msg_out *msg)
{
    return nb_sys(NB_SYS_CHANNEL_WRITE, h, NB_PTR(msg), 0, 0, 0, 0);
}
static inline status_t nb_channel_read(handle_t h, struct nb_msg_in *msg)
{
    return nb_sys(NB_SYS_CHANNEL_READ, h, NB_PTR(msg), 0, 0, 0, 0);
}
static inline status_t nb_channel_call(handle_t h, const struct nb_msg_out *req,
                                       struct nb_msg_in *reply, uint64_t deadline)
{
    return nb_sys(NB_SYS_CHANNEL_CALL, h, NB_PTR(req), NB_PTR(reply), deadline, 0, 0);
}
// A server's turn: writes `reply` (NULL: none), then waits for the next
// message and reads it into *next. When the reply answers a client blocked
// in nb_channel_call, that client gets this CPU as soon as the server waits.
static inline status_t nb_channel_reply_wait(handle_t h, const struct nb_msg_out *reply,
                                             struct nb_msg_in *next, uint64_t deadline)
{
    return nb_sys(NB_SYS_CHANNEL_REPLY_WAIT, h, NB_PTR(reply), NB_PTR(next), deadline, 0, 0);
}

// ---- Ports ----
static inline status_t nb_port_create(handle_t *out)
{
    return nb_sys(NB_SYS_PORT_CREATE, NB_PTR(out), 0, 0, 0, 0, 0);
}
static inline status_t nb_port_wait(handle_t h, uint64_t deadline, struct nb_port_packet *out)
{
    return nb_sys(NB_SYS_PORT_WAIT, h, deadline, NB_PTR(out), 0, 0, 0);
}
static inline status_t nb_port_queue(handle_t h, const struct nb_port_packet *pkt)
{
    return nb_sys(NB_SYS_PORT_QUEUE, h, NB_PTR(pkt), 0, 0, 0, 0);
}
static inline status_t nb_port_cancel(handle_t port, handle_t object, uint64_t key)
{
    return nb_sys(NB_SYS_PORT_CANCEL, port, object, key, 0, 0, 0);
}

// ---- Events and timers ----
static inline status_t nb_event_create(handle_t *out)
{
    return nb_sys(NB_SYS_EVENT_CREATE, NB_PTR(out), 0, 0, 0, 0, 0);
}
static inline status_t nb_eventpair_create(handle_t *a, handle_t *b)
{
    return nb_sys(NB_SYS_EVENTPAIR_CREATE, NB_PTR(a), NB_PTR(b), 0, 0, 0, 0);
}
static inline status_t nb_timer_create(handle_t *out)
{
    return nb_sys(NB_SYS_TIMER_CREATE, NB_PTR(out), 0, 0, 0, 0, 0);
}
static inline status_t nb_timer_set(handle_t h, uint64_t deadline)
{
    return nb_sys(NB_SYS_TIMER_SET, h, deadline, 0, 0, 0, 0);
}
static inline status_t nb_timer_cancel(handle_t h)
{
    return nb_sys(NB_SYS_TIMER_CANCEL, h, 0, 0, 0, 0, 0);
}

// ---- Memory ----
static inline status_t nb_vmo_create(uint64_t size, handle_t *out)
{
    return nb_sys(NB_SYS_VMO_CREATE, size, NB_PTR(out), 0, 0, 0, 0);
}
static inline status_t nb_vmo_read(handle_t h, void *buf, uint64_t offset, uint64_t len)
{
    return nb_sys(NB_SYS_VMO_READ, h, NB_PTR(buf), offset, len, 0, 0);
}
static inline status_t nb_vmo_write(handle_t h, const void *buf, uint64_t offset, uint64_t len)
{
    return nb_sys(NB_SYS_VMO_WRITE, h, NB_PTR(buf), offset, len, 0, 0);
}
static inline status_t nb_vmo_get_size(handle_t h, uint64_t *size)
{
    return nb_sys(NB_SYS_VMO_GET_SIZE, h, NB_PTR(size), 0, 0, 0, 0);
}
static inline status_t nb_vmo_set_size(handle_t h, uint64_t size)
{
    return nb_sys(NB_SYS_VMO_SET_SIZE, h, size, 0, 0, 0, 0);
}
// Pending ABI (nb/abi_pending.h).
static inline status_t nb_vmo_replace_as_executable(handle_t vmo, handle_t vmex, handle_t *out)
{
    return nb_sys(NB_SYS_VMO_REPLACE_AS_EXECUTABLE, vmo, vmex, NB_PTR(out), 0, 0, 0);
}
// process: a process handle, or HANDLE_INVALID for the caller's own. flags:
// NB_VM_READ/WRITE/EXEC, NB_VM_FIXED (then *addr says where). *addr: where.
static inline status_t nb_vm_map(handle_t process, handle_t vmo, uint64_t offset, uint64_t len,
                                 uint32_t flags, uintptr_t *addr)
{
    return nb_sys(NB_SYS_VM_MAP, process, vmo, offset, len, flags, NB_PTR(addr));
}
static inline status_t nb_vm_unmap(handle_t process, uintptr_t addr, uint64_t len)
{
    return nb_sys(NB_SYS_VM_UNMAP, process, addr, len, 0, 0, 0);
}
static inline status_t nb_vm_protect(handle_t process, uintptr_t addr, uint64_t len, uint32_t flags)
{
    return nb_sys(NB_SYS_VM_PROTECT, process, addr, len, flags, 0, 0);
}

// ---- Processes and threads ----
static inline status_t nb_process_create(const char *name, uint64_t name_len, handle_t *out)
{
    return nb_sys(NB_SYS_PROCESS_CREATE, NB_PTR(name), name_len, NB_PTR(out), 0, 0, 0);
}
// bootstrap is moved into the new process; its value there arrives in rdi.
static inline status_t nb_process_start(handle_t process, uintptr_t entry, uintptr_t stack,
                                        handle_t bootstrap, uint64_t arg2)
{
    return nb_sys(NB_SYS_PROCESS_START, process, entry, stack, bootstrap, arg2, 0);
}
__attribute__((noreturn)) static inline void nb_process_exit(int64_t code)
{
    nb_syscall6(NB_SYS_PROCESS_EXIT, (uint64_t)code, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}
static inline status_t nb_task_kill(handle_t h)
{
    return nb_sys(NB_SYS_TASK_KILL, h, 0, 0, 0, 0, 0);
}
static inline status_t nb_process_info(handle_t h, struct nb_process_info *out)
{
    return nb_sys(NB_SYS_PROCESS_INFO, h, NB_PTR(out), 0, 0, 0, 0);
}
static inline status_t nb_thread_create(handle_t process, const char *name, uint64_t len,
                                        handle_t *out)
{
    return nb_sys(NB_SYS_THREAD_CREATE, process, NB_PTR(name), len, NB_PTR(out), 0, 0);
}
static inline status_t nb_thread_start(handle_t h, uintptr_t entry, uintptr_t stack, uint64_t arg1,
                                       uint64_t arg2)
{
    return nb_sys(NB_SYS_THREAD_START, h, entry, stack, arg1, arg2, 0);
}
__attribute__((noreturn)) static inline void nb_thread_exit(void)
{
    nb_syscall6(NB_SYS_THREAD_EXIT, 0, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

// ---- Time ----
static inline status_t nb_clock_get(uint32_t clock_id, uint64_t *ns)
{
    return nb_sys(NB_SYS_CLOCK_GET, clock_id, NB_PTR(ns), 0, 0, 0, 0);
}
static inline status_t nb_nanosleep(uint64_t deadline)
{
    return nb_sys(NB_SYS_NANOSLEEP, deadline, 0, 0, 0, 0, 0);
}

// ---- Kernel log and debug console ----
static inline status_t nb_log_write(handle_t log, const char *buf, uint64_t len)
{
    return nb_sys(NB_SYS_LOG_WRITE, log, NB_PTR(buf), len, 0, 0, 0);
}
static inline status_t nb_log_read(handle_t log, uint64_t *seq, struct nb_log_record *out)
{
    return nb_sys(NB_SYS_LOG_READ, log, NB_PTR(seq), NB_PTR(out), 0, 0, 0);
}
static inline status_t nb_debug_write(const char *buf, uint64_t len)
{
    return nb_sys(NB_SYS_DEBUG_WRITE, NB_PTR(buf), len, 0, 0, 0, 0);
}

// ---- Resources and devices ----
static inline status_t nb_resource_create(handle_t parent, uint32_t kind, uint64_t base,
                                          uint64_t size, handle_t *out)
{
    return nb_sys(NB_SYS_RESOURCE_CREATE, parent, kind, base, size, NB_PTR(out), 0);
}
static inline status_t nb_resource_info(handle_t h, struct nb_resource_info *out)
{
    return nb_sys(NB_SYS_RESOURCE_INFO, h, NB_PTR(out), 0, 0, 0, 0);
}
static inline status_t nb_ioport_enable(handle_t resource, uint64_t base, uint64_t count)
{
    return nb_sys(NB_SYS_IOPORT_ENABLE, resource, base, count, 0, 0, 0);
}
static inline status_t nb_interrupt_create(handle_t resource, uint32_t gsi, uint32_t flags,
                                           handle_t *out)
{
    return nb_sys(NB_SYS_INTERRUPT_CREATE, resource, gsi, flags, NB_PTR(out), 0, 0);
}
static inline status_t nb_interrupt_ack(handle_t h)
{
    return nb_sys(NB_SYS_INTERRUPT_ACK, h, 0, 0, 0, 0, 0);
}
static inline status_t nb_power(handle_t resource, uint32_t action)
{
    return nb_sys(NB_SYS_POWER, resource, action, 0, 0, 0, 0);
}
static inline status_t nb_vmo_create_physical(handle_t mmio, uint64_t paddr, uint64_t size,
                                              uint32_t cache, handle_t *out)
{
    return nb_sys(NB_SYS_VMO_CREATE_PHYSICAL, mmio, paddr, size, cache, NB_PTR(out), 0);
}
static inline status_t nb_vmo_create_contiguous(handle_t dma, uint64_t size, uint32_t flags,
                                                handle_t *out)
{
    return nb_sys(NB_SYS_VMO_CREATE_CONTIGUOUS, dma, size, flags, NB_PTR(out), 0, 0);
}
static inline status_t nb_vmo_phys(handle_t vmo, uint64_t offset, uint64_t *paddr)
{
    return nb_sys(NB_SYS_VMO_PHYS, vmo, offset, NB_PTR(paddr), 0, 0, 0);
}
static inline status_t nb_pci_config_read(handle_t pci, uint32_t id, uint32_t offset,
                                          uint32_t width, uint32_t *value)
{
    return nb_sys(NB_SYS_PCI_CONFIG_READ, pci, id, offset, width, NB_PTR(value), 0);
}
static inline status_t nb_pci_config_write(handle_t pci, uint32_t id, uint32_t offset,
                                           uint32_t width, uint32_t value)
{
    return nb_sys(NB_SYS_PCI_CONFIG_WRITE, pci, id, offset, width, value, 0);
}
static inline status_t nb_interrupt_create_msi(handle_t pci, uint32_t id, uint32_t flags,
                                               handle_t *out, struct nb_msi_message *msg)
{
    return nb_sys(NB_SYS_INTERRUPT_CREATE_MSI, pci, id, flags, NB_PTR(out), NB_PTR(msg), 0);
}
static inline status_t nb_entropy_add(handle_t entropy, const void *buf, uint64_t len,
                                      uint64_t bits)
{
    return nb_sys(NB_SYS_ENTROPY_ADD, entropy, NB_PTR(buf), len, bits, 0, 0);
}

// ---- System information ----
static inline status_t nb_system_info(handle_t resource, uint32_t topic, void *buf, uint64_t size,
                                      uint64_t *actual)
{
    return nb_sys(NB_SYS_SYSTEM_INFO, resource, topic, NB_PTR(buf), size, NB_PTR(actual), 0);
}
static inline status_t nb_process_get(handle_t resource, uint64_t pid, handle_t *out)
{
    return nb_sys(NB_SYS_PROCESS_GET, resource, pid, NB_PTR(out), 0, 0, 0);
}
static inline status_t nb_process_handles(handle_t process, struct nb_handle_entry *buf,
                                          uint64_t max, uint64_t *actual)
{
    return nb_sys(NB_SYS_PROCESS_HANDLES, process, NB_PTR(buf), max, NB_PTR(actual), 0, 0);
}

// ---- Linux file descriptors ----
static inline status_t nb_fd_bind(handle_t channel, int32_t fd, uint32_t flags)
{
    return nb_sys(NB_SYS_FD_BIND, channel, (uint64_t)(int64_t)fd, flags, 0, 0, 0);
}
