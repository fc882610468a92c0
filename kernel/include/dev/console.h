// Console input: bytes received on COM1 (interrupt-driven) go through the
// canonical line discipline (dev/ldisc.h) to readers of standard input.
// Output stays with console_write() (lib/klog.h).
#pragma once

#include <stddef.h>

#include "nimbus/status.h"

// Enables the UART's receive interrupt and routes ISA IRQ 4 to it. Call
// after arch_irq_init_controllers(). Without a UART or an IOAPIC, reads
// block until killed (the status says why input is missing).
status_t console_input_init(void);

// Blocks until a line (or an end of input) is available, then copies at
// most n bytes of it to buf and sets *got (0: end of input). ERR_CANCELED
// when the thread is killed while waiting. Thread context only.
status_t console_read(char *buf, size_t n, size_t *got);
