/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk end to end: a test driver talks to vmbus + the blk VSP through the fake
 * host's buses and guest RAM, against real image files.
 */
#include "check-main.h"
#include <check.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk-driver.h"
#include "vmms/disk.h"
#include "vmms/vmbus.h"
#include "vmms/vsp.h"

#define RAM_SIZE     (8u << 20)
#define IMG_SIZE     (4u << 20)
#define DEV1         PCI_DEVFN(1, 0)
#define DEV2         PCI_DEVFN(2, 0)
#define WANT_ALL     (~0ull)

static struct fake_host *h;
static struct vmbus *bus;
static struct vsp_blk *blk;
static struct drv d;
static char img_path[64];
static int img_fd = -1;

static void make_image(const char *dir, uint64_t size)
{
        snprintf(img_path, sizeof(img_path), "%s/vmms-blk-XXXXXX", dir);
        img_fd = mkstemp(img_path);
        ck_assert_int_ge(img_fd, 0);
        ck_assert_int_eq(ftruncate(img_fd, (off_t)size), 0);
}

static void add_disk(const char *spec_opts, struct vsp_blk **ret)
{
        struct disk_config c;
        char spec[256], err[256];

        snprintf(spec, sizeof(spec), "%s%s", img_path, spec_opts);
        ck_assert_int_eq(disk_config_parse(spec, err, sizeof(err), &c), 0);
        ck_assert_int_eq(vsp_blk_add(bus, &c, ret, NULL), 0);
        disk_config_done(&c);
}

static void setup_with(const char *opts)
{
        h = fake_host_new(RAM_SIZE);
        make_image("/tmp", IMG_SIZE);
        ck_assert_int_eq(vmbus_new(&h->host, NULL, NULL, &bus), 0);
        add_disk(opts, &blk);
        drv_probe(&d, h, DEV1);
}

static void setup(void) { setup_with(",serial=VMMS-TEST-0001"); }

static void teardown(void)
{
        vmbus_free(bus);
        fake_host_free(h);
        if (img_fd >= 0)
                close(img_fd);
        unlink(img_path);
}

static void fill(uint64_t gpa, uint32_t len, uint8_t seed)
{
        for (uint32_t i = 0; i < len; i++)
                h->ram[gpa + i] = (uint8_t)(seed + i * 7);
}

static void file_read(uint64_t off, void *buf, size_t len)
{
        ck_assert_int_eq(pread(img_fd, buf, len, (off_t)off), (ssize_t)len);
}

START_TEST(test_config_and_features)
{
        uint64_t f = drv_device_features(&d);

        ck_assert_uint_eq(mmio_read(h, ecam(DEV1, PCI_DEVICE_ID), 2), 0x1042);
        ck_assert(f & VIRTIO_BIT(VIRTIO_F_VERSION_1));
        ck_assert(f & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC));
        ck_assert(f & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
        ck_assert(f & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
        ck_assert(f & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
        ck_assert(f & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
        ck_assert(!(f & VIRTIO_BIT(VIRTIO_BLK_F_RO)));
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_blk_config, capacity), 8), IMG_SIZE / 512);
        ck_assert_uint_ge(drv_cfg(&d, offsetof(struct virtio_blk_config, seg_max), 4), 1);
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_blk_config, blk_size), 4), 512);
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_blk_config, num_queues), 2), 1);
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_blk_config, write_zeroes_may_unmap), 1), 1);
}
END_TEST

START_TEST(test_write_read)
{
        uint8_t buf[8192];
        struct vsp_blk_stats st;

        drv_init(&d, WANT_ALL, 1);
        fill(DRV_DATA, 8192, 3);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_OUT, 16, DRV_DATA, 8192, false), VIRTIO_BLK_S_OK);
        file_read(16 * 512, buf, sizeof(buf));
        ck_assert_mem_eq(buf, h->ram + DRV_DATA, sizeof(buf));
        memset(h->ram + DRV_DATA + 0x10000, 0, 8192);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 16, DRV_DATA + 0x10000, 8192, true), VIRTIO_BLK_S_OK);
        ck_assert_mem_eq(h->ram + DRV_DATA + 0x10000, buf, sizeof(buf));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.reads, 1);
        ck_assert_uint_eq(st.writes, 1);
        ck_assert_uint_eq(st.flushes, 1);
        ck_assert_uint_eq(st.bytes_written, 8192);
        ck_assert_uint_eq(st.io_errors, 0);
}
END_TEST

START_TEST(test_used_len_and_interrupt)
{
        struct virtq_used_elem ue;
        struct drv_queue *q;
        uint16_t head;
        int fd;

        drv_init(&d, WANT_ALL, 1);
        q = &d.q[0];
        fd = drv_irqfd(&d, 1);
        ck_assert_int_ge(fd, 0);
        head = drv_req(&d, q, 2, VIRTIO_BLK_T_IN, 0, DRV_DATA, 4096, true);
        drv_kick(&d, q, head);
        ck_assert_uint_eq(fake_wait_irq(fd, 5000), 1);
        ck_assert_uint_eq(drv_wait_used(&d, q, 1, &ue), 1);
        ck_assert_uint_eq(ue.id, head);
        ck_assert_uint_eq(ue.len, 4097);        /* data + status */
}
END_TEST

START_TEST(test_get_id)
{
        drv_init(&d, WANT_ALL, 1);
        memset(h->ram + DRV_DATA, 0xaa, 32);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_GET_ID, 0, DRV_DATA, 20, true), VIRTIO_BLK_S_OK);
        ck_assert_mem_eq(h->ram + DRV_DATA, "VMMS-TEST-0001\0\0\0\0\0\0", 20);
        ck_assert_uint_eq(h->ram[DRV_DATA + 20], 0xaa);
}
END_TEST

START_TEST(test_discard_and_write_zeroes)
{
        static const uint8_t zero[4096];
        uint8_t buf[4096];
        struct virtio_blk_discard_write_zeroes seg = { .sector = 8, .num_sectors = 8 };
        struct vsp_blk_stats st;

        drv_init(&d, WANT_ALL, 1);
        fill(DRV_DATA, 0x10000, 9);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_OUT, 0, DRV_DATA, 0x10000, false), VIRTIO_BLK_S_OK);
        /* discard sectors 8..15 */
        memcpy(h->ram + DRV_DATA + 0x20000, &seg, sizeof(seg));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_DISCARD, 0, DRV_DATA + 0x20000, 16, false), VIRTIO_BLK_S_OK);
        file_read(8 * 512, buf, 4096);
        ck_assert_mem_eq(buf, zero, 4096);
        /* write zeroes 24..31 without unmap, 40..47 with */
        seg = (struct virtio_blk_discard_write_zeroes) { .sector = 24, .num_sectors = 8 };
        memcpy(h->ram + DRV_DATA + 0x20000, &seg, sizeof(seg));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DRV_DATA + 0x20000, 16, false), VIRTIO_BLK_S_OK);
        file_read(24 * 512, buf, 4096);
        ck_assert_mem_eq(buf, zero, 4096);
        seg = (struct virtio_blk_discard_write_zeroes) { .sector = 40, .num_sectors = 8,
                                                          .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
        memcpy(h->ram + DRV_DATA + 0x20000, &seg, sizeof(seg));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DRV_DATA + 0x20000, 16, false), VIRTIO_BLK_S_OK);
        file_read(40 * 512, buf, 4096);
        ck_assert_mem_eq(buf, zero, 4096);
        /* The neighbours are untouched. */
        file_read(32 * 512, buf, 512);
        ck_assert_mem_eq(buf, h->ram + DRV_DATA + 32 * 512, 512);
        /* Discard with the unmap flag, reserved flags, beyond the end: refused. */
        seg = (struct virtio_blk_discard_write_zeroes) { .sector = 0, .num_sectors = 8,
                                                          .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
        memcpy(h->ram + DRV_DATA + 0x20000, &seg, sizeof(seg));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_DISCARD, 0, DRV_DATA + 0x20000, 16, false), VIRTIO_BLK_S_UNSUPP);
        seg.flags = 2;
        memcpy(h->ram + DRV_DATA + 0x20000, &seg, sizeof(seg));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DRV_DATA + 0x20000, 16, false), VIRTIO_BLK_S_UNSUPP);
        seg = (struct virtio_blk_discard_write_zeroes) { .sector = IMG_SIZE / 512 - 4, .num_sectors = 8 };
        memcpy(h->ram + DRV_DATA + 0x20000, &seg, sizeof(seg));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_DISCARD, 0, DRV_DATA + 0x20000, 16, false), VIRTIO_BLK_S_IOERR);
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.discards, 1);
        ck_assert_uint_eq(st.write_zeroes, 2);
        ck_assert_uint_eq(st.bad_requests, 3);
}
END_TEST

START_TEST(test_discard_not_negotiated)
{
        struct virtio_blk_discard_write_zeroes seg = { .sector = 0, .num_sectors = 8 };

        drv_init(&d, ~VIRTIO_BIT(VIRTIO_BLK_F_DISCARD), 1);
        memcpy(h->ram + DRV_DATA, &seg, sizeof(seg));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_DISCARD, 0, DRV_DATA, 16, false), VIRTIO_BLK_S_UNSUPP);
}
END_TEST

START_TEST(test_bad_requests)
{
        drv_init(&d, WANT_ALL, 1);
        /* Beyond the end, straddling the end, sector overflow, odd lengths. */
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, IMG_SIZE / 512, DRV_DATA, 512, true), VIRTIO_BLK_S_IOERR);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_OUT, IMG_SIZE / 512 - 1, DRV_DATA, 1024, false), VIRTIO_BLK_S_IOERR);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, UINT64_MAX - 1, DRV_DATA, 1024, true), VIRTIO_BLK_S_IOERR);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 100, true), VIRTIO_BLK_S_IOERR);
        /* Data the device would have to write is device-readable, and the reverse. */
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 512, false), VIRTIO_BLK_S_IOERR);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_OUT, 0, DRV_DATA, 512, true), VIRTIO_BLK_S_IOERR);
        /* Unknown request types. */
        ck_assert_uint_eq(drv_do(&d, 0, 0x77, 0, 0, 0, false), VIRTIO_BLK_S_UNSUPP);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_GET_LIFETIME, 0, DRV_DATA, 16, true), VIRTIO_BLK_S_UNSUPP);
        /* The last sector and zero-length reads are fine. */
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, IMG_SIZE / 512 - 1, DRV_DATA, 512, true), VIRTIO_BLK_S_OK);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 5, 0, 0, true), VIRTIO_BLK_S_OK);
        ck_assert_uint_eq(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}
END_TEST

START_TEST(test_split_header_and_indirect)
{
        struct drv_queue *q;
        uint64_t tbl = 0x180000, hdr = 0x181000;
        struct virtio_blk_outhdr hd = { .type = VIRTIO_BLK_T_IN, .sector = 3 };
        uint8_t buf[1024];

        drv_init(&d, WANT_ALL, 1);
        q = &d.q[0];
        fill(DRV_DATA, 1024, 77);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_OUT, 3, DRV_DATA, 1024, false), VIRTIO_BLK_S_OK);
        /* Header in two pieces, data in three, status alone: through an indirect table. */
        memcpy(h->ram + hdr, &hd, 16);
        drv_desc(&d, tbl, 0, hdr, 5, VIRTQ_DESC_F_NEXT, 1);
        drv_desc(&d, tbl, 1, hdr + 5, 11, VIRTQ_DESC_F_NEXT, 2);
        drv_desc(&d, tbl, 2, DRV_DATA + 0x8000, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
        drv_desc(&d, tbl, 3, DRV_DATA + 0x9000, 412, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
        drv_desc(&d, tbl, 4, DRV_DATA + 0xa000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
        drv_desc(&d, tbl, 5, hdr + 0x20, 1, VIRTQ_DESC_F_WRITE, 0);
        drv_desc(&d, q->desc, 10, tbl, 6 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        h->ram[hdr + 0x20] = 0xee;
        drv_kick(&d, q, 10);
        ck_assert_uint_eq(drv_wait_used(&d, q, 1, NULL), 1);
        ck_assert_uint_eq(h->ram[hdr + 0x20], VIRTIO_BLK_S_OK);
        memcpy(buf, h->ram + DRV_DATA + 0x8000, 100);
        memcpy(buf + 100, h->ram + DRV_DATA + 0x9000, 412);
        memcpy(buf + 512, h->ram + DRV_DATA + 0xa000, 512);
        ck_assert_mem_eq(buf, h->ram + DRV_DATA, 1024);
}
END_TEST

START_TEST(test_many_in_flight)
{
        struct drv_queue *q;
        struct virtq_used_elem ue[DRV_SLOTS];
        bool seen[DRV_SLOTS] = { false };

        drv_init(&d, WANT_ALL, 1);
        q = &d.q[0];
        for (unsigned s = 0; s < DRV_SLOTS; s++) {
                fill(DRV_DATA + 0x1000ull * s, 4096, (uint8_t)s);
                drv_kick(&d, q, drv_req(&d, q, s, VIRTIO_BLK_T_OUT, 8ull * s, DRV_DATA + 0x1000ull * s, 4096, false));
        }
        ck_assert_uint_eq(drv_wait_used(&d, q, DRV_SLOTS, ue), DRV_SLOTS);
        for (unsigned i = 0; i < DRV_SLOTS; i++) {
                ck_assert_uint_eq(ue[i].id % 3, 0);
                seen[ue[i].id / 3] = true;
        }
        for (unsigned s = 0; s < DRV_SLOTS; s++) {
                uint8_t buf[4096];

                ck_assert(seen[s]);
                ck_assert_uint_eq(drv_req_status(&d, q, s), VIRTIO_BLK_S_OK);
                file_read(4096ull * s, buf, 4096);
                ck_assert_mem_eq(buf, h->ram + DRV_DATA + 0x1000ull * s, 4096);
        }
}
END_TEST

/*
 * Pause (what saving a VM needs): once vmbus_pause() returns, nothing is in flight — every
 * request the device took is finished and in the used ring, the rest it left in the avail
 * ring untouched — and nothing moves until vmbus_resume(), doorbells or not; then every
 * request completes. A paused device can be freed (a VM stopped while paused).
 */
START_TEST(test_pause_quiet)
{
        struct virtq_used_elem ue[DRV_SLOTS];
        bool used_slot[DRV_SLOTS] = { false };
        struct drv_queue *q;
        uint16_t used;
        unsigned got;

        drv_init(&d, WANT_ALL, 1);
        q = &d.q[0];
        for (unsigned s = 0; s < DRV_SLOTS; s++)
                fill(DRV_DATA + 0x1000ull * s, 4096, (uint8_t)(s + 7));
        for (unsigned s = 0; s < DRV_SLOTS / 2; s++) {
                drv_kick(&d, q, drv_req(&d, q, s, VIRTIO_BLK_T_OUT, 8ull * s, DRV_DATA + 0x1000ull * s, 4096, false));
                if (s == DRV_SLOTS / 4)
                        usleep(20 * 1000);      /* let the device take some */
        }
        vmbus_pause(bus);
        used = __atomic_load_n((uint16_t *)(h->ram + q->used + 2), __ATOMIC_ACQUIRE);
        got = drv_wait_used(&d, q, used, ue);
        ck_assert_uint_eq(got, used);
        for (unsigned i = 0; i < got; i++)
                used_slot[ue[i].id / 3] = true;
        for (unsigned s = 0; s < DRV_SLOTS / 2; s++)
                ck_assert_uint_eq(drv_req_status(&d, q, s), (used_slot[s] ? VIRTIO_BLK_S_OK : 0xee));
        /* Still, doorbells or not: the other half, made available while paused. */
        for (unsigned s = DRV_SLOTS / 2; s < DRV_SLOTS; s++)
                drv_kick(&d, q, drv_req(&d, q, s, VIRTIO_BLK_T_OUT, 8ull * s, DRV_DATA + 0x1000ull * s, 4096, false));
        usleep(200 * 1000);
        ck_assert_uint_eq(__atomic_load_n((uint16_t *)(h->ram + q->used + 2), __ATOMIC_ACQUIRE), used);
        for (unsigned s = 0; s < DRV_SLOTS; s++)
                ck_assert_uint_eq(drv_req_status(&d, q, s), (used_slot[s] ? VIRTIO_BLK_S_OK : 0xee));
        vmbus_resume(bus);
        ck_assert_uint_eq(drv_wait_used(&d, q, DRV_SLOTS - got, NULL), DRV_SLOTS - got);
        for (unsigned s = 0; s < DRV_SLOTS; s++) {
                uint8_t buf[4096];

                ck_assert_uint_eq(drv_req_status(&d, q, s), VIRTIO_BLK_S_OK);
                file_read(4096ull * s, buf, 4096);
                ck_assert_mem_eq(buf, h->ram + DRV_DATA + 0x1000ull * s, 4096);
        }
        /* Again, the second time left paused for the teardown to free. */
        vmbus_pause(bus);
        vmbus_resume(bus);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 8, DRV_DATA, 4096, true), VIRTIO_BLK_S_OK);
        vmbus_pause(bus);
}
END_TEST

/*
 * Every slot in use: DRV_QSIZE indirect requests in flight at once, then each completion
 * answered with a new request, the doorbell rung only when EVENT_IDX asks for it (as
 * Linux and the bundled guest do). Regression: the device used to stop taking requests
 * when all its slots were busy without re-arming avail_event, and never looked again.
 */
START_TEST(test_full_ring_indirect)
{
        const uint64_t tbl = 0x180000, hdr = 0x1c0000;
        const unsigned total = 4 * DRV_QSIZE;
        struct drv_queue *q;
        unsigned submitted = 0, done = 0;
        uint8_t *ram;

        drv_init(&d, WANT_ALL, 1);
        q = &d.q[0];
        ram = h->ram;
        ck_assert(d.features & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC));
        ck_assert(d.features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));

        /* Descriptor s points at indirect table s: header, 4 KiB of data, status. */
        for (unsigned s = 0; s < DRV_QSIZE; s++) {
                uint64_t t = tbl + 0x40ull * s, hd = hdr + 0x20ull * s;

                drv_desc(&d, t, 0, hd, 16, VIRTQ_DESC_F_NEXT, 1);
                drv_desc(&d, t, 1, DRV_DATA + 0x1000ull * s, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
                drv_desc(&d, t, 2, hd + 16, 1, VIRTQ_DESC_F_WRITE, 0);
                drv_desc(&d, q->desc, (uint16_t)s, t, 48, VIRTQ_DESC_F_INDIRECT, 0);
        }
        for (int t = 0; t < 10000 && done < total; t++) {
                uint16_t old = q->avail_idx, used_idx, event;
                struct virtq_used_elem ue;

                /* Refill every free descriptor (all of them at first), publish once. */
                while (submitted < total && (uint16_t)(q->avail_idx - q->last_used) < DRV_QSIZE) {
                        uint16_t s = (uint16_t)(submitted % DRV_QSIZE);
                        struct virtio_blk_outhdr hd = { .type = VIRTIO_BLK_T_IN, .sector = 8ull * submitted };

                        memcpy(ram + hdr + 0x20ull * s, &hd, sizeof(hd));
                        ram[hdr + 0x20ull * s + 16] = 0xee;
                        memcpy(ram + q->avail + 4 + 2u * (q->avail_idx % DRV_QSIZE), &s, 2);
                        q->avail_idx++;
                        submitted++;
                }
                if (q->avail_idx != old) {
                        __atomic_store_n((uint16_t *)(ram + q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
                        __atomic_thread_fence(__ATOMIC_SEQ_CST);
                        event = __atomic_load_n((uint16_t *)(ram + q->used + VIRTQ_AVAIL_EVENT_OFF(DRV_QSIZE)),
                                                __ATOMIC_RELAXED);
                        if (virtq_need_event(event, q->avail_idx, old))
                                mmio_write(h, d.bar + VIRTIO_PCI_NOTIFY_OFF, 0, 2);
                }
                /* Take back what completed (in order of the used ring). */
                used_idx = __atomic_load_n((uint16_t *)(ram + q->used + 2), __ATOMIC_ACQUIRE);
                if (used_idx == q->last_used) {
                        usleep(1000);
                        continue;
                }
                while (q->last_used != used_idx) {
                        memcpy(&ue, ram + q->used + 4 + 8u * (q->last_used % DRV_QSIZE), 8);
                        ck_assert_uint_lt(ue.id, DRV_QSIZE);
                        ck_assert_uint_eq(ram[hdr + 0x20ull * ue.id + 16], VIRTIO_BLK_S_OK);
                        q->last_used++;
                        done++;
                }
        }
        ck_assert_uint_eq(done, total);
        ck_assert_uint_eq(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}
END_TEST

/* Queue n requests (slots 0..n-1) and make them available with one index update and one doorbell. */
static void drv_kick_many(struct drv_queue *q, const uint16_t *heads, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                memcpy(h->ram + q->avail + 4 + 2u * ((q->avail_idx + i) % DRV_QSIZE), &heads[i], 2);
        q->avail_idx = (uint16_t)(q->avail_idx + n);
        __atomic_store_n((uint16_t *)(h->ram + q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
        mmio_write(h, d.bar + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q->index, q->index, 2);
}

/* Adjacent writes made available together go to the backend as one transfer; so do reads. */
static void check_merging(void)
{
        struct drv_queue *q = &d.q[0];
        struct vsp_blk_stats st;
        uint16_t heads[8];
        uint8_t buf[8 * 8192];

        /* Eight adjacent 8 KiB writes at sector 64, and one elsewhere that breaks the run. */
        for (unsigned s = 0; s < 8; s++) {
                fill(DRV_DATA + 0x2000ull * s, 8192, (uint8_t)(11 * s + 1));
                heads[s] = drv_req(&d, q, s, VIRTIO_BLK_T_OUT, 64 + 16ull * s, DRV_DATA + 0x2000ull * s, 8192, false);
        }
        drv_kick_many(q, heads, 8);
        ck_assert_uint_eq(drv_wait_used(&d, q, 8, NULL), 8);
        for (unsigned s = 0; s < 8; s++)
                ck_assert_uint_eq(drv_req_status(&d, q, s), VIRTIO_BLK_S_OK);
        file_read(64 * 512, buf, sizeof(buf));
        ck_assert_mem_eq(buf, h->ram + DRV_DATA, sizeof(buf));
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.writes, 8);
        ck_assert_uint_eq(st.merged, 7);
        ck_assert_uint_eq(st.bytes_written, sizeof(buf));

        /* Read them back, made available in the order 0 1 2 3 7 6 5 4: one run of four. */
        memset(h->ram + DRV_DATA + 0x40000, 0, sizeof(buf));
        for (unsigned s = 0; s < 8; s++)
                heads[s] = drv_req(&d, q, s, VIRTIO_BLK_T_IN, 64 + 16ull * s, DRV_DATA + 0x40000 + 0x2000ull * s,
                                   8192, true);
        {
                uint16_t order[8] = { heads[0], heads[1], heads[2], heads[3], heads[7], heads[6], heads[5], heads[4] };

                drv_kick_many(q, order, 8);
        }
        ck_assert_uint_eq(drv_wait_used(&d, q, 8, NULL), 8);
        for (unsigned s = 0; s < 8; s++)
                ck_assert_uint_eq(drv_req_status(&d, q, s), VIRTIO_BLK_S_OK);
        ck_assert_mem_eq(h->ram + DRV_DATA + 0x40000, buf, sizeof(buf));
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.reads, 8);
        ck_assert_uint_eq(st.merged, 7 + 3);
}

START_TEST(test_merge)
{
        drv_init(&d, WANT_ALL, 1);
        check_merging();
}
END_TEST

/* The same on a memory file system, where reads and writes run on the queue's thread. */
START_TEST(test_merge_tmpfs)
{
        if (access("/dev/shm", W_OK) < 0)
                return;
        teardown();
        h = fake_host_new(RAM_SIZE);
        make_image("/dev/shm", IMG_SIZE);
        ck_assert_int_eq(vmbus_new(&h->host, NULL, NULL, &bus), 0);
        add_disk(",cache=none", &blk);
        drv_probe(&d, h, DEV1);
        drv_init(&d, WANT_ALL, 1);
        check_merging();
}
END_TEST

START_TEST(test_no_event_idx)
{
        drv_init(&d, ~VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) & ~VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC), 1);
        for (unsigned i = 0; i < 5; i++)
                ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, i, DRV_DATA, 512, true), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(test_hostile_ring_needs_reset)
{
        static const struct { uint64_t addr; uint32_t len; uint16_t flags, next; } bad[] = {
                { RAM_SIZE - 8, 16, VIRTQ_DESC_F_NEXT, 1 },             /* outside RAM */
                { 0x100000, 16, VIRTQ_DESC_F_NEXT, 0 },                 /* loop to itself */
                { 0x100000, 16, VIRTQ_DESC_F_NEXT, DRV_QSIZE + 1 },     /* next out of range */
                { 0x100000, 16, VIRTQ_DESC_F_WRITE, 0 },                /* no header, no status */
                { 0x100000, 16, 0, 0 },                                 /* no status byte */
                { 0x180000, 17, VIRTQ_DESC_F_INDIRECT, 0 },             /* bad indirect length */
        };
        struct drv_queue *q;
        struct vsp_blk_stats st;
        int cfg_fd;

        drv_init(&d, WANT_ALL, 1);
        q = &d.q[0];
        cfg_fd = drv_irqfd(&d, 0);
        drv_desc(&d, q->desc, 0, bad[_i].addr, bad[_i].len, bad[_i].flags, bad[_i].next);
        drv_desc(&d, q->desc, 1, 0x100020, 1, VIRTQ_DESC_F_WRITE, 0);
        drv_kick(&d, q, 0);
        /* The driver hears about it through the config vector. */
        ck_assert_uint_eq(fake_wait_irq(cfg_fd, 5000), 1);
        ck_assert(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.ring_errors, 1);
        /* A reset brings the device back. */
        drv_init(&d, WANT_ALL, 1);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 512, true), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(test_hostile_avail_jump)
{
        struct drv_queue *q;

        drv_init(&d, WANT_ALL, 1);
        q = &d.q[0];
        __atomic_store_n((uint16_t *)(h->ram + q->avail + 2), (uint16_t)(DRV_QSIZE + 5), __ATOMIC_RELEASE);
        mmio_write(h, d.bar + VIRTIO_PCI_NOTIFY_OFF, 0, 2);
        for (int t = 0; t < 5000 && !(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); t++)
                usleep(1000);
        ck_assert(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}
END_TEST

START_TEST(test_other_device_keeps_working)
{
        struct vsp_blk *blk2;
        struct drv d2;
        struct drv_queue *q;

        add_disk(",serial=second", &blk2);
        drv_probe(&d2, h, DEV2);
        drv_init(&d, WANT_ALL, 1);
        drv_init(&d2, WANT_ALL, 1);
        q = &d.q[0];
        drv_desc(&d, q->desc, 0, 0xdead0000000ull, 16, 0, 0);
        drv_kick(&d, q, 0);
        for (int t = 0; t < 5000 && !(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); t++)
                usleep(1000);
        ck_assert(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        ck_assert_uint_eq(drv_do(&d2, 0, VIRTIO_BLK_T_GET_ID, 0, DRV_DATA, 20, true), VIRTIO_BLK_S_OK);
        ck_assert_mem_eq(h->ram + DRV_DATA, "second", 6);
        ck_assert_uint_eq(drv_status(&d2) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}
END_TEST

START_TEST(test_multiqueue)
{
        struct vsp_blk_stats st;

        teardown();
        setup_with(",queues=4");
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_blk_config, num_queues), 2), 4);
        ck_assert(drv_device_features(&d) & VIRTIO_BIT(VIRTIO_BLK_F_MQ));
        drv_init(&d, WANT_ALL, 4);
        for (unsigned r = 0; r < 3; r++)
                for (unsigned qi = 0; qi < 4; qi++) {
                        struct drv_queue *q = &d.q[qi];

                        fill(DRV_DATA + 0x10000ull * qi + 0x1000ull * r, 4096, (uint8_t)(qi * 16 + r));
                        drv_kick(&d, q, drv_req(&d, q, r, VIRTIO_BLK_T_OUT, 64ull * qi + 8 * r,
                                                DRV_DATA + 0x10000ull * qi + 0x1000ull * r, 4096, false));
                }
        for (unsigned qi = 0; qi < 4; qi++) {
                ck_assert_uint_eq(drv_wait_used(&d, &d.q[qi], 3, NULL), 3);
                for (unsigned r = 0; r < 3; r++) {
                        uint8_t buf[4096];

                        ck_assert_uint_eq(drv_req_status(&d, &d.q[qi], r), VIRTIO_BLK_S_OK);
                        file_read((64ull * qi + 8 * r) * 512, buf, 4096);
                        ck_assert_mem_eq(buf, h->ram + DRV_DATA + 0x10000ull * qi + 0x1000ull * r, 4096);
                }
        }
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.writes, 12);
}
END_TEST

START_TEST(test_readonly)
{
        struct virtio_blk_discard_write_zeroes seg = { .sector = 0, .num_sectors = 8 };
        struct vsp_blk_stats st;
        uint8_t buf[512];

        teardown();
        setup_with(",ro");
        ck_assert(drv_device_features(&d) & VIRTIO_BIT(VIRTIO_BLK_F_RO));
        ck_assert(!(drv_device_features(&d) & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)));
        drv_init(&d, WANT_ALL, 1);
        fill(DRV_DATA, 512, 1);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_OUT, 0, DRV_DATA, 512, false), VIRTIO_BLK_S_IOERR);
        file_read(0, buf, 512);
        ck_assert_uint_eq(buf[0], 0);
        memcpy(h->ram + DRV_DATA + 0x1000, &seg, sizeof(seg));
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DRV_DATA + 0x1000, 16, false), VIRTIO_BLK_S_UNSUPP);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 512, true), VIRTIO_BLK_S_OK);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.bad_requests, 2);
        ck_assert_uint_eq(st.reads, 1);
}
END_TEST

START_TEST(test_cache_none_unaligned)
{
        uint8_t buf[4096];

        teardown();
        setup_with(",cache=none");
        drv_init(&d, WANT_ALL, 1);
        /* A guest buffer at an odd address: the backend bounces it. */
        fill(DRV_DATA + 3, 4096, 42);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_OUT, 8, DRV_DATA + 3, 4096, false), VIRTIO_BLK_S_OK);
        file_read(8 * 512, buf, sizeof(buf));
        ck_assert_mem_eq(buf, h->ram + DRV_DATA + 3, 4096);
        memset(h->ram + DRV_DATA + 0x10001, 0, 4096);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 8, DRV_DATA + 0x10001, 4096, true), VIRTIO_BLK_S_OK);
        ck_assert_mem_eq(h->ram + DRV_DATA + 0x10001, buf, 4096);
        /* And an aligned one goes straight through. */
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 8, DRV_DATA + 0x20000, 4096, true), VIRTIO_BLK_S_OK);
        ck_assert_mem_eq(h->ram + DRV_DATA + 0x20000, buf, 4096);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(test_given_fd)
{
        struct disk_config c;
        struct vsp_blk *b2;
        struct drv d2;
        char err[128];
        int fd = open(img_path, O_RDWR | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(disk_config_parse("given-image,serial=fd", err, sizeof(err), &c), 0);
        c.fd = fd;
        ck_assert_int_eq(vsp_blk_add(bus, &c, &b2, NULL), 0);
        close(fd);              /* the device keeps its own duplicate */
        disk_config_done(&c);
        drv_probe(&d2, h, DEV2);
        drv_init(&d2, WANT_ALL, 1);
        fill(DRV_DATA, 512, 5);
        ck_assert_uint_eq(drv_do(&d2, 0, VIRTIO_BLK_T_OUT, 1, DRV_DATA, 512, false), VIRTIO_BLK_S_OK);
        /* A read-only fd cannot back a writable disk. */
        fd = open(img_path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(disk_config_parse("ro-fd", err, sizeof(err), &c), 0);
        c.fd = fd;
        ck_assert_int_eq(vsp_blk_add(bus, &c, NULL, NULL), -EBADF);
        c.readonly = true;
        ck_assert_int_eq(vsp_blk_add(bus, &c, NULL, NULL), 0);
        close(fd);
        disk_config_done(&c);
}
END_TEST

START_TEST(test_open_errors)
{
        struct disk_config c;
        char err[128];

        ck_assert_int_eq(disk_config_parse("/nonexistent/disk.img", err, sizeof(err), &c), 0);
        ck_assert_int_eq(vsp_blk_add(bus, &c, NULL, NULL), -ENOENT);
        disk_config_done(&c);
        ck_assert_int_eq(disk_config_parse("/dev/null", err, sizeof(err), &c), 0);
        ck_assert_int_eq(vsp_blk_add(bus, &c, NULL, NULL), -EBADFD);     /* a character device, not a disk */
        disk_config_done(&c);
}
END_TEST

START_TEST(test_eio_image_shrank)
{
        struct vsp_blk_stats st;

        drv_init(&d, WANT_ALL, 1);
        /* Someone truncates the image behind the device's back: reads hit EOF -> EIO. */
        ck_assert_int_eq(ftruncate(img_fd, 4096), 0);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 64, DRV_DATA, 4096, true), VIRTIO_BLK_S_IOERR);
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.io_errors, 1);
        /* The device goes on. */
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 4096, true), VIRTIO_BLK_S_OK);
        ck_assert_uint_eq(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}
END_TEST

/*
 * io_uring itself fails under the device (here: every io_uring_enter(2) of the process
 * returns EIO from now on, through a seccomp filter on all threads). The queue asks for a
 * reset instead of leaving the guest waiting forever, and tearing it down neither hangs nor
 * frees what the kernel may still hold.
 */
START_TEST(test_backend_fails_needs_reset)
{
        scmp_filter_ctx ctx;
        int cfg_fd;

        drv_init(&d, WANT_ALL, 1);
        cfg_fd = drv_irqfd(&d, 0);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 4096, true), VIRTIO_BLK_S_OK);
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        ck_assert_ptr_nonnull(ctx);
        ck_assert_int_eq(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1), 0);
        ck_assert_int_eq(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EIO), SCMP_SYS(io_uring_enter), 0), 0);
        ck_assert_int_eq(seccomp_load(ctx), 0);
        seccomp_release(ctx);
        /* The I/O thread sleeps in io_uring_enter: a doorbell wakes it, its next one fails. */
        (void)drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 4096, true);
        ck_assert_uint_eq(fake_wait_irq(cfg_fd, 5000), 1);
        ck_assert(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}
END_TEST

START_TEST(test_enospc_full_tmpfs)
{
        char dir[] = "/tmp/vmms-full-XXXXXX";
        struct vsp_blk_stats st;

        /* A private 256 KiB tmpfs holding a sparse 4 MiB image. */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            !mkdtemp(dir) || mount("tmpfs", dir, "tmpfs", 0, "size=256k") < 0) {
                fprintf(stderr, "test_enospc_full_tmpfs: cannot mount tmpfs (%s), skipped\n", strerror(errno));
                return;
        }
        vmbus_free(bus);
        close(img_fd);
        unlink(img_path);
        make_image(dir, IMG_SIZE);
        ck_assert_int_eq(vmbus_new(&h->host, NULL, NULL, &bus), 0);
        add_disk("", &blk);
        drv_probe(&d, h, DEV1);
        drv_init(&d, WANT_ALL, 1);
        fill(DRV_DATA, 0x100000, 1);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_OUT, 0, DRV_DATA, 0x100000, false), VIRTIO_BLK_S_IOERR);
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.io_errors, 1);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 4096, true), VIRTIO_BLK_S_OK);
        ck_assert_uint_eq(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
        vmbus_free(bus);
        bus = NULL;
        close(img_fd);
        img_fd = -1;
        unlink(img_path);
        umount(dir);
        rmdir(dir);
}
END_TEST

/*
 * A merged transfer that fails part-way (the file system fills up) is retried request by
 * request: those that fit succeed, the others get IOERR, each its own status.
 */
START_TEST(test_merge_enospc)
{
        char dir[] = "/tmp/vmms-full-XXXXXX";
        struct drv_queue *q;
        struct vsp_blk_stats st;
        uint16_t heads[8];
        unsigned ok = 0, bad = 0;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            !mkdtemp(dir) || mount("tmpfs", dir, "tmpfs", 0, "size=256k") < 0) {
                fprintf(stderr, "test_merge_enospc: cannot mount tmpfs (%s), skipped\n", strerror(errno));
                return;
        }
        vmbus_free(bus);
        close(img_fd);
        unlink(img_path);
        make_image(dir, IMG_SIZE);
        ck_assert_int_eq(vmbus_new(&h->host, NULL, NULL, &bus), 0);
        add_disk("", &blk);
        drv_probe(&d, h, DEV1);
        drv_init(&d, WANT_ALL, 1);
        q = &d.q[0];
        /* 8 x 64 KiB, adjacent: 512 KiB into 256 KiB of space. */
        for (unsigned s = 0; s < 8; s++) {
                fill(DRV_DATA + 0x10000ull * s, 0x10000, (uint8_t)s);
                heads[s] = drv_req(&d, q, s, VIRTIO_BLK_T_OUT, 128ull * s, DRV_DATA + 0x10000ull * s, 0x10000, false);
        }
        drv_kick_many(q, heads, 8);
        ck_assert_uint_eq(drv_wait_used(&d, q, 8, NULL), 8);
        for (unsigned s = 0; s < 8; s++) {
                uint8_t status = drv_req_status(&d, q, s);
                uint8_t buf[0x10000];

                ck_assert(status == VIRTIO_BLK_S_OK || status == VIRTIO_BLK_S_IOERR);
                if (status == VIRTIO_BLK_S_OK) {
                        ok++;
                        file_read(0x10000ull * s, buf, sizeof(buf));
                        ck_assert_mem_eq(buf, h->ram + DRV_DATA + 0x10000ull * s, sizeof(buf));
                } else {
                        bad++;
                }
        }
        ck_assert_uint_gt(ok, 0);
        ck_assert_uint_gt(bad, 0);
        vsp_blk_get_stats(blk, &st);
        ck_assert_uint_eq(st.io_errors, bad);
        ck_assert_uint_eq(st.writes, ok);
        ck_assert_uint_eq(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
        vmbus_free(bus);
        bus = NULL;
        close(img_fd);
        img_fd = -1;
        unlink(img_path);
        umount(dir);
        rmdir(dir);
}
END_TEST

START_TEST(test_platform_reset)
{
        drv_init(&d, WANT_ALL, 1);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 512, true), VIRTIO_BLK_S_OK);
        vmbus_reset(bus);
        ck_assert_uint_eq(drv_status(&d), 0);
        drv_probe(&d, h, DEV1);
        drv_init(&d, WANT_ALL, 1);
        ck_assert_uint_eq(drv_do(&d, 0, VIRTIO_BLK_T_IN, 0, DRV_DATA, 512, true), VIRTIO_BLK_S_OK);
}
END_TEST

static Suite *blk_suite(void)
{
        Suite *s = suite_create("blk");
        TCase *tc = tcase_create("requests");

        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_config_and_features);
        tcase_add_test(tc, test_write_read);
        tcase_add_test(tc, test_used_len_and_interrupt);
        tcase_add_test(tc, test_get_id);
        tcase_add_test(tc, test_discard_and_write_zeroes);
        tcase_add_test(tc, test_discard_not_negotiated);
        tcase_add_test(tc, test_bad_requests);
        tcase_add_test(tc, test_split_header_and_indirect);
        tcase_add_test(tc, test_many_in_flight);
        tcase_add_test(tc, test_pause_quiet);
        tcase_add_test(tc, test_full_ring_indirect);
        tcase_add_test(tc, test_merge);
        tcase_add_test(tc, test_merge_tmpfs);
        tcase_add_test(tc, test_no_event_idx);
        tcase_add_test(tc, test_multiqueue);
        tcase_add_test(tc, test_readonly);
        tcase_add_test(tc, test_cache_none_unaligned);
        tcase_add_test(tc, test_given_fd);
        tcase_add_test(tc, test_open_errors);
        tcase_add_test(tc, test_platform_reset);
        suite_add_tcase(s, tc);

        tc = tcase_create("hostile");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_hostile_ring_needs_reset, 0, 6);
        tcase_add_test(tc, test_hostile_avail_jump);
        tcase_add_test(tc, test_other_device_keeps_working);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_eio_image_shrank);
        tcase_add_test(tc, test_backend_fails_needs_reset);
        tcase_add_test(tc, test_enospc_full_tmpfs);
        tcase_add_test(tc, test_merge_enospc);
        suite_add_tcase(s, tc);
        return s;
}

CHECK_SUITE_MAIN(blk_suite)
