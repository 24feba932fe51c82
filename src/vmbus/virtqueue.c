/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues, device side. The driver shares the three areas with us and may write
 * them at any moment from another vCPU: indices are loaded with one atomic load (acquire
 * where it orders later reads), descriptors are copied to the stack behind a compiler
 * barrier and only the copy is checked and used, and no guest value is ever used as an
 * index or address before it is checked.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vmms/gmem.h"
#include "vmms/macro.h"
#include "vmms/virtqueue.h"

static inline uint16_t vq_load16(const void *p)
{
        return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static inline uint16_t vq_load16_acquire(const void *p)
{
        return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static inline void vq_store16(void *p, uint16_t v)
{
        __atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static inline void vq_store16_release(void *p, uint16_t v)
{
        __atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

static inline void vq_store32(void *p, uint32_t v)
{
        __atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* Snapshot one descriptor: after the barrier the compiler cannot re-read guest memory. */
static inline void vq_read_desc(const uint8_t *p, struct virtq_desc *d)
{
        memcpy(d, p, sizeof(*d));
        __asm__ __volatile__("" ::: "memory");
        d->addr = le64toh(d->addr);
        d->len = le32toh(d->len);
        d->flags = le16toh(d->flags);
        d->next = le16toh(d->next);
}

static int vq_fail(struct virtq *vq, int r, const char *why)
{
        vq->broken = true;
        vq->error = why;
        return r;
}

int virtq_init(struct virtq *vq, const struct gmem *mem, uint16_t index, uint16_t size,
               uint64_t desc, uint64_t avail, uint64_t used, uint64_t features)
{
        const uint8_t *d;
        uint8_t *a, *u;

        if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)) != 0)
                return -EINVAL;
        if (!IS_ALIGNED(desc, VIRTQ_DESC_ALIGN) || !IS_ALIGNED(avail, VIRTQ_AVAIL_ALIGN) ||
            !IS_ALIGNED(used, VIRTQ_USED_ALIGN))
                return -EINVAL;
        d = gmem_translate(mem, desc, VIRTQ_DESC_SIZE(size));
        a = gmem_translate(mem, avail, VIRTQ_AVAIL_SIZE(size));
        u = gmem_translate(mem, used, VIRTQ_USED_SIZE(size));
        if (!d || !a || !u)
                return -EFAULT;
        /* Host views must be as aligned as the guest addresses (atomics on them). */
        if (!IS_ALIGNED((uintptr_t)a, VIRTQ_AVAIL_ALIGN) || !IS_ALIGNED((uintptr_t)u, VIRTQ_USED_ALIGN))
                return -EINVAL;

        *vq = (struct virtq) {
                .mem = mem,
                .size = size,
                .index = index,
                .event_idx = features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX),
                .indirect = features & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC),
                .desc_gpa = desc, .avail_gpa = avail, .used_gpa = used,
                .desc = d, .avail = a, .used = u,
        };
        return 0;
}

bool virtq_has_avail(struct virtq *vq)
{
        if (vq->broken)
                return false;
        if (vq->last_avail != vq->avail_idx)
                return true;
        return vq_load16_acquire(vq->avail + offsetof(struct virtq_avail, idx)) != vq->last_avail;
}

int virtq_pop(struct virtq *vq, struct iovec *iov, unsigned cap, struct virtq_elem *ret)
{
        const uint8_t *table = vq->desc;
        unsigned table_n = vq->size, count = 0, n = 0, n_out = 0;
        uint64_t out_len = 0, in_len = 0;
        bool in_indirect = false, seen_write = false;
        uint16_t head, i;

        if (vq->broken)
                return -EIO;
        if (vq->last_avail == vq->avail_idx) {
                uint16_t idx = vq_load16_acquire(vq->avail + offsetof(struct virtq_avail, idx));

                if ((uint16_t)(idx - vq->last_avail) > vq->size)
                        return vq_fail(vq, -EOVERFLOW, "available index ran ahead of the ring");
                vq->avail_idx = idx;
                if (idx == vq->last_avail)
                        return 0;
        }

        head = vq_load16(vq->avail + offsetof(struct virtq_avail, ring) +
                         2u * (vq->last_avail & (vq->size - 1)));
        if (head >= vq->size)
                return vq_fail(vq, -EINVAL, "head index out of range");

        for (i = head;;) {
                struct virtq_desc d;

                if (++count > table_n)
                        return vq_fail(vq, -ELOOP, "descriptor chain loops or is longer than its table");
                vq_read_desc(table + (size_t)i * sizeof(struct virtq_desc), &d);

                if (d.flags & VIRTQ_DESC_F_INDIRECT) {
                        if (!vq->indirect)
                                return vq_fail(vq, -EINVAL, "indirect descriptor not negotiated");
                        if (in_indirect)
                                return vq_fail(vq, -EINVAL, "indirect descriptor inside an indirect table");
                        if (d.flags & VIRTQ_DESC_F_NEXT)
                                return vq_fail(vq, -EINVAL, "indirect descriptor with NEXT set");
                        if (d.len == 0 || d.len % sizeof(struct virtq_desc) != 0 ||
                            d.len / sizeof(struct virtq_desc) > vq->size)
                                return vq_fail(vq, -EINVAL, "bad indirect table length");
                        table = gmem_translate(vq->mem, d.addr, d.len);
                        if (!table)
                                return vq_fail(vq, -EFAULT, "indirect table outside guest RAM");
                        table_n = d.len / sizeof(struct virtq_desc);
                        in_indirect = true;
                        count = 0;
                        i = 0;
                        continue;
                }

                if (d.flags & VIRTQ_DESC_F_WRITE)
                        seen_write = true;
                else if (seen_write)
                        return vq_fail(vq, -EBADMSG, "device-readable descriptor after a device-writable one");

                if (d.len > 0) {
                        void *p = gmem_translate(vq->mem, d.addr, d.len);

                        if (!p)
                                return vq_fail(vq, -EFAULT, "buffer outside guest RAM");
                        if (n == cap)
                                return vq_fail(vq, -E2BIG, "chain has more segments than the device accepts");
                        iov[n].iov_base = p;
                        iov[n].iov_len = d.len;
                        n++;
                        if (d.flags & VIRTQ_DESC_F_WRITE)
                                in_len += d.len;
                        else {
                                out_len += d.len;
                                n_out++;
                        }
                }

                if (!(d.flags & VIRTQ_DESC_F_NEXT))
                        break;
                if (d.next >= table_n)
                        return vq_fail(vq, -EINVAL, "next index out of range");
                i = d.next;
        }

        vq->last_avail++;
        *ret = (struct virtq_elem) {
                .head = head,
                .n_out = (uint16_t)n_out,
                .n_in = (uint16_t)(n - n_out),
                .out_len = out_len,
                .in_len = in_len,
        };
        return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
        uint8_t *e = vq->used + offsetof(struct virtq_used, ring) +
                     sizeof(struct virtq_used_elem) * (vq->used_idx & (vq->size - 1));

        vq_store32(e + offsetof(struct virtq_used_elem, id), head);
        vq_store32(e + offsetof(struct virtq_used_elem, len), len);
        vq->used_idx++;
}

void virtq_flush(struct virtq *vq)
{
        /* Release: the driver that sees the new idx sees the entries and the buffers. */
        vq_store16_release(vq->used + offsetof(struct virtq_used, idx), vq->used_idx);
}

bool virtq_need_interrupt(struct virtq *vq)
{
        uint16_t old, event;
        bool valid;

        /* Our used idx store must be visible before we read the driver's wishes. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!vq->event_idx)
                return !(vq_load16(vq->avail + offsetof(struct virtq_avail, flags)) &
                         VIRTQ_AVAIL_F_NO_INTERRUPT);

        old = vq->signalled_used;
        valid = vq->signalled_used_valid;
        vq->signalled_used = vq->used_idx;
        vq->signalled_used_valid = true;
        if (!valid)
                return true;
        event = vq_load16(vq->avail + VIRTQ_USED_EVENT_OFF(vq->size));
        return virtq_need_event(event, vq->used_idx, old);
}

void virtq_disable_notify(struct virtq *vq)
{
        /* With EVENT_IDX, not moving avail_event forward is the suppression. */
        if (!vq->event_idx)
                vq_store16(vq->used + offsetof(struct virtq_used, flags), VIRTQ_USED_F_NO_NOTIFY);
}

bool virtq_enable_notify(struct virtq *vq)
{
        if (vq->broken)
                return false;
        if (vq->event_idx)
                vq_store16(vq->used + VIRTQ_AVAIL_EVENT_OFF(vq->size), vq->avail_idx);
        else
                vq_store16(vq->used + offsetof(struct virtq_used, flags), 0);
        /* The store above must be visible before we look at avail->idx again. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return virtq_has_avail(vq);
}
