/* SPDX-License-Identifier: MIT */
/*
 * libvmms: a small blocking client for the vmms API (vmms-api(7)), used by vmctl and tests.
 *
 *   struct libvmms *c;
 *   struct libvmms_error e;
 *   struct json_object *vm;
 *   if (libvmms_connect(NULL, &c) < 0) ...                  // $VMMS_SOCKET or the default
 *   if (libvmms_vm_start(c, "demo", &vm, &e) == -EREMOTEIO)  // e.code, e.message
 *
 * Every call returns 0 or a negative errno: -EREMOTEIO when vmms answered with an error
 * (then *err says which), anything else when the connection failed. Results are new
 * references the caller puts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

struct libvmms;

struct libvmms_error {
        int code;               /* JSON-RPC error code (api.h) */
        char message[1024];
};

/* Connect to path; NULL: $VMMS_SOCKET, else /run/vmms/vmms.sock. */
int libvmms_connect(const char *path, struct libvmms **ret);
void libvmms_free(struct libvmms *c);
const char *libvmms_socket_path(const struct libvmms *c);
/* Where libvmms_connect(NULL) connects. */
const char *libvmms_default_socket(void);

/* Any method: params (may be NULL) are taken. */
int libvmms_call(struct libvmms *c, const char *method, struct json_object *params,
                 struct json_object **ret_result, struct libvmms_error *err);
/* The same with fds passed along (SCM_RIGHTS; vm.copy_to). */
int libvmms_call_fds(struct libvmms *c, const char *method, struct json_object *params, const int *fds,
                     size_t n_fds, struct json_object **ret_result, struct libvmms_error *err);
/* An fd that came with the last answer (vm.console), now the caller's; -ENOENT if none. */
int libvmms_take_fd(struct libvmms *c);
/* The next notification (after events.subscribe): {"method": ..., "params": ...}.
 * timeout_ms < 0 waits for ever; -ETIMEDOUT when none came. */
int libvmms_next_event(struct libvmms *c, int timeout_ms, struct json_object **ret);

/* The methods, one function each. */
int libvmms_vm_create(struct libvmms *c, struct json_object *config, struct json_object **ret,
                      struct libvmms_error *err);
int libvmms_vm_list(struct libvmms *c, struct json_object **ret, struct libvmms_error *err);
int libvmms_vm_get(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err);
int libvmms_vm_set(struct libvmms *c, const char *name, struct json_object *changes, struct json_object **ret,
                   struct libvmms_error *err);
int libvmms_vm_delete(struct libvmms *c, const char *name, struct libvmms_error *err);
int libvmms_vm_start(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err);
/* timeout < 0: the server's default. */
int libvmms_vm_stop(struct libvmms *c, const char *name, bool turn_off, bool force, int timeout,
                    struct json_object **ret, struct libvmms_error *err);
int libvmms_vm_pause(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err);
/* Save-VM: answered once the VM is Saved (its worker ended); vm.start restores it. */
int libvmms_vm_save(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err);
int libvmms_vm_resume(struct libvmms *c, const char *name, struct json_object **ret, struct libvmms_error *err);
/* A connected console fd (ret_fd) and/or its path (ret_path, free()); either may be NULL. */
int libvmms_vm_console(struct libvmms *c, const char *name, int *ret_fd, char **ret_path,
                       struct libvmms_error *err);
int libvmms_events_subscribe(struct libvmms *c, struct libvmms_error *err);
int libvmms_host_info(struct libvmms *c, struct json_object **ret, struct libvmms_error *err);
