/* SPDX-License-Identifier: MIT */
/* Human output: aligned tables, sizes with units, durations. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/api.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmctl.h"

const char *vmctl_json_str(struct json_object *o, const char *key, const char *def)
{
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !v)
                return def;
        return json_object_get_string(v);
}

int64_t vmctl_json_int(struct json_object *o, const char *key, int64_t def)
{
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !v)
                return def;
        return json_object_get_int64(v);
}

void vmctl_print_json(struct json_object *o)
{
        printf("%s\n", o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE) : "null");
}

const char *vmctl_format_uptime(char *buf, size_t len, int64_t usec)
{
        int64_t s = usec / 1000000;

        if (usec < 0)
                snprintf(buf, len, "-");
        else if (s < 60)
                snprintf(buf, len, "%" PRId64 "s", s);
        else if (s < 3600)
                snprintf(buf, len, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, len, "%" PRId64 "h %02" PRId64 "m", s / 3600, (s / 60) % 60);
        else
                snprintf(buf, len, "%" PRId64 "d %02" PRId64 "h", s / 86400, (s / 3600) % 24);
        return buf;
}

#define LIST_COLUMNS 5

void vmctl_print_list(struct json_object *vms)
{
        static const char *const head[LIST_COLUMNS] = { "NAME", "STATE", "VCPUS", "MEMORY", "UPTIME" };
        size_t n = json_object_array_length(vms), w[LIST_COLUMNS];
        char (*cells)[LIST_COLUMNS][96];

        if (n == 0) {
                printf("No VMs.\n");
                return;
        }
        cells = calloc(n + 1, sizeof(*cells));
        if (!cells)
                return;
        for (size_t c = 0; c < LIST_COLUMNS; c++) {
                snprintf(cells[0][c], sizeof(cells[0][c]), "%s", head[c]);
                w[c] = strlen(head[c]);
        }
        for (size_t i = 0; i < n; i++) {
                struct json_object *vm = json_object_array_get_idx(vms, i);
                char (*row)[96] = cells[i + 1];

                snprintf(row[0], 96, "%s", vmctl_json_str(vm, "name", "?"));
                snprintf(row[1], 96, "%s", vmctl_json_str(vm, "state", "?"));
                snprintf(row[2], 96, "%" PRId64, vmctl_json_int(vm, "vcpus", 0));
                format_size(row[3], 96, (uint64_t)vmctl_json_int(vm, "memory", 0));
                vmctl_format_uptime(row[4], 96, vmctl_json_int(vm, "uptime_usec", -1));
                for (size_t c = 0; c < LIST_COLUMNS; c++)
                        w[c] = MAX(w[c], strlen(row[c]));
        }
        for (size_t i = 0; i <= n; i++) {
                /* Text left-aligned, numbers right-aligned. */
                printf("%-*s  %-*s  %*s  %*s  %*s\n", (int)w[0], cells[i][0], (int)w[1], cells[i][1],
                       (int)w[2], cells[i][2], (int)w[3], cells[i][3], (int)w[4], cells[i][4]);
        }
        free(cells);
}

static void line(const char *key, const char *value)
{
        if (value)
                printf("%-10s %s\n", key, value);
}

void vmctl_print_vm(struct json_object *vm)
{
        struct json_object *cfg = NULL, *disks, *nics;
        char buf[512];

        json_object_object_get_ex(vm, "config", &cfg);
        line("Name:", vmctl_json_str(vm, "name", "?"));
        line("UUID:", vmctl_json_str(vm, "uuid", "?"));
        line("State:", vmctl_json_str(vm, "state", "?"));
        line("Reason:", vmctl_json_str(vm, "reason", NULL));
        line("Heartbeat:", vmctl_json_str(vm, "heartbeat", NULL));
        snprintf(buf, sizeof(buf), "%" PRId64, vmctl_json_int(vm, "vcpus", 0));
        line("vCPUs:", buf);
        line("Memory:", format_size(buf, sizeof(buf), (uint64_t)vmctl_json_int(vm, "memory", 0)));
        if (vmctl_json_int(vm, "saved_state_bytes", -1) >= 0)
                line("Saved state:", format_size(buf, sizeof(buf), (uint64_t)vmctl_json_int(vm, "saved_state_bytes", 0)));
        if (vmctl_json_int(vm, "pid", -1) >= 0) {
                snprintf(buf, sizeof(buf), "%" PRId64, vmctl_json_int(vm, "pid", 0));
                line("Worker:", buf);
                line("Uptime:", vmctl_format_uptime(buf, sizeof(buf), vmctl_json_int(vm, "uptime_usec", -1)));
        }
        line("Console:", vmctl_json_str(vm, "console", NULL));
        line("Kernel:", vmctl_json_str(cfg, "kernel", "(the bundled guest kernel)"));
        line("Initrd:", vmctl_json_str(cfg, "initrd", NULL));
        line("Cmdline:", vmctl_json_str(cfg, "cmdline", NULL));
        line("Reboot:", vmctl_json_str(cfg, "on_reboot", NULL));
        if (cfg && json_object_object_get_ex(cfg, "disks", &disks))
                for (size_t i = 0; i < json_object_array_length(disks); i++) {
                        struct json_object *d = json_object_array_get_idx(disks, i), *ro = NULL;

                        json_object_object_get_ex(d, "readonly", &ro);
                        snprintf(buf, sizeof(buf), "%s (%s%s)", vmctl_json_str(d, "path", "?"),
                                 vmctl_json_str(d, "format", "raw"), ro && json_object_get_boolean(ro) ? ", read-only" : "");
                        line(i == 0 ? "Disks:" : "", buf);
                }
        if (cfg && json_object_object_get_ex(cfg, "nics", &nics))
                for (size_t i = 0; i < json_object_array_length(nics); i++)
                        line(i == 0 ? "NICs:" : "", json_object_to_json_string_ext(json_object_array_get_idx(nics, i),
                                                                                   JSON_C_TO_STRING_PLAIN));
}

void vmctl_print_host(struct json_object *h)
{
        struct json_object *kvm = NULL, *vms = NULL;
        char buf[128];

        json_object_object_get_ex(h, "kvm", &kvm);
        json_object_object_get_ex(h, "vms", &vms);
        printf("%-10s %s\n", "vmms:", vmctl_json_str(h, "version", "?"));
        printf("%-10s %s (Linux %s)\n", "Host:", vmctl_json_str(h, "hostname", "?"), vmctl_json_str(h, "kernel", "?"));
        printf("%-10s %" PRId64 "\n", "CPUs:", vmctl_json_int(h, "cpus", 0));
        printf("%-10s %s", "Memory:", format_size(buf, sizeof(buf), (uint64_t)vmctl_json_int(h, "memory", 0)));
        printf(" (%s free)\n", format_size(buf, sizeof(buf), (uint64_t)vmctl_json_int(h, "memory_free", 0)));
        if (kvm && vmctl_json_int(kvm, "api_version", -1) >= 0)
                printf("%-10s API %" PRId64 ", up to %" PRId64 " vCPUs\n", "KVM:", vmctl_json_int(kvm, "api_version", 0),
                       vmctl_json_int(kvm, "max_vcpus", 0));
        else
                printf("%-10s unavailable (%s)\n", "KVM:", vmctl_json_str(kvm, "error", "?"));
        printf("%-10s %" PRId64 " (%" PRId64 " running, %" PRId64 " paused, %" PRId64 " critical)\n", "VMs:",
               vmctl_json_int(vms, "total", 0), vmctl_json_int(vms, "Running", 0), vmctl_json_int(vms, "Paused", 0),
               vmctl_json_int(vms, "Critical", 0));
        printf("%-10s %s\n", "Socket:", vmctl_json_str(h, "socket", "?"));
        printf("%-10s %s\n", "State:", vmctl_json_str(h, "state_dir", "?"));
        printf("%-10s %s\n", "Runtime:", vmctl_json_str(h, "run_dir", "?"));
}

void vmctl_print_event(struct json_object *ev)
{
        struct json_object *p = NULL;
        const char *reason;

        json_object_object_get_ex(ev, "params", &p);
        if (strcmp(vmctl_json_str(ev, "method", ""), VMMS_EVENT_HEARTBEAT_CHANGED) == 0) {
                printf("%s: heartbeat %s -> %s\n", vmctl_json_str(p, "name", "?"), vmctl_json_str(p, "previous", "?"),
                       vmctl_json_str(p, "heartbeat", "?"));
                fflush(stdout);
                return;
        }
        reason = vmctl_json_str(p, "reason", NULL);
        printf("%s: %s -> %s%s%s\n", vmctl_json_str(p, "name", "?"), vmctl_json_str(p, "previous", "(new)"),
               vmctl_json_str(p, "state", "(deleted)"), reason ? ": " : "", reason ? reason : "");
        fflush(stdout);
}
