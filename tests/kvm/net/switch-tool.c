/* SPDX-License-Identifier: MIT */
/*
 * A command-line face of the switch library for the network tests (vmms will have the real
 * one): switch-tool create NAME external|internal|private [UPLINK|ADDRESS/N]
 *                   switch-tool delete NAME | type NAME
 * Exit 0, or 1 with the error on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmms/switch.h"

int main(int argc, char *argv[])
{
        enum vswitch_type t;
        int r;

        if (argc >= 4 && strcmp(argv[1], "create") == 0) {
                struct vswitch_config c = { .name = argv[2] };

                r = vswitch_type_from_string(argv[3]);
                if (r < 0) {
                        fprintf(stderr, "switch-tool: unknown type %s\n", argv[3]);
                        return 1;
                }
                c.type = (enum vswitch_type)r;
                if (argc >= 5 && c.type == VSWITCH_EXTERNAL)
                        c.uplink = argv[4];
                else if (argc >= 5)
                        c.address = argv[4];
                r = vswitch_create(&c);
        } else if (argc == 3 && strcmp(argv[1], "delete") == 0) {
                r = vswitch_delete(argv[2]);
        } else if (argc == 3 && strcmp(argv[1], "type") == 0) {
                r = vswitch_get_type(argv[2], &t);
                if (r >= 0)
                        printf("%s\n", vswitch_type_to_string(t));
        } else {
                fprintf(stderr, "usage: switch-tool create NAME TYPE [UPLINK|ADDRESS] | delete NAME | type NAME\n");
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "switch-tool: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
