/* SPDX-License-Identifier: MIT */
/*
 * The worker's cage: see cage.h. The child side (between clone3() and execveat()) runs in
 * a copy of a single-threaded parent, reports a failed step through a pipe and _exit()s;
 * everything it needs is prepared by the parent beforehand.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "vmms-build-config.h"
#include "vmms/cleanup.h"
#include "vmms/fdpass.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "cage.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_SUPERVISOR "supervisor"          /* the leaf a delegating parent moves itself into */
#define LDSO_CACHE_MAX (16u << 20)

/* ---- limits ------------------------------------------------------------------------- */

void cage_limits_for_vm(uint64_t guest_memory, unsigned vcpus, unsigned cpu_weight, struct cage_limits *ret)
{
        uint64_t overhead = CAGE_MEMORY_OVERHEAD;

#ifdef VMMS_SANITIZERS
        /* ASan's shadow memory and its quarantine (256 MiB by default) are the worker's too. */
        overhead += 2 * GIB;
#endif
        *ret = (struct cage_limits) {
                .memory_max = guest_memory + overhead,
                .pids_max = CAGE_PIDS_BASE + vcpus,
                /* The default weight is the kernel's: nothing to set (and on cgroup v1 no CPU
                 * cgroup, where one competes with each single task of its parent). */
                .cpu_weight = cpu_weight == CAGE_CPU_WEIGHT_DEFAULT ? 0 : cpu_weight,
        };
}

/* ---- cgroups ------------------------------------------------------------------------ */

enum { CG_MEMORY, CG_PIDS, CG_CPU, _CG_MAX };
static const char *const cg_controllers[_CG_MAX] = { "memory", "pids", "cpu" };

struct cage_cgroup {
        bool v2;
        char *dirs[_CG_MAX];    /* v2: dirs[0] only */
        int dir_fd;             /* v2: for CLONE_INTO_CGROUP */
        int procs_fds[_CG_MAX]; /* cgroup.procs to write "0" into (v1, or v2 without CLONE_INTO_CGROUP) */
};

static bool cgroup_is_v2(void)
{
        struct statfs s;

        return statfs(CGROUP_ROOT, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

static int write_string_at(const char *dir, const char *file, const char *value)
{
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -1;

        if (asprintf(&p, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (write(fd, value, strlen(value)) < 0)
                return -errno;
        return 0;
}

static int read_string_at(const char *dir, const char *file, char **ret)
{
        _cleanup_free_ char *p = NULL;
        char *s;
        int r;

        if (asprintf(&p, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        r = read_full_file(p, 1 << 20, &s, NULL);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

/* Our own cgroup in the hierarchy of `controller` (NULL: the v2 unified one), "/..." */
static int cgroup_own_path(const char *controller, char **ret)
{
        _cleanup_free_ char *text = NULL;
        char *line, *save = NULL;
        int r;

        r = read_full_file("/proc/self/cgroup", 1 << 20, &text, NULL);
        if (r < 0)
                return r;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

                if (!c2)
                        continue;
                *c2 = 0;
                if (!controller) {
                        if (strcmp(c1 + 1, "") != 0 || strncmp(line, "0", 1) != 0)
                                continue;
                } else {
                        bool found = false;
                        char *tok, *s2 = NULL;

                        for (tok = strtok_r(c1 + 1, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2))
                                if (strcmp(tok, controller) == 0)
                                        found = true;
                        if (!found)
                                continue;
                }
                *ret = strdup(c2 + 1);
                return *ret ? 0 : -ENOMEM;
        }
        return -ENOENT;
}

static bool controllers_enabled(const char *dir, bool need_cpu)
{
        _cleanup_free_ char *s = NULL;

        if (read_string_at(dir, "cgroup.subtree_control", &s) < 0)
                return false;
        return strstr(s, "memory") && strstr(s, "pids") && (!need_cpu || strstr(s, "cpu"));
}

/* Enable memory, pids (and cpu where offered) for the children of dir. */
static int cgroup_v2_delegate(const char *dir)
{
        _cleanup_free_ char *avail = NULL;
        char want[64] = "";
        int r;

        r = read_string_at(dir, "cgroup.controllers", &avail);
        if (r < 0)
                return r;
        if (!strstr(avail, "memory") || !strstr(avail, "pids"))
                return -EOPNOTSUPP;
        snprintf(want, sizeof(want), "+memory +pids%s", strstr(avail, "cpu") ? " +cpu" : "");
        return write_string_at(dir, "cgroup.subtree_control", want);
}

/*
 * The v2 cgroup the VMs' cgroups go into: our own when it delegates memory and pids (after
 * moving ourselves into a leaf when we are alone in it), else the nearest ancestor that
 * does, else the root.
 */
static int cgroup_v2_parent(char *err, size_t err_len, char **ret)
{
        _cleanup_free_ char *own = NULL, *dir = NULL;
        char *slash;
        int r;

        r = cgroup_own_path(NULL, &own);
        if (r < 0) {
                snprintf(err, err_len, "cannot find our own cgroup in /proc/self/cgroup: %s", strerror(-r));
                return r;
        }
        /* A leaf we moved ourselves into earlier: its parent is ours. */
        slash = strrchr(own, '/');
        if (slash && slash != own && strcmp(slash + 1, CGROUP_SUPERVISOR) == 0)
                *slash = 0;
        if (asprintf(&dir, CGROUP_ROOT "%s", strcmp(own, "/") == 0 ? "" : own) < 0)
                return -ENOMEM;
        if (controllers_enabled(dir, false)) {
                *ret = TAKE_PTR(dir);
                return 0;
        }
        r = cgroup_v2_delegate(dir);
        if (r == -EBUSY) {
                /* Processes in our cgroup: if they are only us, step into a leaf. */
                _cleanup_free_ char *procs = NULL, *leaf = NULL;
                char self[32];

                snprintf(self, sizeof(self), "%d\n", (int)getpid());
                if (read_string_at(dir, "cgroup.procs", &procs) >= 0 && strcmp(procs, self) == 0 &&
                    asprintf(&leaf, "%s/" CGROUP_SUPERVISOR, dir) >= 0 &&
                    (mkdir(leaf, 0755) >= 0 || errno == EEXIST) &&
                    write_string_at(leaf, "cgroup.procs", "0") >= 0)
                        r = cgroup_v2_delegate(dir);
        }
        if (r >= 0) {
                *ret = TAKE_PTR(dir);
                return 0;
        }
        /* Someone else lives in our cgroup: the nearest ancestor that delegates. */
        while ((slash = strrchr(dir, '/')) && slash - dir >= (ptrdiff_t)strlen(CGROUP_ROOT)) {
                if (slash - dir == (ptrdiff_t)strlen(CGROUP_ROOT)) {
                        slash[1] = 0;   /* the root itself */
                        if (controllers_enabled(dir, false) || cgroup_v2_delegate(dir) >= 0) {
                                slash[0] = 0;
                                *ret = TAKE_PTR(dir);
                                return 0;
                        }
                        break;
                }
                *slash = 0;
                if (controllers_enabled(dir, false)) {
                        *ret = TAKE_PTR(dir);
                        return 0;
                }
        }
        snprintf(err, err_len, "no cgroup (v2) at or above %s offers the memory and pids controllers "
                 "(run vmms as a service with Delegate=yes)", own);
        return -EOPNOTSUPP;
}

static void cgroup_free_contents(struct cage_cgroup *cg)
{
        for (size_t i = 0; i < _CG_MAX; i++) {
                free(cg->dirs[i]);
                safe_close(cg->procs_fds[i]);
        }
        safe_close(cg->dir_fd);
}

void cage_cgroup_free(struct cage_cgroup *cg)
{
        if (!cg)
                return;
        cgroup_free_contents(cg);
        free(cg);
}
DEFINE_TRIVIAL_CLEANUP(struct cage_cgroup, cage_cgroup_free)

const char *cage_cgroup_path(const struct cage_cgroup *cg)
{
        return cg ? cg->dirs[CG_MEMORY] : NULL;
}

static int cgroup_set_u64(const char *dir, const char *file, uint64_t v)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
        return write_string_at(dir, file, buf);
}

static int cgroup_v2_new(const char *name, const struct cage_limits *l, char *err, size_t err_len,
                         struct cage_cgroup *cg)
{
        _cleanup_free_ char *parent = NULL;
        char *dir;
        int r;

        r = cgroup_v2_parent(err, err_len, &parent);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/%s", parent, name) < 0)
                return -ENOMEM;
        cg->dirs[CG_MEMORY] = dir;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                r = -errno;
                snprintf(err, err_len, "cannot create the cgroup %s: %s", dir, strerror(-r));
                return r;
        }
        if (l->memory_max && (r = cgroup_set_u64(dir, "memory.max", l->memory_max)) < 0) {
                snprintf(err, err_len, "cannot set %s/memory.max: %s", dir, strerror(-r));
                return r;
        }
        (void)write_string_at(dir, "memory.swap.max", "0");   /* guest RAM stays in RAM */
        if (l->pids_max && (r = cgroup_set_u64(dir, "pids.max", l->pids_max)) < 0) {
                snprintf(err, err_len, "cannot set %s/pids.max: %s", dir, strerror(-r));
                return r;
        }
        if (l->cpu_weight)
                (void)cgroup_set_u64(dir, "cpu.weight", l->cpu_weight);      /* absent without +cpu */
        cg->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cg->dir_fd < 0)
                return -errno;
        return 0;
}

static int cgroup_v1_new(const char *name, const struct cage_limits *l, char *err, size_t err_len,
                         struct cage_cgroup *cg)
{
        for (size_t i = 0; i < _CG_MAX; i++) {
                _cleanup_free_ char *own = NULL, *procs = NULL;
                const char *c = cg_controllers[i];
                char *dir;
                int r;

                if (i == CG_CPU && !l->cpu_weight)
                        continue;
                r = cgroup_own_path(c, &own);
                if (r < 0) {
                        if (i == CG_CPU)
                                continue;       /* weight is a nicety; memory and pids are not */
                        snprintf(err, err_len, "no cgroup v1 hierarchy with the %s controller", c);
                        return -EOPNOTSUPP;
                }
                if (asprintf(&dir, CGROUP_ROOT "/%s%s/%s", c, strcmp(own, "/") == 0 ? "" : own, name) < 0)
                        return -ENOMEM;
                cg->dirs[i] = dir;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                        r = -errno;
                        snprintf(err, err_len, "cannot create the cgroup %s: %s", dir, strerror(-r));
                        return r == -ENOENT ? -EOPNOTSUPP : r;
                }
                if (i == CG_MEMORY && l->memory_max) {
                        r = cgroup_set_u64(dir, "memory.limit_in_bytes", l->memory_max);
                        if (r >= 0)     /* swap is no way around the limit */
                                (void)cgroup_set_u64(dir, "memory.memsw.limit_in_bytes", l->memory_max);
                } else if (i == CG_PIDS && l->pids_max)
                        r = cgroup_set_u64(dir, "pids.max", l->pids_max);
                else if (i == CG_CPU && l->cpu_weight)
                        r = cgroup_set_u64(dir, "cpu.shares", MAX(2ull, (uint64_t)l->cpu_weight * 1024 / 100));
                if (r < 0) {
                        snprintf(err, err_len, "cannot set the %s limit in %s: %s", c, dir, strerror(-r));
                        return r;
                }
                if (asprintf(&procs, "%s/cgroup.procs", dir) < 0)
                        return -ENOMEM;
                cg->procs_fds[i] = open(procs, O_WRONLY | O_CLOEXEC);
                if (cg->procs_fds[i] < 0)
                        return -errno;
        }
        return 0;
}

int cage_cgroup_new(const char *name, const struct cage_limits *l, char *err, size_t err_len,
                    struct cage_cgroup **ret)
{
        _cleanup_(cage_cgroup_freep) struct cage_cgroup *cg = calloc(1, sizeof(*cg));
        int r;

        if (!cg)
                return -ENOMEM;
        cg->dir_fd = -1;
        for (size_t i = 0; i < _CG_MAX; i++)
                cg->procs_fds[i] = -1;
        if (!name_is_valid(name))
                return -EINVAL;
        cg->v2 = cgroup_is_v2();
        r = cg->v2 ? cgroup_v2_new(name, l, err, err_len, cg) : cgroup_v1_new(name, l, err, err_len, cg);
        if (r < 0) {
                for (size_t i = 0; i < _CG_MAX; i++)
                        if (cg->dirs[i])
                                (void)rmdir(cg->dirs[i]);
                return r;
        }
        *ret = TAKE_PTR(cg);
        return 0;
}

/* Where cgroup `name` may be: below our cgroup or one of its ancestors (v2), or ours (v1). */
static int cgroup_find(const char *name, const char *controller, char **ret)
{
        _cleanup_free_ char *own = NULL, *base = NULL;
        char *slash;
        int r;

        r = cgroup_own_path(controller, &own);
        if (r < 0)
                return r;
        if (asprintf(&base, CGROUP_ROOT "%s%s%s", controller ? "/" : "", controller ? controller : "",
                     strcmp(own, "/") == 0 ? "" : own) < 0)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                if (asprintf(&p, "%s/%s", base, name) < 0)
                        return -ENOMEM;
                if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                        *ret = TAKE_PTR(p);
                        return 0;
                }
                slash = strrchr(base, '/');
                if (!slash || slash - base < (ptrdiff_t)strlen(CGROUP_ROOT) + (controller ? 1 : 0))
                        return -ENOENT;
                *slash = 0;
        }
}

bool cage_cgroup_oom_killed(const char *name)
{
        _cleanup_free_ char *dir = NULL, *s = NULL;
        bool v2 = cgroup_is_v2();
        const char *p;

        if (!name_is_valid(name) || cgroup_find(name, v2 ? NULL : "memory", &dir) < 0 ||
            read_string_at(dir, v2 ? "memory.events" : "memory.oom_control", &s) < 0)
                return false;
        p = strstr(s, "oom_kill ");
        return p && strtoull(p + 9, NULL, 10) > 0;
}

static int rmdir_retry(const char *p)
{
        /* The last tasks of a process that was just reaped may still be leaving it. */
        for (unsigned i = 0; i < 50; i++) {
                if (rmdir(p) >= 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return -errno;
                usleep(1000);
        }
        return -EBUSY;
}

int cage_cgroup_remove(const char *name)
{
        int r = 0;

        if (!name_is_valid(name))
                return -EINVAL;
        if (cgroup_is_v2()) {
                _cleanup_free_ char *dir = NULL;

                if (cgroup_find(name, NULL, &dir) >= 0)
                        r = rmdir_retry(dir);
                return r;
        }
        for (size_t i = 0; i < _CG_MAX; i++) {
                _cleanup_free_ char *dir = NULL;
                int k;

                if (cgroup_find(name, cg_controllers[i], &dir) < 0)
                        continue;
                k = rmdir_retry(dir);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

/* ---- worker ids --------------------------------------------------------------------- */

int cage_ids_parse(const char *s, unsigned *ret_first, unsigned *ret_count)
{
        _cleanup_free_ char *a = strdup(s);
        unsigned first, last;
        char *dash;

        if (!a)
                return -ENOMEM;
        dash = strchr(a, '-');
        if (!dash)
                return -EINVAL;
        *dash = 0;
        if (safe_atou(a, &first) < 0 || safe_atou(dash + 1, &last) < 0 || first == 0 || last < first ||
            last >= 0x7fffffffu)
                return -EINVAL;
        *ret_first = first;
        *ret_count = last - first + 1;
        return 0;
}

int cage_id_lease(unsigned first, unsigned count, uid_t *ret_id, int *ret_lock_fd)
{
        _cleanup_close_ int dir = -1;
        int r;

        r = mkdir_p(CAGE_IDS_LOCK_DIR, 0700);
        if (r < 0)
                return r;
        dir = open(CAGE_IDS_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dir < 0)
                return -errno;
        for (unsigned i = 0; i < count; i++) {
                unsigned id = first + i;
                _cleanup_close_ int fd = -1;
                char name[16];

                snprintf(name, sizeof(name), "%u", id);
                fd = openat(dir, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return -errno;
                if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                        if (errno == EWOULDBLOCK)
                                continue;
                        return -errno;
                }
                /* An id someone gave a name to is not ours to use. */
                if (getpwuid(id) || getgrgid(id))
                        continue;
                *ret_id = id;
                *ret_lock_fd = TAKE_FD(fd);
                return 0;
        }
        return -EUSERS;
}

/* ---- the baseline seccomp filter ------------------------------------------------------ */

/* What no worker ever needs: changing mounts or namespaces, reaching other processes, the
 * kernel's module, key, BPF and perf interfaces, clocks, reboot. They trap (SIGSYS). */
static const char *const baseline_denied[] = {
        "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
        "fsmount", "fspick", "mount_setattr", "setns", "unshare",
#ifndef VMMS_SANITIZERS
        /* LeakSanitizer stops the worker's threads with ptrace from a clone of the worker. */
        "ptrace",
#endif
        "process_vm_readv",
        "process_vm_writev", "pidfd_getfd", "kcmp", "bpf", "perf_event_open", "userfaultfd", "kexec_load",
        "kexec_file_load", "init_module", "finit_module", "delete_module", "keyctl", "add_key",
        "request_key", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
        "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm",
        "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "fanotify_init", "vhangup",
        "nfsservctl", "uselib", "mknod", "mknodat", "sethostname", "setdomainname",
};

static int baseline_filter_load(void)
{
        static const uint64_t ns_flags[] = {
                CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS,
                CLONE_NEWCGROUP,
        };
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int r = 0;

        if (!ctx)
                return -ENOMEM;
        /* Another ABI (i386, x32) from a 64-bit worker is an attack, not a mistake. */
        if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
                goto out;
        for (size_t i = 0; i < ARRAY_SIZE(baseline_denied); i++) {
                int nr = seccomp_syscall_resolve_name(baseline_denied[i]);

                if (nr == __NR_SCMP_ERROR)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_TRAP, nr, 0);
                if (r < 0)
                        goto out;
        }
        /* New namespaces through clone(); clone3() hides its flags in memory: ENOSYS makes
         * glibc fall back to clone(). */
        for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++)
                if ((r = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(clone), 1,
                                          SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]))) < 0)
                        goto out;
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
                goto out;
        /* Typing into the terminal a worker may share with its user. */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(ioctl), 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI))) < 0 ||
            (r = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(ioctl), 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX))) < 0)
                goto out;
        r = seccomp_load(ctx);
out:
        seccomp_release(ctx);
        return r;
}

/* ---- the child ------------------------------------------------------------------------ */

struct child_error {
        int error;              /* errno */
        char step[120];
};

_noreturn_ static void child_fail(int errfd, int error, const char *step)
{
        struct child_error e = { .error = error };
        ssize_t n;

        snprintf(e.step, sizeof(e.step), "%s", step);
        n = write(errfd, &e, sizeof(e));
        (void)n;
        _exit(127);
}

/* mkdir -p below the new root (which is mounted at `root`). */
static int jail_mkdirs(const char *root, const char *path)
{
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s%s", root, path) < 0)
                return -ENOMEM;
        for (char *s = p + strlen(root) + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int clone_tree(const char *path, uint64_t attrs, bool recursive)
{
        struct mount_attr a = { .attr_set = attrs };
        int fd = (int)open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));

        if (fd < 0)
                return -errno;
        if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

static int move_tree(int fd, const char *root, const char *path)
{
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s%s", root, path) < 0)
                return -ENOMEM;
        return move_mount(fd, "", AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH) < 0 ? -errno : 0;
}

/*
 * The new root: a tmpfs (mounted over /usr of this private namespace once /usr itself is
 * cloned; nothing of the old /usr is needed afterwards), then pivot_root() into it.
 */
static void jail_build(const struct cage_config *c, int errfd)
{
        static const char *const toplevel[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
        static const char root[] = "/usr";
        int bind_fds[16], usr_fd, r;
        _cleanup_free_ char *ldcache = NULL;
        size_t ldcache_size = 0, n_bind = 0;

        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(errfd, errno, "making the mounts private");
        usr_fd = clone_tree("/usr", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
        if (usr_fd < 0)
                child_fail(errfd, -usr_fd, "cloning /usr");
        for (; c->bind_dirs && c->bind_dirs[n_bind]; n_bind++) {
                if (n_bind >= ARRAY_SIZE(bind_fds))
                        child_fail(errfd, E2BIG, "too many directories to bind");
                r = clone_tree(c->bind_dirs[n_bind], MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false);
                if (r < 0)
                        child_fail(errfd, -r, "cloning a directory to bind");
                bind_fds[n_bind] = r;
        }
        if (read_full_file("/etc/ld.so.cache", LDSO_CACHE_MAX, &ldcache, &ldcache_size) < 0)
                ldcache = NULL;         /* a loader without a cache searches the default paths */

        if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=16m,nr_inodes=4096") < 0)
                child_fail(errfd, errno, "mounting the new root");
        if ((r = jail_mkdirs(root, "/usr")) < 0 || (r = move_tree(usr_fd, root, "/usr")) < 0)
                child_fail(errfd, -r, "binding /usr");
        close(usr_fd);
        for (size_t i = 0; i < ARRAY_SIZE(toplevel); i++) {
                char src[32], dst[64], target[256];
                struct stat st;
                ssize_t n;

                snprintf(src, sizeof(src), "/%s", toplevel[i]);
                if (lstat(src, &st) < 0)
                        continue;
                snprintf(dst, sizeof(dst), "%s/%s", root, toplevel[i]);
                if (S_ISLNK(st.st_mode)) {
                        n = readlink(src, target, sizeof(target) - 1);
                        if (n <= 0)
                                continue;
                        target[n] = 0;
                        if (symlink(target, dst) < 0)
                                child_fail(errfd, errno, "linking /lib");
                } else if (S_ISDIR(st.st_mode)) {
                        /* Not usr-merged: the directory itself, read-only. */
                        int fd = clone_tree(src, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);

                        if (fd < 0 || (r = jail_mkdirs(root, src)) < 0 || (r = move_tree(fd, root, src)) < 0)
                                child_fail(errfd, fd < 0 ? -fd : -r, "binding /lib");
                        close(fd);
                }
        }
        if (ldcache) {
                _cleanup_close_ int fd = -1;

                if ((r = jail_mkdirs(root, "/etc")) < 0)
                        child_fail(errfd, -r, "creating /etc");
                fd = open("/usr/etc/ld.so.cache", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0 || loop_write(fd, ldcache, ldcache_size) < 0)
                        child_fail(errfd, errno, "copying /etc/ld.so.cache");
        }
        for (size_t i = 0; i < n_bind; i++) {
                if ((r = jail_mkdirs(root, c->bind_dirs[i])) < 0 || (r = move_tree(bind_fds[i], root, c->bind_dirs[i])) < 0)
                        child_fail(errfd, -r, "binding a directory");
                close(bind_fds[i]);
        }
#ifdef VMMS_SANITIZERS
        /* The sanitizer runtimes read /proc/self/maps and walk /proc/self/task. This proc
         * belongs to the worker's own PID namespace: it shows nothing but the worker. */
        if ((r = jail_mkdirs(root, "/proc")) < 0 ||
            mount("proc", "/usr/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                child_fail(errfd, r < 0 ? -r : errno, "mounting /proc (sanitizer build)");
#endif
        if (mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                child_fail(errfd, errno, "making the new root read-only");
        if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
                child_fail(errfd, errno, "pivot_root");
        if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                child_fail(errfd, errno, "detaching the old root");
}

static void child_drop_privileges(const struct cage_config *c, int errfd)
{
        const struct rlimit nofile = { CAGE_NOFILE, CAGE_NOFILE }, core = { 0, 0 };

        if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
                child_fail(errfd, errno, "setting resource limits");
        /* uid 0 gets no capabilities back through exec; the rest stays as the kernel does it. */
        if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                  SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
                  0, 0, 0) < 0)
                child_fail(errfd, errno, "locking the securebits");
        capng_clear(CAPNG_SELECT_ALL);
        if (capng_apply(CAPNG_SELECT_BOUNDS) < 0)
                child_fail(errfd, EPERM, "emptying the capability bounding set");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                child_fail(errfd, errno, "emptying the ambient capabilities");
        if (setgroups(0, NULL) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 || setresuid(c->uid, c->uid, c->uid) < 0)
                child_fail(errfd, errno, "changing to the worker's uid and gid");
        /* setresuid() cleared permitted and effective; inheritable is cleared here. */
        if (capng_apply(CAPNG_SELECT_CAPS) < 0)
                child_fail(errfd, EPERM, "dropping the capabilities");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(errfd, errno, "setting no_new_privs");
}

/* Move the fds the worker gets to 0, 1, 2, 3, ...; every other fd is close-on-exec. */
static void child_arrange_fds(const struct cage_config *c, int devnull, int *errfd, int *exec_fd)
{
        size_t n = 3 + c->n_fds;
        int tmp[3 + 64];

        if (c->n_fds > 64)
                child_fail(*errfd, E2BIG, "too many fds");
        /* Out of the way of the targets first. */
        *errfd = fcntl(*errfd, F_DUPFD_CLOEXEC, (int)n);
        *exec_fd = fcntl(*exec_fd, F_DUPFD_CLOEXEC, (int)n);
        if (*errfd < 0 || *exec_fd < 0)
                _exit(127);
        for (size_t i = 0; i < n; i++) {
                int src = i < 3 ? c->stdio[i] : c->fds[i - 3];

                tmp[i] = fcntl(src >= 0 ? src : devnull, F_DUPFD_CLOEXEC, (int)n);
                if (tmp[i] < 0)
                        child_fail(*errfd, errno, "duplicating the worker's fds");
        }
        for (size_t i = 0; i < n; i++)
                if (dup2(tmp[i], (int)i) < 0)
                        child_fail(*errfd, errno, "duplicating the worker's fds");
        if (syscall(SYS_close_range, (unsigned)n, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
                child_fail(*errfd, errno, "marking the other fds close-on-exec");
}

_noreturn_ static void child_main(const struct cage_config *c, int errfd, int devnull)
{
        struct sigaction sa = { .sa_handler = SIG_DFL };
        int exec_fd = c->exec_fd, r;
        sigset_t none;

        /* Signals as a fresh process has them. */
        for (int s = 1; s < _NSIG; s++)
                (void)sigaction(s, &sa, NULL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        if (c->new_session && setsid() < 0)
                child_fail(errfd, errno, "setsid");
        /* cgroup v1 (or v2 without CLONE_INTO_CGROUP): join it before anything else runs. */
        if (c->cgroup)
                for (size_t i = 0; i < _CG_MAX; i++)
                        if (c->cgroup->procs_fds[i] >= 0 && write(c->cgroup->procs_fds[i], "0", 1) < 0)
                                child_fail(errfd, errno, "joining the VM's cgroup");
        child_arrange_fds(c, devnull, &errfd, &exec_fd);
        jail_build(c, errfd);
        if (sethostname(c->hostname ? c->hostname : "vmwp", strlen(c->hostname ? c->hostname : "vmwp")) < 0)
                child_fail(errfd, errno, "sethostname");
        umask(0077);
        child_drop_privileges(c, errfd);
        /* After the uid change, which would clear it; exec keeps it. */
        if (c->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                child_fail(errfd, errno, "PR_SET_PDEATHSIG");
        r = baseline_filter_load();
        if (r < 0)
                child_fail(errfd, -r, "loading the baseline seccomp filter");
        syscall(SYS_execveat, exec_fd, "", c->argv, c->envp, AT_EMPTY_PATH);
        child_fail(errfd, errno, "execveat");
}

int cage_spawn(const struct cage_config *c, char *err, size_t err_len, pid_t *ret_pid, int *ret_pidfd)
{
        struct clone_args ca = {
                .flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_PIDFD,
                .exit_signal = SIGCHLD,
        };
        struct child_error ce = {};
        _cleanup_close_ int devnull = -1;
        int pipefd[2], pidfd = -1;
        ssize_t n;
        pid_t pid;

        if (c->uid == 0 || c->gid == 0) {
                snprintf(err, err_len, "a worker never runs as root");
                return -EINVAL;
        }
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
                snprintf(err, err_len, "cannot prepare the worker: %s", strerror(errno));
                return -errno;
        }
        ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
        if (c->cgroup && c->cgroup->v2) {
                ca.flags |= CLONE_INTO_CGROUP;
                ca.cgroup = (uint64_t)c->cgroup->dir_fd;
        }
        pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid < 0 && (ca.flags & CLONE_INTO_CGROUP) && (errno == EINVAL || errno == E2BIG)) {
                /* An older kernel: the child joins through cgroup.procs. */
                _cleanup_free_ char *p = NULL;

                ca.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
                ca.cgroup = 0;
                if (asprintf(&p, "%s/cgroup.procs", c->cgroup->dirs[CG_MEMORY]) >= 0)
                        c->cgroup->procs_fds[0] = open(p, O_WRONLY | O_CLOEXEC);
                pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        }
        if (pid == 0) {
                close(pipefd[0]);
                child_main(c, pipefd[1], devnull);
        }
        close(pipefd[1]);
        if (pid < 0) {
                int r = -errno;

                close(pipefd[0]);
                snprintf(err, err_len, "cannot create the worker's namespaces (clone3): %s", strerror(-r));
                return r;
        }
        /* EOF: the exec happened. A record: the step that failed. */
        do
                n = read(pipefd[0], &ce, sizeof(ce));
        while (n < 0 && errno == EINTR);
        close(pipefd[0]);
        if (n > 0) {
                siginfo_t si;

                ce.step[sizeof(ce.step) - 1] = 0;
                snprintf(err, err_len, "cannot cage the worker: %s: %s", ce.step, strerror(ce.error));
                (void)waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
                safe_close(pidfd);
                return ce.error > 0 ? -ce.error : -EIO;
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        return 0;
}

int cage_send_handoff(int sock, const char *line, const int *fds, size_t n_fds)
{
        size_t len = strlen(line), sent = 0;

        /* Each message carries up to FDPASS_MAX fds on at least one byte of the line. */
        do {
                size_t k = MIN(n_fds, (size_t)FDPASS_MAX);
                size_t bytes = n_fds > k ? 1 : len - sent;
                int r;

                if (bytes == 0 || sent + bytes > len)
                        return -EINVAL;         /* more fd batches than bytes to carry them */
                r = fdpass_send(sock, line + sent, bytes, fds, k);
                if (r < 0)
                        return r;
                sent += bytes;
                fds += k;
                n_fds -= k;
        } while (sent < len);
        return 0;
}

/* ---- reports -------------------------------------------------------------------------- */

char *cage_syscall_name(int nr, uint32_t arch)
{
        return seccomp_syscall_resolve_num_arch(arch ? arch : SCMP_ARCH_NATIVE, nr);
}

bool cage_parse_report(const char *report, size_t len, char *buf, size_t buf_len)
{
        char line[128];
        int nr;
        unsigned arch = 0;
        char *name;

        if (len == 0)
                return false;
        snprintf(line, sizeof(line), "%.*s", (int)MIN(len, sizeof(line) - 1), report);
        if (sscanf(line, "seccomp %d %u", &nr, &arch) < 1)
                return false;
        name = cage_syscall_name(nr, arch);
        if (name)
                snprintf(buf, buf_len, "seccomp violation: %s", name);
        else
                snprintf(buf, buf_len, "seccomp violation: system call %d", nr);
        free(name);
        return true;
}

const char *cage_bundled_kernel_path(const char *vmwp_path)
{
        static const char build_path[] = VMMS_BUILD_ROOT "/guest/kernel/vmguest.elf";
        _cleanup_free_ char *abs = vmwp_path ? realpath(vmwp_path, NULL) : NULL;

        if (abs && string_has_prefix(abs, VMMS_BUILD_ROOT "/") && access(build_path, R_OK) == 0)
                return build_path;
        return VMMS_PKGLIBDIR "/vmguest.elf";
}

int cage_launch(const struct cage_launch *l, char *err, size_t err_len, struct cage_launched *ret)
{
        _cleanup_(cage_cgroup_freep) struct cage_cgroup *cg = NULL;
        _cleanup_close_ int exec_fd = -1, mine = -1, theirs = -1, pidfd = -1;
        struct cage_launched res = { .pidfd = -1, .socket = -1 };
        struct cage_limits limits;
        struct cage_config cc = l->config;
        int sp[2], r;
        pid_t pid;

        assert(l->program && l->handoff_line && cc.n_fds == 0);
        if (l->cgroup_name) {
                char why[256] = "";

                cage_limits_for_vm(l->guest_memory, l->vcpus, l->cpu_weight, &limits);
                r = cage_cgroup_new(l->cgroup_name, &limits, why, sizeof(why), &cg);
                if (r == -EOPNOTSUPP)
                        snprintf(res.no_limits, sizeof(res.no_limits), "%s", why);
                else if (r < 0) {
                        snprintf(err, err_len, "cannot create the worker's cgroup: %s", why[0] ? why : strerror(-r));
                        return r;
                }
        }
        exec_fd = open(l->program, O_PATH | O_CLOEXEC);
        if (exec_fd < 0) {
                r = -errno;
                snprintf(err, err_len, "cannot execute %s: %s", l->program, strerror(-r));
                return r;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                r = -errno;
                snprintf(err, err_len, "socketpair: %s", strerror(-r));
                return r;
        }
        /* cage_spawn() moves `theirs` to the worker's fd 3; it copies every fd out of the
         * way before dup2(), so none lands on itself whatever its number. */
        mine = sp[0];
        theirs = sp[1];
        r = cage_send_handoff(mine, l->handoff_line, l->handoff_fds, l->n_handoff_fds);
        if (r < 0) {
                snprintf(err, err_len, "cannot pass the worker its fds: %s", strerror(-r));
                return r;
        }
        cc.exec_fd = exec_fd;
        cc.fds = &theirs;
        cc.n_fds = 1;
        cc.cgroup = cg;
        r = cage_spawn(&cc, err, err_len, &pid, &pidfd);
        if (r < 0)
                return r;
        res.pid = pid;
        res.pidfd = TAKE_FD(pidfd);
        res.socket = TAKE_FD(mine);
        res.cgroup = TAKE_PTR(cg);
        *ret = res;
        return 0;
}
