/* SPDX-License-Identifier: MIT */
/*
 * The network VSP: a virtio-net device (modern, type 1) on a TAP backend. One I/O thread
 * per queue pair moves packets between the guest's rings and the pair's TAP fd; the
 * control queue is served by the first pair's thread.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct config_error;
struct nic_config;
struct vmbus;
struct vsp_net;
struct vsp_tap;

struct vsp_net_stats {
        uint64_t rx_packets, rx_bytes;          /* delivered to the guest */
        uint64_t tx_packets, tx_bytes;          /* handed to the TAP */
        uint64_t rx_filtered;                   /* not for us (MAC filter, rx mode) */
        uint64_t rx_dropped;                    /* did not fit the guest's buffers, offload not accepted */
        uint64_t rx_merged;                     /* spread over more than one buffer (MRG_RXBUF) */
        uint64_t tx_dropped;                    /* runt, oversized or bad vnet header from the guest */
        uint64_t tx_errors;                     /* the TAP refused a frame */
        uint64_t ctrl_ok, ctrl_err;             /* control queue commands */
        uint64_t ring_errors;                   /* protocol violations that needed a device reset */
};

/*
 * Open the NIC's TAP (tap= by name, or fd= as handed over; bridge= attaches it) and plug a
 * virtio-net device for it into the bus. mac_seed (the VM's name or uuid, may be NULL)
 * and index derive the MAC when the configuration has none. The bus owns the device;
 * *ret_net (may be NULL) stays valid until vmbus_free(). When the NIC's own settings are
 * at fault (no such TAP, one in use, a switch that is not there) err (may be NULL) says
 * which; an empty err means the host failed.
 */
int vsp_net_add(struct vmbus *bus, const struct nic_config *nic, const char *mac_seed,
                unsigned index, struct vsp_net **ret_net, struct config_error *err);

/* Plug a device for an open backend (takes it over, also on failure). */
int vsp_net_add_tap(struct vmbus *bus, struct vsp_tap *tap, const uint8_t mac[6],
                    struct vsp_net **ret_net);

void vsp_net_get_stats(struct vsp_net *n, struct vsp_net_stats *ret);
/* Cable in or out: VIRTIO_NET_S_LINK_UP and a configuration interrupt. */
int vsp_net_set_link(struct vsp_net *n, bool up);
/* The TAP's interface name ("" when unknown). */
const char *vsp_net_ifname(struct vsp_net *n);
