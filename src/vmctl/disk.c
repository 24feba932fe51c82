/* SPDX-License-Identifier: MIT */
/*
 * vmctl's disk verbs (vmms-api(7) "disk.*"; Hyper-V's New-VHD and Get-VHD):
 *   disk create PATH --size SIZE [--backing BASE] [--cluster-size N]
 *   disk info PATH [--json]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/util.h"
#include "vmctl.h"

static void disk_help(void)
{
        printf("Usage: vmctl disk create PATH [--size SIZE] [--backing BASE] [--cluster-size N]\n"
               "       vmctl disk info PATH [--json]\n\n"
               "  create    a new, empty qcow2 image (New-VHD); with --backing, a differencing\n"
               "            image over BASE (New-VHD -Differencing): its size defaults to BASE's\n"
               "  info      format, virtual size, allocated bytes and backing chain (Get-VHD)\n\n"
               "  --size SIZE          virtual size: bytes or K, M, G, T (binary units)\n"
               "  --backing BASE       the backing file (raw or qcow2); stored relative to PATH's\n"
               "                       directory when it is below it, else absolute\n"
               "  --cluster-size N     qcow2 cluster size, a power of two from 512 to 2M (64K)\n"
               "  --json               print the API's result as JSON\n\n"
               "Images must be below a directory vmms opens images from (vmms --allow-dir).\n");
}

static int usage(const char *msg)
{
        fprintf(stderr, "vmctl: disk: %s (see vmctl disk --help)\n", msg);
        return VMCTL_EXIT_USAGE;
}

/* An absolute name for a file that may not exist yet: its directory resolved, its own name kept. */
static char *absolute(const char *path)
{
        _cleanup_free_ char *copy = strdup(path), *copy2 = strdup(path), *dir = NULL;
        char *res = NULL;

        if (!copy || !copy2)
                return NULL;
        if (path[0] == '/')
                return TAKE_PTR(copy);
        dir = realpath(dirname(copy), NULL);
        if (!dir || asprintf(&res, "%s/%s", dir, basename(copy2)) < 0)
                return NULL;
        return res;
}

static void print_info(struct json_object *o)
{
        struct json_object *chain = NULL, *dirty = NULL;
        const char *backing = vmctl_json_str(o, "backing_file", NULL);
        uint64_t vsize = (uint64_t)vmctl_json_int(o, "virtual_size", 0);
        char buf[64];

        printf("image: %s\n", vmctl_json_str(o, "path", "?"));
        printf("file format: %s\n", vmctl_json_str(o, "format", "?"));
        printf("virtual size: %s (%" PRIu64 " bytes)\n", format_size(buf, sizeof(buf), vsize), vsize);
        printf("disk size: %s\n", format_size(buf, sizeof(buf), (uint64_t)vmctl_json_int(o, "allocated", 0)));
        if (vmctl_json_int(o, "cluster_size", 0) > 0)
                printf("cluster_size: %" PRId64 "\n", vmctl_json_int(o, "cluster_size", 0));
        json_object_object_get_ex(o, "chain", &chain);
        if (backing) {
                const char *actual = vmctl_json_str(json_object_array_get_idx(chain, 1), "path", backing);

                printf("backing file: %s", backing);
                if (strcmp(actual, backing) != 0)
                        printf(" (actual path: %s)", actual);
                printf("\nbacking file format: %s\n", vmctl_json_str(o, "backing_format", "?"));
        }
        if (json_object_object_get_ex(o, "dirty", &dirty))
                printf("dirty: %s\n", json_object_get_boolean(dirty) ? "yes" : "no");
        if (json_object_array_length(chain) > 1) {
                printf("backing chain:\n");
                for (size_t i = 0; i < json_object_array_length(chain); i++) {
                        struct json_object *e = json_object_array_get_idx(chain, i);

                        printf("    %s (%s, %s)\n", vmctl_json_str(e, "path", "?"), vmctl_json_str(e, "format", "?"),
                               format_size(buf, sizeof(buf), (uint64_t)vmctl_json_int(e, "virtual_size", 0)));
                }
        }
}

/* --size and --cluster-size: bytes with binary units. */
static int size_option(struct json_object *params, const char *key, const char *opt, const char *s)
{
        uint64_t v;

        if (parse_size(s, &v) < 0 || v > INT64_MAX) {
                fprintf(stderr, "vmctl: disk: %s: '%s' is not a size (e.g. 20G, 512M, 64K)\n", opt, s);
                return -EINVAL;
        }
        json_object_object_add(params, key, json_object_new_int64((int64_t)v));
        return 0;
}

int vmctl_disk(const struct vmctl *ctl, int argc, char **argv)
{
        static const struct option options[] = {
                { "size", required_argument, NULL, 's' },
                { "backing", required_argument, NULL, 'b' },
                { "cluster-size", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_json_ struct json_object *params = json_object_new_object(), *res = NULL;
        _cleanup_free_ char *path = NULL, *backing = NULL;
        bool json = ctl->json;
        const char *op;
        int c, r;

        if (!params)
                return VMCTL_EXIT_API;
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                disk_help();
                return VMCTL_EXIT_OK;
        }
        if (argc < 2)
                return usage("expected create or info");
        op = argv[1];
        optind = 0;
        while ((c = getopt_long(argc - 1, argv + 1, "h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                case 'c':
                        if (size_option(params, c == 's' ? "size" : "cluster_size",
                                        c == 's' ? "--size" : "--cluster-size", optarg) < 0)
                                return VMCTL_EXIT_USAGE;
                        break;
                case 'b':
                        free(backing);
                        backing = absolute(optarg);
                        if (!backing) {
                                fprintf(stderr, "vmctl: disk: --backing %s: %s\n", optarg, strerror(errno));
                                return VMCTL_EXIT_USAGE;
                        }
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        disk_help();
                        return VMCTL_EXIT_OK;
                default:
                        return VMCTL_EXIT_USAGE;
                }
        argc -= optind + 1;
        argv += optind + 1;
        if (strcmp(op, "create") != 0 && strcmp(op, "info") != 0)
                return usage("expected create or info");
        if (argc != 1)
                return usage(strcmp(op, "create") == 0 ? "create takes one PATH" : "info takes one PATH");
        path = absolute(argv[0]);
        if (!path) {
                fprintf(stderr, "vmctl: disk: %s: %s\n", argv[0], strerror(errno));
                return VMCTL_EXIT_USAGE;
        }
        json_object_object_add(params, "path", json_object_new_string(path));
        if (strcmp(op, "info") == 0) {
                if (json_object_object_length(params) != 1)
                        return usage("info takes only PATH and --json");
                r = vmctl_call(ctl, "disk.info", TAKE_PTR(params), &res);
                if (r == VMCTL_EXIT_OK)
                        json ? vmctl_print_json(res) : print_info(res);
                return r;
        }
        if (backing)
                json_object_object_add(params, "backing", json_object_new_string(backing));
        else if (!json_object_object_get_ex(params, "size", NULL))
                return usage("create needs --size (or --backing)");
        r = vmctl_call(ctl, "disk.create", TAKE_PTR(params), &res);
        if (r != VMCTL_EXIT_OK)
                return r;
        if (json)
                vmctl_print_json(res);
        else {
                char buf[64];

                printf("Created %s (qcow2, %s", path,
                       format_size(buf, sizeof(buf), (uint64_t)vmctl_json_int(res, "virtual_size", 0)));
                if (vmctl_json_str(res, "backing_file", NULL))
                        printf(", backing file %s", vmctl_json_str(res, "backing_file", "?"));
                printf(")\n");
        }
        return r;
}
