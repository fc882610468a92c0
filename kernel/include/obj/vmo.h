// Virtual memory objects: a resizable run of bytes backed by pmm pages,
// committed on first write (reads of never-written pages give zeros). The
// page list is indexed by page number, so the vm layer (next issue) gets the
// physical page behind any offset with vmo_commit_page.
//
// Sizes are bytes; the capacity is the size rounded up to whole pages. Bytes
// past the size read back as zero after growing again.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/phys.h"
#include "obj/handle.h"

#define VMO_MAX_SIZE (1ull << 30) // 1 GiB for now (page list in one kmalloc block)

#define VMO_CONTIGUOUS_MAX (1ull << (PAGE_SHIFT + 10)) // 4 MiB: the largest pmm block

// What backs a vmo: pages committed on demand (the usual), fixed physical
// pages outside RAM (device memory), or one pinned physically contiguous
// block of RAM (DMA buffers). The last two are never paged or resized.
enum vmo_kind { VMO_PAGED = 0, VMO_PHYSICAL, VMO_CONTIGUOUS };

struct vmo;

// A vmo of `size` bytes (0 .. VMO_MAX_SIZE, else ERR_OUT_OF_RANGE). Default
// rights: READ, WRITE, MAP, DUPLICATE, TRANSFER, INSPECT, MANAGE (EXECUTE is
// granted by whoever makes executable images, later).
status_t vmo_create(struct handle_table *t, uint64_t size, handle_t *out);

// Copies n bytes at offset out of / into the vmo (RIGHT_READ / RIGHT_WRITE).
// ERR_OUT_OF_RANGE if [offset, offset + n) is not inside the size;
// ERR_NO_MEMORY if a page cannot be committed (bytes before it are written).
status_t vmo_read(struct handle_table *t, handle_t h, uint64_t offset, void *buf, size_t n);
status_t vmo_write(struct handle_table *t, handle_t h, uint64_t offset, const void *buf, size_t n);

// The size in bytes (any rights).
status_t vmo_get_size(struct handle_table *t, handle_t h, uint64_t *size);

// Changes the size (RIGHT_MANAGE); shrinking frees whole pages past the new
// end and zeroes the tail of the last one.
status_t vmo_set_size(struct handle_table *t, handle_t h, uint64_t size);

// Replaces h (consumed) with a handle to the same vmo that has RIGHT_EXECUTE
// and not RIGHT_WRITE. `vmex` must be a NB_RESOURCE_VMEX resource.
status_t vmo_replace_as_executable(struct handle_table *t, handle_t h, handle_t vmex,
                                   handle_t *out);

// ---- Device memory (docs/DEVICES.md) ----
// A vmo over the physical pages [pa, pa + size) (page aligned, size > 0:
// else ERR_INVALID_ARGS; cache an NB_CACHE_* policy). The caller has checked
// that the range is device memory (devmem_check). vmo_read/vmo_write give
// ERR_NOT_SUPPORTED (map it), vmo_set_size too.
status_t vmo_create_physical(struct handle_table *t, paddr_t pa, uint64_t size, uint32_t cache,
                             handle_t *out);
status_t vmo_create_physical_kernel(paddr_t pa, uint64_t size, uint32_t cache, struct vmo **out);
// A zeroed, physically contiguous, pinned, cached vmo of size bytes rounded
// up to pages (1 .. VMO_CONTIGUOUS_MAX, else ERR_INVALID_ARGS /
// ERR_OUT_OF_RANGE): one pmm block, from RAM below 4 GiB when there is room
// (32-bit DMA engines), else anywhere. vmo_set_size gives ERR_NOT_SUPPORTED.
//
// With `dma_res` (a DMA resource object; NULL for the kernel's own), the
// block outlives the vmo: when the vmo dies the block goes to the
// resource's quarantine (still counted as committed), because the device
// it was given to may still write into it; it returns to the page
// allocator when the resource dies (vmo_dma_release). docs/DEVICES.md,
// "DMA after a driver dies".
status_t vmo_create_contiguous(struct handle_table *t, struct kobject *dma_res, uint64_t size,
                               handle_t *out);
status_t vmo_create_contiguous_kernel(uint64_t size, struct vmo **out);
// Frees a quarantined contiguous vmo (its `quarantine` node, as handed to
// resource_dma_quarantine): the block and what is left of the vmo.
void vmo_dma_release(struct list_node *quarantined);
// The physical address behind `offset` (RIGHT_INSPECT): ERR_NOT_SUPPORTED
// for a paged vmo, ERR_OUT_OF_RANGE at or past the size.
status_t vmo_phys(struct handle_table *t, handle_t h, uint64_t offset, paddr_t *pa);
status_t vmo_phys_kernel(struct vmo *v, uint64_t offset, paddr_t *pa);
// The cache flags (VM_UNCACHED, VM_WRITE_COMBINING or 0) its mappings get.
unsigned vmo_map_flags(struct vmo *v);

// ---- For the vm layer ----
// A vmo for the kernel's own use (no handle), holding one reference.
status_t vmo_create_kernel(uint64_t size, struct vmo **out);
// The vm layer counts regions mapping the vmo: a mapped vmo cannot shrink
// (vmo_set_size then fails with ERR_BAD_STATE).
void vmo_mapping_added(struct vmo *v, int delta);
uint64_t vmo_size(struct vmo *v);
// Copies kernel bytes into the vmo (the kernel's own loaders).
status_t vmo_write_kernel(struct vmo *v, uint64_t offset, const void *buf, size_t n);

// The vmo behind a handle (with a reference), checked for `need` rights.
status_t vmo_get(struct handle_table *t, handle_t h, rights_t need, struct vmo **out);
struct kobject *vmo_obj(struct vmo *v);
// Commits the page holding `offset` (zero-filled if new) and returns its
// physical address. ERR_OUT_OF_RANGE past the size, ERR_NO_MEMORY.
status_t vmo_commit_page(struct vmo *v, uint64_t offset, paddr_t *pa);
// Pages currently committed.
uint64_t vmo_committed_pages(struct vmo *v);
// Pages committed by all vmos together (system information).
uint64_t vmo_total_committed_pages(void);
