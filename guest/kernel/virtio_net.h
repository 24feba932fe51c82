/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net driver (virtio 1.2 section 5.1) on the virtio-pci transport: one queue pair,
 * the control queue when offered (rx mode, MAC), MAC/STATUS/MTU, mergeable receive buffers,
 * transmit checksum offload, EVENT_IDX, interrupt or poll mode.
 *
 * Buffers are fixed 2 KiB slots, one descriptor each: a receive slot takes the 12-byte header
 * and any frame up to the MTU; a transmit slot holds the header and the frame, built in place
 * (guest_net_tx_alloc() hands out the frame area, no copy). One CPU drives a device; no locks.
 */
#pragma once

#include <abi/virtio_net.h>

#include <stdbool.h>
#include <stdint.h>

#include "kernel/virtio_pci.h"
#include "kernel/virtqueue.h"

#define GUEST_NET_MAX_DEVS      4
#define GUEST_NET_BUF           2048u   /* one slot: header + frame */
#define GUEST_NET_FRAME_MAX     (GUEST_NET_BUF - VIRTIO_NET_HDR_SIZE)
#define GUEST_NET_DEFAULT_QSIZE 256

struct guest_net_opts {
        uint16_t queue_size;            /* upper bound, 0: GUEST_NET_DEFAULT_QSIZE */
        bool poll;                      /* no used-buffer interrupts */
        uint64_t refuse;                /* feature bits not to accept */
        bool promisc;                   /* with CTRL_RX: leave the device promiscuous */
        bool rx_empty;                  /* post no receive buffers (net-hostile) */
        uint32_t tx_slot;               /* transmit slot bytes, 0: GUEST_NET_BUF (more for GSO) */
};

struct guest_net {
        struct guest_virtio_pci vp;
        unsigned index;
        char name[8];                   /* PCI bb:dd.f */
        bool started, msix_ready;
        int config_vector;
        struct guest_net_opts opts;

        uint8_t mac[6];
        uint16_t mtu;
        bool has_ctrl;
        bool tx_csum;                   /* VIRTIO_NET_F_CSUM: the device completes checksums */

        struct guest_vq rx, tx, ctrl;
        uint8_t *rx_slots;              /* [queue size][GUEST_NET_BUF] */
        uint8_t *tx_slots;              /* [queue size][tx_slot_size] */
        uint32_t tx_slot_size;          /* header + frame */
        uint16_t rx_alloc, tx_alloc;    /* slots allocated */
        uint32_t tx_alloc_size;
        uint16_t *tx_free;
        uint16_t tx_nfree;
        uint8_t *ctrl_mem;              /* a page for control commands */
        unsigned rx_to_kick;            /* buffers given back since the last kick */

        uint64_t rx_packets, rx_bytes, rx_errors, tx_packets, tx_bytes;
};

struct guest_net_set {
        bool probed;
        unsigned count;
        struct guest_net *devs[GUEST_NET_MAX_DEVS];
};

/* Find the virtio-net functions (once); returns how many. */
int guest_net_probe(void);
struct guest_net *guest_net_get(unsigned index);

/* Reset, negotiate, read the configuration, fill the receive ring, DRIVER_OK. */
int guest_net_start(struct guest_net *n, const struct guest_net_opts *o);
int guest_net_stop(struct guest_net *n);
static inline bool guest_net_has(const struct guest_net *n, unsigned bit)
{
        return guest_virtio_has(&n->vp, bit);
}
/* VIRTIO_NET_S_LINK_UP (true when the device has no status field). */
bool guest_net_link_up(struct guest_net *n);

/* The largest frame a transmit slot takes (GSO frames may be larger than the MTU). */
static inline uint32_t guest_net_tx_frame_max(const struct guest_net *n)
{
        return n->tx_slot_size - VIRTIO_NET_HDR_SIZE;
}

/*
 * Transmit: the frame area of a free slot (reaping completions when none is free), or NULL.
 * *ret_hdr is its vnet header, zeroed (set flags/csum_* for checksum offload). Then
 * guest_net_tx_commit() the frame's length; guest_net_tx_kick() after a batch.
 */
uint8_t *guest_net_tx_alloc(struct guest_net *n, struct virtio_net_hdr **ret_hdr);
int guest_net_tx_commit(struct guest_net *n, uint8_t *frame, uint32_t len);
bool guest_net_tx_kick(struct guest_net *n);
unsigned guest_net_tx_reap(struct guest_net *n);
/* Copy, commit and kick one frame. */
int guest_net_send(struct guest_net *n, const void *frame, uint32_t len);

/*
 * Receive: the next frame (after its header), or NULL. The slot is the caller's until
 * guest_net_rx_release(id); guest_net_rx_kick() after a batch of releases.
 */
const uint8_t *guest_net_rx_next(struct guest_net *n, uint32_t *ret_len, uint16_t *ret_id,
                                 const struct virtio_net_hdr **ret_hdr);
void guest_net_rx_release(struct guest_net *n, uint16_t id);
bool guest_net_rx_kick(struct guest_net *n);

/*
 * Wait until a frame was received (or, with tx, a transmit slot completed): spinning in poll
 * mode, else sleeping until an interrupt. -ETIMEDOUT at deadline_ns (guest_time_ns), -EIO when
 * the device needs a reset or returned garbage.
 */
int guest_net_wait(struct guest_net *n, uint64_t deadline_ns, bool tx);

/* A control command, waited for: VIRTIO_NET_OK/ERR, or -errno (-ENODEV without a control queue). */
int guest_net_ctrl(struct guest_net *n, uint8_t cls, uint8_t cmd, const void *data, uint32_t len);
