/* SPDX-License-Identifier: MIT */
/* The legacy devices and the bus they hang on, driven the way a guest drives them. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <abi/platform.h>

#include "check-main.h"
#include "vmms/iobus.h"
#include "vmms/vdev.h"

struct recorder {
        unsigned gsi;
        bool level;
        unsigned edges;
        char out[256];
        size_t out_len;
        int events[4];
        unsigned n_events;
};

static int rec_irq(void *opaque, unsigned gsi, bool level)
{
        struct recorder *r = opaque;

        r->gsi = gsi;
        if (level && !r->level)
                r->edges++;
        r->level = level;
        return 0;
}

static void rec_tx(void *opaque, const uint8_t *buf, size_t len)
{
        struct recorder *r = opaque;

        memcpy(r->out + r->out_len, buf, len);
        r->out_len += len;
}

static void rec_event(void *opaque, enum vdev_platform_event ev, const char *how)
{
        struct recorder *r = opaque;

        r->events[r->n_events++] = (int)ev;
}

static uint8_t rd8(iobus_handler_fn fn, void *dev, uint64_t off)
{
        uint8_t v = 0;

        fn(dev, off, &v, 1, false);
        return v;
}

static void wr8(iobus_handler_fn fn, void *dev, uint64_t off, uint8_t v)
{
        fn(dev, off, &v, 1, true);
}

static int probe(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
        uint64_t *last = opaque;

        *last = off;
        if (!is_write)
                memset(data, 0x42, len);
        return 0;
}

START_TEST(test_iobus)
{
        struct iobus b;
        uint64_t a = 99, c = 99;
        uint32_t v;

        ck_assert_int_eq(iobus_init(&b, "test"), 0);
        ck_assert_int_eq(iobus_register(&b, 0x100, 0x10, probe, &a, "a"), 0);
        ck_assert_int_eq(iobus_register(&b, 0x200, 0x10, probe, &c, "c"), 0);
        ck_assert_int_eq(iobus_register(&b, 0x108, 0x10, probe, &c, "x"), -EEXIST);
        ck_assert_int_eq(iobus_register(&b, 0xf8, 0x9, probe, &c, "x"), -EEXIST);
        ck_assert_int_eq(iobus_register(&b, 0x1f0, 0x20, probe, &c, "x"), -EEXIST);
        ck_assert_int_eq(iobus_register(&b, 0x300, 0, probe, &c, "x"), -EINVAL);
        ck_assert_int_eq(iobus_register(&b, ~0ull, 2, probe, &c, "x"), -EINVAL);
        ck_assert_int_eq(iobus_register(&b, 0x110, 0xf0, probe, &c, "gap"), 0);   /* exactly fills */

        ck_assert_int_eq(iobus_dispatch(&b, 0x104, &v, 4, false), 0);
        ck_assert_uint_eq(a, 4);
        ck_assert_uint_eq(v, 0x42424242);
        ck_assert_int_eq(iobus_dispatch(&b, 0x20f, &v, 1, true), 0);
        ck_assert_uint_eq(c, 0xf);
        ck_assert_int_eq(iobus_dispatch(&b, 0x50, &v, 4, false), -ENOENT);
        ck_assert_uint_eq(v, 0xffffffff);
        ck_assert_int_eq(iobus_dispatch(&b, 0x20e, &v, 4, false), -ERANGE);  /* straddles the end */
        ck_assert_int_eq(iobus_dispatch(&b, 0x210, &v, 4, false), -ENOENT);

        ck_assert_int_eq(iobus_unregister(&b, 0x200, &a), -ENOENT);            /* not its owner */
        ck_assert_int_eq(iobus_unregister(&b, 0x200, &c), 0);
        ck_assert_int_eq(iobus_dispatch(&b, 0x204, &v, 4, false), -ENOENT);
        ck_assert_int_eq(iobus_register(&b, 0x200, 0x10, probe, &c, "c"), 0);
        iobus_done(&b);
}
END_TEST

START_TEST(test_serial)
{
        struct recorder rec = {};
        struct irq_line irq = { rec_irq, &rec, PLATFORM_IRQ_COM1 };
        struct vdev_serial *s;

        ck_assert_int_eq(vdev_serial_new(&irq, rec_tx, &rec, &s), 0);
        /* Transmit. */
        wr8(vdev_serial_io, s, 0, 'o');
        wr8(vdev_serial_io, s, 0, 'k');
        ck_assert_uint_eq(rec.out_len, 2);
        ck_assert_int_eq(memcmp(rec.out, "ok", 2), 0);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 5) & 0x60, 0x60);             /* THRE | TEMT */
        ck_assert(!rec.level);

        /* Divisor latch: DLAB hides THR/IER behind DLL/DLM. */
        wr8(vdev_serial_io, s, 3, 0x80);
        wr8(vdev_serial_io, s, 0, 0x01);
        wr8(vdev_serial_io, s, 1, 0x00);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 0), 0x01);
        wr8(vdev_serial_io, s, 3, 0x03);
        ck_assert_uint_eq(rec.out_len, 2);

        /* Receive with RX interrupts on: level follows data ready. */
        wr8(vdev_serial_io, s, 1, 0x01);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 2) & 0x0f, 0x01);             /* no interrupt */
        ck_assert_uint_eq(vdev_serial_receive(s, (const uint8_t *)"hi", 2), 2);
        ck_assert(rec.level);
        ck_assert_uint_eq(rec.gsi, PLATFORM_IRQ_COM1);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 5) & 1, 1);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 2) & 0x0f, 0x04);             /* RX data */
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 0), 'h');
        ck_assert(rec.level);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 0), 'i');
        ck_assert(!rec.level);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 5) & 1, 0);

        /* THR-empty interrupt: raised when enabled, cleared by reading IIR, raised by a write. */
        wr8(vdev_serial_io, s, 1, 0x02);
        ck_assert(rec.level);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 2) & 0x0f, 0x02);
        ck_assert(!rec.level);
        wr8(vdev_serial_io, s, 0, '!');
        ck_assert(rec.level);
        wr8(vdev_serial_io, s, 1, 0x00);
        ck_assert(!rec.level);

        /* Scratch register and loopback. */
        wr8(vdev_serial_io, s, 7, 0xa5);
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 7), 0xa5);
        wr8(vdev_serial_io, s, 4, 0x10);
        wr8(vdev_serial_io, s, 0, 'L');
        ck_assert_uint_eq(rd8(vdev_serial_io, s, 0), 'L');
        ck_assert_uint_eq(rec.out_len, 3);                                      /* 'L' stayed inside */

        /* A flood is bounded, not fatal. */
        static uint8_t big[100000];
        ck_assert_uint_lt(vdev_serial_receive(s, big, sizeof(big)), sizeof(big));
        vdev_serial_free(s);
}
END_TEST

START_TEST(test_pm)
{
        struct recorder rec = {};
        struct irq_line sci = { rec_irq, &rec, PLATFORM_IRQ_SCI };
        struct vdev_pm *p;
        uint16_t v;

        ck_assert_int_eq(vdev_pm_new(&sci, rec_event, &rec, &p), 0);
        vdev_pm_cnt_io(p, 0, &v, 2, false);
        ck_assert_uint_eq(v & PM1_CNT_SCI_EN, PM1_CNT_SCI_EN);

        /* Button pressed while disabled: status set, no SCI. */
        vdev_pm_power_button(p);
        vdev_pm_evt_io(p, 0, &v, 2, false);
        ck_assert_uint_eq(v, PM1_STS_PWRBTN);
        ck_assert(!rec.level);
        /* Enabling it raises the SCI; write-1-to-clear lowers it. */
        v = PM1_EN_PWRBTN;
        vdev_pm_evt_io(p, 2, &v, 2, true);
        ck_assert(rec.level);
        ck_assert_uint_eq(rec.gsi, PLATFORM_IRQ_SCI);
        v = 0;
        vdev_pm_evt_io(p, 0, &v, 2, true);                     /* writing 0 clears nothing */
        ck_assert(rec.level);
        v = PM1_STS_PWRBTN;
        vdev_pm_evt_io(p, 0, &v, 2, true);
        ck_assert(!rec.level);
        uint32_t both;
        vdev_pm_evt_io(p, 0, &both, 4, false);                  /* dword: status | enable << 16 */
        ck_assert_uint_eq(both, (uint32_t)PM1_EN_PWRBTN << 16);

        /* S1 does nothing; S5 with SLP_EN powers off. */
        v = (uint16_t)((1u << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN);
        vdev_pm_cnt_io(p, 0, &v, 2, true);
        ck_assert_uint_eq(rec.n_events, 0);
        v = (uint16_t)((PLATFORM_SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT));
        vdev_pm_cnt_io(p, 0, &v, 2, true);
        ck_assert_uint_eq(rec.n_events, 0);                     /* no SLP_EN yet */
        v |= PM1_CNT_SLP_EN;
        vdev_pm_cnt_io(p, 0, &v, 2, true);
        ck_assert_uint_eq(rec.n_events, 1);
        ck_assert_int_eq(rec.events[0], VDEV_EVENT_POWEROFF);
        vdev_pm_cnt_io(p, 0, &v, 2, false);
        ck_assert_uint_eq(v & PM1_CNT_SLP_EN, 0);
        vdev_pm_free(p);
}
END_TEST

START_TEST(test_reset)
{
        struct recorder rec = {};
        struct vdev_i8042 *k;
        struct vdev_reset_ctl cf9 = { rec_event, &rec, 0 };

        ck_assert_int_eq(vdev_i8042_new(rec_event, &rec, &k), 0);
        ck_assert_uint_eq(rd8(vdev_i8042_io, k, 4), 0);        /* status: nothing pending */
        wr8(vdev_i8042_io, k, 4, 0xaa);
        ck_assert_uint_eq(rec.n_events, 0);
        wr8(vdev_i8042_io, k, 4, PLATFORM_I8042_CMD_RESET);
        ck_assert_uint_eq(rec.n_events, 1);
        ck_assert_int_eq(rec.events[0], VDEV_EVENT_RESET);
        vdev_i8042_free(k);

        wr8(vdev_reset_cf9_io, &cf9, 0, 0x02);
        ck_assert_uint_eq(rec.n_events, 1);
        ck_assert_uint_eq(rd8(vdev_reset_cf9_io, &cf9, 0), 0x02);
        wr8(vdev_reset_cf9_io, &cf9, 0, PLATFORM_RESET_CF9_VALUE);
        ck_assert_uint_eq(rec.n_events, 2);
        ck_assert_int_eq(rec.events[1], VDEV_EVENT_RESET);
}
END_TEST

static unsigned bcd(uint8_t v) { return (unsigned)((v >> 4) * 10 + (v & 15)); }

START_TEST(test_rtc)
{
        struct vdev_rtc *r;
        time_t now = time(NULL);
        struct tm tm;

        ck_assert_int_eq(vdev_rtc_new(512u << 20, 0, &r), 0);
        gmtime_r(&now, &tm);
        wr8(vdev_rtc_io, r, 0, 0x09);
        ck_assert_uint_eq(bcd(rd8(vdev_rtc_io, r, 1)), (unsigned)tm.tm_year % 100);
        wr8(vdev_rtc_io, r, 0, 0x32);
        ck_assert_uint_eq(bcd(rd8(vdev_rtc_io, r, 1)), (unsigned)(1900 + tm.tm_year) / 100);
        wr8(vdev_rtc_io, r, 0, 0x0d);
        ck_assert_uint_eq(rd8(vdev_rtc_io, r, 1), 0x80);                   /* valid RAM and time */

        /* Binary mode, and setting the year moves the clock. */
        wr8(vdev_rtc_io, r, 0, 0x0b);
        wr8(vdev_rtc_io, r, 1, 0x06);
        wr8(vdev_rtc_io, r, 0, 0x09);
        wr8(vdev_rtc_io, r, 1, 99);
        ck_assert_uint_eq(rd8(vdev_rtc_io, r, 1), 99);

        /* NVRAM keeps what is written; memory size above 16 MiB in 64 KiB units. */
        wr8(vdev_rtc_io, r, 0, 0x40);
        wr8(vdev_rtc_io, r, 1, 0x5a);
        ck_assert_uint_eq(rd8(vdev_rtc_io, r, 1), 0x5a);
        wr8(vdev_rtc_io, r, 0, 0x34);
        unsigned lo = rd8(vdev_rtc_io, r, 1);
        wr8(vdev_rtc_io, r, 0, 0x35);
        unsigned hi = rd8(vdev_rtc_io, r, 1);
        ck_assert_uint_eq((hi << 8 | lo), (512u - 16u) * 16u);
        vdev_rtc_free(r);
}
END_TEST

CHECK_MAIN("vdev", test_iobus, test_serial, test_pm, test_reset, test_rtc)
