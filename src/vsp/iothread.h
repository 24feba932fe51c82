/* SPDX-License-Identifier: MIT */
/*
 * One I/O thread of a device model, and what every one of them needs besides its loop:
 * start, stop, pause at a quiet point and resume, and "the loop itself failed" turned into
 * DEVICE_NEEDS_RESET. blk (io_uring), net (epoll) and console (poll) each bring only their
 * loop; this file owns the thread, the control eventfd and the state around it.
 *
 * The loop, run(ctx, ctl_fd), serves the device and watches ctl_fd. When ctl_fd becomes
 * readable it comes to a quiet point and returns 0: nothing the guest asked for is still in
 * flight, everything finished is in the used rings, and what is left (a buffer not taken
 * yet, a frame the backend would not take) is in the device's own state. It is called again
 * on resume. A negative return is the loop's own failure (epoll, poll, io_uring): the driver
 * hears DEVICE_NEEDS_RESET and the thread waits, serving nothing, until it is stopped.
 *
 * Pause is what saving a VM needs: with the vCPUs stopped, pausing every device leaves
 * guest memory and device state still, until resume.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct virtio_irq;

typedef int (*vsp_iothread_fn)(void *ctx, int ctl_fd);
/* While paused: host-side work that touches no guest memory (timers); ms until the next call. */
typedef uint64_t (*vsp_iothread_idle_fn)(void *ctx);

struct vsp_iothread {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        int ctl_fd;                     /* written to ask the loop to return */
        bool started;
        bool want_stop, want_pause;     /* requests, under lock */
        bool parked;                    /* the loop is not running: quiet (under lock) */
        bool failed;                    /* the loop failed; parked until stopped */
        vsp_iothread_fn run;
        vsp_iothread_idle_fn idle;      /* optional */
        void *ctx;
        const struct virtio_irq *irq;
        const char *what;               /* "virtio-net pair 0", for messages */
};

/* Once, before anything else; vsp_iothread_destroy() at the end (stops it first). */
void vsp_iothread_init(struct vsp_iothread *t);
void vsp_iothread_destroy(struct vsp_iothread *t);

/* Optional, before start: what the thread does while paused (the console's engine timers). */
void vsp_iothread_set_idle(struct vsp_iothread *t, vsp_iothread_idle_fn idle);
/* Start the thread running run(ctx, ...). what must outlive the thread. */
int vsp_iothread_start(struct vsp_iothread *t, const char *what, vsp_iothread_fn run, void *ctx,
                       const struct virtio_irq *irq);
/* Ask the loop to return and join the thread. Nothing when it is not started. */
void vsp_iothread_stop(struct vsp_iothread *t);
/* Returns once the loop is at a quiet point (or failed, or not started). */
void vsp_iothread_pause(struct vsp_iothread *t);
void vsp_iothread_resume(struct vsp_iothread *t);
bool vsp_iothread_failed(struct vsp_iothread *t);
