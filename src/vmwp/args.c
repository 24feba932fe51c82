/* SPDX-License-Identifier: MIT */
/*
 * vmwp's command line: see args.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmms-build-config.h"
#include "vmms/cleanup.h"
#include "vmms/config.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "vmms/vmwp_args.h"
#include "vmwp.h"

void vmwp_args_done(struct vmwp_args *a)
{
        free(a->disks);
        free(a->nics);
        a->disks = a->nics = NULL;
}

void vmwp_args_help(bool jail)
{
        printf("%s"
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
               "      --nested-virt       offer VT-x/AMD-V to the guest (off by default)\n"
               "      --no-reboot         exit when the guest resets instead of restarting it\n"
               "  -n, --name NAME         VM name for messages\n"
               "      --control PATH      serve the JSON-RPC control socket at PATH (vm.info,\n"
               "                          vm.pause, vm.resume, vm.power_button, vm.turn_off,\n"
               "                          vm.save)\n"
               "      --restore STATE     go on from a state vm.save wrote (its memory in\n"
               "                          STATE.mem); the configuration comes from the state\n"
               "%s"
               "      --log-level LEVEL   err, warning, info (default), debug\n"
               "  -h, --help              show this help\n"
               "      --version           show the version\n\n"
               "Command-line options override the configuration file.\n"
               "Exit status: 0 powered off, stopped or saved, 1 worker failure, 2 configuration or\n"
               "image error, 3 guest crash (triple fault, KVM internal or emulation error).\n%s",
               jail ? "Usage: vmjail [--] [OPTIONS]\n"
                      "Run vmwp by hand in the cage vmms runs it in (vmjail(8)): one virtual machine in\n"
                      "the foreground, its serial console on stdout.\n\n"
                    : "Usage: vmwp [OPTIONS]\n"
                      "Run one virtual machine in the foreground, its serial console on stdout.\n\n",
               vmwp_bundled_kernel_path(),
               jail ? ""
                    : "      --fd-socket N       fd N is a socket from vmms: fds first, then control\n"
                      "      --unconfined        run without the cage vmms (or vmjail) sets up: for\n"
                      "                          development only, never for untrusted guests\n",
               jail ? "vmjail passes SIGTERM, SIGINT and SIGHUP on and exits with the worker's status\n"
                      "(128 + N when signal N killed it).\n" : "");
}

enum {
        ARG_CONSOLE = 0x100,
        ARG_HUGEPAGES,
        ARG_NESTED_VIRT,
        ARG_NO_REBOOT,
        ARG_LOG_LEVEL,
        ARG_VERSION,
        ARG_CONTROL,
        ARG_FD_SOCKET,
        ARG_NIC,
        ARG_UNCONFINED,
        ARG_RESTORE,
};

int vmwp_args_parse(int argc, char *argv[], struct vmwp_args *a)
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
                { "nested-virt", no_argument,     NULL, ARG_NESTED_VIRT },
                { "no-reboot", no_argument,       NULL, ARG_NO_REBOOT },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "help",      no_argument,       NULL, 'h' },
                { "version",   no_argument,       NULL, ARG_VERSION },
                { "control",   required_argument, NULL, ARG_CONTROL },
                { "fd-socket", required_argument, NULL, ARG_FD_SOCKET },
                { "nic",       required_argument, NULL, ARG_NIC },
                { "unconfined", no_argument,      NULL, ARG_UNCONFINED },
                { "restore",   required_argument, NULL, ARG_RESTORE },
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
                case ARG_RESTORE: a->restore = optarg; break;
                case ARG_HUGEPAGES: a->hugepages = true; break;
                case ARG_NESTED_VIRT: a->nested_virtualization = true; break;
                case ARG_NO_REBOOT: a->no_reboot = true; break;
                case ARG_LOG_LEVEL:
                        a->log_level = optarg;
                        r = log_parse_level(optarg);
                        if (r < 0) {
                                log_error("--log-level: unknown level '%s'", optarg);
                                return -EINVAL;
                        }
                        log_set_max_level(r);
                        break;
                case 'h':
                        vmwp_args_help(a->jail);
                        return 0;
                case ARG_VERSION:
                        printf("vmwp %s\n", VMMS_VERSION);
                        return 0;
                case ARG_CONTROL:
                        a->control = optarg;
                        break;
                case ARG_UNCONFINED:
                        a->unconfined = true;
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

int vmwp_args_apply(const struct vmwp_args *a, struct vm_config *cfg, struct config_error *err)
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
        if (a->nested_virtualization)
                cfg->nested_virtualization = true;
        if (a->no_reboot)
                cfg->on_reboot = ON_REBOOT_EXIT;
        return vm_config_validate(cfg, err);
}
