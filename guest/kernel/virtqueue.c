/* SPDX-License-Identifier: MIT */
#include "kernel/kernel.h"
#include "kernel/virtqueue.h"

#define USED_ALIGN 64u
/*
 * Poll mode with EVENT_IDX: the device signals when used_event lies between the used index of its
 * last signal and the new one (2.7.10). Half the index space ahead of what was consumed is out
 * of reach until some 32768 completions pass without a signal; then one comes, and it restarts.
 */
#define USED_EVENT_FAR 0x8000u

struct vq_layout {
        uint64_t desc, avail, used, slots, indirect, total;
};

static struct vq_layout layout(uint16_t size, uint16_t indirect_max)
{
        struct vq_layout l;

        l.desc = 0;
        l.avail = VIRTQ_DESC_SIZE(size);
        l.used = ALIGN_UP(l.avail + VIRTQ_AVAIL_SIZE(size), (uint64_t)USED_ALIGN);
        l.slots = ALIGN_UP(l.used + VIRTQ_USED_SIZE(size), (uint64_t)USED_ALIGN);
        l.indirect = ALIGN_UP(l.slots + (uint64_t)size * sizeof(struct guest_vq_slot), (uint64_t)VIRTQ_DESC_ALIGN);
        l.total = l.indirect + (uint64_t)size * indirect_max * sizeof(struct virtq_desc);
        return l;
}

int guest_vq_alloc(struct guest_vq *vq, uint16_t size, uint16_t indirect_max)
{
        struct vq_layout l;

        if (size == 0 || (size & (size - 1)) || size > VIRTQ_MAX_SIZE)
                return -EINVAL;
        if (vq->mem && vq->mem_queue_size >= size && vq->indirect_max >= indirect_max)
                return 0;
        l = layout(size, indirect_max);
        vq->mem = guest_page_alloc(l.total, GUEST_PAGE_SIZE);
        if (!vq->mem)
                return -ENOMEM;
        vq->mem_size = l.total;
        vq->mem_queue_size = size;
        vq->indirect_max = indirect_max;
        return 0;
}

void guest_vq_init(struct guest_vq *vq, uint16_t index, uint16_t size, bool event_idx, bool indirect)
{
        struct vq_layout l = layout(vq->mem_queue_size, vq->indirect_max);

        memset((void *)(uintptr_t)vq->mem, 0, l.indirect);
        vq->index = index;
        vq->size = size;
        vq->event_idx = event_idx;
        vq->indirect = indirect && vq->indirect_max > 0;
        vq->callbacks = true;
        vq->broken = false;
        vq->desc = (struct virtq_desc *)(uintptr_t)(vq->mem + l.desc);
        /* Rings laid out for this size inside the space of the allocated one. */
        vq->avail = (struct virtq_avail *)(uintptr_t)(vq->mem + VIRTQ_DESC_SIZE(size));
        vq->used = (struct virtq_used *)(uintptr_t)(vq->mem +
                                                    ALIGN_UP(VIRTQ_DESC_SIZE(size) + VIRTQ_AVAIL_SIZE(size),
                                                             (uint64_t)USED_ALIGN));
        vq->used_event = &vq->avail->ring[size];
        vq->avail_event = (volatile uint16_t *)(void *)&vq->used->ring[size];
        vq->slots = (struct guest_vq_slot *)(uintptr_t)(vq->mem + l.slots);
        vq->indirect_tables = (struct virtq_desc *)(uintptr_t)(vq->mem + l.indirect);
        for (uint16_t i = 0; i < size; i++)
                vq->desc[i].next = (uint16_t)(i + 1);
        vq->free_head = 0;
        vq->num_free = size;
        vq->avail_idx = vq->kicked_idx = vq->last_used = 0;
        vq->inflight = 0;
}

uint64_t guest_vq_desc_addr(const struct guest_vq *vq)
{
        return (uint64_t)(uintptr_t)vq->desc;
}

uint64_t guest_vq_driver_addr(const struct guest_vq *vq)
{
        return (uint64_t)(uintptr_t)vq->avail;
}

uint64_t guest_vq_device_addr(const struct guest_vq *vq)
{
        return (uint64_t)(uintptr_t)vq->used;
}

static bool use_indirect(const struct guest_vq *vq, unsigned n, enum guest_vq_mode mode)
{
        if (!vq->indirect || n > vq->indirect_max || mode == GUEST_VQ_DIRECT)
                return false;
        return mode == GUEST_VQ_INDIRECT || n > 1;
}

unsigned guest_vq_descs_needed(const struct guest_vq *vq, unsigned n, enum guest_vq_mode mode)
{
        return use_indirect(vq, n, mode) ? 1 : n;
}

int guest_vq_add(struct guest_vq *vq, const struct guest_vq_sg *sg, unsigned out, unsigned in, void *cookie,
                 enum guest_vq_mode mode)
{
        unsigned n = out + in, need;
        uint16_t head = vq->free_head, i;
        bool ind;

        if (n == 0 || !cookie)
                return -EINVAL;
        ind = use_indirect(vq, n, mode);
        if (mode == GUEST_VQ_INDIRECT && !ind)
                return -EINVAL;
        if (!ind && n > vq->size)
                return -EINVAL;
        need = ind ? 1 : n;
        if (vq->num_free < need)
                return -ENOSPC;

        if (ind) {
                struct virtq_desc *t = vq->indirect_tables + (uint64_t)head * vq->indirect_max;

                for (unsigned k = 0; k < n; k++)
                        t[k] = (struct virtq_desc){
                                .addr = sg[k].addr,
                                .len = sg[k].len,
                                .flags = (uint16_t)((k >= out ? VIRTQ_DESC_F_WRITE : 0) |
                                                    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
                                .next = (uint16_t)(k + 1 < n ? k + 1 : 0),
                        };
                vq->desc[head].addr = (uint64_t)(uintptr_t)t;
                vq->desc[head].len = n * (uint32_t)sizeof(struct virtq_desc);
                vq->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
                vq->free_head = vq->desc[head].next;    /* the free-list link stays in next */
        } else {
                i = head;
                for (unsigned k = 0; k < n; k++) {
                        struct virtq_desc *d = &vq->desc[i];

                        d->addr = sg[k].addr;
                        d->len = sg[k].len;
                        d->flags = (uint16_t)((k >= out ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
                        i = d->next;
                }
                vq->free_head = i;
        }
        vq->num_free = (uint16_t)(vq->num_free - need);
        vq->slots[head] = (struct guest_vq_slot){ .cookie = cookie, .ndesc = (uint16_t)need };

        vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
        vq->avail_idx++;
        /* Descriptors and ring entry before the index the device reads. */
        __atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
        vq->inflight++;
        vq->added++;
        return 0;
}

bool guest_vq_kick_prepare(struct guest_vq *vq)
{
        uint16_t old = vq->kicked_idx, new_idx = vq->avail_idx;
        bool need;

        if (old == new_idx)
                return false;
        /* The avail index store must be visible before the device's suppression state is read. */
        guest_mb();
        vq->kicked_idx = new_idx;
        if (vq->event_idx)
                need = virtq_need_event(*vq->avail_event, new_idx, old);
        else
                need = !(__atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) & VIRTQ_USED_F_NO_NOTIFY);
        if (!need)
                vq->notifies_suppressed++;
        return need;
}

void guest_vq_notify(struct guest_vq *vq)
{
        guest_mmio_write16(vq->notify_addr, vq->index);
        vq->notifies++;
}

bool guest_vq_kick(struct guest_vq *vq)
{
        if (!guest_vq_kick_prepare(vq))
                return false;
        guest_vq_notify(vq);
        return true;
}

void *guest_vq_get_used(struct guest_vq *vq, uint32_t *ret_len)
{
        while (guest_vq_has_used(vq)) {
                struct virtq_used_elem e = vq->used->ring[vq->last_used & (vq->size - 1)];
                struct guest_vq_slot *slot;
                uint16_t i;
                void *cookie;

                vq->last_used++;
                if (vq->event_idx)
                        *vq->used_event = vq->callbacks ? vq->last_used : (uint16_t)(vq->last_used + USED_EVENT_FAR);
                if (e.id >= vq->size || !vq->slots[e.id].cookie) {
                        /* Not a chain we gave: never trust it, remember the device is broken. */
                        vq->broken = true;
                        vq->bad_used++;
                        continue;
                }
                slot = &vq->slots[e.id];
                i = (uint16_t)e.id;
                for (unsigned k = 1; k < slot->ndesc; k++)
                        i = vq->desc[i].next;
                vq->desc[i].next = vq->free_head;
                vq->free_head = (uint16_t)e.id;
                vq->num_free = (uint16_t)(vq->num_free + slot->ndesc);
                cookie = slot->cookie;
                slot->cookie = NULL;
                vq->inflight--;
                vq->completed++;
                if (ret_len)
                        *ret_len = e.len;
                return cookie;
        }
        return NULL;
}

void guest_vq_disable_cb(struct guest_vq *vq)
{
        vq->callbacks = false;
        if (vq->event_idx)
                *vq->used_event = (uint16_t)(vq->last_used + USED_EVENT_FAR);
        else
                vq->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
}

bool guest_vq_enable_cb(struct guest_vq *vq, uint16_t batch)
{
        vq->callbacks = true;
        if (vq->event_idx) {
                uint16_t b = MIN(batch, vq->inflight);

                *vq->used_event = (uint16_t)(vq->last_used + (b ? b - 1 : 0));
        } else {
                vq->avail->flags = 0;
        }
        /* The event index store before the used index load. */
        guest_mb();
        return !guest_vq_has_used(vq);
}
