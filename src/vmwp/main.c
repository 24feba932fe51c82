/* SPDX-License-Identifier: MIT */
/*
 * vmwp: the VM worker process. Runs one VM in the foreground until the guest powers off,
 * crashes, or the host stops it.
 *
 * Exit status: 0 guest powered off (or reset with --no-reboot) or stopped by SIGTERM/SIGINT;
 * 1 the worker failed; 2 configuration or boot image error; 3 the guest crashed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "vmms-build-config.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/config.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "vmms/vmstate.h"
#include "vmms/vmwp_args.h"
#include "console.h"
#include "control.h"
#include "handoff.h"
#include "ic.h"
#include "sandbox.h"
#include "vmwp.h"

#define EXIT_WORKER_FAILED 1
#define EXIT_CONFIG        2
#define EXIT_GUEST_CRASHED 3


static int on_vm_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct vmwp_main *m = userdata;
        uint64_t v;

        if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                return -errno;
        m->vm_done = true;
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct vmwp_main *m = userdata;

        m->signal = (int)si->ssi_signo;
        if (m->vm)
                vmwp_vm_request_exit(m->vm, VMWP_EXIT_STOPPED, "stopped by %s", strsignal(m->signal));
        return 0;
}

/* Run one boot of the VM; returns the exit kind. */
static enum vmwp_exit_kind run_once(struct vmwp_main *m, const struct vm_config *cfg,
                                    const struct vmwp_images *images, struct vmwp_console *console,
                                    int *ret_exit)
{
        _cleanup_(sd_event_source_unrefp) sd_event_source *exit_src = NULL;
        struct config_error err = {};
        enum vmwp_exit_kind kind;
        int r;

        r = vmwp_vm_new(cfg, m->restore ? NULL : images, console, vmwp_ic_engine(m->ic), &m->vm, &err);
        if (r >= 0 && m->restore) {
                char why[512] = "";

                r = vmwp_vm_restore(m->vm, m->restore, m->restore_mem_fd, why, sizeof(why));
                if (r < 0) {
                        /* A state that does not fit: a configuration error (the VM stays saved). */
                        (void)config_error_set(&err, "cannot restore: %s", why[0] ? why : strerror(-r));
                        vmwp_vm_free(TAKE_PTR(m->vm));
                }
                vmstate_free(TAKE_PTR(m->restore));
                m->restore_mem_fd = safe_close(m->restore_mem_fd);
                if (r >= 0)
                        log_info("Restored from the saved state");
        }
        if (r < 0) {
                vmwp_control_vm_ended(m->control, VMWP_EXIT_ERROR, err.msg[0] ? err.msg : "failed to create the VM");
                if (err.msg[0]) {
                        log_error("%s", err.msg);
                        *ret_exit = EXIT_CONFIG;
                } else
                        *ret_exit = EXIT_WORKER_FAILED;
                return VMWP_EXIT_ERROR;
        }
        r = sd_event_add_io(m->event, &exit_src, m->vm->exit_efd, EPOLLIN, on_vm_exit, m);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the VM: %m");
                vmwp_vm_free(TAKE_PTR(m->vm));
                *ret_exit = EXIT_WORKER_FAILED;
                return VMWP_EXIT_ERROR;
        }
        if (m->signal)          /* a signal arrived while we were rebooting */
                vmwp_vm_request_exit(m->vm, VMWP_EXIT_STOPPED, "stopped by %s", strsignal(m->signal));
        m->vm_done = false;
        m->boots++;
        r = vmwp_vm_start(m->vm);
        while (r >= 0 && !m->vm_done)
                r = sd_event_run(m->event, UINT64_MAX);
        vmwp_vm_stop(m->vm);
        if (log_get_max_level() >= LOG_DEBUG)
                for (unsigned i = 0; i < m->vm->n_vcpus; i++) {
                        char state[2048];

                        vmwp_vcpu_format_state(&m->vm->vcpus[i], state, sizeof(state));
                        log_debug("%s", state);
                }
        kind = m->vm->exit_kind;
        if (r < 0 && kind == VMWP_EXIT_NONE)
                vmwp_vm_request_exit(m->vm, VMWP_EXIT_ERROR, "event loop failed: %s", strerror(-r));
        kind = m->vm->exit_kind;

        switch (kind) {
        case VMWP_EXIT_POWEROFF:
        case VMWP_EXIT_STOPPED:
        case VMWP_EXIT_SAVED:
                log_info("%s", m->vm->exit_reason);
                *ret_exit = EXIT_SUCCESS;
                break;
        case VMWP_EXIT_RESET:
                log_info("%s%s", m->vm->exit_reason,
                         cfg->on_reboot == ON_REBOOT_EXIT ? ", exiting (--no-reboot)" : ", restarting");
                *ret_exit = EXIT_SUCCESS;
                break;
        case VMWP_EXIT_CRASH:
                log_error("Guest crashed: %s", m->vm->exit_reason);
                *ret_exit = EXIT_GUEST_CRASHED;
                break;
        default:
                log_error("%s", m->vm->exit_reason);
                *ret_exit = EXIT_WORKER_FAILED;
                break;
        }
        exit_src = sd_event_source_disable_unref(exit_src);
        vmwp_control_vm_ended(m->control, kind, m->vm->exit_reason);
        vmwp_vm_free(TAKE_PTR(m->vm));
        return kind;
}

/*
 * --restore (or the "restore" fd vmms or vmjail passed): read the saved state, whose
 * configuration the VM gets; its memory file is STATE.mem (or the "restore-memory" fd).
 */
static int restore_open(const struct vmwp_args *a, struct vmwp_handoff *h, struct vmwp_main *m, char **ret_config)
{
        _cleanup_close_ int fd = vmwp_handoff_take(h, "restore");
        const void *data;
        char msg[256] = "";
        size_t len;
        int r;

        m->restore_mem_fd = vmwp_handoff_take(h, "restore-memory");
        if (fd == -ENOENT && !a->restore)
                return 0;
        if (fd == -ENOENT) {
                _cleanup_free_ char *mem = NULL;

                fd = open(a->restore, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return log_error_errno(-errno, "--restore %s: %m", a->restore);
                if (asprintf(&mem, "%s.mem", a->restore) < 0)
                        return -ENOMEM;
                m->restore_mem_fd = open(mem, O_RDONLY | O_CLOEXEC);
                if (m->restore_mem_fd < 0)
                        return log_error_errno(-errno, "--restore: the memory file %s: %m", mem);
        }
        if (fd < 0 || m->restore_mem_fd < 0)
                return log_error_errno(fd < 0 ? fd : m->restore_mem_fd, "--fd-socket: the saved state's fds: %m");
        r = vmstate_read(fd, &m->restore, msg, sizeof(msg));
        if (r < 0)
                return log_error_errno(r, "Cannot restore: %s", msg[0] ? msg : strerror(-r));
        if (vmstate_get(m->restore, "config", NULL, &data, &len) < 0)
                return log_error_errno(-EINVAL, "Cannot restore: the saved state has no configuration section");
        *ret_config = strndup(data, len);
        return *ret_config ? 1 : -ENOMEM;
}

/* The configuration: a saved state's, or from the fd vmms passed, else --config; then the options. */
static int load_config(const struct vmwp_args *args, struct vmwp_handoff *h, const char *restore_config,
                       struct vm_config *cfg)
{
        struct config_error err = {};
        int fd = restore_config ? -ENOENT : vmwp_handoff_take(h, "config"), r;

        if (restore_config) {
                safe_close(vmwp_handoff_take(h, "config"));
                r = vm_config_from_string(restore_config, cfg, &err);
        } else if (fd >= 0) {
                _cleanup_free_ char *text = NULL;

                r = read_full_fd(fd, 1 << 20, &text, NULL);
                safe_close(fd);
                if (r < 0)
                        return log_error_errno(r, "--fd-socket: cannot read the configuration: %m");
                r = vm_config_from_string(text, cfg, &err);
        } else if (fd != -ENOENT)
                return fd;
        else if (args->config_path)
                r = vm_config_load(args->config_path, cfg, &err);
        else
                r = 0;
        if (r >= 0)
                r = vmwp_args_apply(args, cfg, &err);
        if (r < 0)
                log_error("%s", r == -ENOMEM ? "Out of memory" : err.msg);
        return r;
}

int main(int argc, char *argv[])
{
        struct vmwp_args args = VMWP_ARGS_INIT;
        struct vm_config cfg;
        struct config_error err = {};
        struct vmwp_main m = {};
        struct vmwp_console *console = NULL;
        struct vmwp_handoff *handoff = NULL;
        struct vmwp_images images = {};
        _cleanup_free_ char *restore_config = NULL;
        const char *kernel;
        char why[256];
        sigset_t mask;
        int r, status_fd = -1, kernel_fd = -1, initrd_fd = -1, exit_code = EXIT_WORKER_FAILED;

        m.start_usec = now_usec(CLOCK_MONOTONIC);
        log_set_prefix("vmwp");
        vm_config_init(&cfg);
        r = vmwp_args_parse(argc, argv, &args);
        if (r <= 0) {
                exit_code = r < 0 ? EXIT_CONFIG : EXIT_SUCCESS;
                goto out;
        }
        /* Nothing of a VM runs outside the cage (vmms(8), vmwp(8)). */
        if (args.unconfined)
                log_warning("*** --unconfined: this worker runs WITHOUT its cage: no own uid, capabilities kept, "
                            "no namespaces, no syscall filter. For development only; never for an untrusted guest. ***");
        else if (vmwp_sandbox_check(why, sizeof(why)) < 0) {
                log_error("Refusing to run a VM outside the cage: %s. vmms starts vmwp caged; by hand, run it "
                          "through vmjail (or pass --unconfined, for development only).", why);
                exit_code = EXIT_CONFIG;
                goto out;
        }
        if (args.fd_socket >= 0) {
                r = vmwp_handoff_receive(args.fd_socket, &handoff);
                if (r < 0)
                        goto out;
        }
        m.restore_mem_fd = -1;
        r = restore_open(&args, handoff, &m, &restore_config);
        if (r < 0) {
                exit_code = r == -EINVAL ? EXIT_CONFIG : EXIT_WORKER_FAILED;
                goto out;
        }
        r = load_config(&args, handoff, restore_config, &cfg);
        if (r < 0) {
                exit_code = r == -ENOMEM ? EXIT_WORKER_FAILED : EXIT_CONFIG;
                goto out;
        }
        /* The VM's configuration as given (TAP, switch and bridge names, image paths), for a
         * saved state: the hand-off then replaces names with the fds opened for them. */
        {
                _cleanup_json_ struct json_object *o = NULL;

                r = vm_config_to_json(&cfg, &o);
                m.config_json = r < 0 ? NULL : strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                if (!m.config_json) {
                        log_error_errno(-ENOMEM, "Out of memory");
                        goto out;
                }
        }
        r = vmwp_handoff_apply(handoff, &cfg);
        if (r < 0)
                goto out;
        if ((r = cfg.kvm_fd = vmwp_handoff_take(handoff, "kvm")) < 0 && r != -ENOENT)
                goto out;
        if ((r = kernel_fd = vmwp_handoff_take(handoff, "kernel")) < 0 && r != -ENOENT)
                goto out;
        if ((r = initrd_fd = vmwp_handoff_take(handoff, "initrd")) < 0 && r != -ENOENT)
                goto out;
        if ((r = status_fd = vmwp_handoff_take(handoff, "status")) < 0 && r != -ENOENT)
                goto out;
        if (cfg.name) {
                char prefix[80];

                snprintf(prefix, sizeof(prefix), "vmwp[%s]", cfg.name);
                log_set_prefix(prefix);
        }
        m.cfg = &cfg;
        kernel = cfg.kernel ? cfg.kernel : vmwp_bundled_kernel_path();
        if (cfg.kernel && !cfg.cmdline) {
                /* A kernel of the user's own: show its console where ours shows it. */
                cfg.cmdline = strdup("console=ttyS0");
                if (!cfg.cmdline)
                        goto out;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        /* Blocked before any vCPU thread exists, so only the event loop sees them. */
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        r = vmwp_vcpu_install_kick_handler();
        if (r < 0) {
                log_error_errno(r, "Failed to install the vCPU kick handler: %m");
                goto out;
        }
        r = sd_event_new(&m.event);
        if (r < 0) {
                log_error_errno(r, "Failed to create the event loop: %m");
                goto out;
        }
        if ((r = sd_event_add_signal(m.event, NULL, SIGTERM, on_signal, &m)) < 0 ||
            (r = sd_event_add_signal(m.event, NULL, SIGINT, on_signal, &m)) < 0 ||
            (r = sd_event_add_signal(m.event, NULL, SIGHUP, on_signal, &m)) < 0) {
                log_error_errno(r, "Failed to watch signals: %m");
                goto out;
        }
        r = vmwp_handoff_take(handoff, "console");
        if (r < 0 && r != -ENOENT)
                goto out;
        r = vmwp_console_new(&cfg, m.event, r, &console, &err);
        if (r < 0) {
                if (err.msg[0]) {
                        log_error("%s", err.msg);
                        exit_code = EXIT_CONFIG;
                } else
                        log_error_errno(r, "Failed to set up the console: %m");
                goto out;
        }
        if (args.control || handoff) {
                r = vmwp_handoff_take(handoff, "control");
                if (r < 0 && r != -ENOENT)
                        goto out;
                r = vmwp_control_new(&m, args.control, r, handoff, &m.control);
                if (r < 0)
                        goto out;
        }
        r = vmwp_ic_new(&m, &m.ic);
        if (r < 0)
                goto out;
        /* The images once: a reboot needs nothing opened again. */
        r = vmwp_images_load(&images, kernel, TAKE_FD(kernel_fd), cfg.initrd, TAKE_FD(initrd_fd), &err);
        if (r < 0) {
                log_error("%s", err.msg);
                vmwp_control_vm_ended(m.control, VMWP_EXIT_ERROR, err.msg);
                exit_code = EXIT_CONFIG;
                goto out;
        }
        /* Set up: from here on only the system calls a running VM makes. */
        if (!args.unconfined) {
                r = vmwp_sandbox_install(status_fd);
                if (r < 0) {
                        log_error_errno(r, "Failed to install the seccomp filter: %m");
                        goto out;
                }
        }

        for (;;) {
                enum vmwp_exit_kind kind = run_once(&m, &cfg, &images, console, &exit_code);

                if (kind != VMWP_EXIT_RESET || cfg.on_reboot == ON_REBOOT_EXIT || m.signal)
                        break;
        }
out:
        vmwp_ic_free(m.ic);     /* answers its waiting control calls before the sockets go */
        vmwp_control_free(m.control, exit_code);
        vmwp_console_free(console);
        sd_event_unref(m.event);
        vmwp_images_done(&images);
        safe_close(kernel_fd);
        safe_close(initrd_fd);
        safe_close(status_fd);
        safe_close(cfg.kvm_fd);
        vm_config_done(&cfg);
        vmstate_free(m.restore);
        safe_close(m.restore_mem_fd);
        free(m.config_json);
        vmwp_handoff_free(handoff);
        vmwp_args_done(&args);
        return exit_code;
}
