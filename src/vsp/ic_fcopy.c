/* SPDX-License-Identifier: MIT */
/*
 * File copy into the guest (vmms-ic(7)): start, numbered base64 chunks with a CRC-32 each
 * and at most IC_FCOPY_WINDOW unacknowledged, end with the whole file's CRC-32, and the
 * guest's "done" with its own count. The file is read from the fd vmms passed, in the
 * device's I/O thread, only when the port has room for another chunk.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/macro.h"
#include "ic_internal.h"

#define IC_FCOPY_STAT_TIMEOUT_MS 5000u

void ic_fcopy_finish(struct vsp_ic *ic, unsigned error, bool tell_guest, const char *fmt, ...)
{
        struct ic_port *p = &ic->port[IC_SVC_FCOPY];
        struct vsp_ic_event *ev;
        va_list ap;

        if (ic->fc.phase == IC_FCOPY_IDLE)
                return;
        ev = ic_event_new(ic, VSP_IC_EVENT_FCOPY);
        ev->svc = IC_SVC_FCOPY;
        ev->id = ic->fc.id;
        ev->error = error;
        ev->size = error ? ic->fc.sent : ic->fc.size;
        ev->crc32 = ic->fc.crc;
        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(ev->message, sizeof(ev->message), fmt, ap);
                va_end(ap);
        }
        if (tell_guest && p->connected) {
                struct ic_writer w;

                ic_begin(ic, &w, IC_MSG_CANCEL);
                ic_writer_int(&w, "id", (int64_t)ic->fc.id);
                (void)ic_send(ic, p, &w);
        }
        ic->fc.fd = safe_close(ic->fc.fd);
        ic->fc.phase = IC_FCOPY_IDLE;
}

static void stat_answer(struct vsp_ic *ic, unsigned error, const char *text, uint64_t size, uint32_t crc)
{
        struct vsp_ic_event *ev = ic_event_new(ic, VSP_IC_EVENT_FCOPY_STAT);

        ev->svc = IC_SVC_FCOPY;
        ev->id = ic->fc.stat.id;
        ev->error = error;
        ev->size = size;
        ev->crc32 = crc;
        if (error)
                ic_event_message(ev, "%s", text);
        ic->fc.stat.id = 0;
}

void ic_fcopy_connect(struct vsp_ic *ic, bool connected)
{
        if (connected)
                return;
        ic_fcopy_finish(ic, IC_ERR_NOT_CONNECTED, false, "the guest closed the file copy service");
        if (ic->fc.stat.id)
                stat_answer(ic, IC_ERR_NOT_CONNECTED, "the guest closed the file copy service", 0, 0);
}

static int read_chunk(int fd, uint8_t *buf, size_t len, uint64_t off)
{
        size_t done = 0;

        while (done < len) {
                ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;    /* the file shrank under us */
                done += (size_t)n;
        }
        return 0;
}

void ic_fcopy_pump(struct vsp_ic *ic)
{
        struct ic_port *p = &ic->port[IC_SVC_FCOPY];
        struct ic_writer w;

        if (ic->fc.phase != IC_FCOPY_SENDING)
                return;
        while (ic->fc.sent < ic->fc.size && ic->fc.seq_next - ic->fc.seq_acked < IC_FCOPY_WINDOW &&
               ic_ring_free(&p->out) >= IC_FCOPY_LINE_MAX) {
                size_t n = (size_t)MIN((uint64_t)IC_FCOPY_CHUNK, ic->fc.size - ic->fc.sent);
                int r = read_chunk(ic->fc.fd, ic->fc.chunk, n, ic->fc.sent);

                if (r < 0) {
                        ic_fcopy_finish(ic, IC_ERR_IO, true, "cannot read the host file at offset %llu: %s",
                                        (unsigned long long)ic->fc.sent, strerror(-r));
                        return;
                }
                ic_begin(ic, &w, IC_MSG_DATA);
                ic_writer_int(&w, "id", (int64_t)ic->fc.id);
                ic_writer_int(&w, "seq", (int64_t)ic->fc.seq_next);
                ic_writer_int(&w, "offset", (int64_t)ic->fc.sent);
                ic_writer_int(&w, "size", (int64_t)n);
                ic_writer_int(&w, "crc32", ic_crc32(0, ic->fc.chunk, n));
                ic_writer_base64(&w, "data", ic->fc.chunk, n);
                if (ic_send(ic, p, &w) < 0)
                        return;
                ic->fc.crc = ic_crc32(ic->fc.crc, ic->fc.chunk, n);
                ic->fc.sent += n;
                ic->fc.seq_next++;
        }
        if (ic->fc.sent == ic->fc.size && ic_ring_free(&p->out) >= 256) {
                ic_begin(ic, &w, IC_MSG_END);
                ic_writer_int(&w, "id", (int64_t)ic->fc.id);
                ic_writer_int(&w, "size", (int64_t)ic->fc.size);
                ic_writer_int(&w, "crc32", ic->fc.crc);
                if (ic_send(ic, p, &w) >= 0)
                        ic->fc.phase = IC_FCOPY_ENDING;
        }
}

static void fcopy_ack(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        int64_t seq;
        int r = ic_msg_get_int(m, "seq", 0, INT64_MAX, &seq);

        if (ic->fc.phase == IC_FCOPY_STARTING && r == -ENOENT) {
                ic->fc.phase = IC_FCOPY_SENDING;
                ic->fc.last_progress = ic_now(ic);
                return;
        }
        if (r < 0 || (ic->fc.phase != IC_FCOPY_SENDING && ic->fc.phase != IC_FCOPY_ENDING) ||
            (uint64_t)seq < ic->fc.seq_acked || (uint64_t)seq >= ic->fc.seq_next) {
                ic_violation(ic, p, "fcopy ack out of sequence");
                return;
        }
        ic->fc.seq_acked = (uint64_t)seq + 1;  /* acks are cumulative */
        ic->fc.last_progress = ic_now(ic);
}

static void fcopy_done(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        int64_t size, crc;

        if (ic->fc.phase != IC_FCOPY_ENDING) {
                ic_violation(ic, p, "fcopy done before the end");
                return;
        }
        if (ic_msg_get_int(m, "size", 0, INT64_MAX, &size) < 0 ||
            ic_msg_get_int(m, "crc32", 0, UINT32_MAX, &crc) < 0) {
                ic_fcopy_finish(ic, IC_ERR_BAD_MESSAGE, true, "the guest's done message lacks size or crc32");
                return;
        }
        if ((uint64_t)size != ic->fc.size || (uint32_t)crc != ic->fc.crc) {
                ic_fcopy_finish(ic, IC_ERR_CHECKSUM, true,
                                "the guest wrote %lld bytes with CRC-32 %08x, the host sent %llu with %08x",
                                (long long)size, (unsigned)crc, (unsigned long long)ic->fc.size, ic->fc.crc);
                return;
        }
        ic_fcopy_finish(ic, 0, false, NULL);
}

void ic_fcopy_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        uint64_t id = ic_msg_id(m);
        bool running = ic->fc.phase != IC_FCOPY_IDLE && id == ic->fc.id;

        if (ic_msg_is(m, IC_MSG_STAT)) {
                int64_t size, crc;

                if (!id || id != ic->fc.stat.id) {
                        ic_violation(ic, p, "fcopy stat answer for no request");
                        return;
                }
                if (ic_msg_get_int(m, "size", 0, INT64_MAX, &size) < 0 ||
                    ic_msg_get_int(m, "crc32", 0, UINT32_MAX, &crc) < 0) {
                        ic_violation(ic, p, "fcopy stat answer without size or crc32");
                        stat_answer(ic, IC_ERR_BAD_MESSAGE, "the guest's answer lacks size or crc32", 0, 0);
                        return;
                }
                stat_answer(ic, 0, NULL, (uint64_t)size, (uint32_t)crc);
        } else if (ic_msg_is(m, IC_MSG_ERROR)) {
                unsigned code;
                const char *text;

                ic_msg_error(m, &code, &text);
                if (running)
                        ic_fcopy_finish(ic, code, false, "%s", text);
                else if (id && id == ic->fc.stat.id)
                        stat_answer(ic, code, text, 0, 0);
        } else if (ic_msg_is(m, IC_MSG_ACK)) {
                if (running)
                        fcopy_ack(ic, p, m);
                else if (!id || id != ic->fc.id)  /* late acks of a cancelled copy are fine */
                        ic_violation(ic, p, "fcopy ack for no transfer");
        } else if (ic_msg_is(m, IC_MSG_DONE)) {
                if (running)
                        fcopy_done(ic, p, m);
                else if (!id || id != ic->fc.id)
                        ic_violation(ic, p, "fcopy done for no transfer");
        } else {
                ic_unknown_type(ic, p, m);
        }
}

void ic_fcopy_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next)
{
        if (ic->fc.phase != IC_FCOPY_IDLE) {
                uint64_t deadline = ic->fc.last_progress + IC_FCOPY_TIMEOUT_MS;

                if (now >= deadline)
                        ic_fcopy_finish(ic, IC_ERR_TIMEOUT, true, "no progress from the guest for %u s",
                                        IC_FCOPY_TIMEOUT_MS / 1000);
                else
                        *next = MIN(*next, deadline - now);
        }
        if (ic->fc.stat.id) {
                if (now >= ic->fc.stat.deadline)
                        stat_answer(ic, IC_ERR_TIMEOUT, "the guest did not answer", 0, 0);
                else
                        *next = MIN(*next, ic->fc.stat.deadline - now);
        }
}

void ic_fcopy_done(struct vsp_ic *ic)
{
        ic->fc.fd = safe_close(ic->fc.fd);
        ic->fc.phase = IC_FCOPY_IDLE;
        free(ic->fc.chunk);
        ic->fc.chunk = NULL;
}

static int check_path(const char *path)
{
        size_t n = path ? strlen(path) : 0;

        if (n == 0 || path[0] != '/' || !ic_utf8_valid(path, n))
                return -EINVAL;
        return n > IC_FCOPY_PATH_MAX ? -E2BIG : 0;
}

int vsp_ic_fcopy_start(struct vsp_ic *ic, int fd, const char *guest_path, unsigned mode,
                       bool overwrite, bool mkdirs, uint64_t *ret_id)
{
        _cleanup_close_ int owned = fd;
        struct ic_port *p = &ic->port[IC_SVC_FCOPY];
        struct ic_writer w;
        struct stat st;
        uint64_t id;
        int r;

        r = check_path(guest_path);
        if (r < 0)
                return r;
        if (mode > 07777)
                return -EINVAL;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (!p->enabled)
                return -EOPNOTSUPP;
        pthread_mutex_lock(&ic->lock);
        if (!p->connected || p->degraded)
                r = -ENOTCONN;
        else if (ic->fc.phase != IC_FCOPY_IDLE)
                r = -EBUSY;
        else {
                id = ic_new_id(ic);
                ic_begin(ic, &w, IC_MSG_START);
                ic_writer_int(&w, "id", (int64_t)id);
                ic_writer_cstr(&w, "path", guest_path);
                ic_writer_int(&w, "size", (int64_t)st.st_size);
                ic_writer_int(&w, "mode", mode);
                ic_writer_bool(&w, "overwrite", overwrite);
                ic_writer_bool(&w, "mkdirs", mkdirs);
                r = ic_send(ic, p, &w);
                if (r >= 0) {
                        ic->fc.phase = IC_FCOPY_STARTING;
                        ic->fc.id = id;
                        ic->fc.fd = TAKE_FD(owned);
                        snprintf(ic->fc.path, sizeof(ic->fc.path), "%s", guest_path);
                        ic->fc.mode = mode;
                        ic->fc.overwrite = overwrite;
                        ic->fc.mkdirs = mkdirs;
                        ic->fc.size = (uint64_t)st.st_size;
                        ic->fc.sent = ic->fc.seq_next = ic->fc.seq_acked = 0;
                        ic->fc.crc = 0;
                        ic->fc.last_progress = ic_now(ic);
                        if (ret_id)
                                *ret_id = id;
                }
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}

int vsp_ic_fcopy_cancel(struct vsp_ic *ic, uint64_t id)
{
        int r = -ENOENT;

        pthread_mutex_lock(&ic->lock);
        if (ic->fc.phase != IC_FCOPY_IDLE && ic->fc.id == id) {
                ic_fcopy_finish(ic, IC_ERR_CANCELLED, true, "cancelled on the host");
                r = 0;
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}

int vsp_ic_fcopy_stat(struct vsp_ic *ic, const char *guest_path, uint64_t *ret_id)
{
        struct ic_port *p = &ic->port[IC_SVC_FCOPY];
        struct ic_writer w;
        int r = check_path(guest_path);

        if (r < 0)
                return r;
        if (!p->enabled)
                return -EOPNOTSUPP;
        pthread_mutex_lock(&ic->lock);
        if (!p->connected || p->degraded)
                r = -ENOTCONN;
        else if (ic->fc.stat.id)
                r = -EBUSY;
        else {
                uint64_t id = ic_new_id(ic);

                ic_begin(ic, &w, IC_MSG_STAT);
                ic_writer_int(&w, "id", (int64_t)id);
                ic_writer_cstr(&w, "path", guest_path);
                r = ic_send(ic, p, &w);
                if (r >= 0) {
                        ic->fc.stat.id = id;
                        ic->fc.stat.deadline = ic_now(ic) + IC_FCOPY_STAT_TIMEOUT_MS;
                        if (ret_id)
                                *ret_id = id;
                }
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}
