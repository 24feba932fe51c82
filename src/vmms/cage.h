/* SPDX-License-Identifier: MIT */
/*
 * The worker's cage (issue 7), set up by the privileged parent between clone3() and exec:
 * vmms for every VM, vmjail for a worker run by hand. A caged worker reaches nothing but
 * the file descriptors it was handed:
 *
 *   - new mount, PID, IPC, UTS and network namespaces (clone3; the worker is PID 1 of its
 *     PID namespace and the parent keeps a pidfd); the cgroup of its VM from birth
 *     (CLONE_INTO_CGROUP on cgroup v2, cgroup.procs on v1);
 *   - its root is a small read-only tmpfs: /usr read-only (nosuid, nodev), the /lib, /lib64,
 *     /bin, /sbin symlinks of a usr-merged system, /etc/ld.so.cache, and the directories
 *     named in bind_dirs at their own paths (read-write, nosuid, nodev, noexec); no /proc,
 *     /sys, /dev, /home, /var, /tmp (sanitizer builds add /proc, which their runtimes read);
 *   - the VM's name as host name; RLIMIT_NOFILE, RLIMIT_CORE 0;
 *   - its own unprivileged uid and gid (a lease from the worker id range), no
 *     supplementary groups, every capability set empty (effective, permitted,
 *     inheritable, bounding, ambient), locked securebits, no_new_privs;
 *   - a baseline seccomp filter (the dangerous system calls trap); the worker adds its
 *     own allowlist on top before the guest runs;
 *   - then execveat() of the program, opened before the root changed.
 *
 * Library code: returns negative errno and writes a message for people to err; logs
 * nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The worker ids: one uid (and the gid of the same number) per running worker. */
#define CAGE_IDS_FIRST_DEFAULT  70000u
#define CAGE_IDS_COUNT_DEFAULT  1000u
/* Leases live here, whatever run directory vmms uses: one lock file per id. */
#define CAGE_IDS_LOCK_DIR       "/run/vmms/ids"
#define CAGE_NOFILE             16384u

/* Resource limits of one worker (see vmms(8)). */
#define CAGE_MEMORY_OVERHEAD    (256ull << 20)  /* beyond guest RAM: the worker itself, KVM, rings */
#define CAGE_PIDS_BASE          1024u           /* threads: main, I/O threads, io_uring workers */
#define CAGE_CPU_WEIGHT_DEFAULT 100u

struct cage_cgroup;

struct cage_limits {
        uint64_t memory_max;    /* bytes; 0: no limit */
        uint64_t pids_max;      /* 0: no limit */
        unsigned cpu_weight;    /* 1..10000 (cgroup v2 scale); 0: leave the default */
};

/* Guest RAM + the overhead allowance, pids for vcpus, the configured CPU weight. */
void cage_limits_for_vm(uint64_t guest_memory, unsigned vcpus, unsigned cpu_weight, struct cage_limits *ret);

/*
 * The cgroup `name` (e.g. "vmms-vm-UUID") beside the caller's own cgroup: on cgroup v2 a
 * child of the caller's cgroup (the caller moves itself into a leaf "supervisor" when its
 * cgroup must delegate controllers), on v1 a child in the memory, pids and cpu hierarchies.
 * -EOPNOTSUPP: no usable cgroup hierarchy (err says why).
 */
int cage_cgroup_new(const char *name, const struct cage_limits *l, char *err, size_t err_len,
                    struct cage_cgroup **ret);
/* Close it (the directories stay until cage_cgroup_remove()). */
void cage_cgroup_free(struct cage_cgroup *cg);
/* The directory holding memory.max (v2) or memory.limit_in_bytes (v1). */
const char *cage_cgroup_path(const struct cage_cgroup *cg);
/* Did the kernel's OOM killer kill a task in it? */
bool cage_cgroup_oom_killed(const char *name);
/* Remove the cgroup `name` (once its processes are gone); 0 when there is none. */
int cage_cgroup_remove(const char *name);

/*
 * Lease a worker id from [first, first + count): an id whose lock file in
 * CAGE_IDS_LOCK_DIR nobody holds and that names no user or group. The lease is the
 * returned fd (flock): it lasts while any copy of it is open, so the worker holds it.
 */
int cage_id_lease(unsigned first, unsigned count, uid_t *ret_id, int *ret_lock_fd);
/* "70000-70999" */
int cage_ids_parse(const char *s, unsigned *ret_first, unsigned *ret_count);

struct cage_config {
        const char *hostname;           /* UTS name: the VM's name (or NULL: "vmwp") */
        uid_t uid;                      /* the worker's ids, never 0 */
        gid_t gid;
        const char *const *bind_dirs;   /* NULL-terminated, may be NULL: read-write at their paths */
        int exec_fd;                    /* the program (O_PATH is enough), opened before */
        char *const *argv;
        char *const *envp;
        int stdio[3];                   /* become 0, 1, 2; -1: /dev/null */
        const int *fds;                 /* become 3, 4, ... in this order */
        size_t n_fds;
        struct cage_cgroup *cgroup;     /* NULL: none */
        bool new_session;               /* setsid(): signals to the parent's group miss it */
        bool die_with_parent;           /* SIGKILL when the parent dies (vmjail; never vmms) */
};

/*
 * clone3() the worker into its cage and exec it. Returns once the exec succeeded (or the
 * cage failed: then err says which step and why, and the child is reaped).
 */
int cage_spawn(const struct cage_config *c, char *err, size_t err_len, pid_t *ret_pid, int *ret_pidfd);

/*
 * The one way a worker is started, by vmms and by vmjail alike: its cgroup (memory, pids,
 * CPU weight for a VM of this size), a socket whose first line and fds are queued before
 * the worker exists (so it finds them at once and its starter never waits), then
 * cage_spawn(). The caller has leased the worker's id and gathered the hand-off;
 * `config.fds` must be left empty: the socket becomes the worker's fd 3.
 */
struct cage_launch {
        struct cage_config config;
        const char *program;            /* the worker's executable */
        const char *cgroup_name;        /* NULL: no cgroup */
        uint64_t guest_memory;          /* what the limits are sized for */
        unsigned vcpus, cpu_weight;
        const char *handoff_line;       /* with its '\n' */
        const int *handoff_fds;
        size_t n_handoff_fds;
};

struct cage_launched {
        pid_t pid;
        int pidfd;
        int socket;                     /* our end of the worker's fd 3 */
        struct cage_cgroup *cgroup;     /* NULL when the host gave no controllers */
        char no_limits[256];            /* then: why (a warning for the operator) */
};

/* err says which step failed and why. ret is written only on success. */
int cage_launch(const struct cage_launch *l, char *err, size_t err_len, struct cage_launched *ret);

/* The fd socket's first line (with its '\n') and any number of fds, FDPASS_MAX per message. */
int cage_send_handoff(int sock, const char *line, const int *fds, size_t n_fds);

/* The name of system call nr (this architecture), or NULL. Free the result. */
char *cage_syscall_name(int nr, uint32_t arch);

/*
 * A seccomp report the worker wrote to its status fd ("seccomp NR ARCH\n"): the text
 * "seccomp violation: NAME" in buf. false when buf holds no report.
 */
bool cage_parse_report(const char *report, size_t len, char *buf, size_t buf_len);

/* The bundled guest kernel for a given vmwp binary (the build tree's beside a build-tree vmwp). */
const char *cage_bundled_kernel_path(const char *vmwp_path);

/*
 * The TAP of a worker's NIC, opened by the parent (a caged worker cannot): tap= opens or
 * creates that interface (and makes it a port of bridge=), switch= creates the TAP
 * `tap_name` and makes it a port of that vmms switch (switch.h). The parent hands the fds
 * (vsp_tap_fd) over and frees the backend; a TAP created here goes when the worker's last
 * fd closes. err names the interface or switch.
 */
struct nic_config;
struct vsp_tap;
int cage_nic_open(const struct nic_config *nic, const char *tap_name, struct vsp_tap **ret, char *err,
                  size_t err_len);
