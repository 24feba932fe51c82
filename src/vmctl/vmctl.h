/* SPDX-License-Identifier: MIT */
/* vmctl: the command-line client of vmms (vmctl(1)). */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>

#include "vmms/libvmms.h"

#define VMCTL_EXIT_OK          0
#define VMCTL_EXIT_API         1        /* vmms answered with an error */
#define VMCTL_EXIT_USAGE       2
#define VMCTL_EXIT_UNREACHABLE 3        /* no vmms at the socket */

struct vmctl {
        const char *socket;     /* NULL: $VMMS_SOCKET or the default */
        bool json;
};

/* Connect, or say why not (naming the socket) and return VMCTL_EXIT_UNREACHABLE. */
int vmctl_connect(const struct vmctl *ctl, struct libvmms **ret);
/* Report a failed call: the API's message (exit 1) or a lost connection (exit 3). */
int vmctl_fail(struct libvmms *c, int r, const struct libvmms_error *err);
/* Connect, call method (takes params), report errors as vmctl does: a VMCTL_EXIT_* status. */
int vmctl_call(const struct vmctl *ctl, const char *method, struct json_object *params, struct json_object **ret);

/* output.c */
void vmctl_print_json(struct json_object *o);
void vmctl_print_list(struct json_object *vms);
void vmctl_print_vm(struct json_object *vm);
void vmctl_print_host(struct json_object *host);
void vmctl_print_event(struct json_object *ev);
const char *vmctl_format_uptime(char *buf, size_t len, int64_t usec);
const char *vmctl_json_str(struct json_object *o, const char *key, const char *def);
int64_t vmctl_json_int(struct json_object *o, const char *key, int64_t def);

/* console.c: relay a console until Ctrl-] or its end. 0 detached/ended, <0 error. */
int vmctl_console_run(int fd, const char *name);

/* ic.c: integration-service verbs; argv[0] is the verb. */
int vmctl_kvp(const struct vmctl *ctl, int argc, char **argv);
int vmctl_copy_to(const struct vmctl *ctl, int argc, char **argv);

/* switch.c: switch list|create|delete; argv[0] is "switch". */
int vmctl_switch(const struct vmctl *ctl, int argc, char **argv);

/* disk.c: disk create|info; argv[0] is "disk". */
int vmctl_disk(const struct vmctl *ctl, int argc, char **argv);

/* demo.c */
int vmctl_demo(const struct vmctl *ctl);
