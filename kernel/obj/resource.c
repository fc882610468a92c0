// nimbus:host
// Resource objects: a kind, and for I/O ports and interrupt lines a range.
#include "arch.h"
#include "mm/slab.h"
#include "obj/resource.h"
#include "obj/vmo.h"

#define RESOURCE_RIGHTS (RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT)

struct resource {
    struct kobject obj;
    uint32_t kind;
    uint64_t base, size; // range kinds only; else 0 (immutable)
    // DMA: contiguous vmos made through this resource that have died; their
    // memory is freed with the resource (vmo_dma_release). (lock)
    struct list_node quarantine;
    uint64_t quarantined; // entries on it (lock)
};

static struct resource *to_res(struct kobject *o)
{
    return container_of(o, struct resource, obj);
}

static void resource_destroy(struct kobject *o)
{
    struct resource *r = to_res(o);
    struct list_node *n;

    while ((n = list_pop_head(&r->quarantine)))
        vmo_dma_release(n);
    kfree(r);
}

static const struct kobject_ops resource_ops = {
    .type = OBJ_RESOURCE,
    .name = "resource",
    .default_rights = RESOURCE_RIGHTS,
    .destroy = resource_destroy,
};

bool resource_kind_has_range(uint32_t kind)
{
    return kind == NB_RESOURCE_IOPORT || kind == NB_RESOURCE_IRQ || kind == NB_RESOURCE_MMIO ||
           kind == NB_RESOURCE_PCI;
}

uint64_t resource_kind_limit(uint32_t kind)
{
    if (kind == NB_RESOURCE_IOPORT)
        return RESOURCE_IOPORT_LIMIT;
    if (kind == NB_RESOURCE_IRQ)
        return arch_irq_gsi_count();
    if (kind == NB_RESOURCE_MMIO)
        return RESOURCE_MMIO_LIMIT;
    if (kind == NB_RESOURCE_PCI)
        return NB_PCI_ID_LIMIT;
    return 0;
}

// [base, base + size) inside [0, limit), with size >= 1 and no overflow.
static status_t range_check(uint64_t base, uint64_t size, uint64_t lo, uint64_t hi)
{
    if (size == 0)
        return ERR_INVALID_ARGS;
    if (base < lo || base > hi || size > hi - base)
        return ERR_OUT_OF_RANGE;
    return OK;
}

status_t resource_create_kernel_range(uint32_t kind, uint64_t base, uint64_t size,
                                      struct kobject **out)
{
    if (kind == 0 || kind > NB_RESOURCE_KIND_MAX)
        return ERR_INVALID_ARGS;
    if (resource_kind_has_range(kind)) {
        status_t st = range_check(base, size, 0, resource_kind_limit(kind));
        if (st != OK)
            return st;
    } else if (base || size) {
        return ERR_INVALID_ARGS;
    }
    struct resource *r = kzalloc(sizeof(*r));
    if (!r)
        return ERR_NO_MEMORY;
    obj_init(&r->obj, &resource_ops, NULL);
    list_init(&r->quarantine);
    r->kind = kind;
    r->base = base;
    r->size = size;
    *out = &r->obj;
    return OK;
}

status_t resource_create_kernel(uint32_t kind, struct kobject **out)
{
    return resource_create_kernel_range(kind, 0, 0, out);
}

// May a resource `parent` make one of `kind` over [base, base + size)?
static status_t derive_check(const struct resource *parent, uint32_t kind, uint64_t base,
                             uint64_t size)
{
    if (kind == 0 || kind > NB_RESOURCE_KIND_MAX)
        return ERR_INVALID_ARGS;
    if (parent->kind == NB_RESOURCE_ROOT)
        return OK; // resource_create_kernel_range checks the range against the kind's limit
    if (parent->kind == NB_RESOURCE_DMA && kind == NB_RESOURCE_DMA)
        return OK; // a DMA resource of its own (its own quarantine) for each driver
    if (!resource_kind_has_range(parent->kind) || kind != parent->kind)
        return ERR_ACCESS_DENIED;
    return range_check(base, size, parent->base, parent->base + parent->size);
}

status_t resource_create(struct handle_table *t, handle_t parent, uint32_t kind, uint64_t base,
                         uint64_t size, handle_t *out)
{
    struct kobject *o, *child;
    status_t st = handle_get(t, parent, OBJ_RESOURCE, RIGHT_DUPLICATE, &o);
    if (st != OK)
        return st;
    st = derive_check(to_res(o), kind, base, size);
    obj_unref(o);
    if (st == OK)
        st = resource_create_kernel_range(kind, base, size, &child);
    if (st != OK)
        return st;
    st = handle_install(t, child, RESOURCE_RIGHTS, out);
    obj_unref(child);
    return st;
}

status_t resource_info(struct handle_table *t, handle_t h, struct nb_resource_info *out)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_RESOURCE, RIGHT_INSPECT, &o);
    if (st != OK)
        return st;
    const struct resource *r = to_res(o);
    *out = (struct nb_resource_info){.kind = r->kind, .base = r->base, .size = r->size};
    obj_unref(o);
    return OK;
}

status_t resource_check(struct handle_table *t, handle_t h, uint32_t kind)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_RESOURCE, RIGHT_NONE, &o);
    if (st != OK)
        return st;
    if (to_res(o)->kind != kind)
        st = ERR_WRONG_TYPE;
    obj_unref(o);
    return st;
}

status_t resource_check_range(struct handle_table *t, handle_t h, uint32_t kind, uint64_t base,
                              uint64_t size)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_RESOURCE, RIGHT_NONE, &o);
    if (st != OK)
        return st;
    const struct resource *r = to_res(o);
    if (r->kind != kind || !resource_kind_has_range(kind))
        st = ERR_WRONG_TYPE;
    else
        st = range_check(base, size, r->base, r->base + r->size);
    obj_unref(o);
    return st;
}

status_t resource_get(struct handle_table *t, handle_t h, uint32_t kind, struct kobject **out)
{
    status_t st = handle_get(t, h, OBJ_RESOURCE, RIGHT_NONE, out);
    if (st == OK && to_res(*out)->kind != kind) {
        obj_unref(*out);
        st = ERR_WRONG_TYPE;
    }
    return st;
}

void resource_dma_quarantine(struct kobject *o, struct list_node *n)
{
    struct resource *r = to_res(o);
    irqstate_t s = obj_lock(o);
    list_add_tail(&r->quarantine, n);
    r->quarantined++;
    obj_unlock(o, s);
}

uint64_t resource_dma_quarantined(struct kobject *o)
{
    struct resource *r = to_res(o);
    irqstate_t s = obj_lock(o);
    uint64_t n = r->quarantined;
    obj_unlock(o, s);
    return n;
}
