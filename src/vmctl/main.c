/* SPDX-License-Identifier: MIT */
/*
 * vmctl: the command line of vmms, as PowerShell's Hyper-V verbs are to VMMS. See vmctl(1).
 * Exit status: 0 ok, 1 vmms answered with an error, 2 usage error, 3 vmms unreachable.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmms-build-config.h"
#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/disk.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmctl.h"

static void usage_error(const char *fmt, ...) _printf_(1, 2);
static void usage_error(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "vmctl: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see vmctl --help)\n");
}

static void help(void)
{
        printf("Usage: vmctl [--socket PATH] [--json] VERB [ARGS]\n"
               "Manage the virtual machines of vmms.\n\n"
               "Verbs:\n"
               "  create NAME [--memory SIZE] [--vcpus N] [--kernel PATH] [--initrd PATH]\n"
               "              [--cmdline STR] [--disk PATH[,format=raw|qcow2][,ro][,cache=none]]...\n"
               "              [--nic switch=NAME[,mac=..]]...\n"
               "              [--nic tap=IFNAME[,bridge=BR][,mac=..][,queues=N]]...\n"
               "              [--hugepages] [--nested-virt] [--on-reboot restart|exit]\n"
               "  list                     the VMs: name, state, vCPUs, memory, uptime\n"
               "  show NAME                one VM in detail\n"
               "  start NAME               start it and wait until it runs\n"
               "  stop NAME [--turn-off] [--force] [--timeout SEC]\n"
               "                           shut it down gracefully (the shutdown integration service,\n"
               "                           else the ACPI power button); --turn-off at once; --force:\n"
               "                           turn off after the timeout (default 60 s)\n"
               "  pause NAME | resume NAME\n"
               "  save NAME                save it (Save-VM): its state and memory go to disk and its\n"
               "                           worker ends; start restores it, stop --turn-off discards it\n"
               "  delete NAME\n"
               "  console NAME             attach to its serial console (Ctrl-] detaches)\n"
               "  set NAME KEY=VALUE...    change its configuration while it is off (null resets)\n"
               "  kvp NAME [get KEY [--host] [--from-guest] | set KEY VALUE | delete KEY]\n"
               "                           key-value exchange with the guest (no operation: list)\n"
               "  copy-to NAME HOSTFILE GUESTPATH [--no-overwrite] [--mkdirs] [--mode MODE]\n"
               "                           copy a file into the guest (integration services)\n"
               "  switch list              the virtual switches and the VMs on each\n"
               "  switch create NAME --type private|internal|external [--uplink IFNAME]\n"
               "              [--address A.B.C.D/N]\n"
               "                           a virtual switch: private (guests only), internal (with\n"
               "                           the host, at --address), external (bridged to --uplink)\n"
               "  switch delete NAME       (no running VM may be on it)\n"
               "  disk create PATH [--size SIZE] [--backing BASE] [--cluster-size N]\n"
               "                           a new qcow2 image (with --backing: a differencing one)\n"
               "  disk info PATH [--json]  format, sizes, backing chain (vmctl disk --help)\n"
               "  host                     the host and vmms\n"
               "  events                   follow state changes\n"
               "  demo                     a guided first run (starts a private vmms if none runs)\n\n"
               "Options:\n"
               "      --socket PATH        vmms' socket (default: $%s, else %s)\n"
               "      --json               print the API's result as JSON, for scripts\n"
               "  -h, --help               show this help\n"
               "      --version            show the version\n\n"
               "Exit status: 0 success, 1 vmms answered with an error, 2 usage error,\n"
               "3 vmms cannot be reached.\n", VMMS_SOCKET_ENV, VMMS_SOCKET_PATH_DEFAULT);
}

int vmctl_connect(const struct vmctl *ctl, struct libvmms **ret)
{
        const char *path = ctl->socket ? ctl->socket : libvmms_default_socket();
        int r = libvmms_connect(path, ret);

        if (r < 0) {
                fprintf(stderr, "vmctl: cannot reach vmms at %s: %s%s\n", path, strerror(-r),
                        r == -ENOENT || r == -ECONNREFUSED ? " (is vmms running? see vmms(8))" :
                        r == -EACCES ? " (only root and members of group '" VMMS_GROUP "' may use it)" : "");
                return VMCTL_EXIT_UNREACHABLE;
        }
        return VMCTL_EXIT_OK;
}

int vmctl_fail(struct libvmms *c, int r, const struct libvmms_error *err)
{
        if (r == -EREMOTEIO) {
                fprintf(stderr, "vmctl: %s\n", err->message);
                return VMCTL_EXIT_API;
        }
        fprintf(stderr, "vmctl: lost the connection to vmms at %s: %s\n", libvmms_socket_path(c), strerror(-r));
        return VMCTL_EXIT_UNREACHABLE;
}

int vmctl_call(const struct vmctl *ctl, const char *method, struct json_object *params, struct json_object **ret)
{
        struct libvmms *c = NULL;
        struct libvmms_error err;
        int r = vmctl_connect(ctl, &c);

        if (r != VMCTL_EXIT_OK) {
                json_object_put(params);
                return r;
        }
        r = libvmms_call(c, method, params, ret, &err);     /* takes params */
        r = r < 0 ? vmctl_fail(c, r, &err) : VMCTL_EXIT_OK;
        libvmms_free(c);
        return r;
}

/* One verb: parse its options, make its call, print. */
struct verb_ctx {
        const struct vmctl *ctl;
        struct libvmms *c;
        int argc;
        char **argv;
};

/* Connect once the command line is known to be right (usage errors win over exit 3). */
static int need(struct verb_ctx *v)
{
        return v->c ? VMCTL_EXIT_OK : vmctl_connect(v->ctl, &v->c);
}

static int result(struct verb_ctx *v, int r, struct libvmms_error *err, struct json_object *res,
                  void (*human)(struct json_object *res, void *userdata), void *userdata)
{
        if (r < 0)
                return vmctl_fail(v->c, r, err);
        if (v->ctl->json)
                vmctl_print_json(res);
        else if (human)
                human(res, userdata);
        return VMCTL_EXIT_OK;
}

static void say_state(struct json_object *vm, void *userdata)
{
        const char *state = vmctl_json_str(vm, "state", "?");

        if (vmctl_json_int(vm, "pid", -1) >= 0 && strcmp(state, "Off") != 0)
                printf("VM '%s' is %s (worker pid %lld).\n", vmctl_json_str(vm, "name", "?"), state,
                       (long long)vmctl_json_int(vm, "pid", 0));
        else
                printf("VM '%s' is %s%s%s.\n", vmctl_json_str(vm, "name", "?"), state,
                       vmctl_json_str(vm, "reason", NULL) ? ": " : "", vmctl_json_str(vm, "reason", ""));
}

static int absolute(const char *opt, const char *path, char **ret)
{
        if (path[0] == '/') {
                *ret = strdup(path);
                return *ret ? 0 : -ENOMEM;
        }
        *ret = realpath(path, NULL);
        if (!*ret) {
                usage_error("%s: %s: %s", opt, path, strerror(errno));
                return -EINVAL;
        }
        return 0;
}

static int add_disk(struct json_object *disks, const char *spec)
{
        _cleanup_json_ struct json_object *d = json_object_new_object();
        _cleanup_free_ char *path = NULL;
        struct disk_config dc;
        char err[256];
        int r;

        r = disk_config_parse(spec, err, sizeof(err), &dc);
        if (r < 0) {
                usage_error("--disk %s: %s", spec, err);
                return r;
        }
        r = absolute("--disk", dc.path, &path);
        if (r >= 0 && d) {
                json_object_object_add(d, "path", json_object_new_string(path));
                /* No format=: vmms probes the image once and records what it found. */
                if (dc.format_set)
                        json_object_object_add(d, "format", json_object_new_string(disk_format_to_string(dc.format)));
                if (dc.metadata_cache)
                        json_object_object_add(d, "metadata_cache", json_object_new_int64((int64_t)dc.metadata_cache));
                if (dc.readonly)
                        json_object_object_add(d, "readonly", json_object_new_boolean(true));
                if (dc.cache != DISK_CACHE_WRITEBACK)
                        json_object_object_add(d, "cache", json_object_new_string(disk_cache_to_string(dc.cache)));
                if (dc.queues != 1)
                        json_object_object_add(d, "queues", json_object_new_int((int)dc.queues));
                if (dc.serial[0])
                        json_object_object_add(d, "serial", json_object_new_string(dc.serial));
                json_object_array_add(disks, TAKE_PTR(d));
        }
        disk_config_done(&dc);
        return r;
}

/* --nic switch=NAME[,mac=..][,queues=N]: passed to vmms as {"switch": NAME, ...}. */
static int add_nic(struct json_object *nics, const char *spec)
{
        _cleanup_json_ struct json_object *n = json_object_new_object();
        _cleanup_free_ char *copy = strdup(spec);
        char *save = NULL;

        if (!n || !copy)
                return -ENOMEM;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(item, '=');
                unsigned q;

                if (!eq || eq == item) {
                        usage_error("--nic %s: '%s' is not KEY=VALUE", spec, item);
                        return -EINVAL;
                }
                *eq++ = 0;
                if (strcmp(item, "queues") == 0 && safe_atou(eq, &q) >= 0)
                        json_object_object_add(n, item, json_object_new_int((int)q));
                else
                        json_object_object_add(n, item, json_object_new_string(eq));
        }
        json_object_array_add(nics, TAKE_PTR(n));
        return 0;
}

static int verb_create(struct verb_ctx *v)
{
        static const struct option options[] = {
                { "memory", required_argument, NULL, 'm' },
                { "vcpus", required_argument, NULL, 'p' },
                { "kernel", required_argument, NULL, 'k' },
                { "initrd", required_argument, NULL, 'i' },
                { "cmdline", required_argument, NULL, 'a' },
                { "disk", required_argument, NULL, 'd' },
                { "nic", required_argument, NULL, 'n' },
                { "hugepages", no_argument, NULL, 'H' },
                { "nested-virt", no_argument, NULL, 'V' },
                { "on-reboot", required_argument, NULL, 'R' },
                {}
        };
        _cleanup_json_ struct json_object *cfg = json_object_new_object(), *disks = json_object_new_array(),
                                          *nics = json_object_new_array(), *res = NULL;
        struct libvmms_error err;
        unsigned n;
        int c, r;

        if (!cfg || !disks || !nics)
                return VMCTL_EXIT_API;
        while ((c = getopt_long(v->argc, v->argv, "", options, NULL)) >= 0) {
                char *path = NULL;

                switch (c) {
                case 'm':
                        json_object_object_add(cfg, "memory", json_object_new_string(optarg));
                        break;
                case 'p':
                        if (safe_atou(optarg, &n) < 0 || n > INT_MAX) {
                                usage_error("--vcpus: '%s' is not a number", optarg);
                                return VMCTL_EXIT_USAGE;
                        }
                        json_object_object_add(cfg, "vcpus", json_object_new_int((int)n));
                        break;
                case 'k':
                case 'i':
                        if (absolute(c == 'k' ? "--kernel" : "--initrd", optarg, &path) < 0)
                                return VMCTL_EXIT_USAGE;
                        json_object_object_add(cfg, c == 'k' ? "kernel" : "initrd", json_object_new_string(path));
                        free(path);
                        break;
                case 'a':
                        json_object_object_add(cfg, "cmdline", json_object_new_string(optarg));
                        break;
                case 'd':
                        if (add_disk(disks, optarg) < 0)
                                return VMCTL_EXIT_USAGE;
                        break;
                case 'n':
                        if (add_nic(nics, optarg) < 0)
                                return VMCTL_EXIT_USAGE;
                        break;
                case 'H':
                        json_object_object_add(cfg, "hugepages", json_object_new_boolean(true));
                        break;
                case 'V':
                        json_object_object_add(cfg, "nested_virtualization", json_object_new_boolean(true));
                        break;
                case 'R':
                        json_object_object_add(cfg, "on_reboot", json_object_new_string(optarg));
                        break;
                default:
                        return VMCTL_EXIT_USAGE;
                }
        }
        if (optind + 1 != v->argc) {
                usage_error("create takes one NAME");
                return VMCTL_EXIT_USAGE;
        }
        if ((r = need(v)) != VMCTL_EXIT_OK)
                return r;
        json_object_object_add(cfg, "name", json_object_new_string(v->argv[optind]));
        if (json_object_array_length(disks) > 0)
                json_object_object_add(cfg, "disks", json_object_get(disks));
        if (json_object_array_length(nics) > 0)
                json_object_object_add(cfg, "nics", json_object_get(nics));
        r = libvmms_vm_create(v->c, TAKE_PTR(cfg), &res, &err);
        if (r >= 0 && !v->ctl->json)
                printf("Created VM '%s' (%s).\n", vmctl_json_str(res, "name", "?"), vmctl_json_str(res, "uuid", "?"));
        return result(v, r, &err, res, NULL, NULL);
}

/* Verbs that take exactly one NAME and no options. */
static const char *one_name(struct verb_ctx *v, const char *verb)
{
        if (v->argc != 2 || v->argv[1][0] == '-') {
                usage_error("%s takes one NAME", verb);
                return NULL;
        }
        return v->argv[1];
}

static void print_list(struct json_object *res, void *userdata) { vmctl_print_list(res); }
static void print_vm(struct json_object *res, void *userdata) { vmctl_print_vm(res); }
static void print_host(struct json_object *res, void *userdata) { vmctl_print_host(res); }

static int verb_list(struct verb_ctx *v)
{
        _cleanup_json_ struct json_object *res = NULL;
        struct libvmms_error err;
        int r;

        if (v->argc != 1) {
                usage_error("list takes no arguments");
                return VMCTL_EXIT_USAGE;
        }
        if (need(v) != VMCTL_EXIT_OK)
                return VMCTL_EXIT_UNREACHABLE;
        r = libvmms_vm_list(v->c, &res, &err);
        return result(v, r, &err, res, print_list, NULL);
}

static int verb_host(struct verb_ctx *v)
{
        _cleanup_json_ struct json_object *res = NULL;
        struct libvmms_error err;
        int r;

        if (v->argc != 1) {
                usage_error("host takes no arguments");
                return VMCTL_EXIT_USAGE;
        }
        if (need(v) != VMCTL_EXIT_OK)
                return VMCTL_EXIT_UNREACHABLE;
        r = libvmms_host_info(v->c, &res, &err);
        return result(v, r, &err, res, print_host, NULL);
}

static int verb_name(struct verb_ctx *v, const char *verb)
{
        _cleanup_json_ struct json_object *res = NULL;
        struct libvmms_error err;
        const char *name = one_name(v, verb);
        int r;

        if (!name)
                return VMCTL_EXIT_USAGE;
        if (need(v) != VMCTL_EXIT_OK)
                return VMCTL_EXIT_UNREACHABLE;
        if (strcmp(verb, "show") == 0) {
                r = libvmms_vm_get(v->c, name, &res, &err);
                return result(v, r, &err, res, print_vm, NULL);
        }
        if (strcmp(verb, "start") == 0)
                r = libvmms_vm_start(v->c, name, &res, &err);
        else if (strcmp(verb, "pause") == 0)
                r = libvmms_vm_pause(v->c, name, &res, &err);
        else if (strcmp(verb, "resume") == 0)
                r = libvmms_vm_resume(v->c, name, &res, &err);
        else if (strcmp(verb, "save") == 0)
                r = libvmms_vm_save(v->c, name, &res, &err);
        else {
                r = libvmms_vm_delete(v->c, name, &err);
                if (r >= 0 && !v->ctl->json)
                        printf("Deleted VM '%s'.\n", name);
        }
        return result(v, r, &err, res, strcmp(verb, "delete") == 0 ? NULL : say_state, NULL);
}

static int verb_show(struct verb_ctx *v) { return verb_name(v, "show"); }
static int verb_start(struct verb_ctx *v) { return verb_name(v, "start"); }
static int verb_pause(struct verb_ctx *v) { return verb_name(v, "pause"); }
static int verb_resume(struct verb_ctx *v) { return verb_name(v, "resume"); }
static int verb_save(struct verb_ctx *v) { return verb_name(v, "save"); }
static int verb_delete(struct verb_ctx *v) { return verb_name(v, "delete"); }

static int verb_stop(struct verb_ctx *v)
{
        static const struct option options[] = {
                { "turn-off", no_argument, NULL, 't' },
                { "force", no_argument, NULL, 'f' },
                { "timeout", required_argument, NULL, 'T' },
                {}
        };
        _cleanup_json_ struct json_object *res = NULL;
        struct libvmms_error err;
        bool turn_off = false, force = false;
        int timeout = -1, c, r;
        unsigned t;

        while ((c = getopt_long(v->argc, v->argv, "", options, NULL)) >= 0)
                switch (c) {
                case 't': turn_off = true; break;
                case 'f': force = true; break;
                case 'T':
                        if (safe_atou(optarg, &t) < 0 || t > 86400) {
                                usage_error("--timeout: '%s' is not a number of seconds (0 to 86400)", optarg);
                                return VMCTL_EXIT_USAGE;
                        }
                        timeout = (int)t;
                        break;
                default:
                        return VMCTL_EXIT_USAGE;
                }
        if (optind + 1 != v->argc) {
                usage_error("stop takes one NAME");
                return VMCTL_EXIT_USAGE;
        }
        if (need(v) != VMCTL_EXIT_OK)
                return VMCTL_EXIT_UNREACHABLE;
        r = libvmms_vm_stop(v->c, v->argv[optind], turn_off, force, timeout, &res, &err);
        return result(v, r, &err, res, say_state, NULL);
}

/* KEY=VALUE: JSON numbers, booleans and null as such for the keys that take them, else strings. */
static struct json_object *set_value(const char *key, const char *value)
{
        static const char *const strings[] = { "name", "kernel", "initrd", "cmdline", "memory", "on_reboot" };

        for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
                if (strcmp(key, strings[i]) == 0)
                        return strcmp(value, "null") == 0 ? NULL : json_object_new_string(value);
        if (strcmp(value, "null") == 0)
                return NULL;
        {
                struct json_object *o = json_tokener_parse(value);

                return o ? o : json_object_new_string(value);
        }
}

static int verb_set(struct verb_ctx *v)
{
        _cleanup_json_ struct json_object *changes = json_object_new_object(), *res = NULL;
        struct libvmms_error err;
        int r;

        if (!changes)
                return VMCTL_EXIT_API;
        if (v->argc < 3) {
                usage_error("set takes NAME KEY=VALUE...");
                return VMCTL_EXIT_USAGE;
        }
        for (int i = 2; i < v->argc; i++) {
                char *eq = strchr(v->argv[i], '=');
                _cleanup_free_ char *key = NULL;

                if (!eq || eq == v->argv[i]) {
                        usage_error("set: '%s' is not KEY=VALUE", v->argv[i]);
                        return VMCTL_EXIT_USAGE;
                }
                key = strndup(v->argv[i], (size_t)(eq - v->argv[i]));
                if (!key)
                        return VMCTL_EXIT_API;
                if ((strcmp(key, "kernel") == 0 || strcmp(key, "initrd") == 0) && eq[1] && eq[1] != '/' &&
                    strcmp(eq + 1, "null") != 0) {
                        _cleanup_free_ char *path = NULL;

                        if (absolute(key, eq + 1, &path) < 0)
                                return VMCTL_EXIT_USAGE;
                        json_object_object_add(changes, key, json_object_new_string(path));
                } else
                        json_object_object_add(changes, key, set_value(key, eq + 1));
        }
        if (need(v) != VMCTL_EXIT_OK)
                return VMCTL_EXIT_UNREACHABLE;
        r = libvmms_vm_set(v->c, v->argv[1], TAKE_PTR(changes), &res, &err);
        return result(v, r, &err, res, print_vm, NULL);
}

static int verb_console(struct verb_ctx *v)
{
        struct libvmms_error err;
        const char *name = one_name(v, "console");
        int fd = -1, r;

        if (!name)
                return VMCTL_EXIT_USAGE;
        if (need(v) != VMCTL_EXIT_OK)
                return VMCTL_EXIT_UNREACHABLE;
        r = libvmms_vm_console(v->c, name, &fd, NULL, &err);
        if (r < 0)
                return vmctl_fail(v->c, r, &err);
        r = vmctl_console_run(fd, name);
        close(fd);
        if (r < 0) {
                fprintf(stderr, "vmctl: console: %s\n", strerror(-r));
                return VMCTL_EXIT_API;
        }
        return VMCTL_EXIT_OK;
}

static int verb_events(struct verb_ctx *v)
{
        struct libvmms_error err;
        int r;

        if (v->argc != 1) {
                usage_error("events takes no arguments");
                return VMCTL_EXIT_USAGE;
        }
        if (need(v) != VMCTL_EXIT_OK)
                return VMCTL_EXIT_UNREACHABLE;
        r = libvmms_events_subscribe(v->c, &err);
        if (r < 0)
                return vmctl_fail(v->c, r, &err);
        for (;;) {
                _cleanup_json_ struct json_object *ev = NULL;

                r = libvmms_next_event(v->c, -1, &ev);
                if (r < 0)
                        return vmctl_fail(v->c, r, &err);
                if (v->ctl->json) {
                        printf("%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
                        fflush(stdout);
                } else
                        vmctl_print_event(ev);
        }
}

static int verb_kvp(struct verb_ctx *v) { return vmctl_kvp(v->ctl, v->argc, v->argv); }
static int verb_copy_to(struct verb_ctx *v) { return vmctl_copy_to(v->ctl, v->argc, v->argv); }
static int verb_switch(struct verb_ctx *v) { return vmctl_switch(v->ctl, v->argc, v->argv); }
static int verb_disk(struct verb_ctx *v) { return vmctl_disk(v->ctl, v->argc, v->argv); }

static const struct {
        const char *name;
        int (*fn)(struct verb_ctx *v);
} verbs[] = {
        { "create", verb_create },
        { "list", verb_list },
        { "show", verb_show },
        { "start", verb_start },
        { "stop", verb_stop },
        { "pause", verb_pause },
        { "resume", verb_resume },
        { "save", verb_save },
        { "delete", verb_delete },
        { "console", verb_console },
        { "set", verb_set },
        { "host", verb_host },
        { "events", verb_events },
        { "kvp", verb_kvp },
        { "copy-to", verb_copy_to },
        { "switch", verb_switch },
        { "disk", verb_disk },
};

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        struct vmctl ctl = {};
        struct verb_ctx v = { .ctl = &ctl };
        int c, r;

        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 's': ctl.socket = optarg; break;
                case 'j': ctl.json = true; break;
                case 'h':
                        help();
                        return VMCTL_EXIT_OK;
                case 'V':
                        printf("vmctl %s\n", VMMS_VERSION);
                        return VMCTL_EXIT_OK;
                default:
                        return VMCTL_EXIT_USAGE;
                }
        if (optind >= argc) {
                usage_error("no verb given");
                return VMCTL_EXIT_USAGE;
        }
        if (strcmp(argv[optind], "demo") == 0) {
                if (optind + 1 != argc) {
                        usage_error("demo takes no arguments");
                        return VMCTL_EXIT_USAGE;
                }
                return vmctl_demo(&ctl);
        }
        if (strcmp(argv[optind], "help") == 0) {
                help();
                return VMCTL_EXIT_OK;
        }
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
                if (strcmp(argv[optind], verbs[i].name) != 0)
                        continue;
                v.argc = argc - optind;
                v.argv = argv + optind;
                optind = 0;     /* the verb's own options start after its name */
                r = verbs[i].fn(&v);
                libvmms_free(v.c);
                fflush(stdout);
                return r;
        }
        usage_error("unknown verb '%s'", argv[optind]);
        return VMCTL_EXIT_USAGE;
}
