/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 format layer against images qemu-img makes, with qemu-img as the referee:
 * whatever we write, `qemu-img check` must find clean and `qemu-img compare` must find
 * equal to a raw file holding what we meant to write. Hostile images are crafted by
 * editing real ones.
 */
#include "check-main.h"
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmms/config_error.h"
#include "vmms/macro.h"
#include "vmms/disk.h"
#include "vmms/qcow2.h"
#include "qcow2.h"
#include "uring.h"

static char dir[64];

_printf_(1, 2)
static int sh(const char *fmt, ...)
{
        char cmd[2048];
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        r = system(cmd);
        return r == -1 ? -1 : WEXITSTATUS(r);
}

static void setup(void)
{
        snprintf(dir, sizeof(dir), "/tmp/vmms-qcow2-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
        sh("rm -rf %s", dir);
}

struct disk {
        struct vsp_image *img;
        struct vsp_uring *u;
};

static int disk_open(struct disk *d, const char *name, const char *opts, char *msg, size_t len)
{
        struct config_error err = { 0 };
        struct disk_config c;
        char spec[512], e[256];
        int r;

        snprintf(spec, sizeof(spec), "%s/%s,format=qcow2%s", dir, name, opts ? opts : "");
        ck_assert_int_eq(disk_config_parse(spec, e, sizeof(e), &c), 0);
        r = vsp_image_open(&c, &d->img, &err);
        disk_config_done(&c);
        if (msg)
                snprintf(msg, len, "%s", err.msg);
        if (r < 0)
                return r;
        ck_assert_int_eq(vsp_uring_new(d->img, 64, &d->u), 0);
        return 0;
}

static void disk_close(struct disk *d)
{
        vsp_uring_free(d->u);
        vsp_image_free(d->img);
        d->u = NULL;
        d->img = NULL;
}

struct waiter {
        int res;
        bool done;
};

static void on_done(void *ctx, struct vsp_io *io, int res)
{
        struct waiter *w = ctx;

        (void)io;
        w->res = res;
        w->done = true;
}

static int wait_io(struct disk *d, int r)
{
        struct waiter w = { 0 };

        if (r < 0)
                return r;
        while (!w.done)
                ck_assert_int_eq(vsp_uring_wait(d->u, on_done, &w), 0);
        return w.res;
}

static int disk_rw(struct disk *d, bool write, void *buf, size_t len, uint64_t off)
{
        struct iovec v[2] = { { buf, len / 2 }, { (uint8_t *)buf + len / 2, len - len / 2 } };
        struct vsp_io io;
        unsigned n = len >= 1024 ? 2 : 1;

        if (n == 1)
                v[0].iov_len = len;
        return wait_io(d, write ? vsp_uring_write(d->u, &io, v, n, off) : vsp_uring_read(d->u, &io, v, n, off));
}

static int disk_flush(struct disk *d)
{
        struct vsp_io io;

        return wait_io(d, vsp_uring_flush(d->u, &io));
}

static int disk_zero(struct disk *d, bool discard, uint64_t off, uint64_t len)
{
        struct vsp_io io;

        return wait_io(d, discard ? vsp_uring_discard(d->u, &io, off, len)
                                  : vsp_uring_write_zeroes(d->u, &io, off, len, false));
}

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return rnd_state;
}

static void fill(uint8_t *b, size_t n, uint64_t seed)
{
        for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t)((seed * 131 + i * 7 + (i >> 9)) ^ (seed >> 3));
}

/* The shadow: a raw file with what the guest should see; check and compare with qemu-img. */
static void shadow_write(const char *name, const void *buf, size_t len, uint64_t off)
{
        char p[128];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        fd = open(p, O_WRONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
        close(fd);
}

static void referee(const char *img, const char *shadow)
{
        ck_assert_msg(sh("qemu-img check -q %s/%s", dir, img) == 0, "qemu-img check %s failed", img);
        ck_assert_msg(sh("qemu-img compare -q -f qcow2 -F raw %s/%s %s/%s", dir, img, dir, shadow) == 0,
                      "qemu-img compare %s %s: differ", img, shadow);
}

/* Random writes of 512 B .. 3 clusters, some flushes, zeroes and discards; then the referee. */
static void random_workload(struct disk *d, const char *img, const char *shadow, uint64_t size, uint64_t cs,
                            unsigned ops)
{
        size_t max = (size_t)(3 * cs);
        uint8_t *buf = malloc(max), *chk = malloc(max);

        ck_assert_ptr_nonnull(buf);
        ck_assert_ptr_nonnull(chk);
        for (unsigned i = 0; i < ops; i++) {
                uint64_t len = (1 + rnd() % (max / 512)) * 512, off = (rnd() % (size / 512)) * 512;
                unsigned what = (unsigned)(rnd() % 16);

                if (off + len > size)
                        len = size - off;
                if (what == 0) {
                        ck_assert_int_eq(disk_flush(d), 0);
                } else if (what == 1 || what == 2) {
                        ck_assert_int_eq(disk_zero(d, false, off, len), 0);
                        memset(buf, 0, len);
                        shadow_write(shadow, buf, len, off);
                } else if (what == 3) {
                        /* Discard is a hint: the guest must not rely on contents; read back
                         * and keep the shadow in step with what the image now says. */
                        ck_assert_int_eq(disk_zero(d, true, off, len), 0);
                        ck_assert_int_eq(disk_rw(d, false, buf, len, off), 0);
                        shadow_write(shadow, buf, len, off);
                } else {
                        fill(buf, len, rnd());
                        ck_assert_int_eq(disk_rw(d, true, buf, len, off), 0);
                        shadow_write(shadow, buf, len, off);
                        ck_assert_int_eq(disk_rw(d, false, chk, len, off), 0);
                        ck_assert(memcmp(buf, chk, len) == 0);
                }
        }
        free(buf);
        free(chk);
        ck_assert_int_eq(disk_flush(d), 0);
        disk_close(d);
        referee(img, shadow);
}

static void workload_on_new(const char *create_opts, uint64_t size, uint64_t cs, unsigned ops, const char *open_opts)
{
        struct disk d;

        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=%llu%s %s/a.qcow2 %llu",
                            (unsigned long long)cs, create_opts, dir, (unsigned long long)size), 0);
        ck_assert_int_eq(sh("truncate -s %llu %s/a.raw", (unsigned long long)size, dir), 0);
        ck_assert_int_eq(disk_open(&d, "a.qcow2", open_opts, NULL, 0), 0);
        random_workload(&d, "a.qcow2", "a.raw", size, cs, ops);
}

static void make_pattern_raw(const char *name, uint64_t size, uint64_t seed)
{
        char p[128];
        uint8_t *b = malloc(size);
        int fd;

        ck_assert_ptr_nonnull(b);
        fill(b, size, seed);
        /* Some zero runs, so converted images have unallocated clusters. */
        memset(b + size / 4, 0, size / 8);
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, b, size), (ssize_t)size);
        close(fd);
        free(b);
}

START_TEST(test_empty_64k)
{
        workload_on_new("", 64u << 20, 65536, 400, NULL);
}
END_TEST

START_TEST(test_small_clusters_grow_reftable)
{
        /* 512-byte clusters: refcount blocks and the refcount table fill and grow fast. */
        workload_on_new(",refcount_bits=16", 16u << 20, 512, 1500, NULL);
}
END_TEST

START_TEST(test_refcount_widths)
{
        static const unsigned bits[] = { 1, 2, 4, 8, 32, 64 };

        for (size_t i = 0; i < ARRAY_SIZE(bits); i++) {
                char o[64];

                snprintf(o, sizeof(o), ",refcount_bits=%u", bits[i]);
                workload_on_new(o, 8u << 20, 4096, 200, NULL);
                sh("rm -f %s/a.qcow2 %s/a.raw", dir, dir);
        }
}
END_TEST

START_TEST(test_direct_io)
{
        /* cache=none on a disk file system: aligned metadata I/O, bounced compressed reads. */
        teardown();
        snprintf(dir, sizeof(dir), "/var/tmp/vmms-qcow2-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        workload_on_new("", 32u << 20, 65536, 300, ",cache=none");
        sh("rm -f %s/a.qcow2 %s/a.raw", dir, dir);
        make_pattern_raw("c.raw", 4u << 20, 9);
        ck_assert_int_eq(sh("qemu-img convert -c -f raw -O qcow2 %s/c.raw %s/a.qcow2 && cp %s/c.raw %s/a.raw",
                            dir, dir, dir, dir), 0);
        {
                struct disk d;

                ck_assert_int_eq(disk_open(&d, "a.qcow2", ",cache=none", NULL, 0), 0);
                random_workload(&d, "a.qcow2", "a.raw", 4u << 20, 65536, 200);
        }
}
END_TEST

START_TEST(test_v2_and_2m_clusters)
{
        workload_on_new(",compat=0.10", 32u << 20, 65536, 200, NULL);
        sh("rm -f %s/a.qcow2 %s/a.raw", dir, dir);
        /* lazy_refcounts: a compatible feature; we keep refcounts exact anyway. */
        workload_on_new(",lazy_refcounts=on", 16u << 20, 65536, 200, NULL);
        sh("rm -f %s/a.qcow2 %s/a.raw", dir, dir);
        workload_on_new("", 64u << 20, 2u << 20, 60, NULL);
}
END_TEST

START_TEST(test_small_cache_evicts)
{
        /* 4 KiB clusters map 2 MiB per L2 table: 64 MiB needs 32 tables, the cache holds 4. */
        workload_on_new("", 64u << 20, 4096, 400, ",metadata-cache=16384");
}
END_TEST

START_TEST(test_backing_raw_and_chain)
{
        struct disk d;
        uint64_t size = 16u << 20;

        /* base.raw <- mid.qcow2 (with its own writes) <- top.qcow2 */
        make_pattern_raw("base.raw", size, 1);
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -b base.raw -F raw -o cluster_size=4096 %s/mid.qcow2", dir), 0);
        ck_assert_int_eq(sh("qemu-io -f qcow2 -c 'write -P 0x5a 1M 3M' -c 'write -z 8M 1M' %s/mid.qcow2 >/dev/null", dir), 0);
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 -o cluster_size=65536 %s/top.qcow2", dir), 0);
        ck_assert_int_eq(sh("qemu-img convert -f qcow2 -O raw %s/top.qcow2 %s/top.raw", dir, dir), 0);
        ck_assert_int_eq(disk_open(&d, "top.qcow2", NULL, NULL, 0), 0);
        random_workload(&d, "top.qcow2", "top.raw", size, 65536, 300);
        /* The backing files were opened read-only and are untouched. */
        ck_assert_int_eq(sh("qemu-img check -q %s/mid.qcow2", dir), 0);
}
END_TEST

START_TEST(test_compressed)
{
        struct disk d;
        uint64_t size = 8u << 20;

        make_pattern_raw("c.raw", size, 7);
        ck_assert_int_eq(sh("qemu-img convert -c -f raw -O qcow2 %s/c.raw %s/c.qcow2", dir, dir), 0);
        ck_assert_int_eq(sh("qemu-img compare -q %s/c.qcow2 %s/c.raw", dir, dir), 0);
        ck_assert_int_eq(disk_open(&d, "c.qcow2", NULL, NULL, 0), 0);
        {
                /* Everything reads as the original first. */
                uint8_t *a = malloc(size), *b = malloc(size);
                char p[128];
                int fd;

                ck_assert_int_eq(disk_rw(&d, false, a, size, 0), 0);
                snprintf(p, sizeof(p), "%s/c.raw", dir);
                fd = open(p, O_RDONLY);
                ck_assert_int_eq(read(fd, b, size), (ssize_t)size);
                close(fd);
                ck_assert(memcmp(a, b, size) == 0);
                free(a);
                free(b);
        }
        random_workload(&d, "c.qcow2", "c.raw", size, 65536, 300);
}
END_TEST

START_TEST(test_reopen_keeps_data)
{
        struct disk d;
        uint8_t a[8192], b[8192];

        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s/r.qcow2 4M", dir), 0);
        ck_assert_int_eq(disk_open(&d, "r.qcow2", NULL, NULL, 0), 0);
        fill(a, sizeof(a), 3);
        ck_assert_int_eq(disk_rw(&d, true, a, sizeof(a), 70000 * 512ull % (4u << 20)), 0);
        /* No flush: closing writes the metadata back. */
        disk_close(&d);
        ck_assert_int_eq(sh("qemu-img check -q %s/r.qcow2", dir), 0);
        ck_assert_int_eq(disk_open(&d, "r.qcow2", NULL, NULL, 0), 0);
        ck_assert_int_eq(disk_rw(&d, false, b, sizeof(b), 70000 * 512ull % (4u << 20)), 0);
        ck_assert(memcmp(a, b, sizeof(a)) == 0);
        disk_close(&d);
}
END_TEST

/* Overwrite bytes of an image file. */
static void poke(const char *name, uint64_t off, const void *b, size_t n)
{
        shadow_write(name, b, n, off);
}

static void be64(uint8_t *b, uint64_t v)
{
        qcow2_put_be64(b, v);
}

static void expect_refused(const char *name, const char *opts, const char *needle)
{
        struct disk d;
        char msg[256];
        int r = disk_open(&d, name, opts, msg, sizeof(msg));

        if (r == 0)
                disk_close(&d);
        ck_assert_msg(r < 0, "%s opened", name);
        ck_assert_msg(strstr(msg, needle), "message '%s' lacks '%s'", msg, needle);
}

START_TEST(test_hostile_headers)
{
        uint8_t b[8];

        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s/h.qcow2 64M", dir), 0);
        ck_assert_int_eq(sh("cp %s/h.qcow2 %s/orig.qcow2", dir, dir), 0);
        /* L1 table pointing outside the file */
        be64(b, 1ull << 40);
        poke("h.qcow2", 40, b, 8);
        expect_refused("h.qcow2", NULL, "L1 table");
        /* huge L1 size */
        sh("cp %s/orig.qcow2 %s/h.qcow2", dir, dir);
        poke("h.qcow2", 36, "\xff\xff\xff\xf0", 4);
        expect_refused("h.qcow2", NULL, "L1 table");
        /* refcount table on the header */
        sh("cp %s/orig.qcow2 %s/h.qcow2", dir, dir);
        be64(b, 0);
        poke("h.qcow2", 48, b, 8);
        expect_refused("h.qcow2", NULL, "refcount table");
        /* an unknown incompatible feature, and the dirty bit */
        sh("cp %s/orig.qcow2 %s/h.qcow2", dir, dir);
        be64(b, 1ull << 9);
        poke("h.qcow2", 72, b, 8);
        expect_refused("h.qcow2", NULL, "unknown incompatible feature");
        be64(b, QCOW2_INCOMPAT_DIRTY);
        poke("h.qcow2", 72, b, 8);
        expect_refused("h.qcow2", NULL, "dirty bit");
        /* ... read-only, a dirty image opens */
        {
                struct disk d;

                ck_assert_int_eq(disk_open(&d, "h.qcow2", ",ro", NULL, 0), 0);
                disk_close(&d);
        }
        /* extended L2, zstd, encryption: named */
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o extended_l2=on %s/x.qcow2 1M", dir), 0);
        expect_refused("x.qcow2", NULL, "extended L2");
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o compression_type=zstd %s/z.qcow2 1M 2>/dev/null", dir) ||
                         (expect_refused("z.qcow2", NULL, "zstd"), 0), 0);
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 --object secret,id=s0,data=pw -o encrypt.format=luks,"
                            "encrypt.key-secret=s0 %s/e.qcow2 1M", dir), 0);
        expect_refused("e.qcow2", NULL, "encrypted");
        /* a backing file that does not exist */
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -u -b nothere.raw -F raw %s/nb.qcow2 1M", dir), 0);
        expect_refused("nb.qcow2", NULL, "nothere.raw");
        /* a chain that loops */
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -u -b l2.qcow2 -F qcow2 %s/l1.qcow2 1M && "
                            "qemu-img create -q -f qcow2 -u -b l1.qcow2 -F qcow2 %s/l2.qcow2 1M", dir, dir), 0);
        expect_refused("l1.qcow2", NULL, "loops");
        /* not qcow2 at all */
        ck_assert_int_eq(sh("truncate -s 1M %s/raw.img", dir), 0);
        expect_refused("raw.img", NULL, "not a qcow2 image");
}
END_TEST

START_TEST(test_hostile_tables)
{
        struct disk d;
        uint8_t b[8], buf[4096];
        struct qcow2_header h;
        char p[128], err[256];
        int fd;

        /* Allocate cluster 0 of the guest disk, then point its L2 entry at the L1 table. */
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s/t.qcow2 64M", dir), 0);
        ck_assert_int_eq(sh("qemu-io -f qcow2 -c 'write -P 1 0 64k' %s/t.qcow2 >/dev/null", dir), 0);
        snprintf(p, sizeof(p), "%s/t.qcow2", dir);
        fd = open(p, O_RDONLY);
        ck_assert_int_eq(qcow2_header_read(fd, &h, err, sizeof(err)), 0);
        ck_assert_int_eq(pread(fd, b, 8, (off_t)h.l1_offset), 8);
        close(fd);
        {
                uint64_t l2 = qcow2_be64(b) & QCOW2_L1E_OFFSET_MASK;

                be64(b, h.l1_offset | QCOW2_OFLAG_COPIED);
                poke("t.qcow2", l2, b, 8);
        }
        ck_assert_int_eq(disk_open(&d, "t.qcow2", NULL, NULL, 0), 0);
        ck_assert_int_eq(disk_rw(&d, false, buf, sizeof(buf), 0), -EIO);
        ck_assert_int_eq(disk_rw(&d, true, buf, sizeof(buf), 0), -EIO);
        /* The rest of the disk still works. */
        ck_assert_int_eq(disk_rw(&d, true, buf, sizeof(buf), 1u << 20), 0);
        /* Beyond the virtual size: refused. */
        ck_assert_int_eq(disk_rw(&d, false, buf, sizeof(buf), 64u << 20), -EIO);
        disk_close(&d);
        /* Pointing past the end of the file: an I/O error too. */
        be64(b, (1ull << 40) | QCOW2_OFLAG_COPIED);
        fd = open(p, O_RDONLY);
        ck_assert_int_eq(pread(fd, buf, 8, (off_t)h.l1_offset), 8);
        close(fd);
        poke("t.qcow2", qcow2_be64(buf) & QCOW2_L1E_OFFSET_MASK, b, 8);
        ck_assert_int_eq(disk_open(&d, "t.qcow2", NULL, NULL, 0), 0);
        ck_assert_int_eq(disk_rw(&d, false, buf, sizeof(buf), 0), -EIO);
        disk_close(&d);
        /* A truncated file: the last data cluster is gone. */
        ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s/tr.qcow2 64M && "
                            "qemu-io -f qcow2 -c 'write -P 3 1M 64k' %s/tr.qcow2 >/dev/null", dir, dir), 0);
        ck_assert_int_eq(sh("truncate -s -32k %s/tr.qcow2", dir), 0);
        ck_assert_int_eq(disk_open(&d, "tr.qcow2", NULL, NULL, 0), 0);
        ck_assert_int_eq(disk_rw(&d, false, buf, sizeof(buf), (1u << 20) + 61440), -EIO);
        ck_assert_int_eq(disk_rw(&d, false, buf, sizeof(buf), 4u << 20), 0);
        disk_close(&d);
}
END_TEST

START_TEST(test_create_is_qemu_compatible)
{
        char p[128], err[256];
        int fd;

        snprintf(p, sizeof(p), "%s/n.qcow2", dir);
        fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(qcow2_create(fd, 100u << 20, 16, NULL, QCOW2_BACKING_NONE, err, sizeof(err)), 0);
        close(fd);
        ck_assert_int_eq(sh("qemu-img check -q %s", p), 0);
        ck_assert_int_eq(sh("qemu-img info %s | grep -q 'virtual size: 100 MiB'", p), 0);
        make_pattern_raw("b.raw", 4u << 20, 5);
        snprintf(p, sizeof(p), "%s/o.qcow2", dir);
        fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0644);
        ck_assert_int_eq(qcow2_create(fd, 4u << 20, 12, "b.raw", QCOW2_BACKING_RAW, err, sizeof(err)), 0);
        close(fd);
        ck_assert_int_eq(sh("qemu-img check -q %s && qemu-img compare -q %s %s/b.raw", p, p, dir), 0);
        ck_assert_int_eq(sh("cp %s/b.raw %s/o.raw", dir, dir), 0);
        {
                struct disk d;

                ck_assert_int_eq(disk_open(&d, "o.qcow2", NULL, NULL, 0), 0);
                random_workload(&d, "o.qcow2", "o.raw", 4u << 20, 4096, 200);
        }
}
END_TEST

static Suite *qcow2_suite(void)
{
        Suite *s = suite_create("qcow2");
        TCase *tc = tcase_create("qcow2");

        if (sh("command -v qemu-img >/dev/null && command -v qemu-io >/dev/null") != 0) {
                fprintf(stderr, "SKIP: qemu-img/qemu-io not installed (scripts/setup installs qemu-utils)\n");
                exit(77);
        }
        tcase_set_timeout(tc, 240);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_empty_64k);
        tcase_add_test(tc, test_small_clusters_grow_reftable);
        tcase_add_test(tc, test_refcount_widths);
        tcase_add_test(tc, test_v2_and_2m_clusters);
        tcase_add_test(tc, test_direct_io);
        tcase_add_test(tc, test_small_cache_evicts);
        tcase_add_test(tc, test_backing_raw_and_chain);
        tcase_add_test(tc, test_compressed);
        tcase_add_test(tc, test_reopen_keeps_data);
        tcase_add_test(tc, test_hostile_headers);
        tcase_add_test(tc, test_hostile_tables);
        tcase_add_test(tc, test_create_is_qemu_compatible);
        suite_add_tcase(s, tc);
        return s;
}

CHECK_SUITE_MAIN(qcow2_suite)
