/* SPDX-License-Identifier: MIT */
/*
 * The i8042 keyboard controller, reduced to what a guest without a keyboard uses: status
 * reads that say "no data, input buffer empty", and command 0xFE (pulse the reset line).
 * Ports 0x60 (data) and 0x64 (status/command) are registered as one range 0x60..0x64.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <abi/platform.h>

#include "vmms/vdev.h"

struct vdev_i8042 {
        vdev_event_fn ev;
        void *opaque;
};

int vdev_i8042_new(vdev_event_fn ev, void *opaque, struct vdev_i8042 **ret)
{
        struct vdev_i8042 *k = calloc(1, sizeof(*k));

        if (!k)
                return -ENOMEM;
        k->ev = ev;
        k->opaque = opaque;
        *ret = k;
        return 0;
}

void vdev_i8042_free(struct vdev_i8042 *k)
{
        free(k);
}

int vdev_i8042_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
        struct vdev_i8042 *k = opaque;
        uint64_t port = PLATFORM_PORT_I8042_DATA + offset;

        if (!is_write) {
                memset(data, 0, len);   /* no output data, input buffer empty */
                return 0;
        }
        if (port == PLATFORM_PORT_I8042_CMD && len == 1 &&
            *(uint8_t *)data == PLATFORM_I8042_CMD_RESET && k->ev)
                k->ev(k->opaque, VDEV_EVENT_RESET, "i8042 reset line");
        return 0;
}

int vdev_reset_cf9_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
        struct vdev_reset_ctl *c = opaque;

        if (!is_write) {
                memset(data, 0, len);
                ((uint8_t *)data)[0] = c->value;
                return 0;
        }
        c->value = *(uint8_t *)data & 0x0e;
        /* Bit 2 (RST_CPU) set together with bit 1 (SYS_RST) or alone triggers the reset. */
        if ((*(uint8_t *)data & 0x04) && c->ev)
                c->ev(c->opaque, VDEV_EVENT_RESET, "reset control register 0xCF9");
        return 0;
}

int vdev_ignore_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
        if (!is_write)
                memset(data, 0, len);
        return 0;
}
