/* SPDX-License-Identifier: MIT */
/*
 * The IC engine's core: per-port sessions (line framing with a hard length limit, input
 * budgets, violations and the degraded state), the hello handshake, the event queue and
 * the transport side the virtio-console device drives. The services live in
 * ic_services.c (heartbeat, shutdown, timesync), ic_kvp.c and ic_fcopy.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "ic_internal.h"

/* The codec (src/abi/ic_msg.c) spells Linux's errno values itself, being freestanding. */
_Static_assert(IC_E2BIG == E2BIG && IC_ENOENT == ENOENT && IC_ERANGE == ERANGE && IC_EBADMSG == EBADMSG &&
               IC_ENOBUFS == ENOBUFS, "IC codec error codes");

static const char *const heartbeat_names[] = {
        [VSP_IC_HEARTBEAT_DISABLED] = "Disabled",
        [VSP_IC_HEARTBEAT_NO_CONTACT] = "No contact",
        [VSP_IC_HEARTBEAT_OK] = "OK",
        [VSP_IC_HEARTBEAT_LOST] = "Lost",
};

static const char *const state_names[] = {
        [VSP_IC_STATE_DISABLED] = "disabled",
        [VSP_IC_STATE_CLOSED] = "closed",
        [VSP_IC_STATE_OPEN] = "open",
        [VSP_IC_STATE_CONNECTED] = "connected",
        [VSP_IC_STATE_DEGRADED] = "degraded",
};

const char *vsp_ic_heartbeat_to_string(enum vsp_ic_heartbeat h)
{
        return (unsigned)h < ARRAY_SIZE(heartbeat_names) ? heartbeat_names[h] : "unknown";
}

const char *vsp_ic_state_to_string(enum vsp_ic_state s)
{
        return (unsigned)s < ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

const char *vsp_ic_error_to_string(unsigned code)
{
        return ic_error_name(code);
}

static uint64_t default_clock(void *opaque)
{
        return now_usec(CLOCK_MONOTONIC) / 1000;
}

uint64_t ic_now(struct vsp_ic *ic)
{
        return ic->now_ms(ic->clock_opaque);
}

uint64_t ic_new_id(struct vsp_ic *ic)
{
        return ++ic->next_id;
}

/* --- rings and budgets ------------------------------------------------------------- */

size_t ic_ring_free(const struct ic_ring *r)
{
        return r->cap - r->len;
}

static void ring_put(struct ic_ring *r, const char *data, size_t n)
{
        size_t tail = (r->head + r->len) % r->cap;
        size_t first = MIN(n, r->cap - tail);

        memcpy(r->buf + tail, data, first);
        memcpy(r->buf, data + first, n - first);
        r->len += n;
}

static size_t ring_take(struct ic_ring *r, char *out, size_t cap)
{
        size_t n = MIN(cap, r->len), first = MIN(n, r->cap - r->head);

        memcpy(out, r->buf + r->head, first);
        memcpy(out + first, r->buf, n - first);
        r->head = (r->head + n) % r->cap;
        r->len -= n;
        if (r->len == 0)
                r->head = 0;
        return n;
}

static void bucket_init(struct ic_bucket *b, uint32_t rate, uint32_t burst, uint64_t now)
{
        *b = (struct ic_bucket) { .tokens_milli = (uint64_t)burst * 1000, .last_ms = now,
                                  .rate = rate, .burst = burst };
}

/* Whole tokens available now. */
static uint64_t bucket_avail(struct ic_bucket *b, uint64_t now)
{
        if (now > b->last_ms) {
                /* rate tokens per second = rate milli-tokens per millisecond */
                uint64_t add = (now - b->last_ms) * b->rate;

                b->tokens_milli = MIN(b->tokens_milli + add, (uint64_t)b->burst * 1000);
                b->last_ms = now;
        }
        return b->tokens_milli / 1000;
}

static void bucket_take(struct ic_bucket *b, uint64_t n)
{
        b->tokens_milli -= MIN(b->tokens_milli, n * 1000);
}

/* --- events -------------------------------------------------------------------------- */

struct vsp_ic_event *ic_event_new(struct vsp_ic *ic, enum vsp_ic_event_type type)
{
        struct vsp_ic_event *ev;

        if (ic->ev_len == IC_EVENTS_MAX) {     /* nobody reads: the oldest goes */
                vsp_ic_event_done(&ic->events[ic->ev_head]);
                ic->ev_head = (ic->ev_head + 1) % IC_EVENTS_MAX;
                ic->ev_len--;
        }
        ev = &ic->events[(ic->ev_head + ic->ev_len++) % IC_EVENTS_MAX];
        *ev = (struct vsp_ic_event) { .type = type };
        (void)eventfd_write(ic->event_fd, 1);
        return ev;
}

void ic_event_message(struct vsp_ic_event *ev, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ev->message, sizeof(ev->message), fmt, ap);
        va_end(ap);
}

void vsp_ic_event_done(struct vsp_ic_event *ev)
{
        if (!ev)
                return;
        free(ev->value);
        ev->value = NULL;
}

int vsp_ic_event_fd(struct vsp_ic *ic)
{
        return ic->event_fd;
}

int vsp_ic_pop_event(struct vsp_ic *ic, struct vsp_ic_event *ret)
{
        int r = 0;

        pthread_mutex_lock(&ic->lock);
        if (ic->ev_len > 0) {
                *ret = ic->events[ic->ev_head];
                ic->events[ic->ev_head].value = NULL;
                ic->ev_head = (ic->ev_head + 1) % IC_EVENTS_MAX;
                ic->ev_len--;
                r = 1;
        }
        if (ic->ev_len == 0) {
                eventfd_t v;

                (void)eventfd_read(ic->event_fd, &v);
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}

/* --- port state ---------------------------------------------------------------------- */

static enum vsp_ic_state port_state(const struct ic_port *p)
{
        if (!p->enabled)
                return VSP_IC_STATE_DISABLED;
        if (p->degraded)
                return VSP_IC_STATE_DEGRADED;
        if (p->connected)
                return VSP_IC_STATE_CONNECTED;
        return p->open ? VSP_IC_STATE_OPEN : VSP_IC_STATE_CLOSED;
}

static void port_changed(struct vsp_ic *ic, struct ic_port *p, enum vsp_ic_state old)
{
        enum vsp_ic_state now = port_state(p);
        struct vsp_ic_event *ev;

        if (now == old)
                return;
        ev = ic_event_new(ic, VSP_IC_EVENT_SERVICE);
        ev->svc = p->svc;
        ev->state = now;
        ev->state_old = old;
        if (now == VSP_IC_STATE_DEGRADED)
                ic_event_message(ev, "%s", p->st.last_violation);
}

static void service_connect(struct vsp_ic *ic, struct ic_port *p, bool connected)
{
        p->connected = connected;
        switch (p->svc) {
        case IC_SVC_HEARTBEAT: ic_heartbeat_connect(ic, connected); break;
        case IC_SVC_SHUTDOWN: ic_shutdown_connect(ic, connected); break;
        case IC_SVC_TIMESYNC: ic_timesync_connect(ic, connected); break;
        case IC_SVC_KVP: ic_kvp_connect(ic, connected); break;
        case IC_SVC_FCOPY: ic_fcopy_connect(ic, connected); break;
        default: break;
        }
}

void ic_violation(struct vsp_ic *ic, struct ic_port *p, const char *why)
{
        uint64_t now = ic_now(ic);
        enum vsp_ic_state old = port_state(p);

        p->st.violations++;
        snprintf(p->st.last_violation, sizeof(p->st.last_violation), "%s", why);
        if (now - p->window_start > IC_DEGRADED_WINDOW_MS) {
                p->window_start = now;
                p->window_violations = 0;
        }
        if (++p->window_violations < IC_DEGRADED_VIOLATIONS || p->degraded)
                return;
        p->degraded = true;
        p->degraded_until = now + IC_DEGRADED_HOLD_MS;
        p->line_len = 0;
        p->discarding = true;           /* drop up to the next newline */
        log_debug("ic %s: degraded after %u protocol violations (last: %s)",
                  ic_service_name(p->svc), p->window_violations, why);
        port_changed(ic, p, old);
}

/* --- output -------------------------------------------------------------------------- */

void ic_begin(struct vsp_ic *ic, struct ic_writer *w, const char *type)
{
        ic_writer_begin(w, ic->scratch, IC_FCOPY_LINE_MAX, type);
}

int ic_send(struct vsp_ic *ic, struct ic_port *p, struct ic_writer *w)
{
        int n = ic_writer_end(w);

        if (n < 0)
                return n;
        if (!p->open || ic_ring_free(&p->out) < (size_t)n) {
                p->st.dropped++;
                return -ENOBUFS;
        }
        ring_put(&p->out, w->buf, (size_t)n);
        p->st.lines_out++;
        if (ic->wake)
                ic->wake(ic->wake_opaque);
        return 0;
}

void ic_reply_error(struct vsp_ic *ic, struct ic_port *p, uint64_t id, unsigned code, const char *fmt, ...)
{
        uint64_t now = ic_now(ic);
        struct ic_writer w;
        char text[200];
        va_list ap;

        if (now - p->err_window_start >= 1000) {
                p->err_window_start = now;
                p->err_replies = 0;
        }
        if (p->err_replies++ >= IC_ERROR_REPLIES_PER_SEC)
                return;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        ic_begin(ic, &w, IC_MSG_ERROR);
        if (id)
                ic_writer_int(&w, "id", (int64_t)id);
        ic_writer_int(&w, "error", code);
        /* Our own text is ASCII, but it may quote a guest's bytes: cut at a clean end. */
        ic_writer_str(&w, "message", text, ic_utf8_valid(text, strlen(text)) ? strlen(text) : 0);
        (void)ic_send(ic, p, &w);
}

void ic_unknown_type(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        if (ic_msg_is(m, IC_MSG_ERROR))
                return;         /* an error about something we no longer wait for */
        ic_violation(ic, p, "unknown or unexpected message type");
        ic_reply_error(ic, p, ic_msg_id(m), IC_ERR_UNKNOWN_TYPE, "unknown message type on %s",
                       ic_service_port(p->svc));
}

void ic_msg_error(const struct ic_msg *m, unsigned *ret_code, const char **ret_text)
{
        int64_t code = IC_ERR_BAD_MESSAGE;
        const char *text = NULL;

        (void)ic_msg_get_int(m, "error", 1, UINT32_MAX, &code);
        if (ic_msg_get_str(m, "message", 240, &text, NULL) < 0)
                text = ic_error_name((unsigned)code);
        *ret_code = (unsigned)code;
        *ret_text = text;
}

uint64_t ic_msg_id(const struct ic_msg *m)
{
        int64_t id = 0;

        if (ic_msg_get_int(m, "id", 1, INT64_MAX, &id) < 0)
                return 0;
        return (uint64_t)id;
}

/* --- input --------------------------------------------------------------------------- */

static void handle_hello(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        enum vsp_ic_state old = port_state(p);
        const char *agent = "";
        size_t agent_len = 0;
        struct ic_writer w;
        int64_t v;
        int r;

        if (ic_msg_get_int(m, "version", 1, UINT32_MAX, &v) < 0) {
                ic_violation(ic, p, "hello without a valid version");
                ic_reply_error(ic, p, 0, IC_ERR_BAD_MESSAGE, "hello needs \"version\", a positive integer");
                return;
        }
        r = ic_msg_get_str(m, "agent", IC_AGENT_MAX, &agent, &agent_len);
        if (r == -E2BIG || r == -EBADMSG) {
                ic_violation(ic, p, "hello with a bad agent");
                ic_reply_error(ic, p, 0, r == -E2BIG ? IC_ERR_TOO_LARGE : IC_ERR_BAD_MESSAGE,
                               "\"agent\" must be a string of at most %u bytes", IC_AGENT_MAX);
                return;
        }
        if ((uint64_t)v < IC_PROTOCOL_VERSION_MIN) {
                ic_reply_error(ic, p, 0, IC_ERR_VERSION, "version %lld is not supported (%u to %u)",
                               (long long)v, IC_PROTOCOL_VERSION_MIN, IC_PROTOCOL_VERSION);
                return;
        }
        if (p->connected)               /* the guest's agent restarted: a new session */
                service_connect(ic, p, false);
        p->version = (unsigned)MIN((uint64_t)v, IC_PROTOCOL_VERSION);
        memcpy(p->agent, agent, agent_len);
        p->agent[agent_len] = 0;
        ic_begin(ic, &w, IC_MSG_HELLO);
        ic_writer_int(&w, "version", p->version);
        ic_writer_cstr(&w, "service", ic_service_name(p->svc));
        switch (p->svc) {
        case IC_SVC_HEARTBEAT:
                ic_writer_int(&w, "interval_ms", ic->hb.interval_ms);
                break;
        case IC_SVC_KVP:
                ic_writer_int(&w, "key_max", IC_KVP_KEY_MAX);
                ic_writer_int(&w, "value_max", IC_KVP_VALUE_MAX);
                ic_writer_int(&w, "pool_max", IC_KVP_POOL_MAX);
                break;
        case IC_SVC_FCOPY:
                ic_writer_int(&w, "chunk", IC_FCOPY_CHUNK);
                ic_writer_int(&w, "window", IC_FCOPY_WINDOW);
                break;
        default:
                break;
        }
        (void)ic_send(ic, p, &w);
        service_connect(ic, p, true);
        port_changed(ic, p, old);
}

static void handle_line(struct vsp_ic *ic, struct ic_port *p)
{
        struct ic_msg m;
        size_t len = p->line_len;
        int r;

        p->st.lines_in++;
        if (len > 0 && p->line[len - 1] == '\r')
                len--;
        r = ic_msg_parse(p->line, len, &m);
        if (r < 0) {
                ic_violation(ic, p, r == -E2BIG ? "too many or too long members" : "not a flat JSON object with a type");
                ic_reply_error(ic, p, 0, IC_ERR_BAD_MESSAGE, "not a flat JSON object with a \"type\"");
                return;
        }
        if (ic_msg_is(&m, IC_MSG_HELLO)) {
                handle_hello(ic, p, &m);
                return;
        }
        if (!p->connected) {
                ic_violation(ic, p, "message before hello");
                if (!ic_msg_is(&m, IC_MSG_ERROR))
                        ic_reply_error(ic, p, ic_msg_id(&m), IC_ERR_BAD_MESSAGE, "send \"hello\" first");
                return;
        }
        switch (p->svc) {
        case IC_SVC_HEARTBEAT: ic_heartbeat_message(ic, p, &m); break;
        case IC_SVC_SHUTDOWN: ic_shutdown_message(ic, p, &m); break;
        case IC_SVC_TIMESYNC: ic_timesync_message(ic, p, &m); break;
        case IC_SVC_KVP: ic_kvp_message(ic, p, &m); break;
        case IC_SVC_FCOPY: ic_fcopy_message(ic, p, &m); break;
        default: break;
        }
}

static struct ic_port *port_get(struct vsp_ic *ic, enum ic_service s)
{
        return (unsigned)s < IC_SVC_COUNT ? &ic->port[s] : NULL;
}

size_t vsp_ic_port_input(struct vsp_ic *ic, enum ic_service s, const void *buf, size_t len)
{
        struct ic_port *p = port_get(ic, s);
        const char *in = buf;
        size_t done = 0;
        uint64_t now;

        if (!p)
                return len;
        pthread_mutex_lock(&ic->lock);
        if (!p->enabled || !p->open) {
                pthread_mutex_unlock(&ic->lock);
                return len;             /* nobody listens: drop */
        }
        now = ic_now(ic);
        while (done < len) {
                uint64_t budget = bucket_avail(&p->bytes, now);
                size_t n = MIN(len - done, (size_t)MIN(budget, (uint64_t)SIZE_MAX));
                const char *nl;
                size_t seg;

                if (n == 0)
                        goto throttled;
                nl = memchr(in + done, '\n', n);
                seg = nl ? (size_t)(nl - (in + done)) : n;
                /* The bytes before the newline (or all n) join the current line. */
                if (!p->discarding && !p->degraded) {
                        if (p->line_len + seg > p->line_max - 1) {      /* room for "\n" */
                                p->discarding = true;
                                p->line_len = 0;
                                ic_violation(ic, p, "line too long");
                                ic_reply_error(ic, p, 0, IC_ERR_TOO_LARGE, "line longer than %zu bytes", p->line_max);
                        } else {
                                memcpy(p->line + p->line_len, in + done, seg);
                                p->line_len += seg;
                        }
                }
                bucket_take(&p->bytes, seg);
                p->st.bytes_in += seg;
                done += seg;
                if (!nl)
                        continue;
                /* A complete line costs a line token; without one, keep it for later. */
                if (!p->discarding && !p->degraded) {
                        if (bucket_avail(&p->lines, now) == 0)
                                goto throttled;
                        bucket_take(&p->lines, 1);
                        handle_line(ic, p);
                }
                p->line_len = 0;
                p->discarding = false;
                bucket_take(&p->bytes, 1);
                p->st.bytes_in++;
                done++;
        }
        p->throttled = false;
        pthread_mutex_unlock(&ic->lock);
        return done;
throttled:
        if (!p->throttled)
                p->st.throttled++;
        p->throttled = true;
        pthread_mutex_unlock(&ic->lock);
        return done;
}

static void pump(struct vsp_ic *ic, struct ic_port *p)
{
        if (!p->connected || p->degraded)
                return;
        if (p->svc == IC_SVC_KVP)
                ic_kvp_pump(ic);
        else if (p->svc == IC_SVC_FCOPY)
                ic_fcopy_pump(ic);
}

size_t vsp_ic_port_output(struct vsp_ic *ic, enum ic_service s, void *buf, size_t cap)
{
        struct ic_port *p = port_get(ic, s);
        size_t n = 0;

        if (!p)
                return 0;
        pthread_mutex_lock(&ic->lock);
        if (p->enabled && p->open) {
                pump(ic, p);
                n = ring_take(&p->out, buf, cap);
                p->st.bytes_out += n;
        }
        pthread_mutex_unlock(&ic->lock);
        return n;
}

bool vsp_ic_port_has_output(struct vsp_ic *ic, enum ic_service s)
{
        struct ic_port *p = port_get(ic, s);
        bool r = false;

        if (!p)
                return false;
        pthread_mutex_lock(&ic->lock);
        if (p->enabled && p->open) {
                pump(ic, p);
                r = p->out.len > 0;
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}

void vsp_ic_port_open(struct vsp_ic *ic, enum ic_service s, bool open)
{
        struct ic_port *p = port_get(ic, s);
        enum vsp_ic_state old;

        if (!p)
                return;
        pthread_mutex_lock(&ic->lock);
        old = port_state(p);
        if (p->enabled && p->open != open) {
                if (p->connected)
                        service_connect(ic, p, false);
                p->open = open;
                p->line_len = 0;
                p->discarding = false;
                p->out.head = p->out.len = 0;
                p->throttled = false;
                port_changed(ic, p, old);
        }
        pthread_mutex_unlock(&ic->lock);
}

uint64_t vsp_ic_tick(struct vsp_ic *ic)
{
        uint64_t now, next = UINT64_MAX;

        pthread_mutex_lock(&ic->lock);
        now = ic_now(ic);
        for (unsigned i = 0; i < IC_SVC_COUNT; i++) {
                struct ic_port *p = &ic->port[i];

                if (p->degraded) {
                        if (now >= p->degraded_until) {
                                enum vsp_ic_state old = port_state(p);

                                p->degraded = false;
                                p->window_violations = 0;
                                p->window_start = now;
                                port_changed(ic, p, old);
                        } else {
                                next = MIN(next, p->degraded_until - now);
                        }
                }
                if (p->throttled)
                        next = MIN(next, (uint64_t)IC_THROTTLE_RETRY_MS);
        }
        ic_heartbeat_tick(ic, now, &next);
        ic_shutdown_tick(ic, now, &next);
        ic_timesync_tick(ic, now, &next);
        ic_kvp_tick(ic, now, &next);
        ic_fcopy_tick(ic, now, &next);
        pthread_mutex_unlock(&ic->lock);
        return next;
}

void vsp_ic_set_wakeup(struct vsp_ic *ic, void (*wake)(void *opaque), void *opaque)
{
        pthread_mutex_lock(&ic->lock);
        ic->wake = wake;
        ic->wake_opaque = opaque;
        pthread_mutex_unlock(&ic->lock);
}

void vsp_ic_set_clock(struct vsp_ic *ic, uint64_t (*now_ms)(void *opaque), void *opaque)
{
        uint64_t now;

        pthread_mutex_lock(&ic->lock);
        ic->now_ms = now_ms ? now_ms : default_clock;
        ic->clock_opaque = opaque;
        now = ic_now(ic);
        for (unsigned i = 0; i < IC_SVC_COUNT; i++) {
                bucket_init(&ic->port[i].lines, IC_RATE_LINES_PER_SEC, IC_RATE_LINES_BURST, now);
                bucket_init(&ic->port[i].bytes, IC_RATE_BYTES_PER_SEC, IC_RATE_BYTES_BURST, now);
                ic->port[i].window_start = ic->port[i].err_window_start = now;
        }
        pthread_mutex_unlock(&ic->lock);
}

/* --- status -------------------------------------------------------------------------- */

bool vsp_ic_enabled(struct vsp_ic *ic, enum ic_service s)
{
        return (unsigned)s < IC_SVC_COUNT && ic->port[s].enabled;      /* fixed at creation */
}

bool vsp_ic_connected(struct vsp_ic *ic, enum ic_service s)
{
        bool r;

        if ((unsigned)s >= IC_SVC_COUNT)
                return false;
        pthread_mutex_lock(&ic->lock);
        r = ic->port[s].connected && !ic->port[s].degraded;
        pthread_mutex_unlock(&ic->lock);
        return r;
}

void vsp_ic_get_status(struct vsp_ic *ic, struct vsp_ic_status *ret)
{
        struct vsp_ic_status s = { 0 };
        uint64_t now;

        pthread_mutex_lock(&ic->lock);
        now = ic_now(ic);
        for (unsigned i = 0; i < IC_SVC_COUNT; i++) {
                const struct ic_port *p = &ic->port[i];

                s.svc[i] = p->st;
                s.svc[i].state = port_state(p);
                s.svc[i].version = p->connected ? p->version : 0;
                snprintf(s.svc[i].agent, sizeof(s.svc[i].agent), "%s", p->connected ? p->agent : "");
        }
        s.heartbeat = ic->hb.state;
        s.heartbeat_critical = ic->hb.critical;
        s.heartbeat_age_ms = ic->hb.last_seen ? now - ic->hb.last_seen : UINT64_MAX;
        s.time_synced = ic->ts.synced;
        s.time_offset_ms = ic->ts.offset_ms;
        snprintf(s.time_action, sizeof(s.time_action), "%s", ic->ts.action);
        s.kvp_host_keys = ic->kvp.host.n;
        s.kvp_guest_keys = ic->kvp.guest.n;
        s.fcopy_active = ic->fc.phase != IC_FCOPY_IDLE;
        s.fcopy_id = ic->fc.id;
        s.fcopy_sent = ic->fc.sent;
        s.fcopy_size = ic->fc.size;
        pthread_mutex_unlock(&ic->lock);
        *ret = s;
}

/* --- lifetime ------------------------------------------------------------------------ */

void vsp_ic_free(struct vsp_ic *ic)
{
        if (!ic)
                return;
        ic_fcopy_done(ic);
        ic_kvp_done(ic);
        for (unsigned i = 0; i < IC_SVC_COUNT; i++) {
                free(ic->port[i].line);
                free(ic->port[i].out.buf);
        }
        while (ic->ev_len > 0) {
                vsp_ic_event_done(&ic->events[ic->ev_head]);
                ic->ev_head = (ic->ev_head + 1) % IC_EVENTS_MAX;
                ic->ev_len--;
        }
        free(ic->scratch);
        safe_close(ic->event_fd);
        pthread_mutex_destroy(&ic->lock);
        free(ic);
}

DEFINE_TRIVIAL_CLEANUP(struct vsp_ic, vsp_ic_free)

int vsp_ic_new(const struct vsp_ic_config *cfg, struct vsp_ic **ret)
{
        _cleanup_(vsp_ic_freep) struct vsp_ic *ic = NULL;
        static const size_t ring_size[IC_SVC_COUNT] = {
                [IC_SVC_HEARTBEAT] = 4096,
                [IC_SVC_SHUTDOWN] = 4096,
                [IC_SVC_TIMESYNC] = 4096,
                [IC_SVC_KVP] = 2 * IC_LINE_MAX,
                [IC_SVC_FCOPY] = 2 * IC_FCOPY_LINE_MAX,
        };

        ic = calloc(1, sizeof(*ic));
        if (!ic)
                return -ENOMEM;
        pthread_mutex_init(&ic->lock, NULL);
        ic->event_fd = -1;
        ic->fc.fd = -1;
        ic->now_ms = default_clock;
        ic->hb.interval_ms = cfg->heartbeat_interval_ms ? cfg->heartbeat_interval_ms : IC_HEARTBEAT_INTERVAL_MS;
        ic->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (ic->event_fd < 0)
                return -errno;
        ic->scratch = malloc(IC_FCOPY_LINE_MAX);
        ic->fc.chunk = malloc(IC_FCOPY_CHUNK);
        if (!ic->scratch || !ic->fc.chunk)
                return -ENOMEM;
        for (unsigned i = 0; i < IC_SVC_COUNT; i++) {
                struct ic_port *p = &ic->port[i];

                p->svc = (enum ic_service)i;
                p->enabled = cfg->enabled[i];
                if (!p->enabled)
                        continue;
                p->line_max = i == IC_SVC_FCOPY ? IC_FCOPY_LINE_MAX : IC_LINE_MAX;
                p->line = malloc(p->line_max);
                p->out.cap = ring_size[i];
                p->out.buf = malloc(p->out.cap);
                if (!p->line || !p->out.buf)
                        return -ENOMEM;
        }
        ic->hb.state = cfg->enabled[IC_SVC_HEARTBEAT] ? VSP_IC_HEARTBEAT_NO_CONTACT : VSP_IC_HEARTBEAT_DISABLED;
        vsp_ic_set_clock(ic, NULL, NULL);
        *ret = TAKE_PTR(ic);
        return 0;
}
