/* SPDX-License-Identifier: MIT */
/*
 * Virtual switches (vmms-api(7) "switch.*"): Linux bridges made by the switch library
 * (vmms/switch.h). What vmms keeps is their configuration, in STATE_DIR/switches.json
 * ({"NAME": {"type": ..., "uplink": ..., "address": ...}}), so they come back after the
 * host reboots: vmms creates every switch that is missing when it starts. A VM's NIC names
 * a switch; its worker's TAP becomes a port of it when the VM starts (worker.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/log.h"
#include "vmms/switch.h"
#include "vmms/util.h"
#include "registry.h"
#include "vmms.h"

#define SWITCHES_FILE "switches.json"

static int state_dirfd(const struct vmms_manager *m)
{
        int fd = open(m->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

static int switches_save(struct vmms_manager *m)
{
        _cleanup_close_ int dfd = state_dirfd(m);
        const char *text;

        if (dfd < 0)
                return dfd;
        text = json_object_to_json_string_ext(m->switches, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        if (!text)
                return -ENOMEM;
        return vmms_write_file_atomic(dfd, SWITCHES_FILE, text, strlen(text), 0600);
}

static const char *get_string(struct json_object *o, const char *key)
{
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
               json_object_get_string(v) : NULL;
}

/* The library's view of one saved entry; -EINVAL when the entry is malformed. */
static int entry_config(const char *name, struct json_object *e, struct vswitch_config *ret)
{
        const char *type = get_string(e, "type");
        int t;

        if (!json_object_is_type(e, json_type_object) || !type || (t = vswitch_type_from_string(type)) < 0)
                return -EINVAL;
        *ret = (struct vswitch_config) {
                .name = name,
                .type = (enum vswitch_type)t,
                .uplink = get_string(e, "uplink"),
                .address = get_string(e, "address"),
        };
        return 0;
}

static const char *create_error(int r)
{
        switch (r) {
        case -ENODEV:
                return "the uplink interface does not exist";
        case -EPERM:
                return "not permitted (vmms needs CAP_NET_ADMIN)";
        case -EADDRNOTAVAIL:
        case -EINVAL:
                return "invalid configuration";
        default:
                return strerror(-r);
        }
}

int vmms_switches_load(struct vmms_manager *m)
{
        _cleanup_close_ int dfd = state_dirfd(m);
        _cleanup_close_ int fd = -1;
        struct json_object *o;

        m->switches = json_object_new_object();
        if (!m->switches)
                return -ENOMEM;
        if (dfd < 0)
                return dfd;
        fd = openat(dfd, SWITCHES_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "Cannot open %s/%s: %m", m->state_dir,
                                                             SWITCHES_FILE);
        o = json_object_from_fd(fd);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                log_error("%s/%s is not a JSON object; no switch is restored (the file is left as it is)",
                          m->state_dir, SWITCHES_FILE);
                return 0;
        }
        json_object_put(m->switches);
        m->switches = o;
        json_object_object_foreach(o, name, e) {
                struct vswitch_config c;
                int r = entry_config(name, e, &c);

                if (r >= 0)
                        r = vswitch_create(&c);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        log_warning("Switch '%s' cannot be restored: %s", name, create_error(r));
                else
                        log_info("Switch '%s' (%s) restored", name, vswitch_type_to_string(c.type));
        }
        return 0;
}

/* The VM whose worker holds a port of switch `name`, if any. */
static struct vmms_vm *switch_user(struct vmms_manager *m, const char *name)
{
        for (size_t i = 0; i < m->n_vms; i++) {
                struct vmms_vm *vm = m->vms[i];

                if (!vm->worker)
                        continue;
                for (unsigned k = 0; k < vm->cfg.n_nics; k++)
                        if (vm->cfg.nics[k].switch_name && strcmp(vm->cfg.nics[k].switch_name, name) == 0)
                                return vm;
        }
        return NULL;
}

static struct json_object *switch_to_json(struct vmms_manager *m, const char *name, struct json_object *e)
{
        struct json_object *o = json_object_new_object(), *vms = json_object_new_array();
        char bridge[VSWITCH_IFNAME_MAX], ns[64];
        struct vswitch_config c;
        enum vswitch_type live;

        if (!o || !vms) {
                json_object_put(o);
                json_object_put(vms);
                return NULL;
        }
        json_object_object_add(o, "name", json_object_new_string(name));
        if (entry_config(name, e, &c) < 0) {
                json_object_object_add(o, "error", json_object_new_string("malformed entry in " SWITCHES_FILE));
                json_object_put(vms);
                return o;
        }
        json_object_object_add(o, "type", json_object_new_string(vswitch_type_to_string(c.type)));
        if (c.uplink)
                json_object_object_add(o, "uplink", json_object_new_string(c.uplink));
        if (c.address)
                json_object_object_add(o, "address", json_object_new_string(c.address));
        vswitch_bridge_name(name, bridge);
        json_object_object_add(o, "bridge", json_object_new_string(bridge));
        if (c.type == VSWITCH_PRIVATE) {
                vswitch_netns_name(name, ns, sizeof(ns));
                json_object_object_add(o, "netns", json_object_new_string(ns));
        }
        json_object_object_add(o, "present", json_object_new_boolean(vswitch_get_type(name, &live) >= 0));
        for (size_t i = 0; i < m->n_vms; i++)
                for (unsigned k = 0; k < m->vms[i]->cfg.n_nics; k++) {
                        const char *s = m->vms[i]->cfg.nics[k].switch_name;

                        if (s && strcmp(s, name) == 0) {
                                json_object_array_add(vms, json_object_new_string(m->vms[i]->cfg.name));
                                break;
                        }
                }
        json_object_object_add(o, "vms", vms);
        return o;
}

int vmms_api_switch_create(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *cl = userdata;
        struct vmms_manager *m = cl->manager;
        struct json_object *name = NULL, *type = NULL, *uplink = NULL, *address = NULL, *e;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "type", json_type_string, true, &type },
                { "uplink", json_type_string, false, &uplink },
                { "address", json_type_string, false, &address },
        };
        struct vswitch_config c;
        const char *n;
        int t, r;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        n = json_object_get_string(name);
        t = vswitch_type_from_string(json_object_get_string(type));
        if (t < 0)
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "type: '%s' is not external, internal or private",
                                          json_object_get_string(type));
        c = (struct vswitch_config) { .name = n, .type = (enum vswitch_type)t,
                                      .uplink = uplink ? json_object_get_string(uplink) : NULL,
                                      .address = address ? json_object_get_string(address) : NULL };
        if (c.type == VSWITCH_EXTERNAL && !c.uplink)
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "uplink: an external switch needs the host NIC to use");
        if (c.type != VSWITCH_EXTERNAL && c.uplink)
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "uplink: only an external switch has one");
        if (c.type != VSWITCH_INTERNAL && c.address)
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "address: only an internal switch has one");
        if (json_object_object_get_ex(m->switches, n, NULL))
                return jsonrpc_call_error(call, VMMS_ERROR_EXISTS, "A switch named '%s' exists", n);
        r = vswitch_create(&c);
        if (r == -EINVAL)
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG,
                                          "name: '%s' is not 1 to 64 of A-Z a-z 0-9 . _ -, or address is not A.B.C.D/N", n);
        if (r == -EEXIST)
                return jsonrpc_call_error(call, VMMS_ERROR_EXISTS,
                                          "Switch '%s': its bridge exists on the host but vmms does not manage it", n);
        if (r == -ENODEV)
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "uplink: the host has no interface '%s'", c.uplink);
        if (r < 0)
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "Switch '%s' cannot be created: %s", n,
                                          create_error(r));
        e = json_object_new_object();
        if (!e) {
                (void)vswitch_delete(n);
                return -ENOMEM;
        }
        json_object_object_add(e, "type", json_object_get(type));
        if (uplink)
                json_object_object_add(e, "uplink", json_object_get(uplink));
        if (address)
                json_object_object_add(e, "address", json_object_get(address));
        json_object_object_add(m->switches, n, e);
        r = switches_save(m);
        if (r < 0) {
                json_object_object_del(m->switches, n);
                (void)vswitch_delete(n);
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "Cannot save the switches: %s", strerror(-r));
        }
        log_info("Switch '%s' (%s) created", n, vswitch_type_to_string(c.type));
        return jsonrpc_call_reply(call, switch_to_json(m, n, e));
}

int vmms_api_switch_list(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *cl = userdata;
        _cleanup_json_ struct json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        if (jsonrpc_params_parse(call, params, NULL, 0) < 0)
                return 0;
        json_object_object_foreach(cl->manager->switches, name, e) {
                struct json_object *o = switch_to_json(cl->manager, name, e);

                if (!o)
                        return -ENOMEM;
                json_object_array_add(a, o);
        }
        return jsonrpc_call_reply(call, TAKE_PTR(a));
}

int vmms_api_switch_delete(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *cl = userdata;
        struct vmms_manager *m = cl->manager;
        struct json_object *name = NULL;
        const struct jsonrpc_param p[] = { { "name", json_type_string, true, &name } };
        struct vmms_vm *user;
        const char *n;
        int r;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        n = json_object_get_string(name);
        if (!json_object_object_get_ex(m->switches, n, NULL))
                return jsonrpc_call_error(call, VMMS_ERROR_NOT_FOUND, "No switch named '%s'", n);
        user = switch_user(m, n);
        if (user)
                return jsonrpc_call_error(call, VMMS_ERROR_STATE, "Switch '%s' is in use by VM '%s', which is %s", n,
                                          user->cfg.name, vmms_state_to_string(user->state));
        r = vswitch_delete(n);
        if (r < 0 && r != -ENOENT)
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "Switch '%s' cannot be deleted: %s", n, strerror(-r));
        json_object_object_del(m->switches, n);
        r = switches_save(m);
        if (r < 0)
                log_warning("Switch '%s' deleted, but the switches cannot be saved: %s", n, strerror(-r));
        log_info("Switch '%s' deleted", n);
        return jsonrpc_call_reply(call, NULL);
}

bool vmms_switch_known(const struct vmms_manager *m, const char *name)
{
        return m->switches && json_object_object_get_ex(m->switches, name, NULL);
}
