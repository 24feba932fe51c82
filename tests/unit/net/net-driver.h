/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio-net driver for unit tests, on top of the generic virtio-pci test driver
 * (tests/unit/vmbus/blk-driver.h: probe, feature negotiation, queue setup, kicks), and the
 * host end of the device's backend: one SOCK_SEQPACKET socket per queue pair that frames
 * packets as a TAP with a vnet header does.
 */
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <abi/virtio_net.h>

#include "blk-driver.h"

#define NET_RX(p)       (2u * (p))
#define NET_TX(p)       (2u * (p) + 1u)
/* Buffers of queue q, slot s (up to DRV_QSIZE per queue), 4 KiB each. */
#define NET_BUF(q, s)   (0x200000ull + 0x40000ull * (q) + 0x1000ull * (s))
#define NET_BUF_MAX     0x1000u
#define NET_BIG         0x800000ull     /* a 128 KiB area for oversized frames */

/* Post receive buffer `slot` of `len` bytes (one descriptor) and kick. */
static inline void net_post_rx(struct drv *d, unsigned q, uint16_t slot, uint32_t len)
{
        drv_desc(d, d->q[q].desc, slot, NET_BUF(q, slot), len, VIRTQ_DESC_F_WRITE, 0);
        memset(d->h->ram + NET_BUF(q, slot), 0xcc, len);
        drv_kick(d, &d->q[q], slot);
}

/* Transmit hdr + frame from slot `slot` as one descriptor and kick. */
static inline void net_send(struct drv *d, unsigned q, uint16_t slot, const struct virtio_net_hdr *h,
                            const void *frame, uint32_t len)
{
        uint8_t *p = d->h->ram + NET_BUF(q, slot);

        memcpy(p, h, sizeof(*h));
        memcpy(p + sizeof(*h), frame, len);
        drv_desc(d, d->q[q].desc, slot, NET_BUF(q, slot), (uint32_t)sizeof(*h) + len, 0, 0);
        drv_kick(d, &d->q[q], slot);
}

/* An Ethernet frame of len bytes to dst, with a recognisable payload. */
static inline void net_frame(uint8_t *f, size_t len, const uint8_t dst[6], uint8_t seed)
{
        static const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

        memcpy(f, dst, 6);
        memcpy(f + 6, src, 6);
        f[12] = 0x08;
        f[13] = 0x00;
        for (size_t i = 14; i < len; i++)
                f[i] = (uint8_t)(seed + i * 13);
}

/* Host end: send one packet (vnet header + frame) to the device. */
static inline void host_send(int fd, const struct virtio_net_hdr *h, const void *frame, size_t len)
{
        struct iovec iov[2] = {
                { .iov_base = (void *)h, .iov_len = sizeof(*h) },
                { .iov_base = (void *)frame, .iov_len = len },
        };

        ck_assert_int_eq(writev(fd, iov, 2), (ssize_t)(sizeof(*h) + len));
}

/* Host end: receive one packet within ms; returns its length (0: none). */
static inline size_t host_recv(int fd, void *buf, size_t cap, int ms)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, ms) <= 0)
                return 0;
        n = recv(fd, buf, cap, MSG_DONTWAIT);
        return n > 0 ? (size_t)n : 0;
}

/* Take the used entries there are now (no waiting); returns how many. */
static inline unsigned net_reap(struct drv *d, struct drv_queue *q, struct virtq_used_elem *out, unsigned max)
{
        uint16_t idx = __atomic_load_n((uint16_t *)(d->h->ram + q->used + 2), __ATOMIC_ACQUIRE);
        unsigned n = 0;

        while (q->last_used != idx && n < max) {
                if (out)
                        memcpy(&out[n], d->h->ram + q->used + 4 + 8u * (q->last_used % DRV_QSIZE), 8);
                q->last_used++;
                n++;
        }
        return n;
}

/* Queue a control command: header + data (readable), ack (writable) at slot 0.. of ctrl q. */
static inline uint8_t net_ctrl(struct drv *d, unsigned q, uint8_t cls, uint8_t cmd, const void *data,
                               uint32_t len)
{
        struct drv_queue *cq = &d->q[q];
        uint64_t base = NET_BUF(q, 0);
        uint8_t *ram = d->h->ram;
        struct virtio_net_ctrl_hdr h = { .cls = cls, .cmd = cmd };

        memcpy(ram + base, &h, sizeof(h));
        memcpy(ram + base + 0x100, data, len);
        ram[base + 0x800] = 0xee;
        drv_desc(d, cq->desc, 0, base, sizeof(h), VIRTQ_DESC_F_NEXT, 1);
        if (len) {
                drv_desc(d, cq->desc, 1, base + 0x100, len, VIRTQ_DESC_F_NEXT, 2);
                drv_desc(d, cq->desc, 2, base + 0x800, 1, VIRTQ_DESC_F_WRITE, 0);
        } else {
                drv_desc(d, cq->desc, 1, base + 0x800, 1, VIRTQ_DESC_F_WRITE, 0);
        }
        drv_kick(d, cq, 0);
        if (drv_wait_used(d, cq, 1, NULL) != 1)
                return 0xee;
        return ram[base + 0x800];
}
