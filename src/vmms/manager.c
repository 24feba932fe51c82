/* SPDX-License-Identifier: MIT */
/*
 * The manager: the event loop, the public socket (created, or passed by systemd), access
 * control, the registry loaded into VM objects, re-adoption of running workers, and what
 * systemd hears (READY=1, STATUS=, WATCHDOG=1).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/util.h"
#include "cage.h"
#include "registry.h"
#include "vmms.h"

#define ADOPT_TIMEOUT_USEC (5ull * 1000 * 1000)
#define ACCEPT_BATCH       32
#define CLIENTS_MAX        4096

static char *path_absolute(const char *p)
{
        _cleanup_free_ char *cwd = NULL;
        char *r;

        if (p[0] == '/')
                return strdup(p);
        cwd = getcwd(NULL, 0);
        if (!cwd || asprintf(&r, "%s/%s", cwd, p) < 0)
                return NULL;
        return r;
}

struct vmms_vm *vmms_manager_find(struct vmms_manager *m, const char *name_or_uuid)
{
        for (size_t i = 0; i < m->n_vms; i++)
                if (strcmp(m->vms[i]->cfg.name, name_or_uuid) == 0 || strcmp(m->vms[i]->cfg.uuid, name_or_uuid) == 0)
                        return m->vms[i];
        return NULL;
}

int vmms_manager_add_vm(struct vmms_manager *m, struct vmms_vm *vm)
{
        struct vmms_vm **n = realloc(m->vms, (m->n_vms + 1) * sizeof(*n));

        if (!n)
                return -ENOMEM;
        m->vms = n;
        m->vms[m->n_vms++] = vm;
        return 0;
}

void vmms_manager_remove_vm(struct vmms_manager *m, struct vmms_vm *vm)
{
        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i] == vm) {
                        memmove(m->vms + i, m->vms + i + 1, (m->n_vms - i - 1) * sizeof(*m->vms));
                        m->n_vms--;
                        return;
                }
}

void vmms_manager_update_status(struct vmms_manager *m)
{
        unsigned n[_VMMS_STATE_MAX] = {};

        if (!m->ready)
                return;
        for (size_t i = 0; i < m->n_vms; i++)
                n[m->vms[i]->state]++;
        sd_notifyf(0, "STATUS=%zu VMs: %u running, %u paused, %u starting or stopping, %u critical, %u off",
                   m->n_vms, n[VMMS_STATE_RUNNING], n[VMMS_STATE_PAUSED],
                   n[VMMS_STATE_STARTING] + n[VMMS_STATE_STOPPING] + n[VMMS_STATE_SAVING],
                   n[VMMS_STATE_CRITICAL], n[VMMS_STATE_OFF] + n[VMMS_STATE_SAVED]);
}

void vmms_manager_state_changed(struct vmms_manager *m, struct vmms_vm *vm, const char *previous,
                                const char *current)
{
        vmms_manager_update_status(m);
        for (struct vmms_client *c = m->clients; c; c = c->next) {
                struct json_object *p;

                if (!c->subscribed)
                        continue;
                p = json_object_new_object();
                if (!p)
                        return;
                json_object_object_add(p, "name", json_object_new_string(vm->cfg.name));
                json_object_object_add(p, "uuid", json_object_new_string(vm->cfg.uuid));
                json_object_object_add(p, "state", current ? json_object_new_string(current) : NULL);
                json_object_object_add(p, "previous", previous ? json_object_new_string(previous) : NULL);
                if (vm->reason && (vm->state == VMMS_STATE_CRITICAL || vm->state == VMMS_STATE_OFF))
                        json_object_object_add(p, "reason", json_object_new_string(vm->reason));
                /* A subscriber that never reads is dropped by its output limit, not waited for. */
                (void)jsonrpc_conn_notify(c->conn, VMMS_EVENT_STATE_CHANGED, p);
        }
}

/* Clients. */

static void client_free(struct vmms_client *c)
{
        struct vmms_manager *m = c->manager;

        if (c->prev)
                c->prev->next = c->next;
        else
                m->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        m->n_clients--;
        jsonrpc_conn_set_close_callback(c->conn, NULL);
        jsonrpc_conn_close(c->conn);
        jsonrpc_conn_unref(c->conn);
        free(c);
}

static void client_on_close(struct jsonrpc_conn *conn, void *userdata)
{
        client_free(userdata);
}

/* Root, our own user, and members of the vmms group may use the API. */
static bool client_allowed(struct vmms_manager *m, int fd, const struct ucred *cred)
{
        gid_t groups[NGROUPS_MAX];
        socklen_t len = sizeof(groups);

        if (cred->uid == 0 || cred->uid == geteuid())
                return true;
        if (!m->group_known)
                return false;
        if (cred->gid == m->group)
                return true;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == m->group)
                        return true;
        return false;
}

static void client_refuse(int fd, const struct ucred *cred)
{
        char msg[512];
        int n;

        n = snprintf(msg, sizeof(msg),
                     "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":\"Permission denied: uid %u is neither "
                     "root nor in group '%s'\"},\"id\":null}\n", VMMS_ERROR_ACCESS, (unsigned)cred->uid, VMMS_GROUP);
        (void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void manager_accept_one(struct vmms_manager *m, int fd)
{
        struct vmms_client *c;
        struct ucred cred = {};
        socklen_t len = sizeof(cred);
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                close(fd);
                return;
        }
        if (!client_allowed(m, fd, &cred)) {
                log_notice("Refused a client: uid %u (pid %d) is neither root nor in group '%s'",
                           (unsigned)cred.uid, (int)cred.pid, VMMS_GROUP);
                client_refuse(fd, &cred);
                close(fd);
                return;
        }
        if (m->n_clients >= CLIENTS_MAX) {
                log_warning("Too many clients (%u); refusing one", CLIENTS_MAX);
                close(fd);
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return;
        }
        c->manager = m;
        c->uid = cred.uid;
        c->pid = cred.pid;
        r = jsonrpc_conn_new(m->event, fd, vmms_api_methods, vmms_api_n_methods, c, &c->conn);
        if (r < 0) {
                free(c);
                return;
        }
        jsonrpc_conn_set_close_callback(c->conn, client_on_close);
        c->next = m->clients;
        if (m->clients)
                m->clients->prev = c;
        m->clients = c;
        m->n_clients++;
}

static int manager_on_connect(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct vmms_manager *m = userdata;

        for (int i = 0; i < ACCEPT_BATCH; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(-errno, "accept() failed: %m");
                        break;
                }
                manager_accept_one(m, cfd);
        }
        return 0;
}

static int manager_listen(struct vmms_manager *m)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int n, fd, r;
        mode_t old;

        n = sd_listen_fds(1);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets systemd passed: %m");
        if (n > 1)
                return log_error_errno(-EINVAL, "systemd passed %d sockets; vmms takes one", n);
        if (n == 1) {
                fd = SD_LISTEN_FDS_START;
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                        return log_error_errno(-EINVAL, "The socket systemd passed is not a listening Unix stream socket");
                if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fd_set_nonblock(fd, true) < 0)
                        return log_error_errno(-errno, "Failed to set up the passed socket: %m");
                m->listen_fd = fd;
                m->socket_activated = true;
                {
                        struct sockaddr_un bound = {};
                        socklen_t len = sizeof(bound);

                        /* Say where we listen (host.info, messages), not where we would have. */
                        if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0 && bound.sun_path[0] &&
                            len > offsetof(struct sockaddr_un, sun_path)) {
                                char *p = strndup(bound.sun_path, len - offsetof(struct sockaddr_un, sun_path));

                                if (p) {
                                        free(m->socket_path);
                                        m->socket_path = p;
                                }
                        }
                }
                log_info("Using the socket systemd passed (%s)", m->socket_path);
        } else {
                if (strlen(m->socket_path) >= sizeof(sa.sun_path))
                        return log_error_errno(-ENAMETOOLONG, "--socket: '%s' is too long for a Unix socket",
                                               m->socket_path);
                strcpy(sa.sun_path, m->socket_path);
                r = mkdir_parents(m->socket_path, 0755);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the directory of %s: %m", m->socket_path);
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return log_error_errno(-errno, "Failed to create a socket: %m");
                m->listen_fd = fd;
                /* A socket that answers belongs to a running vmms: never steal it. */
                if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN)
                        return log_error_errno(-EADDRINUSE, "Another vmms is listening on %s", m->socket_path);
                close(fd);
                m->listen_fd = fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return log_error_errno(-errno, "Failed to create a socket: %m");
                (void)unlink(m->socket_path);
                old = umask(0117);      /* 0660 */
                r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
                umask(old);
                if (r < 0)
                        return log_error_errno(-errno, "Failed to bind %s: %m", m->socket_path);
                if (m->group_known && chown(m->socket_path, (uid_t)-1, m->group) < 0)
                        log_warning_errno(-errno, "Failed to give %s to group '%s': %m", m->socket_path, VMMS_GROUP);
                if (listen(fd, SOMAXCONN) < 0)
                        return log_error_errno(-errno, "Failed to listen on %s: %m", m->socket_path);
        }
        r = sd_event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, manager_on_connect, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the socket: %m");
        /* Clients wait in the backlog until every running VM is re-adopted. */
        return sd_event_source_set_enabled(m->listen_source, SD_EVENT_OFF);
}

static int manager_on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct vmms_manager *m = userdata;

        sd_notify(0, "WATCHDOG=1");
        (void)sd_event_source_set_time_relative(s, m->watchdog_usec / 2);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void manager_ready(struct vmms_manager *m)
{
        if (m->ready)
                return;
        m->ready = true;
        m->ready_timer = sd_event_source_disable_unref(m->ready_timer);
        sd_event_source_set_enabled(m->listen_source, SD_EVENT_ON);
        sd_notify(0, "READY=1");
        vmms_manager_update_status(m);
        log_info("Ready: %zu VMs, listening on %s", m->n_vms, m->socket_path);
}

void vmms_manager_adopted(struct vmms_manager *m)
{
        if (m->freeing)
                return;
        if (m->n_adopting > 0 && --m->n_adopting == 0)
                manager_ready(m);
}

static int manager_on_ready_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct vmms_manager *m = userdata;

        log_warning("%u workers did not answer within %llu s; serving anyway", m->n_adopting,
                    ADOPT_TIMEOUT_USEC / 1000000);
        manager_ready(m);
        return 0;
}

static int manager_on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct vmms_manager *m = userdata;

        if (si->ssi_signo == SIGHUP)
                return 0;
        log_info("%s: exiting; running VMs keep running", strsignal((int)si->ssi_signo));
        sd_notify(0, "STOPPING=1");
        return sd_event_exit(m->event, 0);
}

static int load_vm(struct vm_config *cfg, void *userdata)
{
        struct vmms_manager *m = userdata;
        struct vmms_vm *vm;
        int r;

        if (vmms_manager_find(m, cfg->name)) {
                log_error("VM %s: the name '%s' is taken by another VM; not loaded", cfg->uuid, cfg->name);
                return -EEXIST;
        }
        r = vmms_vm_new(m, cfg, &vm);
        if (r < 0)
                return r;
        r = vmms_manager_add_vm(m, vm);
        if (r < 0) {
                vmms_vm_free(vm);
                return r;
        }
        return 0;
}

static void load_bad(const char *uuid, const char *message, void *userdata)
{
        log_error("VM %s: unreadable configuration, not loaded: %s", uuid, message);
}

/* Run directories of VMs that are not in the registry. */
static void manager_scan_orphans(struct vmms_manager *m)
{
        _cleanup_free_ char *vms = NULL;
        DIR *d;
        struct dirent *de;

        if (asprintf(&vms, "%s/vms", m->run_dir) < 0)
                return;
        d = opendir(vms);
        if (!d)
                return;
        while ((de = readdir(d))) {
                if (!vmms_uuid_is_valid(de->d_name) || vmms_manager_find(m, de->d_name))
                        continue;
                log_warning("%s/%s belongs to no VM in the registry; removing it", vms, de->d_name);
                (void)vmms_rmdir_flat(dirfd(d), de->d_name);
        }
        closedir(d);
}

int vmms_manager_start(struct vmms_manager *m)
{
        int r;

        r = vmms_registry_load(m->vms_dirfd, load_vm, load_bad, m);
        if (r < 0)
                return log_error_errno(r, "Failed to load the registry in %s: %m", m->state_dir);
        r = vmms_switches_load(m);
        if (r < 0)
                return r;
        r = manager_listen(m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_vms; i++)
                (void)vmms_vm_adopt(m->vms[i]);
        manager_scan_orphans(m);
        if (m->n_adopting == 0)
                manager_ready(m);
        else {
                log_info("Re-adopting %u running VMs", m->n_adopting);
                r = sd_event_add_time_relative(m->event, &m->ready_timer, CLOCK_MONOTONIC, ADOPT_TIMEOUT_USEC, 0,
                                               manager_on_ready_timeout, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to arm a timer: %m");
        }
        return 0;
}

int vmms_manager_run(struct vmms_manager *m)
{
        return sd_event_loop(m->event);
}

static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

/* --allow-dir, or the default: where a configuration may name kernels, initrds, disks. */
static int manager_set_allow_dirs(struct vmms_manager *m, const char *const *dirs)
{
        static const char *const defaults[] = { VMMS_IMAGES_DIR_DEFAULT, NULL };
        size_t n = 0;

        if (!dirs || !dirs[0])
                dirs = defaults;
        while (dirs[n])
                n++;
        m->allow_dirs = calloc(n, sizeof(char *));
        if (!m->allow_dirs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                m->allow_dirs[i] = path_absolute(dirs[i]);
                if (!m->allow_dirs[i])
                        return -ENOMEM;
                m->n_allow_dirs++;
        }
        return 0;
}

static void manager_find_group(struct vmms_manager *m)
{
        struct group grp, *res = NULL;
        char buf[16384];

        if (getgrnam_r(VMMS_GROUP, &grp, buf, sizeof(buf), &res) == 0 && res) {
                m->group = res->gr_gid;
                m->group_known = true;
        }
}

int vmms_manager_new(const struct vmms_settings *s, struct vmms_manager **ret)
{
        struct vmms_manager *m;
        _cleanup_free_ char *lock = NULL;
        uint64_t wd = 0;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_error_errno(-ENOMEM, "Out of memory");
        m->vms_dirfd = m->lock_fd = m->listen_fd = -1;
        m->start_usec = now_usec(CLOCK_MONOTONIC);
        m->socket_path = path_absolute(s->socket_path);
        m->state_dir = path_absolute(s->state_dir);
        m->run_dir = path_absolute(s->run_dir);
        if (!m->socket_path || !m->state_dir || !m->run_dir) {
                r = log_error_errno(-ENOMEM, "Out of memory");
                goto fail;
        }
        m->journal = stderr_is_journal();
        manager_find_group(m);
        r = manager_set_allow_dirs(m, s->allow_dirs);
        if (r < 0) {
                log_error_errno(r, "Out of memory");
                goto fail;
        }
        m->worker_id_first = s->worker_id_first ? s->worker_id_first : CAGE_IDS_FIRST_DEFAULT;
        m->worker_id_count = s->worker_id_count ? s->worker_id_count : CAGE_IDS_COUNT_DEFAULT;
        r = vmms_find_vmwp(&m->vmwp_path);
        if (r < 0) {
                log_error_errno(r, "Cannot find the worker binary vmwp (next to vmms, or set VMMS_VMWP): %m");
                goto fail;
        }
        r = vmms_registry_open(m->state_dir, &m->vms_dirfd);
        if (r < 0) {
                log_error_errno(r, "Failed to open the state directory %s: %m", m->state_dir);
                goto fail;
        }
        if (asprintf(&lock, "%s/lock", m->state_dir) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                r = -errno;
                log_error_errno(r, r == -EWOULDBLOCK ? "Another vmms uses the state directory %s" :
                                "Failed to lock %s: %m", m->state_dir);
                goto fail;
        }
        r = mkdir_parents(m->run_dir, 0755);
        if (r >= 0 && mkdir(m->run_dir, 0755) < 0 && errno != EEXIST)
                r = -errno;
        if (r < 0) {
                log_error_errno(r, "Failed to create the run directory %s: %m", m->run_dir);
                goto fail;
        }
        r = sd_event_new(&m->event);
        if (r < 0) {
                log_error_errno(r, "Failed to create the event loop: %m");
                goto fail;
        }
        if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, manager_on_signal, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGINT, manager_on_signal, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGHUP, manager_on_signal, m)) < 0) {
                log_error_errno(r, "Failed to watch signals: %m");
                goto fail;
        }
        if (sd_watchdog_enabled(0, &wd) > 0 && wd > 0) {
                m->watchdog_usec = wd;
                r = sd_event_add_time_relative(m->event, &m->watchdog_source, CLOCK_MONOTONIC, wd / 2, 0,
                                               manager_on_watchdog, m);
                if (r < 0) {
                        log_error_errno(r, "Failed to arm the watchdog timer: %m");
                        goto fail;
                }
                sd_event_source_set_enabled(m->watchdog_source, SD_EVENT_ON);
        }
        *ret = m;
        return 0;
fail:
        vmms_manager_free(m);
        return r;
}

void vmms_manager_free(struct vmms_manager *m)
{
        if (!m)
                return;
        m->freeing = true;
        while (m->clients)
                client_free(m->clients);
        for (size_t i = 0; i < m->n_vms; i++)
                vmms_vm_free(m->vms[i]);
        free(m->vms);
        m->listen_source = sd_event_source_disable_unref(m->listen_source);
        m->watchdog_source = sd_event_source_disable_unref(m->watchdog_source);
        m->ready_timer = sd_event_source_disable_unref(m->ready_timer);
        if (m->listen_fd >= 0 && !m->socket_activated && m->ready)
                (void)unlink(m->socket_path);
        safe_close(m->listen_fd);
        safe_close(m->vms_dirfd);
        safe_close(m->lock_fd);
        sd_event_unref(m->event);
        free(m->socket_path);
        json_object_put(m->switches);
        free(m->state_dir);
        free(m->run_dir);
        free(m->vmwp_path);
        for (size_t i = 0; i < m->n_allow_dirs; i++)
                free(m->allow_dirs[i]);
        free(m->allow_dirs);
        free(m);
}
