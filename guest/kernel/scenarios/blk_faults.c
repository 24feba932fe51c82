/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk scenarios about failure, for host tests:
 *
 *   blk-durable  write the blk-verify pattern (seed=, default 1) over the first half of the
 *                disk (or durable_bytes=), flush, print "#VMMS info blk-durable flushed=1 ..."
 *                and then keep writing the pattern of seed+1 over the second half without
 *                flushing, until the host kills the VM (or for durable_hold_ms=, default 60000).
 *                The host SIGKILLs the worker when it sees the line and checks the first half.
 *   blk-errors   write the pattern over the whole disk, counting the requests that end in
 *                VIRTIO_BLK_S_IOERR (a backend that runs out of space), then check the device
 *                still works: no DEVICE_NEEDS_RESET, the sectors whose writes succeeded read back
 *                right. "#VMMS info blk-errors writes_ok=N writes_ioerr=M ..."; with hold=1 the
 *                guest then waits for the power button so the host can read the device's
 *                statistics. expect_errors=0 accepts a run without errors.
 *
 * Both use one queue, bs= (65536) and qd= (16), and the options of blk_env.c.
 */
#include <abi/report.h>
#include <abi/virtio_blk.h>

#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenario.h"
#include "kernel/scenarios/blk.h"
#include "kernel/scenarios/scenarios.h"

#define WAIT_NS (10000ull * 1000000)    /* no completion for this long: the device is stuck */

struct stream {
        struct guest_blk_queue *q;
        uint8_t *bufs;
        uint32_t bs;                    /* bytes per request */
        unsigned depth;
        uint64_t seed;
        uint64_t start, end;            /* sectors */
        uint64_t next;
        uint64_t ok, ioerr, other;
        uint8_t *result;                /* per request: the status, or NULL */
        uint64_t first_err;
        bool wrap;                      /* start again at `start` when done */
        unsigned free_mask_words;
        uint64_t free_mask[4];          /* buffer slots, depth <= 256 */
};

static void stream_done(struct guest_blk_queue *q, struct guest_blk_req *req, void *ctx)
{
        struct stream *s = ctx;
        uintptr_t slot = (uintptr_t)req->user;
        uint64_t idx = (req->hdr.sector - s->start) * VIRTIO_BLK_SECTOR_SIZE / s->bs;

        if (req->status == VIRTIO_BLK_S_OK)
                s->ok++;
        else if (req->status == VIRTIO_BLK_S_IOERR) {
                if (!s->ioerr++)
                        s->first_err = req->hdr.sector;
        } else
                s->other++;
        if (s->result)
                s->result[idx] = req->status;
        s->free_mask[slot / 64] |= 1ull << (slot % 64);
}

static int stream_take_slot(struct stream *s)
{
        for (unsigned w = 0; w < s->free_mask_words; w++)
                if (s->free_mask[w]) {
                        int b = __builtin_ctzll(s->free_mask[w]);

                        s->free_mask[w] &= ~(1ull << b);
                        return (int)(w * 64 + (unsigned)b);
                }
        return -1;
}

/* Write [start, end) with the pattern of seed; until stop_ns when wrapping. */
static int stream_write(struct stream *s, uint64_t stop_ns)
{
        uint64_t bs_sectors = s->bs / VIRTIO_BLK_SECTOR_SIZE, deadline = guest_time_ns() + WAIT_NS;
        unsigned inflight = 0;
        int r;

        s->free_mask_words = (s->depth + 63) / 64;
        for (unsigned i = 0; i < s->depth; i++)
                s->free_mask[i / 64] |= 1ull << (i % 64);
        s->next = s->start;
        for (;;) {
                bool added = false;
                unsigned n;

                while (s->next < s->end && (!s->wrap || guest_time_ns() < stop_ns)) {
                        uint32_t sectors = (uint32_t)MIN(bs_sectors, s->end - s->next);
                        int slot = stream_take_slot(s);
                        uint8_t *buf;

                        if (slot < 0)
                                break;
                        buf = s->bufs + (uint64_t)slot * s->bs;
                        blk_pattern_fill(buf, s->next, sectors, s->seed);
                        r = guest_blk_submit(s->q, VIRTIO_BLK_T_OUT, s->next, buf, sectors * VIRTIO_BLK_SECTOR_SIZE,
                                             (void *)(uintptr_t)slot);
                        if (r == -EAGAIN) {
                                s->free_mask[slot / 64] |= 1ull << (slot % 64);
                                break;
                        }
                        if (r < 0)
                                return r;
                        inflight++;
                        added = true;
                        s->next += sectors;
                        if (s->next >= s->end && s->wrap)
                                s->next = s->start;
                }
                if (added)
                        guest_blk_kick(s->q);
                n = guest_blk_reap(s->q, stream_done, s);
                inflight -= n;
                if (n)
                        deadline = guest_time_ns() + WAIT_NS;
                if (!inflight && (s->next >= s->end || (s->wrap && guest_time_ns() >= stop_ns)))
                        return 0;
                if (n)
                        continue;
                r = guest_blk_wait(&s->q, 1, deadline, 1);
                if (r < 0)
                        return r;
        }
}

static int stream_init(struct stream *s, struct blk_env *e, uint64_t seed, uint64_t start, uint64_t end)
{
        uint64_t bs = guest_cmdline_get_u64("bs", 65536), depth = guest_cmdline_get_u64("qd", 16);
        const struct guest_blk *b = e->b;

        *s = (struct stream){ .q = &e->b->q[0], .seed = seed, .start = start, .end = end };
        bs = ALIGN_DOWN(MIN(MAX(bs, (uint64_t)b->blk_size), 1ull << 20), (uint64_t)b->blk_size);
        if (b->size_max)
                bs = MIN(bs, ALIGN_DOWN((uint64_t)b->size_max * b->max_segs, (uint64_t)b->blk_size));
        s->bs = (uint32_t)bs;
        s->depth = (unsigned)MIN(MIN(MAX(depth, 1ull), 256ull), (uint64_t)s->q->depth);
        s->bufs = (uint8_t *)(uintptr_t)guest_page_alloc((uint64_t)s->depth * s->bs, GUEST_PAGE_SIZE);
        if (!s->bufs) {
                guest_report_assert(GUEST_FILE, __LINE__, "out of memory for %u x %u byte buffers", s->depth, s->bs);
                return -ENOMEM;
        }
        return 0;
}

static int flush(struct guest_blk *b, uint8_t *ret_status)
{
        int r = guest_blk_sync(b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 10000, ret_status);

        if (r < 0)
                guest_report_assert(GUEST_FILE, __LINE__, "flush: %d (device status %#x)", r,
                                    guest_virtio_get_status(&b->vp));
        return r;
}

int guest_scenario_blk_durable(void)
{
        struct blk_env e;
        struct guest_blk *b;
        struct stream s;
        uint64_t seed = guest_cmdline_get_u64("seed", 1), half, hold_ms;
        uint8_t status;
        int r;

        r = blk_env_init(&e, BLK_WANT_RW, false, 1);
        if (r != 0)
                return r;
        b = e.b;
        half = MIN(guest_cmdline_get_u64("durable_bytes", b->capacity / 2 * VIRTIO_BLK_SECTOR_SIZE) /
                           VIRTIO_BLK_SECTOR_SIZE, b->capacity);
        half = ALIGN_DOWN(half, (uint64_t)b->blk_size / VIRTIO_BLK_SECTOR_SIZE);
        EXPECT_MSG(guest_blk_has(b, VIRTIO_BLK_F_FLUSH), "the device offers no flush");
        r = stream_init(&s, &e, seed, 0, half);
        if (r < 0)
                return r;
        r = stream_write(&s, 0);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "write: %d", r);
                return r;
        }
        EXPECT_MSG(s.ioerr == 0 && s.other == 0, "%lu writes failed", (unsigned long)(s.ioerr + s.other));
        r = flush(b, &status);
        if (r < 0)
                return r;
        EXPECT_MSG(status == VIRTIO_BLK_S_OK, "flush status %s", guest_blk_status_name(status));
        guest_report_info("blk-durable flushed=1 sectors=%lu seed=%lu status=%s", (unsigned long)half,
                          (unsigned long)seed, guest_blk_status_name(status));

        /* Un-flushed writes over the rest, for as long as the host lets us. */
        hold_ms = guest_cmdline_get_u64("durable_hold_ms", 60000);
        if (half < b->capacity && hold_ms) {
                s.seed = seed + 1;
                s.start = half;
                s.end = b->capacity;
                s.wrap = true;
                s.ok = s.ioerr = s.other = 0;
                r = stream_write(&s, guest_time_ns() + hold_ms * 1000000ull);
                if (r < 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "unflushed writes: %d", r);
                        return r;
                }
                guest_report_info("blk-durable unflushed_writes=%lu", (unsigned long)s.ok);
        }
        return 0;
}

int guest_scenario_blk_errors(void)
{
        struct blk_env e;
        struct guest_blk *b;
        struct stream s;
        uint64_t seed = guest_cmdline_get_u64("seed", 1), nreq, checked = 0, mismatches = 0;
        uint8_t status, *buf;
        int r;

        r = blk_env_init(&e, BLK_WANT_RW, false, 1);
        if (r != 0)
                return r;
        b = e.b;
        r = stream_init(&s, &e, seed, 0, b->capacity);
        if (r < 0)
                return r;
        nreq = (b->capacity * VIRTIO_BLK_SECTOR_SIZE + s.bs - 1) / s.bs;
        s.result = (uint8_t *)(uintptr_t)guest_page_alloc(nreq, GUEST_PAGE_SIZE);
        buf = (uint8_t *)(uintptr_t)guest_page_alloc(s.bs, GUEST_PAGE_SIZE);
        if (!s.result || !buf) {
                guest_report_assert(GUEST_FILE, __LINE__, "out of memory");
                return -ENOMEM;
        }
        memset(s.result, 0xff, nreq);
        r = stream_write(&s, 0);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "write: %d (device status %#x)", r,
                                    guest_virtio_get_status(&b->vp));
                return r;
        }
        r = flush(b, &status);
        if (r < 0)
                return r;
        /* The device still serves: the writes that worked read back. */
        for (uint64_t i = 0; i < nreq && checked < 64; i++) {
                uint64_t sector = i * (s.bs / VIRTIO_BLK_SECTOR_SIZE);
                uint32_t n = (uint32_t)MIN((uint64_t)s.bs / VIRTIO_BLK_SECTOR_SIZE, b->capacity - sector);
                uint8_t st;

                if (s.result[i] != VIRTIO_BLK_S_OK)
                        continue;
                r = guest_blk_sync(b, 0, VIRTIO_BLK_T_IN, sector, buf, n * VIRTIO_BLK_SECTOR_SIZE, 10000, &st);
                if (r < 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "read back: %d", r);
                        return r;
                }
                EXPECT_MSG(st == VIRTIO_BLK_S_OK, "read of sector %lu: status %s", (unsigned long)sector,
                           guest_blk_status_name(st));
                for (uint32_t k = 0; k < n; k++) {
                        uint64_t got, want;

                        if (blk_pattern_check(buf + k * VIRTIO_BLK_SECTOR_SIZE, sector + k, seed, &got, &want) >= 0)
                                mismatches++;
                }
                checked++;
        }
        guest_report_info("blk-errors writes_ok=%lu writes_ioerr=%lu writes_other=%lu first_error_sector=%lu "
                          "flush=%s checked=%lu mismatches=%lu needs_reset=%u", (unsigned long)s.ok,
                          (unsigned long)s.ioerr, (unsigned long)s.other,
                          (unsigned long)(s.ioerr ? s.first_err : 0), guest_blk_status_name(status),
                          (unsigned long)checked, (unsigned long)mismatches, guest_virtio_needs_reset(&b->vp));
        EXPECT_MSG(!guest_virtio_needs_reset(&b->vp), "the device needs a reset after backend errors");
        EXPECT_MSG(s.other == 0, "%lu writes ended in a status other than ok or ioerr", (unsigned long)s.other);
        EXPECT_MSG(mismatches == 0, "%lu sectors read back wrong", (unsigned long)mismatches);
        EXPECT_MSG(s.ok == 0 || checked > 0, "nothing read back");
        if (guest_cmdline_get_u64("expect_errors", 1))
                EXPECT_MSG(s.ioerr > 0, "no write failed (expect_errors=1)");
        if (guest_cmdline_get_u64("hold", 0)) {
                /* The result now; the power button then only powers off. */
                guest_report_result(guest.expect_failures ? REPORT_STATUS_FAIL : REPORT_STATUS_PASS, NULL);
                guest_report_info("blk-errors holding=1 (the power button ends the run)");
                return guest_scenario_idle();
        }
        return 0;
}
