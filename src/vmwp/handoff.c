/* SPDX-License-Identifier: MIT */
/*
 * The fd socket's first line and the fds that come with it: see handoff.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vmms/cleanup.h"
#include "vmms/fdpass.h"
#include "vmms/jsonrpc.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "handoff.h"

#define HANDOFF_LINE_MAX (64 * 1024)

void vmwp_handoff_free(struct vmwp_handoff *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < h->n_fds; i++)
                safe_close(h->fds[i]);
        for (size_t i = 0; i < h->n_held; i++)
                safe_close(h->held[i]);
        safe_close(h->fd_socket);
        json_object_put(h->msg);
        free(h->rest);
        free(h);
}

int vmwp_handoff_receive(int fd, struct vmwp_handoff **ret)
{
        struct vmwp_handoff *h = calloc(1, sizeof(*h));
        _cleanup_free_ char *buf = malloc(HANDOFF_LINE_MAX);
        struct timeval tv = { .tv_sec = 10 };
        const char *err = NULL;
        size_t len = 0, line_len;
        char *nl = NULL;
        int r;

        if (!h || !buf) {
                free(h);
                safe_close(fd);
                return log_error_errno(-ENOMEM, "Out of memory");
        }
        h->fd_socket = fd;
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                r = log_error_errno(-errno, "--fd-socket: %d is not an open fd: %m", fd);
                h->fd_socket = -1;
                goto fail;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        while (!nl && len < HANDOFF_LINE_MAX) {
                size_t got = 0;
                ssize_t n = fdpass_recv(fd, buf + len, HANDOFF_LINE_MAX - len, h->fds + h->n_fds,
                                        VMWP_HANDOFF_MAX_FDS - h->n_fds, &got);

                if (n < 0) {
                        r = log_error_errno((int)n, "--fd-socket: cannot read the fds: %m");
                        goto fail;
                }
                h->n_fds += got;
                if (n == 0) {
                        r = log_error_errno(-EPIPE, "--fd-socket: closed before the fds arrived");
                        goto fail;
                }
                len += (size_t)n;
                nl = memchr(buf, '\n', len);
        }
        if (!nl) {
                r = log_error_errno(-EBADMSG, "--fd-socket: first message too long");
                goto fail;
        }
        line_len = (size_t)(nl - buf);
        r = jsonrpc_parse_line(buf, line_len, &h->msg, &err);
        if (r < 0 || !json_object_is_type(h->msg, json_type_object)) {
                r = log_error_errno(-EBADMSG, "--fd-socket: bad first message: %s", err ? err : "not an object");
                goto fail;
        }
        h->rest_len = len - line_len - 1;
        if (h->rest_len > 0) {
                h->rest = malloc(h->rest_len);
                if (!h->rest) {
                        r = log_error_errno(-ENOMEM, "Out of memory");
                        goto fail;
                }
                memcpy(h->rest, nl + 1, h->rest_len);
        }
        tv.tv_sec = 0;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        *ret = h;
        return 0;
fail:
        vmwp_handoff_free(h);
        return r;
}

/* The fd an index names; -EBADMSG when it names none (or one already claimed). */
static int handoff_index(struct vmwp_handoff *h, struct json_object *v)
{
        int64_t i = json_object_get_int64(v);
        int fd;

        if (!json_object_is_type(v, json_type_int) || i < 0 || (size_t)i >= h->n_fds || h->fds[i] < 0)
                return -EBADMSG;
        fd = h->fds[i];
        h->fds[i] = -1;
        return fd;
}

int vmwp_handoff_take(struct vmwp_handoff *h, const char *key)
{
        struct json_object *v;
        int fd;

        if (!h || !json_object_object_get_ex(h->msg, key, &v))
                return -ENOENT;
        fd = handoff_index(h, v);
        if (fd < 0)
                return log_error_errno(fd, "--fd-socket: \"%s\" does not name a passed fd", key);
        return fd;
}

static int handoff_hold(struct vmwp_handoff *h, int fd)
{
        if (h->n_held >= VMWP_HANDOFF_MAX_FDS) {
                safe_close(fd);
                return -E2BIG;
        }
        h->held[h->n_held++] = fd;
        return fd;
}

int vmwp_handoff_apply(struct vmwp_handoff *h, struct vm_config *cfg)
{
        struct json_object *v;
        int fd;

        if (!h)
                return 0;
        if (json_object_object_get_ex(h->msg, "disks", &v)) {
                if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != cfg->n_disks)
                        return log_error_errno(-EBADMSG, "--fd-socket: \"disks\" must name one fd per configured disk");
                for (size_t d = 0; d < cfg->n_disks; d++) {
                        /* The image, or [the image, its backing file, that one's, ...]. */
                        struct json_object *e = json_object_array_get_idx(v, d);
                        struct disk_config *disk = &cfg->disks[d];
                        bool chain = json_object_is_type(e, json_type_array);
                        size_t n = chain ? json_object_array_length(e) : 1;

                        if (n < 1 || n > 1 + DISK_CHAIN_MAX)
                                return log_error_errno(-EBADMSG, "--fd-socket: disks[%zu] must be 1 to %u fds", d,
                                                       1 + DISK_CHAIN_MAX);
                        for (size_t i = 0; i < n; i++) {
                                fd = handoff_index(h, chain ? json_object_array_get_idx(e, i) : e);
                                if (fd < 0)
                                        return log_error_errno(fd, "--fd-socket: disks[%zu] does not name a passed fd", d);
                                fd = handoff_hold(h, fd);
                                if (fd < 0)
                                        return fd;
                                if (i == 0)
                                        disk->fd = fd;
                                else
                                        disk->backing_fds[i - 1] = fd;
                        }
                        disk->n_backing_fds = (unsigned)n - 1;
                }
        }
        if (json_object_object_get_ex(h->msg, "nics", &v)) {
                if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != cfg->n_nics)
                        return log_error_errno(-EBADMSG, "--fd-socket: \"nics\" must name the fds of every configured NIC");
                for (size_t k = 0; k < cfg->n_nics; k++) {
                        struct json_object *q = json_object_array_get_idx(v, k);
                        struct nic_config *nic = &cfg->nics[k];
                        size_t n = json_object_is_type(q, json_type_array) ? json_object_array_length(q) : 0;

                        if (n < 1 || n > NIC_QUEUES_MAX)
                                return log_error_errno(-EBADMSG, "--fd-socket: nics[%zu] must be 1 to %u fds", k,
                                                       NIC_QUEUES_MAX);
                        for (size_t i = 0; i < n; i++) {
                                fd = handoff_index(h, json_object_array_get_idx(q, i));
                                if (fd < 0)
                                        return log_error_errno(fd, "--fd-socket: nics[%zu][%zu] does not name a passed fd",
                                                               k, i);
                                nic->fds[i] = handoff_hold(h, fd);
                                if (nic->fds[i] < 0)
                                        return nic->fds[i];
                        }
                        /* Opened for us: what the name said has been done. */
                        nic->n_fds = (unsigned)n;
                        nic->queues = (unsigned)n;
                        free(nic->tap);
                        free(nic->switch_name);
                        free(nic->bridge);
                        nic->tap = nic->switch_name = nic->bridge = NULL;
                }
        }
        if (json_object_object_get_ex(h->msg, "hold", &v)) {
                if (!json_object_is_type(v, json_type_array))
                        return log_error_errno(-EBADMSG, "--fd-socket: \"hold\" must be an array");
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        fd = handoff_index(h, json_object_array_get_idx(v, i));
                        if (fd < 0)
                                return log_error_errno(fd, "--fd-socket: hold[%zu] does not name a passed fd", i);
                        if ((fd = handoff_hold(h, fd)) < 0)
                                return fd;
                }
        }
        return 0;
}
