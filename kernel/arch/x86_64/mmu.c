// x86_64 4-level paging: the kernel address space and the page-table
// operations behind mm/mmu.h, with TLB shootdowns on SMP.
//
// Which CPUs may cache a user root's translations is a CPU mask kept in the
// metadata of the root page (struct page.owner, the allocator leaves it to
// us): a CPU sets its bit before loading the root into CR3 and clears it
// after loading another (with PCIDs off that CR3 write flushed every
// non-global entry). Unmapping or protecting pages of a user root flushes
// the CPUs in its mask; the kernel root's pages are global and shared by
// every address space, so changes to it flush every CPU.
#include <stdbool.h>

#include "init/boot_info.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/mmu.h"
#include "mm/pmm.h"
#include "x86.h"
#include "x86_cpu.h"

#define PTE_P      (1ull << 0)
#define PTE_W      (1ull << 1)
#define PTE_U      (1ull << 2)
#define PTE_PWT    (1ull << 3)
#define PTE_PCD    (1ull << 4)
#define PTE_PS     (1ull << 7)
#define PTE_G      (1ull << 8)
#define PTE_NX     (1ull << 63)
#define PTE_ADDR   0x000ffffffffff000ull
#define LARGE_PAGE (2ull << 20)

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __bss_end[], __ksyms_start[], __ksyms_end[];
extern char __kernel_phys_start[], __kernel_phys_end[];

static paddr_t kernel_root;
static bool switched; // running on kernel_root: any page is reachable

static unsigned pt_index(vaddr_t va, int level)
{
    return (va >> (12 + 9 * (level - 1))) & 511;
}

static bool canonical(vaddr_t va)
{
    return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

static uint64_t *table_at(uint64_t entry)
{
    return phys_to_virt(entry & PTE_ADDR);
}

static uint64_t leaf_bits(unsigned flags)
{
    uint64_t e = PTE_P;
    if (flags & VM_WRITE)
        e |= PTE_W;
    if (flags & VM_USER)
        e |= PTE_U;
    else if (x86_cpu_features.pge)
        e |= PTE_G;
    if (!(flags & VM_EXEC) && x86_cpu_features.nx)
        e |= PTE_NX;
    // Cache policy through the PAT index (PAT bit 0, PCD, PWT): 3 is UC; 1
    // is write-combining (cpu.c programs it). Without PAT, WC is UC.
    if (flags & VM_UNCACHED)
        e |= PTE_PCD | PTE_PWT;
    else if (flags & VM_WRITE_COMBINING)
        e |= x86_cpu_features.pat ? PTE_PWT : PTE_PCD | PTE_PWT;
    return e;
}

static unsigned flags_of(uint64_t e)
{
    unsigned f = VM_READ;
    if (e & PTE_W)
        f |= VM_WRITE;
    if (e & PTE_U)
        f |= VM_USER;
    if (!(e & PTE_NX))
        f |= VM_EXEC;
    if (e & PTE_PCD)
        f |= VM_UNCACHED;
    else if (e & PTE_PWT)
        f |= VM_WRITE_COMBINING;
    return f;
}

static status_t alloc_table(paddr_t *pa)
{
    // Before the switch only the boot map's first 4 GiB are reachable.
    return pmm_alloc(0, PMM_ZERO | (switched ? 0 : PMM_LOW), pa);
}

// Returns the entry for va at `level` (1 = 4 KiB PTE, 2 = 2 MiB PDE), creating
// intermediate tables when `create`. NULL if missing, or blocked by a larger
// page (*err says which).
static uint64_t *walk(paddr_t root, vaddr_t va, int level, bool create, bool user, status_t *err)
{
    uint64_t *table = phys_to_virt(root);
    for (int l = 4; l > level; l--) {
        uint64_t *e = &table[pt_index(va, l)];
        if (*e & PTE_P && *e & PTE_PS) {
            *err = ERR_ALREADY_EXISTS;
            return NULL;
        }
        if (!(*e & PTE_P)) {
            paddr_t pa;
            if (!create) {
                *err = ERR_NOT_FOUND;
                return NULL;
            }
            if ((*err = alloc_table(&pa)) != OK)
                return NULL;
            *e = pa | PTE_P | PTE_W | (user ? PTE_U : 0);
        }
        table = table_at(*e);
    }
    return &table[pt_index(va, level)];
}

_Static_assert(sizeof(((struct page *)0)->owner) == sizeof(uint64_t) && MAX_CPUS <= 64,
               "a CPU mask fits in struct page.owner");

// The CPUs that may cache translations of user root `root`.
static uint64_t *root_cpus(paddr_t root)
{
    return (uint64_t *)&pmm_page(root)->owner;
}

static void flush_global(void)
{
    uint64_t cr4 = read_cr4();
    if (cr4 & CR4_PGE) { // toggling PGE flushes global entries too
        write_cr4(cr4 & ~(uint64_t)CR4_PGE);
        write_cr4(cr4);
    } else {
        write_cr3(read_cr3());
    }
}

void x86_tlb_flush_local(paddr_t root, vaddr_t va, size_t n)
{
    if (root != kernel_root && (read_cr3() & PTE_ADDR) != root)
        return; // not loaded here: switching away flushed it
    if (n > TLB_FLUSH_MAX) {
        irqstate_t s = arch_irq_save();
        if (root == kernel_root)
            flush_global();
        else
            write_cr3(read_cr3());
        arch_irq_restore(s);
        return;
    }
    for (size_t i = 0; i < n; i++)
        invlpg(va + i * PAGE_SIZE);
}

// Invalidates n pages at va of root on every CPU that may cache them and
// returns once all have.
static void flush(paddr_t root, vaddr_t va, size_t n)
{
    if (!switched)
        return; // boot: one CPU, not on these tables yet
    x86_tlb_flush_local(root, va, n);
    // The page-table stores must be visible before the mask is read: a CPU
    // that sets its bit later then walks the new entries.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint64_t cpus =
        root == kernel_root ? ~0ull : __atomic_load_n(root_cpus(root), __ATOMIC_SEQ_CST);
    x86_tlb_shootdown(cpus, root, va, n);
}

static status_t check_args(vaddr_t va, size_t n, unsigned flags)
{
    if (!IS_ALIGNED(va, PAGE_SIZE) || !canonical(va) || !canonical(va + n * PAGE_SIZE - 1))
        return ERR_INVALID_ARGS;
    if ((flags & VM_WRITE) && (flags & VM_EXEC))
        return ERR_INVALID_ARGS;
    return OK;
}

status_t arch_mmu_map(paddr_t root, vaddr_t va, paddr_t pa, size_t n, unsigned flags)
{
    status_t st = check_args(va, n, flags);
    if (st != OK || !IS_ALIGNED(pa, PAGE_SIZE))
        return st != OK ? st : ERR_INVALID_ARGS;
    for (size_t i = 0; i < n; i++) { // (1) check: nothing is mapped there yet
        paddr_t old;
        if (arch_mmu_query(root, va + i * PAGE_SIZE, &old, NULL) == OK)
            return ERR_ALREADY_EXISTS;
    }
    for (size_t i = 0; i < n; i++) { // (2) map, undoing on failure
        uint64_t *e = walk(root, va + i * PAGE_SIZE, 1, true, flags & VM_USER, &st);
        if (!e) {
            arch_mmu_unmap(root, va, i);
            return st;
        }
        *e = (pa + i * PAGE_SIZE) | leaf_bits(flags);
    }
    return OK;
}

// Maps one 2 MiB page (direct map only; both addresses aligned).
static status_t map_large(paddr_t root, vaddr_t va, paddr_t pa, unsigned flags)
{
    status_t st;
    uint64_t *e = walk(root, va, 2, true, false, &st);
    if (!e)
        return st;
    if (*e & PTE_P)
        return ERR_ALREADY_EXISTS;
    *e = pa | leaf_bits(flags) | PTE_PS;
    return OK;
}

status_t arch_mmu_unmap(paddr_t root, vaddr_t va, size_t n)
{
    status_t st = check_args(va, n, 0);
    if (st != OK)
        return st;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        uint64_t *e = walk(root, va + i * PAGE_SIZE, 1, false, false, &st);
        if (e && (*e & PTE_P)) {
            *e = 0;
            changed = true;
        }
    }
    if (changed)
        flush(root, va, n);
    return OK;
}

status_t arch_mmu_protect(paddr_t root, vaddr_t va, size_t n, unsigned flags)
{
    status_t st = check_args(va, n, flags);
    if (st != OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        uint64_t *e = walk(root, va + i * PAGE_SIZE, 1, false, false, &st);
        if (!e || !(*e & PTE_P))
            return ERR_NOT_FOUND;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t *e = walk(root, va + i * PAGE_SIZE, 1, false, false, &st);
        *e = (*e & PTE_ADDR) | leaf_bits(flags);
    }
    flush(root, va, n);
    return OK;
}

status_t arch_mmu_query(paddr_t root, vaddr_t va, paddr_t *pa, unsigned *flags)
{
    if (!canonical(va))
        return ERR_INVALID_ARGS;
    uint64_t *table = phys_to_virt(root);
    for (int l = 4; l >= 1; l--) {
        uint64_t e = table[pt_index(va, l)];
        if (!(e & PTE_P))
            return ERR_NOT_FOUND;
        if (l == 1 || (e & PTE_PS)) {
            uint64_t span = 1ull << (12 + 9 * (l - 1));
            if (pa)
                *pa = (e & PTE_ADDR & ~(span - 1)) | (va & (span - 1));
            if (flags)
                *flags = flags_of(e);
            return OK;
        }
        table = table_at(e);
    }
    return ERR_NOT_FOUND;
}

paddr_t arch_mmu_kernel_root(void)
{
    return kernel_root;
}

static status_t map_section(const char *start, const char *end, unsigned flags)
{
    vaddr_t va = (vaddr_t)start;
    size_t n = (size_t)(ALIGN_UP((vaddr_t)end, PAGE_SIZE) - va) / PAGE_SIZE;
    return n ? arch_mmu_map(kernel_root, va, va - KERNEL_VMA, n, flags) : OK;
}

// Maps [base, end) of physical memory into the direct map, with 2 MiB pages
// where alignment allows.
static status_t map_direct(paddr_t base, paddr_t end, unsigned flags)
{
    status_t st = OK;
    while (base < end && st == OK) {
        if (IS_ALIGNED(base, LARGE_PAGE) && end - base >= LARGE_PAGE) {
            st = map_large(kernel_root, DIRECT_MAP_BASE + base, base, flags);
            base += LARGE_PAGE;
        } else {
            st = arch_mmu_map(kernel_root, DIRECT_MAP_BASE + base, base, 1, flags);
            base += PAGE_SIZE;
        }
    }
    return st;
}

// The direct map covers RAM, ACPI tables and NVS, and the first MiB (where
// the RSDP lives); MMIO is mapped uncached on demand instead. The kernel
// image's own frames are mapped read-only there.
static status_t build_direct_map(void)
{
    paddr_t kstart = (paddr_t)__kernel_phys_start,
            kend = ALIGN_UP((paddr_t)__kernel_phys_end, PAGE_SIZE);
    struct mem_range r[BOOT_MAX_MEM + 1];
    size_t n = 0;
    r[n++] = (struct mem_range){0, 1ull << 20};
    for (size_t i = 0; i < boot_info.nmem; i++) {
        const struct boot_mem *m = &boot_info.mem[i];
        if (m->type != BOOT_MEM_RAM && m->type != BOOT_MEM_ACPI && m->type != BOOT_MEM_NVS)
            continue;
        paddr_t b = ALIGN_DOWN(m->base, PAGE_SIZE), e = ALIGN_UP(m->base + m->size, PAGE_SIZE);
        if (n && b <= r[n - 1].base + r[n - 1].size) { // sorted: merge with the previous
            paddr_t pe = r[n - 1].base + r[n - 1].size;
            r[n - 1].size = MAX(pe, e) - r[n - 1].base;
        } else {
            r[n++] = (struct mem_range){b, e - b};
        }
    }
    for (size_t i = 0; i < n; i++) {
        paddr_t b = r[i].base, e = r[i].base + r[i].size;
        status_t st = OK;
        if (b < kstart && e > kstart)
            st = map_direct(b, kstart, VM_READ | VM_WRITE);
        else if (e <= kstart || b >= kend)
            st = map_direct(b, e, VM_READ | VM_WRITE);
        if (st == OK && e > kend && b < kend)
            st = map_direct(MAX(b, kend), e, VM_READ | VM_WRITE);
        if (st != OK)
            return st;
    }
    return map_direct(kstart, kend, VM_READ);
}

// Allocates the top-level kernel entries up front so every future address
// space can share them by copying the upper half of the PML4.
static status_t preallocate_kernel_half(void)
{
    uint64_t *pml4 = phys_to_virt(kernel_root);
    for (unsigned i = 256; i < 512; i++) {
        if (i != 256 && i < 510)
            continue; // direct map, kernel virtual area, kernel image
        paddr_t pa;
        status_t st = alloc_table(&pa);
        if (st != OK)
            return st;
        pml4[i] = pa | PTE_P | PTE_W;
    }
    return OK;
}

status_t arch_mmu_init(void)
{
    status_t st = alloc_table(&kernel_root);
    if (st == OK)
        st = preallocate_kernel_half();
    if (st == OK)
        st = map_section(__text_start, __text_end, VM_READ | VM_EXEC);
    if (st == OK)
        st = map_section(__rodata_start, __rodata_end, VM_READ);
    if (st == OK)
        st = map_section(__data_start, __bss_end, VM_READ | VM_WRITE);
    if (st == OK)
        st = map_section(__ksyms_start, __ksyms_end, VM_READ);
    if (st == OK)
        st = build_direct_map();
    if (st != OK)
        return st;
    write_cr3(kernel_root);
    switched = true;
    return OK;
}

status_t arch_mmu_create_root(paddr_t *root)
{
    status_t st = pmm_alloc(0, PMM_ZERO, root);
    if (st != OK)
        return st;
    uint64_t *dst = phys_to_virt(*root);
    const uint64_t *src = phys_to_virt(kernel_root);
    for (unsigned i = 256; i < 512; i++)
        dst[i] = src[i];
    *root_cpus(*root) = 0;
    return OK;
}

// Frees a page table of `level` and every table below it (user half only).
static void free_table(paddr_t table, int level)
{
    uint64_t *t = phys_to_virt(table);
    if (level > 1)
        for (unsigned i = 0; i < 512; i++)
            if ((t[i] & PTE_P) && !(t[i] & PTE_PS))
                free_table(t[i] & PTE_ADDR, level - 1);
    pmm_free(table, 0);
}

void arch_mmu_destroy_root(paddr_t root)
{
    if ((read_cr3() & PTE_ADDR) == root)
        arch_mmu_activate(kernel_root);
    // A thread that ended on another CPU may still be switching away from
    // root: its tables must outlive that.
    while (__atomic_load_n(root_cpus(root), __ATOMIC_ACQUIRE))
        arch_cpu_relax();
    uint64_t *pml4 = phys_to_virt(root);
    for (unsigned i = 0; i < 256; i++)
        if (pml4[i] & PTE_P)
            free_table(pml4[i] & PTE_ADDR, 3);
    pmm_free(root, 0);
}

void arch_mmu_activate(paddr_t root)
{
    paddr_t old = read_cr3() & PTE_ADDR;
    if (old == root)
        return;
    uint64_t me = 1ull << arch_cpu_index();
    if (root != kernel_root) // (a locked operation: ordered before the walks)
        __atomic_fetch_or(root_cpus(root), me, __ATOMIC_SEQ_CST);
    write_cr3(root);
    if (old != kernel_root)
        __atomic_fetch_and(root_cpus(old), ~me, __ATOMIC_SEQ_CST);
}

status_t x86_mmu_map_trampoline(void)
{
    return arch_mmu_map(kernel_root, AP_TRAMPOLINE_PA, AP_TRAMPOLINE_PA, 1, VM_READ | VM_EXEC);
}

void x86_mmu_unmap_trampoline(void)
{
    uint64_t *pml4 = phys_to_virt(kernel_root);
    uint64_t e = pml4[0]; // nothing else lives in the kernel root's low half
    pml4[0] = 0;
    flush(kernel_root, 0, TLB_FLUSH_ALL); // no CPU may walk the tables any more
    if (e & PTE_P)
        free_table(e & PTE_ADDR, 3);
}
