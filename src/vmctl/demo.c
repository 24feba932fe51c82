/* SPDX-License-Identifier: MIT */
/*
 * vmctl demo: a newcomer's first command. With no vmms reachable it starts a private one in
 * a temporary directory; then it creates a VM with the bundled guest kernel, starts it,
 * shows its console until the guest is up, stops it gracefully, deletes it and cleans up.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmms-build-config.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmctl.h"

#define DEMO_READY_TIMEOUT_MS 15000

extern char **environ;

struct demo {
        char dir[64];           /* the private vmms' directory, or "" */
        pid_t vmms;
        char socket[128];
        struct libvmms *c;
        char name[64];
        bool created;
};

static double ms_since(uint64_t t0)
{
        return (double)(now_usec(CLOCK_MONOTONIC) - t0) / 1000.0;
}

static int find_vmms(char **ret)
{
        const char *env = getenv("VMMS_BINARY");
        char exe[4096];
        ssize_t n;

        if (env && env[0]) {
                *ret = strdup(env);
                return *ret ? 0 : -ENOMEM;
        }
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                char *slash;

                exe[n] = 0;
                slash = strrchr(exe, '/');
                if (slash) {
                        *slash = 0;
                        const char *const candidates[] = {
                                string_has_prefix(exe, VMMS_BUILD_ROOT "/") ? "/../vmms/vmms" : NULL,
                                "/vmms", "/../sbin/vmms",
                        };
                        for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
                                char *p;

                                if (!candidates[i])
                                        continue;
                                if (asprintf(&p, "%s%s", exe, candidates[i]) < 0)
                                        return -ENOMEM;
                                if (access(p, X_OK) == 0) {
                                        *ret = p;
                                        return 0;
                                }
                                free(p);
                        }
                }
        }
        if (access(VMCTL_SBINDIR "/vmms", X_OK) == 0) {
                *ret = strdup(VMCTL_SBINDIR "/vmms");
                return *ret ? 0 : -ENOMEM;
        }
        return -ENOENT;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)remove(path);
        return 0;
}

static void demo_cleanup(struct demo *d)
{
        libvmms_free(d->c);
        d->c = NULL;
        if (d->vmms > 0) {
                kill(d->vmms, SIGTERM);
                (void)waitpid(d->vmms, NULL, 0);
                d->vmms = 0;
        }
        if (d->dir[0]) {
                (void)nftw(d->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
                printf("Stopped the private vmms and removed %s.\n", d->dir);
                d->dir[0] = 0;
        }
}

/* Start vmms in a temporary directory and wait until it answers. */
static int demo_private_vmms(struct demo *d)
{
        _cleanup_free_ char *vmms = NULL, *state = NULL, *run = NULL, *log = NULL;
        posix_spawn_file_actions_t fa;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        r = find_vmms(&vmms);
        if (r < 0) {
                fprintf(stderr, "vmctl demo: cannot find the vmms binary (set VMMS_BINARY)\n");
                return VMCTL_EXIT_UNREACHABLE;
        }
        snprintf(d->dir, sizeof(d->dir), "/tmp/vmms-demo.XXXXXX");
        if (!mkdtemp(d->dir)) {
                fprintf(stderr, "vmctl demo: cannot create a temporary directory: %s\n", strerror(errno));
                d->dir[0] = 0;
                return VMCTL_EXIT_API;
        }
        snprintf(d->socket, sizeof(d->socket), "%s/vmms.sock", d->dir);
        if (asprintf(&state, "%s/state", d->dir) < 0 || asprintf(&run, "%s/run", d->dir) < 0 ||
            asprintf(&log, "%s/vmms.log", d->dir) < 0)
                return VMCTL_EXIT_API;
        char *const argv[] = { vmms, (char *)"--socket", d->socket, (char *)"--state-dir", state,
                               (char *)"--run-dir", run, NULL };
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        r = posix_spawn(&d->vmms, vmms, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                fprintf(stderr, "vmctl demo: cannot start %s: %s\n", vmms, strerror(r));
                d->vmms = 0;
                return VMCTL_EXIT_UNREACHABLE;
        }
        printf("No vmms is running: started a private one (pid %d) in %s.\n", (int)d->vmms, d->dir);
        for (int i = 0; i < 1000; i++) {
                int status;

                if (libvmms_connect(d->socket, &d->c) >= 0) {
                        printf("  it answers after %.1f ms\n", ms_since(t0));
                        return VMCTL_EXIT_OK;
                }
                if (waitpid(d->vmms, &status, WNOHANG) == d->vmms) {
                        d->vmms = 0;
                        fprintf(stderr, "vmctl demo: vmms exited; its log is %s/vmms.log\n", d->dir);
                        d->dir[0] = 0;  /* keep the log */
                        return VMCTL_EXIT_UNREACHABLE;
                }
                usleep(10000);
        }
        fprintf(stderr, "vmctl demo: the private vmms did not answer within 10 s\n");
        return VMCTL_EXIT_UNREACHABLE;
}

/* Show the console until the guest reports ready (or the timeout). */
static int demo_show_console(int fd, int timeout_ms, bool until_eof)
{
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        char buf[4096], line[512];
        size_t len = 0;
        bool ready = false;

        while (!ready && ms_since(t0) < timeout_ms) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 100) <= 0)
                        continue;
                n = read(fd, buf, sizeof(buf));
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n <= 0)
                        return until_eof ? 0 : -EPIPE;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\r')
                                continue;
                        if (buf[i] != '\n' && len < sizeof(line) - 1) {
                                line[len++] = buf[i];
                                continue;
                        }
                        if (buf[i] != '\n')
                                continue;
                        line[len] = 0;
                        printf("  | %s\n", line);
                        if (!until_eof && strstr(line, "#VMMS ready"))
                                ready = true;
                        len = 0;
                }
                fflush(stdout);
        }
        return ready || until_eof ? 0 : -ETIMEDOUT;
}

static int demo_run(struct demo *d)
{
        _cleanup_json_ struct json_object *cfg = json_object_new_object(), *res = NULL;
        struct libvmms_error err;
        _cleanup_close_ int console = -1;
        uint64_t t0;
        int r;

        if (!cfg)
                return VMCTL_EXIT_API;
        /* A name of our own if the daemon is shared and "demo" is taken. */
        snprintf(d->name, sizeof(d->name), "demo");
        if (libvmms_vm_get(d->c, d->name, &res, &err) >= 0)
                snprintf(d->name, sizeof(d->name), "demo-%d", (int)getpid());
        json_object_put(TAKE_PTR(res));

        printf("\n1. vmctl create %s --memory 64M     (the bundled guest kernel)\n", d->name);
        json_object_object_add(cfg, "name", json_object_new_string(d->name));
        json_object_object_add(cfg, "memory", json_object_new_string("64M"));
        r = libvmms_vm_create(d->c, TAKE_PTR(cfg), &res, &err);
        if (r < 0)
                return vmctl_fail(d->c, r, &err);
        d->created = true;
        printf("  created, uuid %s, state %s\n", vmctl_json_str(res, "uuid", "?"), vmctl_json_str(res, "state", "?"));
        json_object_put(TAKE_PTR(res));

        printf("\n2. vmctl start %s\n", d->name);
        t0 = now_usec(CLOCK_MONOTONIC);
        r = libvmms_vm_start(d->c, d->name, &res, &err);
        if (r < 0)
                return vmctl_fail(d->c, r, &err);
        printf("  %s after %.1f ms, worker pid %lld\n", vmctl_json_str(res, "state", "?"), ms_since(t0),
               (long long)vmctl_json_int(res, "pid", 0));
        json_object_put(TAKE_PTR(res));

        printf("\n3. vmctl console %s    (its serial console, until the guest says it is ready)\n", d->name);
        r = libvmms_vm_console(d->c, d->name, &console, NULL, &err);
        if (r < 0)
                return vmctl_fail(d->c, r, &err);
        (void)fd_set_nonblock(console, false);
        r = demo_show_console(console, DEMO_READY_TIMEOUT_MS, false);
        if (r < 0)
                fprintf(stderr, "vmctl demo: the guest did not report ready: %s\n", strerror(-r));

        printf("\n4. vmctl stop %s    (graceful: the ACPI power button)\n", d->name);
        t0 = now_usec(CLOCK_MONOTONIC);
        r = libvmms_vm_stop(d->c, d->name, false, true, 30, &res, &err);
        if (r < 0)
                return vmctl_fail(d->c, r, &err);
        (void)demo_show_console(console, 2000, true);   /* the guest's last words */
        printf("  %s after %.1f ms: %s\n", vmctl_json_str(res, "state", "?"), ms_since(t0),
               vmctl_json_str(res, "reason", "-"));
        json_object_put(TAKE_PTR(res));

        printf("\n5. vmctl delete %s\n", d->name);
        r = libvmms_vm_delete(d->c, d->name, &err);
        if (r < 0)
                return vmctl_fail(d->c, r, &err);
        d->created = false;
        printf("  deleted\n\nDone. Next: vmctl --help, man vmctl, man vmms-api.\n");
        return VMCTL_EXIT_OK;
}

int vmctl_demo(const struct vmctl *ctl)
{
        struct demo d = {};
        const char *path = ctl->socket ? ctl->socket : libvmms_default_socket();
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (libvmms_connect(path, &d.c) >= 0)
                printf("Using the vmms at %s.\n", path);
        else {
                r = demo_private_vmms(&d);
                if (r != VMCTL_EXIT_OK) {
                        demo_cleanup(&d);
                        return r;
                }
        }
        r = demo_run(&d);
        if (r != VMCTL_EXIT_OK && d.created && d.c) {
                struct libvmms_error err;

                (void)libvmms_vm_stop(d.c, d.name, true, false, -1, NULL, &err);
                (void)libvmms_vm_delete(d.c, d.name, &err);
        }
        demo_cleanup(&d);
        return r;
}
