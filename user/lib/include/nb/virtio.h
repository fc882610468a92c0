// libvirtio: virtio 1.x devices from user space (docs/VIRTIO.md).
//
// A device is reached through a transport (virtio-mmio version 2, or
// virtio-pci modern) whose every register access goes through a small
// region interface (nb_vio_region), so the whole library runs on the host
// against a fake device. Virtqueues are split rings in memory the caller
// gives (normally DMA memory, with its physical address); the library keeps
// its own copy of everything it must trust (free list, chains, lengths), so a
// buggy or hostile device is reported (nb_virtq.device_errors) but can never
// make the driver touch memory it did not hand out.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

// ---- Constants from the virtio 1.x specification.
#define VIRTIO_STATUS_ACKNOWLEDGE        1u
#define VIRTIO_STATUS_DRIVER             2u
#define VIRTIO_STATUS_DRIVER_OK          4u
#define VIRTIO_STATUS_FEATURES_OK        8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED             128u

#define VIRTIO_F_INDIRECT_DESC   28
#define VIRTIO_F_EVENT_IDX       29
#define VIRTIO_F_VERSION_1       32
#define VIRTIO_F_ACCESS_PLATFORM 33

#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

#define VIRTQ_DESC_F_NEXT          1u
#define VIRTQ_DESC_F_WRITE         2u
#define VIRTQ_DESC_F_INDIRECT      4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY     1u
#define VIRTQ_MAX_SIZE             32768u

// virtio-mmio (version 2) register offsets.
#define VIRTIO_MMIO_MAGIC               0x000 // "virt"
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100
#define VIRTIO_MMIO_MAGIC_VALUE         0x74726976u

// virtio-pci: vendor capability types and the common configuration layout.
#define VIRTIO_PCI_VENDOR           0x1af4
#define VIRTIO_PCI_CAP_COMMON_CFG   1
#define VIRTIO_PCI_CAP_NOTIFY_CFG   2
#define VIRTIO_PCI_CAP_ISR_CFG      3
#define VIRTIO_PCI_CAP_DEVICE_CFG   4
#define VIRTIO_PCI_COMMON_DFSELECT  0x00
#define VIRTIO_PCI_COMMON_DF        0x04
#define VIRTIO_PCI_COMMON_GFSELECT  0x08
#define VIRTIO_PCI_COMMON_GF        0x0c
#define VIRTIO_PCI_COMMON_MSIX      0x10
#define VIRTIO_PCI_COMMON_NUMQ      0x12
#define VIRTIO_PCI_COMMON_STATUS    0x14
#define VIRTIO_PCI_COMMON_CFGGEN    0x15
#define VIRTIO_PCI_COMMON_Q_SELECT  0x16
#define VIRTIO_PCI_COMMON_Q_SIZE    0x18
#define VIRTIO_PCI_COMMON_Q_MSIX    0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE  0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF    0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO  0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI  0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO  0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI  0x34

// ---- Register regions: one mapped range of device registers. The default
// (nb_vio_region_mmio) reads and writes a mapping with volatile accesses;
// host tests put a fake device behind read/write.
struct nb_vio_region {
    void *ctx;
    uint32_t (*read)(void *ctx, uint32_t off, unsigned width);            // width 1, 2, 4
    void (*write)(void *ctx, uint32_t off, unsigned width, uint32_t val); // width 1, 2, 4
    uint32_t size; // bytes; accesses past it read as 0 and are dropped
};

// A region over mapped registers at `base`.
void nb_vio_region_mmio(struct nb_vio_region *r, volatile void *base, uint32_t size);
uint32_t nb_vio_read(const struct nb_vio_region *r, uint32_t off, unsigned width);
void nb_vio_write(const struct nb_vio_region *r, uint32_t off, unsigned width, uint32_t val);

// Memory barriers between ring memory and register accesses.
void nb_vio_mb(void);  // full
void nb_vio_rmb(void); // loads before later loads
void nb_vio_wmb(void); // stores before later stores

// ---- A device and its transport.
struct nb_virtio_dev;
struct nb_virtio_transport {
    const char *name;
    uint8_t (*get_status)(struct nb_virtio_dev *d);
    void (*set_status)(struct nb_virtio_dev *d, uint8_t status); // 0 resets
    uint64_t (*get_features)(struct nb_virtio_dev *d);
    void (*set_features)(struct nb_virtio_dev *d, uint64_t features);
    uint32_t (*config_generation)(struct nb_virtio_dev *d);
    uint16_t (*queue_max)(struct nb_virtio_dev *d, uint16_t index); // 0: no such queue
    status_t (*queue_enable)(struct nb_virtio_dev *d, uint16_t index, uint16_t size, uint64_t desc,
                             uint64_t avail, uint64_t used);
    void (*notify)(struct nb_virtio_dev *d, uint16_t index);
    uint32_t (*isr)(struct nb_virtio_dev *d); // reads and acknowledges interrupt causes
};

#define NB_VIRTIO_ISR_QUEUE  1u
#define NB_VIRTIO_ISR_CONFIG 2u

struct nb_virtio_dev {
    const struct nb_virtio_transport *tr;
    struct nb_vio_region regs;    // mmio: all registers; pci: common configuration
    struct nb_vio_region notify;  // pci: notification region
    struct nb_vio_region isr_reg; // pci: ISR status
    struct nb_vio_region config;  // device-specific configuration
    uint32_t config_base;         // offset of device config in `config`
    uint32_t notify_mult;         // pci: notify_off_multiplier
    uint16_t msix_vector;         // pci: MSI-X vector of every queue (0xffff: none)
    uint32_t device_id;
    uint64_t features; // negotiated
};

// virtio-mmio version 2 at `regs` (a legacy version 1 device is refused
// with ERR_NOT_SUPPORTED, a bad magic with ERR_NOT_FOUND).
status_t nb_virtio_mmio_init(struct nb_virtio_dev *d, const struct nb_vio_region *regs);

// virtio-pci modern. cfg_read reads `width` bytes of the function's
// configuration space; map_bar maps [offset, offset + length) of a BAR as a
// region. Walks the capability list for the common, notify, ISR and device
// configuration structures.
struct nb_virtio_pci_access {
    void *ctx;
    status_t (*cfg_read)(void *ctx, uint32_t off, unsigned width, uint32_t *val);
    status_t (*map_bar)(void *ctx, uint8_t bar, uint32_t offset, uint32_t length,
                        struct nb_vio_region *out);
};
status_t nb_virtio_pci_init(struct nb_virtio_dev *d, const struct nb_virtio_pci_access *pci);

// Resets the device and negotiates: ACKNOWLEDGE, DRIVER, features =
// offered & (wanted | VERSION_1 | EVENT_IDX), FEATURES_OK and its check.
// VERSION_1 must be offered (ERR_NOT_SUPPORTED). Leaves the device before
// DRIVER_OK: set up the queues, then call nb_virtio_driver_ok.
status_t nb_virtio_negotiate(struct nb_virtio_dev *d, uint64_t wanted);
void nb_virtio_driver_ok(struct nb_virtio_dev *d);
void nb_virtio_fail(struct nb_virtio_dev *d); // sets FAILED
void nb_virtio_reset(struct nb_virtio_dev *d);
static inline bool nb_virtio_has(const struct nb_virtio_dev *d, unsigned bit)
{
    return (d->features >> bit) & 1;
}
// Device configuration, read consistently (retried across config
// generation changes). Little-endian fields of 1, 2, 4 or 8 bytes.
uint64_t nb_virtio_config_read(struct nb_virtio_dev *d, uint32_t off, unsigned width);
void nb_virtio_config_write(struct nb_virtio_dev *d, uint32_t off, unsigned width, uint32_t val);
uint32_t nb_virtio_isr(struct nb_virtio_dev *d);

// ---- Split virtqueues.
struct nb_virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct nb_virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

// Per-descriptor bookkeeping the device cannot touch.
struct nb_virtq_slot {
    void *cookie;
    uint32_t in_len; // device-writable bytes of the chain (at the head)
    uint16_t next;   // free list / chain link
    uint16_t count;  // descriptors of the chain (at the head)
    bool busy;       // head of a chain the device owns
};

struct nb_virtq {
    struct nb_virtio_dev *dev;
    uint16_t index, size;
    volatile struct nb_virtq_desc *desc;
    volatile uint16_t *avail; // flags, idx, ring[size], used_event
    volatile uint16_t *used;  // flags, idx, then elements; avail_event
    volatile struct nb_virtq_used_elem *used_ring;
    volatile uint16_t *avail_event; // in the used ring (EVENT_IDX)
    volatile uint16_t *used_event;  // in the avail ring (EVENT_IDX)
    struct nb_virtq_slot *slot;     // [size]
    uint16_t free_head, num_free;
    uint16_t chains;     // chains the device owns
    uint16_t avail_idx;  // next avail index (shadow)
    uint16_t kicked_idx; // avail index at the last notification decision
    uint16_t last_used;  // next used index to consume
    bool event_idx;
    bool cb_enabled;
    bool broken;            // the used index ran ahead of what was queued: reset the device
    uint64_t device_errors; // used entries the device got wrong
    uint64_t notifications; // notifications actually sent
};

// Bytes of ring memory for a queue of `size` entries (descriptor table,
// available ring, used ring at 4-byte alignment), rounded up to 16.
size_t nb_virtq_mem_size(uint16_t size);
// Sets up queue `index` of `size` entries (a power of two, at most the
// device's maximum) in `mem` (nb_virtq_mem_size bytes, zeroed here) whose
// physical address is `paddr`, and enables it on the device.
status_t nb_virtq_init(struct nb_virtq *q, struct nb_virtio_dev *d, uint16_t index, uint16_t size,
                       void *mem, uint64_t paddr);
void nb_virtq_destroy(struct nb_virtq *q);

// One buffer in device physical address space.
struct nb_virtq_buf {
    uint64_t paddr;
    uint32_t len;
};
// Queues a chain: `out` device-readable buffers then `in` device-writable
// ones, with `cookie` returned by nb_virtq_get. ERR_SHOULD_WAIT when too few
// descriptors are free, ERR_INVALID_ARGS for an empty chain or a zero-length
// buffer. Does not notify: call nb_virtq_kick after a batch.
status_t nb_virtq_add(struct nb_virtq *q, const struct nb_virtq_buf *bufs, unsigned out,
                      unsigned in, void *cookie);
// Notifies the device when it asked for it (EVENT_IDX or NO_NOTIFY);
// returns whether it did.
bool nb_virtq_kick(struct nb_virtq *q);
// Takes one used chain: OK with its cookie and the bytes the device wrote
// (clamped to the chain's writable length); ERR_SHOULD_WAIT when none;
// ERR_IO_DATA_INTEGRITY when the device returned a bad entry: an unknown id
// or one not in flight is skipped (*cookie NULL); a length beyond the
// chain's writable buffers completes the chain (*cookie set, *len clamped:
// fail that request). Both are counted in device_errors. A used index that
// runs ahead of the queued chains breaks the queue (ERR_IO_DATA_INTEGRITY
// once, then ERR_BAD_STATE): reset the device.
status_t nb_virtq_get(struct nb_virtq *q, void **cookie, uint32_t *len);
// Interrupt suppression: after disable the device may skip interrupts;
// enable asks again and returns true when used entries arrived meanwhile
// (process them before waiting).
void nb_virtq_disable_cb(struct nb_virtq *q);
bool nb_virtq_enable_cb(struct nb_virtq *q);
static inline bool nb_virtq_full(const struct nb_virtq *q)
{
    return q->num_free == 0;
}
