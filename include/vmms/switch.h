/* SPDX-License-Identifier: MIT */
/*
 * Virtual switches as Hyper-V has them, on Linux bridges, managed over rtnetlink (no
 * `ip`, no `brctl`):
 *
 *   external  a bridge in the host's network namespace with a host NIC (the uplink) as a
 *             port: guests reach the physical network. The host's own address stays on
 *             the NIC or is moved to the bridge by the administrator.
 *   internal  a bridge in the host's namespace with (optionally) an address of the
 *             host's: host and guests reach each other, nothing else.
 *   private   guests only. The bridge lives in a network namespace of its own
 *             (/run/netns/vmms-sw-NAME, so `ip netns exec` can inspect it) that holds
 *             nothing but that bridge and the guests' TAPs: no address, no route, no
 *             interface of the host's namespace is on the segment, so no host process
 *             reaches a guest whatever its addresses, firewall or forwarding settings, and
 *             no ebtables rules are needed (nor present on every host). A TAP moved there
 *             keeps working for the worker that holds its fd.
 *
 * The bridge of switch NAME is "vms-NAME" (or "vms-" and a hash when that is longer than
 * 15 bytes); its interface alias ("vmms:external" ...) records the type, so the library
 * keeps no state of its own. Library code: returns negative errno, logs nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define VSWITCH_IFNAME_MAX 16u  /* IFNAMSIZ */

enum vswitch_type {
        VSWITCH_EXTERNAL,
        VSWITCH_INTERNAL,
        VSWITCH_PRIVATE,
};

struct vswitch_config {
        const char *name;       /* [A-Za-z0-9._-]{1,64} */
        enum vswitch_type type;
        const char *uplink;     /* external: the host NIC to make a port */
        const char *address;    /* internal: the host's IPv4 address, "10.0.0.1/24"; may be NULL */
};

const char *vswitch_type_to_string(enum vswitch_type t);
int vswitch_type_from_string(const char *s);

/* The bridge interface of switch `name`. */
void vswitch_bridge_name(const char *name, char ret[VSWITCH_IFNAME_MAX]);
/* The network namespace of private switch `name` (a name under /run/netns). */
void vswitch_netns_name(const char *name, char *ret, size_t len);

/* -EEXIST when it exists, -ENODEV when the uplink does not, -EINVAL for a bad config. */
int vswitch_create(const struct vswitch_config *c);
/* Remove the bridge (and a private switch's namespace with every TAP in it). -ENOENT. */
int vswitch_delete(const char *name);
/* The type of an existing switch; -ENOENT. */
int vswitch_get_type(const char *name, enum vswitch_type *ret);

/*
 * Make interface `ifname` (in the caller's namespace, e.g. a TAP) a port of switch `name`
 * and bring it up; for a private switch the interface moves into its namespace first.
 */
int vswitch_attach(const char *name, const char *ifname);
/* The same for a Linux bridge given by its interface name. */
int vswitch_attach_bridge(const char *bridge, const char *ifname);
