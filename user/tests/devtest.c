// devtest: the kernel mechanisms for drivers in user space, from user space
// (docs/DEVICES.md): contiguous DMA vmos and their physical addresses,
// physical vmos over device memory (RAM and the kernel's device pages
// refused), PCI configuration reads, the cmdline and ECAM topics, and
// getrandom. KTAP on stdout; exit status = failed cases.
//
// Wants from init (manifest): handles=log?,info?,mmio,pci,dma,entropy?.
// Device-dependent checks skip when the machine lacks the device: the
// virtio-mmio magic needs microvm's transports (at 0xfeb00000), the host
// bridge id needs PCI (q35 or pc).
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "lib/ktest.h"
#include "nb/bootstrap.h"
#include "nb/syscall.h"
#include "nb/sysinfo.h"
#include "nimbus/resource.h"

#define PAGE           4096u
#define VIRTIO_MMIO    0xfeb00000ull
#define VIRTIO_MAGIC   0x74726976u // "virt"
#define LAPIC          0xfee00000ull
#define HOST_BRIDGE_ID NB_PCI_ID(0, 0, 0, 0)

static handle_t role(uint32_t r)
{
    return nb_bootstrap_peek(r);
}

// True when 00:00.0 answers (a PCI machine); *id is its vendor/device.
static bool have_pci(uint32_t *id)
{
    uint32_t v = 0xffffffffu;
    status_t st = nb_pci_config_read(role(BOOTSTRAP_ROLE_PCI), HOST_BRIDGE_ID, 0, 4, &v);
    if (id)
        *id = v;
    return st == OK && v != 0xffffffffu;
}

static void contiguous_vmo(struct ktest *t)
{
    handle_t dma = role(BOOTSTRAP_ROLE_DMA), v;
    uint64_t pa0, pa, size;
    uintptr_t addr = 0;

    ASSERT_OK(nb_vmo_create_contiguous(dma, 3 * PAGE, 0, &v));
    ASSERT_OK(nb_vmo_get_size(v, &size));
    EXPECT_EQ(size, 3u * PAGE);
    ASSERT_OK(nb_vmo_phys(v, 0, &pa0));
    EXPECT_EQ(pa0 % PAGE, 0u);
    EXPECT_TRUE(pa0 < (4ull << 30));
    ASSERT_OK(nb_vmo_phys(v, 2 * PAGE + 12, &pa));
    EXPECT_EQ(pa, pa0 + 2 * PAGE + 12); // contiguous
    EXPECT_STATUS(nb_vmo_phys(v, 3 * PAGE, &pa), ERR_OUT_OF_RANGE);
    ASSERT_OK(nb_vm_map(HANDLE_INVALID, v, 0, 3 * PAGE, NB_VM_READ | NB_VM_WRITE, &addr));
    volatile uint32_t *p = (volatile uint32_t *)addr;
    bool zero = true;
    for (size_t i = 0; i < 3 * PAGE / 4; i++)
        zero = zero && p[i] == 0;
    EXPECT_TRUE(zero);
    p[PAGE / 4 + 1] = 0xfeedf00du;
    uint32_t back = 0;
    ASSERT_OK(nb_vmo_read(v, &back, PAGE + 4, 4)); // the same memory through the vmo
    EXPECT_EQ(back, 0xfeedf00du);
    EXPECT_STATUS(nb_vmo_set_size(v, PAGE), ERR_NOT_SUPPORTED);
    EXPECT_OK(nb_vm_unmap(HANDLE_INVALID, addr, 3 * PAGE));
    // Without INSPECT no physical address.
    handle_t weak;
    ASSERT_OK(nb_handle_duplicate(v, RIGHT_READ | RIGHT_MAP, &weak));
    EXPECT_STATUS(nb_vmo_phys(weak, 0, &pa), ERR_ACCESS_DENIED);
    nb_handle_close(weak);
    nb_handle_close(v);
}

static void contiguous_refusals(struct ktest *t)
{
    handle_t dma = role(BOOTSTRAP_ROLE_DMA), v;
    uint64_t pa;
    EXPECT_STATUS(nb_vmo_create_contiguous(dma, PAGE, 1, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_vmo_create_contiguous(dma, 0, 0, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_vmo_create_contiguous(dma, (4u << 20) + 1, 0, &v), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_vmo_create_contiguous(role(BOOTSTRAP_ROLE_PCI), PAGE, 0, &v), ERR_WRONG_TYPE);
    ASSERT_OK(nb_vmo_create(PAGE, &v));
    EXPECT_STATUS(nb_vmo_phys(v, 0, &pa), ERR_NOT_SUPPORTED); // an ordinary vmo
    nb_handle_close(v);
}

static void physical_refusals(struct ktest *t)
{
    handle_t mmio = role(BOOTSTRAP_ROLE_MMIO), sub, v;
    EXPECT_STATUS(nb_vmo_create_physical(mmio, 0x100000, PAGE, NB_CACHE_UNCACHED, &v),
                  ERR_ACCESS_DENIED); // RAM
    EXPECT_STATUS(nb_vmo_create_physical(mmio, 0, 16 * PAGE, NB_CACHE_UNCACHED, &v),
                  ERR_ACCESS_DENIED); // RAM at 0
    EXPECT_STATUS(nb_vmo_create_physical(mmio, LAPIC, PAGE, NB_CACHE_UNCACHED, &v),
                  ERR_ACCESS_DENIED);
    EXPECT_STATUS(nb_vmo_create_physical(mmio, VIRTIO_MMIO + 8, PAGE, NB_CACHE_UNCACHED, &v),
                  ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_vmo_create_physical(mmio, VIRTIO_MMIO, 100, NB_CACHE_UNCACHED, &v),
                  ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_vmo_create_physical(mmio, VIRTIO_MMIO, PAGE, 7, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_vmo_create_physical(mmio, 1ull << 46, PAGE, NB_CACHE_UNCACHED, &v),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_vmo_create_physical(role(BOOTSTRAP_ROLE_DMA), VIRTIO_MMIO, PAGE, 0, &v),
                  ERR_WRONG_TYPE);
    // No MMIO resource over RAM or the LAPIC, even from the root.
    EXPECT_STATUS(nb_resource_create(mmio, NB_RESOURCE_MMIO, 0x100000, PAGE, &sub),
                  ERR_ACCESS_DENIED);
    EXPECT_STATUS(nb_resource_create(mmio, NB_RESOURCE_MMIO, LAPIC, PAGE, &sub), ERR_ACCESS_DENIED);
    // A resource for one page gives that page and nothing else.
    ASSERT_OK(nb_resource_create(mmio, NB_RESOURCE_MMIO, VIRTIO_MMIO, PAGE, &sub));
    EXPECT_STATUS(nb_vmo_create_physical(sub, VIRTIO_MMIO + PAGE, PAGE, 0, &v), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_vmo_create_physical(sub, VIRTIO_MMIO, 2 * PAGE, 0, &v), ERR_OUT_OF_RANGE);
    ASSERT_OK(nb_vmo_create_physical(sub, VIRTIO_MMIO, PAGE, NB_CACHE_UNCACHED, &v));
    uint64_t pa;
    char c;
    EXPECT_OK(nb_vmo_phys(v, 4, &pa));
    EXPECT_EQ(pa, VIRTIO_MMIO + 4);
    EXPECT_STATUS(nb_vmo_read(v, &c, 0, 1), ERR_NOT_SUPPORTED); // map it instead
    EXPECT_STATUS(nb_vmo_set_size(v, 2 * PAGE), ERR_NOT_SUPPORTED);
    nb_handle_close(v);
    nb_handle_close(sub);
}

static void physical_virtio_magic(struct ktest *t)
{
    handle_t v;
    uintptr_t addr = 0;
    if (have_pci(NULL))
        KTEST_SKIP("a PCI machine: no virtio-mmio transports at 0xfeb00000");
    ASSERT_OK(nb_vmo_create_physical(role(BOOTSTRAP_ROLE_MMIO), VIRTIO_MMIO, PAGE,
                                     NB_CACHE_UNCACHED, &v));
    ASSERT_OK(nb_vm_map(HANDLE_INVALID, v, 0, PAGE, NB_VM_READ, &addr));
    volatile uint32_t *regs = (volatile uint32_t *)addr;
    EXPECT_EQ(regs[0], VIRTIO_MAGIC); // MagicValue
    uint32_t version = regs[1];       // Version: 1 (legacy) or 2
    EXPECT_TRUE(version == 1 || version == 2);
    EXPECT_OK(nb_vm_unmap(HANDLE_INVALID, addr, PAGE));
    nb_handle_close(v);
}

static void pci_config(struct ktest *t)
{
    handle_t pci = role(BOOTSTRAP_ROLE_PCI), sub;
    uint32_t id, v;
    if (!have_pci(&id))
        KTEST_SKIP("no PCI (microvm)");
    EXPECT_EQ(id & 0xffff, 0x8086u);
    EXPECT_TRUE(id >> 16 == 0x29c0 || id >> 16 == 0x1237); // q35, pc
    ASSERT_OK(nb_pci_config_read(pci, HOST_BRIDGE_ID, 2, 2, &v));
    EXPECT_EQ(v, id >> 16);
    ASSERT_OK(nb_pci_config_read(pci, HOST_BRIDGE_ID, 0xb, 1, &v));
    EXPECT_EQ(v, 0x06u); // base class: bridge
    // A resource for device 1 only: 00:00.0 is outside it.
    ASSERT_OK(nb_resource_create(pci, NB_RESOURCE_PCI, NB_PCI_ID(0, 0, 1, 0), 8, &sub));
    EXPECT_STATUS(nb_pci_config_read(sub, HOST_BRIDGE_ID, 0, 4, &v), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_pci_config_write(sub, HOST_BRIDGE_ID, 0x40, 4, 0), ERR_OUT_OF_RANGE);
    EXPECT_OK(nb_pci_config_read(sub, NB_PCI_ID(0, 0, 1, 7), 0, 4, &v));
    nb_handle_close(sub);
}

static void pci_refusals(struct ktest *t)
{
    handle_t pci = role(BOOTSTRAP_ROLE_PCI);
    uint32_t v;
    EXPECT_STATUS(nb_pci_config_read(pci, HOST_BRIDGE_ID, 0, 3, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_pci_config_read(pci, HOST_BRIDGE_ID, 2, 4, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_pci_config_read(pci, HOST_BRIDGE_ID, 4096, 4, &v), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_pci_config_read(pci, NB_PCI_ID_LIMIT, 0, 4, &v), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_pci_config_write(pci, HOST_BRIDGE_ID, 1, 4, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_pci_config_read(role(BOOTSTRAP_ROLE_MMIO), HOST_BRIDGE_ID, 0, 4, &v),
                  ERR_WRONG_TYPE);
    EXPECT_STATUS(nb_pci_config_read(pci, HOST_BRIDGE_ID, 0, 4, NULL), ERR_INVALID_ARGS);
}

// An MSI object through the system call: the message, the object's rights
// and refusals (a device is not needed: nothing fires here).
static void msi_object(struct ktest *t)
{
    handle_t pci = role(BOOTSTRAP_ROLE_PCI), h, sub;
    struct nb_msi_message msg = {0};
    signals_t seen;
    ASSERT_OK(nb_interrupt_create_msi(pci, NB_PCI_ID(0, 0, 3, 0), 0, &h, &msg));
    EXPECT_EQ(msg.address & 0xfff00000ull, 0xfee00000ull);
    EXPECT_EQ(msg.data, msg.vector);
    EXPECT_TRUE(msg.vector >= 0x30 && msg.vector < 0xf0);
    EXPECT_STATUS(nb_object_wait_one(h, SIGNAL_SIGNALED, 0, &seen), ERR_TIMED_OUT);
    EXPECT_OK(nb_interrupt_ack(h));
    nb_handle_close(h);
    EXPECT_STATUS(nb_interrupt_create_msi(pci, 0, 1, &h, &msg), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_interrupt_create_msi(role(BOOTSTRAP_ROLE_DMA), 0, 0, &h, &msg),
                  ERR_WRONG_TYPE);
    ASSERT_OK(nb_resource_create(pci, NB_RESOURCE_PCI, NB_PCI_ID(0, 0, 1, 0), 1, &sub));
    EXPECT_STATUS(nb_interrupt_create_msi(sub, NB_PCI_ID(0, 0, 2, 0), 0, &h, &msg),
                  ERR_OUT_OF_RANGE);
    EXPECT_STATUS(nb_interrupt_create_msi(sub, NB_PCI_ID(0, 0, 1, 0), 0, &h, NULL),
                  ERR_INVALID_ARGS);
    nb_handle_close(sub);
}

static void info_cmdline_and_ecam(struct ktest *t)
{
    handle_t info = role(BOOTSTRAP_ROLE_INFO);
    char buf[2048];
    struct nb_pci_ecam ecam[8];
    uint64_t actual = 0;
    if (info == HANDLE_INVALID)
        KTEST_SKIP("no info handle");
    ASSERT_OK(nb_system_info(info, NB_INFO_CMDLINE, buf, sizeof(buf) - 1, &actual));
    EXPECT_TRUE(actual > 0 && actual < sizeof(buf));
    buf[actual < sizeof(buf) ? actual : 0] = 0;
    EXPECT_EQ(strlen(buf), actual); // text without a terminator
    EXPECT_TRUE(strstr(buf, "init.arg=") != NULL);
    ASSERT_OK(nb_system_info(info, NB_INFO_PCI_ECAM, ecam, sizeof(ecam), &actual));
    EXPECT_EQ(actual % sizeof(struct nb_pci_ecam), 0u);
    if (!have_pci(NULL))
        EXPECT_EQ(actual, 0u);
    for (size_t i = 0; i < actual / sizeof(ecam[0]); i++)
        EXPECT_TRUE(ecam[i].bus_start <= ecam[i].bus_end && ecam[i].base % PAGE == 0);
}

// getrandom(2) through the Linux personality: bytes that differ between
// calls, flags, a bad buffer; and NB_SYS_ENTROPY_ADD.
static void random_bytes(struct ktest *t)
{
    unsigned char a[48], b[48], zero[48] = {0};
    EXPECT_EQ(getrandom(a, sizeof(a), 0), (ssize_t)sizeof(a));
    EXPECT_EQ(getrandom(b, sizeof(b), GRND_NONBLOCK), (ssize_t)sizeof(b));
    EXPECT_NE(memcmp(a, b, sizeof(a)), 0);
    EXPECT_NE(memcmp(a, zero, sizeof(a)), 0);
    static unsigned char big[70000];
    EXPECT_EQ(getrandom(big, sizeof(big), GRND_RANDOM), (ssize_t)sizeof(big));
    EXPECT_NE(memcmp(big + 69000, zero, sizeof(zero)), 0);
    EXPECT_EQ(getrandom(a, 0, 0), 0);
    EXPECT_EQ(getrandom(a, sizeof(a), 0x80), -1);
    EXPECT_EQ(getrandom(a, sizeof(a), GRND_RANDOM | 0x4), -1); // with GRND_INSECURE
    EXPECT_EQ(getrandom((void *)16, sizeof(a), 0), -1);
    handle_t ent = role(BOOTSTRAP_ROLE_ENTROPY);
    if (ent == HANDLE_INVALID)
        KTEST_SKIP("no entropy handle");
    EXPECT_OK(nb_entropy_add(ent, "device bytes", 12, 8));
    EXPECT_OK(nb_entropy_add(ent, NULL, 0, 0));
    EXPECT_STATUS(nb_entropy_add(ent, "x", 1, 9), ERR_INVALID_ARGS); // 9 bits from one byte
    EXPECT_STATUS(nb_entropy_add(ent, big, 4097, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_entropy_add(ent, (void *)16, 8, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(nb_entropy_add(role(BOOTSTRAP_ROLE_DMA), "x", 1, 0), ERR_WRONG_TYPE);
}

KTEST_SUITE(devtest, KTEST_CASE(contiguous_vmo), KTEST_CASE(contiguous_refusals),
            KTEST_CASE(physical_refusals), KTEST_CASE(physical_virtio_magic),
            KTEST_CASE(pci_config), KTEST_CASE(pci_refusals), KTEST_CASE(msi_object),
            KTEST_CASE(info_cmdline_and_ecam), KTEST_CASE(random_bytes));

int main(int argc, char **argv)
{
    if (nb_bootstrap_load() != OK || role(BOOTSTRAP_ROLE_MMIO) == HANDLE_INVALID ||
        role(BOOTSTRAP_ROLE_PCI) == HANDLE_INVALID || role(BOOTSTRAP_ROLE_DMA) == HANDLE_INVALID) {
        fputs("devtest: needs the mmio, pci and dma handles (handles=mmio,pci,dma)\n", stderr);
        return 1;
    }
    return ktest_run(argc > 1 ? argv[1] : NULL);
}
