/* SPDX-License-Identifier: MIT */
/*
 * The device models' I/O-thread scaffold (src/vsp/iothread.c) with a loop of the test's
 * own: pause waits for the loop to reach its quiet point, resume runs it again, stop works
 * from every state, and a loop that fails sets DEVICE_NEEDS_RESET once and stays parked.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <check.h>

#include "vmms/virtio_dev.h"
#include "iothread.h"
#include "check-main.h"

struct loop {
        int runs;               /* atomic: times run() was entered */
        int quiet;              /* atomic: 1 once run() finished its last step */
        int fail_with;          /* run() returns this at once when nonzero */
        int resets;             /* atomic: needs_reset calls */
};

static int loop_run(void *arg, int ctl_fd)
{
        struct loop *l = arg;
        struct pollfd p = { .fd = ctl_fd, .events = POLLIN };

        __atomic_fetch_add(&l->runs, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&l->quiet, 0, __ATOMIC_SEQ_CST);
        if (l->fail_with)
                return l->fail_with;
        while (poll(&p, 1, -1) != 1)
                ;
        usleep(50 * 1000);      /* coming to rest takes a while */
        __atomic_store_n(&l->quiet, 1, __ATOMIC_SEQ_CST);
        return 0;
}

static void count_reset(void *opaque)
{
        struct loop *l = opaque;

        __atomic_fetch_add(&l->resets, 1, __ATOMIC_SEQ_CST);
}

static void wait_runs(struct loop *l, int n)
{
        for (int i = 0; i < 2000 && __atomic_load_n(&l->runs, __ATOMIC_SEQ_CST) < n; i++)
                usleep(1000);
        ck_assert_int_eq(__atomic_load_n(&l->runs, __ATOMIC_SEQ_CST), n);
}

START_TEST(test_pause_resume_stop)
{
        struct loop l = { 0 };
        struct virtio_irq irq = { .needs_reset = count_reset, .opaque = &l };
        struct vsp_iothread t;

        vsp_iothread_init(&t);
        vsp_iothread_pause(&t);         /* not started: nothing to wait for */
        vsp_iothread_resume(&t);
        ck_assert_int_eq(vsp_iothread_start(&t, "test", loop_run, &l, &irq), 0);
        ck_assert_int_eq(vsp_iothread_start(&t, "test", loop_run, &l, &irq), -EBUSY);
        wait_runs(&l, 1);
        for (int i = 0; i < 3; i++) {
                vsp_iothread_pause(&t);
                ck_assert_int_eq(__atomic_load_n(&l.quiet, __ATOMIC_SEQ_CST), 1);
                vsp_iothread_pause(&t);         /* twice is once */
                usleep(20 * 1000);
                ck_assert_int_eq(__atomic_load_n(&l.runs, __ATOMIC_SEQ_CST), i + 1);
                vsp_iothread_resume(&t);
                wait_runs(&l, i + 2);
        }
        vsp_iothread_stop(&t);
        ck_assert_int_eq(__atomic_load_n(&l.quiet, __ATOMIC_SEQ_CST), 1);
        ck_assert(!vsp_iothread_failed(&t));
        ck_assert_int_eq(l.resets, 0);
        /* Started again, then stopped while paused. */
        ck_assert_int_eq(vsp_iothread_start(&t, "test", loop_run, &l, &irq), 0);
        vsp_iothread_pause(&t);
        vsp_iothread_stop(&t);
        vsp_iothread_stop(&t);
        vsp_iothread_destroy(&t);
}
END_TEST

static int idle_calls;

static uint64_t count_idle(void *arg)
{
        __atomic_fetch_add(&idle_calls, 1, __ATOMIC_SEQ_CST);
        return 10;      /* ms */
}

/* The idle work runs only while paused, again and again as long as the pause lasts. */
START_TEST(test_idle_while_paused)
{
        struct loop l = { 0 };
        struct virtio_irq irq = { .needs_reset = count_reset, .opaque = &l };
        struct vsp_iothread t;
        int n;

        vsp_iothread_init(&t);
        vsp_iothread_set_idle(&t, count_idle);
        ck_assert_int_eq(vsp_iothread_start(&t, "test", loop_run, &l, &irq), 0);
        wait_runs(&l, 1);
        usleep(50 * 1000);
        ck_assert_int_eq(__atomic_load_n(&idle_calls, __ATOMIC_SEQ_CST), 0);
        vsp_iothread_pause(&t);
        usleep(200 * 1000);
        n = __atomic_load_n(&idle_calls, __ATOMIC_SEQ_CST);
        ck_assert_int_ge(n, 5);
        vsp_iothread_resume(&t);
        wait_runs(&l, 2);
        n = __atomic_load_n(&idle_calls, __ATOMIC_SEQ_CST);
        usleep(100 * 1000);
        ck_assert_int_eq(__atomic_load_n(&idle_calls, __ATOMIC_SEQ_CST), n);
        vsp_iothread_destroy(&t);
}
END_TEST

START_TEST(test_loop_fails)
{
        struct loop l = { .fail_with = -EIO };
        struct virtio_irq irq = { .needs_reset = count_reset, .opaque = &l };
        struct vsp_iothread t;

        vsp_iothread_init(&t);
        ck_assert_int_eq(vsp_iothread_start(&t, "test", loop_run, &l, &irq), 0);
        wait_runs(&l, 1);
        for (int i = 0; i < 1000 && !vsp_iothread_failed(&t); i++)
                usleep(1000);
        ck_assert(vsp_iothread_failed(&t));
        ck_assert_int_eq(__atomic_load_n(&l.resets, __ATOMIC_SEQ_CST), 1);
        /* Parked: a pause returns at once, a resume does not run the loop again. */
        vsp_iothread_pause(&t);
        vsp_iothread_resume(&t);
        usleep(50 * 1000);
        ck_assert_int_eq(__atomic_load_n(&l.runs, __ATOMIC_SEQ_CST), 1);
        ck_assert_int_eq(__atomic_load_n(&l.resets, __ATOMIC_SEQ_CST), 1);
        vsp_iothread_destroy(&t);       /* stops it */
}
END_TEST

CHECK_MAIN("iothread", test_pause_resume_stop, test_idle_while_paused, test_loop_fails)
