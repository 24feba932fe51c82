/* SPDX-License-Identifier: MIT */
/*
 * The worker's side of the integration services: one IC engine per worker (it outlives
 * guest reboots, so the host's KVP pool does too), its events on the main loop, and the
 * control socket's ic.* methods (registered in control.c's method table):
 *
 *   ic.status       {}                                   → {heartbeat, services, time, kvp, fcopy}
 *   ic.shutdown     {reason?, reboot?}                   → {acknowledged: true} once the guest acks
 *   ic.timesync     {reason?}                            → null
 *   ic.kvp.get      {key?, pool?: "guest"|"host", guest?: bool}
 *                                                        → {pool, key, value} or {pool, items: {...}}
 *   ic.kvp.set      {key, value}                         → null (the host pool)
 *   ic.kvp.delete   {key}                                → null
 *   ic.fcopy        {guest_path, path? | fd: true (passed with the request), mode?, overwrite?, mkdirs?}
 *                                                        → {guest_path, size, crc32} once the guest has it
 *   ic.fcopy.stat   {guest_path}                         → {guest_path, size, crc32}
 *
 * Notifications to every control client: ic.heartbeat_changed {heartbeat, previous},
 * ic.service_changed {service, state, previous, reason?}.
 */
#pragma once

#include "vmms/jsonrpc.h"
#include "vmwp.h"

struct vmwp_ic;
struct vsp_ic;

/* *ret stays NULL when the configuration turns every service off. Logs its failures. */
int vmwp_ic_new(struct vmwp_main *m, struct vmwp_ic **ret);
void vmwp_ic_free(struct vmwp_ic *x);
/* The engine the VM's console device serves; NULL-safe. */
struct vsp_ic *vmwp_ic_engine(struct vmwp_ic *x);
/* vm.info's "heartbeat" and "integration" members. NULL-safe. */
void vmwp_ic_add_info(struct vmwp_ic *x, struct json_object *o);

int vmwp_ic_ctl_status(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmwp_ic_ctl_shutdown(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmwp_ic_ctl_timesync(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmwp_ic_ctl_kvp_get(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmwp_ic_ctl_kvp_set(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmwp_ic_ctl_kvp_delete(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmwp_ic_ctl_fcopy(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmwp_ic_ctl_fcopy_stat(struct jsonrpc_call *call, struct json_object *params, void *userdata);
