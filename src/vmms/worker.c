/* SPDX-License-Identifier: MIT */
/*
 * Workers: vmwp processes, one per running VM. Started in their cage (cage.c: clone3 into
 * new namespaces, the VM's cgroup, the worker's own uid, no capabilities, seccomp) with the
 * fds vmms opened for them over SCM_RIGHTS; watched through a pidfd so a death is noticed
 * at once; driven over a per-VM control socket in RUN_DIR/vms/<uuid>/; re-adopted after a
 * restart of vmms by connecting to that socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmms-build-config.h"
#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/fdpass.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "cage.h"
#include "disk_chain.h"
#include "vmms/tap.h"
#include "registry.h"
#include "vmms.h"

extern char **environ;

struct vmms_worker {
        struct vmms_vm *vm;
        pid_t pid;
        int pidfd;
        bool child;                     /* started by us: waitid() tells how it ended */
        bool adopting;                  /* re-adopted, vm.info not answered yet */
        sd_event_source *pid_source;
        struct jsonrpc_conn *control;
        char *dir, *control_path, *console_path;
        bool got_exit;                  /* vm.exited arrived */
        char *exit_kind, *exit_reason;
        uid_t uid;                      /* the worker's own uid (and gid) */
        int status_fd;                  /* where it reports a seccomp violation; -1 once adopted */
        char cgroup[64];                /* its cgroup's name */
};

pid_t vmms_worker_pid(const struct vmms_worker *w) { return w->pid; }
const char *vmms_worker_console_path(const struct vmms_worker *w) { return w->console_path; }

static int worker_on_exited(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_worker *w = userdata;
        struct json_object *kind = NULL, *reason = NULL, *detail = NULL, *status = NULL;
        const struct jsonrpc_param p[] = {
                { "kind", json_type_string, true, &kind },
                { "reason", json_type_string, false, &reason },
                { "detail", json_type_string, false, &detail },
                { "exit_status", json_type_int, false, &status },
        };

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        free(w->exit_kind);
        free(w->exit_reason);
        w->exit_kind = strdup(json_object_get_string(kind));
        w->exit_reason = strdup(reason ? json_object_get_string(reason) : "");
        w->got_exit = w->exit_kind && w->exit_reason;
        if (detail)
                vmms_vm_log(w->vm, LOG_DEBUG, "Worker exit detail: %s", json_object_get_string(detail));
        return jsonrpc_call_reply(call, NULL);
}

static int worker_on_heartbeat(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_worker *w = userdata;

        (void)vmms_ic_on_heartbeat(w->vm, params);
        return jsonrpc_call_reply(call, NULL);  /* a notification: goes nowhere */
}

static const struct jsonrpc_method worker_methods[] = {
        { VMWP_EVENT_EXITED, worker_on_exited },
        { VMWP_EVENT_IC_HEARTBEAT, worker_on_heartbeat },
};

void vmms_worker_free(struct vmms_worker *w)
{
        if (!w)
                return;
        w->pid_source = sd_event_source_disable_unref(w->pid_source);
        safe_close(w->pidfd);
        if (w->control) {
                jsonrpc_conn_set_close_callback(w->control, NULL);
                jsonrpc_conn_close(w->control);
                w->control = jsonrpc_conn_unref(w->control);
        }
        if (w->adopting)
                vmms_manager_adopted(w->vm->manager);
        free(w->dir);
        free(w->control_path);
        free(w->console_path);
        free(w->exit_kind);
        free(w->exit_reason);
        safe_close(w->status_fd);
        free(w);
}

static const char *exit_status_meaning(int status)
{
        switch (status) {
        case 1: return "the worker failed";
        case 2: return "configuration or image error";
        case 3: return "the guest crashed";
        default: return "unexpected exit status";
        }
}

/* Why the worker ended, and whether that was an orderly end (the VM is Off, not Critical). */
static bool worker_exit_reason(struct vmms_worker *w, const siginfo_t *si, bool have_si, char *buf, size_t len)
{
        char report[128];
        ssize_t n = w->status_fd >= 0 ? read(w->status_fd, report, sizeof(report)) : -1;

        /* The cage: a system call its filter forbids (the worker's SIGSYS handler said which). */
        if (n > 0 && cage_parse_report(report, (size_t)n, buf, len))
                return false;
        if (have_si && (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED) && si->si_status == SIGSYS) {
                snprintf(buf, len, "seccomp violation: the worker was killed by SIGSYS");
                return false;
        }
        if (have_si && (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED) && si->si_status == SIGKILL &&
            !w->got_exit && cage_cgroup_oom_killed(w->cgroup)) {
                snprintf(buf, len, "worker killed by the OOM killer: out of memory in its cgroup (memory.max)");
                return false;
        }
        if (w->got_exit) {
                if (strcmp(w->exit_kind, "crashed") == 0) {
                        snprintf(buf, len, "guest crashed: %s", w->exit_reason);
                        return false;
                }
                if (strcmp(w->exit_kind, "worker error") == 0) {
                        snprintf(buf, len, "worker failed: %s", w->exit_reason);
                        return false;
                }
                snprintf(buf, len, "%s", w->exit_reason[0] ? w->exit_reason : w->exit_kind);
                return true;
        }
        if (have_si && si->si_code == CLD_EXITED) {
                if (si->si_status == 0) {
                        snprintf(buf, len, "the worker exited");
                        return true;
                }
                snprintf(buf, len, "worker exited with status %d (%s)", si->si_status,
                         exit_status_meaning(si->si_status));
                return false;
        }
        if (have_si && (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED)) {
                const char *name = sigabbrev_np(si->si_status);

                snprintf(buf, len, "worker killed by signal SIG%s%s", name ? name : "?",
                         si->si_code == CLD_DUMPED ? " (core dumped)" : "");
                return false;
        }
        snprintf(buf, len, "the worker process ended without saying why");
        return false;
}

static void worker_cleanup_dir(struct vmms_worker *w)
{
        _cleanup_free_ char *vms = NULL;
        _cleanup_close_ int fd = -1;

        if (asprintf(&vms, "%s/vms", w->vm->manager->run_dir) < 0)
                return;
        fd = open(vms, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void)vmms_rmdir_flat(fd, w->vm->cfg.uuid);
}

static int worker_on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct vmms_worker *w = userdata;
        siginfo_t si = {};
        bool have_si = false, clean;
        char reason[1024];

        /* What the worker said before it died comes first (vm.exited, late answers). */
        if (w->control)
                (void)jsonrpc_conn_drain_input(w->control);
        if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) >= 0 && si.si_pid != 0)
                have_si = true;
        else if (errno != ECHILD && w->child)
                log_debug_errno(-errno, "waitid() on worker %d: %m", (int)w->pid);
        clean = worker_exit_reason(w, &si, have_si, reason, sizeof(reason));
        worker_cleanup_dir(w);
        if (cage_cgroup_remove(w->cgroup) < 0)
                vmms_vm_log(w->vm, LOG_WARNING, "Cannot remove the worker's cgroup %s", w->cgroup);
        vmms_vm_log(w->vm, clean ? LOG_INFO : LOG_ERR, "Worker %d ended: %s", (int)w->pid, reason);
        vmms_vm_on_worker_exit(w->vm, clean, reason);     /* frees w */
        return 0;
}

static void worker_on_info(struct jsonrpc_conn *c, int r, struct json_object *result,
                           const struct jsonrpc_error *error, void *userdata)
{
        struct vmms_worker *w = userdata;
        bool adopting;

        if (r < 0)
                return;         /* gone: its pidfd reports the end */
        adopting = w->adopting;
        w->adopting = false;
        if (error)
                vmms_vm_log(w->vm, LOG_WARNING, "vm.info failed: %s", error->message);
        else
                /* Not its "console": a caged worker says nothing vmms connects to as root. */
                vmms_vm_on_worker_info(w->vm, result);
        if (adopting)
                vmms_manager_adopted(w->vm->manager);
}

static void worker_on_control_close(struct jsonrpc_conn *c, void *userdata)
{
        struct vmms_worker *w = userdata;

        /* The pidfd reports the end of the process; only the connection is gone here. */
        vmms_vm_log(w->vm, LOG_DEBUG, "Control connection closed");
        w->control = jsonrpc_conn_unref(w->control);
}

int vmms_worker_call(struct vmms_worker *w, const char *method, jsonrpc_reply_fn fn, void *userdata)
{
        if (!w || !w->control)
                return -ENOTCONN;
        return jsonrpc_conn_call(w->control, method, NULL, fn, userdata);
}

int vmms_worker_call_with(struct vmms_worker *w, const char *method, struct json_object *params, const int *fds,
                          size_t n_fds, jsonrpc_reply_fn fn, void *userdata)
{
        if (!w || !w->control) {
                json_object_put(params);
                return -ENOTCONN;
        }
        return jsonrpc_conn_call_fds(w->control, method, params, fds, n_fds, fn, userdata);
}

int vmms_worker_kill(struct vmms_worker *w, int sig)
{
        if (pidfd_send_signal(w->pidfd, sig, NULL, 0) < 0)
                return -errno;
        return 0;
}

static int worker_new(struct vmms_vm *vm, struct vmms_worker **ret)
{
        struct vmms_worker *w = calloc(1, sizeof(*w));

        if (!w)
                return -ENOMEM;
        w->vm = vm;
        w->pidfd = w->status_fd = -1;
        snprintf(w->cgroup, sizeof(w->cgroup), "vmms-vm-%s", vm->cfg.uuid);
        if (asprintf(&w->dir, "%s/vms/%s", vm->manager->run_dir, vm->cfg.uuid) < 0 ||
            asprintf(&w->control_path, "%s/control.sock", w->dir) < 0) {
                w->dir = w->control_path = NULL;
                vmms_worker_free(w);
                return -ENOMEM;
        }
        *ret = w;
        return 0;
}

/* Watch the process and talk to it. Takes control_fd. */
static int worker_attach(struct vmms_worker *w, int control_fd)
{
        int r;

        r = sd_event_add_io(w->vm->manager->event, &w->pid_source, w->pidfd, EPOLLIN, worker_on_pidfd, w);
        if (r < 0) {
                safe_close(control_fd);
                return r;
        }
        r = jsonrpc_conn_new(w->vm->manager->event, control_fd, worker_methods, ARRAY_SIZE(worker_methods), w,
                             &w->control);
        if (r < 0)
                return r;
        jsonrpc_conn_set_close_callback(w->control, worker_on_control_close);
        return jsonrpc_conn_call(w->control, "vm.info", NULL, worker_on_info, w);
}

/* The configuration the worker runs with: the stored one, plus what vmms manages. */
static int worker_write_config(struct vmms_worker *w, char *err, size_t err_len)
{
        _cleanup_json_ struct json_object *o = NULL, *con = json_object_new_object();
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        const struct vm_config *cfg = &w->vm->cfg;
        const char *text;
        int r;

        if (!con || asprintf(&path, "%s/config.json", w->dir) < 0)
                return -ENOMEM;
        r = vm_config_to_json(cfg, &o);
        if (r < 0)
                return r;
        json_object_object_add(con, "type", json_object_new_string("socket"));
        json_object_object_add(con, "path", json_object_new_string(w->console_path));
        json_object_object_add(o, "console", TAKE_PTR(con));
        if (!cfg->kernel && !cfg->cmdline)
                json_object_object_add(o, "cmdline", json_object_new_string(VMMS_DEFAULT_GUEST_CMDLINE));
        if (!cfg->kernel)       /* named for messages; the worker reads it from the fd we pass */
                json_object_object_add(o, "kernel",
                                       json_object_new_string(cage_bundled_kernel_path(w->vm->manager->vmwp_path)));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || fchown(fd, w->uid, w->uid) < 0) {
                r = -errno;
                snprintf(err, err_len, "cannot write %s: %s", path, strerror(-r));
                return r;
        }
        r = loop_write(fd, text, strlen(text));
        if (r < 0)
                snprintf(err, err_len, "cannot write %s: %s", path, strerror(-r));
        return r;
}

/* The fds the worker gets, and the first line that names them (vmwp's handoff.h): at most
 * as many as it takes (VMWP_HANDOFF_MAX_FDS), which leaves room for every disk's chain. */
#define WORKER_FDS_MAX 256

struct worker_fds {
        int fds[WORKER_FDS_MAX];
        size_t n;
};

static void worker_fds_done(struct worker_fds *f)
{
        for (size_t i = 0; i < f->n; i++)
                safe_close(f->fds[i]);
        f->n = 0;
}

static int worker_open_fds(struct vmms_worker *w, int lock_fd, struct worker_fds *f, char **ret_line, char *err,
                           size_t err_len)
{
        _cleanup_json_ struct json_object *o = json_object_new_object(), *disks = NULL, *hold = NULL;
        struct json_object *nics = NULL;
        struct vmms_vm *vm = w->vm;
        const struct vmms_manager *m = vm->manager;
        const char *s;
        int fd, r, pipefd[2];

        if (!o)
                return -ENOMEM;
        /* The images first, so a bad path is reported whatever the host lacks; the worker
         * opens nothing itself. */
        if (vm->cfg.kernel) {
                r = vmms_open_allowed(m, "kernel", vm->cfg.kernel, O_RDONLY, &fd, err, err_len);
                if (r < 0)
                        return r;
        } else {
                const char *bundled = cage_bundled_kernel_path(m->vmwp_path);

                fd = image_open_at(AT_FDCWD, bundled, O_RDONLY, 0, NULL);
                if (fd < 0) {
                        snprintf(err, err_len, "cannot open the bundled guest kernel %s: %s", bundled, strerror(-fd));
                        return fd;
                }
        }
        f->fds[f->n] = fd;
        json_object_object_add(o, "kernel", json_object_new_int((int)f->n++));
        if (vm->cfg.initrd) {
                r = vmms_open_allowed(m, "initrd", vm->cfg.initrd, O_RDONLY, &fd, err, err_len);
                if (r < 0)
                        return r;
                f->fds[f->n] = fd;
                json_object_object_add(o, "initrd", json_object_new_int((int)f->n++));
        }
        /* Where it reports a seccomp violation before it dies. */
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        w->status_fd = pipefd[0];
        (void)fd_set_nonblock(w->status_fd, true);
        f->fds[f->n] = pipefd[1];
        json_object_object_add(o, "status", json_object_new_int((int)f->n++));
        /* Its worker id's lease: held as long as it runs. */
        fd = fcntl(lock_fd, F_DUPFD_CLOEXEC, 3);
        hold = json_object_new_array();
        if (fd < 0 || !hold) {
                safe_close(fd);
                return -ENOMEM;
        }
        f->fds[f->n] = fd;
        json_object_array_add(hold, json_object_new_int((int)f->n++));
        json_object_object_add(o, "hold", TAKE_PTR(hold));
        /* A Saved VM: its state and memory, read-only; the worker takes its configuration from them. */
        if (vm->restoring) {
                static const char *const keys[2] = { "restore", "restore-memory" };
                static const char *const names[2] = { VMMS_SAVED_STATE, VMMS_SAVED_MEMORY };

                for (unsigned i = 0; i < 2; i++) {
                        fd = vmms_vm_saved_open(vm, names[i], O_RDONLY);
                        if (fd < 0) {
                                snprintf(err, err_len, "the saved state %s/vms/%s/%s: %s", m->state_dir, vm->cfg.uuid,
                                         names[i], strerror(-fd));
                                return -EINVAL;
                        }
                        f->fds[f->n] = fd;
                        json_object_object_add(o, keys[i], json_object_new_int((int)f->n++));
                }
        }
        if (vm->cfg.n_disks > 0) {
                disks = json_object_new_array();
                if (!disks)
                        return -ENOMEM;
        }
        for (unsigned i = 0; i < vm->cfg.n_disks; i++) {
                const struct disk_config *d = &vm->cfg.disks[i];
                struct disk_chain chain = {};
                struct json_object *ids;
                char key[32];
                unsigned top, n;

                if (f->n + 1 >= WORKER_FDS_MAX) { /* and one for /dev/kvm */
                        snprintf(err, err_len, "disks: too many to pass to the worker");
                        return -E2BIG;
                }
                snprintf(key, sizeof(key), "disks[%u].path", i);
                r = vmms_open_allowed(m, key, d->path, d->readonly ? O_RDONLY : O_RDWR, &fd, err, err_len);
                if (r < 0)
                        return r;
                top = (unsigned)f->n;
                f->fds[f->n++] = fd;
                /* A qcow2 image's backing files, read-only: [top, backing, its backing, ...]. */
                r = vmms_disk_chain_open(m, key, d->path, fd, d->format, &chain, err, err_len);
                if (r < 0)
                        return r;
                if (chain.n < 2) {
                        disk_chain_done(&chain);
                        json_object_array_add(disks, json_object_new_int((int)top));
                        continue;
                }
                if (f->n + chain.n > WORKER_FDS_MAX) {  /* its backing files and /dev/kvm */
                        disk_chain_done(&chain);
                        snprintf(err, err_len, "disks: too many image files to pass to the worker");
                        return -E2BIG;
                }
                ids = json_object_new_array();
                if (!ids) {
                        disk_chain_done(&chain);
                        return -ENOMEM;
                }
                json_object_array_add(disks, ids);
                json_object_array_add(ids, json_object_new_int((int)top));
                n = disk_chain_take_fds(&chain, f->fds + f->n);
                disk_chain_done(&chain);
                for (unsigned k = 0; k < n; k++)
                        json_object_array_add(ids, json_object_new_int((int)f->n++));
        }
        if (disks)
                json_object_object_add(o, "disks", TAKE_PTR(disks));
        /* Its NICs' TAPs, created here in the host's network namespace ("vm" + the start of
         * the VM's UUID + the NIC's index, so `ip link` tells whose they are). */
        if (vm->cfg.n_nics > 0) {
                nics = json_object_new_array();
                if (!nics)
                        return -ENOMEM;
                json_object_object_add(o, "nics", nics);
        }
        for (unsigned i = 0; i < vm->cfg.n_nics; i++) {
                struct json_object *q = json_object_new_array();
                struct vsp_tap *tap = NULL;
                char name[16], msg[256];

                if (!q)
                        return -ENOMEM;
                json_object_array_add(nics, q);
                snprintf(name, sizeof(name), "vm%.8s-%u", vm->cfg.uuid, i);
                r = cage_nic_open(&vm->cfg.nics[i], name, &tap, msg, sizeof(msg));
                if (r < 0) {
                        snprintf(err, err_len, "nics[%u]: %s", i, msg);
                        return r;
                }
                for (unsigned k = 0; k < vsp_tap_queues(tap); k++) {
                        if (f->n + 1 >= WORKER_FDS_MAX) {
                                vsp_tap_free(tap);
                                snprintf(err, err_len, "nics: too many queues to pass to the worker");
                                return -E2BIG;
                        }
                        fd = fcntl(vsp_tap_fd(tap, k), F_DUPFD_CLOEXEC, 3);
                        if (fd < 0) {
                                r = -errno;
                                vsp_tap_free(tap);
                                return r;
                        }
                        f->fds[f->n] = fd;
                        json_object_array_add(q, json_object_new_int((int)f->n++));
                }
                vsp_tap_free(tap);
        }
        fd = kvm_open(err, err_len);
        if (fd < 0)
                return fd;
        f->fds[f->n] = fd;
        json_object_object_add(o, "kvm", json_object_new_int((int)f->n++));
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (!s || asprintf(ret_line, "%s\n", s) < 0)
                return -ENOMEM;
        return 0;
}

static char **worker_environment(void)
{
        static const char *const drop[] = {
                "NOTIFY_SOCKET=", "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "WATCHDOG_USEC=",
                "WATCHDOG_PID=",
        };
        size_t n = 0, k = 0;
        char **env;

        while (environ[n])
                n++;
        env = calloc(n + 1, sizeof(char *));
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                bool keep = true;

                for (size_t j = 0; j < ARRAY_SIZE(drop); j++)
                        if (string_has_prefix(environ[i], drop[j]))
                                keep = false;
                if (keep)
                        env[k++] = environ[i];
        }
        return env;
}

/* Start vmwp in its cage (cage_launch()): its own namespaces, uid, cgroup; the run dir its
 * only writable place; fd 3 the socket with its fds. */
static int worker_exec(struct vmms_worker *w, const char *line, const struct worker_fds *fds, char *err,
                       size_t err_len)
{
        struct vmms_vm *vm = w->vm;
        const char *vmwp = vm->manager->vmwp_path;
        const char *const bind_dirs[] = { w->dir, NULL };
        _cleanup_free_ char *config = NULL;
        _cleanup_free_ char **env = NULL;
        struct cage_launched out;
        int r;

        if (asprintf(&config, "%s/config.json", w->dir) < 0)
                return -ENOMEM;
        char *const argv[] = {
                (char *)vmwp, "--config", config, "--control", w->control_path, "--fd-socket", (char *)"3",
                NULL,
        };
        env = worker_environment();
        if (!env)
                return -ENOMEM;
        r = cage_launch(&(struct cage_launch) {
                .config = {
                        .hostname = vm->cfg.name,
                        .uid = w->uid, .gid = w->uid,
                        .bind_dirs = bind_dirs,
                        .argv = argv,
                        .envp = env,
                        .stdio = { -1, STDOUT_FILENO, STDERR_FILENO },
                        /* Its own session: a signal to vmms' process group never reaches the VMs. */
                        .new_session = true,
                },
                .program = vmwp,
                .cgroup_name = w->cgroup,
                .guest_memory = vm->cfg.memory, .vcpus = vm->cfg.vcpus, .cpu_weight = vm->cfg.cpu_weight,
                .handoff_line = line, .handoff_fds = fds->fds, .n_handoff_fds = fds->n,
        }, err, err_len, &out);
        if (r < 0)
                return r;
        if (out.no_limits[0] && !vm->manager->warned_cgroups) {
                log_warning("VMs run without resource limits: %s", out.no_limits);
                vm->manager->warned_cgroups = true;
        }
        cage_cgroup_free(out.cgroup);
        w->pid = out.pid;
        w->pidfd = out.pidfd;
        w->child = true;
        return out.socket;
}

int vmms_worker_spawn(struct vmms_vm *vm, char *err, size_t err_len, struct vmms_worker **ret)
{
        struct vmms_worker *w = NULL;
        struct worker_fds fds = {};
        struct sockaddr_un sa;
        _cleanup_free_ char *vms = NULL, *line = NULL;
        _cleanup_close_ int vms_fd = -1, mine = -1, lock_fd = -1;
        int r;

        r = worker_new(vm, &w);
        if (r < 0)
                return r;
        if (asprintf(&w->console_path, "%s/console.sock", w->dir) < 0) {
                w->console_path = NULL;
                r = -ENOMEM;
                goto fail;
        }
        if (strlen(w->console_path) >= sizeof(sa.sun_path)) {
                snprintf(err, err_len, "the run directory %s is too long for Unix socket paths", vm->manager->run_dir);
                r = -ENAMETOOLONG;
                goto fail;
        }
        if (asprintf(&vms, "%s/vms", vm->manager->run_dir) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        (void)mkdir(vms, 0755);
        vms_fd = open(vms, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (vms_fd < 0) {
                r = -errno;
                snprintf(err, err_len, "cannot open %s: %s", vms, strerror(-r));
                goto fail;
        }
        (void)vmms_rmdir_flat(vms_fd, vm->cfg.uuid);   /* what an earlier worker left */
        /* The worker's own uid, for as long as it runs (the lease goes with it). */
        r = cage_id_lease(vm->manager->worker_id_first, vm->manager->worker_id_count, &w->uid, &lock_fd);
        if (r < 0) {
                snprintf(err, err_len, "no free worker uid in %u-%u: %s", vm->manager->worker_id_first,
                         vm->manager->worker_id_first + vm->manager->worker_id_count - 1, strerror(-r));
                goto fail;
        }
        /* Its run directory: the one place it may write (its sockets). */
        if (mkdirat(vms_fd, vm->cfg.uuid, 0700) < 0 || fchownat(vms_fd, vm->cfg.uuid, w->uid, w->uid, 0) < 0) {
                r = -errno;
                snprintf(err, err_len, "cannot create %s: %s", w->dir, strerror(-r));
                goto fail;
        }
        r = worker_write_config(w, err, err_len);
        if (r < 0)
                goto fail;
        r = worker_open_fds(w, lock_fd, &fds, &line, err, err_len);
        if (r < 0)
                goto fail;
        r = worker_exec(w, line, &fds, err, err_len);
        if (r < 0)
                goto fail;
        worker_fds_done(&fds);
        mine = r;
        r = worker_attach(w, TAKE_FD(mine));
        if (r < 0) {
                /* Started but unwatchable: do not leave it running unsupervised. */
                siginfo_t si;

                snprintf(err, err_len, "cannot supervise the worker: %s", strerror(-r));
                (void)vmms_worker_kill(w, SIGKILL);
                (void)waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED);
                goto fail;
        }
        vmms_vm_log(vm, LOG_INFO, "Worker %d started", (int)w->pid);
        *ret = w;
        return 0;
fail:
        worker_fds_done(&fds);
        (void)cage_cgroup_remove(w->cgroup);
        if (vms_fd >= 0)
                (void)vmms_rmdir_flat(vms_fd, vm->cfg.uuid);
        vmms_worker_free(w);
        return r;
}

int vmms_worker_adopt(struct vmms_vm *vm, struct vmms_worker **ret)
{
        struct vmms_worker *w = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cred;
        socklen_t len = sizeof(cred);
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        r = worker_new(vm, &w);
        if (r < 0)
                return r;
        if (stat(w->dir, &st) < 0) {
                vmms_worker_free(w);
                return 0;
        }
        if (strlen(w->control_path) >= sizeof(sa.sun_path)) {
                r = -ENAMETOOLONG;
                goto fail;
        }
        strcpy(sa.sun_path, w->control_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = -errno;
                goto fail;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                r = -errno;
                worker_cleanup_dir(w);
                vmms_worker_free(w);
                /* No socket: the worker ended in order. A dead socket: it did not. */
                return r == -ENOENT ? 0 : r == -ECONNREFUSED ? -ESRCH : r;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                r = -errno;
                goto fail;
        }
        /* Its worker owns the run directory (vmms gave it that uid); anything else listening
         * there (a link to another VM's socket, to a root service) is not this VM. */
        if (cred.uid != st.st_uid) {
                vmms_vm_log(vm, LOG_WARNING, "%s is served by uid %u, not by the VM's worker (uid %u)",
                            w->control_path, (unsigned)cred.uid, (unsigned)st.st_uid);
                r = -EPERM;
                goto fail;
        }
        w->pid = cred.pid;
        w->uid = cred.uid;
        w->pidfd = pidfd_open(cred.pid, 0);
        if (w->pidfd < 0) {
                r = -errno;
                goto fail;
        }
        if (asprintf(&w->console_path, "%s/console.sock", w->dir) < 0) {
                w->console_path = NULL;
                r = -ENOMEM;
                goto fail;
        }
        w->adopting = true;
        vm->manager->n_adopting++;
        r = worker_attach(w, TAKE_FD(fd));
        if (r < 0)
                goto fail;
        *ret = w;
        return 1;
fail:
        vmms_vm_log(vm, LOG_ERR, "Cannot re-adopt the worker: %s", strerror(-r));
        vmms_worker_free(w);
        return r;
}

int vmms_worker_console_connect(struct vmms_worker *w, int *ret_fd)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (!w->console_path || strlen(w->console_path) >= sizeof(sa.sun_path))
                return -ENOENT;
        strcpy(sa.sun_path, w->console_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        /* The worker owns its run directory: a link it put there must not hand a client a
         * connection vmms made as root. Only the worker itself serves its console. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        if (cred.uid != w->uid) {
                vmms_vm_log(w->vm, LOG_WARNING, "%s is served by uid %u, not by the worker (uid %u): refused",
                            w->console_path, (unsigned)cred.uid, (unsigned)w->uid);
                return -EPERM;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vmms_find_vmwp(char **ret)
{
        _cleanup_free_ char *exe = NULL, *dir = NULL;
        const char *env = getenv("VMMS_VMWP");
        char buf[4096];
        ssize_t n;

        if (env && env[0]) {
                *ret = strdup(env);
                return *ret ? 0 : -ENOMEM;
        }
        n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n > 0) {
                char *slash;

                buf[n] = 0;
                slash = strrchr(buf, '/');
                if (slash) {
                        *slash = 0;
                        /* The build tree's worker only for the build tree's vmms. */
                        const char *const candidates[] = {
                                string_has_prefix(buf, VMMS_BUILD_ROOT "/") ? "/../vmwp/vmwp" : NULL,
                                "/vmwp",
                        };

                        for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
                                char *p;

                                if (!candidates[i])
                                        continue;
                                if (asprintf(&p, "%s%s", buf, candidates[i]) < 0)
                                        return -ENOMEM;
                                if (access(p, X_OK) == 0) {
                                        *ret = p;
                                        return 0;
                                }
                                free(p);
                        }
                }
        }
        if (access(VMMS_BINDIR "/vmwp", X_OK) == 0) {
                *ret = strdup(VMMS_BINDIR "/vmwp");
                return *ret ? 0 : -ENOMEM;
        }
        return -ENOENT;
}
