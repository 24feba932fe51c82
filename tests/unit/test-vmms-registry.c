/* SPDX-License-Identifier: MIT */
/*
 * The registry: atomic writes with a "crash" (the writer process exits) after every step,
 * create and remove likewise; loading then finds the old or the new file, never a mix, and
 * removes what the crash left behind.
 */
#include "check-main.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmms/config.h"
#include "../../src/vmms/registry.h"

#define UUID "0b5e1a52-8a8e-4c4e-9f1e-3a1b2c3d4e5f"

struct loaded {
        int n;
        char name[64];
        char cmdline[64];
        int bad;
        char bad_msg[256];
};

static int on_vm(struct vm_config *cfg, void *userdata)
{
        struct loaded *l = userdata;

        l->n++;
        snprintf(l->name, sizeof(l->name), "%s", cfg->name);
        snprintf(l->cmdline, sizeof(l->cmdline), "%s", cfg->cmdline ? cfg->cmdline : "");
        vm_config_done(cfg);
        return 0;
}

static void on_bad(const char *uuid, const char *msg, void *userdata)
{
        struct loaded *l = userdata;

        l->bad++;
        snprintf(l->bad_msg, sizeof(l->bad_msg), "%s", msg);
}

static int make_state(char *dir, size_t len)
{
        int fd;

        snprintf(dir, len, "/tmp/test-registry.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(vmms_registry_open(dir, &fd), 0);
        return fd;
}

static void rm_state(const char *dir)
{
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

static void config(struct vm_config *c, const char *cmdline)
{
        vm_config_init(c);
        c->name = strdup("demo");
        c->uuid = strdup(UUID);
        c->cmdline = strdup(cmdline);
}

static struct loaded load(int fd)
{
        struct loaded l = {};

        ck_assert_int_eq(vmms_registry_load(fd, on_vm, on_bad, &l), 0);
        return l;
}

/* Entries of vms/UUID/ after loading (crash leftovers must be gone). */
static int entries(int vms_fd, const char *uuid, char *names, size_t len)
{
        int fd = openat(vms_fd, uuid, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        int n = 0;

        names[0] = 0;
        if (fd < 0)
                return -1;
        d = fdopendir(fd);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        n++;
                        strncat(names, de->d_name, len - strlen(names) - 2);
                        strcat(names, " ");
                }
        closedir(d);
        return n;
}

/* The writer "crashes": a child does the steps up to stop_after and exits on the spot. */
static void crash_save(int fd, const char *cmdline, enum vmms_write_step stop_after)
{
        pid_t pid = fork();
        int status;

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct vm_config c;

                config(&c, cmdline);
                _exit(vmms_registry_save_until(fd, &c, stop_after) == 0 ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(test_roundtrip)
{
        char dir[64], names[256];
        struct vm_config c;
        struct loaded l;
        int fd = make_state(dir, sizeof(dir));

        config(&c, "scenario=idle");
        ck_assert_int_eq(vmms_registry_save(fd, &c), 0);
        vm_config_done(&c);
        l = load(fd);
        ck_assert_int_eq(l.n, 1);
        ck_assert_str_eq(l.name, "demo");
        ck_assert_str_eq(l.cmdline, "scenario=idle");
        ck_assert_int_eq(entries(fd, UUID, names, sizeof(names)), 1);
        ck_assert_str_eq(names, "config.json ");
        ck_assert_int_eq(vmms_registry_remove(fd, UUID), 0);
        l = load(fd);
        ck_assert_int_eq(l.n, 0);
        ck_assert_int_eq(entries(fd, UUID, names, sizeof(names)), -1);
        close(fd);
        rm_state(dir);
}
END_TEST

START_TEST(test_stored_form)
{
        struct vm_config c;
        char *text = NULL;

        config(&c, "x");
        c.console_type = CONSOLE_SOCKET;
        c.console_path = strdup("/run/x.sock");
        c.kvm_fd = 7;
        ck_assert_int_eq(vmms_registry_format(&c, &text), 0);
        /* vmms manages the console; the kvm fd is never configuration. */
        ck_assert_msg(!strstr(text, "console") && !strstr(text, "kvm"), "%s", text);
        ck_assert(strstr(text, "\"uuid\": \"" UUID "\""));
        free(text);
        vm_config_done(&c);
        ck_assert_int_eq(c.kvm_fd, -1);
}
END_TEST

START_TEST(test_crash_during_update)
{
        for (int step = VMMS_WRITE_OPEN; step <= VMMS_WRITE_DONE; step++) {
                char dir[64], names[256];
                struct vm_config c;
                struct loaded l;
                int fd = make_state(dir, sizeof(dir));

                config(&c, "old");
                ck_assert_int_eq(vmms_registry_save(fd, &c), 0);
                vm_config_done(&c);
                crash_save(fd, "new", step);
                l = load(fd);
                ck_assert_int_eq(l.n, 1);
                ck_assert_int_eq(l.bad, 0);
                ck_assert_str_eq(l.cmdline, step >= VMMS_WRITE_RENAME ? "new" : "old");
                ck_assert_int_eq(entries(fd, UUID, names, sizeof(names)), 1);     /* no temporary file */
                close(fd);
                rm_state(dir);
        }
}
END_TEST

START_TEST(test_crash_during_create)
{
        for (int step = VMMS_WRITE_OPEN; step <= VMMS_WRITE_DONE; step++) {
                char dir[64], names[256];
                struct loaded l;
                int fd = make_state(dir, sizeof(dir));

                crash_save(fd, "new", step);
                l = load(fd);
                ck_assert_int_eq(l.bad, 0);
                if (step >= VMMS_WRITE_RENAME) {
                        ck_assert_int_eq(l.n, 1);
                        ck_assert_str_eq(l.cmdline, "new");
                } else {
                        ck_assert_int_eq(l.n, 0);
                        /* The half-created directory is gone. */
                        ck_assert_int_eq(entries(fd, UUID, names, sizeof(names)), -1);
                }
                close(fd);
                rm_state(dir);
        }
}
END_TEST

START_TEST(test_crash_during_remove)
{
        for (int step = VMMS_REMOVE_UNLINK; step <= VMMS_REMOVE_DONE; step++) {
                char dir[64], names[256];
                struct vm_config c;
                struct loaded l;
                int fd = make_state(dir, sizeof(dir)), status;
                pid_t pid;

                config(&c, "old");
                ck_assert_int_eq(vmms_registry_save(fd, &c), 0);
                vm_config_done(&c);
                /* A leftover temporary file must not resurrect the VM either. */
                if (step == VMMS_REMOVE_UNLINK)
                        crash_save(fd, "tmp", VMMS_WRITE_DATA);
                pid = fork();
                if (pid == 0)
                        _exit(vmms_registry_remove_until(fd, UUID, step) == 0 ? 0 : 1);
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                l = load(fd);
                ck_assert_int_eq(l.n, 0);
                ck_assert_int_eq(entries(fd, UUID, names, sizeof(names)), -1);
                close(fd);
                rm_state(dir);
        }
}
END_TEST

START_TEST(test_bad_files)
{
        char dir[64], path[256];
        struct loaded l;
        int fd = make_state(dir, sizeof(dir));
        FILE *f;

        snprintf(path, sizeof(path), "%s/vms/" UUID, dir);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        snprintf(path, sizeof(path), "%s/vms/" UUID "/config.json", dir);
        f = fopen(path, "w");
        fputs("{\"name\": \"demo\", \"uuid\": \"" UUID "\", \"vcpus\": 0}", f);
        fclose(f);
        l = load(fd);
        ck_assert_int_eq(l.n, 0);
        ck_assert_int_eq(l.bad, 1);
        ck_assert_msg(strstr(l.bad_msg, "vcpus"), "%s", l.bad_msg);
        /* The uuid inside must match the directory. */
        f = fopen(path, "w");
        fputs("{\"name\": \"demo\", \"uuid\": \"0b5e1a52-8a8e-4c4e-9f1e-000000000000\"}", f);
        fclose(f);
        l = load(fd);
        ck_assert_int_eq(l.n, 0);
        ck_assert_int_eq(l.bad, 1);
        /* Names that are not UUIDs are not VMs. */
        snprintf(path, sizeof(path), "%s/vms/junk", dir);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        l = load(fd);
        ck_assert_int_eq(l.n + l.bad, 1);
        close(fd);
        rm_state(dir);
}
END_TEST

START_TEST(test_uuids)
{
        char a[VMMS_UUID_STRING_MAX], b[VMMS_UUID_STRING_MAX];

        ck_assert_int_eq(vmms_uuid_generate(a), 0);
        ck_assert_int_eq(vmms_uuid_generate(b), 0);
        ck_assert(vmms_uuid_is_valid(a));
        ck_assert_str_ne(a, b);
        ck_assert_int_eq(a[14], '4');                           /* version 4 */
        ck_assert(strchr("89ab", a[19]));                       /* RFC 4122 variant */
        ck_assert(vmms_uuid_is_valid(UUID));
        ck_assert(!vmms_uuid_is_valid("0B5E1A52-8A8E-4C4E-9F1E-3A1B2C3D4E5F"));
        ck_assert(!vmms_uuid_is_valid("0b5e1a52-8a8e-4c4e-9f1e-3a1b2c3d4e5"));
        ck_assert(!vmms_uuid_is_valid("0b5e1a52x8a8e-4c4e-9f1e-3a1b2c3d4e5f"));
        ck_assert(!vmms_uuid_is_valid("../../../../../../../../../etc/passw"));
        ck_assert(!vmms_uuid_is_valid(NULL));
}
END_TEST

START_TEST(test_atomic_write_errors)
{
        char dir[64];
        int fd = make_state(dir, sizeof(dir));
        char longname[300];

        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        ck_assert_int_eq(vmms_write_file_atomic(fd, longname, "x", 1, 0600), -ENAMETOOLONG);
        ck_assert_int_lt(vmms_write_file_atomic(-1, "x", "x", 1, 0600), 0);
        close(fd);
        rm_state(dir);
}
END_TEST

CHECK_MAIN("vmms-registry", test_roundtrip, test_stored_form, test_crash_during_update, test_crash_during_create,
           test_crash_during_remove, test_bad_files, test_uuids, test_atomic_write_errors)
