// Starting /init: the kernel's only program launch. It finds the program in
// the initrd, maps its ELF segments and a stack, and hands it the initrd, the
// vmex resource, a handle to itself and the device resources over its
// bootstrap channel (docs/USERSPACE.md).
#include "init/boot_info.h"
#include "init/cmdline.h"
#include "lib/cpio.h"
#include "lib/elf.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "nimbus/bootstrap.h"
#include "obj/channel.h"
#include "obj/log.h"
#include "obj/resource.h"
#include "obj/vmo.h"
#include "proto/bootstrap.h"
#include "sys/init_launch.h"
#include "sys/process.h"
#include "sys/user.h"

#define INIT_STACK_TOP   0x7ffffff00000ull
#define INIT_STACK_SIZE  (256 * 1024ull)
#define INIT_STACK_IMAGE 16384 // argv, envp, auxv and strings

static char init_path[128] = "/init";
static char init_arg[256];

static status_t set_init(const char *val, size_t len, bool has_val)
{
    if (!has_val || !len || len >= sizeof(init_path))
        return ERR_INVALID_ARGS;
    memcpy(init_path, val, len);
    init_path[len] = 0;
    return OK;
}
CMDLINE_PARAM(init_param, "init", set_init, "path of the first program in the initrd (/init)");

static status_t set_init_arg(const char *val, size_t len, bool has_val)
{
    if (!has_val || len >= sizeof(init_arg))
        return ERR_INVALID_ARGS;
    memcpy(init_arg, val, len);
    init_arg[len] = 0;
    return OK;
}
CMDLINE_PARAM(init_arg_param, "init.arg", set_init_arg, "argv[1] of /init (e.g. a manifest)");

static unsigned vm_prot(uint32_t prot)
{
    return (prot & ELF_PROT_READ ? VM_READ : 0) | (prot & ELF_PROT_WRITE ? VM_WRITE : 0) |
           (prot & ELF_PROT_EXEC ? VM_EXEC : 0);
}

static status_t map_segments(struct process *p, const uint8_t *image, const struct elf_plan *plan)
{
    for (uint32_t i = 0; i < plan->nsegments; i++) {
        const struct elf_segment *s = &plan->segments[i];
        struct vmo *v;
        vaddr_t at = s->vaddr;
        status_t st = vmo_create_kernel(s->memsz, &v);
        if (st != OK)
            return st;
        st = vmo_write_kernel(v, 0, image + s->file_offset, s->filesz);
        if (st == OK)
            st = vm_map(p->as, v, 0, s->memsz, vm_prot(s->prot), true, &at);
        obj_unref(vmo_obj(v));
        if (st != OK)
            return st;
    }
    return OK;
}

// Builds argv/envp/auxv and maps the stack; *sp gets the entry stack pointer.
static status_t map_stack(struct process *p, const struct elf_plan *plan, handle_t bootstrap,
                          uint64_t *sp)
{
    const char *argv[3] = {init_path, init_arg[0] ? init_arg : NULL, NULL};
    struct elf_auxv aux;
    elf_auxv_from_plan(plan, &aux);
    aux.hwcap = arch_user_hwcap();
    for (int i = 0; i < 2; i++) {
        uint64_t r = arch_random_seed();
        memcpy(aux.random + 8 * i, &r, 8);
    }
    aux.nextra = 1;
    aux.extra[0].type = AT_NIMBUS_BOOTSTRAP;
    aux.extra[0].value = bootstrap;
    uint8_t *image = kmalloc(INIT_STACK_IMAGE);
    if (!image)
        return ERR_NO_MEMORY;
    status_t st = elf_build_stack(image, INIT_STACK_IMAGE, INIT_STACK_TOP, argv, NULL, &aux, sp);
    struct vmo *v = NULL;
    uint64_t used = INIT_STACK_TOP - *sp;
    if (st == OK)
        st = vmo_create_kernel(INIT_STACK_SIZE, &v);
    if (st == OK)
        st = vmo_write_kernel(v, INIT_STACK_SIZE - used, image + INIT_STACK_IMAGE - used, used);
    vaddr_t at = INIT_STACK_TOP - INIT_STACK_SIZE;
    if (st == OK)
        st = vm_map(p->as, v, 0, INIT_STACK_SIZE, VM_READ | VM_WRITE, true, &at);
    if (v)
        obj_unref(vmo_obj(v));
    kfree(image);
    return st;
}

// Installs obj in t with rights and records its role; drops the creation
// reference.
static status_t give(struct handle_table *t, struct kobject *o, rights_t rights, uint32_t role,
                     uint32_t *roles, handle_t *handles, uint32_t *n)
{
    status_t st = handle_install(t, o, rights, &handles[*n]);
    obj_unref(o);
    if (st == OK)
        roles[(*n)++] = role;
    return st;
}

// A new resource of `kind` over [base, base + size), given as `role`.
static status_t give_resource(struct handle_table *t, uint32_t kind, uint64_t base, uint64_t size,
                              uint32_t role, uint32_t *roles, handle_t *handles, uint32_t *n)
{
    struct kobject *o;
    status_t st = resource_create_kernel_range(kind, base, size, &o);
    if (st == OK)
        st = give(t, o, RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT, role, roles, handles, n);
    return st;
}

// Writes the bootstrap message (initrd, vmex, self) into the channel end
// `ours` of the kernel's table t.
static status_t send_bootstrap(struct handle_table *t, handle_t ours, struct process *p)
{
    uint32_t roles[BOOTSTRAP_HANDLES_MAX] = {0}, n = 0;
    handle_t handles[BOOTSTRAP_HANDLES_MAX];
    struct vmo *rd;
    struct kobject *vmex;
    status_t st = vmo_create_kernel(boot_info.initrd_size, &rd);
    if (st == OK)
        st = vmo_write_kernel(rd, 0, phys_to_virt(boot_info.initrd_base), boot_info.initrd_size);
    if (st == OK)
        st = give(t, vmo_obj(rd), RIGHT_READ | RIGHT_MAP | RIGHT_DUPLICATE | RIGHT_TRANSFER,
                  BOOTSTRAP_ROLE_INITRD, roles, handles, &n);
    else if (rd)
        obj_unref(vmo_obj(rd));
    if (st == OK && (st = resource_create_kernel(NB_RESOURCE_VMEX, &vmex)) == OK)
        st = give(t, vmex, RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT, BOOTSTRAP_ROLE_VMEX,
                  roles, handles, &n);
    if (st == OK) {
        obj_ref(&p->obj);
        st = give(t, &p->obj, p->obj.ops->default_rights, BOOTSTRAP_ROLE_PROCESS_SELF, roles,
                  handles, &n);
    }
    // Device resources (docs/DEVICES.md); irq only where an IOAPIC has lines.
    if (st == OK)
        st = give_resource(t, NB_RESOURCE_ROOT, 0, 0, BOOTSTRAP_ROLE_ROOT_RESOURCE, roles, handles,
                           &n);
    if (st == OK)
        st = give_resource(t, NB_RESOURCE_IOPORT, 0, RESOURCE_IOPORT_LIMIT, BOOTSTRAP_ROLE_IOPORT,
                           roles, handles, &n);
    if (st == OK && arch_irq_gsi_count())
        st = give_resource(t, NB_RESOURCE_IRQ, 0, arch_irq_gsi_count(), BOOTSTRAP_ROLE_IRQ, roles,
                           handles, &n);
    if (st == OK)
        st = give_resource(t, NB_RESOURCE_POWER, 0, 0, BOOTSTRAP_ROLE_POWER, roles, handles, &n);
    // Drivers: device memory (RAM and kernel-owned pages are refused when a
    // vmo is made), every PCI function, DMA memory, the entropy pool.
    if (st == OK)
        st = give_resource(t, NB_RESOURCE_MMIO, 0, RESOURCE_MMIO_LIMIT, BOOTSTRAP_ROLE_MMIO, roles,
                           handles, &n);
    if (st == OK)
        st = give_resource(t, NB_RESOURCE_PCI, 0, NB_PCI_ID_LIMIT, BOOTSTRAP_ROLE_PCI, roles,
                           handles, &n);
    if (st == OK)
        st = give_resource(t, NB_RESOURCE_DMA, 0, 0, BOOTSTRAP_ROLE_DMA, roles, handles, &n);
    if (st == OK)
        st =
            give_resource(t, NB_RESOURCE_ENTROPY, 0, 0, BOOTSTRAP_ROLE_ENTROPY, roles, handles, &n);
    // System information: the kernel log, the info and process resources.
    struct kobject *sysobj;
    if (st == OK && (st = logobj_get(&sysobj)) == OK)
        st = give(t, sysobj, LOGOBJ_RIGHTS, BOOTSTRAP_ROLE_LOG, roles, handles, &n);
    if (st == OK && (st = resource_create_kernel(NB_RESOURCE_INFO, &sysobj)) == OK)
        st = give(t, sysobj, RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT, BOOTSTRAP_ROLE_INFO,
                  roles, handles, &n);
    if (st == OK && (st = resource_create_kernel(NB_RESOURCE_PROCESS, &sysobj)) == OK)
        st = give(t, sysobj, RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT,
                  BOOTSTRAP_ROLE_PROCESSES, roles, handles, &n);
    if (st != OK)
        return st;
    uint8_t bytes[BOOTSTRAP_MAX_MSG_BYTES];
    struct nb_msg_in m = {bytes, handles, sizeof(bytes), BOOTSTRAP_HANDLES_MAX, 0, 0};
    st = bootstrap_start_request_encode(&m, roles, handles, n);
    struct nb_msg_out out = {m.bytes, m.handles, m.nbytes, m.nhandles};
    return st == OK ? chan_write(t, ours, &out) : st;
}

status_t init_launch(struct process **out)
{
    const void *rd = phys_to_virt(boot_info.initrd_base);
    struct cpio_entry e;
    struct elf_plan plan;
    struct process *p;
    if (!boot_info.initrd_size)
        return ERR_NOT_FOUND;
    status_t st = cpio_find(rd, boot_info.initrd_size, init_path, &e);
    if (st != OK)
        return st;
    if ((st = elf_parse(e.data, e.size, &plan)) != OK)
        return st;
    if ((st = process_create_kernel("init", &p)) != OK)
        return st;
    // The kernel's side of the bootstrap channel lives in a table of its own.
    struct handle_table t;
    handle_t ours, theirs, theirs_in_p = HANDLE_INVALID;
    if ((st = handle_table_init(&t, BOOTSTRAP_HANDLES_MAX + 4)) != OK)
        goto fail_process;
    if ((st = chan_create(&t, &ours, &theirs)) != OK)
        goto fail_table;
    if ((st = handle_move(&t, theirs, &p->handles, &theirs_in_p)) != OK)
        goto fail_table;
    uint64_t sp;
    if ((st = map_segments(p, e.data, &plan)) == OK &&
        (st = map_stack(p, &plan, theirs_in_p, &sp)) == OK &&
        (st = send_bootstrap(&t, ours, p)) == OK)
        st = process_start_handle(p, theirs_in_p, plan.entry, sp);
fail_table:
    handle_table_destroy(&t); // our end closes; the message stays queued
fail_process:
    if (st != OK) {
        process_kill(p, -1, NB_PROCESS_KILLED);
        obj_unref(&p->obj);
        return st;
    }
    *out = p;
    return OK;
}
