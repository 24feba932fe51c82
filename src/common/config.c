/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/config.h"
#include "vmms/macro.h"
#include "vmms/util.h"

static const char *const console_type_names[] = {
        [CONSOLE_STDIO] = "stdio",
        [CONSOLE_FILE] = "file",
        [CONSOLE_SOCKET] = "socket",
        [CONSOLE_NONE] = "none",
};

const char *console_type_to_string(enum console_type t)
{
        return (unsigned)t < ARRAY_SIZE(console_type_names) ? console_type_names[t] : NULL;
}

int console_type_from_string(const char *s)
{
        for (size_t i = 0; i < ARRAY_SIZE(console_type_names); i++)
                if (strcmp(s, console_type_names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

void vm_config_init(struct vm_config *c)
{
        *c = (struct vm_config) {
                .memory = VM_CONFIG_DEFAULT_MEMORY,
                .vcpus = 1,
                .console_type = CONSOLE_STDIO,
                .on_reboot = ON_REBOOT_RESTART,
                .integration = { true, true, true, true, true },
                .cpu_weight = VM_CONFIG_CPU_WEIGHT_DEFAULT,
                .kvm_fd = -1,
        };
}

void vm_config_done(struct vm_config *c)
{
        free(c->name);
        free(c->uuid);
        free(c->kernel);
        free(c->initrd);
        free(c->cmdline);
        free(c->console_path);
        for (unsigned i = 0; i < c->n_disks; i++)
                disk_config_done(&c->disks[i]);
        free(c->disks);
        for (unsigned i = 0; i < c->n_nics; i++)
                nic_config_done(&c->nics[i]);
        free(c->nics);
        vm_config_init(c);
}

/* Key parsers: each takes the JSON value and the key path for messages. */

static int get_string(struct json_object *v, const char *key, char **ret, struct config_error *err)
{
        char *s;

        if (!json_object_is_type(v, json_type_string))
                return config_error_set(err, "%s: expected a string", key);
        if (memchr(json_object_get_string(v), 0, (size_t)json_object_get_string_len(v)))
                return config_error_set(err, "%s: contains a NUL byte", key);
        s = strdup(json_object_get_string(v));
        if (!s)
                return -ENOMEM;
        free(*ret);
        *ret = s;
        return 0;
}

static int get_path(struct json_object *v, const char *key, char **ret, struct config_error *err)
{
        int r = get_string(v, key, ret, err);

        if (r < 0)
                return r;
        if ((*ret)[0] != '/')
                return config_error_set(err, "%s: '%s' is not an absolute path", key, *ret);
        if (strlen(*ret) >= 4096)
                return config_error_set(err, "%s: path too long", key);
        return 0;
}

static int get_bool(struct json_object *v, const char *key, bool *ret, struct config_error *err)
{
        if (!json_object_is_type(v, json_type_boolean))
                return config_error_set(err, "%s: expected true or false", key);
        *ret = json_object_get_boolean(v);
        return 0;
}

static int memory_check(uint64_t bytes, uint64_t *ret, struct config_error *err)
{
        if (bytes < VM_CONFIG_MEMORY_MIN || bytes > VM_CONFIG_MEMORY_MAX)
                return config_error_set(err, "memory: %llu bytes is out of range (%llu MiB to %llu MiB)",
                                        (unsigned long long)bytes, VM_CONFIG_MEMORY_MIN >> 20,
                                        VM_CONFIG_MEMORY_MAX >> 20);
        if (!IS_ALIGNED(bytes, 2 * MIB))
                return config_error_set(err, "memory: %llu bytes is not a multiple of 2 MiB",
                                        (unsigned long long)bytes);
        *ret = bytes;
        return 0;
}

int vm_config_memory_from_string(const char *s, uint64_t *ret, struct config_error *err)
{
        uint64_t v;

        /* A bare number is MiB, as on vmwp's --memory. */
        if (safe_atou64(s, &v) >= 0) {
                if (v > (VM_CONFIG_MEMORY_MAX >> 20))
                        return config_error_set(err, "memory: %s MiB is out of range (%llu MiB to %llu MiB)",
                                                s, VM_CONFIG_MEMORY_MIN >> 20, VM_CONFIG_MEMORY_MAX >> 20);
                return memory_check(v << 20, ret, err);
        }
        if (parse_size(s, &v) < 0)
                return config_error_set(err, "memory: '%s' is not a size (use e.g. \"512M\" or \"2G\")", s);
        return memory_check(v, ret, err);
}

static int memory_from_json(struct json_object *v, uint64_t *ret, struct config_error *err)
{
        if (json_object_is_type(v, json_type_int)) {
                int64_t mib = json_object_get_int64(v);

                if (mib <= 0 || (uint64_t)mib > (VM_CONFIG_MEMORY_MAX >> 20))
                        return config_error_set(err, "memory: %lld MiB is out of range (%llu MiB to %llu MiB)",
                                                (long long)mib, VM_CONFIG_MEMORY_MIN >> 20,
                                                VM_CONFIG_MEMORY_MAX >> 20);
                return memory_check((uint64_t)mib << 20, ret, err);
        }
        if (json_object_is_type(v, json_type_string))
                return vm_config_memory_from_string(json_object_get_string(v), ret, err);
        return config_error_set(err, "memory: expected a size string (\"512M\") or a number of MiB");
}

static int parse_console(struct json_object *v, struct vm_config *c, struct config_error *err)
{
        if (!json_object_is_type(v, json_type_object))
                return config_error_set(err, "console: expected an object {\"type\": ..., \"path\": ...}");
        json_object_object_foreach(v, key, val) {
                int r;

                if (strcmp(key, "type") == 0) {
                        if (!json_object_is_type(val, json_type_string))
                                return config_error_set(err, "console.type: expected a string");
                        r = console_type_from_string(json_object_get_string(val));
                        if (r < 0)
                                return config_error_set(err, "console.type: '%s' is not one of stdio, file, socket, none",
                                                        json_object_get_string(val));
                        c->console_type = (enum console_type)r;
                } else if (strcmp(key, "path") == 0) {
                        r = get_path(val, "console.path", &c->console_path, err);
                        if (r < 0)
                                return r;
                } else
                        return config_error_set(err, "console.%s: unknown key", key);
        }
        return 0;
}

int vm_config_add_disk(struct vm_config *c, struct disk_config *d, struct config_error *err)
{
        struct disk_config *n;

        if (c->n_disks >= VM_CONFIG_DISKS_MAX)
                return config_error_set(err, "disks: more than %u disks", VM_CONFIG_DISKS_MAX);
        n = realloc(c->disks, (c->n_disks + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        c->disks = n;
        c->disks[c->n_disks++] = *d;
        d->path = NULL;
        return 0;
}

static int parse_disk(struct json_object *v, unsigned idx, struct disk_config *d, struct config_error *err)
{
        char key[32], msg[VM_CONFIG_ERROR_MAX];
        int r = 0;

        snprintf(key, sizeof(key), "disks[%u]", idx);
        if (!json_object_is_type(v, json_type_object))
                return config_error_set(err, "%s: expected an object {\"path\": ...}", key);
        json_object_object_foreach(v, k, val) {
                char sub[64];

                snprintf(sub, sizeof(sub), "%s.%s", key, k);
                msg[0] = 0;
                if (strcmp(k, "path") == 0)
                        r = get_path(val, sub, &d->path, err);
                else if (strcmp(k, "readonly") == 0)
                        r = get_bool(val, sub, &d->readonly, err);
                else if (strcmp(k, "cache") == 0) {
                        if (!json_object_is_type(val, json_type_string))
                                return config_error_set(err, "%s: expected \"none\" or \"writeback\"", sub);
                        r = disk_config_set_cache(d, json_object_get_string(val), msg, sizeof(msg));
                } else if (strcmp(k, "queues") == 0) {
                        if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0)
                                return config_error_set(err, "%s: expected a positive integer", sub);
                        r = disk_config_set_queues(d, (unsigned long long)json_object_get_int64(val), msg, sizeof(msg));
                } else if (strcmp(k, "serial") == 0) {
                        if (!json_object_is_type(val, json_type_string))
                                return config_error_set(err, "%s: expected a string", sub);
                        r = disk_config_set_serial(d, json_object_get_string(val), msg, sizeof(msg));
                } else if (strcmp(k, "format") == 0) {
                        if (!json_object_is_type(val, json_type_string))
                                return config_error_set(err, "%s: expected \"raw\" or \"qcow2\"", sub);
                        r = disk_config_set_format(d, json_object_get_string(val), msg, sizeof(msg));
                } else if (strcmp(k, "metadata_cache") == 0) {
                        /* Bytes, or a size string as on the command line ("16M"). */
                        uint64_t bytes;

                        if (json_object_is_type(val, json_type_int) && json_object_get_int64(val) >= 0)
                                d->metadata_cache = (uint64_t)json_object_get_int64(val);
                        else if (json_object_is_type(val, json_type_string) &&
                                 parse_size(json_object_get_string(val), &bytes) >= 0 && bytes <= INT64_MAX)
                                d->metadata_cache = bytes;
                        else
                                return config_error_set(err, "%s: expected a number of bytes or a size (\"16M\")", sub);
                } else
                        return config_error_set(err, "%s: unknown key", sub);
                if (r < 0 && msg[0])
                        return config_error_set(err, "%s.%s", key, msg);
                if (r < 0)
                        return r;
        }
        if (!d->path)
                return config_error_set(err, "%s.path: required", key);
        return 0;
}

static int parse_disks(struct json_object *v, struct vm_config *c, struct config_error *err)
{
        size_t n;

        if (!json_object_is_type(v, json_type_array))
                return config_error_set(err, "disks: expected an array of objects");
        n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
                struct disk_config d;
                int r;

                disk_config_init(&d);
                r = parse_disk(json_object_array_get_idx(v, i), (unsigned)i, &d, err);
                if (r >= 0)
                        r = vm_config_add_disk(c, &d, err);
                disk_config_done(&d);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vm_config_add_nic(struct vm_config *c, struct nic_config *nic, struct config_error *err)
{
        struct nic_config *n;

        if (c->n_nics >= VM_CONFIG_NICS_MAX)
                return config_error_set(err, "nics: more than %u NICs", VM_CONFIG_NICS_MAX);
        n = realloc(c->nics, (c->n_nics + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        c->nics = n;
        c->nics[c->n_nics++] = *nic;
        nic->tap = nic->bridge = nic->switch_name = NULL;
        return 0;
}

static int parse_nics(struct json_object *v, struct vm_config *c, struct config_error *err)
{
        size_t n;

        if (!json_object_is_type(v, json_type_array))
                return config_error_set(err, "nics: expected an array of objects");
        n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
                char key[32], msg[VM_CONFIG_ERROR_MAX] = "";
                struct nic_config nic;
                int r;

                snprintf(key, sizeof(key), "nics[%zu]", i);
                r = nic_config_from_json(json_object_array_get_idx(v, i), key, msg, sizeof(msg), &nic);
                if (r < 0)
                        return r == -ENOMEM ? r : config_error_set(err, "%s", msg);
                r = vm_config_add_nic(c, &nic, err);
                nic_config_done(&nic);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The "integration" keys, in enum ic_service order; vm_config_init() turns all five on. */
_Static_assert(IC_SVC_COUNT == 5, "integration services");

static const char *const integration_names[IC_SVC_COUNT] = {
        [IC_SVC_HEARTBEAT] = "heartbeat",
        [IC_SVC_SHUTDOWN] = "shutdown",
        [IC_SVC_TIMESYNC] = "timesync",
        [IC_SVC_KVP] = "kvp",
        [IC_SVC_FCOPY] = "fcopy",
};

static int parse_integration(struct json_object *v, struct vm_config *c, struct config_error *err)
{
        if (!json_object_is_type(v, json_type_object))
                return config_error_set(err, "integration: expected an object {\"heartbeat\": true, ...}");
        json_object_object_foreach(v, key, val) {
                char sub[64];
                size_t i;
                int r;

                for (i = 0; i < IC_SVC_COUNT; i++)
                        if (strcmp(key, integration_names[i]) == 0)
                                break;
                snprintf(sub, sizeof(sub), "integration.%s", key);
                if (i == IC_SVC_COUNT)
                        return config_error_set(err, "%s: unknown key (heartbeat, shutdown, timesync, kvp, fcopy)", sub);
                r = get_bool(val, sub, &c->integration[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vm_config_from_json(struct json_object *o, struct vm_config *ret, struct config_error *err)
{
        struct vm_config c;
        int r = 0;

        if (!json_object_is_type(o, json_type_object))
                return config_error_set(err, "configuration: expected a JSON object");

        vm_config_init(&c);
        json_object_object_foreach(o, key, v) {
                if (strcmp(key, "name") == 0) {
                        r = get_string(v, "name", &c.name, err);
                        if (r >= 0 && !name_is_valid(c.name))
                                r = config_error_set(err, "name: '%s' is not a valid name ([A-Za-z0-9._-], 1 to 64 characters)", c.name);
                } else if (strcmp(key, "uuid") == 0) {
                        r = get_string(v, "uuid", &c.uuid, err);
                } else if (strcmp(key, "memory") == 0) {
                        r = memory_from_json(v, &c.memory, err);
                } else if (strcmp(key, "vcpus") == 0) {
                        int64_t n = json_object_get_int64(v);

                        if (!json_object_is_type(v, json_type_int))
                                r = config_error_set(err, "vcpus: expected an integer");
                        else if (n < 1 || n > VM_CONFIG_VCPUS_MAX)
                                r = config_error_set(err, "vcpus: %lld is out of range (1 to %u)",
                                                     (long long)n, VM_CONFIG_VCPUS_MAX);
                        else
                                c.vcpus = (unsigned)n;
                } else if (strcmp(key, "kernel") == 0) {
                        r = get_path(v, "kernel", &c.kernel, err);
                } else if (strcmp(key, "initrd") == 0) {
                        r = get_path(v, "initrd", &c.initrd, err);
                } else if (strcmp(key, "cmdline") == 0) {
                        r = get_string(v, "cmdline", &c.cmdline, err);
                        if (r >= 0 && strlen(c.cmdline) > VM_CONFIG_CMDLINE_MAX)
                                r = config_error_set(err, "cmdline: longer than %u bytes", VM_CONFIG_CMDLINE_MAX);
                } else if (strcmp(key, "hugepages") == 0) {
                        r = get_bool(v, "hugepages", &c.hugepages, err);
                } else if (strcmp(key, "nested_virtualization") == 0) {
                        r = get_bool(v, "nested_virtualization", &c.nested_virtualization, err);
                } else if (strcmp(key, "console") == 0) {
                        r = parse_console(v, &c, err);
                } else if (strcmp(key, "on_reboot") == 0) {
                        const char *s = json_object_get_string(v);

                        if (!json_object_is_type(v, json_type_string))
                                r = config_error_set(err, "on_reboot: expected \"restart\" or \"exit\"");
                        else if (strcmp(s, "restart") == 0)
                                c.on_reboot = ON_REBOOT_RESTART;
                        else if (strcmp(s, "exit") == 0)
                                c.on_reboot = ON_REBOOT_EXIT;
                        else
                                r = config_error_set(err, "on_reboot: '%s' is not \"restart\" or \"exit\"", s);
                } else if (strcmp(key, "disks") == 0) {
                        r = parse_disks(v, &c, err);
                } else if (strcmp(key, "nics") == 0) {
                        r = parse_nics(v, &c, err);
                } else if (strcmp(key, "integration") == 0) {
                        r = parse_integration(v, &c, err);
                } else if (strcmp(key, "cpu_weight") == 0) {
                        int64_t n = json_object_get_int64(v);

                        if (!json_object_is_type(v, json_type_int))
                                r = config_error_set(err, "cpu_weight: expected an integer");
                        else if (n < VM_CONFIG_CPU_WEIGHT_MIN || n > VM_CONFIG_CPU_WEIGHT_MAX)
                                r = config_error_set(err, "cpu_weight: %lld is out of range (%u to %u)", (long long)n,
                                                     VM_CONFIG_CPU_WEIGHT_MIN, VM_CONFIG_CPU_WEIGHT_MAX);
                        else
                                c.cpu_weight = (unsigned)n;
                } else if (strcmp(key, "debug") == 0) {
                        r = get_bool(v, "debug", &c.debug, err);
                } else
                        r = config_error_set(err, "%s: unknown key", key);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = vm_config_validate(&c, err);
        if (r < 0) {
                vm_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int vm_config_validate(const struct vm_config *c, struct config_error *err)
{
        if ((c->console_type == CONSOLE_FILE || c->console_type == CONSOLE_SOCKET) && !c->console_path)
                return config_error_set(err, "console.path: required for console type '%s'",
                                        console_type_to_string(c->console_type));
        if (c->console_path && c->console_path[0] != '/')
                return config_error_set(err, "console.path: '%s' is not an absolute path", c->console_path);
        if (c->hugepages && !IS_ALIGNED(c->memory, 2 * MIB))
                return config_error_set(err, "memory: must be a multiple of 2 MiB with hugepages");
        if (c->memory < VM_CONFIG_MEMORY_MIN || c->memory > VM_CONFIG_MEMORY_MAX)
                return config_error_set(err, "memory: %llu MiB is out of range (%llu MiB to %llu MiB)",
                                        (unsigned long long)(c->memory >> 20), VM_CONFIG_MEMORY_MIN >> 20,
                                        VM_CONFIG_MEMORY_MAX >> 20);
        if (c->vcpus < 1 || c->vcpus > VM_CONFIG_VCPUS_MAX)
                return config_error_set(err, "vcpus: %u is out of range (1 to %u)", c->vcpus, VM_CONFIG_VCPUS_MAX);
        if (c->initrd && !c->kernel)
                return config_error_set(err, "initrd: given without a kernel");
        return 0;
}

int vm_config_from_string(const char *text, struct vm_config *ret, struct config_error *err)
{
        _cleanup_json_ struct json_object *o = NULL;
        struct json_tokener *tok;
        enum json_tokener_error jerr;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int)strlen(text));
        jerr = json_tokener_get_error(tok);
        if (!o || jerr != json_tokener_success) {
                int r = config_error_set(err, "configuration: invalid JSON: %s",
                                         json_tokener_error_desc(jerr == json_tokener_continue
                                                                 ? json_tokener_error_parse_eof : jerr));
                json_tokener_free(tok);
                return r;
        }
        if (tok->char_offset < (int)strlen(text)) {
                const char *rest = text + tok->char_offset;

                rest += strspn(rest, " \t\r\n");
                if (*rest) {
                        json_tokener_free(tok);
                        return config_error_set(err, "configuration: trailing data after the JSON object");
                }
        }
        json_tokener_free(tok);
        return vm_config_from_json(o, ret, err);
}

int vm_config_load(const char *path, struct vm_config *ret, struct config_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file(path, 1 << 20, &text, NULL);
        if (r == -EFBIG)
                return config_error_set(err, "%s: configuration file larger than 1 MiB", path);
        if (r < 0) {
                config_error_set(err, "%s: %s", path, strerror(-r));
                return r;
        }
        r = vm_config_from_string(text, ret, err);
        if (r < 0 && err) {
                char msg[VM_CONFIG_ERROR_MAX];

                snprintf(msg, sizeof(msg), "%s: %s", path, err->msg);
                memcpy(err->msg, msg, sizeof(msg));
        }
        return r;
}

static int add_string(struct json_object *o, const char *key, const char *s)
{
        struct json_object *v;

        if (!s)
                return 0;
        v = json_object_new_string(s);
        if (!v)
                return -ENOMEM;
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

int vm_config_to_json(const struct vm_config *c, struct json_object **ret)
{
        _cleanup_json_ struct json_object *o = json_object_new_object(), *con = NULL;
        char mem[32];
        int r;

        if (!o)
                return -ENOMEM;
        snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(c->memory >> 20));
        if ((r = add_string(o, "name", c->name)) < 0 ||
            (r = add_string(o, "uuid", c->uuid)) < 0 ||
            (r = add_string(o, "memory", mem)) < 0)
                return r;
        if (json_object_object_add(o, "vcpus", json_object_new_int((int)c->vcpus)) < 0)
                return -ENOMEM;
        if ((r = add_string(o, "kernel", c->kernel)) < 0 ||
            (r = add_string(o, "initrd", c->initrd)) < 0 ||
            (r = add_string(o, "cmdline", c->cmdline)) < 0)
                return r;
        if (json_object_object_add(o, "hugepages", json_object_new_boolean(c->hugepages)) < 0 ||
            json_object_object_add(o, "nested_virtualization", json_object_new_boolean(c->nested_virtualization)) < 0)
                return -ENOMEM;
        con = json_object_new_object();
        if (!con)
                return -ENOMEM;
        if ((r = add_string(con, "type", console_type_to_string(c->console_type))) < 0 ||
            (r = add_string(con, "path", c->console_path)) < 0)
                return r;
        if (json_object_object_add(o, "console", TAKE_PTR(con)) < 0)
                return -ENOMEM;
        if ((r = add_string(o, "on_reboot", c->on_reboot == ON_REBOOT_EXIT ? "exit" : "restart")) < 0)
                return r;
        if (json_object_object_add(o, "cpu_weight", json_object_new_int((int)c->cpu_weight)) < 0 ||
            (c->debug && json_object_object_add(o, "debug", json_object_new_boolean(true)) < 0))
                return -ENOMEM;
        {
                _cleanup_json_ struct json_object *ic = json_object_new_object();

                if (!ic)
                        return -ENOMEM;
                for (size_t i = 0; i < IC_SVC_COUNT; i++)
                        if (json_object_object_add(ic, integration_names[i],
                                                   json_object_new_boolean(c->integration[i])) < 0)
                                return -ENOMEM;
                if (json_object_object_add(o, "integration", TAKE_PTR(ic)) < 0)
                        return -ENOMEM;
        }
        if (c->n_disks > 0) {
                _cleanup_json_ struct json_object *disks = json_object_new_array();

                if (!disks)
                        return -ENOMEM;
                for (unsigned i = 0; i < c->n_disks; i++) {
                        const struct disk_config *d = &c->disks[i];
                        _cleanup_json_ struct json_object *jd = json_object_new_object();

                        if (!jd ||
                            (r = add_string(jd, "path", d->path)) < 0 ||
                            (r = add_string(jd, "format", disk_format_to_string(d->format))) < 0 ||
                            json_object_object_add(jd, "readonly", json_object_new_boolean(d->readonly)) < 0 ||
                            (r = add_string(jd, "cache", disk_cache_to_string(d->cache))) < 0 ||
                            json_object_object_add(jd, "queues", json_object_new_int((int)d->queues)) < 0 ||
                            (d->serial[0] && (r = add_string(jd, "serial", d->serial)) < 0) ||
                            (d->metadata_cache &&
                             json_object_object_add(jd, "metadata_cache",
                                                    json_object_new_int64((int64_t)d->metadata_cache)) < 0))
                                return r < 0 ? r : -ENOMEM;
                        if (json_object_array_add(disks, TAKE_PTR(jd)) < 0)
                                return -ENOMEM;
                }
                if (json_object_object_add(o, "disks", TAKE_PTR(disks)) < 0)
                        return -ENOMEM;
        }
        if (c->n_nics > 0) {
                _cleanup_json_ struct json_object *nics = json_object_new_array();

                if (!nics)
                        return -ENOMEM;
                for (unsigned i = 0; i < c->n_nics; i++) {
                        struct json_object *jn;

                        r = nic_config_to_json(&c->nics[i], &jn);
                        if (r < 0)
                                return r;
                        if (json_object_array_add(nics, jn) < 0) {
                                json_object_put(jn);
                                return -ENOMEM;
                        }
                }
                if (json_object_object_add(o, "nics", TAKE_PTR(nics)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}
