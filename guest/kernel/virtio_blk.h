/* SPDX-License-Identifier: MIT */
/*
 * The virtio-blk driver (virtio 1.2 section 5.2) on the virtio-pci transport: read, write,
 * flush, get-id, discard and write-zeroes, read-only devices, size_max/seg_max/blk_size, several
 * request queues (one per CPU, or as asked), each with its own MSI-X vector, and poll mode.
 *
 * A queue belongs to one CPU: guest_blk_submit()/guest_blk_kick()/guest_blk_reap()/
 * guest_blk_wait() on a queue are only called by that CPU and take no locks. A request is a
 * header (device-readable), data segments, and a status byte (device-writable).
 */
#pragma once

#include <abi/virtio_blk.h>

#include <stdbool.h>
#include <stdint.h>

#include "kernel/virtio_pci.h"
#include "kernel/virtqueue.h"

#define GUEST_BLK_MAX_DEVS      8
#define GUEST_BLK_MAX_QUEUES    16
#define GUEST_BLK_MAX_SEGS      128     /* data segments per request, at most */
#define GUEST_BLK_DEFAULT_QSIZE 256
#define GUEST_BLK_STATUS_NONE   0xffu   /* the device wrote no status byte */

struct guest_blk;

struct guest_blk_req {
        struct virtio_blk_outhdr hdr;   /* device-readable */
        uint8_t status;                 /* device-writable */
        uint8_t pad[3];
        uint32_t len;
        void *user;
        uint64_t tsc;                   /* submit time, for latencies */
};

struct guest_blk_queue {
        struct guest_blk *blk;
        struct guest_vq vq;
        uint16_t index;
        uint16_t depth;                 /* requests in the pool */
        struct guest_blk_req *reqs;     /* [depth] */
        uint16_t *free;                 /* stack of free request indices */
        uint16_t nfree;
        uint16_t pool_size;             /* allocated */
        uint32_t apic_id;               /* the CPU that drives this queue and takes its interrupt */
        uint64_t submitted, completed, errors;
};

struct guest_blk_opts {
        unsigned queues;                /* 0: 1 */
        uint16_t queue_size;            /* upper bound, 0: GUEST_BLK_DEFAULT_QSIZE */
        uint16_t depth;                 /* requests per queue, 0: the queue size */
        bool poll;                      /* no used-buffer interrupts */
        uint32_t spin_us;               /* interrupt mode: spin this long before sleeping */
        uint64_t refuse;                /* feature bits not to accept */
        enum guest_vq_mode mode;        /* direct or indirect chains */
        uint32_t seg_bytes;             /* split data into segments of at most this, 0: no limit */
        uint32_t queue_apic[GUEST_BLK_MAX_QUEUES];     /* APIC id per queue; 0 entries: the BSP */
};

struct guest_blk {
        struct guest_virtio_pci vp;
        unsigned index;
        char name[8];                   /* PCI bb:dd.f */
        bool started;
        struct guest_blk_opts opts;

        /* Device configuration */
        uint64_t capacity;              /* 512-byte sectors */
        uint32_t size_max;              /* 0: no limit */
        uint32_t seg_max;               /* 0: no limit */
        uint32_t blk_size;              /* bytes, 512 unless offered */
        uint16_t dev_queues;
        uint32_t max_discard_sectors, max_discard_seg, discard_align;
        uint32_t max_wz_sectors, max_wz_seg;
        uint8_t wz_may_unmap;
        bool ro;

        unsigned max_segs;              /* data segments per request the driver uses */
        bool msix_ready;
        int config_vector;
        uint64_t config_seen;           /* vp.config_irqs handled so far */
        uint64_t capacity_changes;
        unsigned nq;
        struct guest_blk_queue q[GUEST_BLK_MAX_QUEUES];
};

struct guest_blk_set {
        bool probed;
        unsigned count;
        struct guest_blk *devs[GUEST_BLK_MAX_DEVS];
};

/* Find the virtio-blk functions (once); returns how many. */
int guest_blk_probe(void);
struct guest_blk *guest_blk_get(unsigned index);

/* Reset, negotiate, read the configuration, set up the queues and interrupts, DRIVER_OK. */
int guest_blk_start(struct guest_blk *b, const struct guest_blk_opts *o);
/* Reset the device and start it again with the same options (recovery after NEEDS_RESET). */
int guest_blk_restart(struct guest_blk *b);
int guest_blk_stop(struct guest_blk *b);
static inline bool guest_blk_has(const struct guest_blk *b, unsigned bit)
{
        return guest_virtio_has(&b->vp, bit);
}

/*
 * Queue a request (no notification: guest_blk_kick() after a batch). buf/len: the data, NULL/0
 * for flush. -EAGAIN: no free request slot or descriptors; -E2BIG: too many segments.
 */
int guest_blk_submit(struct guest_blk_queue *q, uint32_t type, uint64_t sector, void *buf, uint32_t len,
                     void *user);
bool guest_blk_kick(struct guest_blk_queue *q);

typedef void (*guest_blk_done_fn)(struct guest_blk_queue *q, struct guest_blk_req *req, void *ctx);
/* Complete what the device has used: fn(req) for each (req->status, req->user); returns the count. */
unsigned guest_blk_reap(struct guest_blk_queue *q, guest_blk_done_fn fn, void *ctx);

/*
 * Wait until one of the n queues has a completion: spinning in poll mode, else with interrupts
 * (asking for one after `batch` completions). -ETIMEDOUT after deadline_ns (guest_time_ns),
 * -EIO when the device needs a reset or returned garbage.
 */
int guest_blk_wait(struct guest_blk_queue *const *qs, unsigned n, uint64_t deadline_ns, uint16_t batch);

/* One request on queue qi, waited for (timeout_ms). Returns 0 and *ret_status, or -errno. */
int guest_blk_sync(struct guest_blk *b, unsigned qi, uint32_t type, uint64_t sector, void *buf, uint32_t len,
                   uint64_t timeout_ms, uint8_t *ret_status);

/*
 * After a configuration change interrupt: -EIO when the device needs a reset, else re-read the
 * capacity (which the device may change at run time).
 */
int guest_blk_config_changed(struct guest_blk *b);

const char *guest_blk_status_name(uint8_t status);
