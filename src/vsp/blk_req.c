/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request classification: what a popped chain asks for, checked against the
 * disk's limits. Pure (no I/O, no state), so the fuzzer drives it directly.
 */
#include <endian.h>
#include <errno.h>

#include <abi/virtio.h>
#include <abi/virtio_blk.h>

#include "vmms/iov.h"
#include "vmms/macro.h"
#include "blk.h"

static void blk_fail_request(struct vsp_blk_parsed *p, uint8_t status)
{
        p->action = VSP_BLK_DONE;
        p->result = status;
        p->used_len = 1;
}

/* Check [sector, sector + bytes/512) against the capacity; bytes a multiple of 512. */
static bool blk_range_ok(const struct vsp_blk_limits *l, uint64_t sector, uint64_t bytes)
{
        uint64_t n = bytes >> VIRTIO_BLK_SECTOR_SHIFT;

        return (bytes & (VIRTIO_BLK_SECTOR_SIZE - 1)) == 0 && sector <= l->capacity &&
               n <= l->capacity - sector;
}

static int blk_parse(const struct vsp_blk_limits *l, struct iovec *iov, const struct virtq_elem *el,
                     struct vsp_blk_parsed *ret)
{
        struct virtio_blk_outhdr h;
        struct virtio_blk_discard_write_zeroes seg;
        struct iovec *in = iov + el->n_out, *last;
        unsigned n_in = el->n_in, n_out = el->n_out;
        struct vsp_blk_parsed p = { .action = VSP_BLK_DONE, .used_len = 1 };
        uint64_t sector, out_data = el->out_len - sizeof(h), in_data = el->in_len - 1;
        uint32_t flags;

        if (el->out_len < sizeof(h) || el->in_len < 1 || n_in == 0)
                return -EBADMSG;
        iov_to_buf(iov, n_out, 0, &h, sizeof(h));
        /* The status byte is the last device-writable byte; cut it off the data. */
        last = &in[n_in - 1];
        p.status = (uint8_t *)last->iov_base + last->iov_len - 1;
        if (--last->iov_len == 0)
                n_in--;
        /* Skip the header in the device-readable part. */
        for (uint64_t skip = sizeof(h); skip > 0;) {
                if (skip < iov->iov_len) {
                        iov->iov_base = (uint8_t *)iov->iov_base + skip;
                        iov->iov_len -= skip;
                        break;
                }
                skip -= iov->iov_len;
                iov++;
                n_out--;
        }
        p.type = le32toh(h.type);
        sector = le64toh(h.sector);

        switch (p.type) {
        case VIRTIO_BLK_T_IN:
                /* Data must be device-writable: readable data would mean writing to it. */
                if (out_data != 0 || !blk_range_ok(l, sector, in_data))
                        break;
                p.action = VSP_BLK_READ;
                p.data = in;
                p.n_data = n_in;
                p.offset = sector << VIRTIO_BLK_SECTOR_SHIFT;
                p.length = in_data;
                p.used_len = (uint32_t)MIN(in_data + 1, (uint64_t)UINT32_MAX);
                *ret = p;
                return 0;
        case VIRTIO_BLK_T_OUT:
                /* Data must be device-readable; the writable part is the status only. */
                if (l->readonly || in_data != 0 || !blk_range_ok(l, sector, out_data))
                        break;
                p.action = VSP_BLK_WRITE;
                p.data = iov;
                p.n_data = n_out;
                p.offset = sector << VIRTIO_BLK_SECTOR_SHIFT;
                p.length = out_data;
                *ret = p;
                return 0;
        case VIRTIO_BLK_T_FLUSH:
                p.action = l->readonly ? VSP_BLK_DONE : VSP_BLK_FLUSH;
                p.result = VIRTIO_BLK_S_OK;
                *ret = p;
                return 0;
        case VIRTIO_BLK_T_GET_ID:
                if (out_data != 0)
                        break;
                p.action = VSP_BLK_GET_ID;
                p.data = in;
                p.n_data = n_in;
                p.length = MIN(in_data, (uint64_t)VIRTIO_BLK_ID_BYTES);
                p.used_len = (uint32_t)p.length + 1;
                *ret = p;
                return 0;
        case VIRTIO_BLK_T_DISCARD:
        case VIRTIO_BLK_T_WRITE_ZEROES: {
                bool wz = p.type == VIRTIO_BLK_T_WRITE_ZEROES;
                uint64_t feat = VIRTIO_BIT(wz ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD);
                uint64_t nsec;

                if (!(l->features & feat) || l->readonly) {
                        blk_fail_request(&p, VIRTIO_BLK_S_UNSUPP);
                        *ret = p;
                        return 0;
                }
                if (out_data != sizeof(seg) || in_data != 0)    /* one segment only */
                        break;
                iov_to_buf(iov, n_out, 0, &seg, sizeof(seg));
                flags = le32toh(seg.flags);
                nsec = le32toh(seg.num_sectors);
                if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
                    (!wz && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))) {
                        blk_fail_request(&p, VIRTIO_BLK_S_UNSUPP);
                        *ret = p;
                        return 0;
                }
                if (nsec > VSP_BLK_MAX_DISCARD_SECTORS ||
                    !blk_range_ok(l, le64toh(seg.sector), nsec << VIRTIO_BLK_SECTOR_SHIFT))
                        break;
                p.action = wz ? VSP_BLK_WRITE_ZEROES : VSP_BLK_DISCARD;
                p.offset = le64toh(seg.sector) << VIRTIO_BLK_SECTOR_SHIFT;
                p.length = nsec << VIRTIO_BLK_SECTOR_SHIFT;
                p.unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
                *ret = p;
                return 0;
        }
        default:
                blk_fail_request(&p, VIRTIO_BLK_S_UNSUPP);
                *ret = p;
                return 0;
        }
        blk_fail_request(&p, VIRTIO_BLK_S_IOERR);
        *ret = p;
        return 0;
}

int vsp_blk_parse(const struct vsp_blk_limits *l, struct iovec *iov, const struct virtq_elem *el,
                  struct vsp_blk_parsed *ret)
{
        int r = blk_parse(l, iov, el, ret);

        if (r < 0)
                return r;
        /* A transfer of nothing is done at once. */
        if ((ret->action == VSP_BLK_READ || ret->action == VSP_BLK_WRITE ||
             ret->action == VSP_BLK_DISCARD || ret->action == VSP_BLK_WRITE_ZEROES) &&
            ret->length == 0) {
                ret->action = VSP_BLK_DONE;
                ret->result = VIRTIO_BLK_S_OK;
        }
        return 0;
}
