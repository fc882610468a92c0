// 16550 UART driver for COM1: polled output for the kernel console, input
// by interrupt (dev/console.c) until the console service owns the port.
#include <stdint.h>

#include "arch.h"
#include "dev/uart.h"

#define COM1             0x3f8
#define UART_DATA        0 // DLAB=0: transmit/receive
#define UART_IER         1 // DLAB=0: interrupt enable
#define UART_DLL         0 // DLAB=1: divisor low
#define UART_DLM         1 // DLAB=1: divisor high
#define UART_FCR         2
#define UART_LCR         3
#define UART_MCR         4
#define UART_LSR         5
#define UART_SCR         7
#define LCR_8N1          0x03
#define LCR_DLAB         0x80
#define FCR_ENABLE       0x07 // enable and clear both FIFOs
#define MCR_DTR_RTS_OUT2 0x0b
#define LSR_DATA         0x01
#define LSR_THRE         0x20
#define IER_RX_DATA      0x01 // received data available (and FIFO timeout)

static bool uart_present;

bool uart_init(void)
{
    // The scratch register tells a real UART from an empty port.
    arch_pio_out8(COM1 + UART_SCR, 0x5a);
    if (arch_pio_in8(COM1 + UART_SCR) != 0x5a)
        return false;
    arch_pio_out8(COM1 + UART_IER, 0);
    arch_pio_out8(COM1 + UART_LCR, LCR_DLAB);
    arch_pio_out8(COM1 + UART_DLL, 1); // 115200 baud
    arch_pio_out8(COM1 + UART_DLM, 0);
    arch_pio_out8(COM1 + UART_LCR, LCR_8N1);
    arch_pio_out8(COM1 + UART_FCR, FCR_ENABLE);
    arch_pio_out8(COM1 + UART_MCR, MCR_DTR_RTS_OUT2);
    uart_present = true;
    return true;
}

static void uart_putc(char c)
{
    // Bounded wait: a wedged UART must not hang the kernel.
    for (int i = 0; i < 100000 && !(arch_pio_in8(COM1 + UART_LSR) & LSR_THRE); i++)
        arch_cpu_relax();
    arch_pio_out8(COM1 + UART_DATA, (uint8_t)c);
}

void uart_write(const char *s, size_t n)
{
    if (!uart_present)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            uart_putc('\r');
        uart_putc(s[i]);
    }
}

int uart_getc(void)
{
    if (!uart_present || !(arch_pio_in8(COM1 + UART_LSR) & LSR_DATA))
        return -1;
    return arch_pio_in8(COM1 + UART_DATA);
}

bool uart_enable_rx_irq(void)
{
    if (!uart_present)
        return false;
    while (uart_getc() >= 0) // bytes typed before boot would never interrupt
        ;
    arch_pio_out8(COM1 + UART_IER, IER_RX_DATA);
    return true;
}

void uart_disable_rx_irq(void)
{
    if (uart_present)
        arch_pio_out8(COM1 + UART_IER, 0);
}
