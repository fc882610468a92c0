// Interrupt vectors and handler registration on x86_64. Private to arch.
#pragma once

#include <stdint.h>

#include "arch.h"

#define VEC_FIRST_DEVICE 0x30
#define VEC_LAST_DEVICE  0xdf
#define VEC_TIMER        0xf0
#define VEC_IPI_RESCHED  0xf1
#define VEC_IPI_TLB      0xf2
#define VEC_IPI_CALL     0xf3
#define VEC_APIC_ERROR   0xfe
#define VEC_SPURIOUS     0xff

void x86_irq_set(unsigned vector, arch_irq_fn fn, void *arg);
// Runs the handler of a device, timer or IPI vector and sends the EOI.
void x86_irq_dispatch(unsigned vector);
void x86_apic_eoi(void);
uint32_t x86_apic_id(void);
