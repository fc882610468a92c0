// The 16550 UART on COM1: the kernel's first console.
#pragma once

#include <stdbool.h>
#include <stddef.h>

// Programs COM1 for 115200 8N1. Returns false when no UART answers.
bool uart_init(void);
void uart_write(const char *s, size_t n);
// Returns a received byte, or -1 when none is waiting.
int uart_getc(void);
