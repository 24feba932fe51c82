/* SPDX-License-Identifier: MIT */
/*
 * vmic's protocol engine: line framing on each port, the hello, and the heartbeat,
 * shutdown, timesync and kvp services (fcopy is in vmic-fcopy.c). The host is trusted
 * more than a guest is by the host, but its lines are still bounded and checked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmic-internal.h"

#define WRITE_TIMEOUT_MS 10000

static uint64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vmic_log(struct vmic *v, const char *fmt, ...)
{
        va_list ap;

        if (!v->cfg.verbose)
                return;
        va_start(ap, fmt);
        fputs("vmic: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

static int write_all(int fd, const char *buf, size_t len)
{
        uint64_t deadline = mono_ms() + WRITE_TIMEOUT_MS;

        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd p = { .fd = fd, .events = POLLOUT };
                        uint64_t now = mono_ms();

                        if (now >= deadline)
                                return -ETIMEDOUT;
                        (void)poll(&p, 1, (int)(deadline - now));
                        continue;
                }
                if (n < 0)
                        return -errno;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

void vmic_begin(struct vmic *v, struct ic_writer *w, const char *type)
{
        ic_writer_begin(w, v->out, IC_LINE_MAX, type);
}

int vmic_send(struct vmic *v, enum ic_service s, struct ic_writer *w)
{
        int n = ic_writer_end(w);

        if (n < 0)
                return n;
        if (v->port[s].fd < 0)
                return -EPIPE;
        return write_all(v->port[s].fd, w->buf, (size_t)n);
}

int vmic_error(struct vmic *v, enum ic_service s, uint64_t id, unsigned code, const char *fmt, ...)
{
        struct ic_writer w;
        char text[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        vmic_log(v, "%s: error %u: %s", ic_service_name(s), code, text);
        vmic_begin(v, &w, IC_MSG_ERROR);
        if (id)
                ic_writer_int(&w, "id", (int64_t)id);
        ic_writer_int(&w, "error", code);
        ic_writer_str(&w, "message", text, ic_utf8_valid(text, strlen(text)) ? strlen(text) : 0);
        return vmic_send(v, s, &w);
}

int vmic_ack(struct vmic *v, enum ic_service s, uint64_t id, int64_t seq)
{
        struct ic_writer w;

        vmic_begin(v, &w, IC_MSG_ACK);
        if (id)
                ic_writer_int(&w, "id", (int64_t)id);
        if (seq >= 0)
                ic_writer_int(&w, "seq", seq);
        return vmic_send(v, s, &w);
}

uint64_t vmic_msg_id(const struct ic_msg *m)
{
        int64_t id = 0;

        return ic_msg_get_int(m, "id", 1, INT64_MAX, &id) < 0 ? 0 : (uint64_t)id;
}

/* --- pools --------------------------------------------------------------------------- */

static struct vmic_kv *pool_find(struct vmic_pool *p, const char *key)
{
        for (unsigned i = 0; i < p->n; i++)
                if (strcmp(p->e[i].key, key) == 0)
                        return &p->e[i];
        return NULL;
}

/* Set a value; returns the entry (NULL: full or out of memory). */
static struct vmic_kv *pool_set(struct vmic_pool *p, const char *key, const char *value)
{
        struct vmic_kv *e = pool_find(p, key);
        char *nv = strdup(value);

        if (!nv)
                return NULL;
        if (!e) {
                if (p->n >= IC_KVP_POOL_MAX || !(p->e[p->n].key = strdup(key))) {
                        free(nv);
                        return NULL;
                }
                e = &p->e[p->n++];
                e->value = NULL;
                e->sent = false;
        } else if (strcmp(e->value, value) != 0) {
                e->sent = false;
        }
        free(e->value);
        e->value = nv;
        return e;
}

static void pool_remove(struct vmic_pool *p, struct vmic_kv *e)
{
        free(e->key);
        free(e->value);
        *e = p->e[--p->n];
}

static void pool_clear(struct vmic_pool *p)
{
        while (p->n > 0)
                pool_remove(p, &p->e[p->n - 1]);
}

/* A key that can be a file name in the kvp directory. */
static bool key_is_file_name(const char *key)
{
        return strcmp(key, ".") != 0 && strcmp(key, "..") != 0;
}

static void host_file_write(struct vmic *v, const char *key, const char *value)
{
        char dir[4096], path[4096 + IC_KVP_KEY_MAX + 8], tmp[sizeof(path) + 8];
        int fd;

        if (!v->cfg.kvp_dir || !key_is_file_name(key))
                return;
        snprintf(dir, sizeof(dir), "%s/host", v->cfg.kvp_dir);
        (void)mkdir(v->cfg.kvp_dir, 0755);
        (void)mkdir(dir, 0755);
        snprintf(path, sizeof(path), "%s/%s", dir, key);
        if (!value) {
                (void)unlink(path);
                return;
        }
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, key);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return;
        if (write_all(fd, value, strlen(value)) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
                vmic_log(v, "cannot write %s: %m", path);
                (void)unlink(tmp);
        }
}

/* Keys the administrator of the guest adds: one file per key in DIR/guest. */
static void guest_files_collect(struct vmic *v)
{
        char dir[4096];
        struct dirent *de;
        DIR *d;

        if (!v->cfg.kvp_dir)
                return;
        snprintf(dir, sizeof(dir), "%s/guest", v->cfg.kvp_dir);
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                char value[IC_KVP_VALUE_MAX + 1];
                ssize_t n;
                int fd;

                if (de->d_name[0] == '.' || !ic_kvp_key_valid(de->d_name, strlen(de->d_name)))
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
                if (fd < 0)
                        continue;
                n = read(fd, value, sizeof(value));
                close(fd);
                if (n < 0 || n > (ssize_t)IC_KVP_VALUE_MAX)
                        continue;
                while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == '\r'))
                        n--;
                value[n] = 0;
                if (memchr(value, 0, (size_t)n) || !ic_utf8_valid(value, (size_t)n))
                        continue;
                vmic_kvp_report(v, de->d_name, value);
        }
        closedir(d);
}

void vmic_kvp_report(struct vmic *v, const char *key, const char *value)
{
        struct vmic_kv *e;
        size_t len = strlen(value);

        if (!ic_kvp_key_valid(key, strlen(key)))
                return;
        if (len > IC_KVP_VALUE_MAX)
                len = IC_KVP_VALUE_MAX;
        while (len > 0 && !ic_utf8_valid(value, len))  /* cut at a character boundary */
                len--;
        char *cut = strndup(value, len);

        if (!cut)
                return;
        e = pool_set(&v->guest, key, cut);
        free(cut);
        if (e)
                e->seen = true;
}

void vmic_kvp_refresh(struct vmic *v)
{
        struct ic_writer w;

        for (unsigned i = 0; i < v->guest.n; i++)
                v->guest.e[i].seen = false;
        if (v->ops->kvp_collect)
                v->ops->kvp_collect(v->userdata, v);
        guest_files_collect(v);
        for (unsigned i = 0; i < v->guest.n; i++) {
                struct vmic_kv *e = &v->guest.e[i];

                if (!e->seen) {         /* gone: tell the host */
                        if (v->port[IC_SVC_KVP].connected) {
                                vmic_begin(v, &w, IC_MSG_DELETE);
                                ic_writer_cstr(&w, "pool", IC_KVP_POOL_GUEST);
                                ic_writer_cstr(&w, "key", e->key);
                                (void)vmic_send(v, IC_SVC_KVP, &w);
                        }
                        pool_remove(&v->guest, e);
                        i--;
                        continue;
                }
                if (e->sent || !v->port[IC_SVC_KVP].connected)
                        continue;
                vmic_begin(v, &w, IC_MSG_SET);
                ic_writer_cstr(&w, "pool", IC_KVP_POOL_GUEST);
                ic_writer_cstr(&w, "key", e->key);
                ic_writer_cstr(&w, "value", e->value);
                if (vmic_send(v, IC_SVC_KVP, &w) >= 0)
                        e->sent = true;
        }
        v->next_refresh = mono_ms() + VMIC_KVP_REFRESH_MS;
}

char *vmic_kvp_host_get(struct vmic *v, const char *key)
{
        struct vmic_kv *e = pool_find(&v->host, key);

        return e ? strdup(e->value) : NULL;
}

static void kvp_message(struct vmic *v, const struct ic_msg *m)
{
        uint64_t id = vmic_msg_id(m);
        const char *pool = NULL, *key = NULL, *value = NULL;
        size_t key_len = 0;
        struct ic_writer w;
        struct vmic_kv *e;
        bool host;

        if (ic_msg_is(m, IC_MSG_ACK) || ic_msg_is(m, IC_MSG_ERROR))
                return;         /* answers to our reports: nothing to do */
        if (!ic_msg_is(m, IC_MSG_SET) && !ic_msg_is(m, IC_MSG_DELETE) && !ic_msg_is(m, IC_MSG_GET)) {
                vmic_error(v, IC_SVC_KVP, id, IC_ERR_UNKNOWN_TYPE, "unknown kvp message %s", m->type);
                return;
        }
        if (ic_msg_get_str(m, "pool", 16, &pool, NULL) < 0 ||
            (strcmp(pool, IC_KVP_POOL_HOST) != 0 && strcmp(pool, IC_KVP_POOL_GUEST) != 0) ||
            ic_msg_get_str(m, "key", IC_KVP_KEY_MAX, &key, &key_len) < 0 || !ic_kvp_key_valid(key, key_len)) {
                vmic_error(v, IC_SVC_KVP, id, IC_ERR_BAD_MESSAGE, "needs a pool and a valid key");
                return;
        }
        host = strcmp(pool, IC_KVP_POOL_HOST) == 0;
        if (ic_msg_is(m, IC_MSG_GET)) {
                e = pool_find(host ? &v->host : &v->guest, key);
                if (!e) {
                        vmic_error(v, IC_SVC_KVP, id, IC_ERR_NOT_FOUND, "no key %s in the %s pool", key, pool);
                        return;
                }
                vmic_begin(v, &w, IC_MSG_VALUE);
                ic_writer_int(&w, "id", (int64_t)id);
                ic_writer_cstr(&w, "key", key);
                ic_writer_cstr(&w, "value", e->value);
                (void)vmic_send(v, IC_SVC_KVP, &w);
                return;
        }
        if (!host) {
                vmic_error(v, IC_SVC_KVP, id, IC_ERR_ACCESS, "the host writes only the host pool");
                return;
        }
        if (ic_msg_is(m, IC_MSG_DELETE)) {
                e = pool_find(&v->host, key);
                if (!e) {
                        vmic_error(v, IC_SVC_KVP, id, IC_ERR_NOT_FOUND, "no key %s", key);
                        return;
                }
                pool_remove(&v->host, e);
                host_file_write(v, key, NULL);
                vmic_ack(v, IC_SVC_KVP, id, -1);
                return;
        }
        if (ic_msg_get_str(m, "value", IC_KVP_VALUE_MAX, &value, NULL) < 0) {
                vmic_error(v, IC_SVC_KVP, id, IC_ERR_TOO_LARGE, "values are strings of at most %u bytes",
                           IC_KVP_VALUE_MAX);
                return;
        }
        if (!pool_set(&v->host, key, value)) {
                vmic_error(v, IC_SVC_KVP, id, IC_ERR_NO_SPACE, "the pool holds %u keys", IC_KVP_POOL_MAX);
                return;
        }
        host_file_write(v, key, value);
        vmic_log(v, "kvp: host set %s", key);
        vmic_ack(v, IC_SVC_KVP, id, -1);
}

/* --- the small services -------------------------------------------------------------- */

static void heartbeat_message(struct vmic *v, const struct ic_msg *m)
{
        struct ic_writer w;
        int64_t seq;

        if (!ic_msg_is(m, IC_MSG_PING) || ic_msg_get_int(m, "seq", 1, INT64_MAX, &seq) < 0) {
                vmic_error(v, IC_SVC_HEARTBEAT, vmic_msg_id(m), IC_ERR_UNKNOWN_TYPE, "expected a ping");
                return;
        }
        vmic_begin(v, &w, IC_MSG_PONG);
        ic_writer_int(&w, "seq", seq);
        ic_writer_cstr(&w, "status", IC_HEARTBEAT_STATUS_OK);
        (void)vmic_send(v, IC_SVC_HEARTBEAT, &w);
}

static void shutdown_message(struct vmic *v, const struct ic_msg *m)
{
        uint64_t id = vmic_msg_id(m);
        const char *action = NULL, *reason = "";
        bool reboot;

        if (!ic_msg_is(m, IC_MSG_SHUTDOWN)) {
                vmic_error(v, IC_SVC_SHUTDOWN, id, IC_ERR_UNKNOWN_TYPE, "expected a shutdown");
                return;
        }
        if (!id || ic_msg_get_str(m, "action", 16, &action, NULL) < 0 ||
            (strcmp(action, IC_SHUTDOWN_POWEROFF) != 0 && strcmp(action, IC_SHUTDOWN_REBOOT) != 0)) {
                vmic_error(v, IC_SVC_SHUTDOWN, id, IC_ERR_BAD_MESSAGE, "needs an id and an action");
                return;
        }
        (void)ic_msg_get_str(m, "reason", IC_SHUTDOWN_REASON_MAX, &reason, NULL);
        reboot = strcmp(action, IC_SHUTDOWN_REBOOT) == 0;
        if (v->cfg.refuse_shutdown || !v->ops->shutdown) {
                vmic_error(v, IC_SVC_SHUTDOWN, id, IC_ERR_REFUSED, "this guest does not shut down on request");
                return;
        }
        fprintf(stderr, "vmic: the host asks for a %s%s%s\n", reboot ? "reboot" : "power-off",
                reason[0] ? ": " : "", reason);
        (void)vmic_ack(v, IC_SVC_SHUTDOWN, id, -1);
        if (v->ops->shutdown(v->userdata, reboot, reason) < 0)
                fprintf(stderr, "vmic: shutting down failed: %m\n");
}

static void timesync_message(struct vmic *v, const struct ic_msg *m)
{
        int64_t seq, sec, nsec, host_ms, guest_ms, off;
        struct timespec now, host;
        const char *action = "none";
        struct ic_writer w;

        if (!ic_msg_is(m, IC_MSG_TIME)) {
                if (!ic_msg_is(m, IC_MSG_ERROR))
                        vmic_error(v, IC_SVC_TIMESYNC, vmic_msg_id(m), IC_ERR_UNKNOWN_TYPE, "expected a time");
                return;
        }
        if (ic_msg_get_int(m, "seq", 1, INT64_MAX, &seq) < 0 ||
            ic_msg_get_int(m, "sec", 0, INT64_C(1) << 40, &sec) < 0 ||
            ic_msg_get_int(m, "nsec", 0, 999999999, &nsec) < 0) {
                vmic_error(v, IC_SVC_TIMESYNC, 0, IC_ERR_BAD_MESSAGE, "time needs seq, sec and nsec");
                return;
        }
        v->ops->clock_get(v->userdata, &now);
        host_ms = sec * 1000 + nsec / 1000000;
        guest_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        off = guest_ms - host_ms;
        if (v->cfg.set_clock && (off > (int64_t)IC_TIMESYNC_STEP_MS || off < -(int64_t)IC_TIMESYNC_STEP_MS)) {
                host = (struct timespec) { .tv_sec = (time_t)sec, .tv_nsec = (long)nsec };
                if (v->ops->clock_set(v->userdata, &host) >= 0)
                        action = "step";
        } else if (v->cfg.set_clock && off != 0) {
                if (v->ops->clock_slew(v->userdata, -off) >= 0)
                        action = "slew";
        }
        vmic_log(v, "timesync: off by %lld ms, %s", (long long)off, action);
        vmic_begin(v, &w, IC_MSG_ACK);
        ic_writer_int(&w, "seq", seq);
        ic_writer_int(&w, "offset_ms", off);
        ic_writer_cstr(&w, "action", action);
        (void)vmic_send(v, IC_SVC_TIMESYNC, &w);
}

/* --- ports --------------------------------------------------------------------------- */

static void handle_line(struct vmic *v, enum ic_service s, char *line, size_t len)
{
        struct vmic_port *p = &v->port[s];
        struct ic_msg m;

        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (ic_msg_parse(line, len, &m) < 0) {
                vmic_error(v, s, 0, IC_ERR_BAD_MESSAGE, "not a flat JSON object with a type");
                return;
        }
        if (ic_msg_is(&m, IC_MSG_HELLO)) {
                int64_t ver = 0;

                (void)ic_msg_get_int(&m, "version", 1, UINT32_MAX, &ver);
                p->connected = ver >= IC_PROTOCOL_VERSION_MIN;
                vmic_log(v, "%s: connected (version %lld)", ic_service_name(s), (long long)ver);
                if (s == IC_SVC_KVP && p->connected) {
                        for (unsigned i = 0; i < v->guest.n; i++)
                                v->guest.e[i].sent = false;
                        vmic_kvp_refresh(v);
                }
                return;
        }
        if (!p->connected) {
                if (!ic_msg_is(&m, IC_MSG_ERROR))
                        vmic_error(v, s, vmic_msg_id(&m), IC_ERR_BAD_MESSAGE, "no hello yet");
                else
                        vmic_log(v, "%s: the host refused our hello", ic_service_name(s));
                return;
        }
        switch (s) {
        case IC_SVC_HEARTBEAT: heartbeat_message(v, &m); break;
        case IC_SVC_SHUTDOWN: shutdown_message(v, &m); break;
        case IC_SVC_TIMESYNC: timesync_message(v, &m); break;
        case IC_SVC_KVP: kvp_message(v, &m); break;
        case IC_SVC_FCOPY: vmic_fcopy_message(v, &m); break;
        default: break;
        }
}

int vmic_port_read(struct vmic *v, enum ic_service s)
{
        struct vmic_port *p = &v->port[s];
        char buf[65536];
        ssize_t n;

        if (p->fd < 0)
                return -EBADF;
        n = read(p->fd, buf, sizeof(buf));
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -EPIPE;
        for (char *c = buf, *end = buf + n; c < end;) {
                char *nl = memchr(c, '\n', (size_t)(end - c));
                size_t seg = nl ? (size_t)(nl - c) : (size_t)(end - c);

                if (!p->discarding) {
                        if (p->in_len + seg >= p->in_max) {
                                p->discarding = true;
                                p->in_len = 0;
                                vmic_error(v, s, 0, IC_ERR_TOO_LARGE, "line too long");
                        } else {
                                memcpy(p->in + p->in_len, c, seg);
                                p->in_len += seg;
                        }
                }
                c += seg;
                if (!nl)
                        break;
                if (!p->discarding && p->fd >= 0)
                        handle_line(v, s, p->in, p->in_len);
                p->in_len = 0;
                p->discarding = false;
                c++;
        }
        return 0;
}

int vmic_attach(struct vmic *v, enum ic_service s, int fd)
{
        struct vmic_port *p = &v->port[s];
        struct ic_writer w;
        int flags;

        vmic_detach(v, s);
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                close(fd);
                return -errno;
        }
        p->fd = fd;
        p->connected = false;
        p->in_len = 0;
        p->discarding = false;
        vmic_begin(v, &w, IC_MSG_HELLO);
        ic_writer_int(&w, "version", IC_PROTOCOL_VERSION);
        ic_writer_cstr(&w, "agent", "vmic " VMIC_VERSION);
        return vmic_send(v, s, &w);
}

void vmic_detach(struct vmic *v, enum ic_service s)
{
        struct vmic_port *p = &v->port[s];

        if (p->fd < 0)
                return;
        if (s == IC_SVC_FCOPY)
                vmic_fcopy_abort(v);
        close(p->fd);
        p->fd = -1;
        p->connected = false;
}

bool vmic_attached(struct vmic *v, enum ic_service s)
{
        return v->port[s].fd >= 0;
}

bool vmic_connected(struct vmic *v, enum ic_service s)
{
        return v->port[s].fd >= 0 && v->port[s].connected;
}

int vmic_poll_once(struct vmic *v, int timeout_ms)
{
        struct pollfd pfd[IC_SVC_COUNT];
        enum ic_service which[IC_SVC_COUNT];
        unsigned n = 0;
        uint64_t now = mono_ms();
        int r;

        if (now >= v->next_refresh)
                vmic_kvp_refresh(v);
        else if ((uint64_t)timeout_ms > v->next_refresh - now || timeout_ms < 0)
                timeout_ms = (int)(v->next_refresh - now);
        for (unsigned s = 0; s < IC_SVC_COUNT; s++)
                if (v->port[s].fd >= 0) {
                        pfd[n] = (struct pollfd) { .fd = v->port[s].fd, .events = POLLIN };
                        which[n++] = (enum ic_service)s;
                }
        r = poll(pfd, n, timeout_ms);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        for (unsigned i = 0; i < n; i++) {
                if (!pfd[i].revents)
                        continue;
                r = vmic_port_read(v, which[i]);
                if (r < 0) {
                        vmic_log(v, "%s: port closed (%s)", ic_service_name(which[i]), strerror(-r));
                        vmic_detach(v, which[i]);
                }
        }
        return 0;
}

void vmic_free(struct vmic *v)
{
        if (!v)
                return;
        for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                vmic_detach(v, (enum ic_service)s);
                free(v->port[s].in);
        }
        vmic_fcopy_abort(v);
        pool_clear(&v->host);
        pool_clear(&v->guest);
        free(v->fc.chunk);
        free(v->out);
        free(v);
}

int vmic_new(const struct vmic_config *cfg, const struct vmic_ops *ops, void *userdata, struct vmic **ret)
{
        struct vmic *v = calloc(1, sizeof(*v));

        if (!v)
                return -ENOMEM;
        v->cfg = *cfg;
        v->ops = ops;
        v->userdata = userdata;
        v->fc.fd = -1;
        for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                v->port[s].fd = -1;
                v->port[s].in_max = s == IC_SVC_FCOPY ? IC_FCOPY_LINE_MAX : IC_LINE_MAX;
                v->port[s].in = malloc(v->port[s].in_max);
                if (!v->port[s].in) {
                        vmic_free(v);
                        return -ENOMEM;
                }
        }
        v->out = malloc(IC_LINE_MAX);
        v->fc.chunk = malloc(IC_FCOPY_CHUNK);
        if (!v->out || !v->fc.chunk) {
                vmic_free(v);
                return -ENOMEM;
        }
        *ret = v;
        return 0;
}
