/* SPDX-License-Identifier: MIT */
#include <abi/virtio.h>
#include <abi/virtio_blk.h>

#include "kernel/apic.h"
#include "kernel/kernel.h"
#include "kernel/virtio_blk.h"

#define BLK_WANTED_FEATURES                                                                     \
        (VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |                 \
         VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_RO) |                      \
         VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) |                   \
         VIRTIO_BIT(VIRTIO_BLK_F_MQ) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |                       \
         VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |     \
         VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))
#define BLK_NEEDS_RESET_POLL_NS (10ull * 1000000)       /* poll mode: look at device_status this often */

#define CFG(field) offsetof(struct virtio_blk_config, field)

static void blk_queue_irq(struct guest_regs *regs, void *data)
{
        struct guest_blk_queue *q = data;

        q->vq.irqs++;
        guest_lapic_eoi();
}

static void blk_config_irq(struct guest_regs *regs, void *data)
{
        struct guest_blk *b = data;

        b->vp.config_irqs++;
        guest_lapic_eoi();
}

int guest_blk_probe(void)
{
        struct guest_blk_set *set = &guest.blk;
        struct guest_pci_dev *d = NULL;
        int r;

        if (set->probed)
                return (int)set->count;
        set->probed = true;
        r = guest_pci_scan();
        if (r < 0)
                return r;
        while ((d = guest_pci_find(VIRTIO_PCI_VENDOR_ID, 0xffff, d)) && set->count < GUEST_BLK_MAX_DEVS) {
                struct guest_blk *b;

                if (d->claimed)
                        continue;
                if (d->device != VIRTIO_PCI_DEVICE_ID_BASE + VIRTIO_ID_BLOCK &&
                    !(d->device < VIRTIO_PCI_DEVICE_ID_BASE && d->subsys_device == VIRTIO_ID_BLOCK))
                        continue;
                b = (struct guest_blk *)(uintptr_t)guest_page_alloc(sizeof(*b), GUEST_PAGE_SIZE);
                if (!b)
                        return -ENOMEM;
                memset(b, 0, sizeof(*b));
                r = guest_virtio_pci_probe(d, &b->vp);
                guest_pci_name(d, b->name);
                if (r < 0) {
                        guest_printf("vmguest: virtio-blk %s: unusable (%d)\n", b->name, r);
                        continue;
                }
                d->claimed = true;
                b->index = set->count;
                b->config_vector = -1;
                set->devs[set->count++] = b;
        }
        return (int)set->count;
}

struct guest_blk *guest_blk_get(unsigned index)
{
        return index < guest.blk.count ? guest.blk.devs[index] : NULL;
}

static int config_u32(struct guest_blk *b, unsigned off, uint32_t *ret)
{
        return guest_virtio_config_read(&b->vp, off, ret, sizeof(*ret));
}

static int read_config(struct guest_blk *b)
{
        uint16_t nq = 1;
        int r;

        r = guest_virtio_config_read(&b->vp, CFG(capacity), &b->capacity, sizeof(b->capacity));
        if (r < 0)
                return r;
        b->size_max = b->seg_max = 0;
        b->blk_size = VIRTIO_BLK_SECTOR_SIZE;
        if (guest_blk_has(b, VIRTIO_BLK_F_SIZE_MAX) && (r = config_u32(b, CFG(size_max), &b->size_max)) < 0)
                return r;
        if (guest_blk_has(b, VIRTIO_BLK_F_SEG_MAX) && (r = config_u32(b, CFG(seg_max), &b->seg_max)) < 0)
                return r;
        if (guest_blk_has(b, VIRTIO_BLK_F_BLK_SIZE)) {
                if ((r = config_u32(b, CFG(blk_size), &b->blk_size)) < 0)
                        return r;
                /* A power of two from 512 up, else ignored. */
                if (b->blk_size < VIRTIO_BLK_SECTOR_SIZE || (b->blk_size & (b->blk_size - 1)) || b->blk_size > 65536)
                        b->blk_size = VIRTIO_BLK_SECTOR_SIZE;
        }
        if (guest_blk_has(b, VIRTIO_BLK_F_MQ) &&
            (r = guest_virtio_config_read(&b->vp, CFG(num_queues), &nq, sizeof(nq))) < 0)
                return r;
        b->dev_queues = nq ? nq : 1;
        if (guest_blk_has(b, VIRTIO_BLK_F_DISCARD)) {
                if ((r = config_u32(b, CFG(max_discard_sectors), &b->max_discard_sectors)) < 0 ||
                    (r = config_u32(b, CFG(max_discard_seg), &b->max_discard_seg)) < 0 ||
                    (r = config_u32(b, CFG(discard_sector_alignment), &b->discard_align)) < 0)
                        return r;
        }
        if (guest_blk_has(b, VIRTIO_BLK_F_WRITE_ZEROES)) {
                if ((r = config_u32(b, CFG(max_write_zeroes_sectors), &b->max_wz_sectors)) < 0 ||
                    (r = config_u32(b, CFG(max_write_zeroes_seg), &b->max_wz_seg)) < 0 ||
                    (r = guest_virtio_config_read(&b->vp, CFG(write_zeroes_may_unmap), &b->wz_may_unmap, 1)) < 0)
                        return r;
        }
        b->ro = guest_blk_has(b, VIRTIO_BLK_F_RO);
        return 0;
}

static uint16_t pow2_floor(uint32_t v)
{
        uint32_t p = 1;

        while (p * 2 <= v && p * 2 <= VIRTQ_MAX_SIZE)
                p *= 2;
        return (uint16_t)p;
}

static int queue_start(struct guest_blk *b, unsigned i)
{
        struct guest_blk_queue *q = &b->q[i];
        const struct guest_blk_opts *o = &b->opts;
        uint16_t max = guest_virtio_queue_max(&b->vp, (uint16_t)i), size, imax;
        int r;

        if (max == 0)
                return -ENODEV;
        size = pow2_floor(MIN((uint32_t)max, (uint32_t)(o->queue_size ? o->queue_size : GUEST_BLK_DEFAULT_QSIZE)));
        if (size < 4)
                return -EINVAL;
        /* A chain is never longer than the queue size (2.7.5.3.1). */
        imax = (uint16_t)MIN((unsigned)size, GUEST_BLK_MAX_SEGS + 2u);
        r = guest_vq_alloc(&q->vq, size, imax);
        if (r < 0)
                return r;
        guest_vq_init(&q->vq, (uint16_t)i, size, guest_blk_has(b, VIRTIO_F_RING_EVENT_IDX),
                      guest_blk_has(b, VIRTIO_F_RING_INDIRECT_DESC));

        q->blk = b;
        q->index = (uint16_t)i;
        q->depth = o->depth ? MIN(o->depth, size) : size;
        if (q->pool_size < q->depth) {
                uint64_t m = guest_page_alloc((uint64_t)q->depth * (sizeof(struct guest_blk_req) + sizeof(uint16_t)), 64);

                if (!m)
                        return -ENOMEM;
                q->reqs = (struct guest_blk_req *)(uintptr_t)m;
                q->free = (uint16_t *)(uintptr_t)(m + (uint64_t)q->depth * sizeof(struct guest_blk_req));
                q->pool_size = q->depth;
        }
        q->nfree = 0;
        for (unsigned k = q->depth; k > 0; k--)
                q->free[q->nfree++] = (uint16_t)(k - 1);
        q->apic_id = o->queue_apic[i] ? o->queue_apic[i] : guest.cpus[0].apic_id;

        q->vq.msix_entry = -1;
        if (b->msix_ready) {
                if (q->vq.vector <= 0) {
                        r = guest_irq_alloc(blk_queue_irq, q);
                        if (r < 0)
                                return r;
                        q->vq.vector = r;
                }
                r = guest_pci_msix_set(b->vp.pci, 1 + i, q->apic_id, (uint8_t)q->vq.vector);
                if (r < 0)
                        return r;
        }
        r = guest_virtio_queue_setup(&b->vp, &q->vq, b->msix_ready ? (int)(1 + i) : -1);
        if (r < 0)
                return r;
        if (o->poll)
                guest_vq_disable_cb(&q->vq);
        return 0;
}

int guest_blk_start(struct guest_blk *b, const struct guest_blk_opts *o)
{
        struct guest_pci_dev *pci = b->vp.pci;
        unsigned want_q = o->queues ? o->queues : 1;
        int r;

        if (o != &b->opts)
                b->opts = *o;
        b->started = false;

        /* MSI-X: entry 0 for configuration changes, 1 + i for queue i. */
        if (!b->msix_ready && guest_pci_msix_init(pci) == 0 && pci->msix_size >= 2) {
                r = guest_irq_alloc(blk_config_irq, b);
                if (r >= 0) {
                        b->config_vector = r;
                        guest_pci_msix_set(pci, 0, guest.cpus[0].apic_id, (uint8_t)r);
                        guest_pci_msix_enable(pci, true);
                        b->msix_ready = true;
                        for (unsigned i = 0; i < GUEST_BLK_MAX_QUEUES; i++)
                                b->q[i].vq.vector = -1;
                }
        }
        if (!b->msix_ready && !b->opts.poll)
                return -ENODEV;         /* no INTx support: without MSI-X only poll mode works */

        r = guest_virtio_negotiate(&b->vp, BLK_WANTED_FEATURES & ~o->refuse, 0);
        if (r < 0)
                return r;
        r = read_config(b);
        if (r < 0)
                goto fail;

        b->nq = MIN(want_q, (unsigned)b->dev_queues);
        b->nq = MIN(b->nq, (unsigned)b->vp.num_queues);
        b->nq = MIN(b->nq, (unsigned)GUEST_BLK_MAX_QUEUES);
        if (b->msix_ready)
                b->nq = MIN(b->nq, (unsigned)pci->msix_size - 1);
        if (b->nq == 0) {
                r = -ENODEV;
                goto fail;
        }
        for (unsigned i = 0; i < b->nq; i++) {
                r = queue_start(b, i);
                if (r < 0)
                        goto fail;
        }
        if (b->msix_ready) {
                r = guest_virtio_config_vector(&b->vp, 0);
                if (r < 0)
                        goto fail;
        }

        b->max_segs = GUEST_BLK_MAX_SEGS;
        if (b->seg_max)
                b->max_segs = MIN(b->max_segs, b->seg_max);
        if (b->opts.mode != GUEST_VQ_INDIRECT && !b->q[0].vq.indirect)
                b->max_segs = MIN(b->max_segs, (unsigned)b->q[0].vq.size - 2u);
        b->max_segs = MIN(b->max_segs, (unsigned)b->q[0].vq.indirect_max - 2u);
        if (b->max_segs == 0)
                b->max_segs = 1;

        guest_virtio_driver_ok(&b->vp);
        b->started = true;
        return 0;
fail:
        guest_virtio_add_status(&b->vp, VIRTIO_STATUS_FAILED);
        return r;
}

int guest_blk_restart(struct guest_blk *b)
{
        return guest_blk_start(b, &b->opts);
}

int guest_blk_stop(struct guest_blk *b)
{
        b->started = false;
        return guest_virtio_reset(&b->vp);
}

static bool data_to_device(uint32_t type)
{
        return type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES ||
               type == VIRTIO_BLK_T_SECURE_ERASE;
}

int guest_blk_submit(struct guest_blk_queue *q, uint32_t type, uint64_t sector, void *buf, uint32_t len,
                     void *user)
{
        struct guest_blk *b = q->blk;
        struct guest_vq_sg sg[GUEST_BLK_MAX_SEGS + 2];
        struct guest_blk_req *req;
        uint32_t chunk = len, nseg = 0;
        uint16_t id;
        int r;

        if (!q->nfree)
                return -EAGAIN;
        if (b->size_max && chunk > b->size_max)
                chunk = b->size_max;
        if (b->opts.seg_bytes && chunk > b->opts.seg_bytes)
                chunk = b->opts.seg_bytes;
        if (len) {
                if (!buf || chunk == 0)
                        return -EINVAL;
                nseg = (len + chunk - 1) / chunk;
                if (nseg > b->max_segs)
                        return -E2BIG;
        }

        id = q->free[--q->nfree];
        req = &q->reqs[id];
        req->hdr = (struct virtio_blk_outhdr){ .type = type, .ioprio = 0, .sector = sector };
        req->status = GUEST_BLK_STATUS_NONE;
        req->len = len;
        req->user = user;
        req->tsc = guest_rdtsc();

        sg[0] = (struct guest_vq_sg){ .addr = (uint64_t)(uintptr_t)&req->hdr, .len = sizeof(req->hdr) };
        for (uint32_t k = 0, off = 0; k < nseg; k++, off += chunk)
                sg[1 + k] = (struct guest_vq_sg){
                        .addr = (uint64_t)(uintptr_t)buf + off,
                        .len = MIN(chunk, len - off),
                };
        sg[1 + nseg] = (struct guest_vq_sg){ .addr = (uint64_t)(uintptr_t)&req->status, .len = 1 };

        if (data_to_device(type))
                r = guest_vq_add(&q->vq, sg, 1 + nseg, 1, req, b->opts.mode);
        else
                r = guest_vq_add(&q->vq, sg, 1, nseg + 1, req, b->opts.mode);
        if (r < 0) {
                q->free[q->nfree++] = id;
                return r == -ENOSPC ? -EAGAIN : r;
        }
        q->submitted++;
        return 0;
}

bool guest_blk_kick(struct guest_blk_queue *q)
{
        return guest_vq_kick(&q->vq);
}

unsigned guest_blk_reap(struct guest_blk_queue *q, guest_blk_done_fn fn, void *ctx)
{
        struct guest_blk_req *req;
        unsigned n = 0;

        while ((req = guest_vq_get_used(&q->vq, NULL))) {
                if (req->status != VIRTIO_BLK_S_OK)
                        q->errors++;
                q->completed++;
                if (fn)
                        fn(q, req, ctx);
                q->free[q->nfree++] = (uint16_t)(req - q->reqs);
                n++;
        }
        return n;
}

int guest_blk_config_changed(struct guest_blk *b)
{
        uint64_t cap;

        if (guest_virtio_needs_reset(&b->vp))
                return -EIO;
        if (guest_virtio_config_read(&b->vp, CFG(capacity), &cap, sizeof(cap)) == 0 && cap != b->capacity) {
                b->capacity = cap;
                b->capacity_changes++;
        }
        return 0;
}

int guest_blk_wait(struct guest_blk_queue *const *qs, unsigned n, uint64_t deadline_ns, uint16_t batch)
{
        struct guest_blk *b = n ? qs[0]->blk : NULL;
        uint64_t start = guest_time_ns(), next_check = start + BLK_NEEDS_RESET_POLL_NS, spin_until;

        if (!b)
                return -EINVAL;
        spin_until = start + (uint64_t)b->opts.spin_us * 1000;
        for (;;) {
                uint64_t now;

                for (unsigned i = 0; i < n; i++) {
                        if (qs[i]->vq.broken)
                                return -EIO;
                        if (guest_vq_has_used(&qs[i]->vq))
                                return 0;
                }
                /* A device that needs a reset says so with a configuration change interrupt. */
                uint64_t cfg = __atomic_load_n(&b->vp.config_irqs, __ATOMIC_RELAXED);

                if (cfg != b->config_seen) {
                        b->config_seen = cfg;
                        if (guest_blk_config_changed(b) < 0)
                                return -EIO;
                }
                now = guest_time_ns();
                if (now >= next_check || now >= deadline_ns) {
                        if (guest_virtio_needs_reset(&b->vp))
                                return -EIO;
                        if (now >= deadline_ns)
                                return -ETIMEDOUT;
                        next_check = now + BLK_NEEDS_RESET_POLL_NS;
                }
                if (b->opts.poll || now < spin_until) {
                        guest_cpu_relax();
                        continue;
                }
                /* Ask for an interrupt, look once more, then sleep until one arrives. */
                bool was = guest_irq_save(), ready = false;

                for (unsigned i = 0; i < n && !ready; i++)
                        ready = !guest_vq_enable_cb(&qs[i]->vq, batch);
                if (!ready)
                        guest_cpu_wait();
                guest_irq_restore(was);
        }
}

static void sync_done(struct guest_blk_queue *q, struct guest_blk_req *req, void *ctx)
{
        *(uint8_t *)ctx = req->status;
}

int guest_blk_sync(struct guest_blk *b, unsigned qi, uint32_t type, uint64_t sector, void *buf, uint32_t len,
                   uint64_t timeout_ms, uint8_t *ret_status)
{
        struct guest_blk_queue *q;
        uint64_t deadline = guest_time_ns() + timeout_ms * 1000000ull;
        uint8_t status = GUEST_BLK_STATUS_NONE;
        int r;

        if (!b->started || qi >= b->nq)
                return -EINVAL;
        q = &b->q[qi];
        if (q->vq.inflight)
                return -EBUSY;
        r = guest_blk_submit(q, type, sector, buf, len, &status);
        if (r < 0)
                return r;
        guest_blk_kick(q);
        for (;;) {
                r = guest_blk_wait(&q, 1, deadline, 1);
                if (r < 0)
                        return r;
                if (guest_blk_reap(q, sync_done, &status))
                        break;
        }
        *ret_status = status;
        return 0;
}

const char *guest_blk_status_name(uint8_t status)
{
        switch (status) {
        case VIRTIO_BLK_S_OK:
                return "ok";
        case VIRTIO_BLK_S_IOERR:
                return "ioerr";
        case VIRTIO_BLK_S_UNSUPP:
                return "unsupp";
        case GUEST_BLK_STATUS_NONE:
                return "none";
        default:
                return "invalid";
        }
}
