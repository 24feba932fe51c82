/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (device type 2). One I/O thread per virtqueue, each with its own io_uring:
 * the queue is owned by exactly one thread (no locks on the ring), every queue scales
 * with the guest vCPU that drives it, and one io_uring_wait covers both the doorbell
 * (a poll on the queue's eventfd) and the backend's completions. Requests complete out
 * of order; used entries are published in batches with one interrupt decision per batch.
 *
 * Two things keep the per-request cost down (bench/blk/run measures them):
 * - Adaptive polling: after work, with nothing left in the backend, the thread watches
 *   the avail ring for a while (BLK_POLL_MAX_NS at most, grown and shrunk by how long
 *   the sleeps that followed turned out to be, and given up when the CPU is contended)
 *   with doorbells left suppressed, so a busy guest rings no doorbell and the thread
 *   skips a sleep and a wake-up per batch.
 * - Merging: reads (or writes) popped in one pass that continue each other are sent to
 *   the backend as one vectored transfer (up to BLK_MERGE_MAX_BYTES, IOV_MAX segments):
 *   one system call or io_uring request instead of several for a guest that streams
 *   small blocks. Bigger merges do not pay: the host's block layer merges adjacent
 *   direct I/O anyway, and the guest would get a batch of completions late instead of a
 *   steady stream. Should a merged transfer fail, its requests are retried one by one,
 *   so each gets its own status.
 *
 * A malformed request that still has a status byte gets VIRTIO_BLK_S_IOERR or
 * VIRTIO_BLK_S_UNSUPP; a ring-level violation, or a request without a header or status,
 * breaks the queue and the device reports DEVICE_NEEDS_RESET.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include <abi/pci.h>
#include <abi/virtio.h>
#include <abi/virtio_blk.h>

#include "vmms/cleanup.h"
#include "vmms/config_error.h"
#include "vmms/disk.h"
#include "vmms/iov.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/vmbus.h"
#include "vmms/virtio_dev.h"
#include "vmms/vsp.h"
#include "blk.h"
#include "iothread.h"
#include "uring.h"

#define BLK_MERGE_MAX_BYTES     (1u << 20)      /* larger ones stall the guest's pipeline */
#define BLK_MERGE_MAX_IOV       1024u           /* IOV_MAX */
#define BLK_POLL_MAX_NS         64000u          /* about 3 interrupt round trips on PVM */
#define BLK_POLL_START_NS       16000u
#define BLK_POLL_MIN_NS         2000u           /* below this, polling is off */
#define BLK_POLL_PREEMPTED_NS   20000u          /* a gap this long between two looks: the CPU is busy */

struct blk_req {
        struct vsp_io io;               /* first: completions hand us &io */
        uint16_t head;
        uint16_t next_free;
        uint8_t *status;
        uint32_t used_len;
        uint32_t type;
        uint8_t action;                 /* enum vsp_blk_action */
        unsigned n_data;
        struct iovec *data;             /* reads and writes: into iov */
        uint64_t offset, length;
        struct blk_req *merge_next;     /* the rest of a merged transfer */
        struct iovec *merged_iov;       /* set on the request that leads a merged transfer */
        struct iovec iov[VSP_BLK_MAX_CHAIN];
};

struct blk_queue {
        struct vsp_blk *blk;
        unsigned index;
        struct virtq *vq;
        int kick_fd;
        struct vsp_uring *u;
        struct vsp_io kick_io, stop_io;
        struct vsp_iothread t;
        char what[32];                  /* "virtio-blk queue 0" */
        bool stopping;                  /* the loop was asked to return */
        bool broken;
        bool used_pending;
        unsigned inflight;              /* backend operations */
        bool backend_held;              /* the backend failed with operations in the kernel */
        uint32_t poll_ns;               /* current polling window, 0: off */
        struct blk_req *m_first, *m_last;       /* the merge being built */
        unsigned m_n, m_niov;
        uint64_t m_end;                 /* bytes */
        struct blk_req *reqs;
        unsigned n_reqs;
        uint16_t free_head;             /* UINT16_MAX: none */
        struct ratelimit rl;
        struct vsp_blk_stats stats;     /* updated by this thread, read atomically */
};

struct vsp_blk {
        struct disk_config disk;
        struct vsp_image *img;
        struct virtio_dev_info info;
        struct virtio_blk_config cfg;   /* little-endian, as the guest reads it */
        struct vsp_blk_limits lim;
        const struct virtio_irq *irq;
        unsigned nq;
        struct blk_queue *queues;
        uint64_t ring_errors;
};

/* Guest-triggered messages: debug level, and rate-limited only when they are shown. */
static bool blk_log_ok(struct blk_queue *q)
{
        return log_get_max_level() >= LOG_DEBUG && ratelimit_below(&q->rl);
}

static void stat_add(uint64_t *c, uint64_t v)
{
        __atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

/* The driver broke the ring protocol: stop this queue, ask for a reset. */
static void blk_queue_fail(struct blk_queue *q, const char *why)
{
        if (q->broken)
                return;
        q->broken = true;
        stat_add(&q->blk->ring_errors, 1);
        if (blk_log_ok(q))
                log_debug("virtio-blk %s queue %u: %s; device needs reset",
                          q->blk->disk.path ? q->blk->disk.path : "", q->index, why);
        q->blk->irq->needs_reset(q->blk->irq->opaque);
}

static void blk_req_put(struct blk_queue *q, struct blk_req *r)
{
        r->next_free = q->free_head;
        q->free_head = (uint16_t)(r - q->reqs);
}

static void blk_req_complete(struct blk_queue *q, struct blk_req *r, uint8_t status)
{
        __atomic_store_n(r->status, status, __ATOMIC_RELAXED);
        virtq_push(q->vq, r->head, status == VIRTIO_BLK_S_OK ? r->used_len : 1);
        q->used_pending = true;
        blk_req_put(q, r);
}

static void blk_account(struct blk_queue *q, struct blk_req *r)
{
        struct vsp_blk_stats *s = &q->stats;

        switch (r->type) {
        case VIRTIO_BLK_T_IN:
                stat_add(&s->reads, 1);
                stat_add(&s->bytes_read, r->length);
                break;
        case VIRTIO_BLK_T_OUT:
                stat_add(&s->writes, 1);
                stat_add(&s->bytes_written, r->length);
                break;
        case VIRTIO_BLK_T_FLUSH:
                stat_add(&s->flushes, 1);
                break;
        case VIRTIO_BLK_T_DISCARD:
                stat_add(&s->discards, 1);
                break;
        case VIRTIO_BLK_T_WRITE_ZEROES:
                stat_add(&s->write_zeroes, 1);
                break;
        case VIRTIO_BLK_T_GET_ID:
                stat_add(&s->get_ids, 1);
                break;
        default:
                break;
        }
}

/* Hand one read or write to the backend. */
static void blk_req_issue(struct blk_queue *q, struct blk_req *r)
{
        int res;

        r->merge_next = NULL;
        r->merged_iov = NULL;
        if (r->action == VSP_BLK_READ)
                res = vsp_uring_read(q->u, &r->io, r->data, r->n_data, r->offset);
        else
                res = vsp_uring_write(q->u, &r->io, r->data, r->n_data, r->offset);
        if (res < 0) {
                stat_add(&q->stats.io_errors, 1);
                blk_req_complete(q, r, VIRTIO_BLK_S_IOERR);
                return;
        }
        q->inflight++;
}

/* Each request of a (failed or unbuildable) merged transfer on its own. */
static void blk_merge_split(struct blk_queue *q, struct blk_req *r)
{
        while (r) {
                struct blk_req *next = r->merge_next;

                blk_req_issue(q, r);
                r = next;
        }
}

/* Send the merge being built to the backend. */
static void blk_merge_flush(struct blk_queue *q)
{
        struct blk_req *first = q->m_first;
        struct iovec *v;
        unsigned k = 0;
        int res;

        if (!first)
                return;
        q->m_first = q->m_last = NULL;
        if (q->m_n == 1) {
                blk_req_issue(q, first);
                return;
        }
        v = malloc(q->m_niov * sizeof(*v));
        if (!v) {
                blk_merge_split(q, first);
                return;
        }
        for (struct blk_req *r = first; r; r = r->merge_next) {
                memcpy(v + k, r->data, r->n_data * sizeof(*v));
                k += r->n_data;
        }
        if (first->action == VSP_BLK_READ)
                res = vsp_uring_read(q->u, &first->io, v, k, first->offset);
        else
                res = vsp_uring_write(q->u, &first->io, v, k, first->offset);
        if (res < 0) {
                free(v);
                blk_merge_split(q, first);
                return;
        }
        first->merged_iov = v;
        stat_add(&q->stats.merged, q->m_n - 1);
        q->inflight++;
}

/* A read or write: join it to the merge being built when it continues it, else start one. */
static void blk_merge_add(struct blk_queue *q, struct blk_req *r)
{
        struct blk_req *f = q->m_first;

        r->merge_next = NULL;
        r->merged_iov = NULL;
        if (f && (f->action != r->action || r->offset != q->m_end || q->m_niov + r->n_data > BLK_MERGE_MAX_IOV ||
                  q->m_end + r->length - f->offset > BLK_MERGE_MAX_BYTES))
                blk_merge_flush(q);
        if (!q->m_first) {
                q->m_first = q->m_last = r;
                q->m_n = 1;
                q->m_niov = r->n_data;
                q->m_end = r->offset + r->length;
                return;
        }
        q->m_last->merge_next = r;
        q->m_last = r;
        q->m_n++;
        q->m_niov += r->n_data;
        q->m_end += r->length;
}

static void blk_req_start(struct blk_queue *q, struct blk_req *r, const struct vsp_blk_parsed *p)
{
        struct vsp_blk *b = q->blk;
        int res = 0;

        r->status = p->status;
        r->used_len = p->used_len;
        r->type = p->type;
        r->action = (uint8_t)p->action;
        r->length = p->length;
        r->offset = p->offset;
        r->data = p->data;
        r->n_data = p->n_data;
        r->merge_next = NULL;
        r->merged_iov = NULL;
        if (p->action == VSP_BLK_READ || p->action == VSP_BLK_WRITE) {
                blk_merge_add(q, r);
                return;
        }
        /* Everything else in submission order after the reads and writes before it. */
        blk_merge_flush(q);
        switch (p->action) {
        case VSP_BLK_DONE:
                if (p->result != VIRTIO_BLK_S_OK)
                        stat_add(&q->stats.bad_requests, 1);
                else
                        blk_account(q, r);
                blk_req_complete(q, r, p->result);
                return;
        case VSP_BLK_GET_ID: {
                char id[VIRTIO_BLK_ID_BYTES] = { 0 };

                memcpy(id, b->disk.serial, strnlen(b->disk.serial, sizeof(id)));
                iov_from_buf(p->data, p->n_data, 0, id, p->length);
                blk_account(q, r);
                blk_req_complete(q, r, VIRTIO_BLK_S_OK);
                return;
        }
        case VSP_BLK_FLUSH:
                res = vsp_uring_flush(q->u, &r->io);
                break;
        case VSP_BLK_DISCARD:
                res = vsp_uring_discard(q->u, &r->io, p->offset, p->length);
                break;
        case VSP_BLK_WRITE_ZEROES:
                res = vsp_uring_write_zeroes(q->u, &r->io, p->offset, p->length, p->unmap);
                break;
        default:
                res = -EINVAL;
                break;
        }
        if (res < 0) {
                stat_add(&q->stats.io_errors, 1);
                blk_req_complete(q, r, VIRTIO_BLK_S_IOERR);
                return;
        }
        q->inflight++;
}

/*
 * Take everything the driver made available; returns how many requests. Doorbells stay as
 * they are: the I/O thread re-enables them only before it sleeps. When every slot is busy
 * (legal: with indirect descriptors a queue-size worth of chains fits in the ring) we stop;
 * the I/O thread calls this again after every completion, so the requests still in the
 * ring are taken as soon as a slot frees (it used to wait for a doorbell the driver, told
 * by a stale avail_event, never rang).
 */
static unsigned blk_queue_drain(struct blk_queue *q)
{
        struct vsp_blk_parsed p;
        struct virtq_elem el;
        unsigned popped = 0;

        if (q->broken || q->stopping)
                return 0;
        for (;;) {
                struct blk_req *r;
                int n;

                if (q->free_head == UINT16_MAX) {
                        /* A slot is only free once its used entry is pushed. */
                        if (virtq_has_avail(q->vq))
                                blk_queue_fail(q, "more requests in flight than the queue holds");
                        break;
                }
                r = &q->reqs[q->free_head];
                n = virtq_pop(q->vq, r->iov, VSP_BLK_MAX_CHAIN, &el);
                if (n == 0)
                        break;
                if (n < 0) {
                        blk_queue_fail(q, q->vq->error ? q->vq->error : "bad ring");
                        break;
                }
                if (vsp_blk_parse(&q->blk->lim, r->iov, &el, &p) < 0) {
                        blk_queue_fail(q, "request without header or status byte");
                        break;
                }
                q->free_head = r->next_free;
                r->head = el.head;
                popped++;
                blk_req_start(q, r, &p);
        }
        blk_merge_flush(q);
        return popped;
}

static void blk_io_done(void *ctx, struct vsp_io *io, int res)
{
        struct blk_queue *q = ctx;
        struct blk_req *r;

        if (io == &q->stop_io) {
                q->stopping = true;
                return;
        }
        if (io == &q->kick_io) {
                eventfd_t v;

                /* The loop drains the ring after every wake-up; here only re-arm (also when
                 * stopping: a paused queue resumes with its doorbell watched). */
                (void)eventfd_read(q->kick_fd, &v);
                if (vsp_uring_poll(q->u, &q->kick_io, q->kick_fd) < 0)
                        blk_queue_fail(q, "cannot watch the doorbell");
                return;
        }
        r = container_of(io, struct blk_req, io);
        q->inflight--;
        if (r->merged_iov) {
                free(r->merged_iov);
                r->merged_iov = NULL;
                if (res < 0) {
                        /* Which of them failed? Each on its own gets its own status. */
                        blk_merge_split(q, r);
                        return;
                }
                while (r) {
                        struct blk_req *next = r->merge_next;

                        blk_account(q, r);
                        blk_req_complete(q, r, VIRTIO_BLK_S_OK);
                        r = next;
                }
                return;
        }
        if (res < 0) {
                stat_add(&q->stats.io_errors, 1);
                if (blk_log_ok(q))
                        log_debug_errno(res, "virtio-blk %s: request type %u failed: %m",
                                        q->blk->disk.path ? q->blk->disk.path : "", r->type);
                blk_req_complete(q, r, VIRTIO_BLK_S_IOERR);
                return;
        }
        blk_account(q, r);
        blk_req_complete(q, r, VIRTIO_BLK_S_OK);
}

static void blk_queue_publish(struct blk_queue *q)
{
        if (!q->used_pending)
                return;
        q->used_pending = false;
        virtq_flush(q->vq);
        if (virtq_need_interrupt(q->vq))
                q->blk->irq->queue(q->blk->irq->opaque, q->index);
}

static uint64_t blk_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * After a sleep of block_ns: had we polled longer we would have skipped it (grow the
 * window), or no window we allow would have (shrink it).
 */
static void blk_poll_adapt(struct blk_queue *q, uint64_t block_ns)
{
        if (block_ns > BLK_POLL_MAX_NS) {
                q->poll_ns /= 2;
                if (q->poll_ns < BLK_POLL_MIN_NS)
                        q->poll_ns = 0;
        } else if (block_ns > q->poll_ns) {
                q->poll_ns = MIN(MAX(q->poll_ns * 2, BLK_POLL_MIN_NS), BLK_POLL_MAX_NS);
        }
}

/*
 * io_uring itself failed: this queue can do nothing more. The driver hears DEVICE_NEEDS_RESET
 * (a reset builds a new ring); what the kernel still holds is waited for, since it reads
 * and writes our buffers, and if it does not come back the queue's memory is never freed.
 */
static void blk_queue_backend_failed(struct blk_queue *q, const char *what, int err)
{
        if (blk_log_ok(q))
                log_debug("virtio-blk queue %u: io_uring %s failed: %s", q->index, what, strerror(-err));
        blk_queue_fail(q, "its I/O backend failed");
        if (vsp_uring_drain(q->u, blk_io_done, q, &q->inflight, 2000) < 0)
                q->backend_held = true;
}

/* The queue's loop (see iothread.h): returns at a quiet point once ctl_fd is readable. */
static int blk_queue_run(void *arg, int ctl_fd)
{
        struct blk_queue *q = arg;
        uint64_t last_work = blk_now_ns(), last_look = 0;
        int r;

        q->stopping = false;
        r = vsp_uring_poll(q->u, &q->stop_io, ctl_fd);
        if (r < 0)
                return r;
        virtq_disable_notify(q->vq);
        for (;;) {
                unsigned work;
                uint64_t now, t0;

                /* Requests (doorbells rung before DRIVER_OK too), then completions. */
                work = blk_queue_drain(q);
                r = vsp_uring_submit(q->u);
                if (r < 0) {
                        blk_queue_backend_failed(q, "submit", r);
                        return r;
                }
                work += (unsigned)vsp_uring_reap(q->u, blk_io_done, q);
                blk_queue_publish(q);
                if (q->stopping && q->inflight == 0)
                        break;
                now = blk_now_ns();
                if (work) {
                        last_work = now;
                        last_look = 0;
                        continue;
                }
                /*
                 * Poll only while we wait for the guest alone: with operations in the
                 * backend the kernel may need this CPU to finish them (direct writes
                 * complete in kernel worker threads; polling through them halved 4 KiB
                 * random writes on ext4 on a 2-CPU host), and a completion wakes us anyway.
                 */
                if (!q->stopping && !q->broken && q->inflight == 0 && now - last_work < q->poll_ns) {
                        /*
                         * Polling only pays while we have the CPU to ourselves: when the
                         * scheduler ran something else between two looks, another thread
                         * wants this CPU (perhaps the vCPU we wait for). Sleep instead.
                         */
                        if (last_look && now - last_look > BLK_POLL_PREEMPTED_NS) {
                                q->poll_ns /= 2;
                                if (q->poll_ns < BLK_POLL_MIN_NS)
                                        q->poll_ns = 0;
                        } else {
                                last_look = now;
                                __builtin_ia32_pause();
                                continue;
                        }
                }
                last_look = 0;
                /* Going to sleep: doorbells on, and a last look for what raced with that. */
                if (!q->stopping && virtq_enable_notify(q->vq)) {
                        virtq_disable_notify(q->vq);
                        continue;
                }
                t0 = now;
                r = vsp_uring_wait(q->u, blk_io_done, q);
                if (r < 0) {
                        blk_queue_backend_failed(q, "wait", r);
                        return r;
                }
                virtq_disable_notify(q->vq);
                last_work = blk_now_ns();
                blk_poll_adapt(q, last_work - t0);
        }
        blk_queue_publish(q);
        return 0;
}

static void blk_queue_stop(struct blk_queue *q)
{
        vsp_iothread_stop(&q->t);
        if (q->backend_held) {
                /* The kernel may still write into q->reqs' buffers: leak them, never reuse. */
                q->u = NULL;
                q->reqs = NULL;
                q->backend_held = false;
        }
        vsp_uring_free(q->u);
        q->u = NULL;
        free(q->reqs);
        q->reqs = NULL;
        q->vq = NULL;
}

static int blk_queue_start(struct vsp_blk *b, struct blk_queue *q, const struct virtio_dev_queue *dq)
{
        unsigned n = dq->vq->size;
        int r;

        /* Field by field: the statistics live on across resets and are read concurrently. */
        q->blk = b;
        q->vq = dq->vq;
        q->kick_fd = dq->kick_fd;
        q->u = NULL;
        q->stopping = q->broken = q->used_pending = q->backend_held = false;
        q->inflight = 0;
        q->poll_ns = BLK_POLL_START_NS;
        q->m_first = q->m_last = NULL;
        q->rl = (struct ratelimit) RATELIMIT_INIT(1000000, 5);
        q->reqs = calloc(n, sizeof(*q->reqs));
        if (!q->reqs)
                return -ENOMEM;
        q->n_reqs = n;
        q->free_head = UINT16_MAX;
        for (unsigned i = n; i > 0; i--)
                blk_req_put(q, &q->reqs[i - 1]);
        r = vsp_uring_new(b->img, n + 4, &q->u);
        if (r < 0)
                return r;
        r = vsp_uring_poll(q->u, &q->kick_io, q->kick_fd);
        if (r < 0)
                return r;
        return vsp_iothread_start(&q->t, q->what, blk_queue_run, q, b->irq);
}

static void blk_reset(void *dev)
{
        struct vsp_blk *b = dev;

        for (unsigned i = 0; i < b->nq; i++)
                blk_queue_stop(&b->queues[i]);
}

static void blk_pause(void *dev)
{
        struct vsp_blk *b = dev;

        for (unsigned i = 0; i < b->nq; i++)
                vsp_iothread_pause(&b->queues[i].t);
        /* At rest, nothing in flight: a format's metadata goes to the image as a flush
         * would write it, so a paused VM's disk files are consistent on their own. */
        if (vsp_image_commit(b->img) < 0)
                log_warning("virtio-blk %s: cannot write the image's metadata back while paused",
                            b->disk.path ? b->disk.path : "");
}

/*
 * Saved state: nothing beyond the transport's. Paused, nothing is in flight and every
 * finished request is in the used rings (the queues' indices are the transport's to save);
 * a format's metadata went to the image at pause.
 */
static int blk_save(void *dev, struct vmstate_writer *w, const char *prefix)
{
        return 0;
}

static int blk_load(void *dev, struct vmstate *st, const char *prefix, char *err, size_t err_len)
{
        return 0;
}

static void blk_resume(void *dev)
{
        struct vsp_blk *b = dev;

        for (unsigned i = 0; i < b->nq; i++)
                vsp_iothread_resume(&b->queues[i].t);
}

static int blk_activate(void *dev, const struct virtio_activation *a)
{
        struct vsp_blk *b = dev;
        int r;

        b->irq = a->irq;
        b->lim.features = a->features;
        for (unsigned i = 0; i < b->nq && i < a->n_queues; i++) {
                if (!a->queues[i].vq)
                        continue;
                r = blk_queue_start(b, &b->queues[i], &a->queues[i]);
                if (r < 0) {
                        log_debug_errno(r, "virtio-blk: cannot start queue %u: %m", i);
                        blk_reset(b);
                        return r;
                }
        }
        return 0;
}

static void blk_read_config(void *dev, uint32_t off, void *data, uint32_t len)
{
        struct vsp_blk *b = dev;

        memcpy(data, (const uint8_t *)&b->cfg + off, len);
}

static void blk_free(void *dev)
{
        struct vsp_blk *b = dev;

        if (!b)
                return;
        if (b->queues) {
                blk_reset(b);
                for (unsigned i = 0; i < b->nq; i++)
                        vsp_iothread_destroy(&b->queues[i].t);
        }
        free(b->queues);
        vsp_image_free(b->img);
        disk_config_done(&b->disk);
        free(b);
}

static const struct virtio_dev_ops blk_ops = {
        .activate = blk_activate,
        .reset = blk_reset,
        .pause = blk_pause,
        .resume = blk_resume,
        .read_config = blk_read_config,
        .save = blk_save,
        .load = blk_load,
        .free = blk_free,
};

static int blk_new(const struct disk_config *disk, struct vsp_blk **ret, struct config_error *err)
{
        struct vsp_blk *b;
        uint64_t features;
        uint32_t bs;
        int r;

        if (disk->queues < 1 || disk->queues > DISK_QUEUES_MAX)
                return config_error_set(err, "disk %s: queues=%u: between 1 and %u", disk->path ? disk->path : "(fd)",
                                        disk->queues, DISK_QUEUES_MAX);
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->disk = *disk;
        b->disk.path = disk->path ? strdup(disk->path) : NULL;
        b->nq = disk->queues;
        b->queues = calloc(b->nq, sizeof(*b->queues));
        if ((disk->path && !b->disk.path) || !b->queues) {
                blk_free(b);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < b->nq; i++) {
                struct blk_queue *q = &b->queues[i];

                *q = (struct blk_queue) { .blk = b, .index = i };
                snprintf(q->what, sizeof(q->what), "virtio-blk queue %u", i);
                vsp_iothread_init(&q->t);
        }
        r = vsp_image_open(disk, &b->img, err);
        if (r < 0) {
                blk_free(b);
                return r;
        }
        bs = vsp_image_block_size(b->img);
        features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
                   VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
                   VIRTIO_BIT(VIRTIO_BLK_F_MQ) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |
                   VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
        if (disk->readonly)
                features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
        else
                features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
        b->lim = (struct vsp_blk_limits) {
                .capacity = vsp_image_size(b->img) >> VIRTIO_BLK_SECTOR_SHIFT,
                .readonly = disk->readonly,
                .serial = b->disk.serial,
        };
        b->cfg = (struct virtio_blk_config) {
                .capacity = htole64(b->lim.capacity),
                .size_max = htole32(VSP_BLK_SIZE_MAX),
                .seg_max = htole32(VSP_BLK_SEG_MAX),
                .blk_size = htole32(bs),
                .num_queues = htole16((uint16_t)b->nq),
                .max_discard_sectors = htole32(VSP_BLK_MAX_DISCARD_SECTORS),
                .max_discard_seg = htole32(1),
                .discard_sector_alignment = htole32(MAX(VSP_BLK_DISCARD_ALIGN, bs >> VIRTIO_BLK_SECTOR_SHIFT)),
                .max_write_zeroes_sectors = htole32(VSP_BLK_MAX_DISCARD_SECTORS),
                .max_write_zeroes_seg = htole32(1),
                .write_zeroes_may_unmap = 1,
        };
        b->info = (struct virtio_dev_info) {
                .name = "blk", .type = VIRTIO_ID_BLOCK, .pci_class = PCI_CLASS_STORAGE_SCSI,
                .features = features, .num_queues = (uint16_t)b->nq,
                .queue_max_size = VSP_BLK_QUEUE_SIZE, .config_size = sizeof(b->cfg),
        };
        *ret = b;
        return 0;
}

int vsp_blk_add(struct vmbus *bus, const struct disk_config *disk, struct vsp_blk **ret_blk,
                struct config_error *err)
{
        struct vsp_blk *b = NULL;
        int r;

        r = blk_new(disk, &b, err);
        if (r < 0)
                return r;
        r = vmbus_add_virtio(bus, &b->info, &blk_ops, b);       /* frees b on failure */
        if (r < 0)
                return r;
        if (ret_blk)
                *ret_blk = b;
        return 0;
}

/* Every counter by name: a field added to struct vsp_blk_stats fails the assertion until it
 * is summed here too. */
_Static_assert(sizeof(struct vsp_blk_stats) == 12 * sizeof(uint64_t), "sum every vsp_blk_stats field below");
static void blk_stats_add(struct vsp_blk_stats *s, const struct vsp_blk_stats *q)
{
#define ADD(f) s->f += __atomic_load_n(&q->f, __ATOMIC_RELAXED)
        ADD(reads); ADD(writes); ADD(flushes); ADD(discards); ADD(write_zeroes); ADD(get_ids);
        ADD(bytes_read); ADD(bytes_written); ADD(io_errors); ADD(bad_requests); ADD(merged);
#undef ADD
        /* ring_errors is the device's, not a queue's */
}

void vsp_blk_get_stats(struct vsp_blk *b, struct vsp_blk_stats *ret)
{
        struct vsp_blk_stats s = { .ring_errors = __atomic_load_n(&b->ring_errors, __ATOMIC_RELAXED) };

        for (unsigned i = 0; i < b->nq; i++)
                blk_stats_add(&s, &b->queues[i].stats);
        *ret = s;
}
