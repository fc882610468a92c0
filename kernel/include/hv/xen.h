// Xen guest support for an HVM/PVH domain (dom0 or not): the hypercall page,
// the shared info page, Xen's per-vCPU time and wall clock, the Xen console
// (CONSOLEIO_write) and shutdown (SCHEDOP_shutdown).
//
// Sources: Xen's public headers (xen.h, memory.h, sched.h, hvm/hvm_op.h,
// hvm/params.h, version.h, errno.h, arch-x86/cpuid.h, arch-x86/xen.h). Layouts
// are those of a 64-bit guest.
//
// The bring-up (xen_setup) reaches Xen only through a struct xen_transport,
// so the host tests run it against a fake Xen; xen_init() is the kernel's
// entry, called by hv_init() when Xen is the primary hypervisor.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"
#include "hv/pvclock.h"
#include "init/boot_info.h"
#include "lib/compiler.h"
#include "mm/phys.h"
#include "nimbus/status.h"

// Hypercall numbers (xen.h). The hypercall page holds one 32-byte stub per
// number: entry = page + 32 * nr. Arguments in rdi, rsi, rdx, r10, r8; the
// result in rax (negative Xen errno on failure).
#define XEN_HYPERCALL_MEMORY_OP   12
#define XEN_HYPERCALL_XEN_VERSION 17
#define XEN_HYPERCALL_CONSOLE_IO  18
#define XEN_HYPERCALL_SCHED_OP    29
#define XEN_HYPERCALL_HVM_OP      34
#define XEN_HYPERCALL_STUB_SIZE   32
#define XEN_HYPERCALL_PAGE_SIZE   4096
#define XEN_HYPERCALL_MAX         (XEN_HYPERCALL_PAGE_SIZE / XEN_HYPERCALL_STUB_SIZE)

// The hypercall MSR (CPUID base+2 EBX) takes the page's guest physical
// address with the page index in bits 0..11; Xen fills the page at once.
#define XEN_HYPERCALL_MSR_INDEX_MASK 0xfffu

// console_io commands.
#define XEN_CONSOLEIO_WRITE 0

// xen_version commands: XENVER_version returns major << 16 | minor.
#define XEN_XENVER_VERSION 0

// memory_op: XENMEM_add_to_physmap maps a Xen page at a guest frame.
#define XEN_XENMEM_ADD_TO_PHYSMAP   7
#define XEN_XENMAPSPACE_SHARED_INFO 0
#define XEN_DOMID_SELF              0x7ff0u

struct xen_add_to_physmap {
    uint16_t domid; // XEN_DOMID_SELF
    uint16_t size;  // pages, gmfn_range only
    uint32_t space; // XEN_XENMAPSPACE_*
    uint64_t idx;   // index in the space (0: the shared info page)
    uint64_t gpfn;  // guest frame where the page appears
};
_Static_assert(sizeof(struct xen_add_to_physmap) == 24, "xen_add_to_physmap layout");

// memory_op: XENMEM_memory_map copies the domain's E820-style memory map
// (PVH dom0 gets it this way: Xen 4.17's start info for dom0 is version 0).
#define XEN_XENMEM_MEMORY_MAP 9

struct xen_memory_map {
    uint32_t nr_entries; // in: room in buffer; out: entries stored
    uint32_t pad;
    uint64_t buffer; // guest address of struct xen_e820_entry[]
};
_Static_assert(sizeof(struct xen_memory_map) == 16, "xen_memory_map layout");

struct xen_e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type; // E820 types, as in the PVH memory map
} __packed;
_Static_assert(sizeof(struct xen_e820_entry) == 20, "e820 entry layout");

#define XEN_MEMMAP_MAX BOOT_MAX_MEM

// sched_op: SCHEDOP_shutdown with a reason.
#define XEN_SCHEDOP_SHUTDOWN  2
#define XEN_SHUTDOWN_POWEROFF 0
#define XEN_SHUTDOWN_REBOOT   1
#define XEN_SHUTDOWN_CRASH    3

struct xen_sched_shutdown {
    uint32_t reason; // XEN_SHUTDOWN_*
};

// hvm_op: HVMOP_get_param reads one of the domain's HVM parameters.
#define XEN_HVMOP_GET_PARAM          1
#define XEN_HVM_PARAM_CALLBACK_IRQ   0
#define XEN_HVM_PARAM_STORE_PFN      1
#define XEN_HVM_PARAM_STORE_EVTCHN   2
#define XEN_HVM_PARAM_CONSOLE_PFN    17
#define XEN_HVM_PARAM_CONSOLE_EVTCHN 18

struct xen_hvm_param {
    uint16_t domid; // XEN_DOMID_SELF
    uint16_t pad;
    uint32_t index; // XEN_HVM_PARAM_*
    uint64_t value; // out
};
_Static_assert(sizeof(struct xen_hvm_param) == 16, "xen_hvm_param layout");

// Xen's errno values (public errno.h), negated in hypercall results.
#define XEN_EPERM      1
#define XEN_ENOENT     2
#define XEN_ESRCH      3
#define XEN_EIO        5
#define XEN_ENOMEM     12
#define XEN_EACCES     13
#define XEN_EFAULT     14
#define XEN_EBUSY      16
#define XEN_EEXIST     17
#define XEN_ENODEV     19
#define XEN_EINVAL     22
#define XEN_ENOSPC     28
#define XEN_ERANGE     34
#define XEN_ENOSYS     38
#define XEN_EOPNOTSUPP 95

// vcpu_info: one per vCPU, the first XEN_LEGACY_MAX_VCPUS inside shared info.
// Xen keeps `time` with the pvclock version protocol.
#define XEN_LEGACY_MAX_VCPUS 32

struct xen_vcpu_info {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    uint8_t pad0[6];
    uint64_t evtchn_pending_sel;
    uint64_t arch_cr2;
    uint64_t arch_pad;
    struct pvclock_vcpu_time_info time;
};
_Static_assert(sizeof(struct xen_vcpu_info) == 64, "vcpu_info layout");
_Static_assert(offsetof(struct xen_vcpu_info, time) == 32, "vcpu_info.time offset");

// The shared info page, up to the fields Nimbus reads. The wall clock is the
// time of day at system time 0: wc_sec_hi:wc_sec seconds + wc_nsec since the
// epoch, under wc_version (odd while Xen updates it).
struct xen_shared_info {
    struct xen_vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];
    uint64_t evtchn_pending[64];
    uint64_t evtchn_mask[64];
    uint32_t wc_version;
    uint32_t wc_sec;
    uint32_t wc_nsec;
    uint32_t wc_sec_hi; // 64-bit guests only
    // arch_shared_info follows (max_pfn, p2m fields): not used.
};
_Static_assert(offsetof(struct xen_shared_info, evtchn_pending) == 2048, "shared_info layout");
_Static_assert(offsetof(struct xen_shared_info, wc_version) == 3072, "shared_info layout");
_Static_assert(offsetof(struct xen_shared_info, wc_sec_hi) == 3084, "shared_info layout");

// ---- pure helpers (host-tested) ----

// What CPUID says about Xen's hypercall interface (hv_info.xen), checked.
struct xen_cpuid_plan {
    uint32_t base;            // Xen's leaf range
    uint16_t major, minor;    // base+1
    uint32_t hypercall_pages; // base+2 EAX (at least 1)
    uint32_t msr;             // base+2 EBX: where the hypercall page goes
    bool domid_known;         // base+4 has the domain id
    uint16_t domid;           // 0: the hardware domain (dom0)
};

// ERR_NOT_SUPPORTED if Xen is not the primary hypervisor, ERR_BAD_FORMAT if
// its leaves lack the hypercall page (no base+2, no pages or no MSR).
status_t xen_cpuid_plan(const struct hv_info *info, struct xen_cpuid_plan *out);

// The value written to the hypercall MSR for page `index` at `page_pa`.
// ERR_INVALID_ARGS for an unaligned address or an index over 0xfff.
status_t xen_hypercall_msr_value(paddr_t page_pa, uint32_t index, uint64_t *value);

// Byte offset of hypercall `nr`'s stub in the page; ERR_OUT_OF_RANGE past the
// page's 128 stubs.
status_t xen_hypercall_offset(unsigned nr, size_t *offset);

// A hypercall result as a status: 0 (and positive counts) -> OK, -errno ->
// the nearest status code.
status_t xen_status(long rc);

// The TSC rate implied by a time area's mul/shift: 10^9 * 2^32 / mul, shifted
// right by `shift`. 0 if mul is 0 or the rate does not fit.
uint64_t xen_tsc_hz(uint32_t mul, int8_t shift);

// Wall-clock time at Xen system time 0, in ns since the epoch, read with the
// version retry. relax (may be NULL) runs before each retry.
uint64_t xen_wallclock_base_ns(const volatile struct xen_shared_info *si, void (*relax)(void *ctx),
                               void *ctx);

// Xen system time of `vcpu` (below XEN_LEGACY_MAX_VCPUS) in ns, from its area
// in shared info, through pvclock_read.
uint64_t xen_system_time_ns(const volatile struct xen_shared_info *si, unsigned vcpu,
                            pvclock_tsc_fn read_tsc, void *ctx);

// Time of day now: the wall clock base plus the system time of vcpu.
uint64_t xen_realtime_ns(const volatile struct xen_shared_info *si, unsigned vcpu,
                         pvclock_tsc_fn read_tsc, void *ctx);

// A version 1 copy of a start info that lacks the memory map (version 0):
// *out gets in's fields, version 1 and map_pa / n entries of `map`, filled
// from the n E820 entries. ERR_INVALID_ARGS for a bad magic or n == 0,
// ERR_BUFFER_TOO_SMALL if n > max.
status_t xen_start_info_upgrade(const struct hvm_start_info *in, const struct xen_e820_entry *e820,
                                size_t n, struct hvm_memmap_entry *map, size_t max, paddr_t map_pa,
                                struct hvm_start_info *out);

// ---- the bring-up, on any transport ----

// How xen_setup reaches Xen. In the kernel: the hypercall page stubs and the
// MSR; in the host tests: a fake Xen.
struct xen_transport {
    // Writes `value` to MSR `msr` (the hypercall page MSR). ERR_* if refused.
    status_t (*write_msr)(void *ctx, uint32_t msr, uint64_t value);
    // Hypercall `nr` with up to three arguments; returns rax.
    long (*hypercall)(void *ctx, unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3);
    pvclock_tsc_fn read_tsc;       // ordered TSC read
    paddr_t hypercall_page_pa;     // a page that becomes the (executable) stubs
    paddr_t shared_info_pa;        // a RAM page given up to Xen for shared info
    volatile void *shared_info_va; // where the kernel reaches that page
    void *ctx;
};

// What xen_setup found and set up.
struct xen_state {
    struct xen_cpuid_plan plan;
    uint32_t version;                        // XENVER_version (major << 16 | minor)
    volatile struct xen_shared_info *shared; // NULL if the mapping failed
    uint64_t tsc_hz;                         // from vcpu 0's mul/shift, 0 if unknown
    uint64_t boot_realtime_ns;               // wall clock now, 0 if unknown
    bool console;                            // CONSOLEIO_write accepted
    const struct xen_transport *tp;
};

// (1) checks CPUID, (2) installs the hypercall page, (3) asks the version,
// (4) maps shared info, (5) reads vcpu 0's time and the wall clock, (6)
// probes the console. Fails (ERR_*) only if (1) or (2) fails; later steps
// that fail leave their part of *st empty.
status_t xen_setup(struct xen_state *st, const struct hv_info *info,
                   const struct xen_transport *tp);

// Operations on a set-up state.
status_t xen_console_write_on(const struct xen_state *st, const char *s, size_t n);
status_t xen_shutdown_on(const struct xen_state *st, uint32_t reason);
status_t xen_hvm_get_param_on(const struct xen_state *st, uint32_t index, uint64_t *value);
// Copies up to max entries of the memory map into e820; *n gets the count.
status_t xen_memory_map_on(const struct xen_state *st, struct xen_e820_entry *e820, size_t max,
                           size_t *n);

// ---- the kernel's Xen (kernel only) ----

// Sets up Xen for the kernel (called from hv_init when Xen is primary):
// hypercall page, shared info, the "xen" clock source (rating 300), the TSC
// rate and wall clock, the Xen console, power-off and reboot.
void xen_init(void);

// The start info boot_info_from_pvh should parse: start_info itself, unless
// it is a version 0 structure under Xen (a PVH dom0), in which case a
// version 1 copy with Xen's memory map (XENMEM_memory_map), kept in the
// kernel image. Boot CPU, after hv_init, before boot_info_from_pvh.
paddr_t xen_pvh_start_info(paddr_t start_info);

// The kernel's state; NULL before xen_init succeeded.
const struct xen_state *xen_get_state(void);

// Power methods (SCHEDOP_shutdown); return only on failure.
status_t xen_poweroff(void);
status_t xen_reboot(void);

// Arch hooks (kernel/arch/x86_64/xen_hypercall.c): the hypercall page lives
// in the kernel's text, so it is executable and exists before the page
// allocator does.
paddr_t xen_arch_hypercall_page(void);
status_t xen_arch_write_msr(void *ctx, uint32_t msr, uint64_t value);
long xen_arch_hypercall(void *ctx, unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3);
uint64_t xen_arch_read_tsc(void *ctx); // lfence; rdtsc
