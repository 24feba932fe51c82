/* SPDX-License-Identifier: MIT */
/*
 * MC146818 CMOS RTC at ports 0x70/0x71. The clock reads the host's UTC time plus an offset
 * the guest sets by writing the time registers; BCD or binary and 12/24-hour as status B
 * says. The rest is NVRAM, with the memory sizes where firmware conventionally puts them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "vmms/macro.h"
#include "vmms/vdev.h"
#include "vmms/vmstate.h"

#define RTC_SECONDS  0x00
#define RTC_MINUTES  0x02
#define RTC_HOURS    0x04
#define RTC_WEEKDAY  0x06
#define RTC_DAY      0x07
#define RTC_MONTH    0x08
#define RTC_YEAR     0x09
#define RTC_REG_A    0x0a
#define RTC_REG_B    0x0b
#define RTC_REG_C    0x0c
#define RTC_REG_D    0x0d
#define RTC_CENTURY  0x32
#define REG_B_24H    0x02
#define REG_B_DM_BIN 0x04
#define REG_B_SET    0x80
#define REG_D_VRT    0x80

struct vdev_rtc {
        pthread_mutex_t lock;
        uint8_t index;
        uint8_t nvram[128];
        time_t offset;          /* guest time - host time, seconds */
};

int vdev_rtc_new(uint64_t low_mem, uint64_t high_mem, struct vdev_rtc **ret)
{
        struct vdev_rtc *r = calloc(1, sizeof(*r));
        uint64_t ext, above16, kib;

        if (!r)
                return -ENOMEM;
        pthread_mutex_init(&r->lock, NULL);
        r->nvram[RTC_REG_A] = 0x26;             /* 32.768 kHz, 1024 Hz periodic rate */
        r->nvram[RTC_REG_B] = REG_B_24H;        /* BCD, 24-hour */
        r->nvram[RTC_REG_D] = REG_D_VRT;
        /* Base memory 640 KiB; extended memory (KiB above 1 MiB, capped); 64 KiB units above 16 MiB. */
        r->nvram[0x15] = 0x80;
        r->nvram[0x16] = 0x02;
        kib = low_mem > MIB ? (low_mem - MIB) / KIB : 0;
        ext = MIN(kib, 0xfc00u);
        r->nvram[0x17] = r->nvram[0x30] = (uint8_t)ext;
        r->nvram[0x18] = r->nvram[0x31] = (uint8_t)(ext >> 8);
        above16 = low_mem > 16 * MIB ? MIN((low_mem - 16 * MIB) / (64 * KIB), 0xffffu) : 0;
        r->nvram[0x34] = (uint8_t)above16;
        r->nvram[0x35] = (uint8_t)(above16 >> 8);
        r->nvram[0x5b] = (uint8_t)(high_mem >> 16);     /* 64 KiB units above 4 GiB */
        r->nvram[0x5c] = (uint8_t)(high_mem >> 24);
        r->nvram[0x5d] = (uint8_t)(high_mem >> 32);
        *ret = r;
        return 0;
}

void vdev_rtc_free(struct vdev_rtc *r)
{
        if (!r)
                return;
        pthread_mutex_destroy(&r->lock);
        free(r);
}

static uint8_t to_bcd(const struct vdev_rtc *r, unsigned v)
{
        if (r->nvram[RTC_REG_B] & REG_B_DM_BIN)
                return (uint8_t)v;
        return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned from_bcd(const struct vdev_rtc *r, uint8_t v)
{
        if (r->nvram[RTC_REG_B] & REG_B_DM_BIN)
                return v;
        return (unsigned)((v >> 4) * 10 + (v & 0x0f));
}

static uint8_t rtc_hours(const struct vdev_rtc *r, unsigned h)
{
        uint8_t pm;

        if (r->nvram[RTC_REG_B] & REG_B_24H)
                return to_bcd(r, h);
        pm = h >= 12 ? 0x80 : 0;
        h %= 12;
        return (uint8_t)(to_bcd(r, h == 0 ? 12 : h) | pm);
}

static void rtc_now(const struct vdev_rtc *r, struct tm *tm)
{
        time_t t = time(NULL) + r->offset;

        gmtime_r(&t, tm);
}

static uint8_t rtc_read(struct vdev_rtc *r, uint8_t idx)
{
        struct tm tm;
        uint8_t v;

        if (idx > RTC_YEAR && idx != RTC_CENTURY) {
                v = r->nvram[idx];
                if (idx == RTC_REG_C)
                        r->nvram[RTC_REG_C] = 0;        /* read clears the flags */
                return v;
        }
        rtc_now(r, &tm);
        switch (idx) {
        case RTC_SECONDS: return to_bcd(r, (unsigned)tm.tm_sec);
        case RTC_MINUTES: return to_bcd(r, (unsigned)tm.tm_min);
        case RTC_HOURS:   return rtc_hours(r, (unsigned)tm.tm_hour);
        case RTC_WEEKDAY: return to_bcd(r, (unsigned)tm.tm_wday + 1);
        case RTC_DAY:     return to_bcd(r, (unsigned)tm.tm_mday);
        case RTC_MONTH:   return to_bcd(r, (unsigned)tm.tm_mon + 1);
        case RTC_YEAR:    return to_bcd(r, (unsigned)(tm.tm_year % 100));
        case RTC_CENTURY: return to_bcd(r, (unsigned)(1900 + tm.tm_year) / 100);
        default:          return r->nvram[idx];         /* alarm registers */
        }
}

static void rtc_write(struct vdev_rtc *r, uint8_t idx, uint8_t v)
{
        struct tm tm;
        time_t host, guest;

        switch (idx) {
        case RTC_REG_C:
        case RTC_REG_D:
                return;                 /* read-only */
        case RTC_SECONDS:
        case RTC_MINUTES:
        case RTC_HOURS:
        case RTC_DAY:
        case RTC_MONTH:
        case RTC_YEAR:
        case RTC_CENTURY:
                rtc_now(r, &tm);
                switch (idx) {
                case RTC_SECONDS: tm.tm_sec = (int)from_bcd(r, v); break;
                case RTC_MINUTES: tm.tm_min = (int)from_bcd(r, v); break;
                case RTC_HOURS:
                        if (r->nvram[RTC_REG_B] & REG_B_24H)
                                tm.tm_hour = (int)from_bcd(r, v);
                        else
                                tm.tm_hour = (int)(from_bcd(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0));
                        break;
                case RTC_DAY:     tm.tm_mday = (int)from_bcd(r, v); break;
                case RTC_MONTH:   tm.tm_mon = (int)from_bcd(r, v) - 1; break;
                case RTC_YEAR:    tm.tm_year = (tm.tm_year / 100) * 100 + (int)from_bcd(r, v); break;
                case RTC_CENTURY: tm.tm_year = (int)from_bcd(r, v) * 100 - 1900 + tm.tm_year % 100; break;
                }
                guest = timegm(&tm);
                host = time(NULL);
                if (guest != (time_t)-1)
                        r->offset = guest - host;
                return;
        default:
                r->nvram[idx] = v;
                return;
        }
}

int vdev_rtc_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
        struct vdev_rtc *r = opaque;
        uint8_t *p = data;

        pthread_mutex_lock(&r->lock);
        for (unsigned i = 0; i < len; i++) {
                if (((offset + i) & 1) == 0) {
                        if (is_write)
                                r->index = p[i] & 0x7f;         /* bit 7: NMI mask, ignored */
                        else
                                p[i] = 0xff;
                } else if (is_write)
                        rtc_write(r, r->index, p[i]);
                else
                        p[i] = rtc_read(r, r->index);
        }
        pthread_mutex_unlock(&r->lock);
        return 0;
}

/* Saved state, version 1: the index register, NVRAM, and the guest's offset from host time. */
#define RTC_STATE_VERSION 1u
struct rtc_state {
        int64_t offset;
        uint8_t index, pad[7];
        uint8_t nvram[128];
};

int vdev_rtc_save(struct vdev_rtc *r, struct vmstate_writer *w, const char *name)
{
        struct rtc_state st = { 0 };

        pthread_mutex_lock(&r->lock);
        st.offset = (int64_t)r->offset;
        st.index = r->index;
        memcpy(st.nvram, r->nvram, sizeof(st.nvram));
        pthread_mutex_unlock(&r->lock);
        return vmstate_put(w, name, RTC_STATE_VERSION, &st, sizeof(st));
}

int vdev_rtc_load(struct vdev_rtc *r, struct vmstate *stt, const char *name, char *err, size_t err_len)
{
        struct rtc_state st;
        int k = vdev_state_get(stt, name, RTC_STATE_VERSION, &st, sizeof(st), err, err_len);

        if (k < 0)
                return k;
        pthread_mutex_lock(&r->lock);
        r->offset = (time_t)st.offset;
        r->index = st.index & 0x7f;
        memcpy(r->nvram, st.nvram, sizeof(r->nvram));
        pthread_mutex_unlock(&r->lock);
        return 0;
}
