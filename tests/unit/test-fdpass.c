/* SPDX-License-Identifier: MIT */
/* SCM_RIGHTS helpers over a socketpair: data intact, fds usable and CLOEXEC, excess closed. */
#include "check-main.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmms/fdpass.h"

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int n = 0;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n - 1;   /* the directory's own fd */
}

START_TEST(test_roundtrip)
{
        int s[2], p[2], fds[FDPASS_MAX];
        char buf[64], c;
        size_t n_fds = 99;
        ssize_t n;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(fdpass_send(s[0], "{\"kvm\":0}\n", 10, &p[0], 1), 0);
        n = fdpass_recv(s[1], buf, sizeof(buf), fds, FDPASS_MAX, &n_fds);
        ck_assert_int_eq(n, 10);
        ck_assert(memcmp(buf, "{\"kvm\":0}\n", 10) == 0);
        ck_assert_uint_eq(n_fds, 1);
        ck_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
        /* It is the same pipe. */
        ck_assert_int_eq(write(p[1], "z", 1), 1);
        ck_assert_int_eq(read(fds[0], &c, 1), 1);
        ck_assert_int_eq(c, 'z');
        close(fds[0]);
        /* Data without fds. */
        ck_assert_int_eq(fdpass_send(s[0], "abc", 3, NULL, 0), 0);
        n = fdpass_recv(s[1], buf, sizeof(buf), fds, FDPASS_MAX, &n_fds);
        ck_assert_int_eq(n, 3);
        ck_assert_uint_eq(n_fds, 0);
        /* EOF. */
        close(s[0]);
        ck_assert_int_eq(fdpass_recv(s[1], buf, sizeof(buf), fds, FDPASS_MAX, &n_fds), 0);
        close(s[1]);
        close(p[0]);
        close(p[1]);
}
END_TEST

START_TEST(test_excess_fds_closed)
{
        int s[2], p[2], fds[2], send_fds[4];
        char buf[8];
        size_t n_fds;
        int before;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        before = count_fds();
        send_fds[0] = send_fds[1] = send_fds[2] = send_fds[3] = p[0];
        ck_assert_int_eq(fdpass_send(s[0], "x", 1, send_fds, 4), 0);
        ck_assert_int_eq(fdpass_recv(s[1], buf, sizeof(buf), fds, 2, &n_fds), 1);
        ck_assert_uint_eq(n_fds, 2);
        ck_assert_int_eq(count_fds(), before + 2);      /* the other two were closed */
        close(fds[0]);
        close(fds[1]);
        ck_assert_int_eq(count_fds(), before);
        ck_assert_int_eq(fdpass_send(s[0], "x", 1, send_fds, FDPASS_MAX + 1), -EINVAL);
        ck_assert_int_eq(fdpass_send(s[0], "", 0, NULL, 0), -EINVAL);
        close(s[0]);
        close(s[1]);
        close(p[0]);
        close(p[1]);
}
END_TEST

/* More fds than the control buffer holds: the kernel truncates; that is an error, not "no fds". */
START_TEST(test_truncated_control)
{
        int s[2], p[2], fds[FDPASS_MAX], send_fds[FDPASS_MAX + 4];
        char cbuf[CMSG_SPACE(sizeof(send_fds))], buf[8];
        struct iovec iov = { .iov_base = (char *)"x", .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                             .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *cm;
        size_t n_fds = 99;
        int before;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        before = count_fds();
        for (size_t i = 0; i < FDPASS_MAX + 4; i++)
                send_fds[i] = p[0];
        memset(cbuf, 0, sizeof(cbuf));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(send_fds));
        memcpy(CMSG_DATA(cm), send_fds, sizeof(send_fds));
        ck_assert_int_eq(sendmsg(s[0], &mh, 0), 1);
        ck_assert_int_eq(fdpass_recv(s[1], buf, sizeof(buf), fds, FDPASS_MAX, &n_fds), -ENOBUFS);
        ck_assert_uint_eq(n_fds, 99);                   /* not written on failure */
        ck_assert_int_eq(count_fds(), before);          /* nothing leaked */
        close(s[0]);
        close(s[1]);
        close(p[0]);
        close(p[1]);
}
END_TEST

START_TEST(test_closed_peer)
{
        int s[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
        close(s[1]);
        ck_assert_int_eq(fdpass_send(s[0], "x", 1, NULL, 0), -EPIPE);
        close(s[0]);
}
END_TEST

CHECK_MAIN("fdpass", test_roundtrip, test_excess_fds_closed, test_truncated_control, test_closed_peer)
