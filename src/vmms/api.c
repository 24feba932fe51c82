/* SPDX-License-Identifier: MIT */
/*
 * The public API's methods (vmms-api(7)). Each VM method names its verb; the verb's row in
 * the state table (state.c) decides whether the VM's state allows it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "vmms-build-config.h"
#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "disk_chain.h"
#include "registry.h"
#include "vmms.h"

#define STOP_TIMEOUT_DEFAULT 60u
#define STOP_TIMEOUT_MAX     86400u

static int reply_vm(struct jsonrpc_call *call, struct vmms_vm *vm)
{
        struct json_object *o;
        int r = vmms_vm_to_json(vm, &o);

        if (r < 0)
                return r;
        return jsonrpc_call_reply(call, o);
}

/* The VM a call names, if the verb is allowed in its state; else the call is answered. */
static struct vmms_vm *api_vm(struct jsonrpc_call *call, struct vmms_client *c, struct json_object *name,
                              enum vmms_verb verb)
{
        const char *n = json_object_get_string(name);
        struct vmms_vm *vm = vmms_manager_find(c->manager, n);
        char states[128];

        if (!vm) {
                jsonrpc_call_error(call, VMMS_ERROR_NOT_FOUND, "No VM named '%s'", n);
                return NULL;
        }
        if (!vmms_verb_allowed(verb, vm->state)) {
                struct json_object *data = json_object_new_object();

                if (data)
                        json_object_object_add(data, "state", json_object_new_string(vmms_state_to_string(vm->state)));
                jsonrpc_call_error_data(call, VMMS_ERROR_STATE, data, "VM '%s' is %s; %s needs %s", vm->cfg.name,
                                        vmms_state_to_string(vm->state), vmms_verb_to_string(verb),
                                        vmms_verb_allowed_states(verb, states, sizeof(states)));
                return NULL;
        }
        return vm;
}

struct vmms_vm *vmms_api_vm(struct jsonrpc_call *call, struct vmms_client *c, struct json_object *name,
                            enum vmms_verb verb)
{
        return api_vm(call, c, name, verb);
}

static int api_name_only(struct jsonrpc_call *call, struct json_object *params, struct json_object **name)
{
        const struct jsonrpc_param p[] = { { "name", json_type_string, true, name } };

        return jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p));
}

/* A disk's image: below an --allow-dir, its format probed once when the configuration gives
 * none (and recorded: the worker never guesses), its backing chain readable. */
static int check_disk(const struct vmms_manager *m, unsigned i, struct disk_config *d, char *err, size_t len)
{
        _cleanup_close_ int fd = -1;
        struct disk_chain chain = {};
        char key[32];
        int r;

        snprintf(key, sizeof(key), "disks[%u].path", i);
        r = vmms_open_allowed(m, key, d->path, d->readonly ? O_RDONLY : O_RDWR, &fd, err, len);
        if (r < 0)
                return r;
        if (!d->format_set) {
                r = disk_image_probe(fd, &d->format);
                if (r < 0) {
                        snprintf(err, len, "%s: cannot read %s: %s", key, d->path, strerror(-r));
                        return r;
                }
                d->format_set = true;
        }
        r = vmms_disk_chain_open(m, key, d->path, fd, d->format, &chain, err, len);
        disk_chain_done(&chain);
        return r;
}

/* Files a configuration names must exist when it is written, not only when it boots, and be
 * below a directory vmms opens images from (--allow-dir; paths.c). */
static int check_files(const struct vmms_manager *m, struct vm_config *cfg, char *err, size_t len)
{
        int r;

        if (cfg->kernel && (r = vmms_check_allowed(m, "kernel", cfg->kernel, O_RDONLY, err, len)) < 0)
                return r;
        if (cfg->initrd && (r = vmms_check_allowed(m, "initrd", cfg->initrd, O_RDONLY, err, len)) < 0)
                return r;
        for (unsigned i = 0; i < cfg->n_disks; i++)
                if ((r = check_disk(m, i, &cfg->disks[i], err, len)) < 0)
                        return r;
        for (unsigned i = 0; i < cfg->n_nics; i++) {
                const char *sw = cfg->nics[i].switch_name;

                if (sw && !vmms_switch_known(m, sw)) {
                        snprintf(err, len, "nics[%u].switch: no switch named '%s' (vmctl switch list)", i, sw);
                        return -ENOENT;
                }
        }
        return 0;
}

/* Parse and check a whole configuration document for the VM `self` (NULL: a new one). */
static int api_parse_config(struct jsonrpc_call *call, struct vmms_manager *m, struct json_object *doc,
                            const struct vmms_vm *self, struct vm_config *ret)
{
        struct config_error err = {};
        struct vm_config cfg;
        struct vmms_vm *other;
        char msg[1024];
        int r;

        if (json_object_object_get_ex(doc, "console", NULL))
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "console: managed by vmms (use vm.console)");
        r = vm_config_from_json(doc, &cfg, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "%s", err.msg);
        if (!cfg.name) {
                vm_config_done(&cfg);
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "name: required");
        }
        if (!vmms_uuid_is_valid(cfg.uuid)) {
                r = jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "uuid: '%s' is not a UUID in lower-case canonical form",
                                       cfg.uuid);
                vm_config_done(&cfg);
                return r;
        }
        other = vmms_manager_find(m, cfg.name);
        if (other && other != self) {
                r = jsonrpc_call_error(call, VMMS_ERROR_EXISTS, "A VM named '%s' exists already (%s)", cfg.name,
                                       other->cfg.uuid);
                vm_config_done(&cfg);
                return r;
        }
        other = vmms_manager_find(m, cfg.uuid);
        if (other && other != self) {
                r = jsonrpc_call_error(call, VMMS_ERROR_EXISTS, "uuid: %s belongs to VM '%s'", cfg.uuid, other->cfg.name);
                vm_config_done(&cfg);
                return r;
        }
        if (check_files(m, &cfg, msg, sizeof(msg)) < 0) {
                vm_config_done(&cfg);
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "%s", msg);
        }
        *ret = cfg;
        return 1;
}

static int api_create(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *c = userdata;
        struct vmms_manager *m = c->manager;
        _cleanup_json_ struct json_object *doc = NULL;
        struct vm_config cfg;
        struct vmms_vm *vm;
        char uuid[VMMS_UUID_STRING_MAX];
        int r;

        if (!params || !json_object_is_type(params, json_type_object))
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                          "Invalid params: expected the VM's configuration, {\"name\": ...}");
        if (!json_object_object_get_ex(params, "name", NULL))
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "Invalid params: 'name' is required");
        r = json_object_deep_copy(params, &doc, NULL);
        if (r < 0)
                return -ENOMEM;
        if (!json_object_object_get_ex(doc, "uuid", NULL)) {
                r = vmms_uuid_generate(uuid);
                if (r < 0)
                        return r;
                json_object_object_add(doc, "uuid", json_object_new_string(uuid));
        }
        r = api_parse_config(call, m, doc, NULL, &cfg);
        if (r <= 0)
                return r;
        r = vmms_registry_save(m->vms_dirfd, &cfg);
        if (r < 0) {
                vm_config_done(&cfg);
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "Cannot save the configuration in %s: %s",
                                          m->state_dir, strerror(-r));
        }
        r = vmms_vm_new(m, &cfg, &vm);
        if (r >= 0 && (r = vmms_manager_add_vm(m, vm)) < 0)
                vmms_vm_free(vm);
        if (r < 0) {
                vm_config_done(&cfg);
                return r;
        }
        vmms_vm_log(vm, LOG_INFO, "Created (%s)", vm->cfg.uuid);
        vmms_manager_state_changed(m, vm, NULL, vmms_state_to_string(vm->state));
        return reply_vm(call, vm);
}

static int api_list(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *c = userdata;
        _cleanup_json_ struct json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        if (jsonrpc_params_parse(call, params, NULL, 0) < 0)
                return 0;
        for (size_t i = 0; i < c->manager->n_vms; i++) {
                struct json_object *o;
                int r = vmms_vm_to_json(c->manager->vms[i], &o);

                if (r < 0)
                        return r;
                json_object_array_add(a, o);
        }
        return jsonrpc_call_reply(call, TAKE_PTR(a));
}

/* A method whose only param is the VM's name: that VM, if it takes verb now (else answered). */
static struct vmms_vm *api_named_vm(struct jsonrpc_call *call, struct json_object *params, void *userdata,
                                    enum vmms_verb verb)
{
        struct json_object *name = NULL;

        if (api_name_only(call, params, &name) < 0)
                return NULL;
        return api_vm(call, userdata, name, verb);
}

static int api_get(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_vm *vm = api_named_vm(call, params, userdata, VMMS_VERB_GET);

        return vm ? reply_vm(call, vm) : 0;
}

static int api_set(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *c = userdata;
        struct json_object *name = NULL, *changes = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "config", json_type_object, true, &changes },
        };
        _cleanup_json_ struct json_object *doc = NULL;
        struct vm_config cfg;
        struct vmms_vm *vm;
        int r;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        vm = api_vm(call, c, name, VMMS_VERB_SET);
        if (!vm)
                return 0;
        r = vm_config_to_json(&vm->cfg, &doc);
        if (r < 0)
                return r;
        json_object_object_del(doc, "console");
        json_object_object_foreach(changes, key, val) {
                if (strcmp(key, "uuid") == 0)
                        return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "uuid: cannot be changed");
                if (!val)       /* null: back to the default */
                        json_object_object_del(doc, key);
                else
                        json_object_object_add(doc, key, json_object_get(val));
        }
        r = api_parse_config(call, c->manager, doc, vm, &cfg);
        if (r <= 0)
                return r;
        r = vmms_registry_save(c->manager->vms_dirfd, &cfg);
        if (r < 0) {
                vm_config_done(&cfg);
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "Cannot save the configuration: %s", strerror(-r));
        }
        vm_config_done(&vm->cfg);
        vm->cfg = cfg;
        vmms_vm_log(vm, LOG_INFO, "Configuration changed");
        return reply_vm(call, vm);
}

static int api_delete(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *c = userdata;
        struct json_object *name = NULL;
        struct vmms_vm *vm;
        int r;

        if (api_name_only(call, params, &name) < 0)
                return 0;
        vm = api_vm(call, c, name, VMMS_VERB_DELETE);
        if (!vm)
                return 0;
        r = vmms_registry_remove(c->manager->vms_dirfd, vm->cfg.uuid);
        if (r < 0 && r != -ENOENT)
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "VM '%s' cannot be deleted: %s", vm->cfg.name,
                                          strerror(-r));
        vmms_vm_log(vm, LOG_INFO, "Deleted");
        vmms_manager_remove_vm(c->manager, vm);
        vmms_manager_state_changed(c->manager, vm, vmms_state_to_string(vm->state), NULL);
        vmms_vm_free(vm);
        return jsonrpc_call_reply(call, NULL);
}

static int api_start(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_vm *vm = api_named_vm(call, params, userdata, VMMS_VERB_START);

        return vm ? vmms_vm_start(vm, call) : 0;
}

static int api_save(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_vm *vm = api_named_vm(call, params, userdata, VMMS_VERB_SAVE);

        return vm ? vmms_vm_save(vm, call) : 0;
}

static int api_stop(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *name = NULL, *turn_off = NULL, *force = NULL, *timeout = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "turn_off", json_type_boolean, false, &turn_off },
                { "force", json_type_boolean, false, &force },
                { "timeout", json_type_int, false, &timeout },
        };
        int64_t t = STOP_TIMEOUT_DEFAULT;
        bool hard;
        struct vmms_vm *vm;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        hard = turn_off && json_object_get_boolean(turn_off);
        if (timeout) {
                t = json_object_get_int64(timeout);
                if (t < 0 || t > STOP_TIMEOUT_MAX)
                        return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                                  "Invalid params: 'timeout' must be 0 to %u seconds", STOP_TIMEOUT_MAX);
        }
        vm = api_vm(call, userdata, name, hard ? VMMS_VERB_TURN_OFF : VMMS_VERB_STOP);
        if (!vm)
                return 0;
        return vmms_vm_stop(vm, call, hard, force && json_object_get_boolean(force), (unsigned)t);
}

static int api_pause_resume(struct jsonrpc_call *call, struct json_object *params, void *userdata, bool pause)
{
        struct json_object *name = NULL;
        struct vmms_vm *vm;
        int r;

        if (api_name_only(call, params, &name) < 0)
                return 0;
        vm = api_vm(call, userdata, name, pause ? VMMS_VERB_PAUSE : VMMS_VERB_RESUME);
        if (!vm)
                return 0;
        r = vmms_vm_pause(vm, call, pause);
        if (r < 0)
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "VM '%s': the worker cannot be reached: %s",
                                          vm->cfg.name, strerror(-r));
        return 0;
}

static int api_pause(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        return api_pause_resume(call, params, userdata, true);
}

static int api_resume(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        return api_pause_resume(call, params, userdata, false);
}

static int api_console(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *name = NULL, *want_fd = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "fd", json_type_boolean, false, &want_fd },
        };
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_close_ int fd = -1;
        struct vmms_vm *vm;
        const char *path;
        int r;

        if (!o)
                return -ENOMEM;
        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        vm = api_vm(call, userdata, name, VMMS_VERB_CONSOLE);
        if (!vm)
                return 0;
        path = vmms_worker_console_path(vm->worker);
        if (!path)
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "VM '%s' has no console", vm->cfg.name);
        json_object_object_add(o, "path", json_object_new_string(path));
        if (!want_fd || !json_object_get_boolean(want_fd))
                return jsonrpc_call_reply(call, TAKE_PTR(o));
        r = vmms_worker_console_connect(vm->worker, &fd);
        if (r < 0)
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "VM '%s': cannot connect to its console: %s",
                                          vm->cfg.name, strerror(-r));
        json_object_object_add(o, "fd", json_object_new_int(0));
        return jsonrpc_call_reply_fds(call, TAKE_PTR(o), &fd, 1);
}

static int api_subscribe(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *c = userdata;
        struct json_object *o;

        if (jsonrpc_params_parse(call, params, NULL, 0) < 0)
                return 0;
        c->subscribed = true;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "subscribed", json_object_new_boolean(true));
        return jsonrpc_call_reply(call, o);
}

static struct json_object *kvm_info(void)
{
        struct json_object *o = json_object_new_object();
        _cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

        if (!o)
                return NULL;
        json_object_object_add(o, "available", json_object_new_boolean(fd >= 0));
        if (fd < 0) {
                json_object_object_add(o, "error", json_object_new_string(strerror(errno)));
                return o;
        }
        json_object_object_add(o, "api_version", json_object_new_int(ioctl(fd, KVM_GET_API_VERSION, 0)));
        json_object_object_add(o, "max_vcpus", json_object_new_int(ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS)));
        return o;
}

static int api_host_info(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *c = userdata;
        struct vmms_manager *m = c->manager;
        _cleanup_json_ struct json_object *o = json_object_new_object(), *vms = json_object_new_object();
        unsigned n[_VMMS_STATE_MAX] = {};
        struct utsname u;
        struct sysinfo si;
        char host[256] = "";

        if (!o || !vms)
                return -ENOMEM;
        if (jsonrpc_params_parse(call, params, NULL, 0) < 0)
                return 0;
        (void)gethostname(host, sizeof(host) - 1);
        json_object_object_add(o, "version", json_object_new_string(VMMS_VERSION));
        json_object_object_add(o, "hostname", json_object_new_string(host));
        if (uname(&u) == 0)
                json_object_object_add(o, "kernel", json_object_new_string(u.release));
        json_object_object_add(o, "cpus", json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)));
        if (sysinfo(&si) == 0) {
                json_object_object_add(o, "memory", json_object_new_int64((int64_t)si.totalram * si.mem_unit));
                json_object_object_add(o, "memory_free", json_object_new_int64((int64_t)si.freeram * si.mem_unit));
        }
        json_object_object_add(o, "kvm", kvm_info());
        for (size_t i = 0; i < m->n_vms; i++)
                n[m->vms[i]->state]++;
        json_object_object_add(vms, "total", json_object_new_int((int)m->n_vms));
        for (unsigned s = 0; s < _VMMS_STATE_MAX; s++)
                json_object_object_add(vms, vmms_state_to_string(s), json_object_new_int((int)n[s]));
        json_object_object_add(o, "vms", TAKE_PTR(vms));
        json_object_object_add(o, "socket", json_object_new_string(m->socket_path));
        json_object_object_add(o, "state_dir", json_object_new_string(m->state_dir));
        json_object_object_add(o, "run_dir", json_object_new_string(m->run_dir));
        json_object_object_add(o, "vmwp", json_object_new_string(m->vmwp_path));
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        json_object_object_add(o, "uptime_usec", json_object_new_int64((int64_t)(now_usec(CLOCK_MONOTONIC) - m->start_usec)));
        json_object_object_add(o, "clients", json_object_new_int((int)m->n_clients));
        return jsonrpc_call_reply(call, TAKE_PTR(o));
}

const struct jsonrpc_method vmms_api_methods[] = {
        { "vm.create", api_create },
        { "vm.list", api_list },
        { "vm.get", api_get, VMMS_VERB_GET },
        { "vm.set", api_set, VMMS_VERB_SET },
        { "vm.delete", api_delete, VMMS_VERB_DELETE },
        { "vm.start", api_start, VMMS_VERB_START },
        { "vm.stop", api_stop, VMMS_VERB_STOP },
        { "vm.pause", api_pause, VMMS_VERB_PAUSE },
        { "vm.resume", api_resume, VMMS_VERB_RESUME },
        { "vm.save", api_save, VMMS_VERB_SAVE },
        { "vm.console", api_console, VMMS_VERB_CONSOLE },
        /* Integration services: ic.c */
        { "vm.kvp.get", vmms_api_kvp_get, VMMS_VERB_KVP },
        { "vm.kvp.set", vmms_api_kvp_set, VMMS_VERB_KVP },
        { "vm.kvp.delete", vmms_api_kvp_delete, VMMS_VERB_KVP },
        { "vm.copy_to", vmms_api_copy_to, VMMS_VERB_COPY },
        /* Virtual switches: switches.c */
        { "switch.create", vmms_api_switch_create },
        { "switch.list", vmms_api_switch_list },
        { "switch.delete", vmms_api_switch_delete },
        /* Disk images: disks.c */
        { "disk.create", vmms_api_disk_create },
        { "disk.info", vmms_api_disk_info },
        { "events.subscribe", api_subscribe },
        { "host.info", api_host_info },
};
const size_t vmms_api_n_methods = ARRAY_SIZE(vmms_api_methods);
