/* SPDX-License-Identifier: MIT */
/*
 * The integration services in the guest kernel: line framing on each port, the hello, and
 * the heartbeat, shutdown, timesync and kvp services (fcopy: ic_fcopy.c).
 */
#include <abi/report.h>

#include "kernel/ic.h"
#include "kernel/kernel.h"
#include "kernel/report.h"

#define AGENT "vmguest " GUEST_VERSION

static const char *const port_names[IC_SVC_COUNT] = {
        IC_PORT_HEARTBEAT, IC_PORT_SHUTDOWN, IC_PORT_TIMESYNC, IC_PORT_KVP, IC_PORT_FCOPY,
};

static int svc_of_port(struct guest_ic *ic, unsigned id)
{
        for (unsigned s = 0; s < IC_SVC_COUNT; s++)
                if (ic->port[s].id == (int)id)
                        return (int)s;
        return -ENOENT;
}

int guest_ic_write_raw(struct guest_ic *ic, enum ic_service s, const void *data, size_t len, uint64_t deadline_ns)
{
        if (ic->port[s].id < 0)
                return -ENOENT;
        return guest_con_write(ic->con, (unsigned)ic->port[s].id, data, len, deadline_ns);
}

int guest_ic_send(struct guest_ic *ic, enum ic_service s, struct ic_writer *w)
{
        int n = guest_ic_end(w);

        if (n < 0)
                return n;
        return guest_ic_write_raw(ic, s, w->buf, (size_t)n, guest_time_ns() + GUEST_IC_WRITE_NS);
}

void guest_ic_reply_error(struct guest_ic *ic, enum ic_service s, uint64_t id, unsigned code, const char *msg)
{
        struct ic_writer w;

        guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_ERROR);
        if (id)
                guest_ic_add_int(&w, "id", (int64_t)id);
        guest_ic_add_int(&w, "error", code);
        guest_ic_add_cstr(&w, "message", msg);
        (void)guest_ic_send(ic, s, &w);
}

static void ack(struct guest_ic *ic, enum ic_service s, uint64_t id)
{
        struct ic_writer w;

        guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_ACK);
        guest_ic_add_int(&w, "id", (int64_t)id);
        (void)guest_ic_send(ic, s, &w);
}

static uint64_t msg_id(const struct ic_msg *m)
{
        int64_t id = 0;

        return guest_ic_int(m, "id", 1, INT64_MAX, &id) ? (uint64_t)id : 0;
}

/* --- heartbeat, shutdown, timesync --------------------------------------------------- */

static void heartbeat(struct guest_ic *ic, const struct ic_msg *m)
{
        struct ic_writer w;
        int64_t seq;

        if (!guest_ic_is(m, IC_MSG_PING) || !guest_ic_int(m, "seq", 1, INT64_MAX, &seq))
                return;
        ic->pings++;
        guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_PONG);
        guest_ic_add_int(&w, "seq", seq);
        guest_ic_add_cstr(&w, "status", IC_HEARTBEAT_STATUS_OK);
        (void)guest_ic_send(ic, IC_SVC_HEARTBEAT, &w);
}

static void shutdown(struct guest_ic *ic, const struct ic_msg *m)
{
        const char *action = "";
        uint64_t id = msg_id(m);

        if (!guest_ic_is(m, IC_MSG_SHUTDOWN))
                return;
        (void)guest_ic_str(m, "action", 16, &action, NULL);
        if (ic->ignore_shutdown) {
                guest_report_info("ic_shutdown=ignored");
                return;
        }
        if (!id) {
                guest_ic_reply_error(ic, IC_SVC_SHUTDOWN, 0, IC_ERR_BAD_MESSAGE, "shutdown needs an id");
                return;
        }
        ack(ic, IC_SVC_SHUTDOWN, id);
        /* The host has the ack before the VM goes away. */
        (void)guest_con_flush(ic->con, (unsigned)ic->port[IC_SVC_SHUTDOWN].id, guest_time_ns() + 500ull * 1000000);
        /* Short: the console may lose what is still on its way when the VM ends. */
        guest_report_info("ic_shutdown action=%s", guest_strcmp(action, IC_SHUTDOWN_REBOOT) == 0 ? "reboot" : "poweroff");
        if (guest.scenario && (guest.scenario->flags & GUEST_SCENARIO_POWER_BUTTON_PASS))
                guest_report_result(REPORT_STATUS_PASS, NULL);
        if (guest_strcmp(action, IC_SHUTDOWN_REBOOT) == 0)
                guest_reboot(GUEST_RESET_CF9);
        guest_poweroff();
}

static void timesync(struct guest_ic *ic, const struct ic_msg *m)
{
        int64_t seq, sec, nsec, host_ns, now = (int64_t)guest_time_ns(), off_ms;
        const char *action;
        struct ic_writer w;

        if (!guest_ic_is(m, IC_MSG_TIME))
                return;
        if (!guest_ic_int(m, "seq", 1, INT64_MAX, &seq) || !guest_ic_int(m, "sec", 0, INT64_C(1) << 40, &sec) ||
            !guest_ic_int(m, "nsec", 0, 999999999, &nsec)) {
                guest_ic_reply_error(ic, IC_SVC_TIMESYNC, 0, IC_ERR_BAD_MESSAGE, "time needs seq, sec and nsec");
                return;
        }
        host_ns = sec * 1000000000 + nsec;
        /* Our UTC clock: kvmclock plus an offset the host sets. Unset, it starts at the epoch. */
        off_ms = (now + ic->utc_offset_ns - host_ns) / 1000000;
        if (!ic->time_set || off_ms > (int64_t)IC_TIMESYNC_STEP_MS || off_ms < -(int64_t)IC_TIMESYNC_STEP_MS) {
                action = "step";
                if (!ic->time_set)
                        guest_report_info("ic_time utc=%lld", (long long)sec);
                ic->time_set = true;
        } else {
                action = off_ms ? "slew" : "none";      /* no clock discipline: corrected at once */
        }
        ic->utc_offset_ns = host_ns - now;
        guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_ACK);
        guest_ic_add_int(&w, "seq", seq);
        guest_ic_add_int(&w, "offset_ms", off_ms);
        guest_ic_add_cstr(&w, "action", action);
        (void)guest_ic_send(ic, IC_SVC_TIMESYNC, &w);
}

/* --- kvp ----------------------------------------------------------------------------- */

static void kvp_report(struct guest_ic *ic, const char *key, const char *value)
{
        struct ic_writer w;

        guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_SET);
        guest_ic_add_cstr(&w, "pool", IC_KVP_POOL_GUEST);
        guest_ic_add_cstr(&w, "key", key);
        guest_ic_add_cstr(&w, "value", value);
        (void)guest_ic_send(ic, IC_SVC_KVP, &w);
}

/* What the guest pool holds: computed, so a get and the reports agree. */
static const char *guest_pool_get(const char *key)
{
        if (guest_strcmp(key, IC_KVP_OS_NAME) == 0)
                return "vmguest";
        if (guest_strcmp(key, IC_KVP_OS_VERSION) == 0)
                return GUEST_VERSION;
        if (guest_strcmp(key, IC_KVP_OS_KERNEL) == 0 || guest_strcmp(key, IC_KVP_AGENT) == 0)
                return AGENT;
        if (guest_strcmp(key, IC_KVP_HOSTNAME) == 0)
                return guest_cmdline_get_str("hostname", "vmguest");
        if (guest_strcmp(key, IC_KVP_IPV4) == 0)
                return guest_cmdline_get_str("ip", "");
        if (guest_strcmp(key, "ScenarioName") == 0)
                return guest.scenario_name ? guest.scenario_name : "";
        return NULL;
}

static void kvp_publish(struct guest_ic *ic)
{
        static const char *const keys[] = {
                IC_KVP_OS_NAME, IC_KVP_OS_VERSION, IC_KVP_OS_KERNEL, IC_KVP_HOSTNAME, IC_KVP_IPV4, IC_KVP_AGENT,
                "ScenarioName",
        };

        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                kvp_report(ic, keys[i], guest_pool_get(keys[i]));
}

static int host_find(struct guest_ic *ic, const char *key)
{
        for (unsigned i = 0; i < ic->n_host; i++)
                if (guest_strcmp(ic->host[i].key, key) == 0)
                        return (int)i;
        return -ENOENT;
}

static void kvp(struct guest_ic *ic, const struct ic_msg *m)
{
        uint64_t id = msg_id(m);
        const char *pool, *key, *value = NULL;
        size_t klen, vlen = 0;
        struct ic_writer w;
        bool host;
        int i;

        if (guest_ic_is(m, IC_MSG_ACK) || guest_ic_is(m, IC_MSG_ERROR))
                return;
        if (!guest_ic_str(m, "pool", 16, &pool, NULL) || !guest_ic_str(m, "key", IC_KVP_KEY_MAX, &key, &klen) ||
            !ic_kvp_key_valid(key, klen)) {
                guest_ic_reply_error(ic, IC_SVC_KVP, id, IC_ERR_BAD_MESSAGE, "needs a pool and a valid key");
                return;
        }
        host = guest_strcmp(pool, IC_KVP_POOL_HOST) == 0;
        i = host_find(ic, key);
        if (guest_ic_is(m, IC_MSG_GET)) {
                const char *v = host ? (i >= 0 ? ic->host[i].value : NULL) : guest_pool_get(key);

                if (!v) {
                        guest_ic_reply_error(ic, IC_SVC_KVP, id, IC_ERR_NOT_FOUND, "no such key");
                        return;
                }
                guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_VALUE);
                guest_ic_add_int(&w, "id", (int64_t)id);
                guest_ic_add_cstr(&w, "key", key);
                guest_ic_add_cstr(&w, "value", v);
                (void)guest_ic_send(ic, IC_SVC_KVP, &w);
                return;
        }
        if (!host) {
                guest_ic_reply_error(ic, IC_SVC_KVP, id, IC_ERR_ACCESS, "the host writes only the host pool");
                return;
        }
        if (guest_ic_is(m, IC_MSG_DELETE)) {
                if (i < 0) {
                        guest_ic_reply_error(ic, IC_SVC_KVP, id, IC_ERR_NOT_FOUND, "no such key");
                        return;
                }
                char *keep = ic->host[i].value;

                ic->host[i] = ic->host[--ic->n_host];
                ic->host[ic->n_host].value = keep;
                ack(ic, IC_SVC_KVP, id);
                return;
        }
        if (!guest_ic_is(m, IC_MSG_SET)) {
                guest_ic_reply_error(ic, IC_SVC_KVP, id, IC_ERR_UNKNOWN_TYPE, "unknown kvp message");
                return;
        }
        if (!guest_ic_str(m, "value", IC_KVP_VALUE_MAX, &value, &vlen)) {
                guest_ic_reply_error(ic, IC_SVC_KVP, id, IC_ERR_TOO_LARGE, "values are strings of at most 2048 bytes");
                return;
        }
        if (i < 0) {
                if (ic->n_host >= GUEST_IC_HOST_KEYS) {
                        guest_ic_reply_error(ic, IC_SVC_KVP, id, IC_ERR_NO_SPACE, "vmguest keeps 32 host keys");
                        return;
                }
                i = (int)ic->n_host++;
                guest_strlcpy(ic->host[i].key, key, sizeof(ic->host[i].key));
        }
        memcpy(ic->host[i].value, value, vlen);
        ic->host[i].value[vlen] = 0;
        ic->host[i].len = vlen;
        guest_report_info("ic_kvp key=%s", key);
        if (id)
                ack(ic, IC_SVC_KVP, id);
}

/* --- ports --------------------------------------------------------------------------- */

static void handle_line(struct guest_ic *ic, enum ic_service s, char *line, size_t len)
{
        struct guest_ic_port *p = &ic->port[s];
        struct ic_msg m;

        ic->lines_in++;
        if (len && line[len - 1] == '\r')
                len--;
        if (guest_ic_parse(line, len, &m) < 0) {
                ic->bad_lines++;
                guest_ic_reply_error(ic, s, 0, IC_ERR_BAD_MESSAGE, "not a flat JSON object with a type");
                return;
        }
        if (guest_ic_is(&m, IC_MSG_HELLO)) {
                bool first = !p->connected;

                p->connected = true;
                if (first)
                        guest_report_info("ic_connected service=%s", port_names[s] + sizeof(IC_PORT_PREFIX) - 1);
                if (s == IC_SVC_KVP)
                        kvp_publish(ic);
                return;
        }
        if (!p->connected)
                return;
        switch (s) {
        case IC_SVC_HEARTBEAT: heartbeat(ic, &m); break;
        case IC_SVC_SHUTDOWN: shutdown(ic, &m); break;
        case IC_SVC_TIMESYNC: timesync(ic, &m); break;
        case IC_SVC_KVP: kvp(ic, &m); break;
        case IC_SVC_FCOPY: guest_ic_fcopy_message(ic, &m); break;
        default: break;
        }
}

static const uint8_t *find_nl(const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] == '\n')
                        return p + i;
        return NULL;
}

static void on_data(void *userdata, unsigned id, const uint8_t *data, size_t len)
{
        struct guest_ic *ic = userdata;
        int s = svc_of_port(ic, id);
        struct guest_ic_port *p;

        if (s < 0)
                return;
        p = &ic->port[s];
        while (len > 0) {
                const uint8_t *nl = find_nl(data, len);
                size_t seg = nl ? (size_t)(nl - data) : len;

                if (!p->discarding) {
                        if (p->len + seg >= p->max) {
                                p->discarding = true;
                                p->len = 0;
                        } else {
                                memcpy(p->line + p->len, data, seg);
                                p->len += seg;
                        }
                }
                data += seg;
                len -= seg;
                if (!nl)
                        break;
                if (!p->discarding)
                        handle_line(ic, (enum ic_service)s, p->line, p->len);
                p->len = 0;
                p->discarding = false;
                data++;
                len--;
        }
}

int guest_ic_poll(struct guest_ic *ic)
{
        return guest_con_poll(ic->con);
}

int guest_ic_start(uint64_t timeout_ms, struct guest_ic **ret)
{
        uint64_t deadline = guest_time_ns() + timeout_ms * 1000000;
        struct guest_ic *ic;
        unsigned found = 0;
        int r;

        ic = (struct guest_ic *)(uintptr_t)guest_page_alloc(sizeof(*ic), GUEST_PAGE_SIZE);
        if (!ic)
                return -ENOMEM;
        memset(ic, 0, sizeof(*ic));
        ic->out = (char *)(uintptr_t)guest_page_alloc(IC_LINE_MAX, GUEST_PAGE_SIZE);
        if (!ic->out)
                return -ENOMEM;
        for (unsigned i = 0; i < GUEST_IC_HOST_KEYS; i++) {
                ic->host[i].value = (char *)(uintptr_t)guest_page_alloc(IC_KVP_VALUE_MAX + 1, 16);
                if (!ic->host[i].value)
                        return -ENOMEM;
        }
        for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                ic->port[s].id = -1;
                ic->port[s].max = s == IC_SVC_FCOPY ? IC_FCOPY_LINE_MAX : IC_LINE_MAX;
                ic->port[s].line = (char *)(uintptr_t)guest_page_alloc(ic->port[s].max, GUEST_PAGE_SIZE);
                if (!ic->port[s].line)
                        return -ENOMEM;
        }
        ic->ignore_shutdown = guest_cmdline_get_u64("ic_ignore_shutdown", 0) != 0;
        r = guest_ic_fcopy_init(ic);
        if (r < 0)
                return r;
        r = guest_con_start(on_data, ic, &ic->con);
        if (r < 0)
                return r;
        /* The device adds and names its ports in answer to DEVICE_READY; a VM with some
         * services off has fewer: done once the control queue has been quiet a while. */
        for (uint64_t seen = 0, quiet_since = guest_time_ns();;) {
                (void)guest_con_poll(ic->con);
                if (ic->con->ctrl_msgs != seen) {
                        seen = ic->con->ctrl_msgs;
                        quiet_since = guest_time_ns();
                }
                found = 0;
                for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                        if (ic->port[s].id < 0) {
                                r = guest_con_find(ic->con, port_names[s]);
                                if (r >= 0 && guest_con_open(ic->con, (unsigned)r, true) >= 0)
                                        ic->port[s].id = r;
                        }
                        found += ic->port[s].id >= 0;
                }
                if (found == IC_SVC_COUNT || guest_time_ns() >= deadline ||
                    (found && guest_time_ns() - quiet_since > 200ull * 1000000))
                        break;
                guest_cpu_relax();
        }
        for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                struct ic_writer w;

                if (ic->port[s].id < 0)
                        continue;
                guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_HELLO);
                guest_ic_add_int(&w, "version", IC_PROTOCOL_VERSION);
                guest_ic_add_cstr(&w, "agent", AGENT);
                (void)guest_ic_send(ic, (enum ic_service)s, &w);
        }
        guest_report_info("ic_ports=%u", found);
        *ret = ic;
        return found ? 0 : -ENODEV;
}

void guest_ic_serve(struct guest_ic *ic)
{
        for (;;) {
                int n;

                guest_irq_disable();
                n = guest_ic_poll(ic);
                if (n < 0) {
                        guest_report_assert(GUEST_FILE, __LINE__, "virtio-console needs a reset");
                        guest_report_result(REPORT_STATUS_FAIL, "ic-device");
                        guest_poweroff();
                }
                if (n == 0 && guest_con_arm(ic->con))
                        guest_cpu_wait();       /* sti; hlt: any receive queue or the power button */
        }
}
