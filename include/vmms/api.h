/* SPDX-License-Identifier: MIT */
/*
 * The vmms API: JSON-RPC 2.0 over a Unix stream socket, one JSON text per line (see
 * jsonrpc.h and vmms-api(7)). Shared by vmms, vmwp's control socket, libvmms and vmctl.
 *
 * Methods (params → result):
 *   vm.create   {name, memory?, vcpus?, kernel?, initrd?, cmdline?, hugepages?, on_reboot?, uuid?} → VM
 *   vm.list     {}                                   → [VM...]
 *   vm.get      {name}                               → VM    (name: a VM's name or UUID)
 *   vm.set      {name, config: {key: value...}}      → VM
 *   vm.delete   {name}                               → null
 *   vm.start    {name}                               → VM    (answered once Running)
 *   vm.stop     {name, turn_off?, force?, timeout?}  → VM    (answered once Off)
 *   vm.pause    {name}                               → VM
 *   vm.resume   {name}                               → VM
 *   vm.console  {name, fd?}                          → {path, fd?}
 *   vm.kvp.get  {name, key?, pool?, guest?}          → {pool, key, value} | {pool, items}
 *   vm.kvp.set  {name, key, value}                   → null       (the host pool)
 *   vm.kvp.delete {name, key}                        → null
 *   vm.copy_to  {name, guest_path, fd: true | path, overwrite?, mkdirs?, mode?}
 *                                                    → {guest_path, size, crc32} (fd passed)
 *   events.subscribe {}                              → {subscribed: true}, then
 *                                                      vm.state_changed and
 *                                                      vm.heartbeat_changed notifications
 *   host.info   {}                                   → {version, hostname, kvm, ...}
 *
 * The worker's control socket (vmwp --control): vm.info, vm.pause, vm.resume,
 * vm.power_button, vm.turn_off; notification vm.exited {kind, reason, exit_status}.
 */
#pragma once

#define VMMS_SOCKET_PATH_DEFAULT "/run/vmms/vmms.sock"
#define VMMS_STATE_DIR_DEFAULT   "/var/lib/vmms"
#define VMMS_RUN_DIR_DEFAULT     "/run/vmms"
#define VMMS_SOCKET_ENV          "VMMS_SOCKET"
#define VMMS_GROUP               "vmms"

/* The command line a VM without its own kernel gets when it has none either. */
#define VMMS_DEFAULT_GUEST_CMDLINE "scenario=ic"

/* Application errors (-32000 to -32099 are the server's to define). */
#define VMMS_ERROR_NOT_FOUND    (-32001)        /* no VM by that name or UUID */
#define VMMS_ERROR_EXISTS       (-32002)        /* the name or UUID is taken */
#define VMMS_ERROR_STATE        (-32003)        /* the verb is not allowed in the VM's state */
#define VMMS_ERROR_CONFIG       (-32004)        /* invalid configuration; the message names the key */
#define VMMS_ERROR_FAILED       (-32005)        /* the operation failed (worker, host) */
#define VMMS_ERROR_TIMEOUT      (-32006)        /* the guest did not shut down in time */
#define VMMS_ERROR_ACCESS       (-32007)        /* the caller may not use this socket */
#define VMMS_ERROR_UNSUPPORTED  (-32008)        /* not available on this host or build */
#define VMMS_ERROR_CANCELLED    (-32009)        /* superseded (e.g. a turn-off during a start) */

/* Notifications. */
#define VMMS_EVENT_STATE_CHANGED "vm.state_changed"
#define VMMS_EVENT_HEARTBEAT_CHANGED "vm.heartbeat_changed"       /* {name, uuid, heartbeat, previous} */
#define VMWP_EVENT_EXITED        "vm.exited"

/* Integration services (vmms-ic(7)) on the worker's control socket: the ic.* methods are
 * listed in src/vmwp/ic.h; these notifications go to every control client. */
#define VMWP_EVENT_IC_HEARTBEAT  "ic.heartbeat_changed"    /* {heartbeat, previous} */
#define VMWP_EVENT_IC_SERVICE    "ic.service_changed"      /* {service, state, previous, reason?} */
