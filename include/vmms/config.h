/* SPDX-License-Identifier: MIT */
/*
 * The VM configuration: one JSON document per VM, the same for `vmwp --config` and for the
 * registry vmms keeps. Parsing validates everything (unknown keys, units, absolute paths,
 * ranges) and answers with a message that names the key at fault.
 *
 *   {
 *     "name": "demo", "uuid": "...",
 *     "memory": "512M",            size with a binary unit, or an integer number of MiB
 *     "vcpus": 2,
 *     "kernel": "/abs/path", "initrd": "/abs/path", "cmdline": "console=ttyS0",
 *     "hugepages": false,
 *     "nested_virtualization": false,   offer VT-x/AMD-V to the guest (off: as Hyper-V's
 *                                       ExposeVirtualizationExtensions)
 *     "console": { "type": "stdio" | "file" | "socket" | "none", "path": "/abs/path" },
 *     "on_reboot": "restart" | "exit",
 *     "disks": [ { "path": "/abs/img", "readonly": false, "cache": "none" | "writeback",
 *                  "queues": 1, "serial": "..." } ],
 *     "nics": [ { "tap": "tap0", "mac": "02:56:00:00:00:01", "queues": 1, "bridge": "br0" },
 *               { "switch": "lan", "mac": "..." } ],            see vmms/nic.h
 *     "integration": { "heartbeat": true, "shutdown": true, "timesync": true, "kvp": true,
 *                      "fcopy": true }                          vmms-ic(7); all on by default
 *     "cpu_weight": 100,          the worker's cgroup CPU weight, 1 to 10000
 *     "debug": false              the worker serves debug.* control methods (tests only)
 *   }
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include <abi/ic.h>

#include "vmms/config_error.h"

#include "vmms/disk.h"
#include "vmms/nic.h"

#define VM_CONFIG_MEMORY_MIN     (16ull << 20)
#define VM_CONFIG_MEMORY_MAX     (1ull << 40)          /* 1 TiB */
#define VM_CONFIG_VCPUS_MAX      255u
#define VM_CONFIG_CMDLINE_MAX    4095u
#define VM_CONFIG_DEFAULT_MEMORY (256ull << 20)
#define VM_CONFIG_DISKS_MAX      16u
#define VM_CONFIG_NICS_MAX       8u
#define VM_CONFIG_CPU_WEIGHT_MIN     1u         /* cgroup v2 cpu.weight */
#define VM_CONFIG_CPU_WEIGHT_MAX     10000u
#define VM_CONFIG_CPU_WEIGHT_DEFAULT 100u

enum console_type {
        CONSOLE_STDIO,
        CONSOLE_FILE,
        CONSOLE_SOCKET,
        CONSOLE_NONE,
};

enum on_reboot {
        ON_REBOOT_RESTART,
        ON_REBOOT_EXIT,
};

struct vm_config {
        char *name;
        char *uuid;
        uint64_t memory;        /* bytes */
        unsigned vcpus;
        char *kernel;           /* NULL: the bundled guest kernel */
        char *initrd;
        char *cmdline;
        bool hugepages;
        bool nested_virtualization;     /* the guest sees VMX/SVM (and may run KVM itself) */
        enum console_type console_type;
        char *console_path;
        enum on_reboot on_reboot;
        struct disk_config *disks;
        unsigned n_disks;
        struct nic_config *nics;
        unsigned n_nics;
        bool integration[IC_SVC_COUNT]; /* integration services on, by enum ic_service */
        unsigned cpu_weight;    /* VM_CONFIG_CPU_WEIGHT_MIN..MAX */
        bool debug;             /* debug.* control methods (tests) */
        int kvm_fd;             /* runtime only, never in JSON: /dev/kvm passed by vmms, or -1 */
};


void vm_config_init(struct vm_config *c);
void vm_config_done(struct vm_config *c);

int vm_config_from_json(struct json_object *o, struct vm_config *ret, struct config_error *err);
int vm_config_from_string(const char *text, struct vm_config *ret, struct config_error *err);
int vm_config_load(const char *path, struct vm_config *ret, struct config_error *err);
/* Check cross-key rules (after command-line overrides too). */
int vm_config_validate(const struct vm_config *c, struct config_error *err);
/* Append a disk (takes over d's path). -E2BIG beyond VM_CONFIG_DISKS_MAX. */
int vm_config_add_disk(struct vm_config *c, struct disk_config *d, struct config_error *err);
/* Append a NIC (takes over n's names). -EINVAL beyond VM_CONFIG_NICS_MAX. */
int vm_config_add_nic(struct vm_config *c, struct nic_config *n, struct config_error *err);
/* "512M", "2G", or a bare number of MiB. */
int vm_config_memory_from_string(const char *s, uint64_t *ret, struct config_error *err);
/* The canonical JSON form (what vmms stores). */
int vm_config_to_json(const struct vm_config *c, struct json_object **ret);


const char *console_type_to_string(enum console_type t);
int console_type_from_string(const char *s);
