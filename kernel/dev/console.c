// Console input: the COM1 receive interrupt feeds the line discipline;
// readers of standard input sleep on a wait queue until a line is complete.
// The console owns COM1's GSI only until a user-space driver claims it (an
// interrupt object, docs/DEVICES.md): then input is the driver's, and it
// comes back here when the claim ends. Output always goes to the UART.
#include "arch.h"
#include "dev/console.h"
#include "lib/ldisc.h"
#include "dev/uart.h"
#include "lib/klog.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "sched/wait.h"

#define UART_ISA_IRQ 4

static struct spinlock con_lock;
static struct ldisc con_ldisc;        // (con_lock)
static struct wait_queue con_readers; // (con_lock)

// Drains the UART's receive FIFO: one interrupt may stand for many bytes.
static void console_irq(void *arg)
{
    irqstate_t s = spin_lock_irqsave(&con_lock);
    bool wake = false;
    for (int c; (c = uart_getc()) >= 0;)
        wake |= ldisc_input(&con_ldisc, (char)c);
    if (wake)
        wait_queue_wake(&con_readers, -1, OK);
    spin_unlock_irqrestore(&con_lock, s);
}

// A user-space driver takes the line: the UART stops interrupting for us.
static void console_release(void *arg)
{
    uart_disable_rx_irq();
}

static void console_reclaim(void *arg)
{
    uart_enable_rx_irq();
}

static const struct arch_gsi_owner console_owner = {
    .name = "console",
    .release = console_release,
    .reclaim = console_reclaim,
};

status_t console_input_init(void)
{
    unsigned vector, gsi;
    bool level, low;
    ldisc_init(&con_ldisc, console_write);
    wait_queue_init(&con_readers);
    status_t st = arch_irq_alloc(console_irq, NULL, &vector);
    if (st == OK && (st = arch_irq_isa_gsi(UART_ISA_IRQ, &gsi, &level, &low)) == OK)
        st = arch_irq_gsi_own(gsi, vector, level, low, &console_owner);
    if (st == OK && !uart_enable_rx_irq())
        st = ERR_NOT_FOUND;
    if (st != OK)
        pr_warn("console: no serial input: %s", status_str(st));
    return st;
}

status_t console_read(char *buf, size_t n, size_t *got)
{
    *got = 0;
    if (n == 0)
        return OK;
    irqstate_t s = spin_lock_irqsave(&con_lock);
    status_t st = OK;
    while (!ldisc_readable(&con_ldisc) && st == OK)
        st = wait_queue_block(&con_readers, &con_lock, DEADLINE_INFINITE);
    if (st == OK)
        *got = ldisc_read(&con_ldisc, buf, n);
    spin_unlock_irqrestore(&con_lock, s);
    return st;
}
