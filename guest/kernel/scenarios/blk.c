/* SPDX-License-Identifier: MIT */
/*
 * The virtio-blk scenarios:
 *
 *   blk-verify  write the pattern of blk.h over the whole disk (seed=N), flush, exercise get-id,
 *               write-zeroes and discard on small ranges (rewriting the pattern there), read
 *               everything back and check it. bs= (default 65536), qd= (per queue, default 16).
 *   blk-ro      on a read-only disk: reads work, writes end in VIRTIO_BLK_S_IOERR and change
 *               nothing.
 *   blk-bench   rw=randread|randwrite|read|write, bs= (4096), qd= (32, per queue),
 *               duration_ms= (1000); IOPS, MiB/s and latencies as metric lines and one
 *               "blk-bench-job" info line. jobs=rw:bs:qd,... runs several workloads in one
 *               boot (bs and qd default to bs= and qd=). Poll mode unless blk_poll=0.
 *
 * blk-verify and blk-bench use one queue per vCPU unless queues=N. All take disk=N, queues=N|cpus, blk_poll=0|1, qsize=, indirect=auto|0|1|direct, event_idx=0,
 * seg_bytes= (blk_env.c).
 */
#include <abi/virtio_blk.h>

#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenario.h"
#include "kernel/scenarios/blk.h"
#include "kernel/scenarios/scenarios.h"

#define SYNC_TIMEOUT_MS     10000
#define PROGRESS_TIMEOUT_NS (10000ull * 1000000)        /* no completion for this long: give up */
#define MAX_REPORTED        8

struct qstate;

struct io_slot {
        struct io_slot *next;
        struct qstate *qs;
        uint8_t *buf;
        uint64_t sector;
        uint32_t len;
};

struct qstate {
        struct guest_blk_queue *q;
        struct io_slot *slots, *free;
        unsigned depth, inflight;
        unsigned alloc;                 /* slots (and buffers) allocated; depth <= alloc */
        uint64_t next;                  /* verify: next chunk; bench: sequential cursor (sectors) */
        uint64_t seq_start, seq_end;    /* bench: this queue's stretch of the disk */
        uint64_t rng;
};

enum job {
        JOB_VERIFY_WRITE,
        JOB_VERIFY_READ,
        JOB_BENCH,
};

struct worker {
        struct blk_env *e;
        unsigned k;
        unsigned nq;
        struct guest_blk_queue *queues[GUEST_BLK_MAX_QUEUES];
        struct qstate qs[GUEST_BLK_MAX_QUEUES];
        uint32_t buf_size;

        enum job job;
        bool progress;
        int r;

        /* verify */
        uint64_t seed, chunk_sectors, nchunks;
        uint64_t mismatches;

        /* bench */
        bool random, write;
        uint64_t end_ns, start_ns, stop_ns;
        uint64_t lat_sum, lat_max;      /* TSC ticks */

        uint64_t ios, bytes, errors;
};

static struct worker *workers_new(struct blk_env *e, unsigned depth, uint32_t buf_size)
{
        struct worker *w = (struct worker *)(uintptr_t)guest_page_alloc(e->ncpus * sizeof(*w), 64);

        if (!w)
                return NULL;
        memset(w, 0, e->ncpus * sizeof(*w));
        for (unsigned k = 0; k < e->ncpus; k++) {
                w[k].e = e;
                w[k].k = k;
                w[k].buf_size = buf_size;
                w[k].nq = blk_env_queues_of(e, k, w[k].queues);
                for (unsigned i = 0; i < w[k].nq; i++) {
                        struct qstate *s = &w[k].qs[i];
                        unsigned d = MIN(depth, (unsigned)w[k].queues[i]->depth);
                        uint64_t m = guest_page_alloc(d * sizeof(struct io_slot), 64);
                        uint64_t bufs = guest_page_alloc((uint64_t)d * buf_size, GUEST_PAGE_SIZE);

                        if (!m || !bufs)
                                return NULL;
                        s->q = w[k].queues[i];
                        s->slots = (struct io_slot *)(uintptr_t)m;
                        s->depth = s->alloc = d;
                        for (unsigned j = 0; j < d; j++)
                                s->slots[j] = (struct io_slot){ .qs = s, .buf = (uint8_t *)(uintptr_t)(bufs + (uint64_t)j * buf_size) };
                }
        }
        return w;
}

static void worker_reset(struct worker *w, enum job job)
{
        w->job = job;
        w->r = 0;
        w->ios = w->bytes = w->errors = w->mismatches = w->lat_sum = w->lat_max = 0;
        for (unsigned i = 0; i < w->nq; i++) {
                struct qstate *s = &w->qs[i];

                s->free = NULL;
                for (unsigned j = s->depth; j > 0; j--) {
                        s->slots[j - 1].next = s->free;
                        s->free = &s->slots[j - 1];
                }
                s->inflight = 0;
        }
}

static void slot_put(struct io_slot *slot)
{
        slot->next = slot->qs->free;
        slot->qs->free = slot;
        slot->qs->inflight--;
}

/* ---- blk-verify ---- */

static void verify_done(struct guest_blk_queue *q, struct guest_blk_req *req, void *ctx)
{
        struct worker *w = ctx;
        struct io_slot *slot = req->user;

        w->progress = true;
        if (req->status != VIRTIO_BLK_S_OK) {
                if (w->errors++ < MAX_REPORTED)
                        guest_report_info("blk-verify io_error op=%s sector=%lu len=%u status=%s queue=%u",
                                          w->job == JOB_VERIFY_WRITE ? "write" : "read", (unsigned long)slot->sector,
                                          slot->len, guest_blk_status_name(req->status), q->index);
        } else {
                w->ios++;
                w->bytes += slot->len;
                if (w->job == JOB_VERIFY_READ)
                        for (uint32_t s = 0; s < slot->len / VIRTIO_BLK_SECTOR_SIZE; s++) {
                                uint64_t got, want;
                                int i = blk_pattern_check(slot->buf + s * VIRTIO_BLK_SECTOR_SIZE, slot->sector + s, w->seed,
                                                          &got, &want);

                                if (i >= 0 && w->mismatches++ < MAX_REPORTED)
                                        guest_report_info("blk-verify mismatch sector=%lu word=%d got=%#lx want=%#lx",
                                                          (unsigned long)(slot->sector + s), i, (unsigned long)got,
                                                          (unsigned long)want);
                        }
        }
        slot_put(slot);
}

static void verify_worker(void *arg)
{
        struct worker *w = arg;
        const struct guest_blk *b = w->e->b;
        uint64_t deadline = guest_time_ns() + PROGRESS_TIMEOUT_NS;
        bool write = w->job == JOB_VERIFY_WRITE;
        int r;

        blk_worker_enter(w->e);
        for (unsigned i = 0; i < w->nq; i++)
                w->qs[i].next = w->qs[i].q->index;
        for (;;) {
                bool busy = false;

                w->progress = false;
                for (unsigned i = 0; i < w->nq; i++) {
                        struct qstate *s = &w->qs[i];
                        bool added = false;

                        while (s->free && s->next < w->nchunks) {
                                struct io_slot *slot = s->free;
                                uint64_t sector = s->next * w->chunk_sectors;
                                uint32_t sectors = (uint32_t)MIN(w->chunk_sectors, b->capacity - sector);

                                slot->sector = sector;
                                slot->len = sectors * VIRTIO_BLK_SECTOR_SIZE;
                                if (write)
                                        blk_pattern_fill(slot->buf, sector, sectors, w->seed);
                                r = guest_blk_submit(s->q, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, slot->buf,
                                                     slot->len, slot);
                                if (r == -EAGAIN)
                                        break;
                                if (r < 0) {
                                        w->r = r;
                                        goto out;
                                }
                                s->free = slot->next;
                                s->inflight++;
                                s->next += b->nq;
                                added = true;
                        }
                        if (added)
                                guest_blk_kick(s->q);
                        guest_blk_reap(s->q, verify_done, w);
                        if (s->inflight || s->next < w->nchunks)
                                busy = true;
                }
                if (!busy)
                        break;
                if (w->progress) {
                        deadline = guest_time_ns() + PROGRESS_TIMEOUT_NS;
                        continue;
                }
                r = guest_blk_wait(w->queues, w->nq, deadline, 1);
                if (r < 0) {
                        w->r = r;
                        break;
                }
        }
out:
        blk_worker_leave(w->e);
}

static int run_phase(struct blk_env *e, struct worker *w, enum job job, void (*fn)(void *), uint64_t *ret_ns)
{
        void *args[GUEST_BLK_MAX_QUEUES];
        uint64_t t0;
        int r;

        for (unsigned k = 0; k < e->ncpus; k++) {
                worker_reset(&w[k], job);
                args[k] = &w[k];
        }
        t0 = guest_time_ns();
        r = blk_env_run(e, fn, args, 3600ull * 1000);
        *ret_ns = guest_time_ns() - t0;
        if (r < 0)
                return r;
        for (unsigned k = 0; k < e->ncpus; k++)
                if (w[k].r < 0)
                        return w[k].r;
        return 0;
}

static void sum_workers(const struct blk_env *e, const struct worker *w, uint64_t *bytes, uint64_t *errors,
                        uint64_t *mismatches)
{
        *bytes = *errors = *mismatches = 0;
        for (unsigned k = 0; k < e->ncpus; k++) {
                *bytes += w[k].bytes;
                *errors += w[k].errors;
                *mismatches += w[k].mismatches;
        }
}

static uint64_t mib_per_s_milli(uint64_t bytes, uint64_t ns)
{
        uint64_t us = ns / 1000;

        /* KiB per second, then thousandths of MiB per second; no 128-bit division here. */
        if (!us)
                return 0;
        return (bytes >> 10) * 1000000ull / us * 1000 / 1024;
}

static int sync_checked(struct guest_blk *b, uint32_t type, uint64_t sector, void *buf, uint32_t len, const char *what)
{
        uint8_t status;
        int r = guest_blk_sync(b, 0, type, sector, buf, len, SYNC_TIMEOUT_MS, &status);

        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "%s: %d", what, r);
                return r;
        }
        if (status != VIRTIO_BLK_S_OK) {
                guest_report_assert(GUEST_FILE, __LINE__, "%s: status %s", what, guest_blk_status_name(status));
                return -EIO;
        }
        return 0;
}

/* get-id, write-zeroes and discard on small ranges; the pattern is written back afterwards. */
static int verify_extras(struct blk_env *e, uint64_t seed, uint8_t *buf, uint32_t buf_size)
{
        struct guest_blk *b = e->b;
        struct virtio_blk_discard_write_zeroes *seg = (void *)(buf + buf_size - 4096);
        uint64_t align = MAX(b->blk_size / VIRTIO_BLK_SECTOR_SIZE, 1u);
        uint8_t status;
        int r;

        memset(buf, 0, 64);
        r = guest_blk_sync(b, 0, VIRTIO_BLK_T_GET_ID, 0, buf, VIRTIO_BLK_ID_BYTES, SYNC_TIMEOUT_MS, &status);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "get-id: %d", r);
                return r;
        }
        for (unsigned i = 0; i < VIRTIO_BLK_ID_BYTES; i++)
                if (buf[i] && (buf[i] < 0x21 || buf[i] > 0x7e))
                        buf[i] = '_';
        buf[VIRTIO_BLK_ID_BYTES] = 0;
        guest_report_info("blk get_id status=%s serial=%s", guest_blk_status_name(status),
                          status == VIRTIO_BLK_S_OK && buf[0] ? (char *)buf : "-");
        EXPECT_MSG(status == VIRTIO_BLK_S_OK || status == VIRTIO_BLK_S_UNSUPP, "get-id status %s",
                   guest_blk_status_name(status));

        if (guest_blk_has(b, VIRTIO_BLK_F_WRITE_ZEROES) && b->capacity >= 2 * align) {
                uint64_t sector = ALIGN_DOWN(b->capacity / 2, align);
                uint32_t n = (uint32_t)MIN(MIN(64ull, b->capacity - sector), (uint64_t)(buf_size - 4096) / 512);
                bool zero = true;

                if (b->max_wz_sectors)
                        n = MIN(n, b->max_wz_sectors);
                n = (uint32_t)ALIGN_DOWN((uint64_t)n, align);
                *seg = (struct virtio_blk_discard_write_zeroes){ .sector = sector, .num_sectors = n, .flags = 0 };
                r = sync_checked(b, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(*seg), "write-zeroes");
                if (r < 0)
                        return r;
                memset(buf, 0xa5, (size_t)n * 512);
                r = sync_checked(b, VIRTIO_BLK_T_IN, sector, buf, n * 512, "read after write-zeroes");
                if (r < 0)
                        return r;
                for (uint32_t i = 0; i < n * 512; i++)
                        zero &= buf[i] == 0;
                guest_report_info("blk write_zeroes sector=%lu sectors=%u zeroed=%u", (unsigned long)sector, n, zero);
                EXPECT_MSG(zero, "write-zeroes: sectors %lu+%u do not read back as zeroes", (unsigned long)sector, n);
                blk_pattern_fill(buf, sector, n, seed);
                r = sync_checked(b, VIRTIO_BLK_T_OUT, sector, buf, n * 512, "rewrite after write-zeroes");
                if (r < 0)
                        return r;
        }

        if (guest_blk_has(b, VIRTIO_BLK_F_DISCARD) && b->capacity >= 4 * align) {
                uint64_t dalign = MAX((uint64_t)b->discard_align, align);
                uint64_t sector = ALIGN_DOWN(b->capacity / 4, dalign);
                uint32_t n = (uint32_t)MIN(MIN(64ull, b->capacity - sector), (uint64_t)(buf_size - 4096) / 512);

                if (b->max_discard_sectors)
                        n = MIN(n, b->max_discard_sectors);
                n = (uint32_t)MAX(ALIGN_DOWN((uint64_t)n, align), align);
                *seg = (struct virtio_blk_discard_write_zeroes){ .sector = sector, .num_sectors = n, .flags = 0 };
                r = guest_blk_sync(b, 0, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(*seg), SYNC_TIMEOUT_MS, &status);
                if (r < 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "discard: %d", r);
                        return r;
                }
                guest_report_info("blk discard sector=%lu sectors=%u status=%s", (unsigned long)sector, n,
                                  guest_blk_status_name(status));
                EXPECT_MSG(status == VIRTIO_BLK_S_OK, "discard status %s", guest_blk_status_name(status));
                blk_pattern_fill(buf, sector, n, seed);
                r = sync_checked(b, VIRTIO_BLK_T_OUT, sector, buf, n * 512, "rewrite after discard");
                if (r < 0)
                        return r;
        }
        return 0;
}

static void report_queue_stats(const struct guest_blk *b)
{
        for (unsigned i = 0; i < b->nq; i++) {
                const struct guest_blk_queue *q = &b->q[i];

                guest_report_info("blk queue=%u apic_id=%u submitted=%lu completed=%lu errors=%lu notifies=%lu "
                                  "notifies_suppressed=%lu irqs=%lu", i, q->apic_id, (unsigned long)q->submitted,
                                  (unsigned long)q->completed, (unsigned long)q->errors, (unsigned long)q->vq.notifies,
                                  (unsigned long)q->vq.notifies_suppressed, (unsigned long)q->vq.irqs);
        }
}

int guest_scenario_blk_verify(void)
{
        struct blk_env e;
        struct guest_blk *b;
        struct worker *w;
        uint64_t seed = guest_cmdline_get_u64("seed", 1);
        uint64_t bs = guest_cmdline_get_u64("bs", 65536), depth = guest_cmdline_get_u64("qd", 16);
        uint64_t write_ns, read_ns, bytes, errors, mismatches, rbytes;
        uint8_t status;
        int r;

        r = blk_env_init(&e, BLK_WANT_RW, false, BLK_QUEUES_PER_CPU);
        if (r != 0)
                return r;
        b = e.b;
        if (b->ro) {
                guest_report_assert(GUEST_FILE, __LINE__, "disk %u is read-only", b->index);
                return -EROFS;
        }
        /* Requests of whole blocks that fit the segment limits. */
        bs = ALIGN_DOWN(MIN(MAX(bs, (uint64_t)b->blk_size), 4ull << 20), (uint64_t)b->blk_size);
        if (b->size_max || e.opts.seg_bytes) {
                uint64_t seg = b->size_max ? b->size_max : UINT32_MAX;

                if (e.opts.seg_bytes)
                        seg = MIN(seg, (uint64_t)e.opts.seg_bytes);
                bs = MIN(bs, ALIGN_DOWN(seg * b->max_segs, (uint64_t)b->blk_size));
        }
        if (depth == 0)
                depth = 1;
        if (bs < b->blk_size || b->capacity == 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "nothing to do: bs=%lu capacity=%lu", (unsigned long)bs,
                                    (unsigned long)b->capacity);
                return -EINVAL;
        }
        w = workers_new(&e, (unsigned)depth, (uint32_t)MAX(bs, 65536ull));
        if (!w) {
                guest_report_assert(GUEST_FILE, __LINE__, "out of memory for %lu x %lu byte buffers", (unsigned long)depth,
                                    (unsigned long)bs);
                return -ENOMEM;
        }
        for (unsigned k = 0; k < e.ncpus; k++) {
                w[k].seed = seed;
                w[k].chunk_sectors = bs / VIRTIO_BLK_SECTOR_SIZE;
                w[k].nchunks = (b->capacity + w[k].chunk_sectors - 1) / w[k].chunk_sectors;
        }
        guest_report_info("blk-verify seed=%lu sectors=%lu bs=%lu qd=%lu queues=%u cpus=%u", (unsigned long)seed,
                          (unsigned long)b->capacity, (unsigned long)bs, (unsigned long)depth, b->nq, e.ncpus);

        r = run_phase(&e, w, JOB_VERIFY_WRITE, verify_worker, &write_ns);
        sum_workers(&e, w, &bytes, &errors, &mismatches);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "write phase: %d (device status %#x)", r,
                                    guest_virtio_get_status(&b->vp));
                return r;
        }
        EXPECT_MSG(errors == 0, "%lu write errors", (unsigned long)errors);

        if (guest_blk_has(b, VIRTIO_BLK_F_FLUSH)) {
                r = guest_blk_sync(b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, SYNC_TIMEOUT_MS, &status);
                if (r < 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "flush: %d", r);
                        return r;
                }
                guest_report_info("blk flush status=%s", guest_blk_status_name(status));
                EXPECT_MSG(status == VIRTIO_BLK_S_OK, "flush status %s", guest_blk_status_name(status));
        } else {
                guest_report_info("blk flush=unsupported (no VIRTIO_BLK_F_FLUSH: writes are stable on completion)");
        }

        r = verify_extras(&e, seed, w[0].qs[0].slots[0].buf, w[0].buf_size);
        if (r < 0)
                return r;
        if (guest_blk_has(b, VIRTIO_BLK_F_FLUSH)) {
                r = sync_checked(b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, "final flush");
                if (r < 0)
                        return r;
        }

        r = run_phase(&e, w, JOB_VERIFY_READ, verify_worker, &read_ns);
        sum_workers(&e, w, &rbytes, &errors, &mismatches);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "read phase: %d (device status %#x)", r,
                                    guest_virtio_get_status(&b->vp));
                return r;
        }
        report_queue_stats(b);
        guest_report_metric("blk_verify_bytes", bytes, "bytes");
        guest_report_metric("blk_verify_read_bytes", rbytes, "bytes");
        guest_report_metric_milli("blk_verify_write_rate", mib_per_s_milli(bytes, write_ns), "MiB/s");
        guest_report_metric_milli("blk_verify_read_rate", mib_per_s_milli(rbytes, read_ns), "MiB/s");
        guest_report_metric("blk_verify_mismatches", mismatches, "sectors");
        guest_report_metric("blk_verify_errors", errors, "count");
        EXPECT_MSG(errors == 0, "%lu read errors", (unsigned long)errors);
        EXPECT_MSG(mismatches == 0, "%lu sectors differ", (unsigned long)mismatches);
        EXPECT_MSG(bytes == b->capacity * VIRTIO_BLK_SECTOR_SIZE && rbytes == bytes,
                   "wrote %lu and read %lu of %lu bytes", (unsigned long)bytes, (unsigned long)rbytes,
                   (unsigned long)(b->capacity * VIRTIO_BLK_SECTOR_SIZE));
        guest_report_info("blk-verify result=%s bytes=%lu seed=%lu", mismatches || errors ? "bad" : "ok",
                          (unsigned long)bytes, (unsigned long)seed);
        return 0;
}

/* ---- blk-ro ---- */

int guest_scenario_blk_ro(void)
{
        struct blk_env e;
        struct guest_blk *b;
        uint8_t *before, *buf, status;
        uint64_t ro_bytes = guest_cmdline_get_u64("ro_bytes", 1 << 20), sectors;
        uint64_t ro_seed = guest_cmdline_get_u64("ro_seed", 0), bad = 0;
        uint64_t targets[2];
        int r;

        r = blk_env_init(&e, BLK_WANT_RO, false, 1);
        if (r != 0)
                return r;
        b = e.b;
        EXPECT_MSG(b->ro, "disk %u does not offer VIRTIO_BLK_F_RO", b->index);
        if (!b->ro)
                return -EINVAL;
        before = (uint8_t *)(uintptr_t)guest_page_alloc(8192, GUEST_PAGE_SIZE);
        buf = (uint8_t *)(uintptr_t)guest_page_alloc(64 << 10, GUEST_PAGE_SIZE);
        if (!before || !buf)
                return -ENOMEM;

        /* Reads work. */
        sectors = MIN(ro_bytes / 512, b->capacity);
        for (uint64_t s = 0; s < sectors; s += 128) {
                uint32_t n = (uint32_t)MIN(128ull, sectors - s);

                r = sync_checked(b, VIRTIO_BLK_T_IN, s, buf, n * 512, "read");
                if (r < 0)
                        return r;
                /* ro_seed=N: the disk holds blk-verify's pattern of seed N. */
                for (uint32_t k = 0; ro_seed && k < n; k++) {
                        uint64_t got, want;

                        if (blk_pattern_check(buf + k * 512, s + k, ro_seed, &got, &want) >= 0 && bad++ < 4)
                                guest_report_assert(GUEST_FILE, __LINE__, "sector %lu: %#lx, want %#lx",
                                                    (unsigned long)(s + k), (unsigned long)got, (unsigned long)want);
                }
        }
        guest_report_info("blk-ro read bytes=%lu status=ok mismatches=%lu", (unsigned long)(sectors * 512),
                          (unsigned long)bad);
        if (bad)
                return -EIO;

        /* Writes fail with IOERR and leave the data alone: first and last 8 sectors. */
        targets[0] = 0;
        targets[1] = b->capacity >= 8 ? b->capacity - 8 : 0;
        for (unsigned t = 0; t < ARRAY_SIZE(targets); t++) {
                uint32_t n = (uint32_t)MIN(8ull, b->capacity - targets[t]);

                r = sync_checked(b, VIRTIO_BLK_T_IN, targets[t], before, n * 512, "read before write");
                if (r < 0)
                        return r;
                blk_pattern_fill(buf, targets[t], n, 0x524f);
                r = guest_blk_sync(b, 0, VIRTIO_BLK_T_OUT, targets[t], buf, n * 512, SYNC_TIMEOUT_MS, &status);
                if (r < 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "write to the read-only disk: %d (device status %#x)", r,
                                            guest_virtio_get_status(&b->vp));
                        return r;
                }
                guest_report_info("blk-ro write sector=%lu status=%s", (unsigned long)targets[t],
                                  guest_blk_status_name(status));
                EXPECT_MSG(status == VIRTIO_BLK_S_IOERR, "write to the read-only disk: status %s, want ioerr",
                           guest_blk_status_name(status));
                r = sync_checked(b, VIRTIO_BLK_T_IN, targets[t], buf, n * 512, "read after write");
                if (r < 0)
                        return r;
                EXPECT_MSG(memcmp(before, buf, n * 512) == 0, "the read-only disk changed at sector %lu",
                           (unsigned long)targets[t]);
        }
        if (guest_blk_has(b, VIRTIO_BLK_F_FLUSH)) {
                r = guest_blk_sync(b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, SYNC_TIMEOUT_MS, &status);
                guest_report_info("blk-ro flush status=%s", r < 0 ? "error" : guest_blk_status_name(status));
        }
        return 0;
}

/* ---- blk-bench ---- */

static void bench_done(struct guest_blk_queue *q, struct guest_blk_req *req, void *ctx)
{
        struct worker *w = ctx;
        uint64_t lat = guest_rdtsc() - req->tsc;

        w->progress = true;
        if (req->status != VIRTIO_BLK_S_OK) {
                if (w->errors++ < MAX_REPORTED)
                        guest_report_info("blk-bench io_error sector=%lu status=%s", (unsigned long)req->hdr.sector,
                                          guest_blk_status_name(req->status));
        } else if (!w->stop_ns) {
                w->ios++;
                w->bytes += req->len;
                w->lat_sum += lat;
                w->lat_max = MAX(w->lat_max, lat);
        }
        slot_put(req->user);
}

static uint64_t bench_sector(struct worker *w, struct qstate *s, uint64_t bs_sectors)
{
        uint64_t sector;

        if (w->random) {
                uint64_t blocks = (s->seq_end - s->seq_start) / bs_sectors;

                return s->seq_start + (blk_rand(&s->rng) % blocks) * bs_sectors;
        }
        sector = s->next;
        s->next += bs_sectors;
        if (s->next + bs_sectors > s->seq_end)
                s->next = s->seq_start;
        return sector;
}

static void bench_worker(void *arg)
{
        struct worker *w = arg;
        const struct guest_blk *b = w->e->b;
        uint64_t bs_sectors = w->buf_size / VIRTIO_BLK_SECTOR_SIZE, deadline, now;
        uint32_t type = w->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
        uint16_t batch = (uint16_t)guest_cmdline_get_u64("irq_batch", 1);
        int r;

        blk_worker_enter(w->e);
        for (unsigned i = 0; i < w->nq; i++) {
                struct qstate *s = &w->qs[i];
                uint64_t per_q = b->capacity / b->nq;

                /* Random I/O covers the whole disk; sequential streams get a stretch each. */
                s->seq_start = w->random ? 0 : ALIGN_DOWN(per_q * s->q->index, bs_sectors);
                s->seq_end = w->random ? b->capacity : s->seq_start + MAX(ALIGN_DOWN(per_q, bs_sectors), bs_sectors);
                s->next = s->seq_start;
                s->rng = 0x9e3779b97f4a7c15ull * (s->q->index + 1) + 0x1234567;
        }
        w->stop_ns = 0;
        w->start_ns = guest_time_ns();
        deadline = w->start_ns + PROGRESS_TIMEOUT_NS;
        for (;;) {
                now = guest_time_ns();
                if (now >= w->end_ns && !w->stop_ns)
                        w->stop_ns = now;
                bool busy = false;

                w->progress = false;
                for (unsigned i = 0; i < w->nq; i++) {
                        struct qstate *s = &w->qs[i];
                        bool added = false;

                        while (!w->stop_ns && s->free) {
                                struct io_slot *slot = s->free;

                                slot->sector = bench_sector(w, s, bs_sectors);
                                r = guest_blk_submit(s->q, type, slot->sector, slot->buf, w->buf_size, slot);
                                if (r == -EAGAIN)
                                        break;
                                if (r < 0) {
                                        w->r = r;
                                        goto out;
                                }
                                s->free = slot->next;
                                s->inflight++;
                                added = true;
                        }
                        if (added)
                                guest_blk_kick(s->q);
                        guest_blk_reap(s->q, bench_done, w);
                        if (s->inflight)
                                busy = true;
                }
                if (w->stop_ns && !busy)
                        break;
                if (w->progress) {
                        deadline = guest_time_ns() + PROGRESS_TIMEOUT_NS;
                        continue;
                }
                r = guest_blk_wait(w->queues, w->nq, w->stop_ns ? deadline : MIN(deadline, w->end_ns), batch);
                if (r == -ETIMEDOUT && !w->stop_ns && guest_time_ns() < deadline)
                        continue;       /* the run's end, not a stuck device */
                if (r < 0) {
                        w->r = r;
                        break;
                }
        }
out:
        blk_worker_leave(w->e);
}

struct bench_job {
        const char *rw;                 /* static name */
        bool random, write;
        uint64_t bs, qd;
};

static const char *const bench_rw_names[] = { "randread", "randwrite", "read", "write" };

/* "rw:bs:qd" at s (up to len bytes); bs and qd default to the bs= and qd= options. */
static int bench_job_parse(const char *s, size_t len, uint64_t def_bs, uint64_t def_qd, struct bench_job *ret)
{
        size_t n = 0, m;
        struct bench_job j = { .bs = def_bs, .qd = def_qd };

        while (n < len && s[n] != ':')
                n++;
        for (size_t i = 0; i < ARRAY_SIZE(bench_rw_names) && !j.rw; i++)
                if (guest_strlen(bench_rw_names[i]) == n && guest_strncmp(s, bench_rw_names[i], n) == 0)
                        j.rw = bench_rw_names[i];
        if (!j.rw)
                return -EINVAL;
        j.random = j.rw[0] == 'r' && j.rw[1] == 'a';
        j.write = guest_strcmp(j.rw, "randwrite") == 0 || guest_strcmp(j.rw, "write") == 0;
        if (n < len) {
                s += n + 1;
                len -= n + 1;
                for (m = 0; m < len && s[m] != ':'; m++)
                        ;
                if (m && guest_parse_u64(s, m, &j.bs) < 0)
                        return -EINVAL;
                if (m < len && guest_parse_u64(s + m + 1, len - m - 1, &j.qd) < 0)
                        return -EINVAL;
        }
        *ret = j;
        return 0;
}

static int bench_run_job(struct blk_env *e, struct worker *w, const struct bench_job *job, unsigned index,
                         uint64_t duration_ms)
{
        struct guest_blk *b = e->b;
        uint64_t ios = 0, bytes = 0, errors = 0, lat_sum = 0, lat_max = 0, iops = 0, bw_milli = 0, wall_ns;
        uint64_t notifies = 0, irqs = 0, suppressed = 0, lat_avg_ns;
        void *args[GUEST_BLK_MAX_QUEUES];
        int r;

        for (unsigned k = 0; k < e->ncpus; k++) {
                w[k].buf_size = (uint32_t)job->bs;
                for (unsigned i = 0; i < w[k].nq; i++)
                        w[k].qs[i].depth = (unsigned)MIN(job->qd, (uint64_t)w[k].qs[i].alloc);
                worker_reset(&w[k], JOB_BENCH);
                w[k].random = job->random;
                w[k].write = job->write;
                args[k] = &w[k];
        }
        for (unsigned i = 0; i < b->nq; i++) {
                notifies -= b->q[i].vq.notifies;
                suppressed -= b->q[i].vq.notifies_suppressed;
                irqs -= b->q[i].vq.irqs;
        }
        guest_report_info("blk-bench rw=%s bs=%lu qd=%lu queues=%u cpus=%u mode=%s duration_ms=%lu", job->rw,
                          (unsigned long)job->bs, (unsigned long)job->qd, b->nq, e->ncpus,
                          e->opts.poll ? "poll" : "interrupt", (unsigned long)duration_ms);

        for (unsigned k = 0; k < e->ncpus; k++)
                w[k].end_ns = guest_time_ns() + duration_ms * 1000000ull;
        wall_ns = guest_time_ns();
        r = blk_env_run(e, bench_worker, args, duration_ms + 60000);
        wall_ns = guest_time_ns() - wall_ns;
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "bench: %d", r);
                return r;
        }
        for (unsigned k = 0; k < e->ncpus; k++) {
                uint64_t ns = w[k].stop_ns - w[k].start_ns;

                if (w[k].r < 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "worker %u: %d (device status %#x)", k, w[k].r,
                                            guest_virtio_get_status(&b->vp));
                        return w[k].r;
                }
                ios += w[k].ios;
                bytes += w[k].bytes;
                errors += w[k].errors;
                lat_sum += w[k].lat_sum;
                lat_max = MAX(lat_max, w[k].lat_max);
                if (ns) {
                        iops += w[k].ios * 1000000000ull / ns;
                        bw_milli += mib_per_s_milli(w[k].bytes, ns);
                }
        }
        for (unsigned i = 0; i < b->nq; i++) {
                notifies += b->q[i].vq.notifies;
                suppressed += b->q[i].vq.notifies_suppressed;
                irqs += b->q[i].vq.irqs;
        }
        lat_avg_ns = ios ? guest_tsc_to_ns(lat_sum / ios) : 0;
        guest_report_metric("blk_iops", iops, "IOPS");
        guest_report_metric_milli("blk_bandwidth", bw_milli, "MiB/s");
        guest_report_metric_milli("blk_lat_avg", lat_avg_ns, "us");
        guest_report_metric("blk_lat_max", guest_tsc_to_ns(lat_max) / 1000, "us");
        guest_report_metric("blk_ios", ios, "count");
        guest_report_metric_milli("blk_notifies_per_io", ios ? notifies * 1000 / ios : 0, "ratio");
        guest_report_metric_milli("blk_irqs_per_io", ios ? irqs * 1000 / ios : 0, "ratio");
        guest_report_info("blk-bench ios=%lu errors=%lu notifies=%lu notifies_suppressed=%lu irqs=%lu wall_ms=%lu",
                          (unsigned long)ios, (unsigned long)errors, (unsigned long)notifies, (unsigned long)suppressed,
                          (unsigned long)irqs, (unsigned long)(wall_ns / 1000000));
        /* One line per job with everything, for scripts that run several jobs per boot. */
        guest_report_info("blk-bench-job job=%u rw=%s bs=%lu qd=%lu mode=%s iops=%lu mib_s=%lu.%03lu lat_avg_ns=%lu "
                          "notifies=%lu irqs=%lu ios=%lu errors=%lu", index, job->rw, (unsigned long)job->bs,
                          (unsigned long)job->qd, e->opts.poll ? "poll" : "interrupt", (unsigned long)iops,
                          (unsigned long)(bw_milli / 1000), (unsigned long)(bw_milli % 1000), (unsigned long)lat_avg_ns,
                          (unsigned long)notifies, (unsigned long)irqs, (unsigned long)ios, (unsigned long)errors);
        EXPECT_MSG(errors == 0, "%lu I/O errors", (unsigned long)errors);
        EXPECT_MSG(ios > 0, "no I/O completed");
        return 0;
}

#define BENCH_MAX_JOBS 16

int guest_scenario_blk_bench(void)
{
        struct blk_env e;
        struct guest_blk *b;
        struct worker *w;
        struct bench_job jobs[BENCH_MAX_JOBS];
        const char *list = guest_cmdline_get_str("jobs", NULL);
        uint64_t def_bs = guest_cmdline_get_u64("bs", 4096), def_qd = guest_cmdline_get_u64("qd", 32);
        uint64_t duration_ms = guest_cmdline_get_u64("duration_ms", 1000), max_bs = 0, max_qd = 0;
        unsigned njobs = 0;
        bool any_write = false;
        int r;

        /* jobs=rw:bs:qd,rw:bs:qd,... (one boot, several runs), else rw= bs= qd=. */
        if (list) {
                for (const char *p = list; *p;) {
                        size_t n = 0;

                        while (p[n] && p[n] != ',')
                                n++;
                        if (njobs == BENCH_MAX_JOBS || bench_job_parse(p, n, def_bs, def_qd, &jobs[njobs]) < 0) {
                                guest_report_assert(GUEST_FILE, __LINE__, "jobs=%s: want up to %u of rw:bs:qd", list,
                                                    BENCH_MAX_JOBS);
                                return -EINVAL;
                        }
                        njobs++;
                        p += n;
                        if (*p == ',')
                                p++;
                }
        } else {
                const char *rw = guest_cmdline_get_str("rw", "randread");

                if (bench_job_parse(rw, guest_strlen(rw), def_bs, def_qd, &jobs[0]) < 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "rw=%s: want randread, randwrite, read or write", rw);
                        return -EINVAL;
                }
                njobs = 1;
        }
        for (unsigned i = 0; i < njobs; i++) {
                any_write |= jobs[i].write;
                max_bs = MAX(max_bs, jobs[i].bs);
                max_qd = MAX(max_qd, jobs[i].qd);
        }

        r = blk_env_init(&e, any_write ? BLK_WANT_RW : BLK_WANT_ANY, true, BLK_QUEUES_PER_CPU);
        if (r != 0)
                return r;
        b = e.b;
        for (unsigned i = 0; i < njobs; i++) {
                uint64_t bs = jobs[i].bs;

                if (bs < b->blk_size || bs % b->blk_size || bs > (16u << 20) || bs / 512 > b->capacity ||
                    jobs[i].qd == 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "bad bs=%lu or qd=%lu for blk_size=%u capacity=%lu",
                                            (unsigned long)bs, (unsigned long)jobs[i].qd, b->blk_size,
                                            (unsigned long)b->capacity);
                        return -EINVAL;
                }
        }
        w = workers_new(&e, (unsigned)max_qd, (uint32_t)max_bs);
        if (!w) {
                guest_report_assert(GUEST_FILE, __LINE__, "out of memory for %lu x %lu byte buffers", (unsigned long)max_qd,
                                    (unsigned long)max_bs);
                return -ENOMEM;
        }
        for (unsigned k = 0; k < e.ncpus; k++)
                for (unsigned i = 0; i < w[k].nq; i++)
                        for (unsigned j = 0; j < w[k].qs[i].alloc; j++)
                                memset(w[k].qs[i].slots[j].buf, 0x5a, max_bs);
        for (unsigned i = 0; i < njobs; i++) {
                r = bench_run_job(&e, w, &jobs[i], i, duration_ms);
                if (r < 0)
                        return r;
        }
        return 0;
}
