// nimbus:host
// Virtual memory objects.
#include "obj/vmo.h"
#include "obj/resource.h"
#include "lib/string.h"
#include "mm/mmu.h"
#include "mm/pmm.h"
#include "mm/slab.h"

#define VMO_RIGHTS                                                                             \
    (RIGHT_READ | RIGHT_WRITE | RIGHT_MAP | RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_INSPECT | \
     RIGHT_MANAGE)
#define NO_PAGE ((paddr_t)-1) // page not committed yet (fake physical 0 is a real page on the host)

struct vmo {
    struct kobject obj;
    uint64_t size;      // bytes (lock)
    uint64_t npages;    // entries in pages: size rounded up to pages (lock)
    paddr_t *pages;     // physical page per page index, or NO_PAGE (lock)
    uint64_t committed; // pages allocated (lock)
    uint64_t mappings;  // address-space regions mapping it (lock)
    uint8_t kind;       // VMO_PAGED, VMO_PHYSICAL, VMO_CONTIGUOUS (immutable)
    uint8_t cache;      // NB_CACHE_* (immutable)
    uint8_t order;      // VMO_CONTIGUOUS: the pmm block's order (immutable)
    // VMO_CONTIGUOUS made through a DMA resource: that resource (a
    // reference), which keeps the block when the vmo dies (see vmo_destroy).
    struct kobject *dma_res;
    struct list_node quarantine; // on dma_res's quarantine after vmo_destroy
};

static uint64_t all_committed; // atomic: pages committed by every vmo

static struct vmo *to_vmo(struct kobject *o)
{
    return container_of(o, struct vmo, obj);
}

struct kobject *vmo_obj(struct vmo *v)
{
    return &v->obj;
}

static uint64_t pages_for(uint64_t size)
{
    return (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
}

// Frees committed pages [from, to). Object lock held.
static void free_pages_locked(struct vmo *v, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        if (v->pages[i] != NO_PAGE) {
            pmm_free(v->pages[i], 0);
            v->pages[i] = NO_PAGE;
            v->committed--;
            __atomic_sub_fetch(&all_committed, 1, __ATOMIC_RELAXED);
        }
    }
}

static void vmo_destroy(struct kobject *o)
{
    struct vmo *v = to_vmo(o);

    if (v->kind == VMO_CONTIGUOUS && v->dma_res) {
        // A device may still be writing into the block (its driver died
        // with requests in flight): it stays with the DMA resource, still
        // counted as committed, until the resource dies (vmo_dma_release),
        // which its holder does once it has quiesced the device. The vmo
        // itself is the quarantine entry: nothing to allocate here.
        struct kobject *res = v->dma_res;
        v->dma_res = NULL;
        resource_dma_quarantine(res, &v->quarantine);
        obj_unref(res);
        return;
    }
    if (v->kind == VMO_CONTIGUOUS) {
        pmm_free(v->pages[0], v->order);
        __atomic_sub_fetch(&all_committed, v->committed, __ATOMIC_RELAXED);
    } else if (v->kind == VMO_PAGED) {
        free_pages_locked(v, 0, v->npages);
    }
    kfree(v->pages);
    kfree(v);
}

static const struct kobject_ops vmo_ops = {
    .type = OBJ_VMO,
    .name = "vmo",
    .default_rights = VMO_RIGHTS,
    .destroy = vmo_destroy,
};

void vmo_dma_release(struct list_node *quarantined)
{
    struct vmo *v = container_of(quarantined, struct vmo, quarantine);

    pmm_free(v->pages[0], v->order);
    __atomic_sub_fetch(&all_committed, v->committed, __ATOMIC_RELAXED);
    kfree(v->pages);
    kfree(v);
}

// A page list of n entries, all NO_PAGE (NULL for n == 0 is fine).
static status_t page_list_new(uint64_t n, paddr_t **out)
{
    *out = NULL;
    if (n == 0)
        return OK;
    paddr_t *p = kmalloc(n * sizeof(*p));
    if (!p)
        return ERR_NO_MEMORY;
    for (uint64_t i = 0; i < n; i++)
        p[i] = NO_PAGE;
    *out = p;
    return OK;
}

status_t vmo_create_kernel(uint64_t size, struct vmo **out)
{
    if (size > VMO_MAX_SIZE)
        return ERR_OUT_OF_RANGE;
    struct vmo *v = kmalloc(sizeof(*v));
    if (!v)
        return ERR_NO_MEMORY;
    status_t st = page_list_new(pages_for(size), &v->pages);
    if (st != OK) {
        kfree(v);
        return st;
    }
    obj_init(&v->obj, &vmo_ops, NULL);
    v->size = size;
    v->npages = pages_for(size);
    v->committed = 0;
    v->mappings = 0;
    v->kind = VMO_PAGED;
    v->cache = NB_CACHE_CACHED;
    v->order = 0;
    v->dma_res = NULL;
    list_init(&v->quarantine);
    *out = v;
    return OK;
}

status_t vmo_create_physical_kernel(paddr_t pa, uint64_t size, uint32_t cache, struct vmo **out)
{
    if (!size || !IS_ALIGNED(pa, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) ||
        cache > NB_CACHE_CACHED)
        return ERR_INVALID_ARGS;
    if (pa + size < pa)
        return ERR_OUT_OF_RANGE;
    struct vmo *v;
    status_t st = vmo_create_kernel(size, &v);
    if (st != OK)
        return st;
    for (uint64_t i = 0; i < v->npages; i++)
        v->pages[i] = pa + i * PAGE_SIZE;
    v->kind = VMO_PHYSICAL;
    v->cache = (uint8_t)cache;
    *out = v;
    return OK;
}

status_t vmo_create_contiguous_kernel(uint64_t size, struct vmo **out)
{
    if (!size)
        return ERR_INVALID_ARGS;
    if (size > VMO_CONTIGUOUS_MAX)
        return ERR_OUT_OF_RANGE;
    uint64_t n = pages_for(size);
    unsigned order = 0;
    while ((1ull << order) < n)
        order++;
    paddr_t pa;
    status_t st = pmm_alloc(order, PMM_LOW | PMM_ZERO, &pa);
    if (st == ERR_NO_MEMORY)
        st = pmm_alloc(order, PMM_ZERO, &pa); // no room below 4 GiB: anywhere
    if (st != OK)
        return st;
    struct vmo *v;
    st = vmo_create_kernel(n * PAGE_SIZE, &v);
    if (st != OK) {
        pmm_free(pa, order);
        return st;
    }
    for (uint64_t i = 0; i < n; i++)
        v->pages[i] = pa + i * PAGE_SIZE;
    v->kind = VMO_CONTIGUOUS;
    v->order = (uint8_t)order;
    v->committed = 1ull << order;
    __atomic_add_fetch(&all_committed, v->committed, __ATOMIC_RELAXED);
    *out = v;
    return OK;
}

static status_t install_new(struct handle_table *t, status_t st, struct vmo *v, handle_t *out)
{
    if (st != OK)
        return st;
    st = handle_install(t, &v->obj, VMO_RIGHTS, out);
    obj_unref(&v->obj);
    return st;
}

status_t vmo_create_physical(struct handle_table *t, paddr_t pa, uint64_t size, uint32_t cache,
                             handle_t *out)
{
    struct vmo *v = NULL;
    status_t st = vmo_create_physical_kernel(pa, size, cache, &v);
    return install_new(t, st, v, out);
}

status_t vmo_create_contiguous(struct handle_table *t, struct kobject *dma_res, uint64_t size,
                               handle_t *out)
{
    struct vmo *v = NULL;
    status_t st = vmo_create_contiguous_kernel(size, &v);
    if (st == OK && dma_res) {
        obj_ref(dma_res);
        v->dma_res = dma_res;
    }
    return install_new(t, st, v, out);
}

status_t vmo_phys_kernel(struct vmo *v, uint64_t offset, paddr_t *pa)
{
    if (v->kind == VMO_PAGED)
        return ERR_NOT_SUPPORTED;
    if (offset >= v->size) // immutable for these kinds
        return ERR_OUT_OF_RANGE;
    *pa = v->pages[offset >> PAGE_SHIFT] + (offset & PAGE_MASK);
    return OK;
}

status_t vmo_phys(struct handle_table *t, handle_t h, uint64_t offset, paddr_t *pa)
{
    struct vmo *v;
    status_t st = vmo_get(t, h, RIGHT_INSPECT, &v);
    if (st != OK)
        return st;
    st = vmo_phys_kernel(v, offset, pa);
    obj_unref(&v->obj);
    return st;
}

unsigned vmo_map_flags(struct vmo *v)
{
    if (v->cache == NB_CACHE_UNCACHED)
        return VM_UNCACHED;
    if (v->cache == NB_CACHE_WRITE_COMBINING)
        return VM_WRITE_COMBINING;
    return 0;
}

status_t vmo_create(struct handle_table *t, uint64_t size, handle_t *out)
{
    struct vmo *v;
    status_t st = vmo_create_kernel(size, &v);
    if (st != OK)
        return st;
    st = handle_install(t, &v->obj, VMO_RIGHTS, out);
    obj_unref(&v->obj);
    return st;
}

void vmo_mapping_added(struct vmo *v, int delta)
{
    irqstate_t s = obj_lock(&v->obj);
    v->mappings += (uint64_t)(int64_t)delta;
    obj_unlock(&v->obj, s);
}

uint64_t vmo_size(struct vmo *v)
{
    irqstate_t s = obj_lock(&v->obj);
    uint64_t size = v->size;
    obj_unlock(&v->obj, s);
    return size;
}

status_t vmo_get(struct handle_table *t, handle_t h, rights_t need, struct vmo **out)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_VMO, need, &o);

    if (st == OK)
        *out = to_vmo(o);
    return st;
}

// The page at index i, committing it if `commit`; NULL if absent (not
// committing) or out of memory. Object lock held.
static void *page_at_locked(struct vmo *v, uint64_t i, bool commit, status_t *st)
{
    if (v->pages[i] == NO_PAGE) {
        if (!commit)
            return NULL;
        paddr_t pa;
        *st = pmm_alloc(0, PMM_ZERO, &pa);
        if (*st != OK)
            return NULL;
        v->pages[i] = pa;
        v->committed++;
        __atomic_add_fetch(&all_committed, 1, __ATOMIC_RELAXED);
    }
    return phys_to_virt(v->pages[i]);
}

static bool range_ok(struct vmo *v, uint64_t offset, size_t n)
{
    return offset <= v->size && n <= v->size - offset;
}

// Copies between buf and the vmo page by page. Object lock held.
static status_t copy_locked(struct vmo *v, uint64_t offset, void *buf, size_t n, bool write)
{
    unsigned char *b = buf;
    status_t st = OK;

    while (n) {
        uint64_t in = offset & PAGE_MASK;
        size_t chunk = MIN(n, (size_t)(PAGE_SIZE - in));
        unsigned char *page = page_at_locked(v, offset >> PAGE_SHIFT, write, &st);
        if (write && !page)
            return st;
        if (write)
            memcpy(page + in, b, chunk);
        else if (page)
            memcpy(b, page + in, chunk);
        else
            memset(b, 0, chunk);
        b += chunk;
        offset += chunk;
        n -= chunk;
    }
    return OK;
}

// Shared by read and write: decode (rights, range), then invoke the copy.
static status_t vmo_rw(struct handle_table *t, handle_t h, uint64_t offset, void *buf, size_t n,
                       bool write)
{
    struct vmo *v;
    status_t st = vmo_get(t, h, write ? RIGHT_WRITE : RIGHT_READ, &v);

    if (st != OK)
        return st;
    if (v->kind == VMO_PHYSICAL) { // device memory: map it instead
        obj_unref(&v->obj);
        return ERR_NOT_SUPPORTED;
    }
    irqstate_t s = obj_lock(&v->obj);
    st = range_ok(v, offset, n) ? copy_locked(v, offset, buf, n, write) : ERR_OUT_OF_RANGE;
    obj_unlock(&v->obj, s);
    obj_unref(&v->obj);
    return st;
}

status_t vmo_read(struct handle_table *t, handle_t h, uint64_t offset, void *buf, size_t n)
{
    return vmo_rw(t, h, offset, buf, n, false);
}

status_t vmo_write(struct handle_table *t, handle_t h, uint64_t offset, const void *buf, size_t n)
{
    return vmo_rw(t, h, offset, (void *)buf, n, true);
}

status_t vmo_get_size(struct handle_table *t, handle_t h, uint64_t *size)
{
    struct vmo *v;
    status_t st = vmo_get(t, h, RIGHT_NONE, &v);

    if (st != OK)
        return st;
    irqstate_t s = obj_lock(&v->obj);
    *size = v->size;
    obj_unlock(&v->obj, s);
    obj_unref(&v->obj);
    return OK;
}

// Zeroes the bytes of the last page past `size`. Object lock held.
static void zero_tail_locked(struct vmo *v, uint64_t size)
{
    uint64_t in = size & PAGE_MASK;
    status_t st;

    if (in == 0 || size >> PAGE_SHIFT >= v->npages)
        return;
    unsigned char *page = page_at_locked(v, size >> PAGE_SHIFT, false, &st);
    if (page)
        memset(page + in, 0, PAGE_SIZE - in);
}

// Invoke part of vmo_set_size; `fresh` is a page list for the new size
// (allocated before taking the lock), which the vmo keeps or the caller frees.
static paddr_t *resize_locked(struct vmo *v, uint64_t size, paddr_t *fresh)
{
    uint64_t n = pages_for(size);
    uint64_t keep = MIN(n, v->npages);

    zero_tail_locked(v, MIN(size, v->size));
    free_pages_locked(v, n, v->npages);
    for (uint64_t i = 0; i < keep; i++)
        fresh[i] = v->pages[i];
    paddr_t *old = v->pages;
    v->pages = fresh;
    v->npages = n;
    v->size = size;
    return old;
}

status_t vmo_set_size(struct handle_table *t, handle_t h, uint64_t size)
{
    struct vmo *v;
    paddr_t *fresh;

    if (size > VMO_MAX_SIZE)
        return ERR_OUT_OF_RANGE;
    status_t st = vmo_get(t, h, RIGHT_MANAGE, &v);
    if (st != OK)
        return st;
    if (v->kind != VMO_PAGED) { // fixed physical pages
        obj_unref(&v->obj);
        return ERR_NOT_SUPPORTED;
    }
    st = page_list_new(pages_for(size), &fresh);
    if (st == OK) {
        irqstate_t s = obj_lock(&v->obj);
        // A mapped vmo may grow but not shrink: mappings would keep pages
        // the vmo no longer owns.
        if (v->mappings && size < v->size)
            st = ERR_BAD_STATE;
        else
            fresh = resize_locked(v, size, fresh);
        obj_unlock(&v->obj, s);
        kfree(fresh);
    }
    obj_unref(&v->obj);
    return st;
}

status_t vmo_commit_page(struct vmo *v, uint64_t offset, paddr_t *pa)
{
    status_t st = OK;

    irqstate_t s = obj_lock(&v->obj);
    if (offset >= v->size) {
        st = ERR_OUT_OF_RANGE;
    } else if (v->kind != VMO_PAGED) { // fixed pages (device memory need not be in the direct map)
        *pa = v->pages[offset >> PAGE_SHIFT];
    } else if (page_at_locked(v, offset >> PAGE_SHIFT, true, &st)) {
        *pa = v->pages[offset >> PAGE_SHIFT];
    }
    obj_unlock(&v->obj, s);
    return st;
}

uint64_t vmo_total_committed_pages(void)
{
    return __atomic_load_n(&all_committed, __ATOMIC_RELAXED);
}

uint64_t vmo_committed_pages(struct vmo *v)
{
    irqstate_t s = obj_lock(&v->obj);
    uint64_t n = v->committed;
    obj_unlock(&v->obj, s);
    return n;
}

status_t vmo_write_kernel(struct vmo *v, uint64_t offset, const void *buf, size_t n)
{
    const uint8_t *src = buf;
    while (n) {
        paddr_t pa;
        status_t st = vmo_commit_page(v, offset, &pa);
        if (st != OK)
            return st;
        size_t in_page = PAGE_SIZE - (offset & PAGE_MASK);
        size_t chunk = n < in_page ? n : in_page;
        memcpy((uint8_t *)phys_to_virt(pa) + (offset & PAGE_MASK), src, chunk);
        src += chunk;
        offset += chunk;
        n -= chunk;
    }
    return OK;
}

status_t vmo_replace_as_executable(struct handle_table *t, handle_t h, handle_t vmex, handle_t *out)
{
    struct nb_handle_info info;
    struct vmo *v;
    status_t st = resource_check(t, vmex, NB_RESOURCE_VMEX);
    if (st == OK)
        st = handle_get_info(t, h, &info);
    if (st == OK)
        st = vmo_get(t, h, RIGHT_NONE, &v);
    if (st != OK)
        return st;
    if (v->kind == VMO_PHYSICAL) { // device memory never holds code
        obj_unref(&v->obj);
        return ERR_NOT_SUPPORTED;
    }
    // (1) install the new handle, (2) only then close the old one, so a
    // failure leaves the caller with what it had.
    rights_t rights = (info.rights & ~RIGHT_WRITE) | RIGHT_EXECUTE;
    st = handle_install(t, &v->obj, rights, out);
    obj_unref(&v->obj);
    if (st == OK)
        handle_close(t, h);
    return st;
}
