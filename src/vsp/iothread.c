/* SPDX-License-Identifier: MIT */
/* The I/O thread scaffold of the device models: see iothread.h. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/virtio_dev.h"
#include "iothread.h"

void vsp_iothread_init(struct vsp_iothread *t)
{
        pthread_condattr_t a;

        *t = (struct vsp_iothread) { .ctl_fd = -1, .parked = true };
        pthread_mutex_init(&t->lock, NULL);
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&t->cond, &a);
        pthread_condattr_destroy(&a);
}

void vsp_iothread_set_idle(struct vsp_iothread *t, vsp_iothread_idle_fn idle)
{
        t->idle = idle;
}

/* Parked (paused or failed) until asked to run or stop; a paused one keeps its idle work. */
static void iothread_park(struct vsp_iothread *t)
{
        while (!t->want_stop && (t->want_pause || t->failed)) {
                t->parked = true;
                pthread_cond_broadcast(&t->cond);
                if (t->idle && !t->failed) {
                        uint64_t ms;

                        pthread_mutex_unlock(&t->lock);
                        ms = t->idle(t->ctx);
                        pthread_mutex_lock(&t->lock);
                        if (t->want_stop || !t->want_pause)
                                break;
                        if (ms != UINT64_MAX) {
                                struct timespec ts;

                                ms = MIN(ms, 60000u);
                                clock_gettime(CLOCK_MONOTONIC, &ts);
                                ts.tv_sec += (time_t)(ms / 1000);
                                ts.tv_nsec += (long)(ms % 1000) * 1000000L;
                                if (ts.tv_nsec >= 1000000000L) {
                                        ts.tv_sec++;
                                        ts.tv_nsec -= 1000000000L;
                                }
                                pthread_cond_timedwait(&t->cond, &t->lock, &ts);
                                continue;
                        }
                }
                pthread_cond_wait(&t->cond, &t->lock);
        }
}

void vsp_iothread_destroy(struct vsp_iothread *t)
{
        vsp_iothread_stop(t);
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
}

static void *iothread_main(void *arg)
{
        struct vsp_iothread *t = arg;

        pthread_mutex_lock(&t->lock);
        for (;;) {
                eventfd_t v;
                int r;

                iothread_park(t);
                if (t->want_stop)
                        break;
                t->parked = false;
                /* Requests made from here on write ctl_fd again: none is lost. */
                (void)eventfd_read(t->ctl_fd, &v);
                pthread_mutex_unlock(&t->lock);
                r = t->run(t->ctx, t->ctl_fd);
                pthread_mutex_lock(&t->lock);
                if (r < 0) {
                        log_warning_errno(r, "%s: its I/O loop failed: %m; the device needs a reset", t->what);
                        t->failed = true;
                        t->irq->needs_reset(t->irq->opaque);
                }
        }
        t->parked = true;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        return NULL;
}

int vsp_iothread_start(struct vsp_iothread *t, const char *what, vsp_iothread_fn run, void *ctx,
                       const struct virtio_irq *irq)
{
        int r;

        if (t->started)
                return -EBUSY;
        t->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (t->ctl_fd < 0)
                return -errno;
        t->what = what;
        t->run = run;
        t->ctx = ctx;
        t->irq = irq;
        t->want_stop = t->want_pause = t->failed = false;
        t->parked = false;
        r = -pthread_create(&t->thread, NULL, iothread_main, t);
        if (r < 0) {
                t->parked = true;
                t->ctl_fd = safe_close(t->ctl_fd);
                return r;
        }
        t->started = true;
        return 0;
}

void vsp_iothread_stop(struct vsp_iothread *t)
{
        if (!t->started)
                return;
        pthread_mutex_lock(&t->lock);
        t->want_stop = true;
        (void)eventfd_write(t->ctl_fd, 1);
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
        t->started = false;
        t->ctl_fd = safe_close(t->ctl_fd);
}

void vsp_iothread_pause(struct vsp_iothread *t)
{
        if (!t->started)
                return;
        pthread_mutex_lock(&t->lock);
        t->want_pause = true;
        (void)eventfd_write(t->ctl_fd, 1);
        while (!t->parked)
                pthread_cond_wait(&t->cond, &t->lock);
        pthread_mutex_unlock(&t->lock);
}

void vsp_iothread_resume(struct vsp_iothread *t)
{
        if (!t->started)
                return;
        pthread_mutex_lock(&t->lock);
        t->want_pause = false;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
}

bool vsp_iothread_failed(struct vsp_iothread *t)
{
        bool r;

        pthread_mutex_lock(&t->lock);
        r = t->failed;
        pthread_mutex_unlock(&t->lock);
        return r;
}
