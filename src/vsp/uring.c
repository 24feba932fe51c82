/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/config_error.h"
#include "vmms/disk.h"
#include "vmms/iov.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/qcow2.h"
#include "vmms/util.h"
#include "qcow2.h"
#include "uring.h"

#define ZERO_BUF_SIZE (1u * 1024 * 1024)

enum {
        VSP_IO_READ = 1,
        VSP_IO_WRITE,
        VSP_IO_FSYNC,
        VSP_IO_DISCARD,
        VSP_IO_WZ,
        VSP_IO_POLL,
        VSP_IO_PARENT,          /* finishes when its pieces have */
        VSP_IO_DONE,            /* finished at once by a format layer */
};

/* Write-zeroes stages, tried in order until one works. */
enum {
        WZ_ZERO_RANGE,          /* fallocate(ZERO_RANGE) (PUNCH_HOLE with unmap) */
        WZ_PUNCH,               /* fallocate(PUNCH_HOLE) ... */
        WZ_ALLOC,               /* ... then fallocate(0) to keep it allocated */
        WZ_WRITE,               /* write zeros */
};

struct vsp_image {
        int fd;
        bool readonly;
        bool direct;
        bool inline_rw;                 /* a memory file system: preadv/pwritev here */
        uint64_t size;
        uint32_t mem_align, off_align;  /* direct I/O needs; 1 without O_DIRECT */
        bool no_zero_range, no_punch;   /* atomics: learnt from EOPNOTSUPP */
        void *zeros;                    /* ZERO_BUF_SIZE, aligned */
        struct qcow2 *q;                /* format=qcow2: the format layer */
        struct vsp_image *backing;      /* ... and the next image of its chain */
};

struct vsp_uring {
        struct vsp_image *img;
        struct io_uring ring;
        bool ring_ok;
        bool fixed_file;                /* the image is registered file 0 */
        struct vsp_io *done_head;       /* finished inline, not reported yet */
        struct vsp_io **done_tail;
};

void vsp_image_free(struct vsp_image *img)
{
        if (!img)
                return;
        qcow2_close(img->q);
        vsp_image_free(img->backing);
        safe_close(img->fd);
        free(img->zeros);
        free(img);
}
DEFINE_TRIVIAL_CLEANUP(struct vsp_image, vsp_image_free)

static int image_probe_size(struct vsp_image *img)
{
        struct stat st;

        if (fstat(img->fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode)) {
                struct statfs sfs;

                img->size = (uint64_t)st.st_size;
                /* Memory file systems: no FMODE_NOWAIT, every io_uring request would go
                 * to a kernel worker thread; a copy on our thread is cheaper. */
                if (fstatfs(img->fd, &sfs) == 0)
                        img->inline_rw = sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC ||
                                         sfs.f_type == HUGETLBFS_MAGIC;
                return 0;
        }
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(img->fd, BLKGETSIZE64, &img->size) < 0)
                        return -errno;
                return 0;
        }
        return -EINVAL;         /* not a disk */
}

static void image_probe_align(struct vsp_image *img)
{
        struct statx stx;

        img->mem_align = img->off_align = 1;
        if (!img->direct)
                return;
        img->mem_align = img->off_align = 512;
        if (statx(img->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
            (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align > 0) {
                img->mem_align = MAX(stx.stx_dio_mem_align, 1u);
                img->off_align = MAX(stx.stx_dio_offset_align, 512u);
        }
}

/*
 * cache=none: O_DIRECT on the fd (the fd vmms passed may have it or not). A memory file
 * system without direct I/O (tmpfs before Linux 6.6) has no page cache to bypass: plain
 * I/O there is the same thing. Anywhere else -EOPNOTSUPP, so the caller can say why.
 */
static int image_set_direct(struct vsp_image *img)
{
        struct statfs sfs;
        int fl = fcntl(img->fd, F_GETFL);

        if (fl < 0)
                return -errno;
        if (!img->readonly && (fl & O_ACCMODE) == O_RDONLY)
                return -EBADF;          /* a writable disk on a read-only fd */
        if (fcntl(img->fd, F_SETFL, img->direct ? fl | O_DIRECT : fl & ~O_DIRECT) == 0)
                return 0;
        if (errno != EINVAL || !img->direct)
                return -errno;
        if (fstatfs(img->fd, &sfs) == 0 && (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC ||
                                            sfs.f_type == HUGETLBFS_MAGIC)) {
                img->direct = false;
                return fcntl(img->fd, F_SETFL, fl & ~O_DIRECT) < 0 ? -errno : 0;
        }
        return -EOPNOTSUPP;
}

/* The images already in the chain being opened (a loop is refused). */
struct chain_seen {
        dev_t dev[QCOW2_CHAIN_MAX];
        ino_t ino[QCOW2_CHAIN_MAX];
        unsigned n;
};

static int image_open_chain(const struct disk_config *c, struct chain_seen *seen, struct vsp_image **ret,
                            struct config_error *err);

/* The backing file's name as the worker opens it: relative to the naming image's directory. */
static char *backing_path(const char *image, const char *name)
{
        const char *slash;
        char *p;

        if (name[0] == '/' || !image || !(slash = strrchr(image, '/')))
                return strdup(name);
        if (asprintf(&p, "%.*s/%s", (int)(slash - image), image, name) < 0)
                return NULL;
        return p;
}

/* format=qcow2: the chain below, then the format layer over the file. */
static int image_open_qcow2(struct vsp_image *img, const struct disk_config *c, const char *name,
                            struct chain_seen *seen, struct config_error *err)
{
        struct qcow2_header h;
        struct stat st;
        char msg[256];
        int r;

        if (fstat(img->fd, &st) < 0)
                return config_error_errno(err, -errno, "disk %s", name);
        for (unsigned i = 0; i < seen->n; i++)
                if (seen->dev[i] == st.st_dev && seen->ino[i] == st.st_ino)
                        return config_error_set(err, "disk %s: the backing chain loops back to this file", name);
        if (seen->n == QCOW2_CHAIN_MAX)
                return config_error_set(err, "disk %s: backing chain deeper than %u images", name, QCOW2_CHAIN_MAX);
        seen->dev[seen->n] = st.st_dev;
        seen->ino[seen->n++] = st.st_ino;
        r = qcow2_header_read(img->fd, &h, msg, sizeof(msg));
        if (r == -EINVAL || r == -EOPNOTSUPP)
                return config_error_set(err, "disk %s: %s", name, msg);
        if (r < 0)
                return config_error_errno(err, r, "disk %s: %s", name, msg);
        if (h.backing_name[0]) {
                _cleanup_free_ char *path = NULL;
                struct disk_config b;

                disk_config_init(&b);
                b.readonly = true;
                if (c->n_backing_fds > 0) {
                        b.fd = c->backing_fds[0];
                        b.n_backing_fds = c->n_backing_fds - 1;
                        memcpy(b.backing_fds, c->backing_fds + 1, b.n_backing_fds * sizeof(int));
                } else if (c->fd >= 0) {
                        return config_error_set(err, "disk %s: its backing file %s was not passed with it", name,
                                                h.backing_name);
                }
                path = backing_path(c->path, h.backing_name);
                if (!path)
                        return -ENOMEM;
                b.path = path;
                if (h.backing_format == QCOW2_BACKING_QCOW2) {
                        b.format = DISK_FORMAT_QCOW2;
                } else if (h.backing_format == QCOW2_BACKING_UNKNOWN) {
                        /* No format recorded: look. A backing file is read-only to the guest. */
                        _cleanup_close_ int fd = b.fd >= 0 ? -1 : image_open_at(AT_FDCWD, path, O_RDONLY, 0, NULL);
                        int p = qcow2_probe_fd(b.fd >= 0 ? b.fd : fd);

                        b.format = p > 0 ? DISK_FORMAT_QCOW2 : DISK_FORMAT_RAW;
                }
                r = image_open_chain(&b, seen, &img->backing, err);
                b.path = NULL;
                if (r < 0)
                        return r;
        }
        r = qcow2_open(&(struct qcow2_open_args) {
                        .fd = img->fd, .readonly = img->readonly, .direct = img->direct, .off_align = img->off_align,
                        .backing = img->backing, .cache_bytes = c->metadata_cache, .name = name,
                }, &img->q, msg, sizeof(msg));
        if (r == -EINVAL || r == -EOPNOTSUPP)
                return config_error_set(err, "disk %s: %s", name, msg);
        if (r < 0)
                return config_error_errno(err, r, "disk %s", name);
        img->size = qcow2_virtual_size(img->q);
        return 0;
}

int vsp_image_open(const struct disk_config *c, struct vsp_image **ret, struct config_error *err)
{
        struct chain_seen seen = { .n = 0 };

        return image_open_chain(c, &seen, ret, err);
}

static int image_open_chain(const struct disk_config *c, struct chain_seen *seen, struct vsp_image **ret,
                            struct config_error *err)
{
        _cleanup_(vsp_image_freep) struct vsp_image *img = NULL;
        const char *kind = NULL;
        char fdname[32];
        const char *name = c->path;
        int r;

        if (c->fd >= 0 && !name) {
                snprintf(fdname, sizeof(fdname), "fd %d", c->fd);
                name = fdname;
        }
        img = calloc(1, sizeof(*img));
        if (!img)
                return -ENOMEM;
        img->readonly = c->readonly;
        img->direct = c->cache == DISK_CACHE_NONE;
        if (c->fd >= 0) {
                img->fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 3);
                if (img->fd < 0)
                        return config_error_errno(err, -errno, "disk %s", name);
        } else {
                if (!c->path)
                        return config_error_set(err, "disk: neither a path nor an fd");
                img->fd = image_open_at(AT_FDCWD, c->path, c->readonly ? O_RDONLY : O_RDWR, 0, &kind);
                if (img->fd == -EBADFD) {
                        (void)config_error_set(err, "disk %s: %s, not a regular file or block device", name,
                                               kind ? kind : "something else");
                        return -EBADFD;
                }
                if (img->fd < 0)
                        return config_error_errno(err, img->fd, "disk %s", name);
        }
        r = image_check_fd(img->fd, &kind);
        if (r == -EBADFD) {
                (void)config_error_set(err, "disk %s: %s, not a regular file or block device", name,
                                       kind ? kind : "something else");
                return -EBADFD;
        }
        if (r < 0)
                return config_error_errno(err, r, "disk %s", name);
        r = image_set_direct(img);
        if (r == -EOPNOTSUPP) {
                (void)config_error_set(err, "disk %s: cache=none needs direct I/O (O_DIRECT), which its file "
                                       "system does not support; use cache=writeback", name);
                return r;
        }
        if (r == -EBADF) {
                (void)config_error_set(err, "disk %s: writable, but its fd is open read-only (add ro, or pass "
                                       "a read-write fd)", name);
                return r;
        }
        if (r < 0)
                return config_error_errno(err, r, "disk %s", name);
        r = image_probe_size(img);
        if (r == -EINVAL)
                return config_error_set(err, "disk %s: not a regular file or block device", name);
        if (r < 0)
                return config_error_errno(err, r, "disk %s", name);
        image_probe_align(img);
        img->zeros = aligned_alloc(4096, ZERO_BUF_SIZE);
        if (!img->zeros)
                return -ENOMEM;
        memset(img->zeros, 0, ZERO_BUF_SIZE);
        if (c->format == DISK_FORMAT_QCOW2) {
                r = image_open_qcow2(img, c, name, seen, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(img);
        return 0;
}

uint64_t vsp_image_size(const struct vsp_image *img) { return img->size; }
bool vsp_image_readonly(const struct vsp_image *img) { return img->readonly; }
uint32_t vsp_image_block_size(const struct vsp_image *img) { return MAX(img->off_align, 512u); }
bool vsp_image_inline(const struct vsp_image *img) { return img->inline_rw; }

int vsp_image_commit(struct vsp_image *img)
{
        return img->q ? qcow2_commit(img->q) : 0;
}

void vsp_uring_free(struct vsp_uring *u)
{
        if (!u)
                return;
        if (u->ring_ok)
                io_uring_queue_exit(&u->ring);
        free(u);
}

int vsp_uring_new(struct vsp_image *img, unsigned entries, struct vsp_uring **ret)
{
        struct vsp_uring *u = calloc(1, sizeof(*u));
        int r;

        if (!u)
                return -ENOMEM;
        u->img = img;
        u->done_tail = &u->done_head;
        /*
         * Completion work runs when our thread enters the ring anyway: no IPIs needed. The
         * TASKRUN flag tells a thread that polls the completion ring without entering the
         * kernel when there is such work to run (liburing then enters for it).
         */
        r = io_uring_queue_init(entries, &u->ring, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
        if (r == -EINVAL)
                r = io_uring_queue_init(entries, &u->ring, 0);
        if (r < 0) {
                free(u);
                return r;
        }
        u->ring_ok = true;
        /* A registered file saves a file table lookup and reference per request. */
        u->fixed_file = io_uring_register_files(&u->ring, &img->fd, 1) == 0;
        *ret = u;
        return 0;
}

static struct io_uring_sqe *get_sqe(struct vsp_uring *u)
{
        struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

        if (!sqe) {             /* full: push what is queued to the kernel */
                (void)io_uring_submit(&u->ring);
                sqe = io_uring_get_sqe(&u->ring);
        }
        return sqe;
}

/* (Re)issue the next step of io. */
static int io_issue(struct vsp_uring *u, struct vsp_io *io)
{
        struct vsp_image *img = u->img;
        struct io_uring_sqe *sqe = get_sqe(u);
        uint64_t off = io->off + io->done, len = io->len - io->done;
        int mode;

        if (!sqe)
                return -EBUSY;
        switch (io->op) {
        case VSP_IO_READ:
                io_uring_prep_readv(sqe, img->fd, io->iov, io->niov, off);
                break;
        case VSP_IO_WRITE:
                io_uring_prep_writev(sqe, img->fd, io->iov, io->niov, off);
                break;
        case VSP_IO_FSYNC:
                io_uring_prep_fsync(sqe, img->fd, IORING_FSYNC_DATASYNC);
                break;
        case VSP_IO_DISCARD:
                io_uring_prep_fallocate(sqe, img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                        (off_t)off, (off_t)len);
                break;
        case VSP_IO_WZ:
                if (io->stage == WZ_WRITE) {
                        io->bounce_iov = (struct iovec) { img->zeros, MIN(len, (uint64_t)ZERO_BUF_SIZE) };
                        io_uring_prep_writev(sqe, img->fd, &io->bounce_iov, 1, off);
                        break;
                }
                if (io->stage == WZ_ZERO_RANGE)
                        mode = io->unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                                         : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
                else if (io->stage == WZ_PUNCH)
                        mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
                else
                        mode = FALLOC_FL_KEEP_SIZE;
                io_uring_prep_fallocate(sqe, img->fd, mode, (off_t)off, (off_t)len);
                break;
        case VSP_IO_POLL:
                io_uring_prep_poll_add(sqe, io->fd, POLLIN);
                break;
        default:
                return -EINVAL;
        }
        if (io->op != VSP_IO_POLL && u->fixed_file) {
                sqe->fd = 0;
                sqe->flags |= IOSQE_FIXED_FILE;
        }
        io_uring_sqe_set_data(sqe, io);
        return 0;
}

static bool iov_dio_ok(const struct vsp_image *img, const struct iovec *iov, unsigned n)
{
        if (!img->direct)
                return true;
        for (unsigned i = 0; i < n; i++)
                if (!IS_ALIGNED((uintptr_t)iov[i].iov_base, img->mem_align) ||
                    !IS_ALIGNED((uint64_t)iov[i].iov_len, img->off_align))
                        return false;
        return true;
}

static void io_advance(struct vsp_io *io, uint64_t n);

/* Finished: reported (to the parent, or the caller) by the next reap. */
static void io_push_done(struct vsp_uring *u, struct vsp_io *io, int res)
{
        io->res = res;
        io->next = NULL;
        *u->done_tail = io;
        u->done_tail = &io->next;
}

/* Reads and writes on a memory file system: done here, reported by the next reap. */
static void io_inline_rw(struct vsp_uring *u, struct vsp_io *io)
{
        int fd = u->img->fd, r = 0;

        while (io->done < io->len) {
                int cnt = (int)MIN(io->niov, (unsigned)IOV_MAX);
                ssize_t n = io->op == VSP_IO_READ ? preadv(fd, io->iov, cnt, (off_t)(io->off + io->done))
                                                  : pwritev(fd, io->iov, cnt, (off_t)(io->off + io->done));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;      /* 0: the image shrank under us */
                        break;
                }
                io_advance(io, (uint64_t)n);
        }
        if (r == 0 && io->bounce && io->op == VSP_IO_READ)
                iov_from_buf(io->user_iov, io->user_niov, 0, io->bounce, io->len);
        free(io->bounce);
        io->bounce = NULL;
        io_push_done(u, io, r);
}

static int io_start_rw(struct vsp_uring *u, struct vsp_io *io, uint8_t op, struct iovec *iov,
                       unsigned n, uint64_t off)
{
        *io = (struct vsp_io) {
                .op = op, .iov = iov, .niov = n, .user_iov = iov, .user_niov = n,
                .off = off, .len = iov_size(iov, n),
        };
        if (!iov_dio_ok(u->img, iov, n)) {
                /* Guest buffers O_DIRECT cannot take: go through an aligned copy. */
                size_t a = MAX((size_t)u->img->mem_align, (size_t)4096);

                io->bounce = aligned_alloc(a, ALIGN_UP((size_t)io->len, a));
                if (!io->bounce)
                        return -ENOMEM;
                if (op == VSP_IO_WRITE)
                        iov_to_buf(iov, n, 0, io->bounce, io->len);
                io->bounce_iov = (struct iovec) { io->bounce, io->len };
                io->iov = &io->bounce_iov;
                io->niov = 1;
        }
        if (u->img->inline_rw) {
                io_inline_rw(u, io);
                return 0;
        }
        return io_issue(u, io);
}

int vsp_uring_read(struct vsp_uring *u, struct vsp_io *io, struct iovec *iov, unsigned n, uint64_t off)
{
        if (u->img->q)
                return qcow2_submit_rw(u, u->img->q, io, false, iov, n, off);
        return io_start_rw(u, io, VSP_IO_READ, iov, n, off);
}

int vsp_uring_write(struct vsp_uring *u, struct vsp_io *io, struct iovec *iov, unsigned n, uint64_t off)
{
        if (u->img->readonly)
                return -EROFS;
        if (u->img->q)
                return qcow2_submit_rw(u, u->img->q, io, true, iov, n, off);
        return io_start_rw(u, io, VSP_IO_WRITE, iov, n, off);
}

int vsp_uring_host_rw(struct vsp_uring *u, struct vsp_io *io, bool write, struct iovec *iov, unsigned n,
                      uint64_t host_off)
{
        return io_start_rw(u, io, write ? VSP_IO_WRITE : VSP_IO_READ, iov, n, host_off);
}

int vsp_uring_host_fsync(struct vsp_uring *u, struct vsp_io *io)
{
        *io = (struct vsp_io) { .op = VSP_IO_FSYNC };
        return io_issue(u, io);
}

int vsp_uring_flush(struct vsp_uring *u, struct vsp_io *io)
{
        if (u->img->q)
                return qcow2_submit_flush(u, u->img->q, io);
        return vsp_uring_host_fsync(u, io);
}

void vsp_uring_complete(struct vsp_uring *u, struct vsp_io *io, int res)
{
        *io = (struct vsp_io) { .op = VSP_IO_DONE };
        io_push_done(u, io, res);
}

void vsp_io_parent_begin(struct vsp_io *parent, void *owned)
{
        /* One count held by the caller until parent_end: pieces finishing early cannot end it. */
        *parent = (struct vsp_io) { .op = VSP_IO_PARENT, .owned = owned, .children = 1 };
}

int vsp_uring_child_rw(struct vsp_uring *u, struct vsp_io *parent, struct vsp_io *child, bool write,
                       struct iovec *iov, unsigned n, uint64_t host_off)
{
        int r = io_start_rw(u, child, write ? VSP_IO_WRITE : VSP_IO_READ, iov, n, host_off);

        if (r < 0)
                return r;
        child->parent = parent;
        parent->children++;
        return 0;
}

void vsp_io_parent_fail(struct vsp_io *parent, int res)
{
        if (parent->res == 0)
                parent->res = res;
}

void vsp_io_parent_end(struct vsp_uring *u, struct vsp_io *parent)
{
        if (--parent->children == 0)
                io_push_done(u, parent, parent->res);
}

/* One operation finished: tell the caller, or count it against its parent. */
static void io_report(struct vsp_io *io, int res, vsp_io_done_fn done, void *ctx)
{
        struct vsp_io *p = io->parent;

        if (!p) {
                if (io->op == VSP_IO_PARENT) {
                        free(io->owned);
                        io->owned = NULL;
                }
                done(ctx, io, res);
                return;
        }
        if (res < 0 && p->res == 0)
                p->res = res;
        if (--p->children > 0)
                return;
        free(p->owned);         /* io lives there: not touched after this */
        p->owned = NULL;
        done(ctx, p, p->res);
}

int vsp_image_pread(struct vsp_image *img, void *buf, size_t len, uint64_t off)
{
        size_t n = off < img->size ? (size_t)MIN((uint64_t)len, img->size - off) : 0;

        if (img->q)
                return qcow2_pread(img->q, buf, len, off);
        memset((uint8_t *)buf + n, 0, len - n);
        return n ? pread_full(img->fd, buf, n, (off_t)off) : 0;
}

int vsp_uring_discard(struct vsp_uring *u, struct vsp_io *io, uint64_t off, uint64_t len)
{
        if (u->img->readonly)
                return -EROFS;
        if (u->img->q)
                return qcow2_submit_zero(u, u->img->q, io, off, len, true);
        *io = (struct vsp_io) { .op = VSP_IO_DISCARD, .off = off, .len = len };
        return io_issue(u, io);
}

int vsp_uring_write_zeroes(struct vsp_uring *u, struct vsp_io *io, uint64_t off, uint64_t len,
                           bool unmap)
{
        struct vsp_image *img = u->img;
        uint8_t stage = WZ_ZERO_RANGE;

        if (img->readonly)
                return -EROFS;
        if (img->q)
                return qcow2_submit_zero(u, img->q, io, off, len, false);
        if (__atomic_load_n(&img->no_punch, __ATOMIC_RELAXED))
                stage = WZ_WRITE;
        else if (!unmap && __atomic_load_n(&img->no_zero_range, __ATOMIC_RELAXED))
                stage = WZ_PUNCH;
        *io = (struct vsp_io) { .op = VSP_IO_WZ, .stage = stage, .unmap = unmap, .off = off, .len = len };
        return io_issue(u, io);
}

int vsp_uring_poll(struct vsp_uring *u, struct vsp_io *io, int fd)
{
        *io = (struct vsp_io) { .op = VSP_IO_POLL, .fd = fd };
        return io_issue(u, io);
}

/* Advance the remaining vector by n bytes (a short transfer). */
static void io_advance(struct vsp_io *io, uint64_t n)
{
        io->done += n;
        while (n > 0 && io->niov > 0) {
                if (n < io->iov->iov_len) {
                        io->iov->iov_base = (uint8_t *)io->iov->iov_base + n;
                        io->iov->iov_len -= n;
                        return;
                }
                n -= io->iov->iov_len;
                io->iov++;
                io->niov--;
        }
}

static bool fallocate_unsupported(int res)
{
        return res == -EOPNOTSUPP || res == -ENOTTY || res == -ENOSYS;
}

/*
 * One completion for io. Returns 1 when io is finished (*res set), 0 when the next step
 * was queued.
 */
static int io_step(struct vsp_uring *u, struct vsp_io *io, int cres, int *res)
{
        struct vsp_image *img = u->img;
        int r = 0;

        if (cres == -EINTR || cres == -EAGAIN)
                goto again;
        switch (io->op) {
        case VSP_IO_READ:
        case VSP_IO_WRITE:
                if (cres < 0) {
                        r = cres;
                        break;
                }
                if (cres == 0) {        /* end of file: the image shrank under us */
                        r = -EIO;
                        break;
                }
                io_advance(io, (uint64_t)cres);
                if (io->done < io->len)
                        goto again;
                if (io->bounce && io->op == VSP_IO_READ)
                        iov_from_buf(io->user_iov, io->user_niov, 0, io->bounce, io->len);
                break;
        case VSP_IO_DISCARD:
                /* Discarding is a hint: a file system that cannot punch holes did nothing. */
                r = cres < 0 && !fallocate_unsupported(cres) ? cres : 0;
                break;
        case VSP_IO_WZ:
                if (io->stage == WZ_WRITE) {
                        if (cres <= 0) {
                                r = cres < 0 ? cres : -EIO;
                                break;
                        }
                        io->done += (uint64_t)cres;
                        if (io->done < io->len)
                                goto again;
                        break;
                }
                if (cres < 0 && fallocate_unsupported(cres)) {
                        if (io->stage == WZ_ZERO_RANGE && !io->unmap) {
                                __atomic_store_n(&img->no_zero_range, true, __ATOMIC_RELAXED);
                                io->stage = WZ_PUNCH;
                        } else {
                                __atomic_store_n(&img->no_punch, true, __ATOMIC_RELAXED);
                                io->stage = WZ_WRITE;
                        }
                        goto again;
                }
                if (cres < 0) {
                        r = cres;
                        break;
                }
                if (io->stage == WZ_PUNCH && !io->unmap) {
                        io->stage = WZ_ALLOC;
                        goto again;
                }
                break;
        default:
                r = cres < 0 ? cres : 0;
                break;
        }
        free(io->bounce);
        io->bounce = NULL;
        *res = r;
        return 1;
again:
        r = io_issue(u, io);
        if (r < 0) {
                free(io->bounce);
                io->bounce = NULL;
                *res = r;
                return 1;
        }
        return 0;
}

bool vsp_uring_pending(struct vsp_uring *u)
{
        return io_uring_sq_ready(&u->ring) > 0;
}

int vsp_uring_submit(struct vsp_uring *u)
{
        int r;

        if (!io_uring_sq_ready(&u->ring))
                return 0;
        r = io_uring_submit(&u->ring);
        return r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY ? r : 0;
}

int vsp_uring_reap(struct vsp_uring *u, vsp_io_done_fn done, void *ctx)
{
        struct io_uring_cqe *cqe;
        int n = 0;

        /* Inline completions first; their callbacks may queue more (and finish them). */
        while (u->done_head) {
                struct vsp_io *io = u->done_head;

                u->done_head = io->next;
                if (!u->done_head)
                        u->done_tail = &u->done_head;
                io_report(io, io->res, done, ctx);
                n++;
        }
        while (io_uring_peek_cqe(&u->ring, &cqe) == 0 && cqe) {
                struct vsp_io *io = io_uring_cqe_get_data(cqe);
                int cres = cqe->res, res;

                io_uring_cqe_seen(&u->ring, cqe);
                n++;
                if (io && io_step(u, io, cres, &res))
                        io_report(io, res, done, ctx);
        }
        return n;
}

/*
 * Take back what was queued but never reached the kernel (a failed io_uring_enter left it
 * in the submission ring): rewind the ring's tail so no later enter can start it. Returns
 * how many of those were operations (polls hold no buffers and are not counted).
 */
static unsigned sq_take_back(struct vsp_uring *u)
{
        struct io_uring_sq *sq = &u->ring.sq;
        unsigned head = *sq->khead, n = 0;

        for (unsigned i = head; i != sq->sqe_tail; i++) {
                const struct io_uring_sqe *sqe = &sq->sqes[sq->array[i & sq->ring_mask] & sq->ring_mask];
                const struct vsp_io *io = (const struct vsp_io *)(uintptr_t)sqe->user_data;

                if (io && io->op != VSP_IO_POLL)
                        n++;
        }
        sq->sqe_head = sq->sqe_tail = head;
        io_uring_smp_store_release(sq->ktail, head);
        return n;
}

int vsp_uring_drain(struct vsp_uring *u, vsp_io_done_fn done, void *ctx, const unsigned *inflight,
                    int timeout_ms)
{
        unsigned never_sent = sq_take_back(u);

        for (int waited = 0;;) {
                struct pollfd p = { .fd = u->ring.ring_fd, .events = POLLIN };

                (void)vsp_uring_reap(u, done, ctx);
                /* Each operation has at most one step out at a time. */
                if (*inflight <= never_sent)
                        return 0;
                if (waited >= timeout_ms)
                        return -ETIMEDOUT;
                (void)poll(&p, 1, 100);
                waited += 100;
        }
}

int vsp_uring_wait(struct vsp_uring *u, vsp_io_done_fn done, void *ctx)
{
        int r;

        if (u->done_head)       /* something to report already: do not sleep */
                r = vsp_uring_submit(u);
        else
                r = io_uring_submit_and_wait(&u->ring, 1);
        if (r < 0 && r != -EINTR)
                return r;
        (void)vsp_uring_reap(u, done, ctx);
        return 0;
}
