/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "vmms/cleanup.h"
#include "vmms/fdpass.h"
#include "vmms/macro.h"

union fdpass_control {
        char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
        struct cmsghdr align;
};

int fdpass_send(int sock, const void *data, size_t len, const int *fds, size_t n_fds)
{
        union fdpass_control control;
        const char *p = data;
        struct iovec iov = { (void *)p, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (len == 0 || n_fds > FDPASS_MAX)
                return -EINVAL;
        if (n_fds > 0) {
                struct cmsghdr *cm;

                memset(&control, 0, sizeof(control));
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
        }
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        /* The fds went with the first byte; the rest is plain data. */
        p += n;
        len -= (size_t)n;
        while (len > 0) {
                n = send(sock, p, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *ret_n_fds)
{
        union fdpass_control control;
        struct iovec iov = { buf, len };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
        };
        size_t n_fds = 0;
        ssize_t n;

        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                int got[FDPASS_MAX];
                size_t k;

                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                k = MIN((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int), (size_t)FDPASS_MAX);
                memcpy(got, CMSG_DATA(cm), k * sizeof(int));
                for (size_t i = 0; i < k; i++) {
                        if (n_fds < max_fds)
                                fds[n_fds++] = got[i];
                        else
                                safe_close(got[i]);
                }
        }
        /* The sender passed more fds than fit: the kernel dropped some. Never hand over a
         * message whose fds are partly missing as if it had none (or fewer). */
        if (mh.msg_flags & MSG_CTRUNC) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return -ENOBUFS;
        }
        if (ret_n_fds)
                *ret_n_fds = n_fds;
        return n;
}
