/* SPDX-License-Identifier: MIT */
/*
 * VMBus: the PCI bus of a VM and the virtio channels on it. vmwp creates it once the VM,
 * its guest memory and its two dispatch buses exist, adds devices before the first vCPU
 * runs, and frees it after every vCPU has stopped.
 */
#pragma once

#include "vmms/iobus.h"
#include "vmms/vmhost.h"

struct vmbus;
struct virtio_dev_info;
struct virtio_dev_ops;

/*
 * Registers 0xcf8-0xcff on host->pio and ECAM (PLATFORM_ECAM_BASE, PLATFORM_ECAM_SIZE)
 * on host->mmio, and a host bridge at 00.0. A 1-byte access to port 0xcf9 is handed to
 * cf9_fn (offset 0, len 1); cf9_fn may be NULL. *host is copied; what it points to must
 * outlive the bus.
 */
int vmbus_new(const struct vmhost *host, iobus_handler_fn cf9_fn, void *cf9_opaque,
              struct vmbus **ret);
/* Reset every device and free the bus. Call with no vCPU running. */
void vmbus_free(struct vmbus *b);

/*
 * Plug a virtio device as a virtio-pci function in the next free slot. The bus owns dev
 * from here on, also when this fails (ops->free is called).
 */
int vmbus_add_virtio(struct vmbus *b, const struct virtio_dev_info *info,
                     const struct virtio_dev_ops *ops, void *dev);

/* A platform reset (guest reboot): every device back to its power-on state. */
void vmbus_reset(struct vmbus *b);
/*
 * With every vCPU stopped: pause every active device at a quiet point (nothing in flight,
 * guest memory and device state still) until vmbus_resume(). What saving a VM needs.
 */
void vmbus_pause(struct vmbus *b);
void vmbus_resume(struct vmbus *b);

struct vmstate;
struct vmstate_writer;
/* Saved state of every device (paused); err names a device that cannot be saved. */
int vmbus_save(struct vmbus *b, struct vmstate_writer *w, char *err, size_t err_len);
/* Into the devices of a VM made from the same configuration, guest memory in place. */
int vmbus_load(struct vmbus *b, struct vmstate *st, char *err, size_t err_len);
