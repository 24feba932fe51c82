/* SPDX-License-Identifier: MIT */
/*
 * The virtio 1.2 PCI transport, modern devices only (device ID 0x1040 + type, revision 1).
 * One 64-bit memory BAR holds the common configuration, ISR, device configuration,
 * doorbells (one 4-byte slot per queue, each caught by an ioeventfd) and the MSI-X table
 * and PBA.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vmms/vmhost.h"

struct pci_bus;
struct pci_func;
struct virtio_pci;
struct virtio_dev_info;
struct virtio_dev_ops;

/* BAR 0 layout */
#define VIRTIO_PCI_BAR              0u
#define VIRTIO_PCI_BAR_SIZE         0x8000u
#define VIRTIO_PCI_COMMON_OFF       0x0000u
#define VIRTIO_PCI_COMMON_LEN       0x1000u
#define VIRTIO_PCI_ISR_OFF          0x1000u
#define VIRTIO_PCI_ISR_LEN          4u
#define VIRTIO_PCI_DEVICE_OFF       0x2000u
#define VIRTIO_PCI_DEVICE_MAX       0x1000u
#define VIRTIO_PCI_NOTIFY_OFF       0x3000u
#define VIRTIO_PCI_NOTIFY_MULT      4u
#define VIRTIO_PCI_MSIX_TABLE_OFF   0x4000u
#define VIRTIO_PCI_MSIX_PBA_OFF     0x6000u
#define VIRTIO_PCI_MAX_QUEUES       256u

/* dev is not owned until this succeeds; virtio_pci_free() then calls ops->free(dev). */
int virtio_pci_new(struct pci_bus *bus, const struct vmhost *host,
                   const struct virtio_dev_info *info, const struct virtio_dev_ops *ops,
                   void *dev, struct virtio_pci **ret);
/* Device reset, as if the driver wrote 0 to device_status. */
void virtio_pci_reset(struct virtio_pci *vp);
/* Pause an active device until resumed (see virtio_dev_ops.pause); no vCPU may run. */
void virtio_pci_pause(struct virtio_pci *vp, bool pause);
/* Reset, unplug from the bus, free the device. */
void virtio_pci_free(struct virtio_pci *vp);
struct pci_func *virtio_pci_func(struct virtio_pci *vp);

struct vmstate;
struct vmstate_writer;
/*
 * Saved state (section "virtio.DEVFN", the PCI function's "pci.DEVFN", and the device's
 * own): paused or inactive devices only. -EOPNOTSUPP, naming the device in err, when an
 * active device cannot be saved. Load on a fresh device of the same configuration with the
 * guest's memory already in place: an active device is activated with its queues where
 * they were (indices, event-idx state).
 */
int virtio_pci_save(struct virtio_pci *vp, struct vmstate_writer *w, char *err, size_t err_len);
int virtio_pci_load(struct virtio_pci *vp, struct vmstate *st, char *err, size_t err_len);
