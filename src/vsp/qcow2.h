/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 format layer of the storage VSP: maps the guest's (virtual) offsets to host
 * clusters of the image file, allocates on write, and keeps the metadata crash-safe.
 * uring.c calls it for images opened with format=qcow2; reads and writes of allocated
 * clusters still go to the image file through the caller's io_uring, metadata is read
 * and written synchronously under the image's lock (it is cached: see qcow2.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct qcow2;
struct vsp_image;
struct vsp_io;
struct vsp_uring;

struct qcow2_open_args {
        int fd;
        bool readonly;
        bool direct;                    /* fd has O_DIRECT: aligned buffers and offsets */
        uint32_t off_align;             /* direct I/O offset granularity (512 without) */
        struct vsp_image *backing;      /* the next image of the chain, or NULL */
        uint64_t cache_bytes;           /* L2 cache cap; 0: the default */
        const char *name;               /* for messages */
};

/* -EINVAL/-EOPNOTSUPP with a message in err for a bad or unsupported image. */
int qcow2_open(const struct qcow2_open_args *a, struct qcow2 **ret, char *err, size_t err_len);
/* Writes back what metadata is still dirty (as a flush would), then frees. */
void qcow2_close(struct qcow2 *q);
uint64_t qcow2_virtual_size(const struct qcow2 *q);
bool qcow2_has_backing(const struct qcow2 *q);

/* The storage VSP's operations, on virtual offsets; complete through the ring like raw ones. */
int qcow2_submit_rw(struct vsp_uring *u, struct qcow2 *q, struct vsp_io *io, bool write, struct iovec *iov,
                    unsigned n, uint64_t off);
int qcow2_submit_flush(struct vsp_uring *u, struct qcow2 *q, struct vsp_io *io);
/* discard: a hint (whole clusters deallocated); else write-zeroes (exact). */
int qcow2_submit_zero(struct vsp_uring *u, struct qcow2 *q, struct vsp_io *io, uint64_t off, uint64_t len,
                      bool discard);

/* Synchronous read of virtual bytes (backing reads, tests); zeros past the end. */
int qcow2_pread(struct qcow2 *q, void *buf, size_t len, uint64_t off);
/* Make every completed write and its metadata durable, synchronously. */
int qcow2_commit(struct qcow2 *q);

/* Counters, for tests and statistics. */
struct qcow2_stats {
        uint64_t allocated_clusters;    /* by this process */
        uint64_t cow_clusters;          /* partial writes that copied data in */
        uint64_t l2_loads, l2_evictions;
        uint64_t commits;
};
void qcow2_get_stats(struct qcow2 *q, struct qcow2_stats *ret);
