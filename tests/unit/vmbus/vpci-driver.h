/* SPDX-License-Identifier: MIT */
/*
 * What every unit-test driver of a virtio-pci function does, whatever the device: find the
 * function and its BAR on the fake host's ECAM, read and write the common configuration,
 * negotiate features, set a queue up. The blk (blk-driver.h) and console (con-driver.h)
 * drivers build on these.
 */
#pragma once

#include <check.h>
#include <string.h>

#include <abi/pci.h>
#include <abi/platform.h>
#include <abi/virtio.h>

#include "fake-host.h"
#include "virtio_pci.h"

static inline uint64_t vpci_ecam(uint8_t devfn, uint32_t reg)
{
        return PLATFORM_ECAM_BASE + PCI_ECAM_OFFSET(0, PCI_SLOT(devfn), PCI_FUNC(devfn), reg);
}

/* The function's 64-bit BAR 0, after checking it is a virtio-pci device with device_id. */
static inline uint64_t vpci_probe_bar(struct fake_host *h, uint8_t devfn, uint16_t device_id)
{
        ck_assert_uint_eq(mmio_read(h, vpci_ecam(devfn, PCI_VENDOR_ID), 2), VIRTIO_PCI_VENDOR_ID);
        if (device_id)
                ck_assert_uint_eq(mmio_read(h, vpci_ecam(devfn, PCI_DEVICE_ID), 2), device_id);
        return (mmio_read(h, vpci_ecam(devfn, PCI_BASE_ADDRESS_0), 4) & ~0xfull) |
               mmio_read(h, vpci_ecam(devfn, PCI_BASE_ADDRESS_0 + 4), 4) << 32;
}

static inline uint8_t vpci_status(struct fake_host *h, uint64_t bar)
{
        return (uint8_t)mmio_read(h, bar + VIRTIO_PCI_COMMON_STATUS, 1);
}

static inline void vpci_set_status(struct fake_host *h, uint64_t bar, uint8_t s)
{
        mmio_write(h, bar + VIRTIO_PCI_COMMON_STATUS, s, 1);
}

static inline uint64_t vpci_device_features(struct fake_host *h, uint64_t bar)
{
        mmio_write(h, bar + VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
        uint64_t lo = mmio_read(h, bar + VIRTIO_PCI_COMMON_DF, 4);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
        return lo | mmio_read(h, bar + VIRTIO_PCI_COMMON_DF, 4) << 32;
}

/* Reset, ACKNOWLEDGE, DRIVER, offer `want` & what the device offers (VERSION_1 always),
 * FEATURES_OK; returns the features agreed. */
static inline uint64_t vpci_negotiate(struct fake_host *h, uint64_t bar, uint64_t want)
{
        uint64_t f;

        vpci_set_status(h, bar, 0);
        ck_assert_uint_eq(vpci_status(h, bar), 0);
        vpci_set_status(h, bar, VIRTIO_STATUS_ACKNOWLEDGE);
        vpci_set_status(h, bar, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        f = (vpci_device_features(h, bar) & want) | VIRTIO_BIT(VIRTIO_F_VERSION_1);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_GF, (uint32_t)f, 4);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_GF, f >> 32, 4);
        vpci_set_status(h, bar, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        ck_assert(vpci_status(h, bar) & VIRTIO_STATUS_FEATURES_OK);
        return f;
}

/* Queue i: size entries, rings at desc/avail/used (zeroed here, len bytes from desc),
 * MSI-X vector (VIRTIO_MSI_NO_VECTOR for none), enabled. */
static inline void vpci_queue_setup(struct fake_host *h, uint64_t bar, unsigned i, uint16_t size,
                                    uint16_t vector, uint64_t desc, uint64_t avail, uint64_t used,
                                    size_t len)
{
        memset(h->ram + desc, 0, len);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_Q_SELECT, i, 2);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
        if (vector != VIRTIO_MSI_NO_VECTOR)
                mmio_write(h, bar + VIRTIO_PCI_COMMON_Q_MSIX, vector, 2);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_Q_DESCLO, desc, 8);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_Q_AVAILLO, avail, 8);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_Q_USEDLO, used, 8);
        mmio_write(h, bar + VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

/* DRIVER_OK, and the device did not ask for a reset. */
static inline void vpci_driver_ok(struct fake_host *h, uint64_t bar)
{
        vpci_set_status(h, bar, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                                VIRTIO_STATUS_DRIVER_OK);
        ck_assert_uint_eq(vpci_status(h, bar) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}
