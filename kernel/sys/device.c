// System calls for user-space drivers: resources, I/O ports, interrupt
// objects and power (docs/DEVICES.md).
#include "sys/device.h"
#include "dev/pci.h"
#include "dev/power.h"
#include "lib/entropy.h"
#include "lib/fmt.h"
#include "lib/string.h"
#include "obj/interrupt.h"
#include "obj/resource.h"
#include "obj/vmo.h"
#include "sys/ioport.h"
#include "sys/process.h"
#include "sys/syscall.h"
#include "sys/usercopy.h"

static struct handle_table *table(void)
{
    return &process_current()->handles;
}

int64_t sys_resource_create(const uint64_t a[6])
{
    handle_t h;
    status_t st = resource_create(table(), (handle_t)a[0], (uint32_t)a[1], a[2], a[3], &h);
    // MMIO resources made from user space cover device memory only: none
    // over RAM or the kernel's own device pages (the kernel's whole-space
    // `mmio` role is the exception; vmo creation checks again).
    if (st == OK && a[1] == NB_RESOURCE_MMIO && (st = devmem_check(a[2], a[3])) != OK)
        handle_close(table(), h);
    return st == OK ? sys_put_handle(a[4], h) : st;
}

int64_t sys_resource_info(const uint64_t a[6])
{
    struct nb_resource_info info;
    status_t st = resource_info(table(), (handle_t)a[0], &info);
    return st == OK ? copy_to_user(a[1], &info, sizeof(info)) : st;
}

int64_t sys_ioport_enable(const uint64_t a[6])
{
    status_t st = resource_check_range(table(), (handle_t)a[0], NB_RESOURCE_IOPORT, a[1], a[2]);
    return st == OK ? ioport_enable(process_current(), a[1], a[2]) : st;
}

int64_t sys_interrupt_create(const uint64_t a[6])
{
    handle_t h;
    status_t st = resource_check_range(table(), (handle_t)a[0], NB_RESOURCE_IRQ, a[1], 1);
    if (st == OK)
        st = interrupt_create(table(), (uint32_t)a[1], (uint32_t)a[2], &h);
    return st == OK ? sys_put_handle(a[3], h) : st;
}

int64_t sys_interrupt_ack(const uint64_t a[6])
{
    return interrupt_ack(table(), (handle_t)a[0]);
}

int64_t sys_power(const uint64_t a[6])
{
    status_t st = resource_check(table(), (handle_t)a[0], NB_RESOURCE_POWER);
    if (st != OK)
        return st;
    if (a[1] != NB_POWER_OFF && a[1] != NB_POWER_REBOOT)
        return ERR_INVALID_ARGS;
    struct process *p = process_current();
    char who[NB_PROCESS_NAME_MAX + 24];
    ksnprintf(who, sizeof(who), "%s[%llu]", p->name, (unsigned long long)p->pid);
    power_request(a[1] == NB_POWER_REBOOT, who);
}

int64_t sys_vmo_create_physical(const uint64_t a[6])
{
    handle_t h;
    uint64_t pa = a[1], size = a[2];
    if (!size || !IS_ALIGNED(pa, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) ||
        a[3] > NB_CACHE_CACHED)
        return ERR_INVALID_ARGS;
    status_t st = resource_check_range(table(), (handle_t)a[0], NB_RESOURCE_MMIO, pa, size);
    if (st == OK)
        st = devmem_check(pa, size);
    if (st == OK)
        st = vmo_create_physical(table(), pa, size, (uint32_t)a[3], &h);
    return st == OK ? sys_put_handle(a[4], h) : st;
}

int64_t sys_vmo_create_contiguous(const uint64_t a[6])
{
    handle_t h;
    struct kobject *res;
    status_t st = resource_get(table(), (handle_t)a[0], NB_RESOURCE_DMA, &res);
    if (st != OK)
        return st;
    if (a[2] != 0)
        st = ERR_INVALID_ARGS; // no flags yet: memory comes from below 4 GiB when it can
    if (st == OK)
        st = vmo_create_contiguous(table(), res, a[1], &h);
    obj_unref(res);
    return st == OK ? sys_put_handle(a[3], h) : st;
}

int64_t sys_vmo_phys(const uint64_t a[6])
{
    paddr_t pa;
    status_t st = vmo_phys(table(), (handle_t)a[0], a[1], &pa);
    uint64_t v = pa;
    return st == OK ? copy_to_user(a[2], &v, sizeof(v)) : st;
}

// The PCI calls' common part: the id inside the resource's range.
static status_t pci_check(uint64_t h, uint64_t id)
{
    if (id >= NB_PCI_ID_LIMIT)
        return ERR_OUT_OF_RANGE;
    return resource_check_range(table(), (handle_t)h, NB_RESOURCE_PCI, id, 1);
}

int64_t sys_pci_config_read(const uint64_t a[6])
{
    uint32_t v;
    status_t st = pci_check(a[0], a[1]);
    if (st == OK)
        st = pci_config_read((uint32_t)a[1], (uint32_t)a[2], (uint32_t)a[3], &v);
    return st == OK ? copy_to_user(a[4], &v, sizeof(v)) : st;
}

int64_t sys_pci_config_write(const uint64_t a[6])
{
    status_t st = pci_check(a[0], a[1]);
    return st == OK
               ? pci_config_write((uint32_t)a[1], (uint32_t)a[2], (uint32_t)a[3], (uint32_t)a[4])
               : st;
}

int64_t sys_interrupt_create_msi(const uint64_t a[6])
{
    handle_t h;
    struct nb_msi_message msg;
    status_t st = pci_check(a[0], a[1]);
    if (st == OK)
        st = interrupt_create_msi(table(), (uint32_t)a[2], &h, &msg);
    if (st != OK)
        return st;
    st = copy_to_user(a[4], &msg, sizeof(msg));
    if (st != OK) {
        handle_close(table(), h);
        return st;
    }
    return sys_put_handle(a[3], h);
}

#define ENTROPY_ADD_MAX 4096 // bytes per call

int64_t sys_entropy_add(const uint64_t a[6])
{
    status_t st = resource_check(table(), (handle_t)a[0], NB_RESOURCE_ENTROPY);
    if (st != OK)
        return st;
    if (a[2] > ENTROPY_ADD_MAX || a[3] > a[2] * 8)
        return ERR_INVALID_ARGS; // more bits credited than the bytes hold
    uint8_t chunk[256];
    for (uint64_t done = 0; done < a[2];) {
        size_t n = a[2] - done < sizeof(chunk) ? (size_t)(a[2] - done) : sizeof(chunk);
        if ((st = copy_from_user(chunk, a[1] + done, n)) != OK)
            return st;
        // The credit goes with the last chunk, so a fault credits nothing.
        done += n;
        entropy_add(chunk, n, done == a[2] ? a[3] : 0);
    }
    memset(chunk, 0, sizeof(chunk));
    return OK;
}
