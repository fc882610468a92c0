// Port I/O for user-space drivers, usable once NB_SYS_IOPORT_ENABLE (an
// `ioport` resource) allowed the ports; without that, `in`/`out` is a #GP
// that ends the process (docs/DEVICES.md, "I/O ports").
#pragma once

#include <stdint.h>

static inline uint8_t nb_inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void nb_outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
