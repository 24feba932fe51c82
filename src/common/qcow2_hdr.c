/* SPDX-License-Identifier: MIT */
/* The qcow2 header: parse, check, create (see include/vmms/qcow2.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/macro.h"
#include "vmms/qcow2.h"
#include "vmms/util.h"

static uint32_t be32(const uint8_t *b)
{
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t *b, uint32_t v)
{
        b[0] = (uint8_t)(v >> 24);
        b[1] = (uint8_t)(v >> 16);
        b[2] = (uint8_t)(v >> 8);
        b[3] = (uint8_t)v;
}

_printf_(4, 5)
static int hdr_error(int r, char *err, size_t err_len, const char *fmt, ...)
{
        va_list ap;

        if (err && err_len) {
                va_start(ap, fmt);
                vsnprintf(err, err_len, fmt, ap);
                va_end(ap);
        }
        return r;
}

const char *qcow2_backing_format_name(enum qcow2_backing_format f)
{
        switch (f) {
        case QCOW2_BACKING_RAW:
                return "raw";
        case QCOW2_BACKING_QCOW2:
                return "qcow2";
        case QCOW2_BACKING_UNKNOWN:
                return "unknown";
        default:
                return "none";
        }
}

uint64_t qcow2_l1_entries_for(uint64_t size, uint32_t cluster_bits)
{
        uint32_t shift = cluster_bits + (cluster_bits - 3);     /* bytes one L2 table maps */

        return (size + (1ull << shift) - 1) >> shift;
}

/* [a, a+alen) and [b, b+blen) overlap. */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
        return a < b + blen && b < a + alen;
}

/* The name of incompatible feature `bit` from the feature table, if the image has one. */
static void feature_name(const uint8_t *tab, size_t tab_len, unsigned bit, char *buf, size_t len)
{
        snprintf(buf, len, "bit %u", bit);
        for (size_t off = 0; tab && off + 48 <= tab_len; off += 48) {
                if (tab[off] != 0 || tab[off + 1] != bit)
                        continue;
                char name[47];
                size_t i;

                for (i = 0; i < 46 && tab[off + 2 + i] >= 0x20 && tab[off + 2 + i] < 0x7f; i++)
                        name[i] = (char)tab[off + 2 + i];
                name[i] = 0;
                if (i)
                        snprintf(buf, len, "bit %u, \"%s\"", bit, name);
                return;
        }
}

int qcow2_header_parse(const uint8_t *b, size_t len, uint64_t file_size, struct qcow2_header *h, char *err,
                       size_t err_len)
{
        uint64_t l1_need, l1_bytes, rt_bytes, cs, ext_end;
        const uint8_t *ftab = NULL;
        size_t ftab_len = 0;
        uint32_t off;

        memset(h, 0, sizeof(*h));
        if (len < QCOW2_V2_HEADER_BYTES || be32(b) != QCOW2_MAGIC)
                return hdr_error(-EINVAL, err, err_len, "not a qcow2 image (no qcow2 magic)");
        h->version = be32(b + 4);
        if (h->version != 2 && h->version != 3)
                return hdr_error(-EOPNOTSUPP, err, err_len, "qcow2 version %u is not supported (only 2 and 3)",
                                 h->version);
        if (qcow2_be64(b + 8) > UINT32_MAX)
                return hdr_error(-EINVAL, err, err_len, "backing file name lies outside the header cluster");
        h->backing_name_offset = (uint32_t)qcow2_be64(b + 8);
        h->backing_name_len = be32(b + 16);
        h->cluster_bits = be32(b + 20);
        h->size = qcow2_be64(b + 24);
        if (be32(b + 32))
                return hdr_error(-EOPNOTSUPP, err, err_len, "the image is encrypted (method %u); encrypted qcow2 "
                                 "is not supported", be32(b + 32));
        h->l1_size = be32(b + 36);
        h->l1_offset = qcow2_be64(b + 40);
        h->rt_offset = qcow2_be64(b + 48);
        h->rt_clusters = be32(b + 56);
        h->nb_snapshots = be32(b + 60);
        h->snapshots_offset = qcow2_be64(b + 64);
        if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
                return hdr_error(-EINVAL, err, err_len, "cluster size 2^%u is outside 512 B .. 2 MiB", h->cluster_bits);
        cs = h->cluster_size = 1ull << h->cluster_bits;
        if (h->version == 2) {
                h->refcount_order = 4;
                h->header_length = QCOW2_V2_HEADER_BYTES;
        } else {
                if (len < QCOW2_V3_HEADER_BYTES)
                        return hdr_error(-EINVAL, err, err_len, "truncated version 3 header");
                h->incompat = qcow2_be64(b + 72);
                h->compat = qcow2_be64(b + 80);
                h->autoclear = qcow2_be64(b + 88);
                h->refcount_order = be32(b + 96);
                h->header_length = be32(b + 100);
                if (h->header_length < QCOW2_V3_HEADER_BYTES || h->header_length > cs || h->header_length > len)
                        return hdr_error(-EINVAL, err, err_len, "header length %u is outside %u .. the cluster size",
                                         h->header_length, QCOW2_V3_HEADER_BYTES);
                if (h->header_length > QCOW2_V3_HEADER_BYTES)
                        h->compression_type = b[104];
        }
        if (h->refcount_order > 6)
                return hdr_error(-EINVAL, err, err_len, "refcount order %u is above 6", h->refcount_order);
        if (cs > len && cs <= file_size)
                return hdr_error(-EINVAL, err, err_len, "internal: header cluster not read whole");

        /* Extensions: from the end of the header to the end of cluster 0. */
        ext_end = MIN((uint64_t)len, cs);
        off = h->header_length;
        h->backing_format = QCOW2_BACKING_UNKNOWN;
        while ((uint64_t)off + 8 <= ext_end) {
                uint32_t type = be32(b + off), elen = be32(b + off + 4);
                const uint8_t *data = b + off + 8;

                if (type == QCOW2_EXT_END)
                        break;
                if ((uint64_t)off + 8 + elen > ext_end)
                        return hdr_error(-EINVAL, err, err_len, "header extension 0x%08x runs past the header cluster",
                                         type);
                switch (type) {
                case QCOW2_EXT_BACKING_FORMAT:
                        if (elen == 3 && memcmp(data, "raw", 3) == 0)
                                h->backing_format = QCOW2_BACKING_RAW;
                        else if (elen == 5 && memcmp(data, "qcow2", 5) == 0)
                                h->backing_format = QCOW2_BACKING_QCOW2;
                        else
                                return hdr_error(-EOPNOTSUPP, err, err_len, "backing file format '%.*s' is not "
                                                 "supported (raw or qcow2)", (int)MIN(elen, 32u), (const char *)data);
                        break;
                case QCOW2_EXT_FEATURE_TABLE:
                        ftab = data;
                        ftab_len = elen;
                        break;
                case QCOW2_EXT_CRYPTO:
                        return hdr_error(-EOPNOTSUPP, err, err_len, "the image is encrypted (LUKS); encrypted qcow2 "
                                         "is not supported");
                case QCOW2_EXT_DATA_FILE:
                        return hdr_error(-EOPNOTSUPP, err, err_len, "the image keeps its data in an external data "
                                         "file, which is not supported");
                default:
                        break;          /* bitmaps and unknown ones: compatible by definition */
                }
                off += 8 + ((elen + 7u) & ~7u);
        }

        /* Incompatible features: refuse what we cannot honour, naming it. */
        if (h->incompat & QCOW2_INCOMPAT_CORRUPT)
                return hdr_error(-EINVAL, err, err_len, "the image is marked corrupt; repair it with "
                                 "'qemu-img check -r all'");
        if (h->incompat & QCOW2_INCOMPAT_DATA_FILE)
                return hdr_error(-EOPNOTSUPP, err, err_len, "the image keeps its data in an external data file, "
                                 "which is not supported");
        if (h->incompat & QCOW2_INCOMPAT_EXTL2)
                return hdr_error(-EOPNOTSUPP, err, err_len, "the image uses extended L2 entries (subclusters), "
                                 "which are not supported");
        if (h->incompat & QCOW2_INCOMPAT_COMPRESSION) {
                if (h->header_length <= QCOW2_V3_HEADER_BYTES)
                        return hdr_error(-EINVAL, err, err_len, "compression type bit set but no compression type field");
                if (h->compression_type == 1)
                        return hdr_error(-EOPNOTSUPP, err, err_len, "the image uses zstd compression, which is not "
                                         "supported (convert with qemu-img convert -O qcow2 -o compression_type=zlib)");
        }
        if (h->compression_type > 0 && h->compression_type != 1)
                return hdr_error(-EOPNOTSUPP, err, err_len, "unknown compression type %u", h->compression_type);
        if (h->compression_type == 1)
                return hdr_error(-EOPNOTSUPP, err, err_len, "the image uses zstd compression, which is not supported");
        {
                uint64_t unknown = h->incompat & ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_COMPRESSION);

                if (unknown) {
                        char name[80];

                        feature_name(ftab, ftab_len, (unsigned)__builtin_ctzll(unknown), name, sizeof(name));
                        return hdr_error(-EOPNOTSUPP, err, err_len, "unknown incompatible feature (%s)", name);
                }
        }

        /* The backing file's name lives in cluster 0 too. */
        if (h->backing_name_offset || h->backing_name_len) {
                if (h->backing_name_len == 0 || h->backing_name_len > QCOW2_BACKING_NAME_MAX)
                        return hdr_error(-EINVAL, err, err_len, "backing file name length %u is outside 1 .. %u",
                                         h->backing_name_len, QCOW2_BACKING_NAME_MAX);
                if ((uint64_t)h->backing_name_offset + h->backing_name_len > ext_end ||
                    h->backing_name_offset < QCOW2_V2_HEADER_BYTES)
                        return hdr_error(-EINVAL, err, err_len, "backing file name lies outside the header cluster");
                memcpy(h->backing_name, b + h->backing_name_offset, h->backing_name_len);
                h->backing_name[h->backing_name_len] = 0;
                if (strlen(h->backing_name) != h->backing_name_len)
                        return hdr_error(-EINVAL, err, err_len, "backing file name contains a NUL byte");
        } else {
                h->backing_format = QCOW2_BACKING_NONE;
        }

        /* Tables: aligned, inside the file, not overlapping each other or the header. */
        if (h->size > (1ull << 62))
                return hdr_error(-EINVAL, err, err_len, "virtual size %llu is too large", (unsigned long long)h->size);
        l1_need = qcow2_l1_entries_for(h->size, h->cluster_bits);
        l1_bytes = (uint64_t)h->l1_size * 8;
        if (h->l1_size < l1_need)
                return hdr_error(-EINVAL, err, err_len, "L1 table (%u entries) too small for the virtual size",
                                 h->l1_size);
        if (l1_bytes > QCOW2_MAX_L1_BYTES)
                return hdr_error(-EINVAL, err, err_len, "L1 table of %u entries is larger than %u MiB", h->l1_size,
                                 QCOW2_MAX_L1_BYTES >> 20);
        rt_bytes = (uint64_t)h->rt_clusters * cs;
        if (h->rt_clusters == 0 || rt_bytes > QCOW2_MAX_REFTABLE_BYTES)
                return hdr_error(-EINVAL, err, err_len, "refcount table of %u clusters is empty or too large",
                                 h->rt_clusters);
        if (h->l1_offset & (cs - 1) || (l1_bytes && (h->l1_offset == 0 || h->l1_offset + l1_bytes > file_size)))
                return hdr_error(-EINVAL, err, err_len, "L1 table at %#llx is unaligned or outside the file",
                                 (unsigned long long)h->l1_offset);
        if (h->rt_offset & (cs - 1) || h->rt_offset == 0 || h->rt_offset + rt_bytes > file_size)
                return hdr_error(-EINVAL, err, err_len, "refcount table at %#llx is unaligned or outside the file",
                                 (unsigned long long)h->rt_offset);
        if (l1_bytes && overlaps(h->l1_offset, l1_bytes, h->rt_offset, rt_bytes))
                return hdr_error(-EINVAL, err, err_len, "L1 table and refcount table overlap");
        if (h->nb_snapshots && (h->snapshots_offset & (cs - 1) || h->snapshots_offset == 0 ||
                                h->snapshots_offset >= file_size))
                return hdr_error(-EINVAL, err, err_len, "snapshot table is unaligned or outside the file");
        return 0;
}

int qcow2_header_read(int fd, struct qcow2_header *h, char *err, size_t err_len)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t want = 1u << QCOW2_MAX_CLUSTER_BITS;
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return hdr_error(-errno, err, err_len, "cannot stat: %s", strerror(errno));
        if (S_ISREG(st.st_mode))
                want = (size_t)MIN((uint64_t)want, (uint64_t)st.st_size);
        /* Aligned, in whole 4 KiB blocks: the fd may have O_DIRECT. */
        want = ALIGN_UP(MAX(want, (size_t)1), (size_t)4096);
        buf = aligned_alloc(4096, want);
        if (!buf)
                return -ENOMEM;
        n = pread(fd, buf, want, 0);
        if (n < 0)
                return hdr_error(-errno, err, err_len, "cannot read the header: %s", strerror(errno));
        if (!S_ISREG(st.st_mode)) {
                uint64_t sz = 0;

                if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
                        return hdr_error(-EINVAL, err, err_len, "not a regular file or block device");
                return qcow2_header_parse(buf, (size_t)n, sz, h, err, err_len);
        }
        return qcow2_header_parse(buf, (size_t)n, (uint64_t)st.st_size, h, err, err_len);
}

int qcow2_probe_fd(int fd)
{
        uint8_t m[4];
        ssize_t n = pread(fd, m, sizeof(m), 0);

        if (n < 0)
                return -errno;
        return n == 4 && be32(m) == QCOW2_MAGIC;
}

int qcow2_create(int fd, uint64_t size, uint32_t cluster_bits, const char *backing,
                 enum qcow2_backing_format backing_format, char *err, size_t err_len)
{
        _cleanup_free_ uint8_t *c0 = NULL, *rt = NULL, *rb = NULL, *l1 = NULL;
        uint64_t cs = 1ull << cluster_bits, l1_entries, l1_clusters, n_clusters;
        size_t blen = backing ? strlen(backing) : 0;
        uint32_t off = QCOW2_V3_HEADER_BYTES + 8;       /* + the compression type, padded */
        const char *fmt = qcow2_backing_format_name(backing_format);
        int r;

        if (cluster_bits < QCOW2_MIN_CLUSTER_BITS || cluster_bits > QCOW2_MAX_CLUSTER_BITS)
                return hdr_error(-EINVAL, err, err_len, "cluster size must be a power of two in 512 B .. 2 MiB");
        if (size == 0 || size > (1ull << 62) || size % 512)
                return hdr_error(-EINVAL, err, err_len, "size must be a non-zero multiple of 512 bytes");
        if (blen > QCOW2_BACKING_NAME_MAX)
                return hdr_error(-EINVAL, err, err_len, "backing file name longer than %u bytes", QCOW2_BACKING_NAME_MAX);
        l1_entries = qcow2_l1_entries_for(size, cluster_bits);
        if (l1_entries * 8 > QCOW2_MAX_L1_BYTES)
                return hdr_error(-EINVAL, err, err_len, "size too large for cluster size %llu",
                                 (unsigned long long)cs);
        l1_clusters = MAX((l1_entries * 8 + cs - 1) / cs, 1ull);
        /* Layout: header, refcount table, one refcount block, the L1 table. */
        n_clusters = 3 + l1_clusters;
        if (n_clusters > cs * 8 / 16)
                return hdr_error(-EINVAL, err, err_len, "size too large for cluster size %llu (use larger clusters)",
                                 (unsigned long long)cs);
        if (backing && (uint64_t)off + 16 + ((strlen(fmt) + 7) & ~7u) + blen > cs)
                return hdr_error(-EINVAL, err, err_len, "backing file name does not fit in one %llu-byte cluster",
                                 (unsigned long long)cs);
        c0 = calloc(1, cs);
        rt = calloc(1, cs);
        rb = calloc(1, cs);
        l1 = calloc(1, l1_clusters * cs);
        if (!c0 || !rt || !rb || !l1)
                return -ENOMEM;
        put_be32(c0, QCOW2_MAGIC);
        put_be32(c0 + 4, 3);
        put_be32(c0 + 20, cluster_bits);
        qcow2_put_be64(c0 + 24, size);
        put_be32(c0 + 36, (uint32_t)l1_entries);
        qcow2_put_be64(c0 + 40, 3 * cs);
        qcow2_put_be64(c0 + 48, cs);
        put_be32(c0 + 56, 1);
        put_be32(c0 + 96, 4);
        put_be32(c0 + 100, QCOW2_V3_HEADER_BYTES + 8);  /* with the compression type byte (0: deflate) */
        if (backing) {
                size_t flen = strlen(fmt);

                /* The backing format is recorded when known (readers probe otherwise). */
                if (backing_format == QCOW2_BACKING_RAW || backing_format == QCOW2_BACKING_QCOW2) {
                        put_be32(c0 + off, QCOW2_EXT_BACKING_FORMAT);
                        put_be32(c0 + off + 4, (uint32_t)flen);
                        memcpy(c0 + off + 8, fmt, flen);
                        off += 8 + (uint32_t)((flen + 7) & ~7u);
                }
                off += 8;       /* the end marker (zeros) */
                qcow2_put_be64(c0 + 8, off);
                put_be32(c0 + 16, (uint32_t)blen);
                memcpy(c0 + off, backing, blen);
        }
        qcow2_put_be64(rt, 2 * cs);
        for (uint64_t i = 0; i < n_clusters; i++) {
                rb[2 * i] = 0;
                rb[2 * i + 1] = 1;
        }
        if ((r = pwrite_full(fd, c0, cs, 0)) < 0 || (r = pwrite_full(fd, rt, cs, (off_t)cs)) < 0 ||
            (r = pwrite_full(fd, rb, cs, (off_t)(2 * cs))) < 0 || (r = pwrite_full(fd, l1, l1_clusters * cs, (off_t)(3 * cs))) < 0)
                return hdr_error(r, err, err_len, "cannot write the image: %s", strerror(-r));
        if (fsync(fd) < 0)
                return hdr_error(-errno, err, err_len, "cannot sync the image: %s", strerror(errno));
        return 0;
}
