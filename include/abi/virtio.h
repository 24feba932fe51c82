/* SPDX-License-Identifier: MIT */
/*
 * The virtio 1.2 wire format shared by the host's devices (src/vmbus, src/vsp) and the
 * guest's drivers (guest/kernel): device status and feature bits, split virtqueue layout,
 * and the PCI transport's capabilities and common configuration structure
 * (virtio 1.2 sections 2.1, 2.2, 2.7, 4.1.4). All fields are little-endian.
 *
 * Only <stdint.h> and friends: this header is compiled hosted and freestanding.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Device types (section 5) */
#define VIRTIO_ID_NET                 1u
#define VIRTIO_ID_BLOCK               2u
#define VIRTIO_ID_CONSOLE             3u
#define VIRTIO_ID_RNG                 4u

/* Device status (section 2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE     0x01u
#define VIRTIO_STATUS_DRIVER          0x02u
#define VIRTIO_STATUS_DRIVER_OK       0x04u
#define VIRTIO_STATUS_FEATURES_OK     0x08u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED          0x80u

/* Reserved (device-independent) feature bits (section 6) */
#define VIRTIO_F_RING_INDIRECT_DESC   28u
#define VIRTIO_F_RING_EVENT_IDX       29u
#define VIRTIO_F_VERSION_1            32u
#define VIRTIO_F_ACCESS_PLATFORM      33u
#define VIRTIO_F_RING_PACKED          34u
#define VIRTIO_F_IN_ORDER             35u
#define VIRTIO_F_ORDER_PLATFORM       36u
#define VIRTIO_F_SR_IOV               37u
#define VIRTIO_F_NOTIFICATION_DATA    38u
#define VIRTIO_F_NOTIF_CONFIG_DATA    39u
#define VIRTIO_F_RING_RESET           40u
#define VIRTIO_BIT(b)                 (1ull << (b))

/* Split virtqueues (section 2.7) */
#define VIRTQ_DESC_F_NEXT             1u
#define VIRTQ_DESC_F_WRITE            2u
#define VIRTQ_DESC_F_INDIRECT         4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT    1u
#define VIRTQ_USED_F_NO_NOTIFY        1u
#define VIRTQ_MAX_SIZE                32768u

struct virtq_desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc size");
_Static_assert(offsetof(struct virtq_desc, len) == 8, "virtq_desc.len");
_Static_assert(offsetof(struct virtq_desc, flags) == 12, "virtq_desc.flags");
_Static_assert(offsetof(struct virtq_desc, next) == 14, "virtq_desc.next");

/* Driver area: flags, idx, ring[size], then used_event (with EVENT_IDX). */
struct virtq_avail {
        uint16_t flags;
        uint16_t idx;
        uint16_t ring[];
};
_Static_assert(sizeof(struct virtq_avail) == 4, "virtq_avail size");
_Static_assert(offsetof(struct virtq_avail, ring) == 4, "virtq_avail.ring");

struct virtq_used_elem {
        uint32_t id;            /* head of the chain */
        uint32_t len;           /* bytes written into the device-writable part */
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem size");

/* Device area: flags, idx, ring[size], then avail_event (with EVENT_IDX). */
struct virtq_used {
        uint16_t flags;
        uint16_t idx;
        struct virtq_used_elem ring[];
};
_Static_assert(sizeof(struct virtq_used) == 4, "virtq_used size");
_Static_assert(offsetof(struct virtq_used, ring) == 4, "virtq_used.ring");

/* Sizes and alignments of the three parts of a split virtqueue of `n` entries (2.7). */
#define VIRTQ_DESC_ALIGN              16u
#define VIRTQ_AVAIL_ALIGN             2u
#define VIRTQ_USED_ALIGN              4u
#define VIRTQ_DESC_SIZE(n)            (16ull * (n))
#define VIRTQ_AVAIL_SIZE(n)           (6ull + 2ull * (n))   /* incl. used_event */
#define VIRTQ_USED_SIZE(n)            (6ull + 8ull * (n))   /* incl. avail_event */
#define VIRTQ_USED_EVENT_OFF(n)       (4ull + 2ull * (n))   /* in the driver area */
#define VIRTQ_AVAIL_EVENT_OFF(n)      (4ull + 8ull * (n))   /* in the device area */

/*
 * EVENT_IDX (2.7.10): notify when the index moved from `old` to `new_idx` passed `event`,
 * all modulo 2^16.
 */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
        return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* The PCI transport (section 4.1) */
#define VIRTIO_PCI_VENDOR_ID          0x1af4u
#define VIRTIO_PCI_DEVICE_ID_BASE     0x1040u   /* + device type, modern devices */
#define VIRTIO_PCI_SUBSYSTEM_ID       0x1100u
#define VIRTIO_PCI_REVISION           1u

#define VIRTIO_PCI_CAP_COMMON_CFG     1u
#define VIRTIO_PCI_CAP_NOTIFY_CFG     2u
#define VIRTIO_PCI_CAP_ISR_CFG        3u
#define VIRTIO_PCI_CAP_DEVICE_CFG     4u
#define VIRTIO_PCI_CAP_PCI_CFG        5u
#define VIRTIO_PCI_CAP_SHARED_MEMORY_CFG 8u
#define VIRTIO_PCI_CAP_VENDOR_CFG     9u

#define VIRTIO_PCI_ISR_QUEUE          0x1u
#define VIRTIO_PCI_ISR_CONFIG         0x2u
#define VIRTIO_MSI_NO_VECTOR          0xffffu

/* A vendor-specific PCI capability (cap_vndr = 0x09) that points into a BAR. */
struct virtio_pci_cap {
        uint8_t cap_vndr;
        uint8_t cap_next;
        uint8_t cap_len;
        uint8_t cfg_type;       /* VIRTIO_PCI_CAP_* */
        uint8_t bar;
        uint8_t id;
        uint8_t padding[2];
        uint32_t offset;        /* in the BAR */
        uint32_t length;
};
_Static_assert(sizeof(struct virtio_pci_cap) == 16, "virtio_pci_cap size");
_Static_assert(offsetof(struct virtio_pci_cap, cfg_type) == 3, "cfg_type");
_Static_assert(offsetof(struct virtio_pci_cap, bar) == 4, "bar");
_Static_assert(offsetof(struct virtio_pci_cap, offset) == 8, "offset");
_Static_assert(offsetof(struct virtio_pci_cap, length) == 12, "length");

/* Queue q's doorbell is at cap.offset + queue_notify_off * notify_off_multiplier. */
struct virtio_pci_notify_cap {
        struct virtio_pci_cap cap;
        uint32_t notify_off_multiplier;
};
_Static_assert(sizeof(struct virtio_pci_notify_cap) == 20, "virtio_pci_notify_cap size");

/* A window into the BARs through configuration space (VIRTIO_PCI_CAP_PCI_CFG). */
struct virtio_pci_cfg_cap {
        struct virtio_pci_cap cap;      /* bar, offset, length are writable */
        uint8_t pci_cfg_data[4];
};
_Static_assert(sizeof(struct virtio_pci_cfg_cap) == 20, "virtio_pci_cfg_cap size");
_Static_assert(offsetof(struct virtio_pci_cfg_cap, pci_cfg_data) == 16, "pci_cfg_data");

struct virtio_pci_common_cfg {
        /* About the whole device */
        uint32_t device_feature_select;
        uint32_t device_feature;        /* read-only */
        uint32_t driver_feature_select;
        uint32_t driver_feature;
        uint16_t config_msix_vector;
        uint16_t num_queues;            /* read-only */
        uint8_t device_status;
        uint8_t config_generation;      /* read-only */
        /* About the queue selected by queue_select */
        uint16_t queue_select;
        uint16_t queue_size;
        uint16_t queue_msix_vector;
        uint16_t queue_enable;
        uint16_t queue_notify_off;      /* read-only */
        uint64_t queue_desc;
        uint64_t queue_driver;          /* the available ring */
        uint64_t queue_device;          /* the used ring */
        uint16_t queue_notify_data;     /* read-only, VIRTIO_F_NOTIF_CONFIG_DATA */
        uint16_t queue_reset;           /* VIRTIO_F_RING_RESET */
        uint8_t padding[4];             /* not registers: the block is 0x3c bytes */
};
#define VIRTIO_PCI_COMMON_DFSELECT    0x00u
#define VIRTIO_PCI_COMMON_DF          0x04u
#define VIRTIO_PCI_COMMON_GFSELECT    0x08u
#define VIRTIO_PCI_COMMON_GF          0x0cu
#define VIRTIO_PCI_COMMON_MSIX        0x10u
#define VIRTIO_PCI_COMMON_NUMQ        0x12u
#define VIRTIO_PCI_COMMON_STATUS      0x14u
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15u
#define VIRTIO_PCI_COMMON_Q_SELECT    0x16u
#define VIRTIO_PCI_COMMON_Q_SIZE      0x18u
#define VIRTIO_PCI_COMMON_Q_MSIX      0x1au
#define VIRTIO_PCI_COMMON_Q_ENABLE    0x1cu
#define VIRTIO_PCI_COMMON_Q_NOFF      0x1eu
#define VIRTIO_PCI_COMMON_Q_DESCLO    0x20u
#define VIRTIO_PCI_COMMON_Q_DESCHI    0x24u
#define VIRTIO_PCI_COMMON_Q_AVAILLO   0x28u
#define VIRTIO_PCI_COMMON_Q_AVAILHI   0x2cu
#define VIRTIO_PCI_COMMON_Q_USEDLO    0x30u
#define VIRTIO_PCI_COMMON_Q_USEDHI    0x34u
#define VIRTIO_PCI_COMMON_Q_NDATA     0x38u
#define VIRTIO_PCI_COMMON_Q_RESET     0x3au
#define VIRTIO_PCI_COMMON_CFG_SIZE    0x3cu
_Static_assert(sizeof(struct virtio_pci_common_cfg) == 0x40, "common_cfg size");
_Static_assert(offsetof(struct virtio_pci_common_cfg, padding) == VIRTIO_PCI_COMMON_CFG_SIZE, "common_cfg end");
_Static_assert(offsetof(struct virtio_pci_common_cfg, device_feature) == VIRTIO_PCI_COMMON_DF, "df");
_Static_assert(offsetof(struct virtio_pci_common_cfg, driver_feature_select) == VIRTIO_PCI_COMMON_GFSELECT, "gfs");
_Static_assert(offsetof(struct virtio_pci_common_cfg, driver_feature) == VIRTIO_PCI_COMMON_GF, "gf");
_Static_assert(offsetof(struct virtio_pci_common_cfg, config_msix_vector) == VIRTIO_PCI_COMMON_MSIX, "msix");
_Static_assert(offsetof(struct virtio_pci_common_cfg, num_queues) == VIRTIO_PCI_COMMON_NUMQ, "numq");
_Static_assert(offsetof(struct virtio_pci_common_cfg, device_status) == VIRTIO_PCI_COMMON_STATUS, "status");
_Static_assert(offsetof(struct virtio_pci_common_cfg, config_generation) == VIRTIO_PCI_COMMON_CFGGENERATION, "gen");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_select) == VIRTIO_PCI_COMMON_Q_SELECT, "qsel");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_size) == VIRTIO_PCI_COMMON_Q_SIZE, "qsize");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_msix_vector) == VIRTIO_PCI_COMMON_Q_MSIX, "qmsix");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_enable) == VIRTIO_PCI_COMMON_Q_ENABLE, "qen");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_notify_off) == VIRTIO_PCI_COMMON_Q_NOFF, "qnoff");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_desc) == VIRTIO_PCI_COMMON_Q_DESCLO, "qdesc");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_driver) == VIRTIO_PCI_COMMON_Q_AVAILLO, "qavail");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_device) == VIRTIO_PCI_COMMON_Q_USEDLO, "qused");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_notify_data) == VIRTIO_PCI_COMMON_Q_NDATA, "qndata");
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_reset) == VIRTIO_PCI_COMMON_Q_RESET, "qreset");
