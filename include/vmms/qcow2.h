/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 image format (QEMU's docs/interop/qcow2.txt), the part shared by vmms, vmctl's
 * API methods and the storage VSP: reading and checking the header (untrusted input: every
 * field is bounds-checked before use), creating an empty image, and probing.
 *
 * On-disk layout in short: cluster 0 holds the header, its extensions and the backing
 * file's name; the L1 table points to L2 tables, whose 8-byte entries map one guest
 * cluster each to a host cluster (or mark it zero, compressed or unallocated: then the
 * backing file, or zeros, show through); the refcount table points to refcount blocks,
 * which count the references to every host cluster. All integers are big-endian.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCOW2_MAGIC             0x514649fbu     /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS  9u
#define QCOW2_MAX_CLUSTER_BITS  21u
#define QCOW2_DEFAULT_CLUSTER_BITS 16u
#define QCOW2_MAX_L1_BYTES      (32u << 20)     /* as QEMU: enough for any sane size */
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)
#define QCOW2_BACKING_NAME_MAX  1023u
#define QCOW2_CHAIN_MAX         16u             /* images in a chain, the top included */
#define QCOW2_V2_HEADER_BYTES   72u
#define QCOW2_V3_HEADER_BYTES   104u

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY            (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT          (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE        (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION      (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2            (1ull << 4)
/* Compatible and autoclear bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS     (1ull << 0)
#define QCOW2_AUTOCLEAR_BITMAPS         (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW   (1ull << 1)

/* Header extension types. */
#define QCOW2_EXT_END                   0x00000000u
#define QCOW2_EXT_BACKING_FORMAT        0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE         0x6803f857u
#define QCOW2_EXT_BITMAPS               0x23852875u
#define QCOW2_EXT_CRYPTO                0x0537be77u
#define QCOW2_EXT_DATA_FILE             0x44415441u

/* Table entries. */
#define QCOW2_OFLAG_COPIED      (1ull << 63)    /* refcount is exactly 1: write in place */
#define QCOW2_OFLAG_COMPRESSED  (1ull << 62)
#define QCOW2_OFLAG_ZERO        1ull            /* v3 L2 entries: reads as zeros */
#define QCOW2_L1E_OFFSET_MASK   0x00fffffffffffe00ull
#define QCOW2_L2E_OFFSET_MASK   0x00fffffffffffe00ull
#define QCOW2_REFT_OFFSET_MASK  0xfffffffffffffe00ull

enum qcow2_backing_format {
        QCOW2_BACKING_NONE,
        QCOW2_BACKING_UNKNOWN,  /* no backing-format extension: the caller probes */
        QCOW2_BACKING_RAW,
        QCOW2_BACKING_QCOW2,
};

struct qcow2_header {
        uint32_t version;               /* 2 or 3 */
        uint32_t cluster_bits;
        uint64_t cluster_size;
        uint64_t size;                  /* virtual, bytes */
        uint32_t l1_size;               /* entries */
        uint64_t l1_offset;
        uint64_t rt_offset;
        uint32_t rt_clusters;
        uint32_t nb_snapshots;
        uint64_t snapshots_offset;
        uint64_t incompat, compat, autoclear;
        uint32_t refcount_order;        /* refcount width is 1 << order bits */
        uint32_t header_length;
        uint8_t compression_type;       /* 0: deflate */
        uint32_t backing_name_offset, backing_name_len;
        char backing_name[QCOW2_BACKING_NAME_MAX + 1];  /* "" without a backing file */
        enum qcow2_backing_format backing_format;
};

/*
 * Parse and check the header in buf (the file's first bytes, at least the header cluster
 * or the whole file if shorter; file_size is the file's size). Refuses, with a message
 * naming the reason: not qcow2, bad version or cluster size, encryption, external data
 * files, extended L2 entries, zstd, unknown incompatible features, the corrupt bit, tables
 * outside the file or overlapping each other or the header, an L1 table too small for the
 * virtual size or too big. The dirty bit and internal snapshots are reported, not refused:
 * what to do about them is the opener's call. Returns 0, -EINVAL (malformed) or
 * -EOPNOTSUPP (a feature we do not support).
 */
int qcow2_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct qcow2_header *h, char *err,
                       size_t err_len);

/* Read the first cluster (up to 2 MiB) of fd and parse it. The same returns, plus -errno. */
int qcow2_header_read(int fd, struct qcow2_header *h, char *err, size_t err_len);

/* Whether fd starts with the qcow2 magic: 1, 0, or a negative errno. */
int qcow2_probe_fd(int fd);

/* Entries per L2 table, bytes one L2 table maps, L1 entries a size needs. */
static inline uint64_t qcow2_l2_entries(const struct qcow2_header *h) { return h->cluster_size / 8; }
uint64_t qcow2_l1_entries_for(uint64_t size, uint32_t cluster_bits);

/*
 * Write a new, empty version-3 image into fd (an empty regular file): virtual size `size`,
 * 1 << cluster_bits clusters, 16-bit refcounts, and a backing file (name as it is to be
 * stored, and its format) when backing is not NULL. Returns 0 or a negative errno, with a
 * message in err.
 */
int qcow2_create(int fd, uint64_t size, uint32_t cluster_bits, const char *backing,
                 enum qcow2_backing_format backing_format, char *err, size_t err_len);

const char *qcow2_backing_format_name(enum qcow2_backing_format f);

/* Big-endian helpers for tables. */
static inline uint64_t qcow2_be64(const void *p)
{
        const uint8_t *b = p;

        return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 | (uint64_t)b[3] << 32 |
               (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 | (uint64_t)b[6] << 8 | b[7];
}

static inline void qcow2_put_be64(void *p, uint64_t v)
{
        uint8_t *b = p;

        for (int i = 7; i >= 0; i--, v >>= 8)
                b[i] = (uint8_t)v;
}
