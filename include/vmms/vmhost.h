/* SPDX-License-Identifier: MIT */
/*
 * What a bus or device needs from the VM it is plugged into: guest memory, the two
 * dispatch buses, and the in-kernel fast paths (ioeventfd doorbells, MSI routes, irqfds).
 * vmwp implements the ops on KVM (src/vmwp/kvm_irq.c); unit tests implement them with
 * recorders. Devices never see a VM fd.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct gmem;
struct iobus;

struct vmhost_ops {
        /*
         * Signal `fd` (an eventfd) on every guest write of `len` bytes (0: any length) to
         * guest-physical MMIO address `addr`, without an exit to userspace; assign=false
         * removes exactly that registration.
         */
        int (*ioeventfd)(void *opaque, uint64_t addr, unsigned len, int fd, bool assign);
        /* Allocate a GSI that delivers the MSI message (addr, data); returns the GSI. */
        int (*msi_route_add)(void *opaque, uint64_t addr, uint32_t data, unsigned *ret_gsi);
        int (*msi_route_update)(void *opaque, unsigned gsi, uint64_t addr, uint32_t data);
        int (*msi_route_del)(void *opaque, unsigned gsi);
        /* A write to eventfd `fd` injects `gsi`; assign=false detaches it. */
        int (*irqfd)(void *opaque, unsigned gsi, int fd, bool assign);
};

struct vmhost {
        const struct vmhost_ops *ops;   /* NULL: no fast paths; devices fall back to exits */
        void *opaque;
        struct gmem *mem;
        struct iobus *pio;
        struct iobus *mmio;
};
