/* SPDX-License-Identifier: MIT */
/*
 * The worker's control socket: JSON-RPC (jsonrpc.h) for vmms and tools. vm.info,
 * vm.pause, vm.resume, vm.power_button, vm.turn_off; the vm.exited notification tells every
 * client why the worker ends, just before it exits.
 *
 * The fd socket (--fd-socket N): vmms hands the worker the fds it opened for it as one
 * line {"kvm": 0, ...} with SCM_RIGHTS (handoff.h); the socket then stays open as vmms'
 * first control connection.
 */
#pragma once

#include "vmms/config.h"
#include "vmwp.h"

struct vmwp_control;
struct vmwp_handoff;

/*
 * Serve listen_fd (taken; a socket bound by whoever started us, reported as path) or else
 * bind path (NULL: do not), and serve h's fd socket (taken from h, with the bytes that
 * followed its first line) as a connection. Logs its failures.
 */
int vmwp_control_new(struct vmwp_main *m, const char *path, int listen_fd, struct vmwp_handoff *h,
                     struct vmwp_control **ret);
/* Remember how a boot ended (reported by vm.exited when the worker exits). NULL-safe. */
void vmwp_control_vm_ended(struct vmwp_control *c, enum vmwp_exit_kind kind, const char *reason);
/* Send vm.exited {kind, reason, exit_status} to every client, close, unlink. NULL-safe. */
void vmwp_control_free(struct vmwp_control *c, int exit_status);
/* For methods registered from other files (ic.c): the worker behind a control object. */
struct vmwp_main *vmwp_control_main(struct vmwp_control *c);
/* A notification to every client; params is taken. NULL-safe. */
void vmwp_control_notify(struct vmwp_control *c, const char *method, struct json_object *params);
