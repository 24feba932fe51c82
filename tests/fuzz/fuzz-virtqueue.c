/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: arbitrary guest memory and queue state for a split virtqueue, every
 * chain popped from it fed to the virtio-blk request parser, and the device's side of the
 * protocol (buffer accesses, used ring, notification decisions) played out.
 *
 * Input: a 16-byte header (struct fuzz_hdr) followed by up to 64 KiB of guest memory.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <abi/virtio.h>
#include <abi/virtio_blk.h>

#include "vmms/gmem.h"
#include "vmms/iov.h"
#include "vmms/virtqueue.h"
#include "blk.h"

#define FUZZ_MEM   (64u * 1024)

struct fuzz_hdr {
        uint8_t size_log2;      /* queue size 1 << (size_log2 % 9) */
        uint8_t flags;          /* bit 0 indirect, 1 event idx, 2 read-only, 3 discard/wz */
        uint16_t last_avail;
        uint16_t used_idx;
        uint16_t desc;          /* x16 */
        uint16_t avail;         /* x2 */
        uint16_t used;          /* x4 */
        uint32_t capacity;      /* sectors */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char serial[] = "FUZZ-SERIAL";
        struct iovec iov[VSP_BLK_MAX_CHAIN];
        uint8_t scratch[4096];
        struct fuzz_hdr h;
        struct gmem *mem;
        struct virtq vq;
        uint64_t features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
        uint8_t *ram;

        if (size < sizeof(h))
                return 0;
        memcpy(&h, data, sizeof(h));
        ram = aligned_alloc(4096, FUZZ_MEM);
        if (!ram)
                return 0;
        memset(ram, 0, FUZZ_MEM);
        memcpy(ram, data + sizeof(h), size - sizeof(h) < FUZZ_MEM ? size - sizeof(h) : FUZZ_MEM);
        if (gmem_new_buffer(ram, FUZZ_MEM, &mem) < 0) {
                free(ram);
                return 0;
        }
        if (h.flags & 1)
                features |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
        if (h.flags & 2)
                features |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
        if (h.flags & 8)
                features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);

        if (virtq_init(&vq, mem, 0, (uint16_t)(1u << (h.size_log2 % 9)), (uint64_t)h.desc * 16,
                       (uint64_t)h.avail * 2, (uint64_t)h.used * 4, features) == 0) {
                struct vsp_blk_limits lim = {
                        .capacity = h.capacity, .features = features, .readonly = h.flags & 4,
                        .serial = serial,
                };

                vq.last_avail = vq.avail_idx = h.last_avail;
                vq.used_idx = h.used_idx;
                for (unsigned n = 0; n < 64; n++) {
                        struct vsp_blk_parsed p;
                        struct virtq_elem el;
                        int r;

                        virtq_disable_notify(&vq);
                        r = virtq_pop(&vq, iov, VSP_BLK_MAX_CHAIN, &el);
                        if (r <= 0) {
                                if (r == 0 && virtq_enable_notify(&vq))
                                        continue;
                                break;
                        }
                        if (vsp_blk_parse(&lim, iov, &el, &p) < 0)
                                break;
                        /* What the device would touch, done for real. */
                        switch (p.action) {
                        case VSP_BLK_READ:
                                iov_memset(p.data, p.n_data, 0, 0x5a, p.length);
                                break;
                        case VSP_BLK_WRITE:
                                iov_to_buf(p.data, p.n_data, 0, scratch,
                                           p.length < sizeof(scratch) ? p.length : sizeof(scratch));
                                break;
                        case VSP_BLK_GET_ID:
                                iov_from_buf(p.data, p.n_data, 0, "FUZZ-SERIAL\0\0\0\0\0\0\0\0\0", p.length);
                                break;
                        default:
                                break;
                        }
                        *p.status = p.action == VSP_BLK_DONE ? p.result : VIRTIO_BLK_S_OK;
                        virtq_push(&vq, el.head, p.used_len);
                        virtq_flush(&vq);
                        (void)virtq_need_interrupt(&vq);
                }
        }
        gmem_free(mem);
        free(ram);
        return 0;
}
