// The x86 side of Xen hypercalls: the hypercall page, the MSR that asks Xen
// to fill it, and the call into its stubs (declared in hv/xen.h).
#include "hv/xen.h"
#include "x86.h"

// One page in the kernel's text, filled with int3 until Xen writes its stubs
// there (through the physical address; the kernel maps it read-only and
// executable). A stray call before that traps instead of running zeros.
__asm__(".pushsection .text.xen_hypercall_page, \"ax\", @progbits\n"
        ".balign 4096\n"
        ".globl xen_hypercall_page\n"
        "xen_hypercall_page:\n"
        ".fill 4096, 1, 0xcc\n"
        ".popsection\n");

extern const uint8_t xen_hypercall_page[XEN_HYPERCALL_PAGE_SIZE];

paddr_t xen_arch_hypercall_page(void)
{
    return virt_to_phys(xen_hypercall_page);
}

status_t xen_arch_write_msr(void *ctx, uint32_t msr, uint64_t value)
{
    // Xen accepts the write (and fills the page) or injects #GP; with the
    // CPUID leaf having named this MSR, a #GP would be a Xen bug.
    wrmsr(msr, value);
    return OK;
}

// Calls the stub for `nr`. Xen may clobber rcx and r11 (and, in debug builds,
// the argument registers), so every one of them is an output here.
long xen_arch_hypercall(void *ctx, unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
    size_t off;
    if (xen_hypercall_offset(nr, &off) != OK)
        return -XEN_ENOSYS;
    const void *entry = xen_hypercall_page + off;
    register uint64_t r10 __asm__("r10") = 0;
    register uint64_t r8 __asm__("r8") = 0;
    long ret;
    __asm__ volatile("call *%[entry]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                     : [entry] "r"(entry)
                     : "rcx", "r11", "memory", "cc");
    return ret;
}

// pvclock readers need a TSC read that is not hoisted above the loads of
// the time area: lfence orders it after them.
uint64_t xen_arch_read_tsc(void *ctx)
{
    __asm__ volatile("lfence" ::: "memory");
    return rdtsc();
}
