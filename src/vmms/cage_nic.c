/* SPDX-License-Identifier: MIT */
/* A caged worker cannot open a TAP: its parent does, for vmms and vmjail alike (cage.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cage.h"
#include "vmms/tap.h"
#include "vmms/nic.h"
#include "vmms/switch.h"

int cage_nic_open(const struct nic_config *nic, const char *tap_name, struct vsp_tap **ret, char *err,
                  size_t err_len)
{
        const char *what = nic->tap ? nic->tap : nic->switch_name ? nic->switch_name : "?";
        struct vsp_tap *t = NULL;
        enum vswitch_type type;
        int r;

        *ret = NULL;
        if (nic->tap)
                r = vsp_tap_open(nic->tap, nic->queues, &t);
        else if (nic->switch_name) {
                r = vswitch_get_type(nic->switch_name, &type);
                if (r == -ENOENT) {
                        snprintf(err, err_len, "switch '%s' does not exist (vmctl switch create)", nic->switch_name);
                        return r;
                }
                if (r >= 0)
                        r = vsp_tap_open(tap_name, nic->queues, &t);
                if (r >= 0)
                        r = vswitch_attach(nic->switch_name, vsp_tap_ifname(t));
        } else
                r = -EINVAL;
        if (r >= 0 && nic->bridge)
                r = vswitch_attach_bridge(nic->bridge, vsp_tap_ifname(t));
        if (r < 0) {
                snprintf(err, err_len, "%s: %s", what,
                         r == -EPERM ? "not permitted (CAP_NET_ADMIN)" :
                         r == -EBUSY ? "its queue is taken by another process" : strerror(-r));
                vsp_tap_free(t);
                return r;
        }
        *ret = t;
        return 0;
}
