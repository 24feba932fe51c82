/* SPDX-License-Identifier: MIT */
/*
 * virtio-net internals shared by net.c (the device: configuration, activation, threads),
 * net_rxtx.c (the data path and the control queue), net_hdr.c (pure checks: features,
 * vnet headers, the receive filter) and the unit tests.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <abi/virtio_net.h>

#include "vmms/log.h"
#include "vmms/virtio_dev.h"
#include "vmms/virtqueue.h"
#include "vmms/vsp_net.h"
#include "iothread.h"

struct vsp_tap;

#define VSP_NET_QUEUE_SIZE      1024u   /* entries per virtqueue, offered maximum */
#define VSP_NET_MAX_SEGS        (VSP_NET_QUEUE_SIZE + 1u)       /* + our header copy */
#define VSP_NET_MAC_TABLE       64u     /* per table; beyond it: all uni-/multicast */
#define VSP_NET_CTRL_MAX        (8u + 2u * 4u + 2u * 6u * 256u) /* biggest command we read */
#define VSP_NET_BUDGET          256u    /* packets per queue before looking at the others */
#define VSP_NET_PUBLISH_EVERY   32u     /* used entries published during a run, at least this often */
#define VSP_NET_TX_BATCH        32u     /* packets handed to the TAP with one system call */
#define VSP_NET_BOUNCE_SIZE     (VIRTIO_NET_HDR_SIZE + 65536u + 4096u)
#define VSP_NET_DEFAULT_MTU     1500u

/* TX: the largest frame (after the vnet header) we pass on, with and without GSO. */
#define VSP_NET_MAX_GSO_FRAME   (VIRTIO_NET_MAX_GSO_PACKET + VIRTIO_NET_VLAN_HLEN)

/* What the guest's buffers may receive (the GUEST_* offload bits in effect). */
#define VSP_NET_GUEST_OFFLOADS  (VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | \
                                 VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) |  \
                                 VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_USO4) |  \
                                 VIRTIO_BIT(VIRTIO_NET_F_GUEST_USO6))

/* ---- net_hdr.c: pure functions ----------------------------------------------------- */

/* The feature dependency rules of 5.1.3.1: 0, or -EINVAL naming nothing (FEATURES_OK refused). */
int vsp_net_check_features(uint64_t features);
/* TUN_F_* flags for the GUEST_* offloads in `offloads` (a TAP takes USO4 and USO6 together only). */
unsigned vsp_net_tun_offloads(uint64_t offloads);

enum vsp_net_tx_verdict {
        VSP_NET_TX_OK,
        VSP_NET_TX_RUNT,        /* shorter than a header and an Ethernet header */
        VSP_NET_TX_OVERSIZED,   /* longer than the MTU (no GSO) or than any GSO packet */
        VSP_NET_TX_BAD_HDR,     /* flags, GSO type or checksum offsets the device did not offer */
};

/*
 * Check the header of a transmitted packet (a host copy, little-endian as on the wire)
 * against the negotiated features and the frame length that follows it; on VSP_NET_TX_OK
 * *ret is the header to hand to the TAP (flags the device does not know cleared,
 * num_buffers zero). mtu: 0 when VIRTIO_NET_F_MTU was not negotiated.
 */
enum vsp_net_tx_verdict vsp_net_tx_check(const struct virtio_net_hdr *h, uint64_t features,
                                         uint64_t frame_len, unsigned mtu, struct virtio_net_hdr *ret);

/*
 * Make a received packet's header (as the TAP wrote it) what the driver may see given
 * the GUEST_* offloads in effect: 0, or -EBADMSG when the packet needs an offload the
 * driver did not accept (drop it).
 */
int vsp_net_rx_fixup(struct virtio_net_hdr *h, uint64_t offloads);

/* The receive filter (5.1.6.5.1, 5.1.6.5.2). */
struct vsp_net_filter {
        bool enabled;           /* VIRTIO_NET_F_CTRL_RX negotiated; else accept all */
        bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
        bool uni_overflow, multi_overflow;
        uint8_t mac[6];
        unsigned n_uni, n_multi;
        uint8_t uni[VSP_NET_MAC_TABLE][6];
        uint8_t multi[VSP_NET_MAC_TABLE][6];
};

/* The state after a device reset: empty tables, promiscuous (as Linux expects until it sets a mode). */
void vsp_net_filter_reset(struct vsp_net_filter *f, const uint8_t mac[6], bool enabled);
bool vsp_net_filter_accept(const struct vsp_net_filter *f, const uint8_t dst[6]);
/* VIRTIO_NET_CTRL_MAC_TABLE_SET's data: two tables; -EINVAL unless it is exactly that. */
int vsp_net_filter_set_tables(struct vsp_net_filter *f, const uint8_t *data, size_t len);

/* ---- the device ---------------------------------------------------------------------- */

struct vsp_net;

struct net_rx {
        struct virtq *vq;
        unsigned vq_index;
        int kick_fd;
        bool broken;
        bool need_kick;                 /* out of buffers: wait for the driver */
        bool used_pending;
        /* The buffer read into next, popped ahead of the packet. */
        bool have_buf;
        uint16_t head;
        unsigned niov;
        uint64_t cap;
        struct iovec iov[VSP_NET_MAX_SEGS];
        /* A packet spread over several buffers, waiting for more of them (MRG_RXBUF). */
        bool partial;
        uint32_t bounce_len, bounce_off;        /* remaining bytes: bounce[off, len) */
        unsigned n_used;
        struct iovec hdr_iov[VIRTIO_NET_HDR_SIZE];      /* the current buffer's header */
        unsigned hdr_niov;
        struct iovec pkt_hdr_iov[VIRTIO_NET_HDR_SIZE];  /* the partial packet's header */
        unsigned pkt_hdr_niov;
        struct virtio_net_hdr pkt_hdr;
        uint64_t pkt_len;
        struct iovec rd_iov[VSP_NET_MAX_SEGS];  /* without a vnet header: past our header */
        uint16_t *used_head;            /* queue size entries */
        uint32_t *used_len;
        uint8_t *bounce;                /* VSP_NET_BOUNCE_SIZE */
};

/* A transmit packet, popped and checked, on its way to the TAP. */
struct net_tx_pkt {
        struct virtq_elem el;
        struct virtio_net_hdr hdr;      /* our checked copy of the packet's header */
        uint64_t frame_len;
        struct iovec *vec;              /* what goes to the TAP: into iov */
        unsigned nvec;
        int res;                        /* what the TAP said; -ECANCELED: not tried yet */
        bool sent;                      /* taken (or refused for good): its used entry is pushed */
        struct iovec iov[VSP_NET_MAX_SEGS];     /* [0] is kept for the header copy */
};

struct io_uring;

struct net_tx {
        struct virtq *vq;
        unsigned vq_index;
        int kick_fd;
        bool broken;
        bool used_pending;
        bool blocked;                   /* the TAP said EAGAIN: wait for EPOLLOUT */
        unsigned first, n_ready;        /* pkts[first..], in order; the first not sent yet */
        struct net_tx_pkt *pkts;        /* VSP_NET_TX_BATCH, a ring */
        struct io_uring *ring;          /* NULL: one writev() per packet */
        bool linked;                    /* the backend may refuse: keep order with linked writes */
};

struct net_ctrl {
        struct virtq *vq;
        unsigned vq_index;
        int kick_fd;
        bool broken;
        uint8_t buf[VSP_NET_CTRL_MAX];
        struct iovec iov[VSP_NET_MAX_SEGS];
};

struct net_pair {
        struct vsp_net *net;
        unsigned index;
        int tap_fd;
        bool tap_readable;              /* no EAGAIN since the last edge */
        int epfd, wake_fd;
        struct vsp_iothread t;
        char what[48];                  /* "virtio-net tap0 pair 0" */
        bool enabled;                   /* atomic: the driver uses this pair (VQ_PAIRS_SET) */
        struct net_rx rx;
        struct net_tx tx;
        struct net_ctrl *ctrl;          /* pair 0 serves the control queue */
        unsigned filter_gen;
        struct vsp_net_filter filter;   /* this thread's copy */
        struct ratelimit rl;
        struct vsp_net_stats stats;     /* written by this thread, read atomically */
};

struct vsp_net {
        struct vsp_tap *tap;
        char name[32];                  /* for messages: the TAP's name */
        struct virtio_dev_info info;
        uint64_t features;              /* negotiated, 0 while inactive */
        unsigned mtu;
        unsigned max_pairs;             /* queue pairs offered */
        unsigned n_pairs;               /* queue pairs of this activation (1 without MQ) */
        unsigned active_pairs;          /* VQ_PAIRS_SET */
        const struct virtio_irq *irq;
        bool active;

        uint8_t mac[6];                 /* configured; what cfg.mac returns to on reset */
        pthread_mutex_t lock;           /* cfg, filter, link */
        struct virtio_net_config cfg;   /* little-endian, as the guest reads it */
        bool link_up;                   /* atomic */
        struct vsp_net_filter filter;
        unsigned filter_gen;            /* atomic: bumped on every filter change */
        uint64_t offloads;              /* atomic: GUEST_* offloads in effect */

        struct net_pair *pairs;
        struct net_ctrl ctrl;
        /* A restore's settings, applied by the activation that follows its load. */
        bool restore_pending;
        struct virtio_net_config restore_cfg;
        struct vsp_net_filter restore_filter;
        uint64_t restore_offloads;
        unsigned restore_pairs;
        uint64_t ring_errors;           /* atomic */
        uint64_t ctrl_ok, ctrl_err;     /* atomic */
};

/* net_rxtx.c: run by a pair's thread. Each returns true when it stopped with work left. */
bool vsp_net_rx_run(struct net_pair *p);
bool vsp_net_tx_run(struct net_pair *p);
void vsp_net_ctrl_run(struct net_pair *p);
/* Publish used entries of the pair's queues, interrupting where the driver wants it. */
void vsp_net_pair_publish(struct net_pair *p);
/* A ring violation on queue vq_index: count, log (rate-limited), ask for a reset. */
void vsp_net_queue_fail(struct net_pair *p, bool *broken, unsigned vq_index, const char *why);
/* The transmit side's buffers and io_uring (the latter optional: without it, writev()). */
int vsp_net_tx_init(struct net_tx *tx, int tap_fd);
void vsp_net_tx_done(struct net_tx *tx);
/* Drop what the pair holds of the driver's buffers (on reset). */
void vsp_net_rx_forget(struct net_rx *rx);

/* net.c, for the control queue: apply a new pair count / offload set. */
int vsp_net_set_pairs(struct vsp_net *n, unsigned pairs);
int vsp_net_set_offloads(struct vsp_net *n, uint64_t offloads);

/* Per-pair counters have one writer (the pair's thread): no locked instruction needed. */
static inline void vsp_net_stat_add(uint64_t *c, uint64_t v)
{
        __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline bool vsp_net_has(const struct vsp_net *n, unsigned bit)
{
        return n->features & VIRTIO_BIT(bit);
}
