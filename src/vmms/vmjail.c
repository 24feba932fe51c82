/* SPDX-License-Identifier: MIT */
/*
 * vmjail: run vmwp by hand, caged exactly as vmms cages it (vmjail(8)). It takes vmwp's own
 * options (one parser, args.c), opens what they name as root (/dev/kvm, the kernel, the
 * initrd, the disks, the TAPs, the console file), binds the control and console sockets,
 * leases a worker id, makes the VM's cgroup, and starts vmwp in its cage with those fds.
 * Standard input and output go to the worker; SIGTERM, SIGINT and SIGHUP are passed on;
 * vmjail exits with the worker's exit status (128 + N when signal N killed it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "vmms-build-config.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/config.h"
#include "vmms/log.h"
#include "vmms/switch.h"
#include "vmms/util.h"
#include "vmms/vmstate.h"
#include "vmms/vmwp_args.h"
#include "vmms/tap.h"
#include "cage.h"
#include "disk_chain.h"

#define EXIT_FAILED 1
#define EXIT_CONFIG 2
#define MAX_FDS 256

extern char **environ;

struct jail {
        struct vmwp_args args;
        struct vm_config cfg;
        char *vmwp;
        int fds[MAX_FDS];
        size_t n_fds;
        struct json_object *line;
        struct vsp_tap *taps[VM_CONFIG_NICS_MAX];
        char *unlink_paths[2];
        int status_rd;
        struct cage_cgroup *cgroup;
        char cgroup_name[64];
        uint64_t memory_max;
        bool tty_saved;
        struct termios tty;
};

static int jail_add_fd(struct jail *j, const char *key, int fd)
{
        if (fd < 0)
                return fd;
        if (j->n_fds >= MAX_FDS) {
                safe_close(fd);
                return -E2BIG;
        }
        j->fds[j->n_fds] = fd;
        if (key)
                json_object_object_add(j->line, key, json_object_new_int((int)j->n_fds));
        return (int)j->n_fds++;
}

static int find_vmwp(char **ret)
{
        const char *env = getenv("VMMS_VMWP");
        char self[4096], *slash;
        ssize_t n;

        if (env && env[0])
                return (*ret = strdup(env)) ? 0 : -ENOMEM;
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = 0;
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        /* build/src/vmms/vmjail: build/src/vmwp/vmwp; installed: beside it. */
                        if (string_has_prefix(self, VMMS_BUILD_ROOT "/")) {
                                if (asprintf(ret, "%s/../vmwp/vmwp", self) < 0)
                                        return -ENOMEM;
                                if (access(*ret, X_OK) == 0)
                                        return 0;
                                free(*ret);
                        }
                        if (asprintf(ret, "%s/vmwp", self) < 0)
                                return -ENOMEM;
                        if (access(*ret, X_OK) == 0)
                                return 0;
                        free(*ret);
                }
        }
        return (*ret = strdup(VMMS_BINDIR "/vmwp")) ? 0 : -ENOMEM;
}

/* A Unix socket bound (by us) where the worker serves it; removed when it ends. */
static int bind_socket(struct jail *j, const char *path, const char *what, struct config_error *err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        char *copy;

        if (strlen(path) >= sizeof(sa.sun_path))
                return config_error_set(err, "%s: '%s' is too long for a Unix socket", what, path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void)unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return config_error_set(err, "%s: cannot bind %s: %s", what, path, strerror(errno));
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < ARRAY_SIZE(j->unlink_paths); i++)
                if (!j->unlink_paths[i]) {
                        j->unlink_paths[i] = copy;
                        copy = NULL;
                        break;
                }
        free(copy);
        if (listen(fd, 16) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int open_nic(struct jail *j, unsigned i, struct json_object *nics, struct config_error *err)
{
        struct nic_config *nic = &j->cfg.nics[i];
        const char *what = nic->tap ? nic->tap : nic->switch_name ? nic->switch_name : "fd";
        struct json_object *q = json_object_new_array();
        int r = 0;

        if (!q)
                return -ENOMEM;
        json_object_array_add(nics, q);
        if (nic->n_fds > 0) {
                /* Inherited TAP fds: passed on. The worker's configuration names the TAP
                 * (it has no way to say "fd"); the fds replace the name there. */
                struct ifreq ifr = {};
                char msg[128];

                if (ioctl(nic->fds[0], TUNGETIFF, &ifr) < 0)
                        return config_error_set(err, "nic %u (%s): %s", i, what, strerror(errno));
                ifr.ifr_name[IFNAMSIZ - 1] = 0;
                r = nic_config_set_tap(nic, ifr.ifr_name, msg, sizeof(msg));
                if (r < 0)
                        return r == -ENOMEM ? r : config_error_set(err, "nic %u (fd): %s", i, msg);
                for (unsigned k = 0; k < nic->n_fds; k++) {
                        int fd = fcntl(nic->fds[k], F_DUPFD_CLOEXEC, 3);

                        if (fd < 0)
                                return config_error_set(err, "nic %u (%s): %s", i, what, strerror(errno));
                        r = jail_add_fd(j, NULL, fd);
                        if (r < 0)
                                return r;
                        json_object_array_add(q, json_object_new_int(r));
                }
                return 0;
        }
        {
                char name[16], msg[256];

                snprintf(name, sizeof(name), "vmt%u-%u", (unsigned)getpid() % 10000000u, i % 100u);
                r = cage_nic_open(nic, name, &j->taps[i], msg, sizeof(msg));
                if (r < 0)
                        return r == -ENOMEM ? r : config_error_set(err, "nic %u: %s", i, msg);
        }
        for (unsigned k = 0; k < vsp_tap_queues(j->taps[i]); k++) {
                int fd = fcntl(vsp_tap_fd(j->taps[i], k), F_DUPFD_CLOEXEC, 3);

                if (fd < 0)
                        return -errno;
                r = jail_add_fd(j, NULL, fd);
                if (r < 0)
                        return r;
                json_object_array_add(q, json_object_new_int(r));
        }
        return 0;
}

/* A kernel, initrd or disk: a regular file or block device, never waited on (a FIFO). */
static int jail_open_image(const char *path, int flags, const char *what, struct config_error *err)
{
        const char *kind = NULL;
        int fd = image_open_at(AT_FDCWD, path, flags, 0, &kind);

        if (fd == -EBADFD)
                return config_error_set(err, "%s %s: is %s, not a regular file or block device", what, path, kind);
        if (fd < 0)
                return config_error_set(err, "%s %s: %s", what, path, strerror(-fd));
        return fd;
}

/* A qcow2 disk's backing file: read-only, by its name (vmjail is root's tool: no allow-list). */
static int jail_open_backing(void *userdata, const char *key, const char *path, int *ret_fd, char *err,
                             size_t err_len)
{
        const char *kind = NULL;
        int fd = image_open_at(AT_FDCWD, path, O_RDONLY, 0, &kind);

        if (fd == -EBADFD)
                snprintf(err, err_len, "%s: %s is %s, not a regular file or block device", key, path, kind);
        else if (fd < 0)
                snprintf(err, err_len, "%s: %s: %s", key, path, strerror(-fd));
        if (fd < 0)
                return errno_is_host_shortage(fd) ? fd : -EINVAL;
        *ret_fd = fd;
        return 0;
}

/* A disk's image and, for qcow2, its backing chain: "disks" gets [image, backing, ...]. */
static int open_disk(struct jail *j, unsigned i, struct json_object *disks, struct config_error *err)
{
        const struct disk_config *d = &j->cfg.disks[i];
        struct disk_chain chain = {};
        struct json_object *ids;
        int fds[DISK_CHAIN_MAX];
        char msg[VM_CONFIG_ERROR_MAX];
        unsigned n;
        int fd, top, r;

        if (d->fd >= 0) {
                fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return config_error_set(err, "disk %s: %s", d->path, strerror(errno));
        } else {
                fd = jail_open_image(d->path, d->readonly ? O_RDONLY : O_RDWR, "disk", err);
                if (fd < 0)
                        return fd;
        }
        if ((top = jail_add_fd(j, NULL, fd)) < 0)
                return top;
        r = disk_chain_open("disk", d->path, fd, d->format, jail_open_backing, NULL, &chain, msg, sizeof(msg));
        if (r < 0)
                return r == -EINVAL ? config_error_set(err, "%s", msg) : r;
        if (chain.n < 2) {
                disk_chain_done(&chain);
                json_object_array_add(disks, json_object_new_int(top));
                return 0;
        }
        ids = json_object_new_array();
        if (!ids) {
                disk_chain_done(&chain);
                return -ENOMEM;
        }
        json_object_array_add(disks, ids);
        json_object_array_add(ids, json_object_new_int(top));
        n = disk_chain_take_fds(&chain, fds);
        disk_chain_done(&chain);
        for (unsigned k = 0; k < n; k++) {
                if ((r = jail_add_fd(j, NULL, fds[k])) < 0) {
                        while (++k < n)
                                safe_close(fds[k]);
                        return r;
                }
                json_object_array_add(ids, json_object_new_int(r));
        }
        return 0;
}

/* --restore STATE: the saved state's configuration (vmwp checks the rest of the state). */
static int restore_config(const char *path, struct vm_config *cfg, struct config_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct vmstate *st = NULL;
        _cleanup_free_ char *text = NULL;
        const void *data;
        char msg[256] = "";
        size_t len;
        int r;

        if (fd < 0)
                return config_error_set(err, "--restore %s: %s", path, strerror(errno));
        r = vmstate_read(fd, &st, msg, sizeof(msg));
        if (r < 0)
                return config_error_set(err, "--restore %s: %s", path, msg[0] ? msg : strerror(-r));
        r = vmstate_get(st, "config", NULL, &data, &len);
        text = r < 0 ? NULL : strndup(data, len);
        vmstate_free(st);
        if (r < 0)
                return config_error_set(err, "--restore %s: no configuration section", path);
        if (!text)
                return -ENOMEM;
        return vm_config_from_string(text, cfg, err);
}

/* The saved state and its memory file, for vmwp --restore. */
static int open_restore(struct jail *j, struct config_error *err)
{
        _cleanup_free_ char *mem = NULL;
        int fd, r;

        fd = open(j->args.restore, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return config_error_set(err, "--restore %s: %s", j->args.restore, strerror(errno));
        if ((r = jail_add_fd(j, "restore", fd)) < 0)
                return r;
        if (asprintf(&mem, "%s.mem", j->args.restore) < 0)
                return -ENOMEM;
        fd = open(mem, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return config_error_set(err, "--restore: the memory file %s: %s", mem, strerror(errno));
        return jail_add_fd(j, "restore-memory", fd);
}

/* Everything the worker gets, opened here; err names what cannot be opened. */
static int open_resources(struct jail *j, struct config_error *err)
{
        struct vm_config *cfg = &j->cfg;
        struct json_object *disks = NULL, *nics = NULL;
        int fd, r, pipefd[2];

        if (j->args.restore && (r = open_restore(j, err)) < 0)
                return r;

        char why[512];

        fd = kvm_open(why, sizeof(why));
        if (fd < 0) {
                log_error("%s", why);
                return fd;
        }
        if ((r = jail_add_fd(j, "kvm", fd)) < 0)
                return r;
        fd = jail_open_image(cfg->kernel, O_RDONLY, "kernel", err);
        if (fd < 0)
                return fd;
        if ((r = jail_add_fd(j, "kernel", fd)) < 0)
                return r;
        if (cfg->initrd) {
                fd = jail_open_image(cfg->initrd, O_RDONLY, "initrd", err);
                if (fd < 0)
                        return fd;
                if ((r = jail_add_fd(j, "initrd", fd)) < 0)
                        return r;
        }
        if (cfg->n_disks > 0) {
                disks = json_object_new_array();
                if (!disks)
                        return -ENOMEM;
                json_object_object_add(j->line, "disks", disks);
        }
        for (unsigned i = 0; i < cfg->n_disks; i++)
                if ((r = open_disk(j, i, disks, err)) < 0)
                        return r;
        if (cfg->n_nics > 0) {
                nics = json_object_new_array();
                if (!nics)
                        return -ENOMEM;
                json_object_object_add(j->line, "nics", nics);
        }
        for (unsigned i = 0; i < cfg->n_nics; i++)
                if ((r = open_nic(j, i, nics, err)) < 0)
                        return r;
        if (cfg->console_type == CONSOLE_FILE) {
                fd = open(cfg->console_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
                if (fd < 0)
                        return config_error_set(err, "console.path: cannot open %s: %s", cfg->console_path,
                                                strerror(errno));
                if ((r = jail_add_fd(j, "console", fd)) < 0)
                        return r;
        } else if (cfg->console_type == CONSOLE_SOCKET) {
                if ((r = bind_socket(j, cfg->console_path, "console.path", err)) < 0 ||
                    (r = jail_add_fd(j, "console", r)) < 0)
                        return r;
        }
        if (j->args.control) {
                mode_t old = umask(0077);       /* root and the worker only, as vmwp binds it */

                r = bind_socket(j, j->args.control, "--control", err);
                umask(old);
                if (r < 0 || (r = jail_add_fd(j, "control", r)) < 0)
                        return r;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        j->status_rd = pipefd[0];
        if ((r = jail_add_fd(j, "status", pipefd[1])) < 0)
                return r;
        return 0;
}

/* The merged configuration (file and options) as the worker reads it, in a sealed memfd. */
static int config_fd(struct jail *j)
{
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_close_ int fd = -1;
        const char *text;
        int r;

        r = vm_config_to_json(&j->cfg, &o);
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        fd = memfd_create("vmwp-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (!text || fd < 0)
                return text ? -errno : -ENOMEM;
        r = loop_write(fd, text, strlen(text));
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0 ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static void jail_done(struct jail *j)
{
        for (size_t i = 0; i < j->n_fds; i++)
                safe_close(j->fds[i]);
        for (size_t i = 0; i < ARRAY_SIZE(j->taps); i++)
                vsp_tap_free(j->taps[i]);
        for (size_t i = 0; i < ARRAY_SIZE(j->unlink_paths); i++) {
                if (j->unlink_paths[i])
                        (void)unlink(j->unlink_paths[i]);
                free(j->unlink_paths[i]);
        }
        safe_close(j->status_rd);
        cage_cgroup_free(j->cgroup);
        if (j->cgroup_name[0])
                (void)cage_cgroup_remove(j->cgroup_name);
        if (j->tty_saved)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &j->tty);
        json_object_put(j->line);
        free(j->vmwp);
        vm_config_done(&j->cfg);
        vmwp_args_done(&j->args);
}

/* Pass SIGTERM, SIGINT and SIGHUP on until the worker ends; its exit status, shell style. */
static int supervise(struct jail *j, pid_t pid, int pidfd)
{
        _cleanup_close_ int sfd = -1;
        siginfo_t si = {};
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        for (;;) {
                struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

                if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo ssi;

                        if (read(sfd, &ssi, sizeof(ssi)) == sizeof(ssi))
                                (void)pidfd_send_signal(pidfd, (int)ssi.ssi_signo, NULL, 0);
                }
                if (p[0].revents & POLLIN)
                        break;
        }
        if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
                return log_error_errno(-errno, "waitid() on the worker %d: %m", (int)pid), EXIT_FAILED;
        if (si.si_code == CLD_EXITED)
                return si.si_status;
        {
                char report[128], msg[160];
                ssize_t n = read(j->status_rd, report, sizeof(report));
                const char *name = sigabbrev_np(si.si_status);

                if (si.si_status == SIGSYS && n > 0 && cage_parse_report(report, (size_t)n, msg, sizeof(msg)))
                        log_error("The worker was killed: %s", msg);
                else if (si.si_status == SIGKILL && j->cgroup_name[0] && cage_cgroup_oom_killed(j->cgroup_name))
                        log_error("The worker was killed by the OOM killer: its cgroup's memory limit is %llu MiB",
                                  (unsigned long long)(j->memory_max >> 20));
                else
                        log_error("The worker was killed by signal SIG%s", name ? name : "?");
        }
        return 128 + si.si_status;
}

int main(int argc, char *argv[])
{
        struct jail j = { .args = { .fd_socket = -1, .jail = true }, .status_rd = -1 };
        struct config_error err = {};
        struct cage_limits limits;
        _cleanup_close_ int lock_fd = -1;
        _cleanup_free_ char *line = NULL;
        unsigned first = CAGE_IDS_FIRST_DEFAULT, count = CAGE_IDS_COUNT_DEFAULT;
        const char *ids = getenv("VMMS_WORKER_IDS");
        char cage_err[512] = "";
        int r, pidfd = -1, exit_code = EXIT_FAILED;
        uid_t id;
        pid_t pid;
        sigset_t mask;

        log_set_prefix("vmjail");
        vm_config_init(&j.cfg);
        /* vmjail [--] VMWP-OPTIONS */
        if (argc > 1 && strcmp(argv[1], "--") == 0) {
                argv[1] = argv[0];
                argv++;
                argc--;
        }
        r = vmwp_args_parse(argc, argv, &j.args);
        if (r <= 0) {
                exit_code = r < 0 ? EXIT_CONFIG : EXIT_SUCCESS;
                goto out;
        }
        if (j.args.unconfined || j.args.fd_socket >= 0) {
                log_error("%s is not for vmjail, which starts vmwp in its cage", j.args.unconfined ? "--unconfined" : "--fd-socket");
                exit_code = EXIT_CONFIG;
                goto out;
        }
        if (geteuid() != 0) {
                log_error("vmjail must run as root: it opens /dev/kvm, the images and TAPs, and builds the cage");
                goto out;
        }
        if (ids && cage_ids_parse(ids, &first, &count) < 0) {
                log_error("VMMS_WORKER_IDS: '%s' is not a range FIRST-LAST", ids);
                exit_code = EXIT_CONFIG;
                goto out;
        }
        r = find_vmwp(&j.vmwp);
        if (r < 0)
                goto out;
        if (j.args.restore)
                r = restore_config(j.args.restore, &j.cfg, &err);
        else if (j.args.config_path)
                r = vm_config_load(j.args.config_path, &j.cfg, &err);
        else
                r = 0;
        if (r < 0) {
                log_error("%s", err.msg);
                exit_code = EXIT_CONFIG;
                goto out;
        }
        r = vmwp_args_apply(&j.args, &j.cfg, &err);
        if (r < 0) {
                log_error("%s", r == -ENOMEM ? "Out of memory" : err.msg);
                exit_code = r == -ENOMEM ? EXIT_FAILED : EXIT_CONFIG;
                goto out;
        }
        /* The bundled guest unless a kernel is named; its command line as vmwp gives it. */
        if (!j.cfg.kernel) {
                j.cfg.kernel = strdup(cage_bundled_kernel_path(j.vmwp));
                if (!j.cfg.cmdline)
                        j.cfg.cmdline = strdup("");
                if (!j.cfg.kernel || !j.cfg.cmdline)
                        goto out;
        }
        j.line = json_object_new_object();
        if (!j.line)
                goto out;
        r = open_resources(&j, &err);
        if (r < 0) {
                if (r == -EINVAL && err.msg[0]) {
                        log_error("%s", err.msg);
                        exit_code = EXIT_CONFIG;
                } else if (r != -EINVAL)
                        log_error_errno(r, "Failed to prepare the worker: %m");
                goto out;
        }
        if ((r = config_fd(&j)) < 0 || (r = jail_add_fd(&j, "config", r)) < 0) {
                log_error_errno(r, "Failed to pass the configuration: %m");
                goto out;
        }
        r = cage_id_lease(first, count, &id, &lock_fd);
        if (r < 0) {
                log_error_errno(r, "No free worker id in %u-%u: %m", first, first + count - 1);
                goto out;
        }
        {
                struct json_object *hold = json_object_new_array();
                int k = jail_add_fd(&j, NULL, fcntl(lock_fd, F_DUPFD_CLOEXEC, 3));

                if (!hold || k < 0)
                        goto out;
                json_object_array_add(hold, json_object_new_int(k));
                json_object_object_add(j.line, "hold", hold);
        }
        cage_limits_for_vm(j.cfg.memory, j.cfg.vcpus, j.cfg.cpu_weight, &limits);
        j.memory_max = limits.memory_max;
        snprintf(j.cgroup_name, sizeof(j.cgroup_name), "vmjail-%d", (int)getpid());
        if (asprintf(&line, "%s\n", json_object_to_json_string_ext(j.line, JSON_C_TO_STRING_PLAIN)) < 0)
                goto out;
        {
                char *wargv[8];
                size_t n = 0;
                struct cage_launched started;

                wargv[n++] = j.vmwp;
                wargv[n++] = (char *)"--fd-socket";
                wargv[n++] = (char *)"3";
                if (j.args.control) {
                        wargv[n++] = (char *)"--control";
                        wargv[n++] = (char *)j.args.control;
                }
                if (j.args.log_level) {
                        wargv[n++] = (char *)"--log-level";
                        wargv[n++] = (char *)j.args.log_level;
                }
                wargv[n] = NULL;
                if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &j.tty) == 0)
                        j.tty_saved = true;
                /* Ours to pass on, not to act on, from now. */
                sigemptyset(&mask);
                sigaddset(&mask, SIGTERM);
                sigaddset(&mask, SIGINT);
                sigaddset(&mask, SIGHUP);
                sigprocmask(SIG_BLOCK, &mask, NULL);
                r = cage_launch(&(struct cage_launch) {
                        .config = {
                                .hostname = j.cfg.name,
                                .uid = id, .gid = id,
                                .argv = wargv,
                                .envp = environ,
                                .stdio = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO },
                                /* vmjail killed (a test's cleanup, a terminal closed): the VM goes too. */
                                .die_with_parent = true,
                        },
                        .program = j.vmwp,
                        .cgroup_name = j.cgroup_name,
                        .guest_memory = j.cfg.memory, .vcpus = j.cfg.vcpus, .cpu_weight = j.cfg.cpu_weight,
                        .handoff_line = line, .handoff_fds = j.fds, .n_handoff_fds = j.n_fds,
                }, cage_err, sizeof(cage_err), &started);
                if (r >= 0) {
                        pid = started.pid;
                        pidfd = started.pidfd;
                        safe_close(started.socket);     /* nobody here talks to it */
                        j.cgroup = started.cgroup;
                        if (started.no_limits[0]) {
                                log_warning("No resource limits for this worker: %s", started.no_limits);
                                j.cgroup_name[0] = 0;
                        }
                }
        }
        for (size_t i = 0; i < j.n_fds; i++)
                j.fds[i] = safe_close(j.fds[i]);
        j.n_fds = 0;
        if (r < 0) {
                log_error("%s", cage_err);
                goto out;
        }
        exit_code = supervise(&j, pid, pidfd);
        safe_close(pidfd);
out:
        jail_done(&j);
        return exit_code;
}
