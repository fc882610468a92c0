// In-kernel tests of interrupt objects on a real line: COM1's transmitter-
// empty interrupt (it fires as soon as it is enabled, the FIFO being empty)
// through the IOAPIC to an interrupt object; and the GSI ownership it
// relies on (the kernel console gives COM1 input up and takes it back).
#include "arch.h"
#include "lib/ktest.h"
#include "nimbus/syscall.h"
#include "obj/interrupt.h"
#include "obj/objtest.h"
#include "obj/port.h"
#include "obj/signal.h"

#define COM1_IER     0x3f9
#define COM1_IIR     0x3fa
#define IER_RX       0x01
#define IER_THRE     0x02
#define UART_ISA_IRQ 4
#define WAIT_MS      2000

static struct handle_table tab;

static bool com1_gsi(unsigned *gsi)
{
    bool level, low;
    return arch_irq_gsi_count() && arch_irq_isa_gsi(UART_ISA_IRQ, gsi, &level, &low) == OK &&
           *gsi < arch_irq_gsi_count();
}

// Lets COM1 interrupt (transmitter empty) and stops it again once h's
// object is signaled or after WAIT_MS.
static status_t fire(handle_t h, signals_t *seen)
{
    arch_pio_out8(COM1_IER, IER_THRE);
    status_t st = obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(WAIT_MS), seen);
    (void)arch_pio_in8(COM1_IIR); // reading IIR clears the THRE condition
    arch_pio_out8(COM1_IER, 0);
    return st;
}

static void interrupt_create_one_per_gsi(struct ktest *t)
{
    struct obj_baseline b;
    unsigned gsi;
    handle_t h, h2;

    if (!com1_gsi(&gsi))
        KTEST_SKIP("no IOAPIC line for COM1");
    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    EXPECT_STATUS(interrupt_create(&tab, gsi, 0x80, &h), ERR_INVALID_ARGS);
    EXPECT_STATUS(interrupt_create(&tab, arch_irq_gsi_count(), 0, &h), ERR_NOT_FOUND);
    EXPECT_STATUS(interrupt_create(&tab, 100000, 0, &h), ERR_NOT_FOUND);
    EXPECT_FALSE(arch_irq_gsi_claimed(gsi));
    ASSERT_OK(interrupt_create(&tab, gsi, NB_INTERRUPT_EDGE, &h));
    EXPECT_EQ(objtest_rights(&tab, h), INTERRUPT_RIGHTS);
    EXPECT_TRUE(arch_irq_gsi_claimed(gsi));
    // The console let go of its input: COM1 interrupts nothing now.
    EXPECT_EQ(arch_pio_in8(COM1_IER), 0);
    EXPECT_STATUS(interrupt_create(&tab, gsi, NB_INTERRUPT_EDGE, &h2), ERR_ALREADY_EXISTS);
    EXPECT_STATUS(interrupt_create(&tab, gsi, NB_INTERRUPT_LEVEL, &h2), ERR_ALREADY_EXISTS);
    // A duplicate is the same object: the line stays claimed until both go.
    ASSERT_OK(handle_duplicate(&tab, h, RIGHT_SAME_RIGHTS, &h2));
    EXPECT_OK(handle_close(&tab, h));
    EXPECT_TRUE(arch_irq_gsi_claimed(gsi));
    EXPECT_OK(handle_close(&tab, h2));
    EXPECT_FALSE(arch_irq_gsi_claimed(gsi));
    // The console took its input back.
    EXPECT_EQ(arch_pio_in8(COM1_IER), IER_RX);
    // The line is free again.
    ASSERT_OK(interrupt_create(&tab, gsi, NB_INTERRUPT_EDGE, &h));
    handle_table_destroy(&tab); // the last handle goes with the table
    EXPECT_FALSE(arch_irq_gsi_claimed(gsi));
    EXPECT_EQ(arch_pio_in8(COM1_IER), IER_RX);
    objtest_expect_baseline(t, &b);
}

static void interrupt_fires_and_acks(struct ktest *t)
{
    struct obj_baseline b;
    unsigned gsi;
    handle_t h, waitonly;
    signals_t seen = 0;

    if (!com1_gsi(&gsi))
        KTEST_SKIP("no IOAPIC line for COM1");
    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(interrupt_create(&tab, gsi, NB_INTERRUPT_EDGE, &h));
    EXPECT_STATUS(obj_wait_one(&tab, h, SIGNAL_SIGNALED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    EXPECT_OK(fire(h, &seen));
    EXPECT_EQ(seen, SIGNAL_SIGNALED);
    // The signal stays until acknowledged.
    EXPECT_OK(obj_wait_one(&tab, h, SIGNAL_SIGNALED, DEADLINE_NONE, &seen));
    ASSERT_OK(handle_duplicate(&tab, h, RIGHT_WAIT, &waitonly));
    EXPECT_STATUS(interrupt_ack(&tab, waitonly), ERR_ACCESS_DENIED);
    EXPECT_OK(interrupt_ack(&tab, h));
    EXPECT_STATUS(obj_wait_one(&tab, h, SIGNAL_SIGNALED, DEADLINE_NONE, &seen), ERR_TIMED_OUT);
    // Nobody sets or clears it by hand (no SIGNAL right).
    EXPECT_STATUS(obj_signal(&tab, h, 0, SIGNAL_SIGNALED), ERR_ACCESS_DENIED);
    // And again: the line is still live.
    EXPECT_OK(fire(h, &seen));
    EXPECT_OK(interrupt_ack(&tab, h));
    EXPECT_STATUS(interrupt_ack(&tab, HANDLE_INVALID), ERR_BAD_HANDLE);
    handle_t port;
    ASSERT_OK(port_create(&tab, &port));
    EXPECT_STATUS(interrupt_ack(&tab, port), ERR_WRONG_TYPE);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

static void interrupt_through_port(struct ktest *t)
{
    struct obj_baseline b;
    unsigned gsi;
    handle_t h, port;
    struct nb_port_packet pkt;

    if (!com1_gsi(&gsi))
        KTEST_SKIP("no IOAPIC line for COM1");
    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(interrupt_create(&tab, gsi, NB_INTERRUPT_EDGE, &h));
    ASSERT_OK(port_create(&tab, &port));
    ASSERT_OK(port_bind(&tab, port, h, 42, SIGNAL_SIGNALED, PORT_BIND_ONCE));
    arch_pio_out8(COM1_IER, IER_THRE);
    EXPECT_OK(port_wait(&tab, port, objtest_deadline_ms(WAIT_MS), &pkt));
    (void)arch_pio_in8(COM1_IIR);
    arch_pio_out8(COM1_IER, 0);
    EXPECT_EQ(pkt.key, 42u);
    EXPECT_EQ(pkt.type, (uint32_t)PORT_PACKET_SIGNAL_ONCE);
    EXPECT_EQ(pkt.signal.trigger, SIGNAL_SIGNALED);
    EXPECT_OK(interrupt_ack(&tab, h));
    // Closing the object while bound gives the line back all the same.
    ASSERT_OK(port_bind(&tab, port, h, 43, SIGNAL_SIGNALED, PORT_BIND_EDGE));
    EXPECT_OK(handle_close(&tab, h));
    EXPECT_FALSE(arch_irq_gsi_claimed(gsi));
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

// Level-triggered: the line is masked when it fires, so a device that still
// asserts it interrupts again only after the ack.
static void interrupt_level_masks_until_ack(struct ktest *t)
{
    struct obj_baseline b;
    unsigned gsi;
    handle_t h;
    signals_t seen;

    if (!com1_gsi(&gsi))
        KTEST_SKIP("no IOAPIC line for COM1");
    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 16));
    ASSERT_OK(interrupt_create(&tab, gsi, NB_INTERRUPT_LEVEL, &h));
    // LEVEL means active low; COM1's ISA line idles low. An IOAPIC that
    // honours polarity (KVM's) sees it asserted at once: nothing to learn.
    if (obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(100), &seen) == OK) {
        handle_table_destroy(&tab);
        KTEST_SKIP("this IOAPIC honours polarity: COM1 cannot act as an active-low line");
    }
    arch_pio_out8(COM1_IER, IER_THRE); // asserted until IIR is read
    EXPECT_OK(obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(WAIT_MS), &seen));
    EXPECT_OK(interrupt_ack(&tab, h)); // still asserted: it fires again once unmasked
    EXPECT_OK(obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(WAIT_MS), &seen));
    (void)arch_pio_in8(COM1_IIR); // served
    arch_pio_out8(COM1_IER, 0);
    EXPECT_OK(interrupt_ack(&tab, h));
    EXPECT_STATUS(obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(100), &seen),
                  ERR_TIMED_OUT);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

// ---- GSI ownership with a made-up owner on a spare line ----

static int releases, reclaims;

static void fake_release(void *arg)
{
    releases++;
}

static void fake_reclaim(void *arg)
{
    reclaims++;
}

static void fake_irq(void *arg) {}

static const struct arch_gsi_owner fake_owner = {
    .name = "ktest", .release = fake_release, .reclaim = fake_reclaim};

static void gsi_owner_release_reclaim(struct ktest *t)
{
    unsigned vector, gsi = arch_irq_gsi_count() - 1;
    handle_t h;

    if (!arch_irq_gsi_count())
        KTEST_SKIP("no IOAPIC");
    ASSERT_OK(arch_irq_alloc(fake_irq, NULL, &vector));
    ASSERT_OK(handle_table_init(&tab, 16));
    releases = reclaims = 0;
    ASSERT_OK(arch_irq_gsi_own(gsi, vector, false, false, &fake_owner));
    EXPECT_STATUS(arch_irq_gsi_own(gsi, vector, false, false, &fake_owner), ERR_ALREADY_EXISTS);
    EXPECT_FALSE(arch_irq_gsi_claimed(gsi));
    ASSERT_OK(interrupt_create(&tab, gsi, NB_INTERRUPT_EDGE, &h));
    EXPECT_EQ(releases, 1);
    EXPECT_EQ(reclaims, 0);
    EXPECT_STATUS(arch_irq_gsi_claim(gsi, false, false, fake_irq, NULL), ERR_ALREADY_EXISTS);
    EXPECT_EQ(releases, 1);
    EXPECT_OK(handle_close(&tab, h));
    EXPECT_EQ(reclaims, 1);
    EXPECT_FALSE(arch_irq_gsi_claimed(gsi));
    // A claim without an owner calls nobody.
    arch_irq_gsi_disown(gsi);
    ASSERT_OK(interrupt_create(&tab, gsi, NB_INTERRUPT_EDGE, &h));
    EXPECT_OK(handle_close(&tab, h));
    EXPECT_EQ(releases, 1);
    EXPECT_EQ(reclaims, 1);
    handle_table_destroy(&tab);
    arch_irq_free(vector);
}

KTEST_SUITE(interrupt, KTEST_CASE(interrupt_create_one_per_gsi),
            KTEST_CASE(interrupt_fires_and_acks), KTEST_CASE(interrupt_through_port),
            KTEST_CASE(interrupt_level_masks_until_ack), KTEST_CASE(gsi_owner_release_reclaim));
