// System information for user space: NB_SYS_SYSTEM_INFO, NB_SYS_PROCESS_GET,
// NB_SYS_PROCESS_HANDLES, NB_SYS_LOG_WRITE and NB_SYS_LOG_READ.
#include "sys/sysinfo.h"
#include "arch.h"
#include "dev/acpi.h"
#include "dev/pci.h"
#include "hv/hv.h"
#include "init/boot_info.h"
#include "init/boottime.h"
#include "lib/string.h"
#include "mm/kstack.h"
#include "mm/pmm.h"
#include "mm/slab.h"
#include "nimbus/resource.h"
#include "obj/log.h"
#include "obj/resource.h"
#include "obj/vmo.h"
#include "sched/clock.h"
#include "sys/process.h"
#include "sys/syscall.h"
#include "sys/usercopy.h"

#define LIST_SLACK 16 // extra room for entries that appear between count and fill

// ACPI system description table header (ACPI specification 5.2.6).
#define ACPI_SDT_HEADER_LEN 36
#define ACPI_SDT_LENGTH_OFF 4

static struct handle_table *table(void)
{
    return &process_current()->handles;
}

// ---- Topics: each fills a kernel buffer it allocates ----

struct topic_data {
    void *buf;   // kmalloc'd (or NULL for size 0)
    size_t size; // bytes of data
};

static status_t alloc_data(struct topic_data *d, size_t size)
{
    d->size = size;
    d->buf = size ? kzalloc(size) : NULL;
    return size && !d->buf ? ERR_NO_MEMORY : OK;
}

static unsigned online_cpus(void)
{
    unsigned n = 0;
    for (unsigned cpu = 0; cpu < arch_cpu_count(); cpu++)
        n += arch_cpu_online(cpu);
    return n;
}

static status_t topic_system(struct topic_data *d)
{
    status_t st = alloc_data(d, sizeof(struct nb_system_info));
    if (st != OK)
        return st;
    struct nb_system_info *s = d->buf;
    s->uptime_ns = clock_monotonic_ns();
    s->realtime_ns = clock_realtime_ns();
    s->cpus = online_cpus();
    s->processes = (uint32_t)process_list(NULL, 0);
    kstrlcpy(s->version, NIMBUS_VERSION, sizeof(s->version));
    const char *hv = hv_info.primary == HV_FAMILY_NONE ? "none" : hv_family_name(hv_info.primary);
    kstrlcpy(s->hypervisor, hv ? hv : "?", sizeof(s->hypervisor));
    kstrlcpy(s->clocksource, clock_source_name(), sizeof(s->clocksource));
    return OK;
}

static size_t slab_pages_total(void)
{
    size_t n = slab_stats(NULL, 0), pages = 0;
    struct slab_cache_stats *st = kmalloc(sizeof(*st) * (n + LIST_SLACK));
    if (!st)
        return 0;
    n = MIN(slab_stats(st, n + LIST_SLACK), n + LIST_SLACK);
    for (size_t i = 0; i < n; i++)
        pages += st[i].pages;
    kfree(st);
    return pages;
}

static status_t topic_memory(struct topic_data *d)
{
    status_t st = alloc_data(d, sizeof(struct nb_memory_info));
    if (st != OK)
        return st;
    struct nb_memory_info *m = d->buf;
    struct pmm_stats ps;
    pmm_get_stats(&ps);
    m->page_size = PAGE_SIZE;
    m->total_pages = ps.total_pages;
    m->free_pages = ps.free_pages;
    m->slab_bytes = (uint64_t)slab_pages_total() * PAGE_SIZE;
    m->kstack_bytes = kstack_live_count() * KSTACK_SIZE;
    m->user_bytes = vmo_total_committed_pages() * PAGE_SIZE;
    return OK;
}

static status_t topic_slabs(struct topic_data *d)
{
    for (;;) {
        size_t n = slab_stats(NULL, 0), cap = n + LIST_SLACK;
        struct slab_cache_stats *st = kmalloc(sizeof(*st) * cap);
        if (!st)
            return ERR_NO_MEMORY;
        // Names are copied under no lock: dedicated caches are not destroyed
        // while the kernel runs (only tests do, not concurrently with this).
        n = slab_stats(st, cap);
        if (n > cap) { // caches appeared meanwhile
            kfree(st);
            continue;
        }
        status_t s = alloc_data(d, n * sizeof(struct nb_slab_info));
        for (size_t i = 0; s == OK && i < n; i++) {
            struct nb_slab_info *o = (struct nb_slab_info *)d->buf + i;
            kstrlcpy(o->name, st[i].name, sizeof(o->name));
            o->object_size = (uint32_t)st[i].obj_size;
            o->in_use = st[i].objs_in_use;
            o->total = st[i].objs_total;
            o->pages = st[i].pages;
        }
        kfree(st);
        return s;
    }
}

static status_t topic_processes(struct topic_data *d)
{
    for (;;) {
        size_t cap = process_list(NULL, 0) + LIST_SLACK;
        status_t st = alloc_data(d, cap * sizeof(struct nb_process_info));
        if (st != OK)
            return st;
        size_t n = process_list(d->buf, cap);
        if (n <= cap) {
            d->size = n * sizeof(struct nb_process_info);
            return OK;
        }
        kfree(d->buf);
    }
}

static status_t topic_boot(struct topic_data *d)
{
    const struct boot_stage *stages;
    size_t n = boot_stages(&stages);
    status_t st = alloc_data(d, n * sizeof(struct nb_boot_stage));
    for (size_t i = 0; st == OK && i < n; i++) {
        struct nb_boot_stage *o = (struct nb_boot_stage *)d->buf + i;
        kstrlcpy(o->name, stages[i].name, sizeof(o->name));
        o->ns = clock_cycles_to_ns(stages[i].tsc - stages[0].tsc);
    }
    return st;
}

static status_t topic_hypervisor(struct topic_data *d)
{
    for (;;) {
        size_t n = hv_report_text(NULL, 0);
        status_t st = alloc_data(d, n);
        if (st != OK)
            return st;
        size_t got = hv_report_text(d->buf, n);
        if (got <= n) { // (steal times may have grown a digit)
            d->size = got;
            return OK;
        }
        kfree(d->buf);
    }
}

static status_t topic_cmdline(struct topic_data *d)
{
    size_t n = strlen(boot_info.cmdline);
    status_t st = alloc_data(d, n);
    if (st == OK && n)
        memcpy(d->buf, boot_info.cmdline, n);
    return st;
}

static status_t topic_pci_ecam(struct topic_data *d)
{
    size_t n = pci_ecam_list(NULL, 0);
    status_t st = alloc_data(d, n * sizeof(struct nb_pci_ecam));
    if (st == OK)
        pci_ecam_list(d->buf, n);
    return st;
}

// The DSDT the FADT points to (X_DSDT, else DSDT), as the boot parser
// accepted it; its bytes are checked again as they are copied (signature,
// length, checksum), so user space gets a whole, valid table or an error.
static status_t topic_acpi_dsdt(struct topic_data *d)
{
    const struct acpi_info *ai = acpi();
    if (!ai || !ai->fadt.present || !ai->fadt.dsdt)
        return ERR_NOT_FOUND;
    const struct acpi_table *t = NULL;
    for (uint32_t i = 0; i < ai->ntables && !t; i++)
        if (ai->tables[i].pa == ai->fadt.dsdt && !memcmp(ai->tables[i].sig, "DSDT", 4))
            t = &ai->tables[i];
    if (!t) // the parser refused it
        return ERR_NOT_FOUND;
    if (t->length < ACPI_SDT_HEADER_LEN || t->length > ACPI_TABLE_MAX_LEN)
        return ERR_BAD_FORMAT;
    const uint8_t *p = acpi_read_phys(t->pa, t->length, NULL);
    if (!p)
        return ERR_NOT_FOUND;
    status_t st = alloc_data(d, t->length);
    if (st != OK)
        return st;
    memcpy(d->buf, p, t->length);
    uint32_t len;
    memcpy(&len, (const uint8_t *)d->buf + ACPI_SDT_LENGTH_OFF, sizeof(len));
    if (memcmp(d->buf, "DSDT", 4) || len != t->length || acpi_checksum(d->buf, len))
        return ERR_BAD_FORMAT;
    return OK;
}

status_t sysinfo_get(struct handle_table *t, handle_t h, uint32_t topic, void *buf, size_t size,
                     size_t *actual)
{
    status_t st = resource_check(t, h, NB_RESOURCE_INFO);
    if (st != OK)
        return st;
    struct topic_data d = {NULL, 0};
    switch (topic) {
    case NB_INFO_SYSTEM:
        st = topic_system(&d);
        break;
    case NB_INFO_MEMORY:
        st = topic_memory(&d);
        break;
    case NB_INFO_SLABS:
        st = topic_slabs(&d);
        break;
    case NB_INFO_PROCESSES:
        st = topic_processes(&d);
        break;
    case NB_INFO_BOOT:
        st = topic_boot(&d);
        break;
    case NB_INFO_HYPERVISOR:
        st = topic_hypervisor(&d);
        break;
    case NB_INFO_CMDLINE:
        st = topic_cmdline(&d);
        break;
    case NB_INFO_PCI_ECAM:
        st = topic_pci_ecam(&d);
        break;
    case NB_INFO_ACPI_DSDT:
        st = topic_acpi_dsdt(&d);
        break;
    default:
        return ERR_INVALID_ARGS;
    }
    if (st == OK) {
        *actual = d.size;
        if (d.size > size)
            st = ERR_BUFFER_TOO_SMALL;
        else if (d.size)
            memcpy(buf, d.buf, d.size);
    }
    kfree(d.buf);
    return st;
}

// ---- Processes ----

status_t sysinfo_process_get(struct handle_table *t, handle_t h, uint64_t pid, handle_t *out)
{
    status_t st = resource_check(t, h, NB_RESOURCE_PROCESS);
    if (st != OK)
        return st;
    struct process *p;
    if ((st = process_get_by_pid(pid, &p)) != OK)
        return st;
    st = handle_install(t, &p->obj, p->obj.ops->default_rights, out);
    obj_unref(&p->obj);
    return st;
}

status_t sysinfo_process_handles(struct process *p, struct nb_handle_entry *out, size_t max,
                                 size_t *count)
{
    uint32_t n;
    status_t st = handle_table_list(&p->handles, out, (uint32_t)MIN(max, (size_t)UINT32_MAX), &n);
    if (st != OK)
        return st;
    *count = n;
    return n > max ? ERR_BUFFER_TOO_SMALL : OK;
}

// ---- System calls ----

int64_t sys_system_info(const uint64_t a[6])
{
    size_t actual = 0;
    void *buf = NULL;
    // Asked for no more than the data needs: sized by a first pass.
    status_t st = sysinfo_get(table(), (handle_t)a[0], (uint32_t)a[1], NULL, 0, &actual);
    if (st == ERR_BUFFER_TOO_SMALL && a[3] >= actual) {
        // The data may change between the passes (processes come and go).
        size_t cap = actual + actual / 4 + 4096;
        buf = kmalloc(cap);
        st = buf ? sysinfo_get(table(), (handle_t)a[0], (uint32_t)a[1], buf, cap, &actual)
                 : ERR_NO_MEMORY;
        if (st == OK && actual > a[3])
            st = ERR_BUFFER_TOO_SMALL;
        if (st == OK)
            st = copy_to_user(a[2], buf, actual);
    }
    if ((st == OK || st == ERR_BUFFER_TOO_SMALL) && a[4]) {
        uint64_t v = actual;
        status_t cst = copy_to_user(a[4], &v, sizeof(v));
        if (cst != OK)
            st = cst;
    }
    kfree(buf);
    return st;
}

int64_t sys_process_get(const uint64_t a[6])
{
    handle_t h;
    status_t st = sysinfo_process_get(table(), (handle_t)a[0], a[1], &h);
    return st == OK ? sys_put_handle(a[2], h) : st;
}

int64_t sys_process_handles(const uint64_t a[6])
{
    struct process *p = process_current();
    status_t st = OK;
    if ((handle_t)a[0] == HANDLE_INVALID)
        obj_ref(&p->obj);
    else
        st = process_get(table(), (handle_t)a[0], RIGHT_INSPECT, &p);
    if (st != OK)
        return st;
    size_t count = 0, max = (size_t)MIN(a[2], (uint64_t)HANDLE_INDEX_MAX + 1);
    struct nb_handle_entry *buf = NULL;
    for (;;) {
        size_t cap = MIN(max, (size_t)handle_table_count(&p->handles) + LIST_SLACK);
        buf = cap ? kmalloc(cap * sizeof(*buf)) : NULL;
        if (cap && !buf) {
            st = ERR_NO_MEMORY;
            break;
        }
        st = sysinfo_process_handles(p, buf, cap, &count);
        if (st != ERR_BUFFER_TOO_SMALL || count > max)
            break;
        kfree(buf); // the table grew past cap: again
    }
    if (st == OK)
        st = copy_to_user(a[1], buf, count * sizeof(*buf));
    if ((st == OK || st == ERR_BUFFER_TOO_SMALL) && a[3]) {
        uint64_t v = count;
        status_t cst = copy_to_user(a[3], &v, sizeof(v));
        if (cst != OK)
            st = cst;
    }
    kfree(buf);
    obj_unref(&p->obj);
    return st;
}

int64_t sys_log_write(const uint64_t a[6])
{
    char text[LOGOBJ_LINE_MAX];
    size_t n = (size_t)MIN(a[2], (uint64_t)sizeof(text));
    status_t st = copy_from_user(text, a[1], n);
    if (st != OK)
        return st;
    struct process *p = process_current();
    return logobj_write(table(), (handle_t)a[0], p->name, &p->log_bucket, text, n);
}

int64_t sys_log_read(const uint64_t a[6])
{
    uint64_t seq;
    struct nb_log_record *rec = kmalloc(sizeof(*rec));
    if (!rec)
        return ERR_NO_MEMORY;
    status_t st = copy_from_user(&seq, a[1], sizeof(seq));
    if (st == OK)
        st = logobj_read(table(), (handle_t)a[0], &seq, rec);
    if (st == OK)
        st = copy_to_user(a[2], rec, sizeof(*rec));
    if (st == OK)
        st = copy_to_user(a[1], &seq, sizeof(seq));
    kfree(rec);
    return st;
}
