/* SPDX-License-Identifier: MIT */
/* What every device's saved-state loader needs: its section, checked. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmms/vdev.h"
#include "vmms/vmstate.h"

int vdev_state_get(struct vmstate *st, const char *name, uint32_t version, void *buf, size_t len, char *err,
                   size_t err_len)
{
        const void *data;
        uint32_t v;
        size_t n;

        if (vmstate_get(st, name, &v, &data, &n) < 0) {
                snprintf(err, err_len, "the saved state has no section %s", name);
                return -EINVAL;
        }
        if (v != version) {
                snprintf(err, err_len, "section %s: version %u, this vmwp reads version %u", name, v, version);
                return -EINVAL;
        }
        if (n != len) {
                snprintf(err, err_len, "section %s: %zu bytes, expected %zu", name, n, len);
                return -EINVAL;
        }
        memcpy(buf, data, len);
        return 0;
}
