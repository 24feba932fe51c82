/* SPDX-License-Identifier: MIT */
/*
 * vmms, the Virtual Machine Management Service: one sd-event loop that owns every VM's
 * configuration (the registry) and state, serves the JSON-RPC API, and supervises one vmwp
 * worker per running VM.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "vmms/config.h"
#include "vmms/jsonrpc.h"
#include "state.h"

struct vmms_manager;
struct vmms_worker;

/* Where a configuration may name kernels, initrds and disks unless --allow-dir says otherwise. */
#define VMMS_IMAGES_DIR_DEFAULT "/var/lib/vmms/images"

struct vmms_settings {
        const char *socket_path;
        const char *state_dir;
        const char *run_dir;
        const char *const *allow_dirs;  /* --allow-dir, NULL-terminated; NULL: the default */
        unsigned worker_id_first, worker_id_count;      /* --worker-ids */
};

/* A client of the public socket. */
struct vmms_client {
        struct vmms_manager *manager;
        struct jsonrpc_conn *conn;
        struct vmms_client *prev, *next;
        bool subscribed;        /* events.subscribe */
        uid_t uid;
        pid_t pid;
};

/* An API call waiting for a VM to reach a state (start → Running, stop → Off). */
enum vmms_op_kind {
        VMMS_OP_START,
        VMMS_OP_STOP,
        VMMS_OP_SAVE,
};

struct vmms_op {
        struct vmms_op *next;
        enum vmms_op_kind kind;
        struct jsonrpc_call *call;
};

struct vmms_vm {
        struct vmms_manager *manager;
        struct vm_config cfg;           /* as stored in the registry */
        enum vmms_state state;
        char *reason;                   /* why the VM is Critical (or why it last stopped) */
        struct vmms_worker *worker;
        char heartbeat[16];             /* ic.c: "OK", "Lost", "No contact"; "" without a worker */
        uint64_t started_usec;          /* CLOCK_MONOTONIC when the worker started */
        struct vmms_op *ops;
        sd_event_source *stop_timer;    /* a graceful stop's timeout */
        sd_event_source *button_timer;  /* pressing the power button again */
        uint64_t button_interval;
        enum vmms_state stop_from;      /* where a graceful stop that times out goes back to */
        unsigned stop_timeout;
        bool stop_force;
        bool turning_off;
        enum vmms_state save_from;      /* where a save that the worker refuses goes back to */
        bool restoring;                 /* started from the saved state, not running yet */
};

/* The saved state of a VM: STATE_DIR/vms/UUID/saved.state and saved.mem (vm.c). */
#define VMMS_SAVED_STATE "saved.state"
#define VMMS_SAVED_MEMORY "saved.mem"


struct vmms_manager {
        sd_event *event;
        char *socket_path, *state_dir, *run_dir, *vmwp_path;
        char **allow_dirs;              /* where kernels, initrds and disks may be (paths.c) */
        size_t n_allow_dirs;
        unsigned worker_id_first, worker_id_count;
        bool warned_cgroups;            /* told once that VMs run without cgroup limits */
        int vms_dirfd;                  /* STATE_DIR/vms */
        struct json_object *switches;   /* STATE_DIR/switches.json (switches.c) */
        int lock_fd;                    /* STATE_DIR/lock, held while we run */
        int listen_fd;
        bool socket_activated;
        sd_event_source *listen_source, *watchdog_source, *ready_timer;
        bool group_known;
        gid_t group;
        bool journal;                   /* stderr is the journal: log with fields */
        struct vmms_vm **vms;
        size_t n_vms;
        struct vmms_client *clients;
        size_t n_clients;
        unsigned n_adopting;
        bool ready;
        bool freeing;
        uint64_t start_usec;
        uint64_t watchdog_usec;
};

/* manager.c */
int vmms_manager_new(const struct vmms_settings *s, struct vmms_manager **ret);
void vmms_manager_free(struct vmms_manager *m);
/* Load the registry, re-adopt running workers, listen; READY=1 once adoption is done. */
int vmms_manager_start(struct vmms_manager *m);
int vmms_manager_run(struct vmms_manager *m);
struct vmms_vm *vmms_manager_find(struct vmms_manager *m, const char *name_or_uuid);
int vmms_manager_add_vm(struct vmms_manager *m, struct vmms_vm *vm);
void vmms_manager_remove_vm(struct vmms_manager *m, struct vmms_vm *vm);
/* A VM changed state (or appeared, or went): STATUS=, events to subscribers. */
void vmms_manager_state_changed(struct vmms_manager *m, struct vmms_vm *vm, const char *previous,
                                const char *current);
/* One adoption finished (successfully or not). */
void vmms_manager_adopted(struct vmms_manager *m);
void vmms_manager_update_status(struct vmms_manager *m);

/* api.c: the method table clients are served with. */
extern const struct jsonrpc_method vmms_api_methods[];
extern const size_t vmms_api_n_methods;
/* The VM a call names if the verb is allowed in its state; else NULL and the call is answered. */
struct vmms_vm *vmms_api_vm(struct jsonrpc_call *call, struct vmms_client *c, struct json_object *name,
                            enum vmms_verb verb);

/* vm.c */
int vmms_vm_new(struct vmms_manager *m, struct vm_config *cfg, struct vmms_vm **ret);
void vmms_vm_free(struct vmms_vm *vm);
void vmms_vm_set_state(struct vmms_vm *vm, enum vmms_state state, const char *reason);
int vmms_vm_to_json(const struct vmms_vm *vm, struct json_object **ret);
int vmms_vm_start(struct vmms_vm *vm, struct jsonrpc_call *call);
int vmms_vm_stop(struct vmms_vm *vm, struct jsonrpc_call *call, bool turn_off, bool force, unsigned timeout);
int vmms_vm_pause(struct vmms_vm *vm, struct jsonrpc_call *call, bool pause);
/* Save-VM: Running or Paused -> Saving -> Saved (the worker ends); a start restores it. */
int vmms_vm_save(struct vmms_vm *vm, struct jsonrpc_call *call);
/* The saved state's files in the VM's state directory: open (flags) or remove them. */
int vmms_vm_saved_open(const struct vmms_vm *vm, const char *name, int flags);
void vmms_vm_saved_remove(struct vmms_vm *vm);
/* Bytes the saved state takes on disk, or 0 without one. */
uint64_t vmms_vm_saved_size(const struct vmms_vm *vm);
int vmms_vm_adopt(struct vmms_vm *vm);
/* From the worker: it runs (info from vm.info), or it is gone. */
void vmms_vm_on_worker_info(struct vmms_vm *vm, struct json_object *info);
void vmms_vm_on_worker_exit(struct vmms_vm *vm, bool clean, const char *reason);
void vmms_vm_log(const struct vmms_vm *vm, int level, const char *fmt, ...) _printf_(3, 4);
/* Press the ACPI power button, and again while the graceful stop lasts. */
int vmms_vm_press_power_button(struct vmms_vm *vm);

/* ic.c: integration services (vmms-ic(7)) */
int vmms_api_kvp_get(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmms_api_kvp_set(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmms_api_kvp_delete(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmms_api_copy_to(struct jsonrpc_call *call, struct json_object *params, void *userdata);
/* Ask the guest to shut down through the service; < 0 when that is not possible at all. */
int vmms_ic_shutdown(struct vmms_vm *vm);
int vmms_ic_on_heartbeat(struct vmms_vm *vm, struct json_object *params);
void vmms_ic_on_worker_info(struct vmms_vm *vm, struct json_object *info);
void vmms_ic_worker_changed(struct vmms_vm *vm, bool running);
void vmms_ic_to_json(const struct vmms_vm *vm, struct json_object *o);

/* switches.c: virtual switches (STATE_DIR/switches.json) */
int vmms_switches_load(struct vmms_manager *m);         /* and create the missing ones */
bool vmms_switch_known(const struct vmms_manager *m, const char *name);
int vmms_api_switch_create(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmms_api_switch_list(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmms_api_switch_delete(struct jsonrpc_call *call, struct json_object *params, void *userdata);

/* worker.c */
/* Start vmwp for vm; on failure err says why (a message for the API caller). */
int vmms_worker_spawn(struct vmms_vm *vm, char *err, size_t err_len, struct vmms_worker **ret);
/* 1: adopted, 0: no worker runs, -ESRCH: a worker died while vmms was away, <0: error. */
int vmms_worker_adopt(struct vmms_vm *vm, struct vmms_worker **ret);
void vmms_worker_free(struct vmms_worker *w);
pid_t vmms_worker_pid(const struct vmms_worker *w);
const char *vmms_worker_console_path(const struct vmms_worker *w);
int vmms_worker_call(struct vmms_worker *w, const char *method, jsonrpc_reply_fn fn, void *userdata);
/* With params (taken) and fds (dup'd). */
int vmms_worker_call_with(struct vmms_worker *w, const char *method, struct json_object *params, const int *fds,
                          size_t n_fds, jsonrpc_reply_fn fn, void *userdata);
int vmms_worker_kill(struct vmms_worker *w, int sig);
/* Connect to the worker's console socket (non-blocking). */
int vmms_worker_console_connect(struct vmms_worker *w, int *ret_fd);
int vmms_find_vmwp(char **ret);

/* paths.c: open a kernel, initrd or disk only below an --allow-dir; err names key. -EINVAL:
 * outside, missing or unreadable (a configuration error). */
int vmms_open_allowed(const struct vmms_manager *m, const char *key, const char *path, int flags, int *ret_fd,
                      char *err, size_t err_len);
int vmms_check_allowed(const struct vmms_manager *m, const char *key, const char *path, int flags, char *err,
                       size_t err_len);
/* A new file below an --allow-dir (O_CREAT | O_EXCL, read-write): its fd and its directory's
 * (ret_dirfd, to unlink it again). -EEXIST when there is one, -EINVAL as above. */
int vmms_create_allowed(const struct vmms_manager *m, const char *key, const char *path, mode_t mode, int *ret_dirfd,
                        int *ret_fd, char *err, size_t err_len);

/* disks.c: images (vmms-api(7) "disk.*") and their backing chains (disk_chain.h), opened
 * below the --allow-dirs. */
struct disk_chain;
int vmms_disk_chain_open(const struct vmms_manager *m, const char *key, const char *path, int fd,
                         enum disk_format format, struct disk_chain *ret, char *err, size_t err_len);
int vmms_api_disk_create(struct jsonrpc_call *call, struct json_object *params, void *userdata);
int vmms_api_disk_info(struct jsonrpc_call *call, struct json_object *params, void *userdata);
