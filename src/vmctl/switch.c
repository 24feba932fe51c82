/* SPDX-License-Identifier: MIT */
/*
 * vmctl's switch verbs (vmms-api(7) "switch.*"):
 *   switch list
 *   switch create NAME --type private|internal|external [--uplink IFNAME] [--address A.B.C.D/N]
 *   switch delete NAME
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmctl.h"

static int usage(const char *msg)
{
        fprintf(stderr, "vmctl: switch: %s (see vmctl --help)\n", msg);
        return VMCTL_EXIT_USAGE;
}

static void print_switches(struct json_object *a)
{
        size_t n = json_object_array_length(a);

        if (n == 0) {
                printf("No switches (vmctl switch create NAME --type private|internal|external)\n");
                return;
        }
        printf("%-20s %-9s %-16s %-7s %s\n", "NAME", "TYPE", "BRIDGE", "PRESENT", "VMS");
        for (size_t i = 0; i < n; i++) {
                struct json_object *s = json_object_array_get_idx(a, i), *vms = NULL, *present = NULL;
                char list[256] = "-";
                size_t off = 0;

                if (json_object_object_get_ex(s, "vms", &vms))
                        for (size_t k = 0; k < json_object_array_length(vms) && off < sizeof(list) - 1; k++) {
                                int w = snprintf(list + off, sizeof(list) - off, "%s%s", k ? "," : "",
                                                 json_object_get_string(json_object_array_get_idx(vms, k)));

                                if (w > 0)
                                        off += (size_t)w;
                        }
                json_object_object_get_ex(s, "present", &present);
                printf("%-20s %-9s %-16s %-7s %s\n", vmctl_json_str(s, "name", "?"), vmctl_json_str(s, "type", "?"),
                       vmctl_json_str(s, "bridge", "-"), json_object_get_boolean(present) ? "yes" : "NO", list);
        }
}

int vmctl_switch(const struct vmctl *ctl, int argc, char **argv)
{
        static const struct option options[] = {
                { "type", required_argument, NULL, 't' },
                { "uplink", required_argument, NULL, 'u' },
                { "address", required_argument, NULL, 'a' },
                {}
        };
        _cleanup_json_ struct json_object *params = json_object_new_object(), *res = NULL;
        const char *op;
        int c, r;

        if (!params)
                return VMCTL_EXIT_API;
        if (argc < 2)
                return usage("expected list, create or delete");
        op = argv[1];
        optind = 0;
        while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) >= 0)
                switch (c) {
                case 't': json_object_object_add(params, "type", json_object_new_string(optarg)); break;
                case 'u': json_object_object_add(params, "uplink", json_object_new_string(optarg)); break;
                case 'a': json_object_object_add(params, "address", json_object_new_string(optarg)); break;
                default:
                        return VMCTL_EXIT_USAGE;
                }
        argc -= optind + 1;
        argv += optind + 1;
        if (strcmp(op, "list") == 0) {
                if (argc != 0 || json_object_object_length(params) > 0)
                        return usage("list takes no arguments");
                r = vmctl_call(ctl, "switch.list", NULL, &res);
                if (r == VMCTL_EXIT_OK)
                        ctl->json ? vmctl_print_json(res) : print_switches(res);
                return r;
        }
        if (strcmp(op, "create") == 0) {
                if (argc != 1)
                        return usage("create takes one NAME");
                if (!json_object_object_get_ex(params, "type", NULL))
                        return usage("create needs --type private, internal or external");
                json_object_object_add(params, "name", json_object_new_string(argv[0]));
                r = vmctl_call(ctl, "switch.create", TAKE_PTR(params), &res);
                if (r == VMCTL_EXIT_OK) {
                        if (ctl->json)
                                vmctl_print_json(res);
                        else
                                printf("Switch '%s' (%s) created: bridge %s\n", argv[0], vmctl_json_str(res, "type", "?"),
                                       vmctl_json_str(res, "bridge", "?"));
                }
                return r;
        }
        if (strcmp(op, "delete") == 0) {
                if (argc != 1 || json_object_object_length(params) > 0)
                        return usage("delete takes one NAME");
                json_object_object_add(params, "name", json_object_new_string(argv[0]));
                r = vmctl_call(ctl, "switch.delete", TAKE_PTR(params), &res);
                if (r == VMCTL_EXIT_OK && !ctl->json)
                        printf("Switch '%s' deleted\n", argv[0]);
                return r;
        }
        return usage("expected list, create or delete");
}
