/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/fdpass.h"
#include "vmms/jsonrpc.h"
#include "vmms/libvmms.h"
#include "vmms/macro.h"

#define LIBVMMS_LINE_MAX (64u << 20)

struct libvmms {
        int fd;
        char *path;
        int64_t next_id;
        char *in;
        size_t in_len, in_alloc;
        int fds[FDPASS_MAX];
        size_t n_fds;
        struct json_object *events;     /* notifications that arrived while waiting for an answer */
};

const char *libvmms_default_socket(void)
{
        const char *e = getenv(VMMS_SOCKET_ENV);

        return e && e[0] ? e : VMMS_SOCKET_PATH_DEFAULT;
}

int libvmms_connect(const char *path, struct libvmms **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct libvmms *c;

        if (!path)
                path = libvmms_default_socket();
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->fd = -1;
        c->next_id = 1;
        c->path = strdup(path);
        c->events = json_object_new_array();
        if (!c->path || !c->events) {
                libvmms_free(c);
                return -ENOMEM;
        }
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;

                libvmms_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

void libvmms_free(struct libvmms *c)
{
        if (!c)
                return;
        safe_close(c->fd);
        for (size_t i = 0; i < c->n_fds; i++)
                safe_close(c->fds[i]);
        json_object_put(c->events);
        free(c->in);
        free(c->path);
        free(c);
}

const char *libvmms_socket_path(const struct libvmms *c)
{
        return c->path;
}

int libvmms_take_fd(struct libvmms *c)
{
        int fd;

        if (c->n_fds == 0)
                return -ENOENT;
        fd = c->fds[0];
        memmove(c->fds, c->fds + 1, (c->n_fds - 1) * sizeof(int));
        c->n_fds--;
        return fd;
}

/* The next message, waiting at most timeout_ms (< 0: for ever). */
static int read_message(struct libvmms *c, int timeout_ms, struct json_object **ret)
{
        for (;;) {
                char *nl = c->in ? memchr(c->in, '\n', c->in_len) : NULL;
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                size_t got = 0;
                ssize_t n;
                int r;

                if (nl) {
                        struct json_object *o = NULL;
                        const char *err = NULL;
                        size_t len = (size_t)(nl - c->in);

                        r = jsonrpc_parse_line(c->in, len, &o, &err);
                        memmove(c->in, nl + 1, c->in_len - len - 1);
                        c->in_len -= len + 1;
                        if (r < 0)
                                return -EPROTO;
                        *ret = o;
                        return 0;
                }
                if (c->in_alloc - c->in_len < 65536) {
                        size_t want = MAX(c->in_alloc * 2, (size_t)131072);
                        char *b;

                        if (want > LIBVMMS_LINE_MAX)
                                return -EMSGSIZE;
                        b = realloc(c->in, want);
                        if (!b)
                                return -ENOMEM;
                        c->in = b;
                        c->in_alloc = want;
                }
                r = poll(&p, 1, timeout_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        return -ETIMEDOUT;
                n = fdpass_recv(c->fd, c->in + c->in_len, c->in_alloc - c->in_len, c->fds + c->n_fds,
                                FDPASS_MAX - c->n_fds, &got);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return -ECONNRESET;
                c->n_fds += got;
                c->in_len += (size_t)n;
        }
}

static void error_from(struct json_object *e, struct libvmms_error *err)
{
        struct json_object *v;

        if (!err)
                return;
        err->code = json_object_object_get_ex(e, "code", &v) ? json_object_get_int(v) : JSONRPC_INTERNAL_ERROR;
        snprintf(err->message, sizeof(err->message), "%s",
                 json_object_object_get_ex(e, "message", &v) ? json_object_get_string(v) : "unknown error");
}

int libvmms_call(struct libvmms *c, const char *method, struct json_object *params,
                 struct json_object **ret_result, struct libvmms_error *err)
{
        return libvmms_call_fds(c, method, params, NULL, 0, ret_result, err);
}

int libvmms_call_fds(struct libvmms *c, const char *method, struct json_object *params, const int *fds,
                     size_t n_fds, struct json_object **ret_result, struct libvmms_error *err)
{
        _cleanup_json_ struct json_object *req = NULL;
        _cleanup_free_ char *line = NULL;
        int64_t id = c->next_id++;
        size_t len;
        int r;

        req = jsonrpc_request_new(method, params, id);
        if (!req)
                return -ENOMEM;
        line = jsonrpc_format(req, &len);
        if (!line)
                return -ENOMEM;
        /* fds ride on the first byte; the rest of the line follows as plain data. */
        if (n_fds > 0 && (r = fdpass_send(c->fd, line, len, fds, n_fds)) < 0)
                return r;
        for (size_t done = n_fds > 0 ? len : 0; done < len;) {
                ssize_t n = send(c->fd, line + done, len - done, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* The server may have answered (and closed) before reading: say what it said. */
                        break;
                }
                done += (size_t)n;
        }
        for (;;) {
                _cleanup_json_ struct json_object *msg = NULL;
                struct json_object *v, *e;

                r = read_message(c, -1, &msg);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(msg, "method", NULL)) {
                        json_object_array_add(c->events, TAKE_PTR(msg));
                        continue;
                }
                if (!json_object_object_get_ex(msg, "id", &v))
                        continue;
                if (json_object_object_get_ex(msg, "error", &e) && (!v || json_object_get_int64(v) == id)) {
                        /* An error with a null id answers whatever we sent (e.g. access denied). */
                        error_from(e, err);
                        return -EREMOTEIO;
                }
                if (!v || json_object_get_int64(v) != id)
                        continue;
                if (ret_result) {
                        json_object_object_get_ex(msg, "result", &v);
                        *ret_result = json_object_get(v);
                }
                return 0;
        }
}

int libvmms_next_event(struct libvmms *c, int timeout_ms, struct json_object **ret)
{
        for (;;) {
                struct json_object *msg = NULL;
                int r;

                if (json_object_array_length(c->events) > 0) {
                        *ret = json_object_get(json_object_array_get_idx(c->events, 0));
                        json_object_array_del_idx(c->events, 0, 1);
                        return 0;
                }
                r = read_message(c, timeout_ms, &msg);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(msg, "method", NULL)) {
                        *ret = msg;
                        return 0;
                }
                json_object_put(msg);   /* a stray answer */
        }
}

static struct json_object *name_params(const char *name)
{
        struct json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "name", json_object_new_string(name));
        return p;
}

static int name_call(struct libvmms *c, const char *method, const char *name, struct json_object **ret,
                     struct libvmms_error *err)
{
        struct json_object *p = name_params(name);

        if (!p)
                return -ENOMEM;
        return libvmms_call(c, method, p, ret, err);
}

int libvmms_vm_create(struct libvmms *c, struct json_object *config, struct json_object **ret,
                      struct libvmms_error *err)
{
        return libvmms_call(c, "vm.create", config, ret, err);
}

int libvmms_vm_list(struct libvmms *c, struct json_object **ret, struct libvmms_error *err)
{
        return libvmms_call(c, "vm.list", NULL, ret, err);
}

int libvmms_vm_get(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err)
{
        return name_call(c, "vm.get", name, ret, err);
}

int libvmms_vm_set(struct libvmms *c, const char *name, struct json_object *changes, struct json_object **ret,
                   struct libvmms_error *err)
{
        struct json_object *p = name_params(name);

        if (!p) {
                json_object_put(changes);
                return -ENOMEM;
        }
        json_object_object_add(p, "config", changes);
        return libvmms_call(c, "vm.set", p, ret, err);
}

int libvmms_vm_delete(struct libvmms *c, const char *name, struct libvmms_error *err)
{
        return name_call(c, "vm.delete", name, NULL, err);
}

int libvmms_vm_start(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err)
{
        return name_call(c, "vm.start", name, ret, err);
}

int libvmms_vm_stop(struct libvmms *c, const char *name, bool turn_off, bool force, int timeout,
                    struct json_object **ret, struct libvmms_error *err)
{
        struct json_object *p = name_params(name);

        if (!p)
                return -ENOMEM;
        if (turn_off)
                json_object_object_add(p, "turn_off", json_object_new_boolean(true));
        if (force)
                json_object_object_add(p, "force", json_object_new_boolean(true));
        if (timeout >= 0)
                json_object_object_add(p, "timeout", json_object_new_int(timeout));
        return libvmms_call(c, "vm.stop", p, ret, err);
}

int libvmms_vm_pause(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err)
{
        return name_call(c, "vm.pause", name, ret, err);
}

int libvmms_vm_resume(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err)
{
        return name_call(c, "vm.resume", name, ret, err);
}

int libvmms_vm_save(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err)
{
        return name_call(c, "vm.save", name, ret, err);
}

int libvmms_vm_console(struct libvmms *c, const char *name, int *ret_fd, char **ret_path, struct libvmms_error *err)
{
        _cleanup_json_ struct json_object *res = NULL;
        struct json_object *p = name_params(name), *v;
        int r;

        if (!p)
                return -ENOMEM;
        if (ret_fd)
                json_object_object_add(p, "fd", json_object_new_boolean(true));
        r = libvmms_call(c, "vm.console", p, &res, err);
        if (r < 0)
                return r;
        if (ret_path) {
                *ret_path = json_object_object_get_ex(res, "path", &v) ? strdup(json_object_get_string(v)) : NULL;
                if (json_object_object_get_ex(res, "path", NULL) && !*ret_path)
                        return -ENOMEM;
        }
        if (ret_fd) {
                r = json_object_object_get_ex(res, "fd", NULL) ? libvmms_take_fd(c) : -EPROTO;
                if (r < 0) {
                        if (ret_path) {
                                free(*ret_path);
                                *ret_path = NULL;
                        }
                        return -EPROTO;
                }
                *ret_fd = r;
        }
        return 0;
}

int libvmms_events_subscribe(struct libvmms *c, struct libvmms_error *err)
{
        return libvmms_call(c, "events.subscribe", NULL, NULL, err);
}

int libvmms_host_info(struct libvmms *c, struct json_object **ret, struct libvmms_error *err)
{
        return libvmms_call(c, "host.info", NULL, ret, err);
}
