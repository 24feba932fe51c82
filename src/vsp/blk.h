/* SPDX-License-Identifier: MIT */
/* virtio-blk internals shared with tests and the fuzzer: the request parser. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmms/virtqueue.h"

#define VSP_BLK_QUEUE_SIZE      256u
#define VSP_BLK_SEG_MAX         126u    /* data segments per request */
#define VSP_BLK_MAX_CHAIN       (VSP_BLK_SEG_MAX + 2u)  /* + header + status */
#define VSP_BLK_SIZE_MAX        (1u << 20)
#define VSP_BLK_MAX_DISCARD_SECTORS (1u << 22)
#define VSP_BLK_DISCARD_ALIGN   8u      /* sectors: 4 KiB */

struct vsp_blk_limits {
        uint64_t capacity;              /* sectors */
        uint64_t features;              /* negotiated */
        bool readonly;
        const char *serial;             /* up to 20 bytes */
};

enum vsp_blk_action {
        VSP_BLK_DONE,                   /* answer with `result` now */
        VSP_BLK_READ,
        VSP_BLK_WRITE,
        VSP_BLK_FLUSH,
        VSP_BLK_GET_ID,
        VSP_BLK_DISCARD,
        VSP_BLK_WRITE_ZEROES,
};

struct vsp_blk_parsed {
        enum vsp_blk_action action;
        uint8_t result;                 /* VIRTIO_BLK_S_* for VSP_BLK_DONE */
        uint32_t type;
        uint8_t *status;                /* the status byte in guest memory */
        struct iovec *data;             /* into the request's iov (trimmed in place) */
        unsigned n_data;
        uint64_t offset, length;        /* bytes */
        bool unmap;
        uint32_t used_len;              /* on success: bytes written to writable buffers */
};

/*
 * Classify a popped chain (iov as virtq_pop() filled it; modified in place). Returns 0
 * with *ret filled, or -EBADMSG when there is no header or no status byte (the device then
 * needs a reset: there is nowhere to put an error status).
 */
int vsp_blk_parse(const struct vsp_blk_limits *l, struct iovec *iov, const struct virtq_elem *el,
                  struct vsp_blk_parsed *ret);
