/* SPDX-License-Identifier: MIT */
/*
 * Integration services in vmms (vmms-ic(7)): the API's vm.kvp.* and vm.copy_to verbs,
 * which the VM's worker serves (its ic.* control methods), the heartbeat the worker
 * reports (shown in vm.get, announced as vm.heartbeat_changed), and the graceful stop
 * through the shutdown service.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <abi/ic.h>

#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms.h"

#define HEARTBEAT_NO_CONTACT "No contact"

struct forward {
        struct jsonrpc_call *call;
        char name[128];
};

static void on_forward_reply(struct jsonrpc_conn *c, int r, struct json_object *result,
                             const struct jsonrpc_error *error, void *userdata)
{
        struct forward *f = userdata;

        if (r < 0)
                jsonrpc_call_error(f->call, VMMS_ERROR_FAILED, "VM '%s': the worker went away", f->name);
        else if (error)
                jsonrpc_call_error_data(f->call, error->code, error->data ? json_object_get(error->data) : NULL,
                                        "VM '%s': %s", f->name, error->message);
        else
                jsonrpc_call_reply(f->call, result ? json_object_get(result) : NULL);
        jsonrpc_call_unref(f->call);
        free(f);
}

/* Hand a call to the VM's worker: the params but "name", plus fds; its answer is ours. */
static int forward(struct jsonrpc_call *call, struct vmms_vm *vm, const char *method, struct json_object *params,
                   const int *fds, size_t n_fds)
{
        struct json_object *p = json_object_new_object();
        struct forward *f;
        int r;

        if (!p)
                return -ENOMEM;
        json_object_object_foreach(params, key, val)
                if (strcmp(key, "name") != 0)
                        json_object_object_add(p, key, json_object_get(val));
        f = calloc(1, sizeof(*f));
        if (!f) {
                json_object_put(p);
                return -ENOMEM;
        }
        f->call = jsonrpc_call_ref(call);
        snprintf(f->name, sizeof(f->name), "%s", vm->cfg.name);
        r = vmms_worker_call_with(vm->worker, method, p, fds, n_fds, on_forward_reply, f);
        if (r < 0) {
                jsonrpc_call_unref(f->call);
                free(f);
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "VM '%s': the worker cannot be reached: %s",
                                          vm->cfg.name, strerror(-r));
        }
        return 0;
}

int vmms_api_kvp_get(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *name = NULL, *key = NULL, *pool = NULL, *guest = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "key", json_type_string, false, &key },
                { "pool", json_type_string, false, &pool },
                { "guest", json_type_boolean, false, &guest },
        };
        struct vmms_vm *vm;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        vm = vmms_api_vm(call, userdata, name, VMMS_VERB_KVP);
        return vm ? forward(call, vm, "ic.kvp.get", params, NULL, 0) : 0;
}

int vmms_api_kvp_set(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *name = NULL, *key = NULL, *value = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "key", json_type_string, true, &key },
                { "value", json_type_string, true, &value },
        };
        struct vmms_vm *vm;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        vm = vmms_api_vm(call, userdata, name, VMMS_VERB_KVP);
        return vm ? forward(call, vm, "ic.kvp.set", params, NULL, 0) : 0;
}

int vmms_api_kvp_delete(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *name = NULL, *key = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "key", json_type_string, true, &key },
        };
        struct vmms_vm *vm;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        vm = vmms_api_vm(call, userdata, name, VMMS_VERB_KVP);
        return vm ? forward(call, vm, "ic.kvp.delete", params, NULL, 0) : 0;
}

int vmms_api_copy_to(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *client = userdata;
        struct json_object *name = NULL, *gpath = NULL, *fdp = NULL, *path = NULL, *mode = NULL, *overwrite = NULL,
                           *mkdirs = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "guest_path", json_type_string, true, &gpath },
                { "fd", json_type_boolean, false, &fdp },
                { "path", json_type_string, false, &path },
                { "mode", json_type_int, false, &mode },
                { "overwrite", json_type_boolean, false, &overwrite },
                { "mkdirs", json_type_boolean, false, &mkdirs },
        };
        _cleanup_json_ struct json_object *fwd = NULL;
        _cleanup_close_ int fd = -1;
        struct vmms_vm *vm;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        vm = vmms_api_vm(call, client, name, VMMS_VERB_COPY);
        if (!vm)
                return 0;
        if (fdp && json_object_get_boolean(fdp)) {
                struct jsonrpc_conn *conn = jsonrpc_call_get_conn(call);

                fd = conn ? jsonrpc_conn_take_fd(conn) : -ENOENT;
                if (fd < 0)
                        return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                                  "Invalid params: fd: no file descriptor came with the request");
        } else if (path) {
                /* vmms reads files for root only: anyone else passes the file it may read. */
                if (client->uid != 0)
                        return jsonrpc_call_error(call, VMMS_ERROR_ACCESS,
                                                  "Pass the file as a descriptor (\"fd\": true); only root names a path");
                fd = open(json_object_get_string(path), O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "%s: %s", json_object_get_string(path),
                                                  strerror(errno));
        } else {
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                          "Invalid params: give the host file as \"fd\": true (passed) or \"path\"");
        }
        fwd = json_object_new_object();
        if (!fwd)
                return -ENOMEM;
        json_object_object_foreach(params, key, val)
                if (strcmp(key, "path") != 0)
                        json_object_object_add(fwd, key, json_object_get(val));
        json_object_object_add(fwd, "fd", json_object_new_boolean(true));
        vmms_vm_log(vm, LOG_INFO, "Copying a file to %s in the guest", json_object_get_string(gpath));
        return forward(call, vm, "ic.fcopy", fwd, &fd, 1);
}

/* --- the heartbeat ------------------------------------------------------------------- */

static void heartbeat_set(struct vmms_vm *vm, const char *hb)
{
        char previous[sizeof(vm->heartbeat)];

        if (strcmp(vm->heartbeat, hb) == 0)
                return;
        snprintf(previous, sizeof(previous), "%s", vm->heartbeat);
        snprintf(vm->heartbeat, sizeof(vm->heartbeat), "%s", hb);
        if (strcmp(hb, "Lost") == 0)
                vmms_vm_log(vm, LOG_WARNING, "Heartbeat lost: the guest stopped answering");
        else
                vmms_vm_log(vm, LOG_INFO, "Heartbeat: %s", hb);
        for (struct vmms_client *c = vm->manager->clients; c; c = c->next) {
                struct json_object *e;

                if (!c->subscribed)
                        continue;
                e = json_object_new_object();
                if (!e)
                        return;
                json_object_object_add(e, "name", json_object_new_string(vm->cfg.name));
                json_object_object_add(e, "uuid", json_object_new_string(vm->cfg.uuid));
                json_object_object_add(e, "heartbeat", json_object_new_string(hb));
                json_object_object_add(e, "previous", previous[0] ? json_object_new_string(previous) : NULL);
                (void)jsonrpc_conn_notify(c->conn, VMMS_EVENT_HEARTBEAT_CHANGED, e);
        }
}

static const char *heartbeat_from(struct json_object *o, const char *key)
{
        struct json_object *v;
        const char *s;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        s = json_object_get_string(v);
        /* Only the words the worker uses: the string goes into the VM's state as is. */
        if (strcmp(s, "OK") == 0 || strcmp(s, "Lost") == 0 || strcmp(s, HEARTBEAT_NO_CONTACT) == 0 ||
            strcmp(s, "Disabled") == 0)
                return s;
        return NULL;
}

int vmms_ic_on_heartbeat(struct vmms_vm *vm, struct json_object *params)
{
        const char *hb = heartbeat_from(params, "heartbeat");

        if (!hb)
                return -EBADMSG;
        heartbeat_set(vm, hb);
        return 0;
}

void vmms_ic_on_worker_info(struct vmms_vm *vm, struct json_object *info)
{
        const char *hb = heartbeat_from(info, "heartbeat");

        if (hb)
                heartbeat_set(vm, hb);
}

void vmms_ic_worker_changed(struct vmms_vm *vm, bool running)
{
        /* A new worker has not heard from the guest yet; without one there is nothing to hear. */
        if (running)
                snprintf(vm->heartbeat, sizeof(vm->heartbeat), "%s",
                         vm->cfg.integration[IC_SVC_HEARTBEAT] ? HEARTBEAT_NO_CONTACT : "Disabled");
        else
                vm->heartbeat[0] = 0;
}

void vmms_ic_to_json(const struct vmms_vm *vm, struct json_object *o)
{
        if (vm->worker && vm->heartbeat[0])
                json_object_object_add(o, "heartbeat", json_object_new_string(vm->heartbeat));
}

/* --- graceful stop ------------------------------------------------------------------- */

static void on_shutdown_reply(struct jsonrpc_conn *c, int r, struct json_object *result,
                              const struct jsonrpc_error *error, void *userdata)
{
        struct vmms_vm *vm = userdata;

        if (r < 0)
                return;         /* the worker is gone: its end finishes the stop */
        if (!error) {
                vmms_vm_log(vm, LOG_INFO, "The guest accepted the shutdown request");
                return;
        }
        if (error->code == VMMS_ERROR_CANCELLED)
                return;         /* the worker is exiting: the guest went down already */
        vmms_vm_log(vm, LOG_INFO, "No shutdown through the integration service (%s); pressing the power button",
                    error->message);
        if (vm->state == VMMS_STATE_STOPPING && !vm->turning_off && vm->worker)
                (void)vmms_vm_press_power_button(vm);
}

int vmms_ic_shutdown(struct vmms_vm *vm)
{
        struct json_object *p;

        if (!vm->cfg.integration[IC_SVC_SHUTDOWN])
                return -EOPNOTSUPP;
        p = json_object_new_object();
        if (!p)
                return -ENOMEM;
        json_object_object_add(p, "reason", json_object_new_string("the host asked the VM to stop (vm.stop)"));
        return vmms_worker_call_with(vm->worker, "ic.shutdown", p, NULL, 0, on_shutdown_reply, vm);
}
