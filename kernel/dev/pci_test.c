// In-kernel tests of the driver mechanisms: the device-memory policy (RAM
// and the kernel's own device pages refused), PCI configuration reads of the
// host bridge (q35 through ECAM, pc through the ports), and the cache bits a
// mapping of a physical or contiguous vmo gets (read back from the page
// table).
#include "arch.h"
#include "dev/acpi.h"
#include "dev/pci.h"
#include "init/boot_info.h"
#include "lib/ktest.h"
#include "mm/mmu.h"
#include "mm/vm.h"
#include "nimbus/resource.h"
#include "obj/interrupt.h"
#include "obj/objtest.h"
#include "obj/signal.h"
#include "obj/vmo.h"

#define Q35_HOST_BRIDGE 0x29c08086u // Intel 82G33 (MCH), vendor in the low half
#define PC_HOST_BRIDGE  0x12378086u // Intel 440FX

static void devmem_refuses_ram_and_kernel_devices(struct ktest *t)
{
    bool ram_seen = false;
    for (size_t i = 0; i < boot_info.nmem; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        if (m->type != BOOT_MEM_RAM || m->size < PAGE_SIZE)
            continue;
        ram_seen = true;
        paddr_t base = ALIGN_UP(m->base, PAGE_SIZE);
        EXPECT_STATUS(devmem_check(base, PAGE_SIZE), ERR_ACCESS_DENIED);
        // A range that only ends inside RAM is refused too.
        if (base >= PAGE_SIZE)
            EXPECT_STATUS(devmem_check(base - PAGE_SIZE, 2 * PAGE_SIZE), ERR_ACCESS_DENIED);
    }
    EXPECT_TRUE(ram_seen);
    EXPECT_STATUS(devmem_check(0xfee00000ull, PAGE_SIZE), ERR_ACCESS_DENIED); // Local APIC
    EXPECT_STATUS(devmem_check(0xfed00000ull, 0x200000), ERR_ACCESS_DENIED);  // spans the LAPIC
    EXPECT_STATUS(devmem_check(UINT64_MAX - PAGE_SIZE + 1, 2 * PAGE_SIZE), ERR_OUT_OF_RANGE);
    const struct acpi_info *ai = acpi();
    if (ai && ai->present) {
        for (uint32_t i = 0; i < ai->madt.nioapics; i++)
            EXPECT_STATUS(
                devmem_check(ALIGN_DOWN(ai->madt.ioapics[i].address, PAGE_SIZE), PAGE_SIZE),
                ERR_ACCESS_DENIED);
        for (uint32_t i = 0; i < ai->nmcfg; i++)
            EXPECT_STATUS(devmem_check(ai->mcfg[i].base, PAGE_SIZE), ERR_ACCESS_DENIED);
    }
    // Not RAM, not the kernel's: microvm's virtio-mmio window, q35's and
    // pc's free space below the IOAPIC.
    EXPECT_OK(devmem_check(0xfeb00000ull, PAGE_SIZE));
}

static void pci_host_bridge_id(struct ktest *t)
{
    uint32_t v = 0;
    ASSERT_OK(pci_config_read(NB_PCI_ID(0, 0, 0, 0), 0, 4, &v));
    if (v == 0xffffffffu)
        KTEST_SKIP("no PCI (microvm)");
    EXPECT_EQ(v, pci_has_ecam() ? Q35_HOST_BRIDGE : PC_HOST_BRIDGE);
    uint32_t vendor = 0, device = 0, byte = 0;
    ASSERT_OK(pci_config_read(NB_PCI_ID(0, 0, 0, 0), 0, 2, &vendor));
    ASSERT_OK(pci_config_read(NB_PCI_ID(0, 0, 0, 0), 2, 2, &device));
    ASSERT_OK(pci_config_read(NB_PCI_ID(0, 0, 0, 0), 1, 1, &byte));
    EXPECT_EQ(vendor, 0x8086u);
    EXPECT_EQ(device, v >> 16);
    EXPECT_EQ(byte, 0x80u);
    // Class code 06 00 00 (host bridge) at 0x09..0x0b.
    ASSERT_OK(pci_config_read(NB_PCI_ID(0, 0, 0, 0), 8, 4, &v));
    EXPECT_EQ(v >> 8, 0x060000u);
    // An absent function reads as all ones.
    ASSERT_OK(pci_config_read(NB_PCI_ID(0, 0, 31, 7), 0, 4, &v));
    EXPECT_EQ(v, 0xffffffffu);
}

static void pci_bad_arguments(struct ktest *t)
{
    uint32_t v;
    uint32_t id = NB_PCI_ID(0, 0, 0, 0);
    EXPECT_STATUS(pci_config_read(id, 0, 3, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(pci_config_read(id, 0, 8, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(pci_config_read(id, 0, 0, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(pci_config_read(id, 2, 4, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(pci_config_read(id, 1, 2, &v), ERR_INVALID_ARGS);
    EXPECT_STATUS(pci_config_write(id, 3, 2, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(pci_config_read(id, PCI_ECAM_CONFIG_SIZE, 4, &v), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(pci_config_read(NB_PCI_ID_LIMIT, 0, 4, &v), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(pci_config_read(NB_PCI_ID(7, 0, 0, 0), 0, 4, &v), ERR_OUT_OF_RANGE);
    if (!pci_has_ecam())
        EXPECT_STATUS(pci_config_read(id, PCI_LEGACY_CONFIG_SIZE, 4, &v), ERR_OUT_OF_RANGE);
    else
        EXPECT_OK(pci_config_read(id, PCI_LEGACY_CONFIG_SIZE, 4, &v)); // extended space
}

// Maps vmo in a fresh address space, touches its first page and returns the
// page-table flags.
static status_t mapped_flags(struct vm_aspace *as, struct vmo *v, unsigned prot, vaddr_t *va,
                             unsigned *flags, paddr_t *pa)
{
    status_t st = vm_map(as, v, 0, PAGE_SIZE, prot, false, va);
    if (st == OK)
        st = vm_fault(as, *va, VM_READ);
    if (st == OK)
        st = arch_mmu_query(as->root, *va, pa, flags);
    return st;
}

static void vm_maps_device_memory_with_cache_bits(struct ktest *t)
{
    struct vm_aspace *as;
    struct vmo *uc, *wc, *dma;
    vaddr_t va;
    unsigned flags;
    paddr_t pa, dpa;

    ASSERT_OK(vm_aspace_create(&as));
    ASSERT_OK(vmo_create_physical_kernel(0xfeb00000ull, PAGE_SIZE, NB_CACHE_UNCACHED, &uc));
    ASSERT_OK(vmo_create_physical_kernel(0xfeb00000ull, PAGE_SIZE, NB_CACHE_WRITE_COMBINING, &wc));
    ASSERT_OK(vmo_create_contiguous_kernel(2 * PAGE_SIZE, &dma));

    EXPECT_OK(mapped_flags(as, uc, VM_READ | VM_WRITE, &va, &flags, &pa));
    EXPECT_EQ(pa, 0xfeb00000ull);
    EXPECT_TRUE(flags & VM_UNCACHED);
    EXPECT_FALSE(flags & VM_WRITE_COMBINING);
    // vm_protect keeps the cache policy.
    EXPECT_OK(vm_protect(as, va, PAGE_SIZE, VM_READ));
    EXPECT_OK(arch_mmu_query(as->root, va, &pa, &flags));
    EXPECT_TRUE(flags & VM_UNCACHED);
    EXPECT_FALSE(flags & VM_WRITE);

    EXPECT_OK(mapped_flags(as, wc, VM_READ | VM_WRITE, &va, &flags, &pa));
    EXPECT_TRUE(flags & (VM_WRITE_COMBINING | VM_UNCACHED)); // WC, or UC without PAT
    EXPECT_FALSE((flags & VM_WRITE_COMBINING) && (flags & VM_UNCACHED));

    EXPECT_OK(mapped_flags(as, dma, VM_READ | VM_WRITE, &va, &flags, &pa));
    EXPECT_OK(vmo_phys_kernel(dma, 0, &dpa));
    EXPECT_EQ(pa, dpa);
    EXPECT_FALSE(flags & (VM_UNCACHED | VM_WRITE_COMBINING));

    vm_aspace_destroy(as);
    obj_unref(vmo_obj(uc));
    obj_unref(vmo_obj(wc));
    obj_unref(vmo_obj(dma));
}

static struct handle_table tab;

// An MSI object: the message names the boot CPU's APIC and the vector; a
// self-IPI with the vector (what the device's write does) signals it; ack
// clears; the last close frees the vector.
static void msi_fire_ack_free(struct ktest *t)
{
    struct obj_baseline b;
    struct nb_msi_message msg, msg2;
    handle_t h, h2;
    signals_t seen = 0;

    objtest_begin(&b);
    ASSERT_OK(handle_table_init(&tab, 8));
    EXPECT_STATUS(interrupt_create_msi(&tab, 1, &h, &msg), ERR_INVALID_ARGS);
    ASSERT_OK(interrupt_create_msi(&tab, 0, &h, &msg));
    EXPECT_EQ(msg.address, 0xfee00000ull | ((uint64_t)arch_cpu_hw_id(0) << 12));
    EXPECT_EQ(msg.data, msg.vector);
    EXPECT_TRUE(msg.vector >= 0x30 && msg.vector < 0xf0);
    EXPECT_STATUS(obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(0), &seen),
                  ERR_TIMED_OUT);
    ASSERT_OK(arch_irq_raise_self(msg.vector));
    EXPECT_OK(obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(2000), &seen));
    EXPECT_TRUE(seen & SIGNAL_SIGNALED);
    EXPECT_OK(interrupt_ack(&tab, h));
    EXPECT_STATUS(obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(0), &seen),
                  ERR_TIMED_OUT);
    ASSERT_OK(arch_irq_raise_self(msg.vector)); // re-armed by the ack
    EXPECT_OK(obj_wait_one(&tab, h, SIGNAL_SIGNALED, objtest_deadline_ms(2000), &seen));
    // A second object gets another vector; after the first closes, its
    // vector is free again (first fit gives it back).
    ASSERT_OK(interrupt_create_msi(&tab, 0, &h2, &msg2));
    EXPECT_NE(msg2.vector, msg.vector);
    EXPECT_OK(handle_close(&tab, h2));
    EXPECT_OK(handle_close(&tab, h));
    ASSERT_OK(interrupt_create_msi(&tab, 0, &h, &msg2));
    EXPECT_EQ(msg2.vector, msg.vector);
    handle_table_destroy(&tab);
    objtest_expect_baseline(t, &b);
}

KTEST_SUITE(devmem, KTEST_CASE(devmem_refuses_ram_and_kernel_devices),
            KTEST_CASE(pci_host_bridge_id), KTEST_CASE(pci_bad_arguments),
            KTEST_CASE(vm_maps_device_memory_with_cache_bits), KTEST_CASE(msi_fire_ack_free));
