/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/jsonrpc.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "vmms/vsp.h"
#include "control.h"
#include "handoff.h"
#include "sandbox.h"
#include "ic.h"

#define CONTROL_CLIENTS_MAX 64
#define EXIT_FLUSH_USEC     (2 * 1000 * 1000)

struct vmwp_control {
        struct vmwp_main *m;
        int listen_fd;
        char *path;
        sd_event_source *listen_source;
        struct jsonrpc_conn *clients[CONTROL_CLIENTS_MAX];
        size_t n_clients;
        bool unlink_path;               /* we bound path ourselves */
        enum vmwp_exit_kind last_kind;
        char last_reason[1024];
};

static void add_str(struct json_object *o, const char *k, const char *v)
{
        if (v)
                json_object_object_add(o, k, json_object_new_string(v));
}

/* "disks": one object per configured disk, with the storage VSP's counters. */
static void add_disks(struct json_object *o, const struct vmwp_main *m)
{
        struct json_object *a;

        if (!m->vm || !m->vm->disks || m->cfg->n_disks == 0)
                return;
        a = json_object_new_array();
        if (!a)
                return;
        for (size_t i = 0; i < m->cfg->n_disks; i++) {
                struct json_object *d = json_object_new_object();
                struct vsp_blk_stats st;

                if (!d || !m->vm->disks[i]) {
                        json_object_put(d);
                        continue;
                }
                vsp_blk_get_stats(m->vm->disks[i], &st);
                add_str(d, "path", m->cfg->disks[i].path);
#define ADD_U64(k) json_object_object_add(d, #k, json_object_new_int64((int64_t)st.k))
                ADD_U64(reads);
                ADD_U64(writes);
                ADD_U64(flushes);
                ADD_U64(discards);
                ADD_U64(write_zeroes);
                ADD_U64(bytes_read);
                ADD_U64(bytes_written);
                ADD_U64(io_errors);
                ADD_U64(bad_requests);
                ADD_U64(merged);
                ADD_U64(ring_errors);
#undef ADD_U64
                json_object_array_add(a, d);
        }
        json_object_object_add(o, "disks", a);
}

static int ctl_info(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_control *c = userdata;
        struct vmwp_main *m = c->m;
        struct json_object *o = json_object_new_object();
        const char *state = !m->vm ? "starting" : vmwp_vm_is_paused(m->vm) ? "paused" : "running";

        if (!o)
                return -ENOMEM;
        add_str(o, "state", state);
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        json_object_object_add(o, "uptime_usec",
                               json_object_new_int64((int64_t)(now_usec(CLOCK_MONOTONIC) - m->start_usec)));
        json_object_object_add(o, "boots", json_object_new_int((int)m->boots));
        json_object_object_add(o, "vcpus", json_object_new_int((int)m->cfg->vcpus));
        json_object_object_add(o, "memory", json_object_new_int64((int64_t)m->cfg->memory));
        add_str(o, "name", m->cfg->name);
        add_str(o, "uuid", m->cfg->uuid);
        if (m->cfg->console_type == CONSOLE_SOCKET)
                add_str(o, "console", m->cfg->console_path);
        add_str(o, "control", c->path);
        add_disks(o, m);
        vmwp_ic_add_info(m->ic, o);
        return jsonrpc_call_reply(call, o);
}

static int ctl_need_vm(struct jsonrpc_call *call, struct vmwp_control *c)
{
        if (c->m->vm)
                return 0;
        jsonrpc_call_error(call, VMMS_ERROR_STATE, "The VM is restarting; try again");
        return -EAGAIN;
}

static int ctl_pause(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_control *c = userdata;
        int r;

        if (ctl_need_vm(call, c) < 0)
                return 0;
        r = vmwp_vm_pause(c->m->vm);
        if (r < 0)
                return r;
        log_info("VM paused");
        return ctl_info(call, NULL, c);
}

static int ctl_resume(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_control *c = userdata;
        int r;

        if (ctl_need_vm(call, c) < 0)
                return 0;
        r = vmwp_vm_resume(c->m->vm);
        if (r < 0)
                return r;
        log_info("VM resumed");
        return ctl_info(call, NULL, c);
}

static int ctl_power_button(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_control *c = userdata;
        int r;

        if (ctl_need_vm(call, c) < 0)
                return 0;
        r = vmwp_vm_power_button(c->m->vm);
        if (r < 0)
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "Cannot press the power button: %s",
                                          strerror(-r));
        log_info("Power button pressed");
        return jsonrpc_call_reply(call, NULL);
}

static int ctl_turn_off(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_control *c = userdata;

        if (c->m->vm)
                vmwp_vm_request_exit(c->m->vm, VMWP_EXIT_STOPPED, "turned off");
        else
                c->m->signal = SIGTERM;         /* between boots: do not boot again */
        return jsonrpc_call_reply(call, NULL);
}

/*
 * Save-VM: pause, write the state (and guest memory) and end the worker; the VM goes on in
 * the worker that --restore starts. The files: two fds passed with the call (state, then
 * memory; what vmms does), or paths {"state": PATH[, "memory": PATH]} a worker outside the
 * cage may open (memory defaults to STATE.mem). On failure the VM resumes as it was.
 */
static int ctl_save(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_control *c = userdata;
        struct json_object *state = NULL, *memory = NULL;
        const struct jsonrpc_param p[] = {
                { "state", json_type_string, false, &state },
                { "memory", json_type_string, false, &memory },
        };
        struct jsonrpc_conn *conn = jsonrpc_call_get_conn(call);
        _cleanup_close_ int state_fd = -1, mem_fd = -1;
        _cleanup_free_ char *mem_path = NULL;
        bool was_paused;
        char err[512] = "";
        int r;

        if (ctl_need_vm(call, c) < 0)
                return 0;
        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        if (state) {
                const char *sp = json_object_get_string(state);

                if (memory)
                        mem_path = strdup(json_object_get_string(memory));
                else if (asprintf(&mem_path, "%s.mem", sp) < 0)
                        mem_path = NULL;
                if (!mem_path)
                        return -ENOMEM;
                state_fd = open(sp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
                /* Not truncated here: save checks first that it is not the file this VM's
                 * memory is mapped from (a restored VM's). */
                mem_fd = state_fd < 0 ? -1 : open(mem_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (state_fd < 0 || mem_fd < 0)
                        return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "Cannot create %s: %s",
                                                  state_fd < 0 ? sp : mem_path, strerror(errno));
        } else {
                state_fd = conn ? jsonrpc_conn_take_fd(conn) : -ENOENT;
                mem_fd = conn ? jsonrpc_conn_take_fd(conn) : -ENOENT;
                if (state_fd < 0 || mem_fd < 0)
                        return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "vm.save: pass \"state\" (a path), "
                                                  "or two fds (state, memory) with the call");
        }
        was_paused = vmwp_vm_is_paused(c->m->vm);
        r = vmwp_vm_pause(c->m->vm);
        if (r >= 0)
                r = vmwp_vm_save(c->m->vm, c->m->config_json, state_fd, mem_fd, err, sizeof(err));
        if (r < 0) {
                if (!was_paused)
                        (void)vmwp_vm_resume(c->m->vm);
                log_warning("Save failed: %s", err[0] ? err : strerror(-r));
                return jsonrpc_call_error(call, r == -EOPNOTSUPP ? VMMS_ERROR_STATE : VMMS_ERROR_FAILED,
                                          "Cannot save the VM: %s", err[0] ? err : strerror(-r));
        }
        vmwp_vm_request_exit(c->m->vm, VMWP_EXIT_SAVED, "saved%s%s", state ? " to " : "",
                             state ? json_object_get_string(state) : "");
        return jsonrpc_call_reply(call, NULL);
}

/* Tests only, and only for a VM whose configuration says "debug": true: make a system call
 * the seccomp filter forbids ({"syscall": NAME}, default "mount"); the worker dies. */
static int ctl_debug_forbidden_syscall(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmwp_control *c = userdata;
        struct json_object *name = NULL;
        const struct jsonrpc_param p[] = { { "syscall", json_type_string, false, &name } };
        const char *what;
        int r;

        if (!c->m->cfg->debug)
                return jsonrpc_call_error(call, JSONRPC_METHOD_NOT_FOUND, "Method not found: debug methods are off "
                                          "(the VM's configuration does not say \"debug\": true)");
        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        what = name ? json_object_get_string(name) : "mount";
        log_warning("debug.forbidden_syscall: calling %s", what);
        r = vmwp_sandbox_call_forbidden(what);
        return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "%s returned: %s", what,
                                  r == -EINVAL ? "no such system call" : "the filter allowed it");
}

static const struct jsonrpc_method control_methods[] = {
        { "vm.info", ctl_info },
        { "vm.pause", ctl_pause },
        { "vm.resume", ctl_resume },
        { "vm.power_button", ctl_power_button },
        { "vm.turn_off", ctl_turn_off },
        { "vm.save", ctl_save },
        { "debug.forbidden_syscall", ctl_debug_forbidden_syscall },
        /* Integration services: ic.c */
        { "ic.status", vmwp_ic_ctl_status },
        { "ic.shutdown", vmwp_ic_ctl_shutdown },
        { "ic.timesync", vmwp_ic_ctl_timesync },
        { "ic.kvp.get", vmwp_ic_ctl_kvp_get },
        { "ic.kvp.set", vmwp_ic_ctl_kvp_set },
        { "ic.kvp.delete", vmwp_ic_ctl_kvp_delete },
        { "ic.fcopy", vmwp_ic_ctl_fcopy },
        { "ic.fcopy.stat", vmwp_ic_ctl_fcopy_stat },
};

static void control_on_client_close(struct jsonrpc_conn *conn, void *userdata)
{
        struct vmwp_control *c = userdata;

        for (size_t i = 0; i < c->n_clients; i++)
                if (c->clients[i] == conn) {
                        c->clients[i] = c->clients[--c->n_clients];
                        jsonrpc_conn_unref(conn);
                        return;
                }
}

static int control_add_client(struct vmwp_control *c, int fd, const void *initial, size_t len)
{
        struct jsonrpc_conn *conn;
        int r;

        if (c->n_clients >= CONTROL_CLIENTS_MAX) {
                safe_close(fd);
                return -EMFILE;
        }
        r = jsonrpc_conn_new(c->m->event, fd, control_methods, ARRAY_SIZE(control_methods), c, &conn);
        if (r < 0)
                return r;
        jsonrpc_conn_set_close_callback(conn, control_on_client_close);
        c->clients[c->n_clients++] = conn;
        return jsonrpc_conn_feed(conn, initial, len);
}

static int control_on_connect(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct vmwp_control *c = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return 0;
        /* Only root and the worker's own user drive it. */
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != 0 && cred.uid != geteuid())) {
                log_warning("Control socket: refused a client (uid %u)", (unsigned)cred.uid);
                close(cfd);
                return 0;
        }
        if (control_add_client(c, cfd, NULL, 0) < 0)
                log_warning("Control socket: cannot take another client");
        return 0;
}

static int control_serve(struct vmwp_control *c)
{
        int r;

        if (listen(c->listen_fd, 16) < 0)
                return log_error_errno(-errno, "--control: cannot listen on %s: %m", c->path ? c->path : "the passed socket");
        r = fd_set_nonblock(c->listen_fd, true);
        if (r < 0)
                return log_error_errno(r, "--control: %m");
        r = sd_event_add_io(c->m->event, &c->listen_source, c->listen_fd, EPOLLIN, control_on_connect, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the control socket: %m");
        return 0;
}

static int control_listen(struct vmwp_control *c, const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        mode_t old;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(-ENAMETOOLONG, "--control: '%s' is too long for a Unix socket", path);
        strcpy(sa.sun_path, path);
        c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->listen_fd < 0)
                return log_error_errno(-errno, "Failed to create the control socket: %m");
        (void)unlink(path);
        old = umask(0077);
        r = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return log_error_errno(-errno, "--control: cannot bind %s: %m", path);
        c->path = strdup(path);
        if (!c->path)
                return log_error_errno(-ENOMEM, "Out of memory");
        c->unlink_path = true;
        return control_serve(c);
}

int vmwp_control_new(struct vmwp_main *m, const char *path, int listen_fd, struct vmwp_handoff *h,
                     struct vmwp_control **ret)
{
        struct vmwp_control *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(listen_fd);
                return log_error_errno(-ENOMEM, "Out of memory");
        }
        c->m = m;
        c->listen_fd = -1;
        if (h && h->fd_socket >= 0) {
                /* vmms' end of the fd socket: its first control connection. */
                r = control_add_client(c, TAKE_FD(h->fd_socket), h->rest, h->rest_len);
                if (r < 0) {
                        log_error_errno(r, "--fd-socket: cannot serve it: %m");
                        goto fail;
                }
        }
        if (listen_fd >= 0) {
                /* Bound by whoever started us (vmjail): served, reported, not removed. */
                c->listen_fd = listen_fd;
                c->path = path ? strdup(path) : NULL;
                r = control_serve(c);
                if (r < 0)
                        goto fail;
        } else if (path) {
                r = control_listen(c, path);
                if (r < 0)
                        goto fail;
        }
        *ret = c;
        return 0;
fail:
        vmwp_control_free(c, -1);
        return r;
}

void vmwp_control_vm_ended(struct vmwp_control *c, enum vmwp_exit_kind kind, const char *reason)
{
        if (!c)
                return;
        c->last_kind = kind;
        snprintf(c->last_reason, sizeof(c->last_reason), "%s", reason ? reason : "");
}

void vmwp_control_free(struct vmwp_control *c, int exit_status)
{
        if (!c)
                return;
        c->listen_source = sd_event_source_disable_unref(c->listen_source);
        if (c->path && c->unlink_path)
                (void)unlink(c->path);
        safe_close(c->listen_fd);
        for (size_t i = 0; i < c->n_clients; i++) {
                struct jsonrpc_conn *conn = c->clients[i];

                if (exit_status >= 0) {
                        struct json_object *p = json_object_new_object();
                        char first[1024];
                        char *nl;

                        /* The reason's first line; crash reports add registers below it. */
                        snprintf(first, sizeof(first), "%s", c->last_reason);
                        nl = strchr(first, '\n');
                        if (nl)
                                *nl = 0;
                        if (p) {
                                add_str(p, "kind", vmwp_exit_kind_to_string(c->last_kind));
                                add_str(p, "reason", first);
                                if (nl)
                                        add_str(p, "detail", c->last_reason);
                                json_object_object_add(p, "exit_status", json_object_new_int(exit_status));
                        }
                        if (jsonrpc_conn_notify(conn, VMWP_EVENT_EXITED, p) >= 0)
                                (void)jsonrpc_conn_flush_blocking(conn, EXIT_FLUSH_USEC);
                }
                jsonrpc_conn_set_close_callback(conn, NULL);
                jsonrpc_conn_close(conn);
                jsonrpc_conn_unref(conn);
        }
        free(c->path);
        free(c);
}

struct vmwp_main *vmwp_control_main(struct vmwp_control *c)
{
        return c ? c->m : NULL;
}

void vmwp_control_notify(struct vmwp_control *c, const char *method, struct json_object *params)
{
        for (size_t i = 0; c && i < c->n_clients; i++)
                (void)jsonrpc_conn_notify(c->clients[i], method, params ? json_object_get(params) : NULL);
        json_object_put(params);
}
