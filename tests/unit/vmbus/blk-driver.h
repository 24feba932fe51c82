/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio-pci + virtio-blk driver for unit tests, speaking to the device only
 * through the fake host's buses and guest RAM: what a guest kernel does, in a few lines.
 */
#pragma once

#include <time.h>
#include <unistd.h>

#include <abi/pci.h>
#include <abi/platform.h>
#include <abi/virtio.h>
#include <abi/virtio_blk.h>

#include "vpci-driver.h"

#define DRV_QSIZE       64u
#define DRV_SLOTS       21u             /* 3 descriptors per request */
/* Rings and headers of the driver for slot N live at 0x400000 * (N - 1) + ... */
#define DRV_Q_BASE(d, q) ((d)->base + 0x10000ull + 0x10000ull * (q))
#define DRV_HDR(d, q, s) ((d)->base + 0x100000ull + 0x1000ull * (q) + 0x40ull * (s))
#define DRV_DATA        0x200000ull     /* data buffers from here on */

struct drv_queue {
        unsigned index;
        uint64_t desc, avail, used;
        uint16_t avail_idx, last_used;
};

struct drv {
        struct fake_host *h;
        uint8_t devfn;
        uint64_t bar;
        uint64_t base;
        uint64_t features;
        unsigned nq;
        struct drv_queue q[8];
};

static inline uint64_t ecam(uint8_t devfn, uint32_t reg) { return vpci_ecam(devfn, reg); }
static inline uint64_t drv_rd(struct drv *d, unsigned off, unsigned len) { return mmio_read(d->h, d->bar + off, len); }
static inline void drv_wr(struct drv *d, unsigned off, uint64_t v, unsigned len) { mmio_write(d->h, d->bar + off, v, len); }
static inline uint8_t drv_status(struct drv *d) { return vpci_status(d->h, d->bar); }
static inline void drv_set_status(struct drv *d, uint8_t s) { vpci_set_status(d->h, d->bar, s); }

static inline uint64_t drv_cfg(struct drv *d, unsigned off, unsigned len)
{
        return drv_rd(d, VIRTIO_PCI_DEVICE_OFF + off, len);
}

/* Find the function, enable MSI-X (vector v has MSI data 0x40 + v). */
static inline void drv_probe(struct drv *d, struct fake_host *h, uint8_t devfn)
{
        uint32_t cap = 0;

        memset(d, 0, sizeof(*d));
        d->h = h;
        d->devfn = devfn;
        d->base = 0x400000ull * (PCI_SLOT(devfn) - 1);
        d->bar = vpci_probe_bar(h, devfn, 0);
        for (uint32_t p = (uint32_t)mmio_read(h, ecam(devfn, PCI_CAPABILITY_LIST), 1); p;
             p = (uint32_t)mmio_read(h, ecam(devfn, p + 1), 1))
                if (mmio_read(h, ecam(devfn, p), 1) == PCI_CAP_ID_MSIX)
                        cap = p;
        ck_assert_uint_ne(cap, 0);
        mmio_write(h, ecam(devfn, cap + PCI_MSIX_FLAGS), PCI_MSIX_FLAGS_ENABLE, 2);
        for (unsigned v = 0; v < 9; v++) {
                uint64_t e = d->bar + VIRTIO_PCI_MSIX_TABLE_OFF + 16u * v;

                mmio_write(h, e, 0xfee00000, 4);
                mmio_write(h, e + 8, 0x40 + v + 0x10u * PCI_SLOT(devfn), 4);
                mmio_write(h, e + 12, 0, 4);
        }
}

static inline int drv_irqfd(struct drv *d, unsigned vector)
{
        return fake_irqfd_for(d->h, 0x40 + vector + 0x10u * PCI_SLOT(d->devfn));
}

static inline uint64_t drv_device_features(struct drv *d) { return vpci_device_features(d->h, d->bar); }

/* Reset, negotiate `want` & offered, set up nq queues of DRV_QSIZE, DRIVER_OK. */
static inline void drv_init(struct drv *d, uint64_t want, unsigned nq)
{
        d->features = vpci_negotiate(d->h, d->bar, want);
        drv_wr(d, VIRTIO_PCI_COMMON_MSIX, 0, 2);
        d->nq = nq;
        for (unsigned i = 0; i < nq; i++) {
                struct drv_queue *q = &d->q[i];

                *q = (struct drv_queue) {
                        .index = i, .desc = DRV_Q_BASE(d, i), .avail = DRV_Q_BASE(d, i) + 0x1000,
                        .used = DRV_Q_BASE(d, i) + 0x2000,
                };
                vpci_queue_setup(d->h, d->bar, i, DRV_QSIZE, (uint16_t)(1 + i), q->desc, q->avail, q->used,
                                 0x3000);
        }
        vpci_driver_ok(d->h, d->bar);
}

static inline void drv_desc(struct drv *d, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
                            uint16_t flags, uint16_t next)
{
        struct virtq_desc x = { .addr = addr, .len = len, .flags = flags, .next = next };

        memcpy(d->h->ram + table + 16u * i, &x, sizeof(x));
}

/* Make head available and ring the doorbell. */
static inline void drv_kick(struct drv *d, struct drv_queue *q, uint16_t head)
{
        uint8_t *ram = d->h->ram;

        memcpy(ram + q->avail + 4 + 2u * (q->avail_idx % DRV_QSIZE), &head, 2);
        q->avail_idx++;
        __atomic_store_n((uint16_t *)(ram + q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
        mmio_write(d->h, d->bar + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q->index, q->index, 2);
}

/*
 * Queue a request in slot s: header, optional data buffer (device-writable if
 * data_writable), status byte. Does not kick.
 */
static inline uint16_t drv_req(struct drv *d, struct drv_queue *q, unsigned s, uint32_t type,
                               uint64_t sector, uint64_t data, uint32_t len, bool data_writable)
{
        struct virtio_blk_outhdr hdr = { .type = type, .sector = sector };
        uint64_t h = DRV_HDR(d, q->index, s);
        uint16_t head = (uint16_t)(3 * s);

        ck_assert_uint_lt(s, DRV_SLOTS);
        memcpy(d->h->ram + h, &hdr, sizeof(hdr));
        d->h->ram[h + 16] = 0xee;
        if (len) {
                drv_desc(d, q->desc, head, h, 16, VIRTQ_DESC_F_NEXT, head + 1);
                drv_desc(d, q->desc, head + 1, data, len,
                         VIRTQ_DESC_F_NEXT | (data_writable ? VIRTQ_DESC_F_WRITE : 0), head + 2);
        } else {
                drv_desc(d, q->desc, head, h, 16, VIRTQ_DESC_F_NEXT, head + 2);
        }
        drv_desc(d, q->desc, head + 2, h + 16, 1, VIRTQ_DESC_F_WRITE, 0);
        return head;
}

static inline uint8_t drv_req_status(struct drv *d, struct drv_queue *q, unsigned s)
{
        return __atomic_load_n(&d->h->ram[DRV_HDR(d, q->index, s) + 16], __ATOMIC_ACQUIRE);
}

/* Wait until n more used entries appear; returns how many did. Consumes them. */
static inline unsigned drv_wait_used(struct drv *d, struct drv_queue *q, unsigned n,
                                     struct virtq_used_elem *out)
{
        uint8_t *ram = d->h->ram;
        unsigned got = 0;

        for (int t = 0; t < 5000 && got < n; t++) {
                uint16_t idx = __atomic_load_n((uint16_t *)(ram + q->used + 2), __ATOMIC_ACQUIRE);

                while (q->last_used != idx && got < n) {
                        if (out)
                                memcpy(&out[got], ram + q->used + 4 + 8u * (q->last_used % DRV_QSIZE), 8);
                        q->last_used++;
                        got++;
                }
                /* EVENT_IDX: ask for an interrupt at the next completion. */
                __atomic_store_n((uint16_t *)(ram + q->avail + VIRTQ_USED_EVENT_OFF(DRV_QSIZE)),
                                 q->last_used, __ATOMIC_RELAXED);
                if (got < n)
                        usleep(1000);
        }
        return got;
}

/* One request, synchronously: returns its status byte (0xee if it never completed). */
static inline uint8_t drv_do(struct drv *d, unsigned qi, uint32_t type, uint64_t sector,
                             uint64_t data, uint32_t len, bool data_writable)
{
        struct drv_queue *q = &d->q[qi];
        uint16_t head = drv_req(d, q, 0, type, sector, data, len, data_writable);

        drv_kick(d, q, head);
        if (drv_wait_used(d, q, 1, NULL) != 1)
                return 0xee;
        return drv_req_status(d, q, 0);
}
