/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: arbitrary bytes as a saved-state stream (include/vmms/vmstate.h), as
 * vmwp --restore and vmjail (root) read it: the reader must refuse or accept without
 * reading past what it was given, and a device's section lookup must hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmms/vdev.h"
#include "vmms/vmstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vmstate *st = NULL;
        char err[256];
        const void *p;
        size_t len;
        uint32_t v;
        uint8_t buf[64];
        int fd = memfd_create("fuzz-vmstate", MFD_CLOEXEC);

        if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
                abort();
        if (vmstate_read(fd, &st, err, sizeof(err)) == 0) {
                if (vmstate_get(st, "config", &v, &p, &len) == 0 && len)
                        (void)((const volatile uint8_t *)p)[len - 1];
                (void)vdev_state_get(st, "pm", 1, buf, 8, err, sizeof(err));
                (void)vmstate_unclaimed_except(st, "virtio.", "pci.");
                (void)vmstate_unclaimed(st);
                vmstate_free(st);
        }
        close(fd);
        return 0;
}
