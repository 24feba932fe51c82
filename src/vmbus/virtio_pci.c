/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci, modern. The transport owns the device status state machine, feature
 * negotiation and the driver's queue setup; at DRIVER_OK it validates every queue
 * (virtq_init) and hands the device ready queues, their doorbell eventfds and a
 * virtio_irq. Doorbells are ioeventfds on per-queue addresses, so a kick never exits to
 * userspace; a write the ioeventfd does not catch (other width, no KVM) lands in
 * vp_notify_access() and signals the same eventfd. Interrupts go through MSI-X.
 *
 * Locking: vp->lock serialises the driver's register accesses (vCPU threads). Device I/O
 * threads touch only atomics here (isr, needs_reset, vectors, generation) and MSI-X.
 */
#include <endian.h>
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <abi/virtio.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/virtio_dev.h"
#include "vmms/vdev.h"
#include "vmms/virtqueue.h"
#include "vmms/vmstate.h"
#include "pci.h"
#include "virtio_pci.h"

struct vp_queue {
        uint16_t size;
        uint16_t vector;                /* atomic: read by I/O threads */
        bool enabled;
        uint64_t desc, avail, used;
        int kick_fd;
        bool ioeventfd;                 /* registered at ioeventfd_addr */
        uint64_t ioeventfd_addr;
        struct virtq vq;
};

struct virtio_pci {
        struct pci_func *pci;
        struct vmhost host;
        const struct virtio_dev_info *info;
        const struct virtio_dev_ops *ops;
        void *dev;
        struct virtio_irq irq;
        uint64_t features;              /* offered */
        uint8_t cfg_cap;                /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */

        pthread_mutex_t lock;
        uint32_t dfselect, gfselect;
        uint64_t driver_features;
        uint8_t status;
        bool active;
        bool paused;                    /* the device was paused while active */
        uint16_t queue_select;
        uint16_t config_vector;         /* atomic */
        uint8_t isr;                    /* atomic */
        uint8_t generation;             /* atomic */
        bool needs_reset;               /* atomic */
        unsigned nq;
        struct vp_queue *queues;
        struct virtio_dev_queue *dev_queues;
        struct ratelimit rl;            /* driver mistakes, under lock */
};

/* Messages a guest can trigger: debug level, rate-limited while shown. */
static bool vp_log_ok(struct virtio_pci *vp)
{
        return log_get_max_level() >= LOG_DEBUG && ratelimit_below(&vp->rl);
}

static void vp_signal(struct virtio_pci *vp, uint16_t vector, uint8_t isr_bit)
{
        if (vector == VIRTIO_MSI_NO_VECTOR || pci_msix_notify(vp->pci, vector) <= 0)
                __atomic_fetch_or(&vp->isr, isr_bit, __ATOMIC_SEQ_CST);
}

static void vp_irq_queue(void *opaque, unsigned q)
{
        struct virtio_pci *vp = opaque;

        if (q < vp->nq)
                vp_signal(vp, __atomic_load_n(&vp->queues[q].vector, __ATOMIC_RELAXED),
                          VIRTIO_PCI_ISR_QUEUE);
}

static void vp_irq_config_changed(void *opaque)
{
        struct virtio_pci *vp = opaque;

        __atomic_fetch_add(&vp->generation, 1, __ATOMIC_SEQ_CST);
        __atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_SEQ_CST);
        vp_signal(vp, __atomic_load_n(&vp->config_vector, __ATOMIC_RELAXED), VIRTIO_PCI_ISR_CONFIG);
}

static void vp_irq_needs_reset(void *opaque)
{
        struct virtio_pci *vp = opaque;

        if (__atomic_exchange_n(&vp->needs_reset, true, __ATOMIC_SEQ_CST))
                return;
        __atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_SEQ_CST);
        vp_signal(vp, __atomic_load_n(&vp->config_vector, __ATOMIC_RELAXED), VIRTIO_PCI_ISR_CONFIG);
}

static uint16_t vp_vector(struct virtio_pci *vp, uint16_t v)
{
        return v < pci_msix_nvec(vp->pci) ? v : VIRTIO_MSI_NO_VECTOR;
}

/* Device reset: stop the device, forget everything the driver set up. */
static void vp_reset_locked(struct virtio_pci *vp)
{
        assert_held(&vp->lock);
        if (vp->active) {
                vp->ops->reset(vp->dev);
                vp->active = false;
        }
        vp->paused = false;
        vp->status = 0;
        vp->dfselect = vp->gfselect = 0;
        vp->driver_features = 0;
        vp->queue_select = 0;
        __atomic_store_n(&vp->config_vector, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
        __atomic_store_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&vp->needs_reset, false, __ATOMIC_SEQ_CST);
        for (unsigned i = 0; i < vp->nq; i++) {
                struct vp_queue *q = &vp->queues[i];
                eventfd_t drop;

                q->size = vp->info->queue_max_size;
                __atomic_store_n(&q->vector, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
                q->enabled = false;
                q->desc = q->avail = q->used = 0;
                (void)eventfd_read(q->kick_fd, &drop);  /* stale doorbells */
                vp->dev_queues[i] = (struct virtio_dev_queue) { .vq = NULL, .kick_fd = q->kick_fd };
        }
}

void virtio_pci_reset(struct virtio_pci *vp)
{
        pthread_mutex_lock(&vp->lock);
        vp_reset_locked(vp);
        pthread_mutex_unlock(&vp->lock);
}

void virtio_pci_pause(struct virtio_pci *vp, bool pause)
{
        pthread_mutex_lock(&vp->lock);
        if (pause && vp->active && !vp->paused && vp->ops->pause) {
                vp->ops->pause(vp->dev);
                vp->paused = true;
        } else if (!pause && vp->paused) {
                vp->ops->resume(vp->dev);
                vp->paused = false;
        }
        pthread_mutex_unlock(&vp->lock);
}

static bool vp_features_ok(struct virtio_pci *vp)
{
        uint64_t f = vp->driver_features;

        if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)) || (f & ~vp->features))
                return false;
        return !vp->ops->validate_features || vp->ops->validate_features(vp->dev, f) >= 0;
}

struct vq_saved {
        uint16_t last_avail, used_idx, signalled_used;
        uint8_t signalled_used_valid, pad;
};

/* DRIVER_OK, or a restore (saved: each queue's indices as they were). */
static int vp_activate_locked(struct virtio_pci *vp, const struct vq_saved *saved)
{
        struct virtio_activation a = {
                .features = vp->driver_features,
                .n_queues = vp->nq,
                .queues = vp->dev_queues,
                .irq = &vp->irq,
        };

        for (unsigned i = 0; i < vp->nq; i++) {
                struct vp_queue *q = &vp->queues[i];
                int r;

                vp->dev_queues[i] = (struct virtio_dev_queue) { .vq = NULL, .kick_fd = q->kick_fd };
                if (!q->enabled)
                        continue;
                if (q->size > vp->info->queue_max_size)
                        return -EINVAL;
                r = virtq_init(&q->vq, vp->host.mem, (uint16_t)i, q->size, q->desc, q->avail,
                               q->used, vp->driver_features);
                if (r < 0) {
                        if (vp_log_ok(vp))
                                log_debug_errno(r, "virtio-%s: queue %u set up wrong: %m", vp->info->name, i);
                        return r;
                }
                if (saved) {
                        q->vq.last_avail = saved[i].last_avail;
                        q->vq.used_idx = saved[i].used_idx;
                        q->vq.signalled_used = saved[i].signalled_used;
                        q->vq.signalled_used_valid = saved[i].signalled_used_valid;
                        /* Nothing loaded yet: the next pop reads the ring's index. */
                        q->vq.avail_idx = saved[i].last_avail;
                }
                vp->dev_queues[i].vq = &q->vq;
        }
        return vp->ops->activate(vp->dev, &a);
}

static void vp_status_write(struct virtio_pci *vp, uint8_t v)
{
        uint8_t s;

        if (v == 0) {
                vp_reset_locked(vp);
                return;
        }
        /* The driver never clears bits (only a reset does) and never sets NEEDS_RESET. */
        s = (uint8_t)((vp->status | v) & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        if ((s & VIRTIO_STATUS_FEATURES_OK) && !(vp->status & VIRTIO_STATUS_FEATURES_OK) &&
            !vp_features_ok(vp))
                s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;      /* the driver reads it back */
        if ((s & VIRTIO_STATUS_DRIVER_OK) && !(vp->status & VIRTIO_STATUS_DRIVER_OK)) {
                int r = -EPROTO;

                if (s & VIRTIO_STATUS_FEATURES_OK)
                        r = vp_activate_locked(vp, NULL);
                if (r < 0) {
                        if (vp_log_ok(vp))
                                log_debug_errno(r, "virtio-%s: DRIVER_OK refused: %m", vp->info->name);
                        s &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
                        vp_irq_needs_reset(vp);
                } else {
                        vp->active = true;
                }
        }
        vp->status = s;
}

static void vp_common_read(struct virtio_pci *vp, uint64_t off, void *data, unsigned len)
{
        struct virtio_pci_common_cfg c = { 0 };
        uint8_t st;

        pthread_mutex_lock(&vp->lock);
        c.device_feature_select = htole32(vp->dfselect);
        c.device_feature = htole32(vp->dfselect < 2 ? (uint32_t)(vp->features >> (32 * vp->dfselect)) : 0);
        c.driver_feature_select = htole32(vp->gfselect);
        c.driver_feature = htole32(vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0);
        c.config_msix_vector = htole16(__atomic_load_n(&vp->config_vector, __ATOMIC_RELAXED));
        c.num_queues = htole16((uint16_t)vp->nq);
        st = vp->status;
        if (__atomic_load_n(&vp->needs_reset, __ATOMIC_SEQ_CST))
                st |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
        c.device_status = st;
        c.config_generation = __atomic_load_n(&vp->generation, __ATOMIC_SEQ_CST);
        c.queue_select = htole16(vp->queue_select);
        if (vp->queue_select < vp->nq) {
                struct vp_queue *q = &vp->queues[vp->queue_select];

                c.queue_size = htole16(q->size);
                c.queue_msix_vector = htole16(__atomic_load_n(&q->vector, __ATOMIC_RELAXED));
                c.queue_enable = htole16(q->enabled);
                c.queue_notify_off = htole16(vp->queue_select);
                c.queue_desc = htole64(q->desc);
                c.queue_driver = htole64(q->avail);
                c.queue_device = htole64(q->used);
        }
        pthread_mutex_unlock(&vp->lock);
        if (off + len <= VIRTIO_PCI_COMMON_CFG_SIZE)
                memcpy(data, (uint8_t *)&c + off, len);
        else
                memset(data, 0, len);
}

/* Set the 32-bit half `hi` of *p. */
static void set_half(uint64_t *p, bool hi, uint32_t v)
{
        *p = hi ? (*p & 0xffffffffull) | (uint64_t)v << 32 : (*p & ~0xffffffffull) | v;
}

static void vp_common_write(struct virtio_pci *vp, uint64_t off, const void *data, unsigned len)
{
        uint64_t v = 0;
        struct vp_queue *q;
        bool q_writable;

        memcpy(&v, data, len);
        v = le64toh(v);
        pthread_mutex_lock(&vp->lock);
        q = vp->queue_select < vp->nq ? &vp->queues[vp->queue_select] : NULL;
        /* Queue setup is frozen once the queue is enabled or the device runs. */
        q_writable = q && !q->enabled && !(vp->status & VIRTIO_STATUS_DRIVER_OK);

        switch (off | (uint64_t)len << 16) {
        case VIRTIO_PCI_COMMON_DFSELECT | 4u << 16:
                vp->dfselect = (uint32_t)v;
                break;
        case VIRTIO_PCI_COMMON_GFSELECT | 4u << 16:
                vp->gfselect = (uint32_t)v;
                break;
        case VIRTIO_PCI_COMMON_GF | 4u << 16:
                if (vp->gfselect < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK))
                        set_half(&vp->driver_features, vp->gfselect == 1, (uint32_t)v);
                break;
        case VIRTIO_PCI_COMMON_MSIX | 2u << 16:
                __atomic_store_n(&vp->config_vector, vp_vector(vp, (uint16_t)v), __ATOMIC_RELAXED);
                break;
        case VIRTIO_PCI_COMMON_STATUS | 1u << 16:
                vp_status_write(vp, (uint8_t)v);
                break;
        case VIRTIO_PCI_COMMON_Q_SELECT | 2u << 16:
                vp->queue_select = (uint16_t)v;
                break;
        case VIRTIO_PCI_COMMON_Q_SIZE | 2u << 16:
                if (q_writable)
                        q->size = (uint16_t)v;
                break;
        case VIRTIO_PCI_COMMON_Q_MSIX | 2u << 16:
                if (q)
                        __atomic_store_n(&q->vector, vp_vector(vp, (uint16_t)v), __ATOMIC_RELAXED);
                break;
        case VIRTIO_PCI_COMMON_Q_ENABLE | 2u << 16:
                if (q_writable && v == 1)
                        q->enabled = true;
                break;
        case VIRTIO_PCI_COMMON_Q_DESCLO | 4u << 16:
        case VIRTIO_PCI_COMMON_Q_DESCHI | 4u << 16:
                if (q_writable)
                        set_half(&q->desc, off == VIRTIO_PCI_COMMON_Q_DESCHI, (uint32_t)v);
                break;
        case VIRTIO_PCI_COMMON_Q_AVAILLO | 4u << 16:
        case VIRTIO_PCI_COMMON_Q_AVAILHI | 4u << 16:
                if (q_writable)
                        set_half(&q->avail, off == VIRTIO_PCI_COMMON_Q_AVAILHI, (uint32_t)v);
                break;
        case VIRTIO_PCI_COMMON_Q_USEDLO | 4u << 16:
        case VIRTIO_PCI_COMMON_Q_USEDHI | 4u << 16:
                if (q_writable)
                        set_half(&q->used, off == VIRTIO_PCI_COMMON_Q_USEDHI, (uint32_t)v);
                break;
        case VIRTIO_PCI_COMMON_Q_DESCLO | 8u << 16:
                if (q_writable)
                        q->desc = v;
                break;
        case VIRTIO_PCI_COMMON_Q_AVAILLO | 8u << 16:
                if (q_writable)
                        q->avail = v;
                break;
        case VIRTIO_PCI_COMMON_Q_USEDLO | 8u << 16:
                if (q_writable)
                        q->used = v;
                break;
        default:
                break;          /* read-only fields and wrong widths are ignored */
        }
        pthread_mutex_unlock(&vp->lock);
}

static int vp_bar_access(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
        struct virtio_pci *vp = opaque;

        if (off < VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_LEN) {
                if (is_write)
                        vp_common_write(vp, off, data, len);
                else
                        vp_common_read(vp, off, data, len);
        } else if (off >= VIRTIO_PCI_ISR_OFF && off < VIRTIO_PCI_ISR_OFF + VIRTIO_PCI_ISR_LEN) {
                if (!is_write) {
                        memset(data, 0, len);
                        if (off == VIRTIO_PCI_ISR_OFF)  /* reading clears */
                                *(uint8_t *)data = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
                }
        } else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_DEVICE_OFF + VIRTIO_PCI_DEVICE_MAX) {
                uint32_t o = (uint32_t)(off - VIRTIO_PCI_DEVICE_OFF);

                if (o + len > vp->info->config_size) {
                        if (!is_write)
                                memset(data, 0, len);
                } else if (is_write) {
                        if (vp->ops->write_config)
                                vp->ops->write_config(vp->dev, o, data, len);
                } else {
                        vp->ops->read_config(vp->dev, o, data, len);
                }
        } else if (off >= VIRTIO_PCI_NOTIFY_OFF && off < VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * vp->nq) {
                /* A doorbell the ioeventfd did not catch. */
                uint64_t qi = (off - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;

                if (is_write)
                        (void)eventfd_write(vp->queues[qi].kick_fd, 1);
                else
                        memset(data, 0, len);
        } else if (!is_write) {
                memset(data, 0, len);
        }
        return 0;
}

/* The BAR moved: move the doorbell ioeventfds with it. Called under the bus lock. */
static void vp_bar_mapped(void *opaque, unsigned bar, uint64_t addr, bool mapped)
{
        struct virtio_pci *vp = opaque;
        const struct vmhost_ops *ops = vp->host.ops;

        if (bar != VIRTIO_PCI_BAR || !ops || !ops->ioeventfd)
                return;
        for (unsigned i = 0; i < vp->nq; i++) {
                struct vp_queue *q = &vp->queues[i];
                uint64_t a = addr + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * i;
                int r;

                if (q->ioeventfd) {
                        (void)ops->ioeventfd(vp->host.opaque, q->ioeventfd_addr, 2, q->kick_fd, false);
                        q->ioeventfd = false;
                }
                if (!mapped)
                        continue;
                r = ops->ioeventfd(vp->host.opaque, a, 2, q->kick_fd, true);
                if (r < 0) {
                        log_debug_errno(r, "virtio-%s: no ioeventfd for queue %u: %m", vp->info->name, i);
                        continue;
                }
                q->ioeventfd = true;
                q->ioeventfd_addr = a;
        }
}

/* The VIRTIO_PCI_CAP_PCI_CFG window: pci_cfg_data accesses the BAR at cap.offset. */
static void vp_cfg_window(struct virtio_pci *vp, struct pci_func *f, uint32_t off, uint32_t len,
                          bool is_write)
{
        uint8_t *cfg = pci_func_config(f), *c = cfg + vp->cfg_cap;
        uint32_t boff, blen;

        if (!vp->cfg_cap || !(off < vp->cfg_cap + 20u && vp->cfg_cap + 16u < off + len))
                return;
        memcpy(&boff, c + offsetof(struct virtio_pci_cap, offset), 4);
        memcpy(&blen, c + offsetof(struct virtio_pci_cap, length), 4);
        boff = le32toh(boff);
        blen = le32toh(blen);
        if (c[offsetof(struct virtio_pci_cap, bar)] != VIRTIO_PCI_BAR ||
            (blen != 1 && blen != 2 && blen != 4) || !IS_ALIGNED(boff, blen) ||
            boff >= VIRTIO_PCI_MSIX_TABLE_OFF)
                return;
        vp_bar_access(vp, boff, c + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), blen, is_write);
}

static void vp_cfg_read(void *opaque, struct pci_func *f, uint32_t off, uint32_t len)
{
        vp_cfg_window(opaque, f, off, len, false);
}

static void vp_cfg_write(void *opaque, struct pci_func *f, uint32_t off, uint32_t len)
{
        vp_cfg_window(opaque, f, off, len, true);
}

static const struct pci_func_ops vp_pci_ops = {
        .cfg_read = vp_cfg_read,
        .cfg_write = vp_cfg_write,
        .bar_mapped = vp_bar_mapped,
};

static int vp_add_cap(struct virtio_pci *vp, uint8_t type, uint32_t off, uint32_t len)
{
        struct virtio_pci_cap cap = {
                .cap_vndr = PCI_CAP_ID_VNDR, .cap_len = sizeof(cap), .cfg_type = type,
                .bar = VIRTIO_PCI_BAR, .offset = htole32(off), .length = htole32(len),
        };

        return pci_func_add_cap(vp->pci, &cap, sizeof(cap), NULL);
}

static int vp_add_caps(struct virtio_pci *vp)
{
        struct virtio_pci_notify_cap ncap = {
                .cap = {
                        .cap_vndr = PCI_CAP_ID_VNDR, .cap_len = sizeof(ncap),
                        .cfg_type = VIRTIO_PCI_CAP_NOTIFY_CFG, .bar = VIRTIO_PCI_BAR,
                        .offset = htole32(VIRTIO_PCI_NOTIFY_OFF),
                        .length = htole32(VIRTIO_PCI_NOTIFY_MULT * vp->nq),
                },
                .notify_off_multiplier = htole32(VIRTIO_PCI_NOTIFY_MULT),
        };
        struct virtio_pci_cfg_cap ccap = {
                .cap = {
                        .cap_vndr = PCI_CAP_ID_VNDR, .cap_len = sizeof(ccap),
                        .cfg_type = VIRTIO_PCI_CAP_PCI_CFG,
                },
        };
        uint8_t cmask[sizeof(ccap)] = { 0 };
        int r;

        r = vp_add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN);
        if (r < 0)
                return r;
        r = pci_func_add_cap(vp->pci, &ncap, sizeof(ncap), NULL);
        if (r < 0)
                return r;
        r = vp_add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, VIRTIO_PCI_ISR_LEN);
        if (r < 0)
                return r;
        if (vp->info->config_size > 0) {
                r = vp_add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, vp->info->config_size);
                if (r < 0)
                        return r;
        }
        /* bar, offset, length and the data window are the driver's to write. */
        memset(cmask + offsetof(struct virtio_pci_cap, bar), 0xff, 1);
        memset(cmask + offsetof(struct virtio_pci_cap, offset), 0xff, 8);
        memset(cmask + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 0xff, 4);
        r = pci_func_add_cap(vp->pci, &ccap, sizeof(ccap), cmask);
        if (r < 0)
                return r;
        vp->cfg_cap = (uint8_t)r;
        return pci_func_add_msix(vp->pci, vp->nq + 1, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE_OFF,
                                 VIRTIO_PCI_MSIX_PBA_OFF);
}

void virtio_pci_free(struct virtio_pci *vp)
{
        if (!vp)
                return;
        if (vp->queues) {
                virtio_pci_reset(vp);
                pci_func_free(vp->pci);         /* unmaps the BAR: ioeventfds go */
                for (unsigned i = 0; i < vp->nq; i++)
                        safe_close(vp->queues[i].kick_fd);
        }
        if (vp->dev && vp->ops->free)
                vp->ops->free(vp->dev);
        free(vp->queues);
        free(vp->dev_queues);
        pthread_mutex_destroy(&vp->lock);
        free(vp);
}

int virtio_pci_new(struct pci_bus *bus, const struct vmhost *host,
                   const struct virtio_dev_info *info, const struct virtio_dev_ops *ops,
                   void *dev, struct virtio_pci **ret)
{
        struct virtio_pci *vp;
        int r;

        if (!info->num_queues || info->num_queues > VIRTIO_PCI_MAX_QUEUES ||
            !info->queue_max_size || (info->queue_max_size & (info->queue_max_size - 1)) ||
            info->queue_max_size > VIRTQ_MAX_SIZE || info->config_size > VIRTIO_PCI_DEVICE_MAX ||
            !ops->activate || !ops->reset || !ops->read_config || !host->mem)
                return -EINVAL;
        vp = calloc(1, sizeof(*vp));
        if (!vp)
                return -ENOMEM;
        vp->host = *host;
        vp->info = info;
        vp->ops = ops;
        vp->features = info->features | VIRTIO_BIT(VIRTIO_F_VERSION_1);
        vp->nq = info->num_queues;
        vp->rl = (struct ratelimit) RATELIMIT_INIT(1000000, 5);
        vp->irq = (struct virtio_irq) {
                .queue = vp_irq_queue,
                .needs_reset = vp_irq_needs_reset,
                .config_changed = vp_irq_config_changed,
                .opaque = vp,
        };
        pthread_mutex_init(&vp->lock, NULL);
        vp->queues = calloc(vp->nq, sizeof(*vp->queues));
        vp->dev_queues = calloc(vp->nq, sizeof(*vp->dev_queues));
        if (!vp->queues || !vp->dev_queues) {
                free(vp->queues);
                vp->queues = NULL;
                virtio_pci_free(vp);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < vp->nq; i++)
                vp->queues[i].kick_fd = -1;
        for (unsigned i = 0; i < vp->nq; i++) {
                vp->queues[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (vp->queues[i].kick_fd < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        r = pci_func_new(bus, VIRTIO_PCI_VENDOR_ID, (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + info->type),
                         info->pci_class, VIRTIO_PCI_REVISION, VIRTIO_PCI_VENDOR_ID,
                         VIRTIO_PCI_SUBSYSTEM_ID, &vp_pci_ops, vp, &vp->pci);
        if (r < 0)
                goto fail;
        r = vp_add_caps(vp);
        if (r < 0)
                goto fail;
        r = pci_func_add_bar(vp->pci, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, PCI_BAR_F_64BIT,
                             vp_bar_access, vp);
        if (r < 0)
                goto fail;
        virtio_pci_reset(vp);   /* nobody else sees vp yet, but the rule is the rule */
        vp->dev = dev;
        *ret = vp;
        return 0;
fail:
        pci_func_free(vp->pci);
        for (unsigned i = 0; i < vp->nq; i++)
                safe_close(vp->queues[i].kick_fd);
        free(vp->queues);
        vp->queues = NULL;
        virtio_pci_free(vp);
        return r;
}

struct pci_func *virtio_pci_func(struct virtio_pci *vp)
{
        return vp->pci;
}

#define VP_STATE_VERSION 1u

struct vp_state_queue {
        uint64_t desc, avail, used;
        uint16_t size, vector;
        uint8_t enabled, pad[3];
        struct vq_saved idx;
};

struct vp_state {
        uint64_t driver_features;
        uint32_t dfselect, gfselect;
        uint16_t queue_select, config_vector, nq;
        uint8_t status, isr, generation, needs_reset, active, pad;
};

int virtio_pci_save(struct virtio_pci *vp, struct vmstate_writer *w, char *err, size_t err_len)
{
        size_t len = sizeof(struct vp_state) + vp->nq * sizeof(struct vp_state_queue);
        _cleanup_free_ uint8_t *buf = calloc(1, len);
        struct vp_state *s = (struct vp_state *)(void *)buf;
        struct vp_state_queue *sq = (struct vp_state_queue *)(void *)(buf + sizeof(*s));
        char name[32];
        int r;

        if (!buf)
                return -ENOMEM;
        pthread_mutex_lock(&vp->lock);
        if (vp->active && (!vp->ops->save || (vp->ops->pause && !vp->paused))) {
                pthread_mutex_unlock(&vp->lock);
                snprintf(err, err_len, "virtio-%s (PCI %02x%s) %s", vp->info->name, pci_func_devfn(vp->pci),
                         vp->info->type == VIRTIO_ID_CONSOLE ? ", the integration services" : "",
                         vp->ops->save ? "is not paused" : "cannot be saved yet");
                return vp->ops->save ? -EBUSY : -EOPNOTSUPP;
        }
        snprintf(name, sizeof(name), "virtio.%02x", pci_func_devfn(vp->pci));
        /* The device first: it may give buffers it held back to the rings (their indices
         * are then saved as it left them). */
        r = vp->active ? vp->ops->save(vp->dev, w, name) : 0;
        if (r < 0) {
                pthread_mutex_unlock(&vp->lock);
                return r;
        }
        *s = (struct vp_state) {
                .driver_features = vp->driver_features, .dfselect = vp->dfselect, .gfselect = vp->gfselect,
                .queue_select = vp->queue_select, .config_vector = __atomic_load_n(&vp->config_vector, __ATOMIC_RELAXED),
                .nq = (uint16_t)vp->nq, .status = vp->status, .isr = __atomic_load_n(&vp->isr, __ATOMIC_SEQ_CST),
                .generation = __atomic_load_n(&vp->generation, __ATOMIC_SEQ_CST),
                .needs_reset = __atomic_load_n(&vp->needs_reset, __ATOMIC_SEQ_CST), .active = vp->active,
        };
        for (unsigned i = 0; i < vp->nq; i++) {
                const struct vp_queue *q = &vp->queues[i];

                sq[i] = (struct vp_state_queue) {
                        .desc = q->desc, .avail = q->avail, .used = q->used, .size = q->size,
                        .vector = __atomic_load_n(&q->vector, __ATOMIC_RELAXED), .enabled = q->enabled,
                };
                if (vp->active && q->enabled)
                        sq[i].idx = (struct vq_saved) {
                                .last_avail = q->vq.last_avail, .used_idx = q->vq.used_idx,
                                .signalled_used = q->vq.signalled_used,
                                .signalled_used_valid = q->vq.signalled_used_valid,
                        };
        }
        r = vmstate_put(w, name, VP_STATE_VERSION, buf, len);
        pthread_mutex_unlock(&vp->lock);
        if (r >= 0)
                r = pci_func_save(vp->pci, w);
        return r;
}

int virtio_pci_load(struct virtio_pci *vp, struct vmstate *st, char *err, size_t err_len)
{
        size_t len = sizeof(struct vp_state) + vp->nq * sizeof(struct vp_state_queue);
        _cleanup_free_ uint8_t *buf = malloc(len);
        _cleanup_free_ struct vq_saved *idx = calloc(MAX(vp->nq, 1u), sizeof(*idx));
        const struct vp_state *s = (const struct vp_state *)(void *)buf;
        const struct vp_state_queue *sq = (const struct vp_state_queue *)(const void *)(buf + sizeof(*s));
        char name[32];
        int r;

        if (!buf || !idx)
                return -ENOMEM;
        snprintf(name, sizeof(name), "virtio.%02x", pci_func_devfn(vp->pci));
        /* The function first: BARs (doorbells) and MSI-X routes in place. */
        r = pci_func_load(vp->pci, st, err, err_len);
        if (r < 0)
                return r;
        r = vdev_state_get(st, name, VP_STATE_VERSION, buf, len, err, err_len);
        if (r < 0)
                return r;
        if (s->nq != vp->nq || (s->driver_features & ~vp->features)) {
                snprintf(err, err_len, "section %s: a different device (queues or features)", name);
                return -EINVAL;
        }
        for (unsigned i = 0; i < vp->nq; i++)
                if (sq[i].size == 0 || sq[i].size > vp->info->queue_max_size || (sq[i].size & (sq[i].size - 1))) {
                        snprintf(err, err_len, "section %s: queue %u has size %u", name, i, sq[i].size);
                        return -EINVAL;
                }
        pthread_mutex_lock(&vp->lock);
        vp_reset_locked(vp);
        vp->driver_features = s->driver_features;
        vp->dfselect = s->dfselect;
        vp->gfselect = s->gfselect;
        vp->queue_select = s->queue_select;
        __atomic_store_n(&vp->config_vector, vp_vector(vp, s->config_vector), __ATOMIC_RELAXED);
        __atomic_store_n(&vp->isr, s->isr, __ATOMIC_SEQ_CST);
        __atomic_store_n(&vp->generation, s->generation, __ATOMIC_SEQ_CST);
        __atomic_store_n(&vp->needs_reset, s->needs_reset != 0, __ATOMIC_SEQ_CST);
        for (unsigned i = 0; i < vp->nq; i++) {
                struct vp_queue *q = &vp->queues[i];

                q->size = sq[i].size;
                __atomic_store_n(&q->vector, vp_vector(vp, sq[i].vector), __ATOMIC_RELAXED);
                q->enabled = sq[i].enabled != 0;
                q->desc = sq[i].desc;
                q->avail = sq[i].avail;
                q->used = sq[i].used;
                idx[i] = sq[i].idx;
        }
        vp->status = s->status;
        r = 0;
        if (s->active) {
                if (vp->ops->load)
                        r = vp->ops->load(vp->dev, st, name, err, err_len);
                if (r >= 0)
                        r = vp_activate_locked(vp, idx);
                if (r >= 0)
                        vp->active = true;
                else if (!err[0])
                        snprintf(err, err_len, "virtio-%s (PCI %02x): cannot go on with the saved queues: %s",
                                 vp->info->name, pci_func_devfn(vp->pci), strerror(-r));
        }
        pthread_mutex_unlock(&vp->lock);
        return r < 0 ? -EINVAL : 0;
}
