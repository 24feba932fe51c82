/* SPDX-License-Identifier: MIT */
/*
 * One VM as vmms sees it: its stored configuration, its state, the API calls waiting for
 * it (a start waits for Running, a stop for Off), and the transitions its worker drives.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "vmms.h"

#define TURN_OFF_KILL_USEC (5ull * 1000 * 1000)         /* vm.turn_off unanswered: SIGKILL */
/* A press before the guest enabled its power button is lost (as on real hardware): press
 * again while the graceful stop lasts, soon at first (a stop right after a start), then
 * every 2 s. */
#define BUTTON_REPEAT_FIRST_USEC (100ull * 1000)
#define BUTTON_REPEAT_MAX_USEC   (2ull * 1000 * 1000)

void vmms_vm_log(const struct vmms_vm *vm, int level, const char *fmt, ...)
{
        char msg[2048];
        va_list ap;

        if (log_get_max_level() < level)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (vm->manager->journal)
                sd_journal_send("MESSAGE=VM '%s': %s", vm->cfg.name, msg,
                                "PRIORITY=%i", level,
                                "VM_NAME=%s", vm->cfg.name,
                                "VM_UUID=%s", vm->cfg.uuid,
                                "SYSLOG_IDENTIFIER=vmms",
                                NULL);
        else
                log_full_errno(level, 0, "VM '%s': %s", vm->cfg.name, msg);
}

int vmms_vm_new(struct vmms_manager *m, struct vm_config *cfg, struct vmms_vm **ret)
{
        struct vmms_vm *vm = calloc(1, sizeof(*vm));

        if (!vm)
                return -ENOMEM;
        vm->manager = m;
        vm->cfg = *cfg;                 /* taken over */
        vm_config_init(cfg);
        vm->state = VMMS_STATE_OFF;
        *ret = vm;
        return 0;
}

static void vm_fail_ops(struct vmms_vm *vm, int code, const char *msg)
{
        struct vmms_op *op;

        while ((op = vm->ops)) {
                vm->ops = op->next;
                jsonrpc_call_error(op->call, code, "%s", msg);
                jsonrpc_call_unref(op->call);
                free(op);
        }
}

void vmms_vm_free(struct vmms_vm *vm)
{
        if (!vm)
                return;
        vm_fail_ops(vm, VMMS_ERROR_CANCELLED, "vmms is shutting down");
        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        vm->button_timer = sd_event_source_disable_unref(vm->button_timer);
        /* The worker keeps running: a restarted vmms re-adopts it. */
        vmms_worker_free(vm->worker);
        free(vm->reason);
        vm_config_done(&vm->cfg);
        free(vm);
}

int vmms_vm_to_json(const struct vmms_vm *vm, struct json_object **ret)
{
        _cleanup_json_ struct json_object *o = json_object_new_object(), *cfg = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = vm_config_to_json(&vm->cfg, &cfg);
        if (r < 0)
                return r;
        json_object_object_del(cfg, "console");
        json_object_object_add(o, "name", json_object_new_string(vm->cfg.name));
        json_object_object_add(o, "uuid", json_object_new_string(vm->cfg.uuid));
        json_object_object_add(o, "state", json_object_new_string(vmms_state_to_string(vm->state)));
        if (vm->reason)
                json_object_object_add(o, "reason", json_object_new_string(vm->reason));
        json_object_object_add(o, "vcpus", json_object_new_int((int)vm->cfg.vcpus));
        json_object_object_add(o, "memory", json_object_new_int64((int64_t)vm->cfg.memory));
        vmms_ic_to_json(vm, o);
        if (vm->worker) {
                const char *console = vmms_worker_console_path(vm->worker);

                json_object_object_add(o, "pid", json_object_new_int(vmms_worker_pid(vm->worker)));
                json_object_object_add(o, "uptime_usec",
                                       json_object_new_int64((int64_t)(now_usec(CLOCK_MONOTONIC) - vm->started_usec)));
                if (console)
                        json_object_object_add(o, "console", json_object_new_string(console));
        }
        if (vm->state == VMMS_STATE_SAVED || vm->state == VMMS_STATE_SAVING)
                json_object_object_add(o, "saved_state_bytes",
                                       json_object_new_int64((int64_t)vmms_vm_saved_size(vm)));
        json_object_object_add(o, "config", TAKE_PTR(cfg));
        *ret = TAKE_PTR(o);
        return 0;
}

void vmms_vm_set_state(struct vmms_vm *vm, enum vmms_state state, const char *reason)
{
        enum vmms_state prev = vm->state;

        if (reason) {
                char *r = strdup(reason);

                if (r) {
                        free(vm->reason);
                        vm->reason = r;
                }
        }
        if (prev == state && !reason)
                return;
        vm->state = state;
        if (state == VMMS_STATE_CRITICAL)
                vmms_vm_log(vm, LOG_ERR, "%s -> %s: %s", vmms_state_to_string(prev), vmms_state_to_string(state),
                            vm->reason ? vm->reason : "unknown reason");
        else
                vmms_vm_log(vm, LOG_INFO, "%s -> %s%s%s", vmms_state_to_string(prev), vmms_state_to_string(state),
                            reason ? ": " : "", reason ? reason : "");
        vmms_manager_state_changed(vm->manager, vm, vmms_state_to_string(prev), vmms_state_to_string(state));
}

static int vm_add_op(struct vmms_vm *vm, enum vmms_op_kind kind, struct jsonrpc_call *call)
{
        struct vmms_op *op = calloc(1, sizeof(*op)), **tail;

        if (!op)
                return -ENOMEM;
        op->kind = kind;
        op->call = jsonrpc_call_ref(call);
        for (tail = &vm->ops; *tail; tail = &(*tail)->next)
                ;
        *tail = op;
        return 0;
}

/* Answer the calls of one kind: with the VM (code 0) or with an error. */
static void vm_complete_ops(struct vmms_vm *vm, enum vmms_op_kind kind, int code, const char *msg)
{
        struct vmms_op **p = &vm->ops, *op;

        while ((op = *p)) {
                if (op->kind != kind) {
                        p = &op->next;
                        continue;
                }
                *p = op->next;
                if (code == 0) {
                        struct json_object *o = NULL;

                        if (vmms_vm_to_json(vm, &o) < 0)
                                jsonrpc_call_error(op->call, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
                        else
                                jsonrpc_call_reply(op->call, o);
                } else
                        jsonrpc_call_error(op->call, code, "%s", msg);
                jsonrpc_call_unref(op->call);
                free(op);
        }
}

int vmms_vm_start(struct vmms_vm *vm, struct jsonrpc_call *call)
{
        char err[1024] = "";
        int r;

        /* A Saved VM goes on from its saved state (worker.c passes the files). */
        vm->restoring = vm->state == VMMS_STATE_SAVED;
        r = vmms_worker_spawn(vm, err, sizeof(err), &vm->worker);
        if (r < 0) {
                vm->restoring = false;
                vmms_vm_log(vm, LOG_ERR, "Cannot start: %s", err[0] ? err : strerror(-r));
                return jsonrpc_call_error(call, r == -EINVAL ? VMMS_ERROR_CONFIG : VMMS_ERROR_FAILED,
                                          "VM '%s' cannot start: %s", vm->cfg.name, err[0] ? err : strerror(-r));
        }
        free(vm->reason);
        vm->reason = NULL;
        vm->turning_off = false;
        vm->started_usec = now_usec(CLOCK_MONOTONIC);
        vmms_ic_worker_changed(vm, true);
        vmms_vm_set_state(vm, VMMS_STATE_STARTING, NULL);
        r = vm_add_op(vm, VMMS_OP_START, call);
        return r;
}

void vmms_vm_on_worker_info(struct vmms_vm *vm, struct json_object *info)
{
        struct json_object *v;
        bool paused = json_object_object_get_ex(info, "state", &v) &&
                      strcmp(json_object_get_string(v), "paused") == 0;

        if (json_object_object_get_ex(info, "uptime_usec", &v)) {
                uint64_t up = (uint64_t)json_object_get_int64(v), now = now_usec(CLOCK_MONOTONIC);

                if (up <= now)
                        vm->started_usec = now - up;
        }
        vmms_ic_on_worker_info(vm, info);
        if (vm->restoring) {
                /* It runs from the state now (memory was read whole): the files go. */
                vm->restoring = false;
                vmms_vm_saved_remove(vm);
                vmms_vm_log(vm, LOG_INFO, "Restored from the saved state");
        }
        if (vm->state == VMMS_STATE_STARTING || vm->state == VMMS_STATE_RUNNING)
                vmms_vm_set_state(vm, paused ? VMMS_STATE_PAUSED : VMMS_STATE_RUNNING, NULL);
        vm_complete_ops(vm, VMMS_OP_START, 0, NULL);
}

void vmms_vm_on_worker_exit(struct vmms_vm *vm, bool clean, const char *reason)
{
        char msg[1024];
        bool was_starting = vm->state == VMMS_STATE_STARTING;

        vmms_worker_free(TAKE_PTR(vm->worker));
        vmms_ic_worker_changed(vm, false);
        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        vm->button_timer = sd_event_source_disable_unref(vm->button_timer);
        if (vm->state == VMMS_STATE_SAVING) {
                if (clean) {
                        vmms_vm_set_state(vm, VMMS_STATE_SAVED, "saved");
                        vm_complete_ops(vm, VMMS_OP_SAVE, 0, NULL);
                } else {
                        vmms_vm_saved_remove(vm);
                        vmms_vm_set_state(vm, VMMS_STATE_CRITICAL, reason);
                        snprintf(msg, sizeof(msg), "VM '%s' failed while saving: %s", vm->cfg.name, reason);
                        vm_complete_ops(vm, VMMS_OP_SAVE, VMMS_ERROR_FAILED, msg);
                }
                vm_complete_ops(vm, VMMS_OP_STOP, VMMS_ERROR_FAILED, "the VM was saved");
                vm->turning_off = false;
                return;
        }
        if (vm->restoring && !clean) {
                /* The state did not fit (another CPU, a damaged file...): the VM stays Saved. */
                vm->restoring = false;
                vmms_vm_set_state(vm, VMMS_STATE_SAVED, reason);
                snprintf(msg, sizeof(msg), "VM '%s' cannot be restored: %s", vm->cfg.name, reason);
                vm_complete_ops(vm, VMMS_OP_START, VMMS_ERROR_FAILED, msg);
                vm->turning_off = false;
                return;
        }
        if (vm->restoring)
                vmms_vm_saved_remove(vm);
        vm->restoring = false;
        if (vm->turning_off || clean) {
                vmms_vm_set_state(vm, VMMS_STATE_OFF, vm->turning_off ? "turned off" : reason);
                snprintf(msg, sizeof(msg), "VM '%s' stopped while starting: %s", vm->cfg.name, reason);
                vm_complete_ops(vm, VMMS_OP_START, VMMS_ERROR_FAILED, msg);
                vm_complete_ops(vm, VMMS_OP_STOP, 0, NULL);
        } else {
                vmms_vm_set_state(vm, VMMS_STATE_CRITICAL, reason);
                snprintf(msg, sizeof(msg), "VM '%s' %s: %s", vm->cfg.name,
                         was_starting ? "failed to start" : "failed", reason);
                vm_complete_ops(vm, VMMS_OP_START, VMMS_ERROR_FAILED, msg);
                vm_complete_ops(vm, VMMS_OP_STOP, VMMS_ERROR_FAILED, msg);
        }
        vm->turning_off = false;
}

static void on_ignored_reply(struct jsonrpc_conn *c, int r, struct json_object *result,
                             const struct jsonrpc_error *error, void *userdata)
{
        if (error)
                log_debug("Worker answered with an error: %s", error->message);
}

static int vm_on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int vm_on_button_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct vmms_vm *vm = userdata;

        if (!vm->worker || vm->state != VMMS_STATE_STOPPING || vm->turning_off) {
                vm->button_timer = sd_event_source_disable_unref(vm->button_timer);
                return 0;
        }
        vmms_vm_log(vm, LOG_DEBUG, "Pressing the power button again");
        (void)vmms_worker_call(vm->worker, "vm.power_button", on_ignored_reply, NULL);
        vm->button_interval = MIN(vm->button_interval * 2, BUTTON_REPEAT_MAX_USEC);
        (void)sd_event_source_set_time_relative(s, vm->button_interval);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int vm_arm_stop_timer(struct vmms_vm *vm, uint64_t usec)
{
        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        return sd_event_add_time_relative(vm->manager->event, &vm->stop_timer, CLOCK_MONOTONIC, usec, 0,
                                          vm_on_stop_timer, vm);
}

static int vm_turn_off(struct vmms_vm *vm)
{
        int r;

        vm->turning_off = true;
        vmms_vm_set_state(vm, VMMS_STATE_STOPPING, NULL);
        r = vmms_worker_call(vm->worker, "vm.turn_off", on_ignored_reply, NULL);
        if (r < 0)
                /* The control socket is gone: the process must go the hard way. */
                return vmms_worker_kill(vm->worker, SIGKILL);
        return vm_arm_stop_timer(vm, TURN_OFF_KILL_USEC);
}

static int vm_on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct vmms_vm *vm = userdata;
        char msg[512];

        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        if (!vm->worker)
                return 0;
        if (vm->turning_off) {
                vmms_vm_log(vm, LOG_WARNING, "The worker did not turn the VM off; killing it");
                return vmms_worker_kill(vm->worker, SIGKILL);
        }
        if (vm->stop_force) {
                vmms_vm_log(vm, LOG_WARNING, "The guest did not shut down within %u s; turning it off",
                            vm->stop_timeout);
                return vm_turn_off(vm);
        }
        vm->button_timer = sd_event_source_disable_unref(vm->button_timer);
        snprintf(msg, sizeof(msg), "VM '%s' did not shut down within %u s (the guest ignored the power button); "
                 "use force or turn_off", vm->cfg.name, vm->stop_timeout);
        vmms_vm_set_state(vm, vm->stop_from, NULL);
        vm_complete_ops(vm, VMMS_OP_STOP, VMMS_ERROR_TIMEOUT, msg);
        return 0;
}

int vmms_vm_stop(struct vmms_vm *vm, struct jsonrpc_call *call, bool turn_off, bool force, unsigned timeout)
{
        int r;

        if (turn_off && !vm->worker) {
                /* Critical or Saved: nothing runs; the VM is simply Off now (Hyper-V's
                 * "Delete Saved State"). */
                if (vm->state == VMMS_STATE_SAVED)
                        vmms_vm_saved_remove(vm);
                free(vm->reason);
                vm->reason = NULL;
                vmms_vm_set_state(vm, VMMS_STATE_OFF, NULL);
                vm_complete_ops(vm, VMMS_OP_START, VMMS_ERROR_CANCELLED, "turned off");
                r = vm_add_op(vm, VMMS_OP_STOP, call);
                vm_complete_ops(vm, VMMS_OP_STOP, 0, NULL);
                return r;
        }
        r = vm_add_op(vm, VMMS_OP_STOP, call);
        if (r < 0)
                return r;
        if (turn_off) {
                char msg[256];

                snprintf(msg, sizeof(msg), "VM '%s' was turned off while starting", vm->cfg.name);
                vm_complete_ops(vm, VMMS_OP_START, VMMS_ERROR_CANCELLED, msg);
                return vm_turn_off(vm);
        }
        /* Graceful: the shutdown integration service when the VM has it (ic.c presses the
         * power button when the guest does not run the service), else the ACPI power button. */
        vm->stop_from = vm->state;
        vm->stop_force = force;
        vm->stop_timeout = timeout;
        vmms_vm_set_state(vm, VMMS_STATE_STOPPING, NULL);
        if (vm->stop_from == VMMS_STATE_PAUSED)
                (void)vmms_worker_call(vm->worker, "vm.resume", on_ignored_reply, NULL);
        if (vmms_ic_shutdown(vm) < 0) {
                r = vmms_vm_press_power_button(vm);
                if (r < 0 && force)
                        return vm_turn_off(vm);
        }
        /* Without a control socket the timeout (or the worker's end) decides. */
        return vm_arm_stop_timer(vm, (uint64_t)timeout * 1000 * 1000);
}

int vmms_vm_press_power_button(struct vmms_vm *vm)
{
        int r = vmms_worker_call(vm->worker, "vm.power_button", on_ignored_reply, NULL);

        if (r < 0)
                return r;
        vm->button_timer = sd_event_source_disable_unref(vm->button_timer);
        vm->button_interval = BUTTON_REPEAT_FIRST_USEC;
        (void)sd_event_add_time_relative(vm->manager->event, &vm->button_timer, CLOCK_MONOTONIC,
                                         vm->button_interval, 0, vm_on_button_timer, vm);
        return 0;
}

struct pause_ctx {
        struct vmms_vm *vm;
        struct jsonrpc_call *call;
        bool pause;
};

static void on_pause_reply(struct jsonrpc_conn *c, int r, struct json_object *result,
                           const struct jsonrpc_error *error, void *userdata)
{
        struct pause_ctx *ctx = userdata;
        struct json_object *o = NULL;

        if (r < 0)      /* the worker went away; the VM (maybe freed) learns that from its pidfd */
                jsonrpc_call_error(ctx->call, VMMS_ERROR_FAILED, "The worker went away");
        else if (error)
                jsonrpc_call_error(ctx->call, VMMS_ERROR_FAILED, "VM '%s' cannot %s: %s", ctx->vm->cfg.name,
                                   ctx->pause ? "pause" : "resume", error->message);
        else {
                struct vmms_vm *vm = ctx->vm;

                if (vm->state == VMMS_STATE_RUNNING || vm->state == VMMS_STATE_PAUSED)
                        vmms_vm_set_state(vm, ctx->pause ? VMMS_STATE_PAUSED : VMMS_STATE_RUNNING, NULL);
                if (vmms_vm_to_json(vm, &o) < 0)
                        jsonrpc_call_error(ctx->call, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
                else
                        jsonrpc_call_reply(ctx->call, o);
        }
        jsonrpc_call_unref(ctx->call);
        free(ctx);
}

int vmms_vm_pause(struct vmms_vm *vm, struct jsonrpc_call *call, bool pause)
{
        struct pause_ctx *ctx = calloc(1, sizeof(*ctx));
        int r;

        if (!ctx)
                return -ENOMEM;
        *ctx = (struct pause_ctx) { .vm = vm, .call = jsonrpc_call_ref(call), .pause = pause };
        r = vmms_worker_call(vm->worker, pause ? "vm.pause" : "vm.resume", on_pause_reply, ctx);
        if (r < 0) {
                jsonrpc_call_unref(ctx->call);
                free(ctx);
        }
        return r;
}

int vmms_vm_adopt(struct vmms_vm *vm)
{
        int r = vmms_worker_adopt(vm, &vm->worker);

        if (r == -ESRCH) {
                vmms_vm_set_state(vm, VMMS_STATE_CRITICAL, "the worker exited while vmms was not running");
                return 0;
        }
        if (r < 0) {
                vmms_vm_set_state(vm, VMMS_STATE_CRITICAL, "cannot re-adopt the running worker");
                return 0;
        }
        if (r == 0) {
                /* Not running: Saved if its saved state is there (a vmms or host restart). */
                int fd = vmms_vm_saved_open(vm, VMMS_SAVED_STATE, O_RDONLY);

                if (fd >= 0) {
                        safe_close(fd);
                        vm->state = VMMS_STATE_SAVED;
                }
                return 0;
        }
        /* Running until vm.info says otherwise; the manager waits for that before READY=1. */
        vm->started_usec = now_usec(CLOCK_MONOTONIC);
        vmms_ic_worker_changed(vm, true);
        vm->state = VMMS_STATE_RUNNING;
        vmms_vm_log(vm, LOG_INFO, "Re-adopted the running worker (pid %d)", (int)vmms_worker_pid(vm->worker));
        return 1;
}

int vmms_vm_saved_open(const struct vmms_vm *vm, const char *name, int flags)
{
        _cleanup_close_ int dfd = openat(vm->manager->vms_dirfd, vm->cfg.uuid,
                                         O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        int fd;

        if (dfd < 0)
                return -errno;
        fd = openat(dfd, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        return fd < 0 ? -errno : fd;
}

void vmms_vm_saved_remove(struct vmms_vm *vm)
{
        _cleanup_close_ int dfd = openat(vm->manager->vms_dirfd, vm->cfg.uuid,
                                         O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

        if (dfd < 0)
                return;
        (void)unlinkat(dfd, VMMS_SAVED_STATE, 0);
        (void)unlinkat(dfd, VMMS_SAVED_MEMORY, 0);
}

uint64_t vmms_vm_saved_size(const struct vmms_vm *vm)
{
        _cleanup_close_ int dfd = openat(vm->manager->vms_dirfd, vm->cfg.uuid,
                                         O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        uint64_t n = 0;
        struct stat st;

        if (dfd < 0 || fstatat(dfd, VMMS_SAVED_STATE, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        n = (uint64_t)st.st_blocks * 512;
        if (fstatat(dfd, VMMS_SAVED_MEMORY, &st, AT_SYMLINK_NOFOLLOW) == 0)
                n += (uint64_t)st.st_blocks * 512;
        return n;
}

static void on_save_reply(struct jsonrpc_conn *c, int r, struct json_object *result,
                          const struct jsonrpc_error *error, void *userdata)
{
        struct vmms_vm *vm = userdata;
        char msg[1024];

        if (r < 0 || !error)
                return;         /* saved (or gone): the worker's end says which */
        if (vm->state != VMMS_STATE_SAVING)
                return;
        /* Refused (a device that cannot be saved...): the VM runs on as it was. */
        vmms_vm_saved_remove(vm);
        vmms_vm_set_state(vm, vm->save_from, NULL);
        snprintf(msg, sizeof(msg), "VM '%s' cannot be saved: %s", vm->cfg.name, error->message);
        vmms_vm_log(vm, LOG_WARNING, "%s", msg);
        vm_complete_ops(vm, VMMS_OP_SAVE, error->code == VMMS_ERROR_STATE ? VMMS_ERROR_STATE : VMMS_ERROR_FAILED,
                        msg);
}

int vmms_vm_save(struct vmms_vm *vm, struct jsonrpc_call *call)
{
        int fds[2] = { -1, -1 }, r;

        fds[0] = vmms_vm_saved_open(vm, VMMS_SAVED_STATE, O_RDWR | O_CREAT | O_TRUNC);
        if (fds[0] >= 0)
                fds[1] = vmms_vm_saved_open(vm, VMMS_SAVED_MEMORY, O_RDWR | O_CREAT | O_TRUNC);
        if (fds[0] < 0 || fds[1] < 0) {
                r = fds[0] < 0 ? fds[0] : fds[1];
                safe_close(fds[0]);
                vmms_vm_saved_remove(vm);
                return jsonrpc_call_error(call, VMMS_ERROR_FAILED, "VM '%s' cannot be saved: its saved state "
                                          "cannot be created in %s/vms/%s: %s", vm->cfg.name, vm->manager->state_dir,
                                          vm->cfg.uuid, strerror(-r));
        }
        r = vm_add_op(vm, VMMS_OP_SAVE, call);
        if (r < 0) {
                safe_close(fds[0]);
                safe_close(fds[1]);
                vmms_vm_saved_remove(vm);
                return r;
        }
        vm->save_from = vm->state;
        vmms_vm_set_state(vm, VMMS_STATE_SAVING, NULL);
        /* The worker writes into the files vmms made: it opens nothing itself. */
        r = vmms_worker_call_with(vm->worker, "vm.save", NULL, fds, 2, on_save_reply, vm);
        safe_close(fds[0]);
        safe_close(fds[1]);
        if (r < 0) {
                char msg[256];

                vmms_vm_saved_remove(vm);
                vmms_vm_set_state(vm, vm->save_from, NULL);
                snprintf(msg, sizeof(msg), "VM '%s' cannot be saved: its worker cannot be reached", vm->cfg.name);
                vm_complete_ops(vm, VMMS_OP_SAVE, VMMS_ERROR_FAILED, msg);
        }
        return 0;
}
