// nimbus:host
// Slab caches. A slab is one buddy block: a header with an allocation bitmap,
// then the objects. Every page of a slab has use PAGE_SLAB and points at the
// header, so kfree finds the cache of any object, and the bitmap makes the
// bad-free checks exact. kmalloc picks a size class cache, or takes a whole
// buddy block (use PAGE_LARGE, its order in the page metadata).
#include "mm/slab.h"
#include "mm/allocfail.h"

#include "lib/compiler.h"
#include "lib/panic.h"
#include "lib/printk.h"
#include "lib/spinlock.h"
#include "lib/string.h"

#define SLAB_MAGIC      0x51ab0c0du
#define SLAB_KEEP_EMPTY 1 // empty slabs a cache keeps instead of freeing
#define POISON_WORD     (0x0101010101010101ull * SLAB_POISON_BYTE)
#define KMALLOC_MIN     16

struct slab {
    uint32_t magic; // SLAB_MAGIC while the slab belongs to a cache
    uint16_t inuse; // allocated objects (cache lock)
    uint16_t hint;  // every bitmap word below this one is full (cache lock)
    struct slab_cache *cache;
    struct slab *prev, *next; // on the cache list for its fill state (cache lock)
    uint64_t used[];          // bit i: object i allocated, or i past the last object (cache lock)
};

struct slab_cache {
    char name[SLAB_NAME_MAX];
    size_t obj_size; // object stride: the size rounded up to align
    size_t align;    // at least 8
    uint32_t objs_per_slab;
    uint32_t obj_offset;   // of object 0 from the slab header
    uint32_t bitmap_words; // of slab.used
    uint8_t order;         // every slab is 2^order pages
    bool is_static;        // a kmalloc cache or the cache of caches
    struct spinlock lock;
    struct slab *partial, *full, *empty; // (lock)
    size_t nslabs, nempty, inuse;        // (lock)
    struct slab_cache *next;             // (registry_lock)
};

static const uint16_t class_sizes[] = {16,  32,  48,  64,  96,   128,  192,
                                       256, 384, 512, 768, 1024, 1536, 2048};
static const char *const class_names[] = {
    "kmalloc-16",  "kmalloc-32",   "kmalloc-48",   "kmalloc-64",  "kmalloc-96",
    "kmalloc-128", "kmalloc-192",  "kmalloc-256",  "kmalloc-384", "kmalloc-512",
    "kmalloc-768", "kmalloc-1024", "kmalloc-1536", "kmalloc-2048"};
#define NCLASSES ARRAY_SIZE(class_sizes)
_Static_assert(ARRAY_SIZE(class_names) == NCLASSES, "one name per size class");
_Static_assert(KMALLOC_MAX_CLASS == 2048, "largest size class");

static struct spinlock registry_lock = SPINLOCK_INIT("slab registry");
static struct slab_cache *registry;   // every cache, in creation order (registry_lock)
static struct slab_cache cache_cache; // the struct slab_cache of dedicated caches
static struct slab_cache kmalloc_caches[NCLASSES];
static uint8_t class_of[KMALLOC_MAX_CLASS / KMALLOC_MIN + 1]; // (n + 15) / 16 -> class
static bool slab_ready;
static uint64_t slab_errors;  // atomic
static uint64_t large_blocks; // atomic: live page-backed kmalloc blocks
static uint64_t large_pages;  // atomic: and their pages

static void report(const struct slab_cache *c, const void *p, const char *what)
{
    __atomic_fetch_add(&slab_errors, 1, __ATOMIC_RELAXED);
    pr_err("slab: %s: %s: %p\n", c ? c->name : "kfree", what, p);
}

static size_t header_size(size_t nobjs)
{
    return sizeof(struct slab) + (nobjs + 63) / 64 * sizeof(uint64_t);
}

// How many objects of the cache fit a slab of 2^order pages, after the
// header; sets *offset to where object 0 starts.
static size_t objs_fitting(const struct slab_cache *c, unsigned order, size_t *offset)
{
    size_t bytes = PAGE_SIZE << order;

    for (size_t n = bytes / c->obj_size; n > 0; n--) {
        size_t off = ALIGN_UP(header_size(n), c->align);
        if (off + n * c->obj_size <= bytes) {
            *offset = off;
            return n;
        }
    }
    return 0;
}

// Picks the smallest slab order that wastes at most 1/8 of the slab, else
// the order that wastes the least. False if no object fits any slab.
static bool choose_layout(struct slab_cache *c)
{
    size_t best_waste = SIZE_MAX;

    for (unsigned o = 0; o <= SLAB_MAX_ORDER; o++) {
        size_t off, n = objs_fitting(c, o, &off), bytes = PAGE_SIZE << o;
        size_t waste = bytes - n * c->obj_size;
        if (n == 0 || waste * (1ull << (SLAB_MAX_ORDER - o)) >= best_waste)
            continue;
        best_waste = waste * (1ull << (SLAB_MAX_ORDER - o)); // compared per 2^SLAB_MAX_ORDER pages
        c->order = (uint8_t)o;
        c->objs_per_slab = (uint32_t)n;
        c->obj_offset = (uint32_t)off;
        c->bitmap_words = (uint32_t)((n + 63) / 64);
        if (waste * 8 <= bytes)
            break;
    }
    return best_waste != SIZE_MAX;
}

static bool cache_setup(struct slab_cache *c, const char *name, size_t size, size_t align,
                        bool is_static)
{
    align = align ? align : 8;
    if (size == 0 || size > (PAGE_SIZE << SLAB_MAX_ORDER) || align > PAGE_SIZE ||
        (align & (align - 1)))
        return false;
    *c = (struct slab_cache){.is_static = is_static, .lock = SPINLOCK_INIT("slab cache")};
    kstrlcpy(c->name, name, sizeof(c->name));
    c->align = MAX(align, (size_t)8);
    c->obj_size = ALIGN_UP(size, c->align);
    return choose_layout(c);
}

static void registry_add(struct slab_cache *c)
{
    irqstate_t irq = spin_lock_irqsave(&registry_lock);
    struct slab_cache **pp = &registry;
    while (*pp)
        pp = &(*pp)->next;
    c->next = NULL;
    *pp = c;
    spin_unlock_irqrestore(&registry_lock, irq);
}

static char *slab_objs(const struct slab_cache *c, struct slab *s)
{
    return (char *)s + c->obj_offset;
}

// The list a slab belongs on for its fill state.
static struct slab **list_for(struct slab_cache *c, const struct slab *s)
{
    if (s->inuse == 0)
        return &c->empty;
    return s->inuse == c->objs_per_slab ? &c->full : &c->partial;
}

static void list_add(struct slab **head, struct slab *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
}

static void list_del(struct slab **head, struct slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

// Marks every page of the slab block at `pa` as belonging to `s` (or to no
// one, with use PAGE_USE_NONE and s NULL).
static void set_pages(paddr_t pa, unsigned order, uint8_t use, struct slab *s)
{
    for (uint64_t i = 0; i < (1ull << order); i++) {
        struct page *pg = pmm_page(pa + i * PAGE_SIZE);
        pg->use = use;
        pg->owner = s;
    }
}

// A new empty slab with every object poisoned; NULL when out of memory.
static struct slab *slab_new(struct slab_cache *c)
{
    paddr_t pa;

    if (pmm_alloc(c->order, 0, &pa) != OK)
        return NULL;
    struct slab *s = phys_to_virt(pa);
    *s = (struct slab){.magic = SLAB_MAGIC, .cache = c};
    memset(s->used, 0, c->bitmap_words * sizeof(uint64_t));
    // Bits past the last object stay set, so they are never handed out.
    if (c->objs_per_slab % 64)
        s->used[c->bitmap_words - 1] = ~0ull << (c->objs_per_slab % 64);
    if (SLAB_POISON)
        memset(slab_objs(c, s), SLAB_POISON_BYTE, c->objs_per_slab * c->obj_size);
    set_pages(pa, c->order, PAGE_SLAB, s);
    return s;
}

// Gives an empty slab, already off the cache's lists, back to the pmm.
static void slab_release(struct slab_cache *c, struct slab *s)
{
    paddr_t pa = virt_to_phys(s);

    s->magic = 0;
    set_pages(pa, c->order, PAGE_USE_NONE, NULL);
    pmm_free(pa, c->order);
}

// Releases a chain of empty slabs linked through next; returns their pages.
static size_t release_chain(struct slab_cache *c, struct slab *s)
{
    size_t pages = 0;

    while (s) {
        struct slab *next = s->next;
        slab_release(c, s);
        pages += 1ull << c->order;
        s = next;
    }
    return pages;
}

// Claims the lowest free object of the slab. The slab is not full.
static uint32_t take_index(const struct slab_cache *c, struct slab *s)
{
    for (uint32_t w = s->hint; w < c->bitmap_words; w++) {
        uint64_t free = ~s->used[w];
        if (free) {
            unsigned b = (unsigned)__builtin_ctzll(free);
            s->used[w] |= 1ull << b;
            s->hint = (uint16_t)w;
            return w * 64 + b;
        }
    }
    panic("slab: %s: slab %p has no free object but is not full", c->name, (void *)s);
}

// An object from the cache's partial or empty slabs, or NULL if there is
// none. Caller holds the cache lock.
static void *take_object(struct slab_cache *c)
{
    struct slab *s = c->partial ? c->partial : c->empty;

    if (!s)
        return NULL;
    struct slab **from = list_for(c, s);
    uint32_t i = take_index(c, s);
    if (s->inuse++ == 0)
        c->nempty--;
    c->inuse++;
    struct slab **to = list_for(c, s);
    if (to != from) {
        list_del(from, s);
        list_add(to, s);
    }
    return slab_objs(c, s) + (size_t)i * c->obj_size;
}

// A write after free shows as a broken poison pattern.
static void check_poison(const struct slab_cache *c, const void *obj)
{
    const uint64_t *w = obj;

    for (size_t i = 0; i < c->obj_size / sizeof(uint64_t); i++) {
        if (w[i] != POISON_WORD) {
            report(c, obj, "object written after it was freed");
            return;
        }
    }
}

void *slab_alloc(struct slab_cache *c)
{
    if (!c || allocfail_should_fail())
        return NULL;
    irqstate_t irq = spin_lock_irqsave(&c->lock);
    void *p = take_object(c);
    spin_unlock_irqrestore(&c->lock, irq);
    if (!p) {
        struct slab *s = slab_new(c);
        if (!s)
            return NULL;
        irq = spin_lock_irqsave(&c->lock);
        list_add(&c->empty, s);
        c->nslabs++;
        c->nempty++;
        p = take_object(c);
        spin_unlock_irqrestore(&c->lock, irq);
    }
    if (SLAB_POISON)
        check_poison(c, p);
    return p;
}

// Decode step of a free: why `p` is not an allocated object of slab `s` of
// cache `c` whose page is `pg`, or NULL if it is (then *index is set). Caller
// holds the cache lock.
static const char *check_object(struct slab_cache *c, struct slab *s, const struct page *pg,
                                const void *p, uint32_t *index)
{
    if (pg->use != PAGE_SLAB || pg->owner != s || s->magic != SLAB_MAGIC || s->cache != c)
        return "not a slab object";
    const char *objs = slab_objs(c, s);
    if ((const char *)p < objs ||
        (size_t)((const char *)p - objs) >= c->objs_per_slab * c->obj_size)
        return "pointer into a slab header or tail, not an object";
    size_t off = (size_t)((const char *)p - objs);
    if (off % c->obj_size)
        return "pointer is not the start of an object";
    *index = (uint32_t)(off / c->obj_size);
    if (!(s->used[*index / 64] & (1ull << (*index % 64))))
        return "double free";
    return NULL;
}

// Invoke step: returns object `index` to its slab. Returns the slab if it is
// now an empty one the cache does not keep (already unlinked), else NULL.
// Caller holds the cache lock.
static struct slab *put_object(struct slab_cache *c, struct slab *s, uint32_t index, void *p)
{
    struct slab **from = list_for(c, s);

    if (SLAB_POISON)
        memset(p, SLAB_POISON_BYTE, c->obj_size);
    s->used[index / 64] &= ~(1ull << (index % 64));
    s->hint = (uint16_t)MIN(s->hint, index / 64);
    s->inuse--;
    c->inuse--;
    list_del(from, s);
    if (s->inuse == 0 && c->nempty >= SLAB_KEEP_EMPTY) {
        c->nslabs--;
        return s;
    }
    c->nempty += s->inuse == 0;
    list_add(list_for(c, s), s);
    return NULL;
}

// Frees slab object `p` whose page is `pg`; `want` is the cache the caller
// named (NULL for kfree).
static void free_object(struct slab_cache *want, void *p, const struct page *pg)
{
    struct slab *s = pg->owner;
    struct slab_cache *c = s->cache;
    struct slab *dead = NULL;
    uint32_t index;

    if (want && c != want) {
        __atomic_fetch_add(&slab_errors, 1, __ATOMIC_RELAXED);
        pr_err("slab: %s: free of %p, which belongs to cache %s\n", want->name, p, c->name);
        return;
    }
    irqstate_t irq = spin_lock_irqsave(&c->lock);
    const char *why = check_object(c, s, pg, p, &index);
    if (!why)
        dead = put_object(c, s, index, p);
    spin_unlock_irqrestore(&c->lock, irq);
    if (why)
        report(c, p, why);
    if (dead)
        slab_release(c, dead);
}

// The page metadata of heap memory at `p`; NULL if the pmm does not manage it.
static struct page *heap_page(const void *p)
{
    return pmm_page(virt_to_phys(p));
}

void slab_free(struct slab_cache *c, void *p)
{
    if (!p)
        return;
    const struct page *pg = heap_page(p);
    if (!c) {
        report(NULL, p, "slab_free without a cache");
        return;
    }
    if (!pg || pg->use != PAGE_SLAB) {
        report(c, p, "free of a pointer that is not a slab object");
        return;
    }
    free_object(c, p, pg);
}

static void *large_alloc(size_t n, unsigned flags)
{
    size_t pages = (n + PAGE_SIZE - 1) >> PAGE_SHIFT;
    unsigned order = 0;
    paddr_t pa;

    while ((1ull << order) < pages)
        order++;
    if (pmm_alloc(order, flags, &pa) != OK)
        return NULL;
    struct page *pg = pmm_page(pa);
    pg->use = PAGE_LARGE;
    pg->owner = NULL;
    __atomic_fetch_add(&large_blocks, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&large_pages, 1ull << order, __ATOMIC_RELAXED);
    return phys_to_virt(pa);
}

// The head page of a live page-backed kmalloc block starting at `p`, or NULL.
static struct page *large_page(const void *p, struct page *pg)
{
    bool head = pg && ((uintptr_t)p & PAGE_MASK) == 0 && pg->state == PAGE_ALLOCATED;
    return head && pg->use == PAGE_LARGE ? pg : NULL;
}

static void large_free(void *p, struct page *pg)
{
    uint8_t expect = PAGE_LARGE;
    unsigned order = pg->order;

    // Only one of two racing frees of the block gets past this.
    if (!__atomic_compare_exchange_n(&pg->use, &expect, PAGE_USE_NONE, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED)) {
        report(NULL, p, "double free of a page-backed block");
        return;
    }
    __atomic_fetch_sub(&large_blocks, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&large_pages, 1ull << order, __ATOMIC_RELAXED);
    pmm_free(virt_to_phys(p), order);
}

static struct slab_cache *class_cache(size_t n)
{
    return &kmalloc_caches[class_of[(n + KMALLOC_MIN - 1) / KMALLOC_MIN]];
}

void *kmalloc(size_t n)
{
    if (n == 0 || n > KMALLOC_MAX_SIZE || !slab_ready)
        return NULL;
    if (n <= KMALLOC_MAX_CLASS)
        return slab_alloc(class_cache(n));
    return large_alloc(n, 0);
}

void *kzalloc(size_t n)
{
    if (n == 0 || n > KMALLOC_MAX_SIZE || !slab_ready)
        return NULL;
    if (n > KMALLOC_MAX_CLASS)
        return large_alloc(n, PMM_ZERO);
    struct slab_cache *c = class_cache(n);
    void *p = slab_alloc(c);
    if (p)
        memset(p, 0, c->obj_size);
    return p;
}

void kfree(void *p)
{
    if (!p)
        return;
    struct page *pg = heap_page(p);
    if (pg && pg->use == PAGE_SLAB) {
        free_object(NULL, p, pg);
        return;
    }
    struct page *head = large_page(p, pg);
    if (head) {
        large_free(p, head);
        return;
    }
    report(NULL, p, "not a live heap allocation (bad pointer or double free)");
}

size_t ksize(const void *p)
{
    struct page *pg = p ? heap_page(p) : NULL;
    uint32_t index;

    if (pg && pg->use == PAGE_SLAB) {
        struct slab *s = pg->owner;
        struct slab_cache *c = s->cache;
        irqstate_t irq = spin_lock_irqsave(&c->lock);
        bool live = !check_object(c, s, pg, p, &index);
        spin_unlock_irqrestore(&c->lock, irq);
        return live ? c->obj_size : 0;
    }
    pg = large_page(p, pg);
    return pg ? PAGE_SIZE << pg->order : 0;
}

struct slab_cache *slab_cache_create(const char *name, size_t size, size_t align)
{
    if (!slab_ready || !name)
        return NULL;
    struct slab_cache *c = slab_alloc(&cache_cache);
    if (!c)
        return NULL;
    if (!cache_setup(c, name, size, align, false)) {
        slab_free(&cache_cache, c);
        return NULL;
    }
    registry_add(c);
    return c;
}

// Unlinks `c` from the registry if it has no objects in use. Caller holds
// registry_lock.
static status_t unregister_idle(struct slab_cache *c)
{
    struct slab_cache **pp = &registry;

    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (!*pp || c->is_static)
        return ERR_INVALID_ARGS;
    irqstate_t irq = spin_lock_irqsave(&c->lock);
    size_t inuse = c->inuse;
    spin_unlock_irqrestore(&c->lock, irq);
    if (inuse)
        return ERR_BAD_STATE;
    *pp = c->next;
    return OK;
}

status_t slab_cache_destroy(struct slab_cache *c)
{
    irqstate_t irq = spin_lock_irqsave(&registry_lock);
    status_t s = unregister_idle(c);
    spin_unlock_irqrestore(&registry_lock, irq);
    if (s == ERR_BAD_STATE)
        pr_err("slab: cannot destroy cache %s: objects still allocated\n", c->name);
    else if (s != OK)
        pr_err("slab: cannot destroy %p: not a dedicated cache\n", (void *)c);
    if (s != OK)
        return s;
    release_chain(c, c->empty);
    slab_free(&cache_cache, c);
    return OK;
}

size_t slab_reclaim(void)
{
    size_t pages = 0;

    irqstate_t irq = spin_lock_irqsave(&registry_lock);
    for (struct slab_cache *c = registry; c; c = c->next) {
        irqstate_t irq2 = spin_lock_irqsave(&c->lock);
        struct slab *chain = c->empty;
        c->empty = NULL;
        c->nslabs -= c->nempty;
        c->nempty = 0;
        spin_unlock_irqrestore(&c->lock, irq2);
        pages += release_chain(c, chain);
    }
    spin_unlock_irqrestore(&registry_lock, irq);
    return pages;
}

static struct slab_cache_stats cache_stats(struct slab_cache *c)
{
    irqstate_t irq = spin_lock_irqsave(&c->lock);
    struct slab_cache_stats st = {
        .name = c->name,
        .obj_size = c->obj_size,
        .objs_in_use = c->inuse,
        .objs_total = c->nslabs * c->objs_per_slab,
        .pages = c->nslabs << c->order,
    };
    spin_unlock_irqrestore(&c->lock, irq);
    return st;
}

size_t slab_stats(struct slab_cache_stats *out, size_t max)
{
    size_t n = 0;

    irqstate_t irq = spin_lock_irqsave(&registry_lock);
    for (struct slab_cache *c = registry; c; c = c->next, n++)
        if (n < max)
            out[n] = cache_stats(c);
    spin_unlock_irqrestore(&registry_lock, irq);
    if (n < max) {
        size_t blocks = __atomic_load_n(&large_blocks, __ATOMIC_RELAXED);
        out[n] = (struct slab_cache_stats){
            .name = "kmalloc-large",
            .objs_in_use = blocks,
            .objs_total = blocks,
            .pages = __atomic_load_n(&large_pages, __ATOMIC_RELAXED),
        };
    }
    return n + 1;
}

void slab_report_foreign(const char *owner, const void *p, const char *what)
{
    __atomic_fetch_add(&slab_errors, 1, __ATOMIC_RELAXED);
    pr_err("slab: %s: %s: %p\n", owner, what, p);
}

uint64_t slab_error_count(void)
{
    return __atomic_load_n(&slab_errors, __ATOMIC_RELAXED);
}

status_t slab_init(void)
{
    slab_ready = false;
    registry = NULL;
    large_blocks = large_pages = 0;
    for (size_t i = 0; i < NCLASSES; i++) {
        size_t size = class_sizes[i];
        size_t align = (size & (size - 1)) ? KMALLOC_MIN : size;
        if (!cache_setup(&kmalloc_caches[i], class_names[i], size, align, true))
            return ERR_INTERNAL;
        registry_add(&kmalloc_caches[i]);
    }
    if (!cache_setup(&cache_cache, "slab_cache", sizeof(struct slab_cache),
                     _Alignof(struct slab_cache), true))
        return ERR_INTERNAL;
    registry_add(&cache_cache);
    for (size_t n = 1, i = 0; n < ARRAY_SIZE(class_of); n++) {
        while (class_sizes[i] < n * KMALLOC_MIN)
            i++;
        class_of[n] = (uint8_t)i;
    }
    slab_ready = true;
    return OK;
}
