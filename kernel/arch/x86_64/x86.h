// x86_64 registers, bits and instruction wrappers. Private to kernel/arch/x86_64.
#pragma once

// Segment selectors of the kernel GDT (the SYSRET layout needs user code32,
// user data, user code64 in that order).
#define GDT_KCODE   0x08
#define GDT_KDATA   0x10
#define GDT_UCODE32 0x18
#define GDT_UDATA   0x20
#define GDT_UCODE64 0x28
#define GDT_TSS     0x30

// Control register bits.
#define CR0_PE   (1u << 0)
#define CR0_WP   (1u << 16)
#define CR0_PG   (1u << 31)
#define CR4_PAE  (1u << 5)
#define CR4_PGE  (1u << 7)
#define CR4_UMIP (1u << 11)
#define CR4_SMEP (1u << 20)
#define CR4_SMAP (1u << 21)

// Model-specific registers.
#define MSR_EFER           0xc0000080
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_PAT            0x277
#define PAT_WC             0x01 // PAT memory type: write-combining
#define EFER_SCE           (1u << 0)
#define EFER_LME           (1u << 8)
#define EFER_NXE           (1u << 11)

// CPUID leaves and feature bits.
#define CPUID_EXT_MAX            0x80000000
#define CPUID_EXT_FEATURES       0x80000001
#define CPUID_EXT_EDX_NX         (1u << 20)
#define CPUID_EXT_EDX_1GB        (1u << 26)
#define CPUID_EXT_EDX_LM         (1u << 29)
#define CPUID_FEATURES           0x1
#define CPUID_1_ECX_X2APIC       (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR   (1u << 31)
#define CPUID_1_EDX_PGE          (1u << 13)
#define CPUID_1_EDX_PAT          (1u << 16)
#define CPUID_EXT7               0x7
#define CPUID_7_EBX_SMEP         (1u << 7)
#define CPUID_7_EBX_SMAP         (1u << 20)
#define CPUID_7_ECX_UMIP         (1u << 2)
#define CPUID_TSC_CRYSTAL        0x15
#define CPUID_FREQ               0x16

// Legacy I/O ports the kernel touches.
#define PORT_PIT_CH0    0x40
#define PORT_PIT_CMD    0x43
#define PORT_DEBUG_EXIT 0xf4
#define PIT_HZ          1193182u

#ifndef __ASSEMBLY__
#include <stdint.h>

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t sub)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(sub));
    return r;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}

#define DEFINE_CR(n)                                             \
    static inline uint64_t read_cr##n(void)                      \
    {                                                            \
        uint64_t v;                                              \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));        \
        return v;                                                \
    }                                                            \
    static inline void write_cr##n(uint64_t v)                   \
    {                                                            \
        __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); \
    }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void invlpg(uint64_t va)
{
    __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}

static inline uint64_t read_rflags(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f;
}

#define RFLAGS_IF (1ul << 9)
#endif
