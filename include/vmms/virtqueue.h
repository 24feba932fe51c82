/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.2 section 2.7) as a device sees them. Everything in guest
 * memory is hostile and may change under our feet: every index is loaded once, every
 * descriptor is copied once before it is checked and used, every address goes through
 * gmem_translate(). A violation breaks the queue (virtq_pop() returns a negative errno and
 * sets `error`); the device then reports DEVICE_NEEDS_RESET. Nothing here logs.
 *
 * One thread owns a virtqueue at a time (the device's I/O thread once activated).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <abi/virtio.h>

struct gmem;

struct virtq {
        const struct gmem *mem;
        uint16_t size;                  /* entries, a power of two */
        uint16_t index;                 /* queue number, for messages */
        bool event_idx;                 /* VIRTIO_F_RING_EVENT_IDX negotiated */
        bool indirect;                  /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
        uint64_t desc_gpa, avail_gpa, used_gpa;
        const uint8_t *desc;            /* host views of the three areas */
        uint8_t *avail;
        uint8_t *used;

        uint16_t last_avail;            /* next avail entry to consume */
        uint16_t avail_idx;             /* last avail->idx we loaded */
        uint16_t used_idx;              /* next used entry; published by virtq_flush() */
        uint16_t signalled_used;        /* used idx at the last interrupt (EVENT_IDX) */
        bool signalled_used_valid;
        bool broken;
        const char *error;              /* what the driver did wrong; static string */
};

/*
 * A popped chain: iov[0, n_out) are device-readable, iov[n_out, n_out + n_in) are
 * device-writable. Zero-length descriptors take no iovec.
 */
struct virtq_elem {
        uint16_t head;
        uint16_t n_out, n_in;
        uint64_t out_len, in_len;
};

/*
 * Set up a queue on validated addresses: size a power of two, areas aligned (16/2/4) and
 * inside guest RAM. -EINVAL, -EFAULT.
 */
int virtq_init(struct virtq *vq, const struct gmem *mem, uint16_t index, uint16_t size,
               uint64_t desc, uint64_t avail, uint64_t used, uint64_t features);

/*
 * Take the next available chain into iov (at most cap entries; the device's segment
 * limit). Returns 1 and fills *ret, 0 when the ring is empty, or a negative errno when the
 * driver broke the rules (the queue is then broken and every later call fails):
 * -EFAULT (address not RAM), -ELOOP (chain longer than the queue), -EINVAL (index out of
 * range, bad indirect table), -E2BIG (more segments than the device allows), -EBADMSG
 * (readable after writable), -EOVERFLOW (avail index ran ahead).
 */
int virtq_pop(struct virtq *vq, struct iovec *iov, unsigned cap, struct virtq_elem *ret);

/*
 * Give back the last k chains popped and not pushed: the next pops return them again (the
 * driver does not touch avail entries it published until they are used).
 */
static inline void virtq_unpop(struct virtq *vq, unsigned k)
{
        vq->last_avail = (uint16_t)(vq->last_avail - k);
}

/* Record a completed chain; virtq_flush() makes all recorded entries visible at once. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
void virtq_flush(struct virtq *vq);

/* After virtq_flush(): whether the driver wants an interrupt now (EVENT_IDX or flags). */
bool virtq_need_interrupt(struct virtq *vq);

/* Device-side notification suppression while the device is processing the ring. */
void virtq_disable_notify(struct virtq *vq);
/* Re-enable doorbells; true when more buffers arrived meanwhile (process them now). */
bool virtq_enable_notify(struct virtq *vq);

/* Whether the ring holds unconsumed entries (one acquire load of avail->idx). */
bool virtq_has_avail(struct virtq *vq);
