/* SPDX-License-Identifier: MIT */
/* The worker's cage as far as it is pure logic: the worker id range, the seccomp report vmms
 * reads from a worker, the limits of a VM's cgroup, and the image allow-list (paths.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "vmms/cleanup.h"
#include "../../src/vmms/cage.h"
#include "../../src/vmms/vmms.h"

START_TEST(test_ids)
{
        unsigned first, count;

        ck_assert_int_eq(cage_ids_parse("70000-70999", &first, &count), 0);
        ck_assert_uint_eq(first, 70000);
        ck_assert_uint_eq(count, 1000);
        ck_assert_int_eq(cage_ids_parse("5-5", &first, &count), 0);
        ck_assert_uint_eq(count, 1);
        ck_assert_int_eq(cage_ids_parse("0-10", &first, &count), -EINVAL);     /* never root */
        ck_assert_int_eq(cage_ids_parse("10-5", &first, &count), -EINVAL);
        ck_assert_int_eq(cage_ids_parse("70000", &first, &count), -EINVAL);
        ck_assert_int_eq(cage_ids_parse("a-b", &first, &count), -EINVAL);
        ck_assert_int_eq(cage_ids_parse("1-4294967295", &first, &count), -EINVAL);
}
END_TEST

START_TEST(test_report)
{
        char msg[128];

        ck_assert(cage_parse_report("seccomp 101 3221225534\n", 23, msg, sizeof(msg)));
        ck_assert_str_eq(msg, "seccomp violation: ptrace");
        ck_assert(cage_parse_report("seccomp 165 0", 13, msg, sizeof(msg)));    /* arch 0: ours */
        ck_assert_str_eq(msg, "seccomp violation: mount");
        ck_assert(cage_parse_report("seccomp 99999 3221225534\n", 25, msg, sizeof(msg)));
        ck_assert_str_eq(msg, "seccomp violation: system call 99999");
        ck_assert(!cage_parse_report("", 0, msg, sizeof(msg)));
        ck_assert(!cage_parse_report("hello", 5, msg, sizeof(msg)));
        ck_assert(!cage_parse_report("seccomp x", 9, msg, sizeof(msg)));
}
END_TEST

START_TEST(test_limits)
{
        struct cage_limits l;

        cage_limits_for_vm(64ull << 20, 2, 100, &l);
        ck_assert_uint_ge(l.memory_max, (64ull << 20) + CAGE_MEMORY_OVERHEAD);
        ck_assert_uint_eq(l.pids_max, CAGE_PIDS_BASE + 2);
        ck_assert_uint_eq(l.cpu_weight, 0);             /* the default: nothing to set */
        cage_limits_for_vm(1ull << 30, 1, 250, &l);
        ck_assert_uint_eq(l.cpu_weight, 250);
}
END_TEST

START_TEST(test_allow_dirs)
{
        char base[] = "/tmp/test-cage-XXXXXX", dir[64], img[96], out[96], path[128], err[512];
        char *dirs[] = { dir };
        struct vmms_manager m = { .allow_dirs = dirs, .n_allow_dirs = 1 };
        int fd;

        ck_assert_ptr_nonnull(mkdtemp(base));
        snprintf(dir, sizeof(dir), "%s/images", base);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        snprintf(img, sizeof(img), "%s/a.img", dir);
        snprintf(out, sizeof(out), "%s/outside.img", base);
        ck_assert_int_ge(fd = open(img, O_CREAT | O_WRONLY | O_CLOEXEC, 0600), 0);
        close(fd);
        ck_assert_int_ge(fd = open(out, O_CREAT | O_WRONLY | O_CLOEXEC, 0600), 0);
        close(fd);

        ck_assert_int_eq(vmms_open_allowed(&m, "disks[0].path", img, O_RDWR, &fd, err, sizeof(err)), 0);
        close(fd);
        ck_assert_int_eq(vmms_check_allowed(&m, "kernel", out, O_RDONLY, err, sizeof(err)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "kernel: "));
        ck_assert_ptr_nonnull(strstr(err, "outside the directories"));
        snprintf(path, sizeof(path), "%s/../outside.img", dir);
        ck_assert_int_eq(vmms_check_allowed(&m, "kernel", path, O_RDONLY, err, sizeof(err)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "'..'"));
        /* A prefix is not a directory: /x/images2 is not below /x/images. */
        snprintf(path, sizeof(path), "%s2/a.img", dir);
        ck_assert_int_eq(vmms_check_allowed(&m, "kernel", path, O_RDONLY, err, sizeof(err)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "outside"));
        /* Links: inside stays inside; out is refused, absolute or relative. */
        snprintf(path, sizeof(path), "%s/in.img", dir);
        ck_assert_int_eq(symlink("a.img", path), 0);
        ck_assert_int_eq(vmms_check_allowed(&m, "kernel", path, O_RDONLY, err, sizeof(err)), 0);
        snprintf(path, sizeof(path), "%s/abs.img", dir);
        ck_assert_int_eq(symlink(out, path), 0);
        ck_assert_int_eq(vmms_check_allowed(&m, "kernel", path, O_RDONLY, err, sizeof(err)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "leads out"));
        snprintf(path, sizeof(path), "%s/rel.img", dir);
        ck_assert_int_eq(symlink("../outside.img", path), 0);
        ck_assert_int_eq(vmms_check_allowed(&m, "kernel", path, O_RDONLY, err, sizeof(err)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "leads out"));
        snprintf(path, sizeof(path), "%s/none.img", dir);
        ck_assert_int_eq(vmms_check_allowed(&m, "initrd", path, O_RDONLY, err, sizeof(err)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "No such file"));
        ck_assert_int_eq(vmms_check_allowed(&m, "kernel", "relative.img", O_RDONLY, err, sizeof(err)), -EINVAL);

        unlink(img);
        unlink(out);
        snprintf(path, sizeof(path), "%s/in.img", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/abs.img", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/rel.img", dir);
        unlink(path);
        rmdir(dir);
        rmdir(base);
}
END_TEST

CHECK_MAIN("cage", test_ids, test_report, test_limits, test_allow_dirs)
