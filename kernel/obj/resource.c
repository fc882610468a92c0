// nimbus:host
// Resource objects.
#include "mm/slab.h"
#include "obj/resource.h"

#define RESOURCE_RIGHTS (RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT)

struct resource {
    struct kobject obj;
    uint32_t kind;
};

static void resource_destroy(struct kobject *o)
{
    kfree(container_of(o, struct resource, obj));
}

static const struct kobject_ops resource_ops = {
    .type = OBJ_RESOURCE,
    .name = "resource",
    .default_rights = RESOURCE_RIGHTS,
    .destroy = resource_destroy,
};

status_t resource_create_kernel(uint32_t kind, struct kobject **out)
{
    struct resource *r = kzalloc(sizeof(*r));
    if (!r)
        return ERR_NO_MEMORY;
    obj_init(&r->obj, &resource_ops, NULL);
    r->kind = kind;
    *out = &r->obj;
    return OK;
}

status_t resource_check(struct handle_table *t, handle_t h, uint32_t kind)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_RESOURCE, RIGHT_NONE, &o);
    if (st != OK)
        return st;
    if (container_of(o, struct resource, obj)->kind != kind)
        st = ERR_WRONG_TYPE;
    obj_unref(o);
    return st;
}
