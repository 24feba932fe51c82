/* SPDX-License-Identifier: MIT */
/*
 * The line between a virtio transport (src/vmbus/virtio_pci.c) and a device model
 * (src/vsp/): the device describes itself with virtio_dev_info and implements
 * virtio_dev_ops; the transport negotiates features, collects the driver's queue setup and,
 * on DRIVER_OK, activates the device with ready virtqueues, their doorbell eventfds and a
 * virtio_irq. The device never learns which transport it sits on.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virtq;
struct vmstate;
struct vmstate_writer;

struct virtio_dev_info {
        const char *name;               /* "blk", for messages */
        uint16_t type;                  /* VIRTIO_ID_* */
        uint32_t pci_class;             /* PCI class code of the function */
        uint64_t features;              /* offered; VIRTIO_F_VERSION_1 is added */
        uint16_t num_queues;
        uint16_t queue_max_size;        /* a power of two */
        uint32_t config_size;           /* bytes of device configuration */
};

/* How a device reaches the driver. Safe to call from any thread. */
struct virtio_irq {
        /* Used buffers were added to queue q: interrupt if the driver wants one. */
        void (*queue)(void *opaque, unsigned q);
        /* The driver broke the protocol: set DEVICE_NEEDS_RESET and tell it. */
        void (*needs_reset)(void *opaque);
        /* The device configuration changed: bump config_generation, interrupt. */
        void (*config_changed)(void *opaque);
        void *opaque;
};

struct virtio_dev_queue {
        struct virtq *vq;               /* NULL when the driver did not enable the queue */
        int kick_fd;                    /* eventfd signalled on every doorbell */
};

struct virtio_activation {
        uint64_t features;              /* negotiated */
        unsigned n_queues;
        const struct virtio_dev_queue *queues;  /* n_queues entries, valid until reset */
        const struct virtio_irq *irq;           /* valid as long as the device */
};

struct virtio_dev_ops {
        /* DRIVER_OK: start serving the queues. A failure sets DEVICE_NEEDS_RESET. */
        int (*activate)(void *dev, const struct virtio_activation *a);
        /* Stop: no guest memory access after return; in-flight requests are finished. */
        void (*reset)(void *dev);
        /*
         * Optional, only between activate and reset, with no vCPU running: pause returns
         * once the device is quiet (nothing in flight, every finished request in the used
         * rings, no guest memory access until resume); its state can then be read.
         */
        void (*pause)(void *dev);
        void (*resume)(void *dev);
        void (*read_config)(void *dev, uint32_t off, void *data, uint32_t len);
        void (*write_config)(void *dev, uint32_t off, const void *data, uint32_t len);
        /* Optional: refuse a feature combination at FEATURES_OK (negative errno). */
        int (*validate_features)(void *dev, uint64_t features);
        /*
         * Saved state (include/vmms/vmstate.h). A device without save cannot be saved while
         * active (the VM refuses to save, naming it). save runs paused, writing sections
         * named from prefix ("virtio.08" ...); load runs on a fresh device before activate,
         * which follows with the restored queues. Both optional together.
         */
        int (*save)(void *dev, struct vmstate_writer *w, const char *prefix);
        int (*load)(void *dev, struct vmstate *st, const char *prefix, char *err, size_t err_len);
        void (*free)(void *dev);
};
