/* SPDX-License-Identifier: MIT */
/* The VM's bus: a PCI host bridge and one virtio-pci function per channel. */
#include <errno.h>
#include <stdlib.h>

#include "vmms/cleanup.h"
#include "vmms/vmbus.h"
#include "vmms/virtio_dev.h"
#include "pci.h"
#include "virtio_pci.h"

#define VMBUS_MAX_DEVICES 31u   /* slots 1..31 of bus 0 */

struct vmbus {
        struct vmhost host;
        struct pci_bus *pci;
        unsigned n;
        struct virtio_pci *devs[VMBUS_MAX_DEVICES];
};

void vmbus_free(struct vmbus *b)
{
        if (!b)
                return;
        /* Devices first: they stop their threads and leave the bus they sit on. */
        for (unsigned i = b->n; i > 0; i--)
                virtio_pci_free(b->devs[i - 1]);
        pci_bus_free(b->pci);
        free(b);
}
DEFINE_TRIVIAL_CLEANUP(struct vmbus, vmbus_free)

int vmbus_new(const struct vmhost *host, iobus_handler_fn cf9_fn, void *cf9_opaque,
              struct vmbus **ret)
{
        _cleanup_(vmbus_freep) struct vmbus *b = NULL;
        int r;

        if (!host || !host->mem || !host->pio || !host->mmio)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->host = *host;
        r = pci_bus_new(&b->host, cf9_fn, cf9_opaque, &b->pci);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

int vmbus_add_virtio(struct vmbus *b, const struct virtio_dev_info *info,
                     const struct virtio_dev_ops *ops, void *dev)
{
        int r;

        if (b->n == VMBUS_MAX_DEVICES)
                r = -ENOSPC;
        else
                r = virtio_pci_new(b->pci, &b->host, info, ops, dev, &b->devs[b->n]);
        if (r < 0) {
                if (ops->free)
                        ops->free(dev);
                return r;
        }
        b->n++;
        return 0;
}

void vmbus_pause(struct vmbus *b)
{
        for (unsigned i = 0; i < b->n; i++)
                virtio_pci_pause(b->devs[i], true);
}

void vmbus_resume(struct vmbus *b)
{
        for (unsigned i = 0; i < b->n; i++)
                virtio_pci_pause(b->devs[i], false);
}

void vmbus_reset(struct vmbus *b)
{
        for (unsigned i = 0; i < b->n; i++)
                virtio_pci_reset(b->devs[i]);
        pci_bus_reset(b->pci);
}

int vmbus_save(struct vmbus *b, struct vmstate_writer *w, char *err, size_t err_len)
{
        for (unsigned i = 0; i < b->n; i++) {
                int r = virtio_pci_save(b->devs[i], w, err, err_len);

                if (r < 0)
                        return r;
        }
        return 0;
}

int vmbus_load(struct vmbus *b, struct vmstate *st, char *err, size_t err_len)
{
        for (unsigned i = 0; i < b->n; i++) {
                int r = virtio_pci_load(b->devs[i], st, err, err_len);

                if (r < 0)
                        return r;
        }
        return 0;
}
