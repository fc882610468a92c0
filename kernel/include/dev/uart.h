// The 16550 UART on COM1: the kernel's first console.
#pragma once

#include <stdbool.h>
#include <stddef.h>

// Programs COM1 for 115200 8N1. Returns false when no UART answers.
bool uart_init(void);
void uart_write(const char *s, size_t n);
// Returns a received byte, or -1 when none is waiting.
int uart_getc(void);
// Raises ISA IRQ 4 whenever received bytes wait (OUT2, which gates the
// line, is set by uart_init). Discards what arrived before. False without
// a UART.
bool uart_enable_rx_irq(void);
// Stops the UART's interrupts (a user-space driver takes the port over).
void uart_disable_rx_irq(void);
