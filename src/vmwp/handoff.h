/* SPDX-License-Identifier: MIT */
/*
 * The fd socket (--fd-socket N): what vmms or vmjail opened for the worker, which opens
 * nothing privileged itself. The first line names the fds that came with it (SCM_RIGHTS,
 * counted from 0 in the order they arrived; several messages may carry them):
 *
 *   {"kvm": 0,                 /dev/kvm
 *    "kernel": 1, "initrd": 2, the boot images (read once, kept in memory across reboots)
 *    "disks": [3, 4],          one per configured disk, in order; a qcow2 disk with
 *                              backing files: [image, backing, its backing, ...]
 *                              (read-only, nearest first) instead of one index
 *    "nics": [[5, 6], [7]],    the TAP fds of each configured NIC (one per queue pair);
 *                              they replace the NIC's tap=, switch= and bridge=
 *    "console": 8,             the console: the open file (type file) or the listening
 *                              socket (type socket)
 *    "control": 9,             the listening control socket (instead of binding --control)
 *    "config": 10,             the configuration document (instead of reading --config)
 *    "status": 11,             where a seccomp violation is reported
 *    "hold": [12]}             held until the worker exits (its worker id's lease)
 *
 * Every key is optional. The socket then serves as a control connection (control.c).
 */
#pragma once

#include <stddef.h>

#include "vmms/config.h"

#define VMWP_HANDOFF_MAX_FDS 256

struct vmwp_handoff {
        int fd_socket;                  /* after the first line: a control connection */
        char *rest;                     /* bytes that came after the first line */
        size_t rest_len;
        struct json_object *msg;
        int fds[VMWP_HANDOFF_MAX_FDS];  /* -1 once claimed */
        size_t n_fds;
        int held[VMWP_HANDOFF_MAX_FDS]; /* "hold", the disks' and NICs' fds: closed at the end */
        size_t n_held;
};

/* Read the first line and its fds from fd (taken over). Logs its failures. */
int vmwp_handoff_receive(int fd, struct vmwp_handoff **ret);
/* Close every fd that was not claimed, and the held ones. NULL-safe. */
void vmwp_handoff_free(struct vmwp_handoff *h);

/* The fd under `key` (taken by the caller), -ENOENT when absent, -EBADMSG when it names none. */
int vmwp_handoff_take(struct vmwp_handoff *h, const char *key);
/* Put the disks' and NICs' fds into cfg (they stay owned by h); "hold" is kept. */
int vmwp_handoff_apply(struct vmwp_handoff *h, struct vm_config *cfg);
