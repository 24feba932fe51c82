/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio-pci + virtio-console multiport driver for unit tests, speaking to the
 * device only through the fake host's buses and guest RAM. Each queue has 64 entries;
 * receive queues are filled with 4 KiB buffers, transmit queues send one buffer per call.
 */
#pragma once

#include <time.h>
#include <unistd.h>

#include <abi/pci.h>
#include <abi/platform.h>
#include <abi/virtio.h>
#include <abi/ic.h>
#include <abi/virtio_console.h>

#include "../vmbus/vpci-driver.h"
#include "vmms/macro.h"

#define CD_QSIZE        64u
#define CD_NQ           VIRTIO_CONSOLE_NUM_QUEUES(IC_CONSOLE_MAX_PORTS)
#define CD_RING(q)      (0x100000ull + 0x4000ull * (q))
#define CD_BUF(q, i)    (0x200000ull + 0x40000ull * (q) + 0x1000ull * (i))
#define CD_BUF_SIZE     0x1000u
#define CD_RX_BUFS      16u

struct cd_queue {
        uint64_t desc, avail, used;
        uint16_t avail_idx, last_used;
        unsigned next_tx;
};

struct cd {
        struct fake_host *h;
        uint8_t devfn;
        uint64_t bar;
        uint64_t features;
        struct cd_queue q[CD_NQ];
};

static inline uint64_t cd_rd(struct cd *d, unsigned off, unsigned len) { return mmio_read(d->h, d->bar + off, len); }
static inline void cd_wr(struct cd *d, unsigned off, uint64_t v, unsigned len) { mmio_write(d->h, d->bar + off, v, len); }
static inline uint8_t cd_status(struct cd *d) { return vpci_status(d->h, d->bar); }

static inline void cd_probe(struct cd *d, struct fake_host *h, uint8_t devfn)
{
        memset(d, 0, sizeof(*d));
        d->h = h;
        d->devfn = devfn;
        d->bar = vpci_probe_bar(h, devfn, 0x1043);
}

static inline void cd_desc(struct cd *d, struct cd_queue *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags)
{
        struct virtq_desc x = { .addr = addr, .len = len, .flags = flags };

        memcpy(d->h->ram + q->desc + 16u * i, &x, sizeof(x));
}

static inline void cd_kick(struct cd *d, unsigned qi, uint16_t head)
{
        struct cd_queue *q = &d->q[qi];
        uint8_t *ram = d->h->ram;

        uint16_t old = q->avail_idx, event;

        memcpy(ram + q->avail + 4 + 2u * (q->avail_idx % CD_QSIZE), &head, 2);
        q->avail_idx++;
        __atomic_store_n((uint16_t *)(ram + q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        /* As a driver with EVENT_IDX does: ring only when the device asked for it. */
        memcpy(&event, ram + q->used + VIRTQ_AVAIL_EVENT_OFF(CD_QSIZE), 2);
        if (!(d->features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)) || virtq_need_event(event, q->avail_idx, old))
                mmio_write(d->h, d->bar + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * qi, qi, 2);
}

/* Queue a writable 4 KiB buffer i on queue qi (descriptor i). */
static inline void cd_post_rx(struct cd *d, unsigned qi, uint16_t i)
{
        cd_desc(d, &d->q[qi], i, CD_BUF(qi, i), CD_BUF_SIZE, VIRTQ_DESC_F_WRITE);
        cd_kick(d, qi, i);
}

/* Reset, negotiate, set up every queue, fill receive queues, DRIVER_OK. */
static inline void cd_init(struct cd *d, uint64_t want)
{
        d->features = vpci_negotiate(d->h, d->bar, want);
        ck_assert_uint_eq(cd_rd(d, VIRTIO_PCI_COMMON_NUMQ, 2), CD_NQ);
        for (unsigned i = 0; i < CD_NQ; i++) {
                struct cd_queue *q = &d->q[i];

                *q = (struct cd_queue) { .desc = CD_RING(i), .avail = CD_RING(i) + 0x1000, .used = CD_RING(i) + 0x2000 };
                vpci_queue_setup(d->h, d->bar, i, CD_QSIZE, VIRTIO_MSI_NO_VECTOR, q->desc, q->avail, q->used,
                                 0x4000);
        }
        vpci_driver_ok(d->h, d->bar);
        for (unsigned qi = 0; qi < CD_NQ; qi++)
                if (qi == VIRTIO_CONSOLE_CTRL_RX || (qi >= 4 && qi % 2 == 0))
                        for (uint16_t i = 0; i < CD_RX_BUFS; i++)
                                cd_post_rx(d, qi, i);
}

/*
 * Wait up to ms for the next used entry of queue qi; copies its bytes (receive queues) to
 * out and reposts the buffer. Returns the used length, or -1 on timeout.
 */
static inline int cd_used(struct cd *d, unsigned qi, void *out, size_t cap, int ms, bool repost)
{
        struct cd_queue *q = &d->q[qi];
        uint8_t *ram = d->h->ram;

        for (int t = 0; t <= ms; t++) {
                uint16_t idx = __atomic_load_n((uint16_t *)(ram + q->used + 2), __ATOMIC_ACQUIRE);
                struct virtq_used_elem e;

                if (idx != q->last_used) {
                        memcpy(&e, ram + q->used + 4 + 8u * (q->last_used % CD_QSIZE), 8);
                        q->last_used++;
                        if (out)
                                memcpy(out, ram + CD_BUF(qi, e.id), MIN((size_t)e.len, cap));
                        if (repost)
                                cd_post_rx(d, qi, (uint16_t)e.id);
                        return (int)e.len;
                }
                usleep(1000);
        }
        return -1;
}

/* Send len bytes on a transmit queue (one descriptor from a rotating set of 8 slots). */
static inline void cd_send(struct cd *d, unsigned qi, const void *data, size_t len, uint16_t flags)
{
        struct cd_queue *q = &d->q[qi];
        uint16_t slot = (uint16_t)(q->next_tx++ % 8);

        ck_assert_uint_le(len, CD_BUF_SIZE);
        memcpy(d->h->ram + CD_BUF(qi, slot), data, len);
        cd_desc(d, q, slot, CD_BUF(qi, slot), (uint32_t)len, flags);
        cd_kick(d, qi, slot);
}

static inline void cd_ctrl(struct cd *d, uint32_t id, uint16_t event, uint16_t value)
{
        struct virtio_console_control c = { .id = id, .event = event, .value = value };

        cd_send(d, VIRTIO_CONSOLE_CTRL_TX, &c, sizeof(c), 0);
        ck_assert_int_eq(cd_used(d, VIRTIO_CONSOLE_CTRL_TX, NULL, 0, 2000, false), 0);
}

/* The next control message from the device; name (if any) into name. */
static inline struct virtio_console_control cd_ctrl_recv(struct cd *d, char *name, size_t cap)
{
        uint8_t buf[256] = { 0 };
        struct virtio_console_control c;
        int n = cd_used(d, VIRTIO_CONSOLE_CTRL_RX, buf, sizeof(buf), 2000, true);

        ck_assert_int_ge(n, (int)sizeof(c));
        memcpy(&c, buf, sizeof(c));
        if (name) {
                size_t l = MIN((size_t)n - sizeof(c), cap - 1);

                memcpy(name, buf + sizeof(c), l);
                name[l] = 0;
        }
        return c;
}
