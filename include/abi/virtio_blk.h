/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (device type 2, virtio 1.2 section 5.2): feature bits, configuration layout,
 * request header, discard/write-zeroes segments and status codes. Little-endian fields.
 *
 * Only <stdint.h> and friends: this header is compiled hosted and freestanding.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_BLK_F_SIZE_MAX         1u
#define VIRTIO_BLK_F_SEG_MAX          2u
#define VIRTIO_BLK_F_GEOMETRY         4u
#define VIRTIO_BLK_F_RO               5u
#define VIRTIO_BLK_F_BLK_SIZE         6u
#define VIRTIO_BLK_F_FLUSH            9u
#define VIRTIO_BLK_F_TOPOLOGY         10u
#define VIRTIO_BLK_F_CONFIG_WCE       11u
#define VIRTIO_BLK_F_MQ               12u
#define VIRTIO_BLK_F_DISCARD          13u
#define VIRTIO_BLK_F_WRITE_ZEROES     14u
#define VIRTIO_BLK_F_LIFETIME         15u
#define VIRTIO_BLK_F_SECURE_ERASE     16u
#define VIRTIO_BLK_F_ZONED            17u

#define VIRTIO_BLK_SECTOR_SIZE        512u
#define VIRTIO_BLK_SECTOR_SHIFT       9u
#define VIRTIO_BLK_ID_BYTES           20u

struct virtio_blk_geometry {
        uint16_t cylinders;
        uint8_t heads;
        uint8_t sectors;
};
_Static_assert(sizeof(struct virtio_blk_geometry) == 4, "virtio_blk_geometry size");

struct virtio_blk_topology {
        uint8_t physical_block_exp;
        uint8_t alignment_offset;
        uint16_t min_io_size;
        uint32_t opt_io_size;
};
_Static_assert(sizeof(struct virtio_blk_topology) == 8, "virtio_blk_topology size");

struct virtio_blk_zoned_characteristics {
        uint32_t zone_sectors;
        uint32_t max_open_zones;
        uint32_t max_active_zones;
        uint32_t max_append_sectors;
        uint32_t write_granularity;
        uint8_t model;
        uint8_t unused2[3];
};
_Static_assert(sizeof(struct virtio_blk_zoned_characteristics) == 24, "zoned size");

struct virtio_blk_config {
        uint64_t capacity;              /* in 512-byte sectors */
        uint32_t size_max;
        uint32_t seg_max;
        struct virtio_blk_geometry geometry;
        uint32_t blk_size;
        struct virtio_blk_topology topology;
        uint8_t writeback;
        uint8_t unused0;
        uint16_t num_queues;
        uint32_t max_discard_sectors;
        uint32_t max_discard_seg;
        uint32_t discard_sector_alignment;
        uint32_t max_write_zeroes_sectors;
        uint32_t max_write_zeroes_seg;
        uint8_t write_zeroes_may_unmap;
        uint8_t unused1[3];
        uint32_t max_secure_erase_sectors;
        uint32_t max_secure_erase_seg;
        uint32_t secure_erase_sector_alignment;
        struct virtio_blk_zoned_characteristics zoned;
};
_Static_assert(sizeof(struct virtio_blk_config) == 96, "virtio_blk_config size");
_Static_assert(offsetof(struct virtio_blk_config, size_max) == 8, "size_max");
_Static_assert(offsetof(struct virtio_blk_config, seg_max) == 12, "seg_max");
_Static_assert(offsetof(struct virtio_blk_config, geometry) == 16, "geometry");
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "blk_size");
_Static_assert(offsetof(struct virtio_blk_config, topology) == 24, "topology");
_Static_assert(offsetof(struct virtio_blk_config, writeback) == 32, "writeback");
_Static_assert(offsetof(struct virtio_blk_config, num_queues) == 34, "num_queues");
_Static_assert(offsetof(struct virtio_blk_config, max_discard_sectors) == 36, "max_discard_sectors");
_Static_assert(offsetof(struct virtio_blk_config, max_discard_seg) == 40, "max_discard_seg");
_Static_assert(offsetof(struct virtio_blk_config, discard_sector_alignment) == 44, "discard_align");
_Static_assert(offsetof(struct virtio_blk_config, max_write_zeroes_sectors) == 48, "max_wz_sectors");
_Static_assert(offsetof(struct virtio_blk_config, max_write_zeroes_seg) == 52, "max_wz_seg");
_Static_assert(offsetof(struct virtio_blk_config, write_zeroes_may_unmap) == 56, "wz_may_unmap");
_Static_assert(offsetof(struct virtio_blk_config, max_secure_erase_sectors) == 60, "max_se_sectors");
_Static_assert(offsetof(struct virtio_blk_config, zoned) == 72, "zoned");

/* Request types */
#define VIRTIO_BLK_T_IN               0u
#define VIRTIO_BLK_T_OUT              1u
#define VIRTIO_BLK_T_FLUSH            4u
#define VIRTIO_BLK_T_GET_ID           8u
#define VIRTIO_BLK_T_GET_LIFETIME     10u
#define VIRTIO_BLK_T_DISCARD          11u
#define VIRTIO_BLK_T_WRITE_ZEROES     13u
#define VIRTIO_BLK_T_SECURE_ERASE     14u

/* Status byte, the last byte of the device-writable part */
#define VIRTIO_BLK_S_OK               0u
#define VIRTIO_BLK_S_IOERR            1u
#define VIRTIO_BLK_S_UNSUPP           2u

/* The device-readable header at the start of every request. */
struct virtio_blk_outhdr {
        uint32_t type;
        uint32_t ioprio;
        uint64_t sector;
};
_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "virtio_blk_outhdr size");
_Static_assert(offsetof(struct virtio_blk_outhdr, sector) == 8, "sector");

/* Data of DISCARD, WRITE_ZEROES and SECURE_ERASE: an array of these. */
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 0x1u
struct virtio_blk_discard_write_zeroes {
        uint64_t sector;
        uint32_t num_sectors;
        uint32_t flags;
};
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16, "discard segment size");
_Static_assert(offsetof(struct virtio_blk_discard_write_zeroes, flags) == 12, "flags");
