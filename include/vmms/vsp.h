/* SPDX-License-Identifier: MIT */
/* Virtual service providers: the device models behind VMBus channels. */
#pragma once

#include <stdint.h>

struct config_error;
struct disk_config;
struct vmbus;
struct vsp_blk;

struct vsp_blk_stats {
        uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
        uint64_t bytes_read, bytes_written;
        uint64_t io_errors;             /* backend errors (EIO, ENOSPC...) reported as IOERR */
        uint64_t bad_requests;          /* malformed or out-of-range requests (IOERR/UNSUPP) */
        uint64_t merged;                /* requests sent to the backend as part of another's transfer */
        uint64_t ring_errors;           /* protocol violations that needed a device reset */
};

/*
 * Open the disk's image and plug a virtio-blk device for it into the bus. The bus owns
 * the device; *ret_blk (may be NULL) stays valid until vmbus_free(). When the disk's own
 * settings are at fault (no such file, a FIFO, cache=none where direct I/O is not to be
 * had) err (may be NULL) says so; an empty err means the host failed.
 */
int vsp_blk_add(struct vmbus *bus, const struct disk_config *disk, struct vsp_blk **ret_blk,
                struct config_error *err);
void vsp_blk_get_stats(struct vsp_blk *b, struct vsp_blk_stats *ret);
