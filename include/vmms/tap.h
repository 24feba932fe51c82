/* SPDX-License-Identifier: MIT */
/*
 * The TAP backend of the network VSP: one fd per queue pair on one TAP interface
 * (IFF_MULTI_QUEUE when there is more than one), packets framed by a 12-byte vnet header
 * (IFF_VNET_HDR, TUNSETVNETHDRSZ) when the fd has one. All fds are non-blocking and
 * O_CLOEXEC. Nothing here logs.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <linux/if_tun.h>

/* UDP segmentation offload (Linux 6.2); older headers lack the names. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

struct vsp_tap;

/*
 * Open the TAP interface `ifname` with `queues` fds, creating it when it does not exist
 * (a TAP created here disappears when the last fd closes), and bring it up. -ENOENT when
 * /dev/net/tun is missing, -EPERM without CAP_NET_ADMIN, -EBUSY when its single queue is
 * taken, -EINVAL when it is a TUN or its multiqueue setting does not fit.
 */
int vsp_tap_open(const char *ifname, unsigned queues, struct vsp_tap **ret);
/*
 * Take over open TAP fds (one per queue pair), e.g. from vmms: checks they are TAPs
 * without packet information, sets the vnet header size when they have one. The fds are
 * owned by the backend from here on, also on failure.
 */
int vsp_tap_adopt(const int *fds, unsigned n, struct vsp_tap **ret);
/*
 * For tests and fuzzers: fds that frame packets like a TAP (e.g. SOCK_SEQPACKET), with a
 * 12-byte vnet header when vnet_hdr. Offload and queue calls succeed and do nothing.
 */
int vsp_tap_new_raw(const int *fds, unsigned n, bool vnet_hdr, unsigned offloads, struct vsp_tap **ret);
void vsp_tap_free(struct vsp_tap *t);

unsigned vsp_tap_queues(const struct vsp_tap *t);
int vsp_tap_fd(const struct vsp_tap *t, unsigned q);
const char *vsp_tap_ifname(const struct vsp_tap *t);    /* "" when unknown */
bool vsp_tap_has_vnet_hdr(const struct vsp_tap *t);
/* The TUN_F_* offloads this TAP accepts (probed once). */
unsigned vsp_tap_offloads_supported(const struct vsp_tap *t);
/* The interface's MTU, 0 when unknown. */
unsigned vsp_tap_mtu(const struct vsp_tap *t);

/* What the reader can take: TUN_F_* flags (TUNSETOFFLOAD). */
int vsp_tap_set_offloads(struct vsp_tap *t, unsigned tun_flags);
/* Attach or detach queue q (TUNSETQUEUE) so the kernel steers packets to it, or not. */
int vsp_tap_enable_queue(struct vsp_tap *t, unsigned q, bool enable);
