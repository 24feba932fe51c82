/* SPDX-License-Identifier: MIT */
/*
 * vmwp: the VM worker process. Runs one VM in the foreground until the guest powers off,
 * crashes, or the host stops it.
 *
 * Exit status: 0 guest powered off (or reset with --no-reboot) or stopped by SIGTERM/SIGINT;
 * 1 the worker failed; 2 configuration or boot image error; 3 the guest crashed.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "vmms-build-config.h"
#include "vmms/cleanup.h"
#include "vmms/config.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "console.h"
#include "control.h"
#include "ic.h"
#include "vmwp.h"

#define EXIT_WORKER_FAILED 1
#define EXIT_CONFIG        2
#define EXIT_GUEST_CRASHED 3

struct vmwp_args {
        const char *config_path;
        const char *kernel, *initrd, *cmdline, *memory, *vcpus, *console, *name;
        char **disks;
        unsigned n_disks;
        char **nics;
        unsigned n_nics;
        bool no_reboot, hugepages;
        const char *control;    /* --control PATH */
        int fd_socket;          /* --fd-socket N, or -1 */
};

static void help(void)
{
        printf("Usage: vmwp [OPTIONS]\n"
               "Run one virtual machine in the foreground, its serial console on stdout.\n\n"
               "  -c, --config FILE       VM configuration (JSON, see vmwp(8))\n"
               "  -k, --kernel PATH       PVH ELF kernel or Linux bzImage (default: the bundled\n"
               "                          guest kernel, %s)\n"
               "  -i, --initrd PATH       initial ramdisk\n"
               "  -a, --cmdline STR       kernel command line\n"
               "  -m, --memory SIZE       guest RAM: MiB, or with a unit (512M, 2G); default 256M\n"
               "  -p, --vcpus N           number of vCPUs (default 1)\n"
               "  -d, --disk SPEC         a virtio-blk disk, repeatable: PATH[,ro][,cache=none|\n"
               "                          writeback][,queues=N][,serial=S]\n"
               "      --nic SPEC          a virtio-net NIC, repeatable: tap=NAME[,mac=MAC]\n"
               "                          [,queues=N][,bridge=BR] or fd=N[:N...][,mac=MAC]\n"
               "                          or switch=NAME[,mac=MAC][,queues=N]\n"
               "      --console TARGET    stdio (default), none, PATH or file:PATH (append to a\n"
               "                          file), socket:PATH (a Unix socket to attach to later)\n"
               "      --hugepages         back guest RAM with 2 MiB huge pages\n"
               "      --no-reboot         exit when the guest resets instead of restarting it\n"
               "  -n, --name NAME         VM name for messages\n"
               "      --control PATH      serve the JSON-RPC control socket at PATH (vm.info,\n"
               "                          vm.pause, vm.resume, vm.power_button, vm.turn_off)\n"
               "      --fd-socket N       fd N is a socket from vmms: fds first, then control\n"
               "      --log-level LEVEL   err, warning, info (default), debug\n"
               "  -h, --help              show this help\n"
               "      --version           show the version\n\n"
               "Command-line options override the configuration file.\n"
               "Exit status: 0 powered off or stopped, 1 worker failure, 2 configuration or\n"
               "image error, 3 guest crash (triple fault, KVM internal or emulation error).\n",
               vmwp_bundled_kernel_path());
}

enum {
        ARG_CONSOLE = 0x100,
        ARG_HUGEPAGES,
        ARG_NO_REBOOT,
        ARG_LOG_LEVEL,
        ARG_VERSION,
        ARG_CONTROL,
        ARG_FD_SOCKET,
        ARG_NIC,
};

/* Returns 1 to go on, 0 to exit successfully (help), or -EINVAL for a usage error. */
static int parse_argv(int argc, char *argv[], struct vmwp_args *a)
{
        static const struct option options[] = {
                { "config",    required_argument, NULL, 'c' },
                { "kernel",    required_argument, NULL, 'k' },
                { "initrd",    required_argument, NULL, 'i' },
                { "cmdline",   required_argument, NULL, 'a' },
                { "memory",    required_argument, NULL, 'm' },
                { "vcpus",     required_argument, NULL, 'p' },
                { "name",      required_argument, NULL, 'n' },
                { "disk",      required_argument, NULL, 'd' },
                { "console",   required_argument, NULL, ARG_CONSOLE },
                { "hugepages", no_argument,       NULL, ARG_HUGEPAGES },
                { "no-reboot", no_argument,       NULL, ARG_NO_REBOOT },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "help",      no_argument,       NULL, 'h' },
                { "version",   no_argument,       NULL, ARG_VERSION },
                { "control",   required_argument, NULL, ARG_CONTROL },
                { "fd-socket", required_argument, NULL, ARG_FD_SOCKET },
                { "nic",       required_argument, NULL, ARG_NIC },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "c:k:i:a:m:p:n:d:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c': a->config_path = optarg; break;
                case 'k': a->kernel = optarg; break;
                case 'i': a->initrd = optarg; break;
                case 'a': a->cmdline = optarg; break;
                case 'm': a->memory = optarg; break;
                case 'p': a->vcpus = optarg; break;
                case 'n': a->name = optarg; break;
                case 'd': {
                        char **n = realloc(a->disks, (a->n_disks + 1) * sizeof(char *));

                        if (!n)
                                return log_error_errno(-ENOMEM, "Out of memory");
                        a->disks = n;
                        a->disks[a->n_disks++] = optarg;
                        break;
                }
                case ARG_NIC: {
                        char **n = realloc(a->nics, (a->n_nics + 1) * sizeof(char *));

                        if (!n)
                                return log_error_errno(-ENOMEM, "Out of memory");
                        a->nics = n;
                        a->nics[a->n_nics++] = optarg;
                        break;
                }
                case ARG_CONSOLE: a->console = optarg; break;
                case ARG_HUGEPAGES: a->hugepages = true; break;
                case ARG_NO_REBOOT: a->no_reboot = true; break;
                case ARG_LOG_LEVEL:
                        r = log_parse_level(optarg);
                        if (r < 0) {
                                log_error("--log-level: unknown level '%s'", optarg);
                                return -EINVAL;
                        }
                        log_set_max_level(r);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vmwp %s\n", VMMS_VERSION);
                        return 0;
                case ARG_CONTROL:
                        a->control = optarg;
                        break;
                case ARG_FD_SOCKET: {
                        unsigned fd;

                        if (safe_atou(optarg, &fd) < 0 || fd < 3 || fd > INT32_MAX) {
                                log_error("--fd-socket: '%s' is not a file descriptor number (3 or more)", optarg);
                                return -EINVAL;
                        }
                        a->fd_socket = (int)fd;
                        break;
                }
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                log_error("Unexpected argument '%s' (see --help)", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int set_path(char **dst, const char *path, const char *key, struct config_error *err)
{
        char *p;

        if (!path[0])
                return config_error_set(err, "%s: empty path", key);
        /* Relative paths on the command line are relative to where vmwp was started. */
        p = path[0] == '/' ? strdup(path) : realpath(path, NULL);
        if (!p)
                return config_error_set(err, "%s: %s: %s", key, path, strerror(errno));
        free(*dst);
        *dst = p;
        return 0;
}

static int apply_args(const struct vmwp_args *a, struct vm_config *cfg, struct config_error *err)
{
        int r;

        if (a->kernel && (r = set_path(&cfg->kernel, a->kernel, "--kernel", err)) < 0)
                return r;
        if (a->initrd && (r = set_path(&cfg->initrd, a->initrd, "--initrd", err)) < 0)
                return r;
        if (a->cmdline) {
                free(cfg->cmdline);
                cfg->cmdline = strdup(a->cmdline);
                if (!cfg->cmdline)
                        return -ENOMEM;
        }
        if (a->memory && (r = vm_config_memory_from_string(a->memory, &cfg->memory, err)) < 0) {
                char msg[VM_CONFIG_ERROR_MAX];

                snprintf(msg, sizeof(msg), "--%s", err->msg);
                memcpy(err->msg, msg, sizeof(msg));
                return r;
        }
        if (a->vcpus) {
                unsigned n;

                if (safe_atou(a->vcpus, &n) < 0 || n < 1 || n > VM_CONFIG_VCPUS_MAX)
                        return config_error_set(err, "--vcpus: '%s' is not a number from 1 to %u",
                                                a->vcpus, VM_CONFIG_VCPUS_MAX);
                cfg->vcpus = n;
        }
        if (a->name) {
                if (!name_is_valid(a->name))
                        return config_error_set(err, "--name: '%s' is not a valid name ([A-Za-z0-9._-], 1 to 64 characters)",
                                                a->name);
                free(cfg->name);
                cfg->name = strdup(a->name);
                if (!cfg->name)
                        return -ENOMEM;
        }
        if (a->console) {
                const char *path = NULL;

                if (strcmp(a->console, "stdio") == 0)
                        cfg->console_type = CONSOLE_STDIO;
                else if (strcmp(a->console, "none") == 0)
                        cfg->console_type = CONSOLE_NONE;
                else if (string_has_prefix(a->console, "socket:")) {
                        cfg->console_type = CONSOLE_SOCKET;
                        path = a->console + 7;
                } else {
                        cfg->console_type = CONSOLE_FILE;
                        path = string_has_prefix(a->console, "file:") ? a->console + 5 : a->console;
                }
                if (path) {
                        _cleanup_free_ char *abs = NULL;

                        if (!path[0])
                                return config_error_set(err, "--console: empty path");
                        if (path[0] != '/') {
                                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                                if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
                                        return -ENOMEM;
                        } else if (!(abs = strdup(path)))
                                return -ENOMEM;
                        free(cfg->console_path);
                        cfg->console_path = TAKE_PTR(abs);
                }
        }
        for (unsigned i = 0; i < a->n_disks; i++) {
                struct disk_config d;
                char msg[VM_CONFIG_ERROR_MAX - 32];

                r = disk_config_parse(a->disks[i], msg, sizeof(msg), &d);
                if (r < 0)
                        return r == -ENOMEM ? r : config_error_set(err, "--disk %s: %s", a->disks[i], msg);
                if (d.path && d.path[0] != '/' && d.fd < 0) {
                        char *abs = realpath(d.path, NULL);

                        if (!abs) {
                                r = config_error_set(err, "--disk %s: %s", d.path, strerror(errno));
                                disk_config_done(&d);
                                return r;
                        }
                        free(d.path);
                        d.path = abs;
                }
                r = vm_config_add_disk(cfg, &d, err);
                disk_config_done(&d);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < a->n_nics; i++) {
                struct nic_config nic;
                char msg[VM_CONFIG_ERROR_MAX - 32];

                r = nic_config_parse(a->nics[i], msg, sizeof(msg), &nic);
                if (r < 0)
                        return r == -ENOMEM ? r : config_error_set(err, "--nic %s: %s", a->nics[i], msg);
                r = vm_config_add_nic(cfg, &nic, err);
                nic_config_done(&nic);
                if (r < 0)
                        return r;
        }
        if (a->hugepages)
                cfg->hugepages = true;
        if (a->no_reboot)
                cfg->on_reboot = ON_REBOOT_EXIT;
        return vm_config_validate(cfg, err);
}

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
                                    const char *kernel, struct vmwp_console *console, int *ret_exit)
{
        _cleanup_(sd_event_source_unrefp) sd_event_source *exit_src = NULL;
        struct config_error err = {};
        enum vmwp_exit_kind kind;
        int r;

        r = vmwp_vm_new(cfg, kernel, console, vmwp_ic_engine(m->ic), &m->vm, &err);
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

int main(int argc, char *argv[])
{
        struct vmwp_args args = { .fd_socket = -1 };
        struct vm_config cfg;
        struct config_error err = {};
        struct vmwp_main m = {};
        struct vmwp_console *console = NULL;
        const char *kernel;
        sigset_t mask;
        int r, exit_code = EXIT_WORKER_FAILED;

        m.start_usec = now_usec(CLOCK_MONOTONIC);
        log_set_prefix("vmwp");
        r = parse_argv(argc, argv, &args);
        if (r <= 0)
                return r < 0 ? EXIT_CONFIG : EXIT_SUCCESS;

        vm_config_init(&cfg);
        if (args.config_path) {
                r = vm_config_load(args.config_path, &cfg, &err);
                if (r < 0) {
                        log_error("%s", err.msg);
                        return EXIT_CONFIG;
                }
        }
        r = apply_args(&args, &cfg, &err);
        if (r < 0) {
                log_error("%s", r == -ENOMEM ? "Out of memory" : err.msg);
                vm_config_done(&cfg);
                return r == -ENOMEM ? EXIT_WORKER_FAILED : EXIT_CONFIG;
        }
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
        r = vmwp_console_new(&cfg, m.event, &console, &err);
        if (r < 0) {
                if (err.msg[0]) {
                        log_error("%s", err.msg);
                        exit_code = EXIT_CONFIG;
                } else
                        log_error_errno(r, "Failed to set up the console: %m");
                goto out;
        }
        if (args.control || args.fd_socket >= 0) {
                r = vmwp_control_new(&m, args.control, args.fd_socket, &cfg, &m.control);
                if (r < 0)
                        goto out;
        }
        r = vmwp_ic_new(&m, &m.ic);
        if (r < 0)
                goto out;

        for (;;) {
                enum vmwp_exit_kind kind = run_once(&m, &cfg, kernel, console, &exit_code);

                if (kind != VMWP_EXIT_RESET || cfg.on_reboot == ON_REBOOT_EXIT || m.signal)
                        break;
        }
out:
        vmwp_ic_free(m.ic);     /* answers its waiting control calls before the sockets go */
        vmwp_control_free(m.control, exit_code);
        vmwp_console_free(console);
        sd_event_unref(m.event);
        vm_config_done(&cfg);
        free(args.disks);
        free(args.nics);
        return exit_code;
}
