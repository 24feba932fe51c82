/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/util.h"
#include "registry.h"

#define CONFIG_NAME "config.json"
#define CONFIG_TMP  "config.json.tmp"

static void closedirp(DIR **d) { if (*d) closedir(*d); }

int vmms_write_file_atomic_until(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                                 enum vmms_write_step stop_after)
{
        char tmp[256];
        _cleanup_close_ int fd = -1;
        int r;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        if (stop_after == VMMS_WRITE_OPEN)
                return 0;
        r = loop_write(fd, data, len / 2);
        if (r < 0)
                goto fail;
        if (stop_after == VMMS_WRITE_HALF)
                return 0;
        r = loop_write(fd, (const char *)data + len / 2, len - len / 2);
        if (r < 0)
                goto fail;
        if (stop_after == VMMS_WRITE_DATA)
                return 0;
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (stop_after == VMMS_WRITE_FSYNC)
                return 0;
        fd = safe_close(fd);
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = -errno;
                goto fail;
        }
        if (stop_after == VMMS_WRITE_RENAME)
                return 0;
        if (fsync(dirfd) < 0)
                return -errno;
        return 0;
fail:
        (void)unlinkat(dirfd, tmp, 0);
        return r;
}

int vmms_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
        return vmms_write_file_atomic_until(dirfd, name, data, len, mode, VMMS_WRITE_DONE);
}

int vmms_registry_open(const char *state_dir, int *ret_dirfd)
{
        _cleanup_free_ char *vms = NULL;
        int fd, r;

        if (asprintf(&vms, "%s/vms", state_dir) < 0)
                return -ENOMEM;
        r = mkdir_p(vms, 0700);
        if (r < 0)
                return r;
        fd = open(vms, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_dirfd = fd;
        return 0;
}

int vmms_registry_format(const struct vm_config *cfg, char **ret)
{
        _cleanup_json_ struct json_object *o = NULL;
        const char *s;
        int r;

        r = vm_config_to_json(cfg, &o);
        if (r < 0)
                return r;
        json_object_object_del(o, "console");
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                           JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || asprintf(ret, "%s\n", s) < 0)
                return -ENOMEM;
        return 0;
}

int vmms_registry_save_until(int vms_dirfd, const struct vm_config *cfg, enum vmms_write_step stop_after)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int dfd = -1;
        bool created = false;
        int r;

        if (!cfg->uuid || !vmms_uuid_is_valid(cfg->uuid))
                return -EINVAL;
        r = vmms_registry_format(cfg, &text);
        if (r < 0)
                return r;
        if (mkdirat(vms_dirfd, cfg->uuid, 0700) == 0)
                created = true;
        else if (errno != EEXIST)
                return -errno;
        dfd = openat(vms_dirfd, cfg->uuid, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return -errno;
        r = vmms_write_file_atomic_until(dfd, CONFIG_NAME, text, strlen(text), 0600, stop_after);
        if (r < 0) {
                if (created)
                        (void)vmms_rmdir_flat(vms_dirfd, cfg->uuid);
                return r;
        }
        /* A new VM's directory entry must be durable too. */
        if (created && stop_after == VMMS_WRITE_DONE && fsync(vms_dirfd) < 0)
                return -errno;
        return 0;
}

int vmms_registry_save(int vms_dirfd, const struct vm_config *cfg)
{
        return vmms_registry_save_until(vms_dirfd, cfg, VMMS_WRITE_DONE);
}

int vmms_rmdir_flat(int parent_fd, const char *name)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int vmms_registry_remove_until(int vms_dirfd, const char *uuid, enum vmms_remove_step stop_after)
{
        _cleanup_close_ int dfd = -1;
        int r;

        if (!vmms_uuid_is_valid(uuid))
                return -EINVAL;
        dfd = openat(vms_dirfd, uuid, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return -errno;
        /* Gone from here on: a directory without config.json is a leftover. */
        if (unlinkat(dfd, CONFIG_NAME, 0) < 0 && errno != ENOENT)
                return -errno;
        if (stop_after == VMMS_REMOVE_UNLINK)
                return 0;
        if (fsync(dfd) < 0)
                return -errno;
        if (stop_after == VMMS_REMOVE_FSYNC)
                return 0;
        dfd = safe_close(dfd);
        r = vmms_rmdir_flat(vms_dirfd, uuid);
        if (r < 0)
                return r;
        if (stop_after == VMMS_REMOVE_RMDIR)
                return 0;
        if (fsync(vms_dirfd) < 0)
                return -errno;
        return 0;
}

int vmms_registry_remove(int vms_dirfd, const char *uuid)
{
        return vmms_registry_remove_until(vms_dirfd, uuid, VMMS_REMOVE_DONE);
}

static int load_one(int vms_dirfd, const char *uuid, vmms_registry_load_fn cb, vmms_registry_bad_fn bad_cb,
                    void *userdata)
{
        _cleanup_close_ int dfd = -1, fd = -1;
        _cleanup_free_ char *text = NULL;
        struct config_error err = {};
        struct vm_config cfg;
        int r;

        dfd = openat(vms_dirfd, uuid, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return 0;       /* not a directory: not ours */
        (void)unlinkat(dfd, CONFIG_TMP, 0);     /* a write that did not finish */
        fd = openat(dfd, CONFIG_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                /* Created or removed half-way: the VM does not exist. */
                dfd = safe_close(dfd);
                return vmms_rmdir_flat(vms_dirfd, uuid);
        }
        r = read_full_fd(fd, 1 << 20, &text, NULL);
        if (r < 0) {
                if (bad_cb)
                        bad_cb(uuid, strerror(-r), userdata);
                return 0;
        }
        r = vm_config_from_string(text, &cfg, &err);
        if (r < 0) {
                if (bad_cb)
                        bad_cb(uuid, err.msg[0] ? err.msg : strerror(-r), userdata);
                return 0;
        }
        if (!cfg.uuid || strcmp(cfg.uuid, uuid) != 0 || !cfg.name) {
                if (bad_cb)
                        bad_cb(uuid, !cfg.name ? "no name" : "the uuid key does not match the directory", userdata);
                vm_config_done(&cfg);
                return 0;
        }
        r = cb(&cfg, userdata);
        if (r < 0)
                vm_config_done(&cfg);
        return r == -ENOMEM ? r : 0;
}

int vmms_registry_load(int vms_dirfd, vmms_registry_load_fn cb, vmms_registry_bad_fn bad_cb, void *userdata)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, r;

        fd = openat(vms_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                if (!vmms_uuid_is_valid(de->d_name))
                        continue;
                r = load_one(vms_dirfd, de->d_name, cb, bad_cb, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vmms_uuid_generate(char ret[VMMS_UUID_STRING_MAX])
{
        uint8_t b[16];
        size_t got = 0;

        while (got < sizeof(b)) {
                ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t)n;
        }
        b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);         /* version 4 */
        b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);         /* RFC 4122 variant */
        snprintf(ret, VMMS_UUID_STRING_MAX,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                 b[14], b[15]);
        return 0;
}

bool vmms_uuid_is_valid(const char *s)
{
        if (!s || strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
                        return false;
        }
        return true;
}
