// The hypervisor layer's CPUID hook (declared in hv/hv.h): generic code may
// not include x86.h, so it reaches the instruction through here.
#include "hv/hv.h"
#include "x86.h"

void hv_cpuid(uint32_t leaf, uint32_t subleaf, struct hv_cpuid_regs *r)
{
    struct cpuid_regs c = cpuid(leaf, subleaf);
    *r = (struct hv_cpuid_regs){c.eax, c.ebx, c.ecx, c.edx};
}
