/* SPDX-License-Identifier: MIT */
/*
 * Integration services in the worker: the engine's events on the main loop (heartbeat
 * and service changes are logged and announced to every control client; answers complete
 * the control call that asked), and the ic.* control methods.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmms/vsp_ic.h"
#include "control.h"
#include "ic.h"

struct ic_call {
        struct ic_call *next;
        enum vsp_ic_event_type type;
        uint64_t id;
        struct jsonrpc_call *call;
        char guest_path[IC_FCOPY_PATH_MAX + 1];
        bool guest_pool;
};

struct vmwp_ic {
        struct vmwp_main *m;
        struct vsp_ic *engine;
        sd_event_source *source;
        struct ic_call *calls;
        uint64_t service_window;        /* a guest toggling its ports must not flood clients: */
        unsigned service_events;        /* at most SERVICE_EVENTS_PER_SEC announced */
};

#define SERVICE_EVENTS_PER_SEC 20u

static const char *const service_keys[IC_SVC_COUNT] = {
        "heartbeat", "shutdown", "timesync", "kvp", "fcopy",
};

struct vsp_ic *vmwp_ic_engine(struct vmwp_ic *x)
{
        return x ? x->engine : NULL;
}

static struct vmwp_ic *ic_of(void *userdata)
{
        struct vmwp_main *m = vmwp_control_main(userdata);

        return m ? m->ic : NULL;
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
        json_object_object_add(o, k, v);
}

/* Answer a call with the engine's error for a request it refused. */
static int reply_errno(struct jsonrpc_call *call, int r, enum ic_service s)
{
        const char *name = service_keys[s];

        switch (r) {
        case -EOPNOTSUPP:
                return jsonrpc_call_error(call, VMMS_ERROR_UNSUPPORTED,
                                          "The %s integration service is off for this VM", name);
        case -ENOTCONN:
                return jsonrpc_call_error(call, VMMS_ERROR_STATE,
                                          "The guest does not run the %s integration service", name);
        case -EBUSY:
                return jsonrpc_call_error(call, VMMS_ERROR_STATE, "A %s request is already running", name);
        case -ENOBUFS:
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED,
                                          "The guest is not reading its %s port", name);
        case -EINVAL:
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "Invalid argument for %s", name);
        case -E2BIG:
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "Invalid argument for %s: too long "
                                          "(vmms-ic(7) has the limits)", name);
        default:
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "%s: %s", name, strerror(-r));
        }
}

static int need_engine(struct jsonrpc_call *call, struct vmwp_ic *x)
{
        if (x)
                return 0;
        jsonrpc_call_error(call, VMMS_ERROR_UNSUPPORTED, "Integration services are off for this VM");
        return -EOPNOTSUPP;
}

static int call_wait(struct vmwp_ic *x, struct jsonrpc_call *call, enum vsp_ic_event_type type, uint64_t id,
                     struct ic_call **ret)
{
        struct ic_call *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->type = type;
        c->id = id;
        c->call = jsonrpc_call_ref(call);
        c->next = x->calls;
        x->calls = c;
        if (ret)
                *ret = c;
        return 0;
}

static struct ic_call *call_take(struct vmwp_ic *x, enum vsp_ic_event_type type, uint64_t id)
{
        for (struct ic_call **p = &x->calls; *p; p = &(*p)->next)
                if ((*p)->type == type && (*p)->id == id) {
                        struct ic_call *c = *p;

                        *p = c->next;
                        return c;
                }
        return NULL;
}

static void guest_error(struct jsonrpc_call *call, const struct vsp_ic_event *ev, const char *what)
{
        struct json_object *data = json_object_new_object();
        int code = ev->error == IC_ERR_TIMEOUT ? VMMS_ERROR_TIMEOUT :
                   ev->error == IC_ERR_NOT_FOUND ? VMMS_ERROR_NOT_FOUND : VMMS_ERROR_FAILED;

        if (data) {
                add(data, "ic_error", json_object_new_int((int)ev->error));
                add(data, "ic_error_name", json_object_new_string(vsp_ic_error_to_string(ev->error)));
        }
        jsonrpc_call_error_data(call, code, data, "%s: %s%s%s", what, vsp_ic_error_to_string(ev->error),
                                ev->message[0] ? ": " : "", ev->message);
}

static void complete(struct vmwp_ic *x, struct vsp_ic_event *ev)
{
        struct ic_call *c = call_take(x, ev->type, ev->id);
        struct json_object *o;

        if (!c)
                return;
        if (ev->error) {
                char what[IC_FCOPY_PATH_MAX + 64];

                switch (ev->type) {
                case VSP_IC_EVENT_SHUTDOWN:
                        snprintf(what, sizeof(what), "The guest did not accept the shutdown");
                        break;
                case VSP_IC_EVENT_FCOPY:
                        snprintf(what, sizeof(what), "Copy to %s failed", c->guest_path);
                        break;
                case VSP_IC_EVENT_FCOPY_STAT:
                        snprintf(what, sizeof(what), "%s", c->guest_path);
                        break;
                default:
                        snprintf(what, sizeof(what), "The guest's %s key %s", c->guest_pool ? "guest" : "host", ev->key);
                        break;
                }
                guest_error(c->call, ev, what);
        } else {
                o = json_object_new_object();
                if (o) {
                        switch (ev->type) {
                        case VSP_IC_EVENT_SHUTDOWN:
                                add(o, "acknowledged", json_object_new_boolean(true));
                                break;
                        case VSP_IC_EVENT_KVP:
                                add(o, "pool", json_object_new_string(c->guest_pool ? "guest" : "host"));
                                add(o, "key", json_object_new_string(ev->key));
                                add(o, "value", json_object_new_string(ev->value ? ev->value : ""));
                                add(o, "from_guest", json_object_new_boolean(true));
                                break;
                        default:
                                add(o, "guest_path", json_object_new_string(c->guest_path));
                                add(o, "size", json_object_new_int64((int64_t)ev->size));
                                add(o, "crc32", json_object_new_int64(ev->crc32));
                                break;
                        }
                }
                jsonrpc_call_reply(c->call, o);
        }
        jsonrpc_call_unref(c->call);
        free(c);
}

static void announce(struct vmwp_ic *x, const struct vsp_ic_event *ev)
{
        struct json_object *p = json_object_new_object();
        const char *method;

        if (!p)
                return;
        if (ev->type == VSP_IC_EVENT_HEARTBEAT) {
                method = VMWP_EVENT_IC_HEARTBEAT;
                add(p, "heartbeat", json_object_new_string(vsp_ic_heartbeat_to_string(ev->heartbeat)));
                add(p, "previous", json_object_new_string(vsp_ic_heartbeat_to_string(ev->heartbeat_old)));
                if (ev->heartbeat == VSP_IC_HEARTBEAT_LOST)
                        log_warning("Heartbeat lost: the guest stopped answering");
                else
                        log_info("Heartbeat: %s", vsp_ic_heartbeat_to_string(ev->heartbeat));
        } else {
                uint64_t now = now_usec(CLOCK_MONOTONIC);

                if (now - x->service_window >= 1000000) {
                        x->service_window = now;
                        x->service_events = 0;
                }
                if (ev->state == VSP_IC_STATE_OPEN || x->service_events++ >= SERVICE_EVENTS_PER_SEC) {
                        json_object_put(p);     /* transient, or too many: ic.status has the state */
                        return;
                }
                method = VMWP_EVENT_IC_SERVICE;
                add(p, "service", json_object_new_string(service_keys[ev->svc]));
                add(p, "state", json_object_new_string(vsp_ic_state_to_string(ev->state)));
                add(p, "previous", json_object_new_string(vsp_ic_state_to_string(ev->state_old)));
                if (ev->state == VSP_IC_STATE_DEGRADED) {
                        add(p, "reason", json_object_new_string(ev->message));
                        log_warning("Integration service %s degraded: the guest broke the protocol (%s)",
                                    service_keys[ev->svc], ev->message);
                } else {
                        log_debug("Integration service %s: %s", service_keys[ev->svc],
                                  vsp_ic_state_to_string(ev->state));
                }
        }
        vmwp_control_notify(x->m->control, method, p);
}

static int on_events(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct vmwp_ic *x = userdata;
        struct vsp_ic_event ev;

        while (vsp_ic_pop_event(x->engine, &ev) > 0) {
                if (ev.type == VSP_IC_EVENT_HEARTBEAT || ev.type == VSP_IC_EVENT_SERVICE)
                        announce(x, &ev);
                else
                        complete(x, &ev);
                vsp_ic_event_done(&ev);
        }
        return 0;
}

void vmwp_ic_free(struct vmwp_ic *x)
{
        if (!x)
                return;
        /* Answers that arrived as the VM ended (a guest acks its shutdown and powers off). */
        (void)on_events(NULL, -1, 0, x);
        while (x->calls) {
                struct ic_call *c = x->calls;

                x->calls = c->next;
                jsonrpc_call_error(c->call, VMMS_ERROR_CANCELLED, "The worker is exiting");
                jsonrpc_call_unref(c->call);
                free(c);
        }
        sd_event_source_disable_unref(x->source);
        vsp_ic_free(x->engine);
        free(x);
}

int vmwp_ic_new(struct vmwp_main *m, struct vmwp_ic **ret)
{
        struct vsp_ic_config cfg = { 0 };
        struct vmwp_ic *x;
        bool any = false;
        int r;

        for (unsigned i = 0; i < IC_SVC_COUNT; i++)
                any |= cfg.enabled[i] = m->cfg->integration[i];
        *ret = NULL;
        if (!any)
                return 0;
        x = calloc(1, sizeof(*x));
        if (!x)
                return log_error_errno(-ENOMEM, "Out of memory");
        x->m = m;
        r = vsp_ic_new(&cfg, &x->engine);
        if (r < 0) {
                vmwp_ic_free(x);
                return log_error_errno(r, "Failed to set up the integration services: %m");
        }
        r = sd_event_add_io(m->event, &x->source, vsp_ic_event_fd(x->engine), EPOLLIN, on_events, x);
        if (r < 0) {
                vmwp_ic_free(x);
                return log_error_errno(r, "Failed to watch the integration services: %m");
        }
        *ret = x;
        return 0;
}

/* --- status -------------------------------------------------------------------------- */

void vmwp_ic_add_info(struct vmwp_ic *x, struct json_object *o)
{
        struct vsp_ic_status st;
        struct json_object *svc;

        if (!x) {
                add(o, "heartbeat", json_object_new_string(vsp_ic_heartbeat_to_string(VSP_IC_HEARTBEAT_DISABLED)));
                return;
        }
        vsp_ic_get_status(x->engine, &st);
        add(o, "heartbeat", json_object_new_string(vsp_ic_heartbeat_to_string(st.heartbeat)));
        svc = json_object_new_object();
        if (!svc)
                return;
        for (unsigned i = 0; i < IC_SVC_COUNT; i++)
                add(svc, service_keys[i], json_object_new_string(vsp_ic_state_to_string(st.svc[i].state)));
        add(o, "integration", svc);
}

int vmwp_ic_ctl_status(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_ic *x = ic_of(userdata);
        struct json_object *o, *svcs, *t;
        struct vsp_ic_status st;

        if (jsonrpc_params_parse(call, params, NULL, 0) < 0)
                return 0;
        o = json_object_new_object();
        svcs = json_object_new_object();
        if (!o || !svcs) {
                json_object_put(o);
                json_object_put(svcs);
                return -ENOMEM;
        }
        if (!x) {
                add(o, "heartbeat", json_object_new_string(vsp_ic_heartbeat_to_string(VSP_IC_HEARTBEAT_DISABLED)));
                add(o, "services", svcs);
                return jsonrpc_call_reply(call, o);
        }
        vsp_ic_get_status(x->engine, &st);
        add(o, "heartbeat", json_object_new_string(vsp_ic_heartbeat_to_string(st.heartbeat)));
        if (st.heartbeat_age_ms != UINT64_MAX)
                add(o, "heartbeat_age_ms", json_object_new_int64((int64_t)st.heartbeat_age_ms));
        add(o, "application", json_object_new_string(st.heartbeat_critical ? "critical" : "ok"));
        for (unsigned i = 0; i < IC_SVC_COUNT; i++) {
                const struct vsp_ic_service_status *s = &st.svc[i];
                struct json_object *j = json_object_new_object();

                if (!j)
                        break;
                add(j, "state", json_object_new_string(vsp_ic_state_to_string(s->state)));
                if (s->version) {
                        add(j, "version", json_object_new_int((int)s->version));
                        add(j, "agent", json_object_new_string(s->agent));
                }
                add(j, "lines_in", json_object_new_int64((int64_t)s->lines_in));
                add(j, "lines_out", json_object_new_int64((int64_t)s->lines_out));
                add(j, "bytes_in", json_object_new_int64((int64_t)s->bytes_in));
                add(j, "bytes_out", json_object_new_int64((int64_t)s->bytes_out));
                add(j, "violations", json_object_new_int64((int64_t)s->violations));
                add(j, "throttled", json_object_new_int64((int64_t)s->throttled));
                add(j, "dropped", json_object_new_int64((int64_t)s->dropped));
                if (s->last_violation[0])
                        add(j, "last_violation", json_object_new_string(s->last_violation));
                add(svcs, service_keys[i], j);
        }
        add(o, "services", svcs);
        t = json_object_new_object();
        if (t) {
                add(t, "synced", json_object_new_boolean(st.time_synced));
                if (st.time_synced) {
                        add(t, "offset_ms", json_object_new_int64(st.time_offset_ms));
                        add(t, "action", json_object_new_string(st.time_action));
                }
                add(o, "time", t);
        }
        t = json_object_new_object();
        if (t) {
                add(t, "host_keys", json_object_new_int((int)st.kvp_host_keys));
                add(t, "guest_keys", json_object_new_int((int)st.kvp_guest_keys));
                add(o, "kvp", t);
        }
        t = json_object_new_object();
        if (t) {
                add(t, "active", json_object_new_boolean(st.fcopy_active));
                if (st.fcopy_active) {
                        add(t, "sent", json_object_new_int64((int64_t)st.fcopy_sent));
                        add(t, "size", json_object_new_int64((int64_t)st.fcopy_size));
                }
                add(o, "fcopy", t);
        }
        return jsonrpc_call_reply(call, o);
}

/* --- requests ------------------------------------------------------------------------ */

int vmwp_ic_ctl_shutdown(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_ic *x = ic_of(userdata);
        struct json_object *reason = NULL, *reboot = NULL;
        const struct jsonrpc_param table[] = {
                { "reason", json_type_string, false, &reason },
                { "reboot", json_type_boolean, false, &reboot },
        };
        uint64_t id;
        int r;

        if (jsonrpc_params_parse(call, params, table, ARRAY_SIZE(table)) < 0 || need_engine(call, x) < 0)
                return 0;
        r = vsp_ic_shutdown(x->engine, reboot && json_object_get_boolean(reboot),
                            reason ? json_object_get_string(reason) : "", &id);
        if (r < 0)
                return reply_errno(call, r, IC_SVC_SHUTDOWN);
        log_info("Asked the guest to %s%s%s", reboot && json_object_get_boolean(reboot) ? "restart" : "shut down",
                 reason ? ": " : "", reason ? json_object_get_string(reason) : "");
        return call_wait(x, call, VSP_IC_EVENT_SHUTDOWN, id, NULL);
}

int vmwp_ic_ctl_timesync(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_ic *x = ic_of(userdata);
        struct json_object *reason = NULL;
        const struct jsonrpc_param table[] = { { "reason", json_type_string, false, &reason } };
        int r;

        if (jsonrpc_params_parse(call, params, table, ARRAY_SIZE(table)) < 0 || need_engine(call, x) < 0)
                return 0;
        r = vsp_ic_timesync(x->engine, reason ? json_object_get_string(reason) : IC_TIMESYNC_ON_REQUEST);
        if (r < 0)
                return reply_errno(call, r, IC_SVC_TIMESYNC);
        return jsonrpc_call_reply(call, NULL);
}

static int add_item(const char *key, const char *value, void *userdata)
{
        json_object_object_add(userdata, key, json_object_new_string(value));
        return 0;
}

int vmwp_ic_ctl_kvp_get(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_ic *x = ic_of(userdata);
        struct json_object *key = NULL, *pool = NULL, *guest = NULL, *o;
        const struct jsonrpc_param table[] = {
                { "key", json_type_string, false, &key },
                { "pool", json_type_string, false, &pool },
                { "guest", json_type_boolean, false, &guest },
        };
        bool guest_pool = true;
        _cleanup_free_ char *value = NULL;
        struct ic_call *c;
        uint64_t id;
        int r;

        if (jsonrpc_params_parse(call, params, table, ARRAY_SIZE(table)) < 0 || need_engine(call, x) < 0)
                return 0;
        if (pool) {
                const char *p = json_object_get_string(pool);

                if (strcmp(p, "host") != 0 && strcmp(p, "guest") != 0)
                        return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "pool: \"guest\" or \"host\"");
                guest_pool = strcmp(p, "guest") == 0;
        }
        if (!vsp_ic_enabled(x->engine, IC_SVC_KVP))
                return reply_errno(call, -EOPNOTSUPP, IC_SVC_KVP);
        if (guest && json_object_get_boolean(guest)) {
                /* Ask the guest for its own copy. */
                if (!key)
                        return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "guest: needs a key");
                r = vsp_ic_kvp_query(x->engine, guest_pool, json_object_get_string(key), &id);
                if (r < 0)
                        return reply_errno(call, r, IC_SVC_KVP);
                r = call_wait(x, call, VSP_IC_EVENT_KVP, id, &c);
                if (r >= 0)
                        c->guest_pool = guest_pool;
                return r;
        }
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        add(o, "pool", json_object_new_string(guest_pool ? "guest" : "host"));
        if (!key) {
                struct json_object *items = json_object_new_object();

                if (!items) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                (void)vsp_ic_kvp_foreach(x->engine, guest_pool, add_item, items);
                add(o, "items", items);
                return jsonrpc_call_reply(call, o);
        }
        r = vsp_ic_kvp_get(x->engine, guest_pool, json_object_get_string(key), &value);
        if (r < 0) {
                json_object_put(o);
                if (r == -ENOENT)
                        return jsonrpc_call_error(call, VMMS_ERROR_NOT_FOUND, "No key '%s' in the %s pool",
                                                  json_object_get_string(key), guest_pool ? "guest" : "host");
                return reply_errno(call, r, IC_SVC_KVP);
        }
        add(o, "key", json_object_new_string(json_object_get_string(key)));
        add(o, "value", json_object_new_string(value));
        return jsonrpc_call_reply(call, o);
}

int vmwp_ic_ctl_kvp_set(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_ic *x = ic_of(userdata);
        struct json_object *key = NULL, *value = NULL;
        const struct jsonrpc_param table[] = {
                { "key", json_type_string, true, &key },
                { "value", json_type_string, true, &value },
        };
        int r;

        if (jsonrpc_params_parse(call, params, table, ARRAY_SIZE(table)) < 0 || need_engine(call, x) < 0)
                return 0;
        r = vsp_ic_kvp_set(x->engine, json_object_get_string(key), json_object_get_string(value));
        if (r == -EINVAL)
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                          "Keys are 1 to %u bytes of [A-Za-z0-9._:-], values UTF-8 text", IC_KVP_KEY_MAX);
        if (r == -E2BIG)
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "value: longer than %u bytes", IC_KVP_VALUE_MAX);
        if (r == -ENOSPC)
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "The host pool holds at most %u keys", IC_KVP_POOL_MAX);
        if (r < 0)
                return reply_errno(call, r, IC_SVC_KVP);
        return jsonrpc_call_reply(call, NULL);
}

int vmwp_ic_ctl_kvp_delete(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_ic *x = ic_of(userdata);
        struct json_object *key = NULL;
        const struct jsonrpc_param table[] = { { "key", json_type_string, true, &key } };
        int r;

        if (jsonrpc_params_parse(call, params, table, ARRAY_SIZE(table)) < 0 || need_engine(call, x) < 0)
                return 0;
        r = vsp_ic_kvp_delete(x->engine, json_object_get_string(key));
        if (r == -ENOENT)
                return jsonrpc_call_error(call, VMMS_ERROR_NOT_FOUND, "No key '%s' in the host pool",
                                          json_object_get_string(key));
        if (r < 0)
                return reply_errno(call, r, IC_SVC_KVP);
        return jsonrpc_call_reply(call, NULL);
}

int vmwp_ic_ctl_fcopy(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_ic *x = ic_of(userdata);
        struct json_object *gpath = NULL, *path = NULL, *fdp = NULL, *mode = NULL, *overwrite = NULL, *mkdirs = NULL;
        const struct jsonrpc_param table[] = {
                { "guest_path", json_type_string, true, &gpath },
                { "path", json_type_string, false, &path },
                { "fd", json_type_boolean, false, &fdp },
                { "mode", json_type_int, false, &mode },
                { "overwrite", json_type_boolean, false, &overwrite },
                { "mkdirs", json_type_boolean, false, &mkdirs },
        };
        struct jsonrpc_conn *conn = jsonrpc_call_get_conn(call);
        const char *gp;
        int64_t m = 0644;
        struct ic_call *c;
        uint64_t id;
        int fd, r;

        if (jsonrpc_params_parse(call, params, table, ARRAY_SIZE(table)) < 0 || need_engine(call, x) < 0)
                return 0;
        gp = json_object_get_string(gpath);
        if (mode) {
                m = json_object_get_int64(mode);
                if (m < 0 || m > 07777)
                        return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "mode: 0 to 07777");
        }
        if (fdp && json_object_get_boolean(fdp)) {
                fd = conn ? jsonrpc_conn_take_fd(conn) : -ENOENT;
                if (fd < 0)
                        return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "fd: no file descriptor came with the request");
        } else if (path) {
                fd = open(json_object_get_string(path), O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "%s: %s", json_object_get_string(path),
                                                  strerror(errno));
        } else {
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "Give the host file as \"path\" or pass it with \"fd\": true");
        }
        r = vsp_ic_fcopy_start(x->engine, fd, gp, (unsigned)m, !overwrite || json_object_get_boolean(overwrite),
                               mkdirs && json_object_get_boolean(mkdirs), &id);
        if (r == -EINVAL)
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                          "guest_path must be absolute and the host file a regular file");
        if (r < 0)
                return reply_errno(call, r, IC_SVC_FCOPY);
        log_info("Copying a file to %s in the guest", gp);
        r = call_wait(x, call, VSP_IC_EVENT_FCOPY, id, &c);
        if (r >= 0)
                snprintf(c->guest_path, sizeof(c->guest_path), "%s", gp);
        return r;
}

int vmwp_ic_ctl_fcopy_stat(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_ic *x = ic_of(userdata);
        struct json_object *gpath = NULL;
        const struct jsonrpc_param table[] = { { "guest_path", json_type_string, true, &gpath } };
        struct ic_call *c;
        uint64_t id;
        int r;

        if (jsonrpc_params_parse(call, params, table, ARRAY_SIZE(table)) < 0 || need_engine(call, x) < 0)
                return 0;
        r = vsp_ic_fcopy_stat(x->engine, json_object_get_string(gpath), &id);
        if (r < 0)
                return reply_errno(call, r, IC_SVC_FCOPY);
        r = call_wait(x, call, VSP_IC_EVENT_FCOPY_STAT, id, &c);
        if (r >= 0)
                snprintf(c->guest_path, sizeof(c->guest_path), "%s", json_object_get_string(gpath));
        return r;
}
