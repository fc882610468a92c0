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

// Interrupt command register, low 32 bits (the same in xAPIC and x2APIC
// mode, but for the delivery status bit, which x2APIC does not have).
#define ICR_FIXED        (0u << 8)
#define ICR_INIT         (5u << 8)
#define ICR_STARTUP      (6u << 8)
#define ICR_PENDING      (1u << 12) // xAPIC delivery status: send pending
#define ICR_LEVEL_ASSERT (1u << 14)

void x86_irq_set(unsigned vector, arch_irq_fn fn, void *arg);
// Routes gsi to vector on this CPU, masked or not (arch_irq_route_gsi: unmasked).
status_t x86_ioapic_route(unsigned gsi, unsigned vector, bool level, bool active_low, bool masked);
// Runs the handler of a device, timer or IPI vector and sends the EOI.
void x86_irq_dispatch(unsigned vector);
void x86_apic_eoi(void);
uint32_t x86_apic_id(void);
bool x86_apic_x2apic(void);
// Sends an interprocessor interrupt (icr_low: vector, delivery mode, level)
// to the local APIC `apic_id`; returns once the APIC has accepted it (xAPIC:
// delivery status idle) or after a timeout (ERR_TIMED_OUT).
status_t x86_apic_send_icr(uint32_t apic_id, uint32_t icr_low);
// On an application processor: enables its local APIC and one-shot timer
// in the mode the boot CPU chose (calibration reused).
void x86_apic_init_ap(void);
