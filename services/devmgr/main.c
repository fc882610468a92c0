// devmgr: the device manager (docs/DEVICES.md, "Device manager"). Finds
// the devices (virtio-mmio windows from the kernel command line and the
// ACPI DSDT, PCI functions through the pci resource), starts the driver /etc/drivers names
// for each with only that device's capabilities, restarts drivers that end,
// and serves the devmgr protocol (proto/devmgr.nidl) to its clients.
//
// Bootstrap roles: initrd, vmex (drivers' code), mmio, irq, pci, dma (the
// broad resources init has), entropy (optional: for rng drivers), log
// (optional), info (the command line, DSDT, ECAM), service (its service channel:
// `connect` messages bring clients).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devmgr.h"
#include "nb/bootstrap.h"
#include "nb/debug.h"
#include "nb/initrd.h"
#include "nb/loop.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"
#include "nimbus/resource.h"
#include "nimbus/sysinfo.h"
#include "proto/devmgr.h"

#define DRIVERS_FILE      "/etc/drivers"
#define PAGE              4096ull
#define DEVICES_MAX       (VMMIO_MAX + PCI_MAX_FUNCS)
#define BACKOFF_FIRST_NS  (100 * NB_NSEC_PER_MSEC)
#define BACKOFF_MAX_NS    (10 * NB_NSEC_PER_SEC)
#define STABLE_NS         (10 * NB_NSEC_PER_SEC) // running this long resets the count
#define RESTARTS_MAX      5                      // in a row, then the driver has failed
#define CMDLINE_MAX       4096
#define SPAWN_HANDLES     (PCI_MAX_BARS + 8)
#define REQUESTS_PER_CALL 16

struct device {
    uint32_t bus; // DEVMGR_BUS_*
    char location[24];
    char class_name[16];
    uint32_t vendor, device;
    const struct driver_rule *rule;
    struct vmmio_window win;       // virtio-mmio
    const struct pci_function *pf; // pci
    // The driver.
    handle_t proc;
    handle_t service; // client end of the driver's service channel
    handle_t dma;     // the DMA resource derived for the driver (release_dma)
    struct nb_wait exit_wait;
    struct nb_loop_timer restart;
    uint32_t state, restarts, failures;
    uint64_t started_ns;
};

struct client {
    struct nb_channel_watch watch;
    struct client *next;
};

static struct {
    struct nb_loop loop;
    struct nb_initrd rd;
    struct driver_table drivers;
    handle_t mmio, irq, pci, dma, entropy, log, info;
    struct device devs[DEVICES_MAX];
    size_t ndevs;
    struct pci_function pci_fns[PCI_MAX_FUNCS];
    size_t npci;
    struct client *clients;
    uint64_t buf[(DEVMGR_MAX_MSG_BYTES + 7) / 8];
    handle_t hbuf[DEVMGR_MAX_MSG_HANDLES + 1];
} dm;

static void start_driver(struct device *d);

// ---- Resources ----

static status_t derive(handle_t parent, uint32_t kind, uint64_t base, uint64_t size, handle_t *out)
{
    if (parent == HANDLE_INVALID)
        return ERR_NOT_FOUND;
    return nb_resource_create(parent, kind, base, size, out);
}

// The whole pages holding [base, base + size).
static void page_span(uint64_t base, uint64_t size, uint64_t *pbase, uint64_t *psize)
{
    *pbase = base & ~(PAGE - 1);
    *psize = ((base + size + PAGE - 1) & ~(PAGE - 1)) - *pbase;
}

// ---- Discovery ----

// Maps the pages of a virtio-mmio window uncached (NB_VM_READ or
// NB_VM_READ | NB_VM_WRITE); *regs is the window's first register, and
// nb_vm_unmap(HANDLE_INVALID, *addr, *span) undoes it.
static status_t map_window(const struct vmmio_window *w, uint32_t prot, uintptr_t *addr,
                           uint64_t *span, volatile uint32_t **regs)
{
    uint64_t pbase;
    handle_t res, vmo;
    page_span(w->base, w->size, &pbase, span);
    status_t s = derive(dm.mmio, NB_RESOURCE_MMIO, pbase, *span, &res);
    if (s == OK) {
        s = nb_vmo_create_physical(res, pbase, *span, NB_CACHE_UNCACHED, &vmo);
        nb_handle_close(res);
    }
    if (s == OK) {
        s = nb_vm_map(HANDLE_INVALID, vmo, 0, *span, prot, addr);
        nb_handle_close(vmo);
    }
    if (s == OK)
        *regs = (volatile uint32_t *)(*addr + (w->base - pbase));
    return s;
}

static void probe_mmio_window(const struct vmmio_window *w, unsigned *empty)
{
    uint64_t psize;
    uintptr_t addr = 0;
    volatile uint32_t *regs;
    status_t s = map_window(w, NB_VM_READ, &addr, &psize, &regs);
    if (s != OK) {
        nb_logf("devmgr: virtio-mmio %#llx: cannot map it: %s", (unsigned long long)w->base,
                status_str(s));
        return;
    }
    struct vmmio_probe p;
    s = vmmio_probe(regs, &p);
    nb_vm_unmap(HANDLE_INVALID, addr, psize);
    if (s != OK) {
        nb_logf("devmgr: virtio-mmio %#llx: %s", (unsigned long long)w->base,
                s == ERR_NOT_FOUND ? "no virtio magic" : "unknown version");
        return;
    }
    if (!p.device_id) {
        (*empty)++;
        return;
    }
    if (dm.ndevs == DEVICES_MAX)
        return;
    struct device *d = &dm.devs[dm.ndevs++];
    d->bus = DEVMGR_BUS_VIRTIO_MMIO;
    d->win = *w;
    d->vendor = p.vendor_id;
    d->device = p.device_id;
    snprintf(d->location, sizeof(d->location), "%#llx", (unsigned long long)w->base);
    const char *name = virtio_type_name(p.device_id);
    if (name)
        snprintf(d->class_name, sizeof(d->class_name), "%s", name);
    else
        snprintf(d->class_name, sizeof(d->class_name), "virtio-%u", p.device_id);
    d->rule = drivers_match_mmio(&dm.drivers, p.device_id);
}

// The command line's virtio_mmio.device= windows (QEMU microvm with
// acpi=off); returns how many were stored in wins.
static size_t cmdline_windows(struct vmmio_window *wins, size_t max)
{
    static char cmdline[CMDLINE_MAX];
    uint64_t actual = 0;
    status_t s = nb_system_info(dm.info, NB_INFO_CMDLINE, cmdline, sizeof(cmdline) - 1, &actual);
    if (s != OK) {
        nb_logf("devmgr: no kernel command line: %s", status_str(s));
        return 0;
    }
    cmdline[actual < sizeof(cmdline) ? actual : sizeof(cmdline) - 1] = '\0';
    unsigned bad;
    char err[DEVMGR_ERR_MAX];
    size_t n = vmmio_parse_cmdline(cmdline, wins, max, &bad, err, sizeof(err));
    if (bad)
        nb_logf("devmgr: %u bad virtio_mmio.device entries (last: %s)", bad, err);
    return n;
}

// The DSDT's "LNRO0005" devices (QEMU microvm with ACPI, its default);
// returns how many windows were stored in wins.
static size_t acpi_windows(struct vmmio_window *wins, size_t max)
{
    uint64_t actual = 0;
    status_t s = nb_system_info(dm.info, NB_INFO_ACPI_DSDT, NULL, 0, &actual);
    if (s == ERR_NOT_FOUND || (s == OK && actual == 0))
        return 0; // no ACPI (or no DSDT): nothing to say
    if (s != ERR_BUFFER_TOO_SMALL || actual > ACPI_DSDT_MAX) {
        nb_logf("devmgr: ACPI DSDT unavailable: %s", status_str(s));
        return 0;
    }
    uint8_t *dsdt = malloc(actual);
    if (!dsdt)
        return 0;
    size_t n = 0;
    s = nb_system_info(dm.info, NB_INFO_ACPI_DSDT, dsdt, actual, &actual);
    if (s == OK) {
        struct acpi_vmmio_scan sc;
        char err[DEVMGR_ERR_MAX];
        s = acpi_dsdt_vmmio(dsdt, actual, wins, max, &n, &sc, err, sizeof(err));
        if (s != OK || err[0])
            nb_logf("devmgr: ACPI: %s", err);
        if (sc.devices)
            nb_logf("devmgr: ACPI DSDT: %u virtio-mmio devices (%u unusable, %u past the limit)",
                    sc.devices, sc.bad, sc.dropped);
    } else {
        nb_logf("devmgr: ACPI DSDT unreadable: %s", status_str(s));
    }
    free(dsdt);
    return n;
}

static void discover_mmio(void)
{
    static struct vmmio_window wins[VMMIO_MAX], acpi[VMMIO_MAX];
    if (dm.info == HANDLE_INVALID) {
        nb_logf("devmgr: no 'info' handle: no virtio-mmio devices from the command line or ACPI");
        return;
    }
    size_t ncl = cmdline_windows(wins, VMMIO_MAX);
    size_t na = acpi_windows(acpi, VMMIO_MAX);
    struct vmmio_merge_stats st = {0};
    size_t n = vmmio_merge(wins, ncl, VMMIO_MAX, acpi, na, &st);
    if (st.conflicts || st.dropped)
        nb_logf("devmgr: ACPI virtio-mmio windows dropped: %u clash with the command line's, "
                "%u past %u",
                st.conflicts, st.dropped, VMMIO_MAX);
    if (!n)
        return;
    unsigned empty = 0;
    for (size_t i = 0; i < n; i++)
        probe_mmio_window(&wins[i], &empty);
    nb_logf("devmgr: %zu virtio-mmio windows, %u empty (%zu from the command line, %zu more "
            "from ACPI)",
            n, empty, ncl, n - ncl);
}

static status_t pci_read(void *ctx, uint32_t id, uint32_t off, uint32_t width, uint32_t *v)
{
    (void)ctx;
    return nb_pci_config_read(dm.pci, id, off, width, v);
}

static status_t pci_write(void *ctx, uint32_t id, uint32_t off, uint32_t width, uint32_t v)
{
    (void)ctx;
    return nb_pci_config_write(dm.pci, id, off, width, v);
}

static void discover_pci(void)
{
    struct pci_access a = {.read = pci_read, .write = pci_write};
    struct nb_pci_ecam ecam[4];
    uint64_t actual = 0;
    uint32_t v;
    if (dm.pci == HANDLE_INVALID) {
        nb_logf("devmgr: no 'pci' handle: PCI not scanned");
        return;
    }
    status_t s = nb_pci_config_read(dm.pci, NB_PCI_ID(0, 0, 0, 0), 0, 4, &v);
    if (s != OK) {
        nb_logf("devmgr: no PCI configuration access: %s", status_str(s));
        return;
    }
    size_t necam = 0;
    if (dm.info != HANDLE_INVALID &&
        nb_system_info(dm.info, NB_INFO_PCI_ECAM, ecam, sizeof(ecam), &actual) == OK)
        necam = actual / sizeof(ecam[0]);
    if (!necam) {
        dm.npci = pci_enumerate(&a, 0, 0, dm.pci_fns, PCI_MAX_FUNCS);
    } else {
        for (size_t i = 0; i < necam && dm.npci < PCI_MAX_FUNCS; i++)
            dm.npci += pci_enumerate(&a, ecam[i].segment, ecam[i].bus_start, dm.pci_fns + dm.npci,
                                     PCI_MAX_FUNCS - dm.npci);
    }
    for (size_t i = 0; i < dm.npci && dm.ndevs < DEVICES_MAX; i++) {
        const struct pci_function *f = &dm.pci_fns[i];
        struct device *d = &dm.devs[dm.ndevs++];
        d->bus = DEVMGR_BUS_PCI;
        d->pf = f;
        d->vendor = f->vendor;
        d->device = f->device;
        pci_format_id(f->id, d->location, sizeof(d->location));
        uint32_t type = virtio_pci_type(f->vendor, f->device, f->subsys);
        const char *name = type ? virtio_type_name(type) : NULL;
        snprintf(d->class_name, sizeof(d->class_name), "%s",
                 name ? name : pci_class_name(f->class_code));
        d->rule = drivers_match_pci(&dm.drivers, f->vendor, f->device, f->subsys);
    }
    nb_logf("devmgr: %zu PCI functions (%s)", dm.npci,
            necam ? "ECAM from ACPI MCFG" : "configuration ports 0xcf8/0xcfc");
}

// ---- Drivers ----

static void close_all(handle_t *hs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        nb_handle_close(hs[i]);
}

static status_t add_dup(handle_t h, uint32_t role, uint32_t *roles, handle_t *hs, uint32_t *n)
{
    if (h == HANDLE_INVALID)
        return OK;
    status_t s = nb_handle_duplicate(h, RIGHT_SAME_RIGHTS, &hs[*n]);
    if (s == OK)
        roles[(*n)++] = role;
    return s;
}

static status_t add_derived(handle_t parent, uint32_t kind, uint64_t base, uint64_t size,
                            uint32_t role, uint32_t *roles, handle_t *hs, uint32_t *n)
{
    status_t s = derive(parent, kind, base, size, &hs[*n]);
    if (s == OK)
        roles[(*n)++] = role;
    return s;
}

// Stops d's device from doing DMA: a virtio-mmio device is reset (status
// 0), a PCI function loses bus mastering (the next driver turns it on
// again). Its dead driver may have left requests in flight.
static status_t quiesce(struct device *d)
{
    if (d->bus == DEVMGR_BUS_VIRTIO_MMIO) {
        uintptr_t addr;
        uint64_t span;
        volatile uint32_t *regs;
        status_t s = map_window(&d->win, NB_VM_READ | NB_VM_WRITE, &addr, &span, &regs);
        if (s != OK)
            return s;
        vmmio_reset(regs);
        nb_vm_unmap(HANDLE_INVALID, addr, span);
        return OK;
    }
    uint32_t cmd;
    status_t s = nb_pci_config_read(dm.pci, d->pf->id, PCI_COMMAND, 2, &cmd);
    if (s == OK)
        s = nb_pci_config_write(dm.pci, d->pf->id, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MASTER);
    return s;
}

// Frees the DMA memory d's dead driver left: the device first stops using
// it. If it cannot be stopped, the memory stays set aside for good (a
// device writing into reused pages would be far worse than the leak).
static void release_dma(struct device *d)
{
    if (d->dma == HANDLE_INVALID)
        return;
    status_t s = quiesce(d);
    if (s != OK) {
        nb_logf("devmgr: %s %s: cannot stop the device: %s; its DMA memory stays set aside",
                d->class_name, d->location, status_str(s));
        return; // d->dma is kept: its quarantine is never freed
    }
    nb_handle_close(d->dma);
    d->dma = HANDLE_INVALID;
}

// The handles of d's driver: only its device's resources.
static status_t driver_handles(struct device *d, uint32_t *roles, handle_t *hs, uint32_t *n,
                               const char **why)
{
    status_t s = OK;
    uint64_t pbase, psize;
    *n = 0;
    if (d->bus == DEVMGR_BUS_VIRTIO_MMIO) {
        page_span(d->win.base, d->win.size, &pbase, &psize);
        *why = "mmio resource";
        s = add_derived(dm.mmio, NB_RESOURCE_MMIO, pbase, psize, BOOTSTRAP_ROLE_MMIO, roles, hs, n);
        if (s == OK) {
            *why = "irq resource";
            s = add_derived(dm.irq, NB_RESOURCE_IRQ, d->win.irq, 1, BOOTSTRAP_ROLE_IRQ, roles, hs,
                            n);
        }
    } else {
        *why = "pci resource";
        s = add_derived(dm.pci, NB_RESOURCE_PCI, d->pf->id, 1, BOOTSTRAP_ROLE_PCI, roles, hs, n);
        for (unsigned i = 0; s == OK && i < PCI_MAX_BARS; i++) {
            const struct pci_bar *b = &d->pf->bars[i];
            if (!b->size || b->io || !b->base)
                continue;
            page_span(b->base, b->size, &pbase, &psize);
            *why = "mmio resource of a BAR";
            s = add_derived(dm.mmio, NB_RESOURCE_MMIO, pbase, psize, BOOTSTRAP_ROLE_MMIO, roles, hs,
                            n);
        }
    }
    if (s == OK && dm.dma != HANDLE_INVALID) {
        // A DMA resource of the driver's own: what its dead vmos leave in
        // quarantine is freed when devmgr closes it, after quiescing the
        // device (driver_ended).
        *why = "dma";
        s = derive(dm.dma, NB_RESOURCE_DMA, 0, 0, &d->dma);
        if (s == OK)
            s = add_dup(d->dma, BOOTSTRAP_ROLE_DMA, roles, hs, n);
    }
    if (s == OK && !strcmp(d->class_name, "rng")) {
        *why = "entropy";
        s = add_dup(dm.entropy, BOOTSTRAP_ROLE_ENTROPY, roles, hs, n);
    }
    if (s == OK) {
        *why = "log";
        s = add_dup(dm.log, BOOTSTRAP_ROLE_LOG, roles, hs, n);
    }
    if (s != OK) {
        close_all(hs, *n);
        release_dma(d);
    }
    return s;
}

static uint64_t backoff_ns(uint32_t failures)
{
    uint64_t ns = BACKOFF_FIRST_NS;
    while (failures-- && ns < BACKOFF_MAX_NS)
        ns *= 2;
    return ns < BACKOFF_MAX_NS ? ns : BACKOFF_MAX_NS;
}

static void driver_ended(struct device *d, const char *how, bool permanent)
{
    nb_logf("devmgr: %s (%s %s) %s", d->rule->path, d->class_name, d->location, how);
    release_dma(d);
    if (d->service != HANDLE_INVALID) {
        nb_handle_close(d->service);
        d->service = HANDLE_INVALID;
    }
    if (!permanent && nb_now() - d->started_ns >= STABLE_NS)
        d->failures = 0;
    if (permanent || d->failures >= RESTARTS_MAX) {
        d->state = DEVMGR_STATE_FAILED;
        if (!permanent)
            nb_logf("devmgr: %s (%s): giving up after %u restarts", d->rule->path, d->location,
                    d->failures);
        return;
    }
    uint64_t delay = backoff_ns(d->failures++);
    status_t s = nb_loop_timer_start(&dm.loop, &d->restart, nb_deadline_after(delay));
    if (s != OK) {
        nb_logf("devmgr: %s: cannot schedule a restart: %s", d->rule->path, status_str(s));
        d->state = DEVMGR_STATE_FAILED;
        return;
    }
    d->state = DEVMGR_STATE_RESTARTING;
    nb_logf("devmgr: %s (%s): restart %u of %u in %llu ms", d->rule->path, d->location, d->failures,
            RESTARTS_MAX, (unsigned long long)(delay / NB_NSEC_PER_MSEC));
}

static void on_driver_exit(struct nb_loop *loop, struct nb_wait *w, status_t status,
                           signals_t observed)
{
    struct device *d = w->ctx;
    struct nb_process_info info;
    char how[160];
    (void)loop;
    (void)status;
    (void)observed;
    if (nb_process_info(d->proc, &info) == OK)
        nb_process_describe(&info, how, sizeof(how));
    else
        snprintf(how, sizeof(how), "ended");
    nb_handle_close(d->proc);
    d->proc = HANDLE_INVALID;
    driver_ended(d, how, false);
}

static void on_restart_timer(struct nb_loop *loop, struct nb_loop_timer *t)
{
    (void)loop;
    struct device *d = t->ctx;
    d->restarts++;
    start_driver(d);
}

static void start_driver(struct device *d)
{
    uint32_t roles[SPAWN_HANDLES];
    handle_t hs[SPAWN_HANDLES];
    char a1[24], a2[24], a3[24], a4[24], name[DRIVER_PATH_MAX + 1];
    const char *argv[6] = {d->rule->path, NULL};
    const char *why = "";
    handle_t server, client;
    const void *elf;
    size_t elf_size;
    uint32_t n = 0;
    char how[120];

    status_t s = nb_initrd_find(&dm.rd, d->rule->path, &elf, &elf_size);
    if (s != OK) {
        snprintf(how, sizeof(how), "could not start: %s (not in the initrd)", status_str(s));
        driver_ended(d, how, true);
        return;
    }
    if (d->bus == DEVMGR_BUS_VIRTIO_MMIO) {
        snprintf(a1, sizeof(a1), "--mmio");
        snprintf(a2, sizeof(a2), "%#llx", (unsigned long long)d->win.base);
        snprintf(a3, sizeof(a3), "--irq");
        snprintf(a4, sizeof(a4), "%u", d->win.irq);
        argv[1] = a1, argv[2] = a2, argv[3] = a3, argv[4] = a4, argv[5] = NULL;
    } else {
        snprintf(a1, sizeof(a1), "--pci");
        snprintf(a2, sizeof(a2), "%s", d->location);
        argv[1] = a1, argv[2] = a2, argv[3] = NULL;
    }
    if ((s = driver_handles(d, roles, hs, &n, &why)) != OK) {
        snprintf(how, sizeof(how), "could not start: %s: %s", why, status_str(s));
        driver_ended(d, how, s == ERR_NOT_FOUND);
        return;
    }
    if ((s = nb_channel_create(0, &server, &client)) != OK) {
        close_all(hs, n);
        snprintf(how, sizeof(how), "could not start: channel: %s", status_str(s));
        driver_ended(d, how, false);
        return;
    }
    roles[n] = BOOTSTRAP_ROLE_SERVICE;
    hs[n++] = server;
    const char *base = strrchr(d->rule->path, '/');
    snprintf(name, sizeof(name), "%s", base ? base + 1 : d->rule->path);
    struct nb_spawn sp = {.name = name,
                          .elf = elf,
                          .elf_size = elf_size,
                          .argv = argv,
                          .roles = roles,
                          .handles = hs,
                          .nhandles = n};
    d->started_ns = nb_now();
    if ((s = nb_spawn(&sp, &d->proc)) != OK) {
        nb_handle_close(client);
        snprintf(how, sizeof(how), "could not start: %s", status_str(s));
        driver_ended(d, how, false);
        return;
    }
    d->exit_wait = (struct nb_wait){
        .object = d->proc, .signals = SIGNAL_TERMINATED, .fn = on_driver_exit, .ctx = d};
    if ((s = nb_wait_start(&dm.loop, &d->exit_wait)) != OK) {
        nb_task_kill(d->proc);
        nb_handle_close(d->proc);
        nb_handle_close(client);
        d->proc = HANDLE_INVALID;
        snprintf(how, sizeof(how), "could not be watched: %s", status_str(s));
        driver_ended(d, how, false);
        return;
    }
    d->service = client;
    d->state = DEVMGR_STATE_RUNNING;
    nb_logf("devmgr: started %s for %s %s", d->rule->path, d->class_name, d->location);
}

// ---- The devmgr protocol ----

static status_t op_get(void *ctx, uint32_t index, struct nb_msg_in *reply)
{
    (void)ctx;
    if (index >= dm.ndevs)
        return devmgr_get_response_encode(reply, ERR_OUT_OF_RANGE, (uint32_t)dm.ndevs, 0, 0, 0, 0,
                                          0, "", 0, "", 0, "", 0);
    const struct device *d = &dm.devs[index];
    const char *drv = d->rule ? d->rule->path : "";
    return devmgr_get_response_encode(reply, OK, (uint32_t)dm.ndevs, d->bus, d->vendor, d->device,
                                      d->state, d->restarts, d->location,
                                      (uint32_t)strlen(d->location), d->class_name,
                                      (uint32_t)strlen(d->class_name), drv, (uint32_t)strlen(drv));
}

static status_t op_open(void *ctx, const char *cls, uint32_t cls_len, uint32_t index,
                        struct nb_msg_in *reply)
{
    (void)ctx;
    struct device *d = NULL;
    uint32_t seen = 0;
    for (size_t i = 0; i < dm.ndevs && !d; i++)
        if (strlen(dm.devs[i].class_name) == cls_len &&
            !memcmp(dm.devs[i].class_name, cls, cls_len) && seen++ == index)
            d = &dm.devs[i];
    if (!d)
        return devmgr_open_response_encode(reply, ERR_NOT_FOUND, HANDLE_INVALID);
    if (d->state != DEVMGR_STATE_RUNNING || d->service == HANDLE_INVALID)
        return devmgr_open_response_encode(reply, ERR_BAD_STATE, HANDLE_INVALID);
    handle_t mine, theirs;
    status_t s = nb_channel_create(0, &mine, &theirs);
    if (s != OK)
        return devmgr_open_response_encode(reply, s, HANDLE_INVALID);
    uint64_t bytes[DEVMGR_CONNECT_REQUEST_MAX_BYTES / 8 + 1];
    handle_t h[1];
    struct nb_msg_in m = {
        .bytes = bytes, .handles = h, .bytes_cap = sizeof(bytes), .handles_cap = 1};
    if ((s = devmgr_connect_request_encode(&m, theirs)) == OK) {
        struct nb_msg_out out = {
            .bytes = m.bytes, .handles = m.handles, .nbytes = m.nbytes, .nhandles = m.nhandles};
        s = nb_channel_write(d->service, &out);
    }
    if (s != OK) {
        nb_handle_close(theirs);
        nb_handle_close(mine);
        return devmgr_open_response_encode(reply, s, HANDLE_INVALID);
    }
    return devmgr_open_response_encode(reply, OK, mine);
}

static status_t add_client(handle_t ch);

static status_t op_connect(void *ctx, handle_t client)
{
    (void)ctx;
    status_t s = add_client(client);
    if (s != OK) {
        nb_logf("devmgr: client refused: %s", status_str(s));
        nb_handle_close(client);
    }
    return OK;
}

static const struct devmgr_server_ops server_ops = {
    .get = op_get, .open = op_open, .connect = op_connect};

static void serve(handle_t ch)
{
    for (int i = 0; i < REQUESTS_PER_CALL; i++) {
        struct nb_msg_in req = {.bytes = dm.buf,
                                .handles = dm.hbuf,
                                .bytes_cap = sizeof(dm.buf),
                                .handles_cap = DEVMGR_MAX_MSG_HANDLES + 1};
        status_t s = nb_channel_read(ch, &req);
        if (s != OK)
            return;
        uint64_t rbytes[(DEVMGR_MAX_MSG_BYTES + 7) / 8];
        handle_t rh[DEVMGR_MAX_MSG_HANDLES];
        struct nb_msg_in reply = {.bytes = rbytes,
                                  .handles = rh,
                                  .bytes_cap = sizeof(rbytes),
                                  .handles_cap = DEVMGR_MAX_MSG_HANDLES};
        s = devmgr_dispatch(&server_ops, NULL, &req, &reply);
        if (s != OK) {
            close_all(req.handles, req.nhandles);
            nb_logf("devmgr: request refused: %s", status_str(s));
            continue;
        }
        if (!reply.nbytes)
            continue; // one-way (connect)
        struct nb_msg_out out = {.bytes = reply.bytes,
                                 .handles = reply.handles,
                                 .nbytes = reply.nbytes,
                                 .nhandles = reply.nhandles};
        if (nb_channel_write(ch, &out) != OK)
            close_all(reply.handles, reply.nhandles);
    }
}

static void on_client_readable(struct nb_loop *loop, struct nb_channel_watch *w)
{
    (void)loop;
    serve(w->channel);
}

static void on_client_closed(struct nb_loop *loop, struct nb_channel_watch *w)
{
    (void)loop;
    struct client *c = w->ctx;
    for (struct client **p = &dm.clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    nb_handle_close(w->channel);
    free(c);
}

static status_t add_client(handle_t ch)
{
    struct client *c = calloc(1, sizeof(*c));
    if (!c)
        return ERR_NO_MEMORY;
    c->watch = (struct nb_channel_watch){.channel = ch,
                                         .on_readable = on_client_readable,
                                         .on_peer_closed = on_client_closed,
                                         .ctx = c};
    status_t s = nb_channel_watch_start(&dm.loop, &c->watch);
    if (s != OK) {
        free(c);
        return s;
    }
    c->next = dm.clients;
    dm.clients = c;
    return OK;
}

// ---- Start-up ----

static status_t load_drivers(void)
{
    const void *text;
    size_t len;
    char err[DEVMGR_ERR_MAX];
    status_t s = nb_initrd_find(&dm.rd, DRIVERS_FILE, &text, &len);
    if (s != OK) {
        nb_logf("devmgr: no %s (%s): no drivers", DRIVERS_FILE, status_str(s));
        return OK;
    }
    if ((s = drivers_parse(text, len, &dm.drivers, err, sizeof(err))) != OK)
        nb_logf("devmgr: %s: %s; no drivers", DRIVERS_FILE, err);
    return OK;
}

static status_t setup(void)
{
    status_t s = nb_bootstrap_load();
    if (s != OK) {
        nb_logf("devmgr: no bootstrap message: %s", status_str(s));
        return s;
    }
    handle_t initrd = nb_bootstrap_peek(BOOTSTRAP_ROLE_INITRD);
    handle_t service = nb_bootstrap_take(BOOTSTRAP_ROLE_SERVICE);
    dm.mmio = nb_bootstrap_take(BOOTSTRAP_ROLE_MMIO);
    dm.irq = nb_bootstrap_take(BOOTSTRAP_ROLE_IRQ);
    dm.pci = nb_bootstrap_take(BOOTSTRAP_ROLE_PCI);
    dm.dma = nb_bootstrap_take(BOOTSTRAP_ROLE_DMA);
    dm.entropy = nb_bootstrap_take(BOOTSTRAP_ROLE_ENTROPY);
    dm.info = nb_bootstrap_take(BOOTSTRAP_ROLE_INFO);
    dm.log = nb_bootstrap_peek(BOOTSTRAP_ROLE_LOG);
    if (initrd == HANDLE_INVALID) {
        nb_logf("devmgr: no 'initrd' handle: cannot read %s or start drivers", DRIVERS_FILE);
        return ERR_NOT_FOUND;
    }
    if ((s = nb_initrd_open(&dm.rd, initrd)) != OK) {
        nb_logf("devmgr: cannot read the initrd: %s", status_str(s));
        return s;
    }
    if ((s = nb_loop_init(&dm.loop)) != OK) {
        nb_logf("devmgr: no port: %s", status_str(s));
        return s;
    }
    load_drivers();
    if (dm.mmio == HANDLE_INVALID)
        nb_logf("devmgr: no 'mmio' handle: devices are listed, not probed or driven");
    discover_mmio();
    discover_pci();
    for (size_t i = 0; i < dm.ndevs; i++) {
        struct device *d = &dm.devs[i];
        d->proc = d->service = HANDLE_INVALID;
        if (d->bus == DEVMGR_BUS_PCI && (d->pf->class_code == 6))
            continue; // bridges: nothing to say about each
        if (d->bus == DEVMGR_BUS_PCI)
            nb_logf("devmgr: found pci %s %04x:%04x %s: %s", d->location, d->vendor, d->device,
                    d->class_name, d->rule ? d->rule->path : "no driver");
        else
            nb_logf("devmgr: found virtio-mmio %s virtio:%u %s (irq %u): %s", d->location,
                    d->device, d->class_name, d->win.irq, d->rule ? d->rule->path : "no driver");
    }
    for (size_t i = 0; i < dm.ndevs; i++) {
        struct device *d = &dm.devs[i];
        if (!d->rule)
            continue;
        if ((s = nb_loop_timer_init(&d->restart, on_restart_timer, d)) != OK)
            return s;
        start_driver(d);
    }
    if (service != HANDLE_INVALID && (s = add_client(service)) != OK) {
        nb_logf("devmgr: cannot serve: %s", status_str(s));
        return s;
    }
    if (service == HANDLE_INVALID)
        nb_logf("devmgr: no 'service' handle: no clients");
    return OK;
}

int main(void)
{
    if (setup() != OK)
        return 1;
    nb_logf("devmgr: %zu devices", dm.ndevs);
    status_t s = nb_loop_run(&dm.loop, NB_DEADLINE_INFINITE);
    nb_logf("devmgr: event loop stopped: %s", status_str(s));
    return 1;
}
