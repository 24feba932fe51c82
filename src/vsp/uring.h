/* SPDX-License-Identifier: MIT */
/*
 * The raw-image backend: an image file (or block device) opened by path or handed in as
 * an fd, with cache=none (O_DIRECT) or cache=writeback, and one io_uring per I/O thread.
 * Every operation completes whole or fails: short transfers are resubmitted, buffers that
 * O_DIRECT cannot take are bounced, and write-zeroes falls back from ZERO_RANGE to
 * hole punching plus allocation to writing zeros. One thread uses one vsp_uring.
 *
 * Images on a memory file system (tmpfs, ramfs, hugetlbfs) are read and written with
 * preadv/pwritev on the calling thread: such files cannot do non-blocking I/O
 * (FMODE_NOWAIT), so io_uring would hand every request to one of its worker threads, a
 * hand-off and a wake-up per request for what is a memory copy. Their completions are
 * still reported through vsp_uring_reap()/vsp_uring_wait(), like all others.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct config_error;
struct disk_config;
struct vsp_image;
struct vsp_uring;

/* One operation in flight. Callers embed it; the fields are the backend's. */
struct vsp_io {
        uint8_t op, stage;
        bool unmap;
        int fd;                         /* the polled fd (VSP_IO_POLL) */
        struct iovec *iov;              /* remaining vector; the backend advances it */
        unsigned niov;
        struct iovec *user_iov;         /* the caller's vector, for bounce copy-back */
        unsigned user_niov;
        struct iovec bounce_iov;
        void *bounce;
        uint64_t off, len, done;
        struct vsp_io *next;            /* the backend's list of finished operations */
        struct vsp_io *parent;          /* a format layer's piece of a bigger operation */
        unsigned children;              /* pieces still out (parents) */
        void *owned;                    /* the pieces' memory, freed when the parent finishes */
        int res;
};

/* -EOPNOTSUPP: cache=none on a file system without direct I/O (memory file systems
 * fall back to plain I/O, which is the same there). */
/* A failure of the user's value (path, fd, cache mode) is said in err (see config_error_errno). */
int vsp_image_open(const struct disk_config *c, struct vsp_image **ret, struct config_error *err);
void vsp_image_free(struct vsp_image *img);
uint64_t vsp_image_size(const struct vsp_image *img);          /* bytes */
bool vsp_image_readonly(const struct vsp_image *img);
/* The file offset/length granularity direct I/O needs (512 without O_DIRECT). */
uint32_t vsp_image_block_size(const struct vsp_image *img);
/* Write back a format's cached metadata (qcow2), as a flush would; 0 for raw images. Only
 * with no operation in flight. */
int vsp_image_commit(struct vsp_image *img);
/* Whether reads and writes run synchronously (a memory file system, see above). */
bool vsp_image_inline(const struct vsp_image *img);

/* A ring for up to `entries` operations in flight. img must outlive it. */
int vsp_uring_new(struct vsp_image *img, unsigned entries, struct vsp_uring **ret);
void vsp_uring_free(struct vsp_uring *u);

/*
 * Queue an operation; it completes through vsp_uring_wait(). 0 or a negative errno when it
 * could not even be queued (the caller fails the request at once). The vector must stay
 * valid and is modified while the operation runs.
 */
int vsp_uring_read(struct vsp_uring *u, struct vsp_io *io, struct iovec *iov, unsigned n, uint64_t off);
int vsp_uring_write(struct vsp_uring *u, struct vsp_io *io, struct iovec *iov, unsigned n, uint64_t off);
int vsp_uring_flush(struct vsp_uring *u, struct vsp_io *io);
int vsp_uring_discard(struct vsp_uring *u, struct vsp_io *io, uint64_t off, uint64_t len);
int vsp_uring_write_zeroes(struct vsp_uring *u, struct vsp_io *io, uint64_t off, uint64_t len,
                           bool unmap);
/* Complete once fd is readable (one shot; queue it again to keep watching). */
int vsp_uring_poll(struct vsp_uring *u, struct vsp_io *io, int fd);

/* res: 0 on success (reads and writes moved every byte) or a negative errno. */
typedef void (*vsp_io_done_fn)(void *ctx, struct vsp_io *io, int res);
/* Submit what is queued, wait for at least one completion, report all that are there. */
int vsp_uring_wait(struct vsp_uring *u, vsp_io_done_fn done, void *ctx);
/*
 * After io_uring itself failed (submit or wait): report completions as they come, waiting
 * on the ring's fd with poll(2) (no io_uring syscall), until *inflight is 0 or timeout_ms
 * passed. 0, or -ETIMEDOUT while operations are still out (and their buffers with them).
 * Operations queued but never handed to the kernel are dropped: they never complete, and
 * their memory is the caller's to free with the ring.
 */
int vsp_uring_drain(struct vsp_uring *u, vsp_io_done_fn done, void *ctx, const unsigned *inflight,
                    int timeout_ms);
/* Hand what is queued to the kernel without waiting. */
int vsp_uring_submit(struct vsp_uring *u);
/*
 * For format layers (qcow2.c). An operation on virtual offsets becomes one operation on the
 * image file (host_rw), several pieces that complete it together (parent_begin, child_rw for
 * each, parent_end), or is done at once (complete: reported by the next reap).
 */
int vsp_image_pread(struct vsp_image *img, void *buf, size_t len, uint64_t off);
int vsp_uring_host_rw(struct vsp_uring *u, struct vsp_io *io, bool write, struct iovec *iov, unsigned n,
                      uint64_t host_off);
int vsp_uring_host_fsync(struct vsp_uring *u, struct vsp_io *io);
void vsp_uring_complete(struct vsp_uring *u, struct vsp_io *io, int res);
void vsp_io_parent_begin(struct vsp_io *parent, void *owned);
int vsp_uring_child_rw(struct vsp_uring *u, struct vsp_io *parent, struct vsp_io *child, bool write,
                       struct iovec *iov, unsigned n, uint64_t host_off);
void vsp_io_parent_fail(struct vsp_io *parent, int res);
void vsp_io_parent_end(struct vsp_uring *u, struct vsp_io *parent);

/* Report the completions that are there, without waiting; returns how many. */
int vsp_uring_reap(struct vsp_uring *u, vsp_io_done_fn done, void *ctx);
/* Operations queued but not yet handed to the kernel. */
bool vsp_uring_pending(struct vsp_uring *u);
