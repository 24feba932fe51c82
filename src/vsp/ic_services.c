/* SPDX-License-Identifier: MIT */
/* The small services: heartbeat, shutdown and time synchronisation (vmms-ic(7)). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "vmms/macro.h"
#include "ic_internal.h"

/* --- heartbeat ----------------------------------------------------------------------- */

static void hb_set(struct vsp_ic *ic, enum vsp_ic_heartbeat state)
{
        struct vsp_ic_event *ev;

        if (ic->hb.state == state)
                return;
        ev = ic_event_new(ic, VSP_IC_EVENT_HEARTBEAT);
        ev->svc = IC_SVC_HEARTBEAT;
        ev->heartbeat = state;
        ev->heartbeat_old = ic->hb.state;
        ic->hb.state = state;
}

void ic_heartbeat_connect(struct vsp_ic *ic, bool connected)
{
        uint64_t now = ic_now(ic);

        if (!connected) {
                hb_set(ic, VSP_IC_HEARTBEAT_NO_CONTACT);
                return;
        }
        /* The hello is the first sign of life; the first ping goes out at once. */
        ic->hb.last_seen = now;
        ic->hb.next_ping = now;
        ic->hb.seq_acked = ic->hb.seq_sent;
        ic->hb.critical = false;
        hb_set(ic, VSP_IC_HEARTBEAT_OK);
}

void ic_heartbeat_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        const char *status = NULL;
        int64_t seq;

        if (!ic_msg_is(m, IC_MSG_PONG)) {
                ic_unknown_type(ic, p, m);
                return;
        }
        if (ic_msg_get_int(m, "seq", 1, INT64_MAX, &seq) < 0 || (uint64_t)seq <= ic->hb.seq_acked ||
            (uint64_t)seq > ic->hb.seq_sent) {
                ic_violation(ic, p, "pong for no outstanding ping");
                return;
        }
        (void)ic_msg_get_str(m, "status", 16, &status, NULL);
        ic->hb.seq_acked = (uint64_t)seq;
        ic->hb.last_seen = ic_now(ic);
        ic->hb.critical = status && strcmp(status, IC_HEARTBEAT_STATUS_CRITICAL) == 0;
        hb_set(ic, VSP_IC_HEARTBEAT_OK);
}

void ic_heartbeat_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next)
{
        struct ic_port *p = &ic->port[IC_SVC_HEARTBEAT];
        uint64_t lost_after = (uint64_t)IC_HEARTBEAT_LOST_INTERVALS * ic->hb.interval_ms;

        if (!p->connected)
                return;
        if (now >= ic->hb.next_ping) {
                /* One ping in flight toward the guest at most: a stopped guest piles up nothing. */
                if (p->out.len == 0) {
                        struct ic_writer w;

                        ic_begin(ic, &w, IC_MSG_PING);
                        ic_writer_int(&w, "seq", (int64_t)(ic->hb.seq_sent + 1));
                        if (ic_send(ic, p, &w) >= 0)
                                ic->hb.seq_sent++;
                }
                ic->hb.next_ping = now + ic->hb.interval_ms;
        }
        *next = MIN(*next, ic->hb.next_ping - now);
        if (now - ic->hb.last_seen > lost_after)
                hb_set(ic, VSP_IC_HEARTBEAT_LOST);
        else
                *next = MIN(*next, ic->hb.last_seen + lost_after + 1 - now);
}

/* --- shutdown ------------------------------------------------------------------------ */

static void shutdown_answer(struct vsp_ic *ic, unsigned error, const char *text)
{
        struct vsp_ic_event *ev = ic_event_new(ic, VSP_IC_EVENT_SHUTDOWN);

        ev->svc = IC_SVC_SHUTDOWN;
        ev->id = ic->shutdown.id;
        ev->error = error;
        if (error)
                ic_event_message(ev, "%s", text);
        ic->shutdown.id = 0;
}

void ic_shutdown_connect(struct vsp_ic *ic, bool connected)
{
        if (!connected && ic->shutdown.id)
                shutdown_answer(ic, IC_ERR_NOT_CONNECTED, "the guest closed the shutdown service");
}

void ic_shutdown_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        uint64_t id = ic_msg_id(m);
        unsigned code;
        const char *text;

        if (!ic_msg_is(m, IC_MSG_ACK) && !ic_msg_is(m, IC_MSG_ERROR)) {
                ic_unknown_type(ic, p, m);
                return;
        }
        if (!id || id != ic->shutdown.id) {
                if (ic_msg_is(m, IC_MSG_ACK))
                        ic_violation(ic, p, "ack for no shutdown request");
                return;
        }
        if (ic_msg_is(m, IC_MSG_ACK)) {
                shutdown_answer(ic, 0, NULL);
                return;
        }
        ic_msg_error(m, &code, &text);
        shutdown_answer(ic, code, text);
}

void ic_shutdown_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next)
{
        if (!ic->shutdown.id)
                return;
        if (now >= ic->shutdown.deadline)
                shutdown_answer(ic, IC_ERR_TIMEOUT, "the guest did not answer the shutdown request");
        else
                *next = MIN(*next, ic->shutdown.deadline - now);
}

static bool text_ok(const char *s, size_t max)
{
        size_t n = strlen(s);

        return n <= max && ic_utf8_valid(s, n);
}

int vsp_ic_shutdown(struct vsp_ic *ic, bool reboot, const char *reason, uint64_t *ret_id)
{
        struct ic_port *p = &ic->port[IC_SVC_SHUTDOWN];
        struct ic_writer w;
        uint64_t id;
        int r;

        if (!reason)
                reason = "";
        if (!text_ok(reason, IC_SHUTDOWN_REASON_MAX))
                return -E2BIG;
        pthread_mutex_lock(&ic->lock);
        if (!p->enabled)
                r = -EOPNOTSUPP;
        else if (!p->connected || p->degraded)
                r = -ENOTCONN;
        else if (ic->shutdown.id)
                r = -EBUSY;
        else {
                id = ic_new_id(ic);
                ic_begin(ic, &w, IC_MSG_SHUTDOWN);
                ic_writer_int(&w, "id", (int64_t)id);
                ic_writer_cstr(&w, "action", reboot ? IC_SHUTDOWN_REBOOT : IC_SHUTDOWN_POWEROFF);
                ic_writer_cstr(&w, "reason", reason);
                r = ic_send(ic, p, &w);
                if (r >= 0) {
                        ic->shutdown.id = id;
                        ic->shutdown.deadline = ic_now(ic) + IC_SHUTDOWN_ACK_TIMEOUT_MS;
                        if (ret_id)
                                *ret_id = id;
                }
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}

/* --- timesync ------------------------------------------------------------------------ */

int ic_timesync_send(struct vsp_ic *ic, const char *reason)
{
        struct ic_port *p = &ic->port[IC_SVC_TIMESYNC];
        struct ic_writer w;
        struct timespec ts;
        int r;

        if (!p->connected || p->degraded)
                return -ENOTCONN;
        clock_gettime(CLOCK_REALTIME, &ts);
        ic_begin(ic, &w, IC_MSG_TIME);
        ic_writer_int(&w, "seq", (int64_t)(ic->ts.seq + 1));
        ic_writer_int(&w, "sec", (int64_t)ts.tv_sec);
        ic_writer_int(&w, "nsec", ts.tv_nsec);
        ic_writer_cstr(&w, "reason", reason);
        r = ic_send(ic, p, &w);
        if (r < 0)
                return r;
        ic->ts.seq++;
        ic->ts.last_sent = ic_now(ic);
        return 0;
}

void ic_timesync_connect(struct vsp_ic *ic, bool connected)
{
        if (!connected)
                return;
        ic->ts.next_periodic = ic_now(ic) + IC_TIMESYNC_PERIOD_MS;
        (void)ic_timesync_send(ic, IC_TIMESYNC_START);
}

void ic_timesync_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        const char *action = NULL;
        int64_t seq, off;

        if (ic_msg_is(m, IC_MSG_REQUEST)) {
                /* At most one answer a second; more asking is not an error, just unanswered. */
                if (ic_now(ic) - ic->ts.last_sent >= 1000)
                        (void)ic_timesync_send(ic, IC_TIMESYNC_ON_REQUEST);
                return;
        }
        if (!ic_msg_is(m, IC_MSG_ACK)) {
                ic_unknown_type(ic, p, m);
                return;
        }
        if (ic_msg_get_int(m, "seq", 1, INT64_MAX, &seq) < 0 || (uint64_t)seq > ic->ts.seq) {
                ic_violation(ic, p, "time ack for no time message");
                return;
        }
        if (ic_msg_get_int(m, "offset_ms", -(INT64_C(1) << 50), INT64_C(1) << 50, &off) >= 0) {
                ic->ts.offset_ms = off;
                ic->ts.synced = true;
        }
        if (ic_msg_get_str(m, "action", sizeof(ic->ts.action) - 1, &action, NULL) >= 0 &&
            (strcmp(action, "step") == 0 || strcmp(action, "slew") == 0 || strcmp(action, "none") == 0))
                strcpy(ic->ts.action, action);
}

void ic_timesync_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next)
{
        if (!ic->port[IC_SVC_TIMESYNC].connected)
                return;
        if (now >= ic->ts.next_periodic) {
                (void)ic_timesync_send(ic, IC_TIMESYNC_PERIODIC);
                ic->ts.next_periodic = now + IC_TIMESYNC_PERIOD_MS;
        }
        *next = MIN(*next, ic->ts.next_periodic - now);
}

int vsp_ic_timesync(struct vsp_ic *ic, const char *reason)
{
        struct ic_port *p = &ic->port[IC_SVC_TIMESYNC];
        int r;

        if (!reason || !text_ok(reason, 32))
                return -EINVAL;
        pthread_mutex_lock(&ic->lock);
        r = p->enabled ? ic_timesync_send(ic, reason) : -EOPNOTSUPP;
        pthread_mutex_unlock(&ic->lock);
        return r;
}
