/* SPDX-License-Identifier: MIT */
/* A disk's backing chain as vmms and vmjail open it for the worker (src/vmms/disk_chain.c):
 * names resolved lexically, formats, loops, depth, and the opener's refusals. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "vmms/cleanup.h"
#include "vmms/qcow2.h"
#include "vmms/util.h"
#include "../../src/vmms/disk_chain.h"

static void expect_path(const char *child, const char *name, const char *want)
{
        _cleanup_free_ char *p = NULL;

        ck_assert_int_eq(disk_chain_backing_path(child, name, &p), 0);
        ck_assert_msg(strcmp(p, want) == 0, "%s + %s = %s, expected %s", child, name, p, want);
}

START_TEST(test_backing_path)
{
        expect_path("/img/top.qcow2", "base.qcow2", "/img/base.qcow2");
        expect_path("/img/top.qcow2", "./bases/b.img", "/img/bases/b.img");
        expect_path("/img/vms/top.qcow2", "../base.qcow2", "/img/base.qcow2");
        expect_path("/img/top.qcow2", "../../../../etc/passwd", "/etc/passwd");
        expect_path("/img/top.qcow2", "/abs//dir/./x/../b.img", "/abs/dir/b.img");
        expect_path("/img/a/top.qcow2", "b/../../c.img", "/img/c.img");
        expect_path("/top.qcow2", "base", "/base");
        expect_path("top.qcow2", "base", "base");              /* relative to the cwd, as vmwp by hand */
        expect_path("d/top.qcow2", "../../base", "../base");
        expect_path("/", "/img/./new.qcow2", "/img/new.qcow2");
}
END_TEST

/* The test's allow-list: everything below dir, read-only. */
struct opener {
        const char *dir;
        unsigned calls;
};

static int open_below(void *userdata, const char *key, const char *path, int *ret_fd, char *err, size_t err_len)
{
        struct opener *o = userdata;
        int fd;

        o->calls++;
        if (strncmp(path, o->dir, strlen(o->dir)) != 0) {
                snprintf(err, err_len, "%s: %s is outside", key, path);
                return -EINVAL;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                snprintf(err, err_len, "%s: %s: %s", key, path, strerror(errno));
                return -EINVAL;
        }
        *ret_fd = fd;
        return 0;
}

static void make_qcow2(const char *dir, const char *name, uint64_t size, const char *backing,
                       enum qcow2_backing_format bf)
{
        char path[256], err[256] = "";
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        unlink(path);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_msg(qcow2_create(fd, size, 16, backing, bf, err, sizeof(err)) == 0, "%s", err);
        close(fd);
}

static void make_raw(const char *dir, const char *name, off_t size)
{
        char path[256];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, size), 0);
        close(fd);
}

/* Open dir/name as the top of a chain; err gets the message. */
static int chain_of(const char *dir, const char *name, enum disk_format format, struct disk_chain *ret, char *err,
                    size_t err_len, int *ret_fd)
{
        struct opener o = { .dir = dir };
        char path[256];
        int fd, r;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        r = disk_chain_open("disks[0].path", path, fd, format, open_below, &o, ret, err, err_len);
        *ret_fd = fd;
        return r;
}

START_TEST(test_chain)
{
        char dir[] = "/tmp/test-disk-chain-XXXXXX", sub[64], err[512] = "";
        struct disk_chain c;
        int top, fds[DISK_CHAIN_MAX];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sub, sizeof(sub), "%s/sub", dir);
        ck_assert_int_eq(mkdir(sub, 0700), 0);
        /* raw <- qcow2 (format recorded) <- qcow2 in a subdirectory (name with ".."). */
        make_raw(dir, "base.img", 1 << 20);
        make_qcow2(dir, "mid.qcow2", 2 << 20, "base.img", QCOW2_BACKING_RAW);
        make_qcow2(sub, "top.qcow2", 4 << 20, "../mid.qcow2", QCOW2_BACKING_QCOW2);
        ck_assert_msg(chain_of(sub, "top.qcow2", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top) == -EINVAL,
                      "a backing file outside the opener's directory was opened");
        ck_assert_ptr_nonnull(strstr(err, "disks[0].path: backing file '../mid.qcow2' of "));
        ck_assert_ptr_nonnull(strstr(err, "/mid.qcow2 is outside"));
        close(top);
        ck_assert_msg(chain_of(dir, "sub/top.qcow2", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top) == 0, "%s", err);
        ck_assert_uint_eq(c.n, 3);
        ck_assert_int_eq(c.images[0].fd, top);
        ck_assert_int_eq(c.images[0].format, DISK_FORMAT_QCOW2);
        ck_assert_uint_eq(c.images[0].virtual_size, 4 << 20);
        ck_assert_uint_eq(c.images[0].cluster_size, 65536);
        ck_assert_str_eq(c.images[0].backing_name, "../mid.qcow2");
        ck_assert_int_eq(c.images[1].format, DISK_FORMAT_QCOW2);
        ck_assert_uint_eq(c.images[1].virtual_size, 2 << 20);
        ck_assert_ptr_nonnull(strstr(c.images[1].path, "/mid.qcow2"));
        ck_assert_ptr_null(strstr(c.images[1].path, ".."));
        ck_assert_int_eq(c.images[2].format, DISK_FORMAT_RAW);
        ck_assert_uint_eq(c.images[2].virtual_size, 1 << 20);
        ck_assert_ptr_null(c.images[2].backing_name);
        ck_assert_uint_eq(disk_chain_take_fds(&c, fds), 2);
        ck_assert_int_ge(fds[0], 0);
        ck_assert_int_eq(c.images[1].fd, -1);
        ck_assert_int_eq(fcntl(fds[0], F_GETFL) & O_ACCMODE, O_RDONLY);
        disk_chain_done(&c);
        ck_assert_int_ge(fcntl(top, F_GETFD), 0);       /* the top stays the caller's */
        close(fds[0]);
        close(fds[1]);
        close(top);

        /* A raw top: no chain, whatever it holds. */
        ck_assert_int_eq(chain_of(dir, "mid.qcow2", DISK_FORMAT_RAW, &c, err, sizeof(err), &top), 0);
        ck_assert_uint_eq(c.n, 1);
        disk_chain_done(&c);
        close(top);
        /* qcow2 named for a raw file. */
        ck_assert_int_eq(chain_of(dir, "base.img", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "base.img: not a qcow2 image"));
        close(top);

        /* No backing format recorded (the extension turned into an unknown one): probed. */
        make_qcow2(dir, "unknown.qcow2", 2 << 20, "mid.qcow2", QCOW2_BACKING_QCOW2);
        {
                static const uint8_t ext[4] = { 0xe2, 0x79, 0x2a, 0xca };      /* QCOW2_EXT_BACKING_FORMAT */
                uint8_t head[512], *at;
                char path[256];
                int fd;

                snprintf(path, sizeof(path), "%s/unknown.qcow2", dir);
                fd = open(path, O_RDWR | O_CLOEXEC);
                ck_assert_int_eq(pread(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
                at = memmem(head + QCOW2_V3_HEADER_BYTES, sizeof(head) - QCOW2_V3_HEADER_BYTES, ext, sizeof(ext));
                ck_assert_ptr_nonnull(at);
                ck_assert_int_eq(pwrite(fd, "XTST", 4, at - head), 4);
                close(fd);
        }
        ck_assert_msg(chain_of(dir, "unknown.qcow2", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top) == 0, "%s", err);
        ck_assert_uint_eq(c.n, 3);
        ck_assert_int_eq(c.images[1].format, DISK_FORMAT_QCOW2);
        disk_chain_done(&c);
        close(top);

        /* Loops: an image its own backing file; two that name each other. */
        make_qcow2(dir, "self.qcow2", 1 << 20, "self.qcow2", QCOW2_BACKING_QCOW2);
        ck_assert_int_eq(chain_of(dir, "self.qcow2", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "backing chain loops at "));
        close(top);
        make_qcow2(dir, "a.qcow2", 1 << 20, "b.qcow2", QCOW2_BACKING_QCOW2);
        make_qcow2(dir, "b.qcow2", 1 << 20, "./a.qcow2", QCOW2_BACKING_QCOW2);
        ck_assert_int_eq(chain_of(dir, "a.qcow2", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "/a.qcow2 (named by "));
        close(top);

        /* Depth: DISK_CHAIN_MAX backing files are fine, one more is not. */
        make_raw(dir, "l0", 1 << 20);
        for (unsigned i = 1; i <= DISK_CHAIN_MAX + 1; i++) {
                char name[16], below[16];

                snprintf(name, sizeof(name), "l%u", i);
                snprintf(below, sizeof(below), "l%u", i - 1);
                make_qcow2(dir, name, 1 << 20, below, i == 1 ? QCOW2_BACKING_RAW : QCOW2_BACKING_QCOW2);
        }
        ck_assert_msg(chain_of(dir, "l15", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top) == 0, "%s", err);
        ck_assert_uint_eq(c.n, 1 + DISK_CHAIN_MAX);
        disk_chain_done(&c);
        close(top);
        ck_assert_int_eq(chain_of(dir, "l16", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "longer than 15 backing files"));
        close(top);

        /* A missing backing file names the chain member. */
        make_qcow2(dir, "orphan.qcow2", 1 << 20, "gone.img", QCOW2_BACKING_RAW);
        ck_assert_int_eq(chain_of(dir, "orphan.qcow2", DISK_FORMAT_QCOW2, &c, err, sizeof(err), &top), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "backing file 'gone.img' of "));
        ck_assert_ptr_nonnull(strstr(err, "No such file"));
        close(top);

        {
                char cmd[128];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                ck_assert_int_eq(system(cmd), 0);
        }
}
END_TEST

CHECK_MAIN("disk-chain", test_backing_path, test_chain)
