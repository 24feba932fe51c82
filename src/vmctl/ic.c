/* SPDX-License-Identifier: MIT */
/*
 * vmctl's integration-service verbs (vmms-ic(7)):
 *   kvp NAME                         both pools
 *   kvp NAME get KEY [--host] [--from-guest]
 *   kvp NAME set KEY VALUE           the host pool
 *   kvp NAME delete KEY
 *   copy-to NAME HOSTFILE GUESTPATH [--no-overwrite] [--mkdirs] [--mode MODE]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmctl.h"

static int usage(const char *msg)
{
        fprintf(stderr, "vmctl: %s (see vmctl --help)\n", msg);
        return VMCTL_EXIT_USAGE;
}

static void print_items(const char *title, struct json_object *res)
{
        struct json_object *items = NULL;

        printf("%s\n", title);
        if (!json_object_object_get_ex(res, "items", &items) || json_object_object_length(items) == 0) {
                printf("  (none)\n");
                return;
        }
        json_object_object_foreach(items, key, val)
                printf("  %s = %s\n", key, json_object_get_string(val));
}

static int call(const struct vmctl *ctl, struct libvmms *c, const char *method, struct json_object *params,
                const int *fds, size_t n_fds, struct json_object **ret)
{
        struct libvmms_error err;
        int r = libvmms_call_fds(c, method, params, fds, n_fds, ret, &err);

        return r < 0 ? vmctl_fail(c, r, &err) : VMCTL_EXIT_OK;
}

static struct json_object *params_for(const char *name)
{
        struct json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "name", json_object_new_string(name));
        return p;
}

int vmctl_kvp(const struct vmctl *ctl, int argc, char **argv)
{
        static const struct option options[] = {
                { "host", no_argument, NULL, 'H' },
                { "from-guest", no_argument, NULL, 'g' },
                {}
        };
        _cleanup_json_ struct json_object *res = NULL, *res2 = NULL;
        struct libvmms *c = NULL;
        bool host = false, from_guest = false;
        const char *name, *op;
        struct json_object *p;
        int r, o;

        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (o) {
                case 'H': host = true; break;
                case 'g': from_guest = true; break;
                default: return VMCTL_EXIT_USAGE;
                }
        argc -= optind;
        argv += optind;
        if (argc < 1)
                return usage("kvp takes a NAME");
        name = argv[0];
        op = argc > 1 ? argv[1] : NULL;
        if ((!op && argc != 1) || (op && strcmp(op, "get") == 0 && argc != 3) ||
            (op && strcmp(op, "set") == 0 && argc != 4) || (op && strcmp(op, "delete") == 0 && argc != 3))
                return usage("kvp NAME [get KEY | set KEY VALUE | delete KEY]");
        if (op && strcmp(op, "get") != 0 && strcmp(op, "set") != 0 && strcmp(op, "delete") != 0)
                return usage("kvp: the operations are get, set and delete");
        r = vmctl_connect(ctl, &c);
        if (r != VMCTL_EXIT_OK)
                return r;
        p = params_for(name);
        if (!op) {
                json_object_object_add(p, "pool", json_object_new_string("guest"));
                r = call(ctl, c, "vm.kvp.get", p, NULL, 0, &res);
                if (r == VMCTL_EXIT_OK) {
                        p = params_for(name);
                        json_object_object_add(p, "pool", json_object_new_string("host"));
                        r = call(ctl, c, "vm.kvp.get", p, NULL, 0, &res2);
                }
                if (r == VMCTL_EXIT_OK && ctl->json) {
                        struct json_object *both = json_object_new_object();

                        json_object_object_add(both, "guest", json_object_get(res));
                        json_object_object_add(both, "host", json_object_get(res2));
                        vmctl_print_json(both);
                        json_object_put(both);
                } else if (r == VMCTL_EXIT_OK) {
                        print_items("Guest pool (reported by the guest):", res);
                        print_items("Host pool (set with vmctl kvp NAME set):", res2);
                }
        } else if (strcmp(op, "get") == 0) {
                json_object_object_add(p, "key", json_object_new_string(argv[2]));
                json_object_object_add(p, "pool", json_object_new_string(host ? "host" : "guest"));
                if (from_guest)
                        json_object_object_add(p, "guest", json_object_new_boolean(true));
                r = call(ctl, c, "vm.kvp.get", p, NULL, 0, &res);
                if (r == VMCTL_EXIT_OK) {
                        if (ctl->json)
                                vmctl_print_json(res);
                        else
                                printf("%s\n", vmctl_json_str(res, "value", ""));
                }
        } else if (strcmp(op, "set") == 0) {
                json_object_object_add(p, "key", json_object_new_string(argv[2]));
                json_object_object_add(p, "value", json_object_new_string(argv[3]));
                r = call(ctl, c, "vm.kvp.set", p, NULL, 0, &res);
        } else {
                json_object_object_add(p, "key", json_object_new_string(argv[2]));
                r = call(ctl, c, "vm.kvp.delete", p, NULL, 0, &res);
        }
        libvmms_free(c);
        return r;
}

int vmctl_copy_to(const struct vmctl *ctl, int argc, char **argv)
{
        static const struct option options[] = {
                { "no-overwrite", no_argument, NULL, 'N' },
                { "mkdirs", no_argument, NULL, 'p' },
                { "mode", required_argument, NULL, 'm' },
                {}
        };
        _cleanup_json_ struct json_object *res = NULL;
        _cleanup_close_ int fd = -1;
        struct libvmms *c = NULL;
        bool overwrite = true, mkdirs = false;
        long mode = -1;
        struct json_object *p;
        char *end;
        int r, o;

        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (o) {
                case 'N': overwrite = false; break;
                case 'p': mkdirs = true; break;
                case 'm':
                        mode = strtol(optarg, &end, 8);
                        if (*end || end == optarg || mode < 0 || mode > 07777)
                                return usage("--mode: an octal mode such as 0644");
                        break;
                default: return VMCTL_EXIT_USAGE;
                }
        if (argc - optind != 3)
                return usage("copy-to NAME HOSTFILE GUESTPATH");
        if (argv[optind + 2][0] != '/')
                return usage("copy-to: GUESTPATH must be absolute");
        fd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                fprintf(stderr, "vmctl: %s: %s\n", argv[optind + 1], strerror(errno));
                return VMCTL_EXIT_API;
        }
        r = vmctl_connect(ctl, &c);
        if (r != VMCTL_EXIT_OK)
                return r;
        p = params_for(argv[optind]);
        json_object_object_add(p, "guest_path", json_object_new_string(argv[optind + 2]));
        json_object_object_add(p, "fd", json_object_new_boolean(true));
        json_object_object_add(p, "overwrite", json_object_new_boolean(overwrite));
        json_object_object_add(p, "mkdirs", json_object_new_boolean(mkdirs));
        if (mode >= 0)
                json_object_object_add(p, "mode", json_object_new_int((int)mode));
        r = call(ctl, c, "vm.copy_to", p, &fd, 1, &res);
        if (r == VMCTL_EXIT_OK) {
                if (ctl->json)
                        vmctl_print_json(res);
                else
                        printf("Copied %s to %s:%s (%" PRId64 " bytes, CRC-32 %08" PRIx64 ", checked by the guest).\n",
                               argv[optind + 1], argv[optind], vmctl_json_str(res, "guest_path", "?"),
                               vmctl_json_int(res, "size", 0), vmctl_json_int(res, "crc32", 0));
        }
        libvmms_free(c);
        return r;
}
