// User address spaces: regions over VMOs, populated by page faults.
#include "mm/vm.h"
#include "mm/slab.h"
#include "obj/vmo.h"

#define VM_PROT_MASK (VM_READ | VM_WRITE | VM_EXEC)

static bool range_ok(vaddr_t addr, uint64_t size)
{
    return IS_ALIGNED(addr, PAGE_SIZE) && IS_ALIGNED(size, PAGE_SIZE) && size &&
           addr >= USER_BASE && addr <= USER_TOP && size <= USER_TOP - addr;
}

static bool flags_ok(unsigned flags)
{
    return !(flags & ~VM_PROT_MASK) && !((flags & VM_WRITE) && (flags & VM_EXEC));
}

status_t vm_aspace_create(struct vm_aspace **out)
{
    struct vm_aspace *as = kzalloc(sizeof(*as));
    if (!as)
        return ERR_NO_MEMORY;
    status_t st = arch_mmu_create_root(&as->root);
    if (st != OK) {
        kfree(as);
        return st;
    }
    as->lock = (struct spinlock)SPINLOCK_INIT("aspace");
    list_init(&as->regions);
    *out = as;
    return OK;
}

// Removes the page-table entries of [base, base + size), with one TLB
// shootdown for the range. aspace lock held.
static void unmap_pages(struct vm_aspace *as, vaddr_t base, uint64_t size)
{
    uint64_t mapped = 0;
    for (vaddr_t va = base; va < base + size; va += PAGE_SIZE)
        if (arch_mmu_query(as->root, va, NULL, NULL) == OK)
            mapped++;
    if (!mapped)
        return;
    arch_mmu_unmap(as->root, base, size / PAGE_SIZE);
    as->mapped_pages -= mapped;
}

// Gives the mapped pages of [base, base + size) new permissions, with one TLB
// shootdown per run of mapped pages. aspace lock held.
static void protect_pages(struct vm_aspace *as, vaddr_t base, uint64_t size, unsigned flags)
{
    vaddr_t run = base;
    size_t n = 0;
    for (vaddr_t va = base; va < base + size; va += PAGE_SIZE) {
        if (arch_mmu_query(as->root, va, NULL, NULL) == OK) {
            run = n ? run : va;
            n++;
            continue;
        }
        if (n)
            arch_mmu_protect(as->root, run, n, flags);
        n = 0;
    }
    if (n)
        arch_mmu_protect(as->root, run, n, flags);
}

static void region_free(struct vm_region *r)
{
    vmo_mapping_added(r->vmo, -1);
    obj_unref(vmo_obj(r->vmo));
    kfree(r);
}

void vm_aspace_destroy(struct vm_aspace *as)
{
    list_for_each_safe(it, tmp, &as->regions)
    {
        struct vm_region *r = list_entry(it, struct vm_region, node);
        list_remove(&r->node);
        region_free(r);
    }
    arch_mmu_destroy_root(as->root);
    kfree(as);
}

// The region containing addr, or NULL. aspace lock held.
static struct vm_region *find_region(struct vm_aspace *as, vaddr_t addr)
{
    list_for_each(it, &as->regions)
    {
        struct vm_region *r = list_entry(it, struct vm_region, node);
        if (addr < r->base)
            return NULL;
        if (addr - r->base < r->size)
            return r;
    }
    return NULL;
}

// True if [addr, addr + size) overlaps no region. aspace lock held.
static bool range_free(struct vm_aspace *as, vaddr_t addr, uint64_t size)
{
    list_for_each(it, &as->regions)
    {
        struct vm_region *r = list_entry(it, struct vm_region, node);
        if (r->base < addr + size && addr < r->base + r->size)
            return false;
    }
    return true;
}

// First fit from USER_MMAP_BASE, leaving an unmapped guard page after each
// region. aspace lock held.
static status_t find_room(struct vm_aspace *as, uint64_t size, vaddr_t *out)
{
    vaddr_t cand = USER_MMAP_BASE;
    list_for_each(it, &as->regions)
    {
        struct vm_region *r = list_entry(it, struct vm_region, node);
        if (r->base + r->size + PAGE_SIZE <= cand)
            continue;
        if (r->base >= cand + size + PAGE_SIZE)
            break;
        cand = r->base + r->size + PAGE_SIZE;
    }
    if (cand > USER_TOP || size > USER_TOP - cand)
        return ERR_NO_RESOURCES;
    *out = cand;
    return OK;
}

static void insert_region(struct vm_aspace *as, struct vm_region *n)
{
    struct list_node *pos = &as->regions;
    list_for_each(it, &as->regions)
    {
        if (list_entry(it, struct vm_region, node)->base > n->base)
            break;
        pos = it;
    }
    list_insert_after(pos, &n->node);
}

status_t vm_map(struct vm_aspace *as, struct vmo *vmo, uint64_t offset, uint64_t size,
                unsigned flags, bool fixed, vaddr_t *addr)
{
    // Decode: everything checked before anything changes.
    if (!flags_ok(flags) || !IS_ALIGNED(offset, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) || !size)
        return ERR_INVALID_ARGS;
    uint64_t cap = ALIGN_UP(vmo_size(vmo), PAGE_SIZE);
    if (offset >= cap || size > cap - offset)
        return ERR_OUT_OF_RANGE;
    if (fixed && !range_ok(*addr, size))
        return ERR_OUT_OF_RANGE;
    struct vm_region *r = kzalloc(sizeof(*r));
    if (!r)
        return ERR_NO_MEMORY;
    irqstate_t s = spin_lock_irqsave(&as->lock);
    status_t st = OK;
    vaddr_t base = fixed ? *addr : 0;
    if (fixed && !range_free(as, base, size))
        st = ERR_ALREADY_EXISTS;
    else if (!fixed)
        st = find_room(as, size, &base);
    if (st == OK) { // invoke
        *r = (struct vm_region){
            .base = base, .size = size, .flags = flags, .vmo = vmo, .offset = offset};
        obj_ref(vmo_obj(vmo));
        vmo_mapping_added(vmo, 1);
        insert_region(as, r);
        *addr = base;
    }
    spin_unlock_irqrestore(&as->lock, s);
    if (st != OK)
        kfree(r);
    return st;
}

// Splits r at `at` (inside it): r keeps the low part, the new region the
// high part. aspace lock held; `spare` is a preallocated region.
static void split_region(struct vm_region *r, vaddr_t at, struct vm_region *spare)
{
    *spare = *r;
    spare->base = at;
    spare->size = r->base + r->size - at;
    spare->offset = r->offset + (at - r->base);
    r->size = at - r->base;
    obj_ref(vmo_obj(r->vmo));
    vmo_mapping_added(r->vmo, 1);
    list_insert_after(&r->node, &spare->node);
}

// Cuts regions so that `addr` starts one and `end` ends one, using up to two
// spare regions (unused ones are left in spares[]). aspace lock held.
static void cut_at(struct vm_aspace *as, vaddr_t addr, vaddr_t end, struct vm_region **spares)
{
    vaddr_t cuts[2] = {addr, end};
    for (int i = 0; i < 2; i++) {
        struct vm_region *r = find_region(as, cuts[i]);
        if (r && r->base != cuts[i]) {
            for (int k = 0; k < 2; k++) {
                if (spares[k]) {
                    split_region(r, cuts[i], spares[k]);
                    spares[k] = NULL;
                    break;
                }
            }
        }
    }
}

status_t vm_unmap(struct vm_aspace *as, vaddr_t addr, uint64_t size)
{
    if (!range_ok(addr, size))
        return ERR_INVALID_ARGS;
    struct vm_region *spares[2] = {kmalloc(sizeof(struct vm_region)),
                                   kmalloc(sizeof(struct vm_region))};
    if (!spares[0] || !spares[1]) {
        kfree(spares[0]);
        kfree(spares[1]);
        return ERR_NO_MEMORY;
    }
    struct list_node doomed = LIST_INIT(doomed);
    irqstate_t s = spin_lock_irqsave(&as->lock);
    cut_at(as, addr, addr + size, spares);
    list_for_each_safe(it, tmp, &as->regions)
    {
        struct vm_region *r = list_entry(it, struct vm_region, node);
        if (r->base >= addr && r->base + r->size <= addr + size) {
            unmap_pages(as, r->base, r->size);
            list_remove(&r->node);
            list_add_tail(&doomed, &r->node);
        }
    }
    spin_unlock_irqrestore(&as->lock, s);
    list_for_each_safe(it, tmp, &doomed)
    {
        list_remove(it);
        region_free(list_entry(it, struct vm_region, node));
    }
    kfree(spares[0]);
    kfree(spares[1]);
    return OK;
}

// True if every page of [addr, end) lies in some region. aspace lock held.
static bool fully_mapped(struct vm_aspace *as, vaddr_t addr, vaddr_t end)
{
    while (addr < end) {
        struct vm_region *r = find_region(as, addr);
        if (!r)
            return false;
        addr = r->base + r->size;
    }
    return true;
}

status_t vm_protect(struct vm_aspace *as, vaddr_t addr, uint64_t size, unsigned flags)
{
    if (!range_ok(addr, size) || !flags_ok(flags))
        return ERR_INVALID_ARGS;
    struct vm_region *spares[2] = {kmalloc(sizeof(struct vm_region)),
                                   kmalloc(sizeof(struct vm_region))};
    status_t st = OK;
    if (!spares[0] || !spares[1])
        st = ERR_NO_MEMORY;
    irqstate_t s = spin_lock_irqsave(&as->lock);
    if (st == OK && !fully_mapped(as, addr, addr + size))
        st = ERR_NOT_FOUND;
    if (st == OK) {
        cut_at(as, addr, addr + size, spares);
        list_for_each(it, &as->regions)
        {
            struct vm_region *r = list_entry(it, struct vm_region, node);
            if (r->base < addr || r->base >= addr + size)
                continue;
            r->flags = flags;
            protect_pages(as, r->base, r->size, flags | VM_USER | vmo_map_flags(r->vmo));
        }
    }
    spin_unlock_irqrestore(&as->lock, s);
    kfree(spares[0]);
    kfree(spares[1]);
    return st;
}

status_t vm_fault(struct vm_aspace *as, vaddr_t addr, unsigned access)
{
    vaddr_t page = ALIGN_DOWN(addr, PAGE_SIZE);
    irqstate_t s = spin_lock_irqsave(&as->lock);
    struct vm_region *r = find_region(as, page);
    status_t st = OK;
    if (!r)
        st = ERR_NOT_FOUND;
    else if ((access & ~(r->flags | (r->flags & VM_EXEC ? VM_READ : 0))) != 0)
        st = ERR_ACCESS_DENIED; // (x86 cannot map execute-only: exec implies read)
    paddr_t pa;
    if (st == OK)
        st = vmo_commit_page(r->vmo, r->offset + (page - r->base), &pa);
    if (st == OK) {
        st = arch_mmu_map(as->root, page, pa, 1, r->flags | VM_USER | vmo_map_flags(r->vmo));
        if (st == OK)
            as->mapped_pages++;
        else if (st == ERR_ALREADY_EXISTS)
            st = OK; // another thread got there first
    }
    spin_unlock_irqrestore(&as->lock, s);
    return st;
}

uint64_t vm_mapped_bytes(struct vm_aspace *as)
{
    uint64_t total = 0;
    irqstate_t s = spin_lock_irqsave(&as->lock);
    list_for_each(it, &as->regions) total += list_entry(it, struct vm_region, node)->size;
    spin_unlock_irqrestore(&as->lock, s);
    return total;
}
