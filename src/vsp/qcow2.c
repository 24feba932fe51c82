/* SPDX-License-Identifier: MIT */
/*
 * qcow2 in the storage VSP (see qcow2.h and include/vmms/qcow2.h for the format).
 *
 * State: the L1 table and the refcount table are held whole; L2 tables are loaded on
 * demand into a cache capped at cache_bytes (by default all of them, up to 32 MiB: 256 GiB
 * of guest disk at 64 KiB clusters), refcount blocks as they are needed. One mutex per
 * image guards all of it; the I/O threads take it only to map a request, so reads and
 * writes of allocated clusters (the steady state) cost a lookup, and the data moves through
 * the caller's io_uring like a raw image's.
 *
 * Allocation only appends: a new cluster is taken at the end of the file and never reused
 * in place of one freed, so a cluster that metadata on disk may still reference is never
 * rewritten with other data. Freed clusters have their space given back (hole punch).
 * A write covering a whole unallocated cluster goes to its new cluster asynchronously; a
 * partial one builds the cluster (backing data, zeros or decompressed data around the
 * guest's bytes) and writes it synchronously before the mapping is published, so a
 * concurrent read of the rest of the cluster never sees anything but the old contents.
 *
 * Crash safety: metadata changes stay in memory (dirty) until the guest flushes (or the
 * image closes, or the L2 cache must evict a dirty table). Then, in order:
 *   1. refcount blocks (new references), fdatasync: the data and the counts are durable
 *   2. the refcount table, if it changed, fdatasync (and the header, if the table moved)
 *   3. L2 tables, fdatasync
 *   4. the L1 table, fdatasync
 *   5. references dropped in 3-4 are only now subtracted from the refcounts, written, synced.
 * A crash anywhere leaves counts at or above the real references: at worst leaked
 * clusters (qemu-img check -r leaks), never a cluster referenced twice or counted short.
 * Lazy refcounts are never used; an image left dirty by a writer that used them (the dirty
 * bit) is refused for writing until repaired.
 *
 * Hostile images: the header is checked on open (qcow2_hdr.c); the L1 and refcount tables
 * are walked on open and every table they point to must lie inside the file and not on
 * other metadata (a bitmap of metadata clusters); a data cluster read or written must lie
 * inside the file and not on metadata, else that request fails with EIO. Nothing outside
 * the image file is ever read or written.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "vmms/cleanup.h"
#include "vmms/iov.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/qcow2.h"
#include "vmms/util.h"
#include "qcow2.h"
#include "uring.h"

#define QCOW2_DEFAULT_CACHE     (32ull << 20)

enum {
        K_UNALLOC,
        K_ZERO,
        K_NORMAL,
        K_COMPRESSED,
};

struct l2tab {
        uint64_t *e;                    /* big-endian, as on disk; one cluster */
        bool dirty;
        uint64_t used;                  /* LRU stamp */
};

struct qcow2 {
        pthread_mutex_t lock;
        int fd;
        bool readonly, direct;
        uint32_t off_align;
        char name[128];
        struct qcow2_header h;
        uint8_t *hdr;                   /* the header cluster's first hdr_len bytes, as read */
        size_t hdr_len;
        bool hdr_dirty;
        uint64_t cs;                    /* cluster size */
        uint32_t cb;                    /* cluster bits */
        uint64_t l2n;                   /* entries per L2 table */
        struct vsp_image *backing;
        uint64_t backing_size;

        uint64_t *l1;                   /* host-endian */
        uint8_t *l1_buf;                /* the on-disk form, l1_bytes (cluster multiple) */
        size_t l1_bytes;
        bool l1_dirty;
        struct l2tab *l2;               /* per L1 entry */
        uint64_t l2_loaded, l2_cap, l2_clock;

        uint64_t *rt;                   /* refcount table, host-endian */
        uint64_t rt_n;                  /* entries */
        bool rt_dirty, rt_moved;
        uint8_t **rb;                   /* refcount blocks, on-disk form, per rt entry */
        bool *rb_dirty;
        uint64_t rb_entries;            /* refcounts per block */
        uint32_t rc_order;

        uint64_t next_free;             /* the next cluster to allocate (appending) */
        uint64_t file_clusters;         /* clusters the file spans */
        uint64_t file_bytes;            /* its size as we last made it */
        uint8_t *meta;                  /* bitmap: host clusters holding metadata */
        uint64_t meta_n;                /* bits */
        uint64_t *frees;                /* host clusters whose references went away */
        size_t n_frees, cap_frees;
        bool dirty;                     /* anything above not yet on disk */
        bool failed;                    /* a commit failed half way: writes refused */

        uint8_t *scratch;               /* one cluster, aligned: COW and compressed reads */
        uint8_t *zbuf;                  /* the last decompressed cluster */
        uint64_t zentry;                /* ... its L2 entry (0: none) */
        uint8_t *zin;                   /* compressed input, 2 clusters + alignment */
        struct iovec zero_iov;          /* one cluster of zeros */
        struct qcow2_stats stats;
};

static void *alloc_aligned(size_t n)
{
        void *p = aligned_alloc(4096, ALIGN_UP(n, (size_t)4096));

        if (p)
                memset(p, 0, ALIGN_UP(n, (size_t)4096));
        return p;
}

/* ---- synchronous I/O on the image file (aligned for O_DIRECT) ---- */

/* Read what the file has, zeros past its end. */
static int pread_zero_eof(int fd, void *buf, size_t len, uint64_t off)
{
        ssize_t n = pread_upto(fd, buf, len, (off_t)off);

        if (n < 0)
                return (int)n;
        memset((uint8_t *)buf + n, 0, len - (size_t)n);
        return 0;
}

/* Read [off, off+len) whatever its alignment: through an aligned bounce when direct. */
static int meta_read(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
        uint64_t a = q->off_align, start, end;
        _cleanup_free_ uint8_t *b = NULL;
        int r;

        if (!q->direct || (IS_ALIGNED(off, a) && IS_ALIGNED((uint64_t)len, a) && IS_ALIGNED((uintptr_t)buf, 4096)))
                return pread_zero_eof(q->fd, buf, len, off);
        start = off & ~(a - 1);
        end = ALIGN_UP(off + len, a);
        b = alloc_aligned((size_t)(end - start));
        if (!b)
                return -ENOMEM;
        r = pread_zero_eof(q->fd, b, (size_t)(end - start), start);
        if (r < 0)
                return r;
        memcpy(buf, b + (off - start), len);
        return 0;
}

/* Writes are always of whole aligned buffers of ours (clusters, tables, the header). */
static int meta_write(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
        return pwrite_full(q->fd, buf, len, (off_t)off);
}

static int meta_sync(struct qcow2 *q)
{
        return fdatasync(q->fd) < 0 ? -errno : 0;
}

/* ---- the metadata bitmap ---- */

static int meta_grow(struct qcow2 *q, uint64_t c)
{
        uint64_t n;
        uint8_t *m;

        if (c < q->meta_n)
                return 0;
        n = MAX(ALIGN_UP(c + 1, 64ull), q->meta_n * 2);
        m = realloc(q->meta, (size_t)(n / 8));
        if (!m)
                return -ENOMEM;
        memset(m + q->meta_n / 8, 0, (size_t)((n - q->meta_n) / 8));
        q->meta = m;
        q->meta_n = n;
        return 0;
}

static bool meta_test(const struct qcow2 *q, uint64_t c)
{
        return c < q->meta_n && (q->meta[c / 8] >> (c % 8)) & 1;
}

static int meta_set(struct qcow2 *q, uint64_t c, bool v)
{
        int r = meta_grow(q, c);

        if (r < 0)
                return r;
        if (v)
                q->meta[c / 8] |= (uint8_t)(1u << (c % 8));
        else
                q->meta[c / 8] &= (uint8_t)~(1u << (c % 8));
        return 0;
}

/* Mark n clusters from host offset off as metadata; -EINVAL if any already is, or lies outside. */
static int meta_claim(struct qcow2 *q, uint64_t off, uint64_t n)
{
        uint64_t c = off >> q->cb;

        if (off & (q->cs - 1) || c + n > q->file_clusters)
                return -EINVAL;
        for (uint64_t i = 0; i < n; i++) {
                if (meta_test(q, c + i))
                        return -EINVAL;
                if (meta_set(q, c + i, true) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- refcounts ---- */

static uint64_t rb_get(const struct qcow2 *q, const uint8_t *b, uint64_t i)
{
        switch (q->rc_order) {
        case 0: case 1: case 2: {
                unsigned bits = 1u << q->rc_order;
                uint64_t bit = i * bits;

                return (b[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
        }
        case 3:
                return b[i];
        case 4:
                return (uint64_t)b[2 * i] << 8 | b[2 * i + 1];
        case 5:
                return (uint64_t)b[4 * i] << 24 | (uint64_t)b[4 * i + 1] << 16 | (uint64_t)b[4 * i + 2] << 8 |
                       b[4 * i + 3];
        default:
                return qcow2_be64(b + 8 * i);
        }
}

static void rb_put(const struct qcow2 *q, uint8_t *b, uint64_t i, uint64_t v)
{
        switch (q->rc_order) {
        case 0: case 1: case 2: {
                unsigned bits = 1u << q->rc_order;
                uint64_t bit = i * bits;
                uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));

                b[bit / 8] = (uint8_t)((b[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
                return;
        }
        case 3:
                b[i] = (uint8_t)v;
                return;
        case 4:
                b[2 * i] = (uint8_t)(v >> 8);
                b[2 * i + 1] = (uint8_t)v;
                return;
        case 5:
                for (int k = 3; k >= 0; k--, v >>= 8)
                        b[4 * i + (unsigned)k] = (uint8_t)v;
                return;
        default:
                qcow2_put_be64(b + 8 * i, v);
                return;
        }
}

static uint64_t rc_max(const struct qcow2 *q)
{
        return q->rc_order == 6 ? UINT64_MAX : (1ull << (1u << q->rc_order)) - 1;
}

static int rt_grow(struct qcow2 *q, uint64_t need);
static int rc_set(struct qcow2 *q, uint64_t c, uint64_t v);

/* Take the next cluster at the end of the file, without counting it (the caller does). */
static int take_cluster(struct qcow2 *q, uint64_t *ret);

/* The refcount block for table index ri: loaded, or created (with create) when missing. */
static int rb_load(struct qcow2 *q, uint64_t ri, bool create, uint8_t **ret)
{
        uint64_t off, c;
        uint8_t *b;
        int r;

        *ret = NULL;
        if (ri >= q->rt_n) {
                if (!create)
                        return 0;
                r = rt_grow(q, ri + 1);
                if (r < 0)
                        return r;
        }
        if (q->rb[ri]) {
                *ret = q->rb[ri];
                return 0;
        }
        off = q->rt[ri] & QCOW2_REFT_OFFSET_MASK;
        if (off) {
                b = alloc_aligned(q->cs);
                if (!b)
                        return -ENOMEM;
                r = meta_read(q, b, q->cs, off);
                if (r < 0) {
                        free(b);
                        return r;
                }
                q->rb[ri] = *ret = b;
                return 0;
        }
        if (!create)
                return 0;
        r = take_cluster(q, &c);
        if (r < 0)
                return r;
        b = alloc_aligned(q->cs);
        if (!b)
                return -ENOMEM;
        q->rb[ri] = b;
        q->rb_dirty[ri] = true;
        q->rt[ri] = c << q->cb;
        q->rt_dirty = q->dirty = true;
        r = meta_set(q, c, true);
        if (r < 0)
                return r;
        /* The new block counts itself, wherever that count lives. */
        r = rc_set(q, c, 1);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

static int rc_get(struct qcow2 *q, uint64_t c, uint64_t *ret)
{
        uint8_t *b;
        int r = rb_load(q, c / q->rb_entries, false, &b);

        if (r < 0)
                return r;
        *ret = b ? rb_get(q, b, c % q->rb_entries) : 0;
        return 0;
}

static int rc_set(struct qcow2 *q, uint64_t c, uint64_t v)
{
        uint64_t ri = c / q->rb_entries;
        uint8_t *b;
        int r;

        if (v > rc_max(q))
                return -EOVERFLOW;
        r = rb_load(q, ri, true, &b);
        if (r < 0)
                return r;
        rb_put(q, b, c % q->rb_entries, v);
        q->rb_dirty[ri] = true;
        q->dirty = true;
        return 0;
}

static int take_cluster(struct qcow2 *q, uint64_t *ret)
{
        for (;;) {
                uint64_t c = q->next_free, v;
                int r;

                if (c >= (1ull << (56 - q->cb)))
                        return -ENOSPC;
                /* Counts beyond the end of the file would be odd, but are honoured. */
                if (c < q->rt_n * q->rb_entries) {
                        r = rc_get(q, c, &v);
                        if (r < 0)
                                return r;
                } else {
                        v = 0;
                }
                q->next_free++;
                if (v == 0) {
                        q->file_clusters = MAX(q->file_clusters, q->next_free);
                        *ret = c;
                        return 0;
                }
        }
}

/* A counted cluster for data or an L2 table; returns its index. */
static int alloc_cluster(struct qcow2 *q, bool metadata, uint64_t *ret)
{
        uint64_t c;
        int r = take_cluster(q, &c);

        if (r < 0)
                return r;
        if (metadata && (r = meta_set(q, c, true)) < 0)
                return r;
        r = rc_set(q, c, 1);
        if (r < 0)
                return r;
        q->stats.allocated_clusters++;
        *ret = c;
        return 0;
}

/* Drop one reference to cluster c, once the metadata without it is on disk (see top). */
static int free_later(struct qcow2 *q, uint64_t c)
{
        if (q->n_frees == q->cap_frees) {
                size_t n = MAX(q->cap_frees * 2, (size_t)64);
                uint64_t *f = realloc(q->frees, n * sizeof(*f));

                if (!f)
                        return -ENOMEM;
                q->frees = f;
                q->cap_frees = n;
        }
        q->frees[q->n_frees++] = c;
        q->dirty = true;
        return 0;
}

/* The host clusters a compressed entry's data touches. */
static void compressed_span(const struct qcow2 *q, uint64_t e, uint64_t *off, uint64_t *len)
{
        uint32_t x = 62 - (q->cb - 8);
        uint64_t nsect = ((e >> x) & ((1ull << (q->cb - 8)) - 1)) + 1;

        *off = e & ((1ull << x) - 1);
        *len = nsect * 512 - (*off & 511);
}

/* The clusters an L2 entry holds go away (it is being replaced). */
static int release_entry(struct qcow2 *q, uint64_t e)
{
        if (e & QCOW2_OFLAG_COMPRESSED) {
                uint64_t off, len;
                int r;

                compressed_span(q, e, &off, &len);
                off &= ~511ull;
                for (uint64_t c = off >> q->cb; c <= (off + len - 1) >> q->cb; c++)
                        if ((r = free_later(q, c)) < 0)
                                return r;
                return 0;
        }
        if (e & QCOW2_L2E_OFFSET_MASK)
                return free_later(q, (e & QCOW2_L2E_OFFSET_MASK) >> q->cb);
        return 0;
}

/* Grow the refcount table to at least `need` entries: a new, bigger table at the end. */
static int rt_grow(struct qcow2 *q, uint64_t need)
{
        uint64_t n = MAX(need, q->rt_n * 2), clusters, c0, old_off = q->h.rt_offset, old_clusters;
        uint64_t *rt;
        uint8_t **rb;
        bool *rbd;
        int r;

        clusters = (n * 8 + q->cs - 1) / q->cs;
        if (clusters * q->cs > QCOW2_MAX_REFTABLE_BYTES)
                return -ENOSPC;
        n = clusters * q->cs / 8;
        rt = realloc(q->rt, n * sizeof(*rt));
        if (!rt)
                return -ENOMEM;
        q->rt = rt;
        rb = realloc(q->rb, n * sizeof(*rb));
        if (!rb)
                return -ENOMEM;
        q->rb = rb;
        rbd = realloc(q->rb_dirty, n * sizeof(*rbd));
        if (!rbd)
                return -ENOMEM;
        q->rb_dirty = rbd;
        for (uint64_t i = q->rt_n; i < n; i++) {
                q->rt[i] = 0;
                q->rb[i] = NULL;
                q->rb_dirty[i] = false;
        }
        q->rt_n = n;
        /* Place it: contiguous clusters at the end. */
        c0 = q->next_free;
        for (uint64_t i = 0; i < clusters; i++) {
                uint64_t c;

                r = take_cluster(q, &c);
                if (r < 0)
                        return r;
                if (c != c0 + i)
                        return -EIO;    /* a count beyond the end of the file: give up */
                if ((r = meta_set(q, c, true)) < 0)
                        return r;
        }
        old_clusters = q->h.rt_clusters;
        q->h.rt_offset = c0 << q->cb;
        q->h.rt_clusters = (uint32_t)clusters;
        q->rt_moved = q->rt_dirty = q->hdr_dirty = q->dirty = true;
        for (uint64_t i = 0; i < clusters; i++)
                if ((r = rc_set(q, c0 + i, 1)) < 0)
                        return r;
        for (uint64_t i = 0; i < old_clusters; i++)
                if ((r = free_later(q, (old_off >> q->cb) + i)) < 0)
                        return r;
        return 0;
}

/* ---- L2 tables ---- */

static int commit_locked(struct qcow2 *q);

/* Make room in the cache: drop the least recently used table (writing back first if all are dirty). */
static int l2_evict(struct qcow2 *q)
{
        uint64_t victim = UINT64_MAX, best = UINT64_MAX;
        int r;

        for (int pass = 0; pass < 2 && victim == UINT64_MAX; pass++) {
                for (uint64_t i = 0; i < q->h.l1_size; i++)
                        if (q->l2[i].e && !q->l2[i].dirty && q->l2[i].used < best) {
                                best = q->l2[i].used;
                                victim = i;
                        }
                if (victim == UINT64_MAX && pass == 0 && (r = commit_locked(q)) < 0)
                        return r;
        }
        if (victim == UINT64_MAX)
                return 0;
        free(q->l2[victim].e);
        q->l2[victim].e = NULL;
        q->l2_loaded--;
        q->stats.l2_evictions++;
        return 0;
}

/*
 * The L2 table of L1 index i, or NULL (*ret) when there is none and !alloc. With alloc, a
 * missing table is created and a shared one (no COPIED flag) copied, so the caller may
 * change entries.
 */
static int l2_get(struct qcow2 *q, uint64_t i, bool alloc, uint64_t **ret)
{
        struct l2tab *t = &q->l2[i];
        uint64_t l1e = q->l1[i], off = l1e & QCOW2_L1E_OFFSET_MASK, c;
        uint64_t *e;
        int r;

        *ret = NULL;
        if (!t->e && off) {
                if (q->l2_loaded >= q->l2_cap && (r = l2_evict(q)) < 0)
                        return r;
                e = alloc_aligned(q->cs);
                if (!e)
                        return -ENOMEM;
                r = meta_read(q, e, q->cs, off);
                if (r < 0) {
                        free(e);
                        return r;
                }
                t->e = e;
                t->dirty = false;
                q->l2_loaded++;
                q->stats.l2_loads++;
        }
        if (t->e)
                t->used = ++q->l2_clock;
        if (!alloc) {
                *ret = t->e;
                return 0;
        }
        if (t->e && (l1e & QCOW2_OFLAG_COPIED)) {
                *ret = t->e;
                return 0;
        }
        /* New, or shared with a snapshot: a table of our own. */
        if (!t->e) {
                if (q->l2_loaded >= q->l2_cap && (r = l2_evict(q)) < 0)
                        return r;
                t->e = alloc_aligned(q->cs);
                if (!t->e)
                        return -ENOMEM;
                q->l2_loaded++;
        }
        r = alloc_cluster(q, true, &c);
        if (r < 0)
                return r;
        if (off && (r = free_later(q, off >> q->cb)) < 0)
                return r;
        q->l1[i] = (c << q->cb) | QCOW2_OFLAG_COPIED;
        t->dirty = true;
        q->l1_dirty = q->dirty = true;
        t->used = ++q->l2_clock;
        *ret = t->e;
        return 0;
}

/* Classify an L2 entry; *host gets the cluster's offset (K_NORMAL). -EIO for a bad one. */
static int entry_kind(const struct qcow2 *q, uint64_t e, uint64_t *host)
{
        uint64_t off;

        if (e & QCOW2_OFLAG_COMPRESSED)
                return K_COMPRESSED;
        if (q->h.version >= 3 && (e & QCOW2_OFLAG_ZERO))
                return K_ZERO;
        off = e & QCOW2_L2E_OFFSET_MASK;
        if (!off)
                return K_UNALLOC;
        if (off & (q->cs - 1) || (off >> q->cb) >= q->file_clusters || meta_test(q, off >> q->cb))
                return -EIO;
        *host = off;
        return K_NORMAL;
}

/* ---- reading what is not a plain host cluster ---- */

static int backing_read(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
        size_t n = 0;

        if (q->backing && off < q->backing_size) {
                int r;

                n = (size_t)MIN((uint64_t)len, q->backing_size - off);
                r = vsp_image_pread(q->backing, buf, n, off);
                if (r < 0)
                        return r;
        }
        memset((uint8_t *)buf + n, 0, len - n);
        return 0;
}

/* The whole cluster a compressed entry holds, into q->zbuf. */
static int decompress(struct qcow2 *q, uint64_t e)
{
        uint64_t off, len;
        z_stream z = { 0 };
        int r;

        if (q->zentry == e)
                return 0;
        q->zentry = 0;
        compressed_span(q, e, &off, &len);
        if (len > 2 * q->cs || off >= q->file_clusters << q->cb || meta_test(q, off >> q->cb))
                return -EIO;
        r = meta_read(q, q->zin, (size_t)len, off);
        if (r < 0)
                return r;
        if (inflateInit2(&z, -12) != Z_OK)
                return -ENOMEM;
        z.next_in = q->zin;
        z.avail_in = (uInt)len;
        z.next_out = q->zbuf;
        z.avail_out = (uInt)q->cs;
        r = inflate(&z, Z_FINISH);
        inflateEnd(&z);
        if ((r != Z_STREAM_END && r != Z_BUF_ERROR && r != Z_OK) || z.avail_out != 0)
                return -EIO;
        q->zentry = e;
        return 0;
}

/* The current contents of bytes [in, in+n) of virtual cluster vc with entry e (not K_NORMAL). */
static int fill_other(struct qcow2 *q, int kind, uint64_t e, uint64_t vc, uint64_t in, void *buf, size_t n)
{
        int r;

        switch (kind) {
        case K_ZERO:
                memset(buf, 0, n);
                return 0;
        case K_UNALLOC:
                return backing_read(q, buf, n, (vc << q->cb) + in);
        case K_COMPRESSED:
                r = decompress(q, e);
                if (r < 0)
                        return r;
                memcpy(buf, q->zbuf + in, n);
                return 0;
        default:
                return -EIO;
        }
}

static int entry_at(struct qcow2 *q, uint64_t vc, bool alloc, uint64_t **tab, uint64_t *idx)
{
        int r = l2_get(q, vc / q->l2n, alloc, tab);

        *idx = vc % q->l2n;
        return r;
}

/* ---- the request paths ---- */

/* Host extents of one request, relative to its start. */
struct extent {
        uint64_t rel, len, host;
};

struct plan {
        struct extent *x;
        unsigned n, cap;
        struct extent local[8];
};

static void plan_init(struct plan *p)
{
        p->x = p->local;
        p->n = 0;
        p->cap = ARRAY_SIZE(p->local);
}

static void plan_done(struct plan *p)
{
        if (p->x != p->local)
                free(p->x);
        p->x = p->local;
}

/* Add [rel, rel+len) at host, merged with the last extent when it continues it. */
static int plan_add(struct plan *p, uint64_t rel, uint64_t len, uint64_t host)
{
        struct extent *l = p->n ? &p->x[p->n - 1] : NULL;

        if (l && l->rel + l->len == rel && l->host + l->len == host) {
                l->len += len;
                return 0;
        }
        if (p->n == p->cap) {
                unsigned cap = p->cap * 4;
                struct extent *x = malloc(cap * sizeof(*x));

                if (!x)
                        return -ENOMEM;
                memcpy(x, p->x, p->n * sizeof(*x));
                if (p->x != p->local)
                        free(p->x);
                p->x = x;
                p->cap = cap;
        }
        p->x[p->n++] = (struct extent) { rel, len, host };
        return 0;
}

/* Map a read: plain clusters into the plan, the rest filled into iov now. */
static int map_read(struct qcow2 *q, const struct iovec *iov, unsigned niov, uint64_t off, uint64_t len,
                    struct plan *p)
{
        for (uint64_t pos = off; pos < off + len;) {
                uint64_t vc = pos >> q->cb, in = pos & (q->cs - 1), n = MIN(q->cs - in, off + len - pos);
                uint64_t *tab, idx, e = 0, host = 0;
                int kind, r;

                r = entry_at(q, vc, false, &tab, &idx);
                if (r < 0)
                        return r;
                if (tab)
                        e = qcow2_be64(&tab[idx]);
                kind = entry_kind(q, e, &host);
                if (kind < 0)
                        return kind;
                if (kind == K_NORMAL) {
                        r = plan_add(p, pos - off, n, host + in);
                } else if (kind == K_ZERO || (kind == K_UNALLOC && !q->backing)) {
                        iov_memset(iov, niov, pos - off, 0, (size_t)n);
                } else {
                        r = fill_other(q, kind, e, vc, in, q->scratch, (size_t)n);
                        if (r == 0)
                                iov_from_buf(iov, niov, pos - off, q->scratch, (size_t)n);
                }
                if (r < 0)
                        return r;
                pos += n;
        }
        return 0;
}

/*
 * One cluster's piece of a write: data is [src_off, src_off+n) of src. Plain clusters of
 * ours are written in place (planned); anything else gets a new cluster: written whole
 * later when the piece covers it, else built and written here.
 */
static int write_piece(struct qcow2 *q, uint64_t vc, uint64_t in, uint64_t n, const struct iovec *src,
                       unsigned nsrc, uint64_t src_off, uint64_t rel, struct plan *p)
{
        uint64_t *tab, idx, e, host = 0, c;
        int kind, r;

        r = entry_at(q, vc, true, &tab, &idx);
        if (r < 0)
                return r;
        e = qcow2_be64(&tab[idx]);
        kind = entry_kind(q, e, &host);
        if (kind < 0)
                return kind;
        if (kind == K_NORMAL && (e & QCOW2_OFLAG_COPIED))
                return plan_add(p, rel, n, host + in);
        if (n < q->cs) {
                /* The rest of the cluster as it reads now, then the new bytes over it. */
                if (kind == K_NORMAL)
                        r = meta_read(q, q->scratch, q->cs, host);
                else
                        r = fill_other(q, kind, e, vc, 0, q->scratch, q->cs);
                if (r < 0)
                        return r;
                iov_to_buf(src, nsrc, src_off, q->scratch + in, (size_t)n);
                r = alloc_cluster(q, false, &c);
                if (r < 0)
                        return r;
                r = meta_write(q, q->scratch, q->cs, c << q->cb);
                if (r < 0)
                        return r;
                q->stats.cow_clusters++;
        } else {
                r = alloc_cluster(q, false, &c);
                if (r < 0)
                        return r;
                r = plan_add(p, rel, n, c << q->cb);
                if (r < 0)
                        return r;
        }
        r = release_entry(q, e);
        if (r < 0)
                return r;
        qcow2_put_be64(&tab[idx], (c << q->cb) | QCOW2_OFLAG_COPIED);
        q->l2[vc / q->l2n].dirty = true;
        q->dirty = true;
        return 0;
}

/*
 * Keep the file as long as what was allocated, so no mapping ever points past its end:
 * with blocks behind the new clusters (fallocate), so the data writes that follow land in
 * allocated space instead of extending the file one write at a time.
 */
static int extend_file(struct qcow2 *q)
{
        uint64_t want = q->file_clusters << q->cb;

        if (q->file_bytes >= want)
                return 0;
        if (fallocate(q->fd, 0, (off_t)q->file_bytes, (off_t)(want - q->file_bytes)) < 0 &&
            ftruncate(q->fd, (off_t)want) < 0)
                return -errno;
        q->file_bytes = want;
        return 0;
}

static int map_write(struct qcow2 *q, const struct iovec *iov, unsigned niov, uint64_t off, uint64_t len,
                     struct plan *p)
{
        uint64_t before = q->file_clusters;
        int r = 0;

        for (uint64_t pos = off; pos < off + len && r == 0;) {
                uint64_t in = pos & (q->cs - 1), n = MIN(q->cs - in, off + len - pos);

                r = write_piece(q, pos >> q->cb, in, n, iov, niov, pos - off, pos - off, p);
                pos += n;
        }
        if (q->file_clusters != before) {
                int r2 = extend_file(q);

                if (r == 0)
                        r = r2;
        }
        return r;
}

static int check_range(const struct qcow2 *q, uint64_t off, uint64_t len)
{
        return off > q->h.size || len > q->h.size - off ? -EIO : 0;
}

/* Send the plan's extents through the ring (io finishes when they all have). */
static int plan_submit(struct vsp_uring *u, struct vsp_io *io, bool write, struct iovec *iov, unsigned niov,
                       const struct plan *p)
{
        struct child {
                struct vsp_io io;
                unsigned n;
                struct iovec v[];
        };
        size_t stride = ALIGN_UP(sizeof(struct child) + ((size_t)niov + 1) * sizeof(struct iovec), (size_t)16);
        uint8_t *block;
        int r;

        if (p->n == 0) {
                vsp_uring_complete(u, io, 0);
                return 0;
        }
        if (p->n == 1 && p->x[0].rel == 0 && p->x[0].len == iov_size(iov, niov))
                return vsp_uring_host_rw(u, io, write, iov, niov, p->x[0].host);
        block = calloc(p->n, stride);
        if (!block)
                return -ENOMEM;
        vsp_io_parent_begin(io, block);
        for (unsigned i = 0; i < p->n; i++) {
                struct child *c = (struct child *)(block + i * stride);
                int k = iov_slice(iov, niov, p->x[i].rel, p->x[i].len, c->v, niov + 1);

                r = k < 0 ? k : vsp_uring_child_rw(u, io, &c->io, write, c->v, (unsigned)k, p->x[i].host);
                if (r < 0) {
                        vsp_io_parent_fail(io, r);
                        break;
                }
        }
        vsp_io_parent_end(u, io);
        return 0;
}

int qcow2_submit_rw(struct vsp_uring *u, struct qcow2 *q, struct vsp_io *io, bool write, struct iovec *iov,
                    unsigned n, uint64_t off)
{
        struct plan p;
        uint64_t len = iov_size(iov, n);
        int r;

        if (write && q->readonly)
                return -EROFS;
        r = check_range(q, off, len);
        if (r < 0)
                return r;
        plan_init(&p);
        pthread_mutex_lock(&q->lock);
        if (write && q->failed)
                r = -EIO;
        else
                r = write ? map_write(q, iov, n, off, len, &p) : map_read(q, iov, n, off, len, &p);
        pthread_mutex_unlock(&q->lock);
        if (r == 0)
                r = plan_submit(u, io, write, iov, n, &p);
        plan_done(&p);
        return r;
}

static int write_l1(struct qcow2 *q)
{
        for (uint64_t i = 0; i < q->h.l1_size; i++)
                qcow2_put_be64(q->l1_buf + 8 * i, q->l1[i]);
        return meta_write(q, q->l1_buf, q->l1_bytes, q->h.l1_offset);
}

static int write_rt(struct qcow2 *q)
{
        size_t bytes = (size_t)q->h.rt_clusters << q->cb;
        _cleanup_free_ uint8_t *b = alloc_aligned(bytes);

        if (!b)
                return -ENOMEM;
        for (uint64_t i = 0; i < q->rt_n && (i + 1) * 8 <= bytes; i++)
                qcow2_put_be64(b + 8 * i, q->rt[i]);
        return meta_write(q, b, bytes, q->h.rt_offset);
}

static int write_header(struct qcow2 *q)
{
        qcow2_put_be64(q->hdr + 48, q->h.rt_offset);
        q->hdr[56] = (uint8_t)(q->h.rt_clusters >> 24);
        q->hdr[57] = (uint8_t)(q->h.rt_clusters >> 16);
        q->hdr[58] = (uint8_t)(q->h.rt_clusters >> 8);
        q->hdr[59] = (uint8_t)q->h.rt_clusters;
        if (q->h.version >= 3)
                qcow2_put_be64(q->hdr + 88, q->h.autoclear);
        return meta_write(q, q->hdr, q->hdr_len, 0);
}

static int write_refblocks(struct qcow2 *q)
{
        for (uint64_t i = 0; i < q->rt_n; i++) {
                int r;

                if (!q->rb_dirty[i])
                        continue;
                r = meta_write(q, q->rb[i], q->cs, q->rt[i] & QCOW2_REFT_OFFSET_MASK);
                if (r < 0)
                        return r;
                q->rb_dirty[i] = false;
        }
        return 0;
}

/* Step 5: subtract the references that are gone from disk, give their space back. */
static int apply_frees(struct qcow2 *q)
{
        for (size_t i = 0; i < q->n_frees; i++) {
                uint64_t c = q->frees[i], v;
                int r = rc_get(q, c, &v);

                if (r < 0)
                        return r;
                if (v == 0)
                        continue;       /* a hostile image's double reference: leave it */
                r = rc_set(q, c, v - 1);
                if (r < 0)
                        return r;
                if (v == 1) {
                        (void)meta_set(q, c, false);
                        if (c == q->zentry >> q->cb)
                                q->zentry = 0;
                        (void)fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(c << q->cb),
                                        (off_t)q->cs);
                }
        }
        q->n_frees = 0;
        return 0;
}

static int commit_locked(struct qcow2 *q)
{
        bool any_l2 = false;
        int r;

        if (!q->dirty)
                return 0;
        if (q->readonly)
                return 0;
        q->stats.commits++;
        /* 1 */
        if ((r = write_refblocks(q)) < 0 || (r = meta_sync(q)) < 0)
                goto fail;
        /* 2 */
        if (q->rt_dirty) {
                if ((r = write_rt(q)) < 0 || (r = meta_sync(q)) < 0)
                        goto fail;
                if (q->rt_moved || q->hdr_dirty) {
                        if ((r = write_header(q)) < 0 || (r = meta_sync(q)) < 0)
                                goto fail;
                        q->rt_moved = q->hdr_dirty = false;
                }
                q->rt_dirty = false;
        }
        /* 3 */
        for (uint64_t i = 0; i < q->h.l1_size; i++) {
                struct l2tab *t = &q->l2[i];

                if (!t->e || !t->dirty)
                        continue;
                r = meta_write(q, t->e, q->cs, q->l1[i] & QCOW2_L1E_OFFSET_MASK);
                if (r < 0)
                        goto fail;
                t->dirty = false;
                any_l2 = true;
        }
        if (any_l2 && (r = meta_sync(q)) < 0)
                goto fail;
        /* 4 */
        if (q->l1_dirty) {
                if ((r = write_l1(q)) < 0 || (r = meta_sync(q)) < 0)
                        goto fail;
                q->l1_dirty = false;
        }
        /* 5 */
        if (q->n_frees) {
                if ((r = apply_frees(q)) < 0 || (r = write_refblocks(q)) < 0 || (r = meta_sync(q)) < 0)
                        goto fail;
                /* Freeing may have grown nothing else; the old refcount table is gone too. */
                if (q->rt_dirty && ((r = write_rt(q)) < 0 || (r = meta_sync(q)) < 0))
                        goto fail;
                q->rt_dirty = false;
        }
        q->dirty = false;
        return 0;
fail:
        log_error_errno(r, "qcow2 %s: writing metadata failed: %m; further writes fail until it succeeds", q->name);
        q->failed = true;
        return r;
}

int qcow2_commit(struct qcow2 *q)
{
        int r;

        pthread_mutex_lock(&q->lock);
        r = commit_locked(q);
        if (r == 0)
                q->failed = false;
        pthread_mutex_unlock(&q->lock);
        return r;
}

int qcow2_submit_flush(struct vsp_uring *u, struct qcow2 *q, struct vsp_io *io)
{
        bool dirty;
        int r;

        pthread_mutex_lock(&q->lock);
        dirty = q->dirty || q->failed;
        pthread_mutex_unlock(&q->lock);
        if (!dirty)
                return vsp_uring_host_fsync(u, io);
        r = qcow2_commit(q);
        vsp_uring_complete(u, io, r);
        return 0;
}

/*
 * A whole cluster to read as zeros without data: unallocated when nothing shows through
 * from below, else a zero cluster (version 3). *done false: it needs zeros written.
 */
static int zero_cluster(struct qcow2 *q, uint64_t vc, bool *done)
{
        uint64_t *tab, idx, e, want;
        int r;

        *done = false;
        if (q->h.version < 3 && q->backing)
                return 0;
        want = q->backing ? QCOW2_OFLAG_ZERO : 0;
        r = entry_at(q, vc, false, &tab, &idx);
        if (r < 0)
                return r;
        e = tab ? qcow2_be64(&tab[idx]) : 0;
        if (e == want) {
                *done = true;
                return 0;
        }
        r = entry_at(q, vc, true, &tab, &idx);
        if (r < 0)
                return r;
        e = qcow2_be64(&tab[idx]);
        r = release_entry(q, e);
        if (r < 0)
                return r;
        qcow2_put_be64(&tab[idx], want);
        q->l2[vc / q->l2n].dirty = true;
        q->dirty = true;
        *done = true;
        return 0;
}

int qcow2_submit_zero(struct vsp_uring *u, struct qcow2 *q, struct vsp_io *io, uint64_t off, uint64_t len,
                      bool discard)
{
        uint64_t before;
        int r;

        if (q->readonly)
                return -EROFS;
        r = check_range(q, off, len);
        if (r < 0)
                return r;
        pthread_mutex_lock(&q->lock);
        before = q->file_clusters;
        if (q->failed)
                r = -EIO;
        for (uint64_t pos = off; pos < off + len && r == 0;) {
                uint64_t vc = pos >> q->cb, in = pos & (q->cs - 1), n = MIN(q->cs - in, off + len - pos);
                bool done = false;

                if (n == q->cs)
                        r = zero_cluster(q, vc, &done);
                if (r == 0 && !done && !discard) {
                        /* Part of a cluster (or version 2 over a backing file): write zeros. */
                        struct plan one;

                        plan_init(&one);
                        r = write_piece(q, vc, in, n, &q->zero_iov, 1, 0, 0, &one);
                        for (unsigned i = 0; r == 0 && i < one.n; i++)
                                r = pwrite_full(q->fd, q->zero_iov.iov_base, (size_t)one.x[i].len, (off_t)one.x[i].host);
                        plan_done(&one);
                }
                pos += n;
        }
        if (q->file_clusters != before) {
                int r2 = extend_file(q);

                if (r == 0)
                        r = r2;
        }
        pthread_mutex_unlock(&q->lock);
        if (r < 0)
                return r;
        vsp_uring_complete(u, io, 0);
        return 0;
}

int qcow2_pread(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
        size_t n = off < q->h.size ? (size_t)MIN((uint64_t)len, q->h.size - off) : 0;
        int r = 0;

        memset((uint8_t *)buf + n, 0, len - n);
        for (size_t done = 0; done < n && r == 0;) {
                /* A cluster at a time keeps the plan small. */
                size_t chunk = (size_t)MIN((uint64_t)(n - done), q->cs - ((off + done) & (q->cs - 1)));
                struct iovec cv = { (uint8_t *)buf + done, chunk };
                struct plan p;

                plan_init(&p);
                pthread_mutex_lock(&q->lock);
                r = map_read(q, &cv, 1, off + done, chunk, &p);
                for (unsigned i = 0; r == 0 && i < p.n; i++)
                        r = meta_read(q, (uint8_t *)buf + done + p.x[i].rel, (size_t)p.x[i].len, p.x[i].host);
                pthread_mutex_unlock(&q->lock);
                plan_done(&p);
                done += chunk;
        }
        return r;
}

uint64_t qcow2_virtual_size(const struct qcow2 *q) { return q->h.size; }
bool qcow2_has_backing(const struct qcow2 *q) { return q->backing != NULL; }

void qcow2_get_stats(struct qcow2 *q, struct qcow2_stats *ret)
{
        pthread_mutex_lock(&q->lock);
        *ret = q->stats;
        pthread_mutex_unlock(&q->lock);
}

/* ---- open and close ---- */

void qcow2_close(struct qcow2 *q)
{
        if (!q)
                return;
        if (!q->readonly && q->dirty)
                (void)commit_locked(q);
        if (q->l2)
                for (uint64_t i = 0; i < q->h.l1_size; i++)
                        free(q->l2[i].e);
        if (q->rb)
                for (uint64_t i = 0; i < q->rt_n; i++)
                        free(q->rb[i]);
        free(q->l2);
        free(q->rb);
        free(q->rb_dirty);
        free(q->rt);
        free(q->l1);
        free(q->l1_buf);
        free(q->meta);
        free(q->frees);
        free(q->hdr);
        free(q->scratch);
        free(q->zbuf);
        free(q->zin);
        free(q->zero_iov.iov_base);
        pthread_mutex_destroy(&q->lock);
        free(q);
}
DEFINE_TRIVIAL_CLEANUP(struct qcow2, qcow2_close)

_printf_(3, 4)
static int open_error(char *err, size_t err_len, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Walk the refcount and L1 tables: every table inside the file, none on another. */
static int claim_tables(struct qcow2 *q, char *err, size_t err_len)
{
        uint64_t l1_clusters = (q->l1_bytes + q->cs - 1) >> q->cb;

        if (meta_claim(q, 0, 1) < 0)
                return open_error(err, err_len, "header cluster outside the file");
        if (q->h.l1_size && meta_claim(q, q->h.l1_offset, l1_clusters) < 0)
                return open_error(err, err_len, "L1 table overlaps the header or lies outside the file");
        if (meta_claim(q, q->h.rt_offset, q->h.rt_clusters) < 0)
                return open_error(err, err_len, "refcount table overlaps other metadata or lies outside the file");
        for (uint64_t i = 0; i < q->rt_n; i++) {
                uint64_t off = q->rt[i] & QCOW2_REFT_OFFSET_MASK;

                if (off && meta_claim(q, off, 1) < 0)
                        return open_error(err, err_len, "refcount block %llu at %#llx overlaps other metadata or lies "
                                          "outside the file", (unsigned long long)i, (unsigned long long)off);
        }
        for (uint64_t i = 0; i < q->h.l1_size; i++) {
                uint64_t off = q->l1[i] & QCOW2_L1E_OFFSET_MASK;

                if (off && meta_claim(q, off, 1) < 0)
                        return open_error(err, err_len, "L2 table %llu at %#llx overlaps other metadata or lies outside "
                                          "the file", (unsigned long long)i, (unsigned long long)off);
        }
        return 0;
}

int qcow2_open(const struct qcow2_open_args *a, struct qcow2 **ret, char *err, size_t err_len)
{
        _cleanup_(qcow2_closep) struct qcow2 *q = NULL;
        struct stat st;
        uint64_t file_size, rt_bytes;
        int r;

        if (fstat(a->fd, &st) < 0)
                return -errno;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        pthread_mutex_init(&q->lock, NULL);
        q->fd = a->fd;
        q->readonly = a->readonly;
        q->direct = a->direct;
        q->off_align = MAX(a->off_align, 512u);
        q->backing = a->backing;
        snprintf(q->name, sizeof(q->name), "%s", a->name ? a->name : "image");
        if (S_ISREG(st.st_mode)) {
                file_size = (uint64_t)st.st_size;
        } else {
                return open_error(err, err_len, "qcow2 on a block device is not supported");
        }
        /* The header as the parser needs it: the first cluster (max 2 MiB). */
        q->hdr_len = (size_t)MIN(file_size, (uint64_t)1 << QCOW2_MAX_CLUSTER_BITS);
        q->hdr_len = ALIGN_UP(MAX(q->hdr_len, (size_t)512), (size_t)q->off_align);
        q->hdr = alloc_aligned(q->hdr_len);
        if (!q->hdr)
                return -ENOMEM;
        r = meta_read(q, q->hdr, q->hdr_len, 0);
        if (r < 0)
                return r;
        r = qcow2_header_parse(q->hdr, (size_t)MIN((uint64_t)q->hdr_len, file_size), file_size, &q->h, err, err_len);
        if (r < 0)
                return r;
        q->cs = q->h.cluster_size;
        q->cb = q->h.cluster_bits;
        q->l2n = q->cs / 8;
        q->rc_order = q->h.refcount_order;
        q->rb_entries = (q->cs * 8) >> q->rc_order;
        q->hdr_len = (size_t)MIN((uint64_t)q->hdr_len, q->cs);  /* what write_header rewrites */
        q->hdr_len = ALIGN_UP(q->hdr_len, (size_t)q->off_align);
        if (q->direct && q->cs < q->off_align)
                return open_error(err, err_len, "clusters of %llu bytes are smaller than the %u bytes direct I/O "
                                  "needs here; use cache=writeback", (unsigned long long)q->cs, q->off_align);
        if (!q->readonly && (q->h.incompat & QCOW2_INCOMPAT_DIRTY))
                return open_error(err, err_len, "the image was not closed cleanly by a writer using lazy refcounts "
                                  "(dirty bit set); repair it with 'qemu-img check -r all' first");
        if (!q->readonly && q->h.nb_snapshots)
                return open_error(err, err_len, "the image has %u internal snapshots, which are not supported for "
                                  "writing (open it read-only, or delete them with qemu-img snapshot -d)",
                                  q->h.nb_snapshots);
        if (q->backing)
                q->backing_size = vsp_image_size(q->backing);
        else if (q->h.backing_name[0])
                return open_error(err, err_len, "backing file '%s' was not opened", q->h.backing_name);
        q->file_clusters = (file_size + q->cs - 1) >> q->cb;
        q->file_bytes = file_size;
        q->next_free = q->file_clusters;

        /* L1 */
        q->l1_bytes = ALIGN_UP((size_t)q->h.l1_size * 8, (size_t)q->cs);
        q->l1_buf = alloc_aligned(MAX(q->l1_bytes, (size_t)q->cs));
        q->l1 = calloc(MAX(q->h.l1_size, 1u), sizeof(*q->l1));
        q->l2 = calloc(MAX(q->h.l1_size, 1u), sizeof(*q->l2));
        if (!q->l1_buf || !q->l1 || !q->l2)
                return -ENOMEM;
        if (q->h.l1_size && (r = meta_read(q, q->l1_buf, q->l1_bytes, q->h.l1_offset)) < 0)
                return r;
        for (uint64_t i = 0; i < q->h.l1_size; i++) {
                q->l1[i] = qcow2_be64(q->l1_buf + 8 * i);
                if (q->l1[i] & QCOW2_L1E_OFFSET_MASK & (q->cs - 1))
                        return open_error(err, err_len, "L1 entry %llu is not cluster-aligned", (unsigned long long)i);
        }
        /* Refcount table */
        rt_bytes = (uint64_t)q->h.rt_clusters << q->cb;
        q->rt_n = rt_bytes / 8;
        q->rt = calloc(q->rt_n, sizeof(*q->rt));
        q->rb = calloc(q->rt_n, sizeof(*q->rb));
        q->rb_dirty = calloc(q->rt_n, sizeof(*q->rb_dirty));
        if (!q->rt || !q->rb || !q->rb_dirty)
                return -ENOMEM;
        {
                _cleanup_free_ uint8_t *b = alloc_aligned((size_t)rt_bytes);

                if (!b)
                        return -ENOMEM;
                r = meta_read(q, b, (size_t)rt_bytes, q->h.rt_offset);
                if (r < 0)
                        return r;
                for (uint64_t i = 0; i < q->rt_n; i++) {
                        q->rt[i] = qcow2_be64(b + 8 * i);
                        if (q->rt[i] & ~QCOW2_REFT_OFFSET_MASK || q->rt[i] & (q->cs - 1))
                                return open_error(err, err_len, "refcount table entry %llu is not cluster-aligned",
                                                  (unsigned long long)i);
                }
        }
        r = claim_tables(q, err, err_len);
        if (r < 0)
                return r;

        q->l2_cap = (a->cache_bytes ? a->cache_bytes : QCOW2_DEFAULT_CACHE) >> q->cb;
        q->l2_cap = MAX(MIN(q->l2_cap, (uint64_t)q->h.l1_size), 4ull);
        q->scratch = alloc_aligned(q->cs);
        q->zbuf = alloc_aligned(q->cs);
        q->zin = alloc_aligned(2 * q->cs + 2 * q->off_align);
        q->zero_iov = (struct iovec) { alloc_aligned(q->cs), q->cs };
        if (!q->scratch || !q->zbuf || !q->zin || !q->zero_iov.iov_base)
                return -ENOMEM;

        /* Writing invalidates what autoclear features describe (e.g. persistent bitmaps). */
        if (!q->readonly && q->h.version >= 3 && q->h.autoclear) {
                q->h.autoclear = 0;
                if ((r = write_header(q)) < 0 || (r = meta_sync(q)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(q);
        return 0;
}
