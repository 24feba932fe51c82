/* SPDX-License-Identifier: MIT */
/*
 * The virtio 1.2 PCI transport, modern devices only (section 4.1): the common, notify, ISR and
 * device configuration capabilities, reset, feature negotiation, queue setup with one MSI-X
 * vector per queue plus one for configuration changes, DEVICE_NEEDS_RESET. Device drivers
 * (virtio_blk.c, later net and console) build on this and on virtqueue.h.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/pci.h"
#include "kernel/virtqueue.h"

struct guest_virtio_pci {
        struct guest_pci_dev *pci;
        uint16_t device_type;           /* VIRTIO_ID_* */
        uint64_t common;                /* mapped addresses of the capability windows */
        uint64_t isr;
        uint64_t device;
        uint32_t device_len;
        uint64_t notify;
        uint32_t notify_len;
        uint32_t notify_mult;
        uint16_t num_queues;            /* from the common configuration */

        uint64_t device_features;       /* offered */
        uint64_t features;              /* negotiated */

        bool msix;                      /* MSI-X table mapped and enabled */
        int config_vector;              /* IDT vector for configuration changes, -1: none */
        uint32_t config_apic_id;
        volatile uint64_t config_irqs;
        uint64_t resets;
};

/* Find the capabilities of a virtio PCI function and map its BARs. */
int guest_virtio_pci_probe(struct guest_pci_dev *pci, struct guest_virtio_pci *vp);

/* Write 0 to device_status and wait until it reads 0 (bounded; -ETIMEDOUT). */
int guest_virtio_reset(struct guest_virtio_pci *vp);
uint8_t guest_virtio_get_status(struct guest_virtio_pci *vp);
void guest_virtio_add_status(struct guest_virtio_pci *vp, uint8_t bits);
static inline bool guest_virtio_needs_reset(struct guest_virtio_pci *vp)
{
        return (guest_virtio_get_status(vp) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) != 0;
}

/*
 * Reset, ACKNOWLEDGE, DRIVER, then accept (offered & wanted); `required` bits missing from the
 * offer fail with -ENOTSUP-like -ENODEV. VERSION_1 is always required. Sets FEATURES_OK and
 * checks that it stuck (-EIO otherwise, with FAILED set).
 */
int guest_virtio_negotiate(struct guest_virtio_pci *vp, uint64_t wanted, uint64_t required);
static inline bool guest_virtio_has(const struct guest_virtio_pci *vp, unsigned bit)
{
        return (vp->features & VIRTIO_BIT(bit)) != 0;
}

/* The queue size the device offers for queue `index` (0: no such queue). */
uint16_t guest_virtio_queue_max(struct guest_virtio_pci *vp, uint16_t index);
/*
 * Tell the device about vq (initialized with guest_vq_init()), give it MSI-X table entry
 * msix_entry (-1: none) and enable it.
 */
int guest_virtio_queue_setup(struct guest_virtio_pci *vp, struct guest_vq *vq, int msix_entry);
/* Configuration changes on MSI-X table entry msix_entry. */
int guest_virtio_config_vector(struct guest_virtio_pci *vp, int msix_entry);
void guest_virtio_driver_ok(struct guest_virtio_pci *vp);

/* Read device configuration [off, off + len) consistently (config_generation loop). */
int guest_virtio_config_read(struct guest_virtio_pci *vp, unsigned off, void *buf, unsigned len);
