/* SPDX-License-Identifier: MIT */
/*
 * A JSON-RPC connection on an sd-event loop: line framing with a size limit, non-blocking
 * reads and writes, an output queue with backpressure, SCM_RIGHTS both ways, requests this
 * side sent and their answers, and an orderly close that never calls the owner back from
 * inside its own call.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "jsonrpc-internal.h"

#define READ_CHUNK   (64u * 1024)
#define READ_ROUNDS  16u        /* reads per wake-up, so one client cannot hog the loop */
#define WRITEV_MAX   64u

static void conn_update_events(struct jsonrpc_conn *c);

static void chunk_free(struct jsonrpc_chunk *ch)
{
        for (size_t i = 0; i < ch->n_fds; i++)
                safe_close(ch->fds[i]);
        free(ch->data);
        free(ch);
}

/* The requests this side sent will not be answered any more. */
static void conn_fail_pending(struct jsonrpc_conn *c)
{
        struct jsonrpc_pending *p;

        while ((p = c->pending)) {
                c->pending = p->next;
                p->fn(c, -ECONNRESET, NULL, NULL, p->userdata);
                free(p);
        }
}

static void conn_free(struct jsonrpc_conn *c)
{
        struct jsonrpc_chunk *ch;

        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->close_defer);
        sd_event_source_disable_unref(c->feed_defer);
        safe_close(c->fd);
        while ((ch = c->out_head)) {
                c->out_head = ch->next;
                chunk_free(ch);
        }
        /* The owner let go of the connection; its callbacks still learn the end (and must
         * not touch c beyond that). */
        conn_fail_pending(c);
        for (size_t i = 0; i < c->n_in_fds; i++)
                safe_close(c->in_fds[i]);
        free(c->in);
        sd_event_unref(c->event);
        free(c);
}

struct jsonrpc_conn *jsonrpc_conn_ref(struct jsonrpc_conn *c)
{
        if (c)
                c->n_ref++;
        return c;
}

struct jsonrpc_conn *jsonrpc_conn_unref(struct jsonrpc_conn *c)
{
        if (c && --c->n_ref == 0)
                conn_free(c);
        return NULL;
}

void jsonrpc_conn_set_close_callback(struct jsonrpc_conn *c, jsonrpc_close_fn fn) { c->on_close = fn; }
void jsonrpc_conn_set_userdata(struct jsonrpc_conn *c, void *userdata) { c->userdata = userdata; }
void *jsonrpc_conn_get_userdata(const struct jsonrpc_conn *c) { return c->userdata; }
int jsonrpc_conn_get_fd(const struct jsonrpc_conn *c) { return c->closed ? -EBADF : c->fd; }
bool jsonrpc_conn_is_closed(const struct jsonrpc_conn *c) { return c->closed; }
size_t jsonrpc_conn_output_queued(const struct jsonrpc_conn *c) { return c->out_bytes; }

void jsonrpc_conn_set_limits(struct jsonrpc_conn *c, size_t max_line, size_t max_output)
{
        if (max_line)
                c->max_line = max_line;
        if (max_output)
                c->max_output = max_output;
}

/* Runs from the loop, never from inside a caller: fail the pending requests, tell the owner. */
static int conn_on_closed(sd_event_source *s, void *userdata)
{
        struct jsonrpc_conn *c = jsonrpc_conn_ref(userdata);

        c->close_defer = sd_event_source_disable_unref(c->close_defer);
        conn_fail_pending(c);
        if (!c->close_notified) {
                c->close_notified = true;
                if (c->on_close)
                        c->on_close(c, c->userdata);
        }
        jsonrpc_conn_unref(c);
        return 0;
}

void jsonrpc_conn_close(struct jsonrpc_conn *c)
{
        struct jsonrpc_chunk *ch;

        if (!c || c->closed)
                return;
        c->closed = true;
        c->io = sd_event_source_disable_unref(c->io);
        c->fd = safe_close(c->fd);
        while ((ch = c->out_head)) {
                c->out_head = ch->next;
                chunk_free(ch);
        }
        c->out_tail = NULL;
        c->out_bytes = 0;
        /* No reference: an owner that drops the connection first needs no callback. */
        if (sd_event_add_defer(c->event, &c->close_defer, conn_on_closed, c) < 0)
                c->close_defer = NULL;  /* out of memory: the owner learns nothing more */
}

static bool conn_may_read(const struct jsonrpc_conn *c)
{
        return !c->closed && !c->closing && c->out_bytes < JSONRPC_OUTPUT_PAUSE;
}

/* Nothing more will come in and nothing more goes out: done. */
static void conn_maybe_finish(struct jsonrpc_conn *c)
{
        if (c->closed || c->out_head)
                return;
        if (c->closing || (c->eof && c->n_active == 0))
                jsonrpc_conn_close(c);
}

void jsonrpc_conn_batch_done(struct jsonrpc_conn *c)
{
        c->n_active--;
        conn_maybe_finish(c);
        conn_update_events(c);
}

static void conn_flush(struct jsonrpc_conn *c)
{
        while (c->out_head && !c->closed) {
                struct iovec iov[WRITEV_MAX];
                union {
                        char buf[CMSG_SPACE(sizeof(int) * JSONRPC_FDS_MAX)];
                        struct cmsghdr align;
                } control;
                struct msghdr mh = { .msg_iov = iov };
                struct jsonrpc_chunk *ch = c->out_head;
                bool with_fds = ch->n_fds > 0;
                ssize_t n;

                /* A chunk that carries fds goes alone, so they arrive with its first byte. */
                for (; ch && mh.msg_iovlen < WRITEV_MAX; ch = ch->next) {
                        if (mh.msg_iovlen > 0 && ch->n_fds > 0)
                                break;
                        iov[mh.msg_iovlen++] = (struct iovec) { ch->data + ch->off, ch->len - ch->off };
                        if (with_fds)
                                break;
                }
                if (with_fds) {
                        struct cmsghdr *cm;

                        memset(&control, 0, sizeof(control));
                        mh.msg_control = control.buf;
                        mh.msg_controllen = CMSG_SPACE(sizeof(int) * c->out_head->n_fds);
                        cm = CMSG_FIRSTHDR(&mh);
                        cm->cmsg_level = SOL_SOCKET;
                        cm->cmsg_type = SCM_RIGHTS;
                        cm->cmsg_len = CMSG_LEN(sizeof(int) * c->out_head->n_fds);
                        memcpy(CMSG_DATA(cm), c->out_head->fds, sizeof(int) * c->out_head->n_fds);
                }
                n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        log_debug_errno(-errno, "JSON-RPC connection: write failed, closing: %m");
                        jsonrpc_conn_close(c);
                        return;
                }
                if (with_fds) {
                        for (size_t i = 0; i < c->out_head->n_fds; i++)
                                safe_close(c->out_head->fds[i]);
                        c->out_head->n_fds = 0;
                }
                c->out_bytes -= (size_t)n;
                while (n > 0) {
                        ch = c->out_head;
                        size_t left = ch->len - ch->off;

                        if ((size_t)n < left) {
                                ch->off += (size_t)n;
                                break;
                        }
                        n -= (ssize_t)left;
                        c->out_head = ch->next;
                        if (!c->out_head)
                                c->out_tail = NULL;
                        chunk_free(ch);
                }
        }
}

int jsonrpc_conn_queue(struct jsonrpc_conn *c, char *data, size_t len, const int *fds, size_t n_fds)
{
        struct jsonrpc_chunk *ch;

        if (c->closed) {
                free(data);
                return -ECONNRESET;
        }
        if (n_fds > JSONRPC_FDS_MAX) {
                free(data);
                return -E2BIG;
        }
        ch = calloc(1, sizeof(*ch));
        if (!ch) {
                free(data);
                return -ENOMEM;
        }
        ch->data = data;
        ch->len = len;
        for (size_t i = 0; i < n_fds; i++) {
                ch->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (ch->fds[i] < 0) {
                        int r = -errno;

                        chunk_free(ch);
                        return r;
                }
                ch->n_fds++;
        }
        if (c->out_tail)
                c->out_tail->next = ch;
        else
                c->out_head = ch;
        c->out_tail = ch;
        c->out_bytes += len;
        if (c->out_bytes > c->max_output) {
                log_debug("JSON-RPC connection: peer does not read its output (%zu bytes queued), closing",
                          c->out_bytes);
                jsonrpc_conn_close(c);
                return -ENOBUFS;
        }
        conn_flush(c);
        conn_maybe_finish(c);
        conn_update_events(c);
        return 0;
}

int jsonrpc_conn_send(struct jsonrpc_conn *c, struct json_object *msg, const int *fds, size_t n_fds)
{
        _cleanup_json_ struct json_object *m = msg;
        size_t len;
        char *line;

        if (!m)
                return -ENOMEM;
        line = jsonrpc_format(m, &len);
        if (!line)
                return -ENOMEM;
        return jsonrpc_conn_queue(c, line, len, fds, n_fds);
}

int jsonrpc_conn_notify(struct jsonrpc_conn *c, const char *method, struct json_object *params)
{
        return jsonrpc_conn_send(c, jsonrpc_notification_new(method, params), NULL, 0);
}

int jsonrpc_conn_call(struct jsonrpc_conn *c, const char *method, struct json_object *params,
                      jsonrpc_reply_fn reply_fn, void *userdata)
{
        return jsonrpc_conn_call_fds(c, method, params, NULL, 0, reply_fn, userdata);
}

int jsonrpc_conn_call_fds(struct jsonrpc_conn *c, const char *method, struct json_object *params,
                          const int *fds, size_t n_fds, jsonrpc_reply_fn reply_fn, void *userdata)
{
        struct jsonrpc_pending *p, **tail;
        int64_t id = c->next_id++;
        int r;

        if (c->closed) {
                json_object_put(params);
                return -ECONNRESET;
        }
        p = calloc(1, sizeof(*p));
        if (!p) {
                json_object_put(params);
                return -ENOMEM;
        }
        *p = (struct jsonrpc_pending) { .id = id, .fn = reply_fn, .userdata = userdata };
        /* Listed before it is sent: an answer can only come from the loop, later. */
        for (tail = &c->pending; *tail; tail = &(*tail)->next)
                ;
        *tail = p;
        r = jsonrpc_conn_send(c, jsonrpc_request_new(method, params, id), fds, n_fds);
        if (r < 0) {
                /* Not sent: the caller learns it from r, never from reply_fn too. */
                for (tail = &c->pending; *tail && *tail != p; tail = &(*tail)->next)
                        ;
                if (*tail) {
                        *tail = p->next;
                        free(p);
                }
        }
        return r;
}

int jsonrpc_conn_take_fd(struct jsonrpc_conn *c)
{
        int fd;

        if (c->n_in_fds == 0)
                return -ENOENT;
        fd = c->in_fds[0];
        memmove(c->in_fds, c->in_fds + 1, (c->n_in_fds - 1) * sizeof(int));
        c->n_in_fds--;
        return fd;
}

static void conn_process_line(struct jsonrpc_conn *c, char *line, size_t len)
{
        _cleanup_json_ struct json_object *msg = NULL;
        const char *err = NULL;
        int r;

        while (len > 0 && strchr(" \t\r", line[len - 1]))
                len--;
        if (len == 0)
                return;         /* blank lines are not messages */
        r = jsonrpc_parse_line(line, len, &msg, &err);
        if (r == -ENOMEM) {
                jsonrpc_conn_close(c);
                return;
        }
        if (r < 0) {
                jsonrpc_dispatch_parse_error(c, err ? err : "invalid JSON");
                return;
        }
        jsonrpc_dispatch(c, msg);
}

static void conn_too_long(struct jsonrpc_conn *c)
{
        c->in_len = 0;
        jsonrpc_dispatch_too_long(c);
        c->closing = true;      /* once the error is out */
        conn_maybe_finish(c);
}

/* Dispatch every complete line, as long as the peer reads what we answer. */
static void conn_process_input(struct jsonrpc_conn *c)
{
        size_t start = 0;

        while (conn_may_read(c) && start < c->in_len) {
                char *nl = memchr(c->in + start, '\n', c->in_len - start);
                size_t len;

                if (!nl)
                        break;
                len = (size_t)(nl - (c->in + start));
                if (len > c->max_line) {
                        conn_too_long(c);
                        return;
                }
                conn_process_line(c, c->in + start, len);
                start += len + 1;
        }
        if (c->closed)
                return;
        if (start > 0) {
                memmove(c->in, c->in + start, c->in_len - start);
                c->in_len -= start;
        }
        if (c->closing)
                return;
        if (c->in_len > c->max_line && !memchr(c->in, '\n', c->in_len)) {
                conn_too_long(c);
                return;
        }
        if (c->eof && c->in_len > 0 && conn_may_read(c) && !memchr(c->in, '\n', c->in_len)) {
                /* The last message may come without its newline. */
                size_t len = c->in_len;

                c->in_len = 0;
                conn_process_line(c, c->in, len);
        }
}

static int conn_grow(struct jsonrpc_conn *c, size_t need)
{
        size_t want;
        char *p;

        if (c->in_alloc - c->in_len >= need)
                return 0;
        want = MAX(c->in_alloc * 2, c->in_len + need);
        p = realloc(c->in, want);
        if (!p)
                return -ENOMEM;
        c->in = p;
        c->in_alloc = want;
        return 0;
}

static int conn_on_fed(sd_event_source *s, void *userdata)
{
        struct jsonrpc_conn *c = jsonrpc_conn_ref(userdata);

        c->feed_defer = sd_event_source_disable_unref(c->feed_defer);
        conn_process_input(c);
        conn_maybe_finish(c);
        conn_update_events(c);
        jsonrpc_conn_unref(c);
        return 0;
}

int jsonrpc_conn_feed(struct jsonrpc_conn *c, const void *data, size_t len)
{
        int r;

        if (len == 0)
                return 0;
        r = conn_grow(c, len);
        if (r < 0)
                return r;
        memcpy(c->in + c->in_len, data, len);
        c->in_len += len;
        /* Dispatched from the loop, like anything read from the socket. */
        if (!c->feed_defer) {
                r = sd_event_add_defer(c->event, &c->feed_defer, conn_on_fed, c);
                if (r < 0) {
                        c->feed_defer = NULL;
                        return r;
                }
        }
        return 0;
}

static void conn_keep_fds(struct jsonrpc_conn *c, struct msghdr *mh)
{
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                size_t n;
                int fds[JSONRPC_FDS_MAX];

                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                n = MIN(n, (size_t)JSONRPC_FDS_MAX);
                memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
                for (size_t i = 0; i < n; i++) {
                        if (c->n_in_fds < JSONRPC_FDS_MAX)
                                c->in_fds[c->n_in_fds++] = fds[i];
                        else
                                safe_close(fds[i]);     /* a peer passing more than we take */
                }
        }
}

/* Read what is there (a bounded amount), dispatching as lines complete. */
static void conn_read(struct jsonrpc_conn *c, unsigned rounds)
{
        for (unsigned i = 0; i < rounds && conn_may_read(c) && !c->eof; i++) {
                union {
                        char buf[CMSG_SPACE(sizeof(int) * JSONRPC_FDS_MAX)];
                        struct cmsghdr align;
                } control;
                struct iovec iov;
                struct msghdr mh = {
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
                };
                ssize_t n;

                if (conn_grow(c, READ_CHUNK) < 0) {
                        jsonrpc_conn_close(c);
                        return;
                }
                iov = (struct iovec) { c->in + c->in_len, READ_CHUNK };
                n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        log_debug_errno(-errno, "JSON-RPC connection: read failed, closing: %m");
                        jsonrpc_conn_close(c);
                        return;
                }
                conn_keep_fds(c, &mh);
                if (n == 0)
                        c->eof = true;
                c->in_len += (size_t)n;
                conn_process_input(c);
        }
        conn_maybe_finish(c);
}

int jsonrpc_conn_drain_input(struct jsonrpc_conn *c)
{
        if (c->closed)
                return -ECONNRESET;
        jsonrpc_conn_ref(c);
        conn_read(c, UINT32_MAX);
        conn_update_events(c);
        jsonrpc_conn_unref(c);
        return 0;
}

static void conn_update_events(struct jsonrpc_conn *c)
{
        uint32_t ev = 0;

        if (c->closed || !c->io)
                return;
        if (conn_may_read(c) && !c->eof)
                ev |= EPOLLIN;
        if (c->out_head)
                ev |= EPOLLOUT;
        if (ev == 0) {
                sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                return;
        }
        sd_event_source_set_io_events(c->io, ev);
        sd_event_source_set_enabled(c->io, SD_EVENT_ON);
}

static int conn_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct jsonrpc_conn *c = jsonrpc_conn_ref(userdata);
        bool was_paused = c->out_bytes >= JSONRPC_OUTPUT_PAUSE;

        if (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                conn_flush(c);
        /* Output drained below the mark: lines that waited in the buffer go first. */
        if (was_paused && conn_may_read(c))
                conn_process_input(c);
        if (!c->closed && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                conn_read(c, READ_ROUNDS);
        conn_maybe_finish(c);
        conn_update_events(c);
        jsonrpc_conn_unref(c);
        return 0;
}

int jsonrpc_conn_new(sd_event *event, int fd, const struct jsonrpc_method *methods, size_t n_methods,
                     void *userdata, struct jsonrpc_conn **ret)
{
        _cleanup_close_ int owned = fd;
        struct jsonrpc_conn *c;
        int r;

        r = fd_set_nonblock(owned, true);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->event = sd_event_ref(event);
        c->fd = TAKE_FD(owned);
        c->methods = methods;
        c->n_methods = n_methods;
        c->userdata = userdata;
        c->max_line = JSONRPC_LINE_MAX_DEFAULT;
        c->max_output = JSONRPC_OUTPUT_MAX_DEFAULT;
        c->next_id = 1;
        r = sd_event_add_io(event, &c->io, c->fd, EPOLLIN, conn_on_io, c);
        if (r < 0) {
                conn_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

int jsonrpc_conn_flush_blocking(struct jsonrpc_conn *c, uint64_t timeout_usec)
{
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;

        for (;;) {
                struct pollfd p;
                uint64_t now;

                if (c->closed)
                        return -ECONNRESET;
                conn_flush(c);
                if (c->closed)
                        return -ECONNRESET;
                if (!c->out_head)
                        return 0;
                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                p = (struct pollfd) { .fd = c->fd, .events = POLLOUT };
                if (poll(&p, 1, (int)((deadline - now + 999) / 1000)) < 0 && errno != EINTR)
                        return -errno;
        }
}
