/* SPDX-License-Identifier: MIT */
/*
 * The directories vmms opens images from (vmms --allow-dir, vmms(8)). A configuration may
 * name a kernel, an initrd or a disk only below one of them; vmms opens it there with
 * openat2(RESOLVE_BENEATH), so neither ".." nor a symbolic link leads out of it, whatever
 * the file system looks like by the time the VM starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/util.h"
#include "vmms.h"

/* The part of path below dir ("" when path is dir itself), or NULL. */
static const char *path_below(const char *path, const char *dir)
{
        size_t n = strlen(dir);

        while (n > 1 && dir[n - 1] == '/')
                n--;
        if (n == 1 && dir[0] == '/')
                return path + 1;
        if (strncmp(path, dir, n) != 0 || (path[n] != '/' && path[n] != 0))
                return NULL;
        return path[n] ? path + n + 1 : path + n;
}

static bool path_has_dotdot(const char *path)
{
        for (const char *p = path; (p = strstr(p, "..")); p += 2)
                if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == 0))
                        return true;
        return false;
}

static void allowed_list(const struct vmms_manager *m, char *buf, size_t len)
{
        size_t off = 0;

        buf[0] = 0;
        for (size_t i = 0; i < m->n_allow_dirs && off < len; i++)
                off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", m->allow_dirs[i]);
}

/*
 * The allowed directory path lies below: an O_PATH fd of it (*ret_dfd), the rest of the
 * path (*ret_rel) and its index. -EINVAL with a message when path is relative, has "..",
 * or lies below none of them.
 */
static int allowed_below(const struct vmms_manager *m, const char *key, const char *path, int *ret_dfd,
                         const char **ret_rel, size_t *ret_idx, char *err, size_t err_len)
{
        char dirs[512];

        if (path[0] != '/' || path_has_dotdot(path)) {
                snprintf(err, err_len, "%s: '%s' is not an absolute path without '..'", key, path);
                return -EINVAL;
        }
        for (size_t i = 0; i < m->n_allow_dirs; i++) {
                const char *rel = path_below(path, m->allow_dirs[i]);
                int dfd;

                if (!rel || !rel[0])
                        continue;
                dfd = open(m->allow_dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        continue;
                *ret_dfd = dfd;
                *ret_rel = rel;
                *ret_idx = i;
                return 0;
        }
        allowed_list(m, dirs, sizeof(dirs));
        snprintf(err, err_len, "%s: %s is outside the directories vmms opens images from (%s; see vmms --allow-dir)",
                 key, path, dirs);
        return -EINVAL;
}

/* The message for a failed open of path below allowed directory i; the error to return. */
static int allowed_open_error(const struct vmms_manager *m, size_t i, const char *key, const char *path, int r,
                              const char *kind, char *err, size_t err_len)
{
        if (r == -EBADFD)
                snprintf(err, err_len, "%s: %s is %s, not a regular file or block device", key, path, kind);
        else if (r == -EEXIST)
                snprintf(err, err_len, "%s: %s exists already", key, path);
        else if (r == -EXDEV)
                snprintf(err, err_len, "%s: %s leads out of the allowed directory %s", key, path, m->allow_dirs[i]);
        else
                snprintf(err, err_len, "%s: %s: %s", key, path, strerror(-r));
        /* The message names the user's path: it is at fault unless the host ran short. */
        return errno_is_host_shortage(r) || r == -EEXIST ? r : -EINVAL;
}

int vmms_open_allowed(const struct vmms_manager *m, const char *key, const char *path, int flags, int *ret_fd,
                      char *err, size_t err_len)
{
        _cleanup_close_ int dfd = -1;
        const char *rel, *kind = NULL;
        size_t i;
        int fd, r;

        r = allowed_below(m, key, path, &dfd, &rel, &i, err, err_len);
        if (r < 0)
                return r;
        /* Only a regular file or block device, looked at before it is opened: a FIFO named
         * as an image would otherwise block vmms in open(). */
        fd = image_open_at(dfd, rel, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, &kind);
        if (fd < 0)
                return allowed_open_error(m, i, key, path, fd, kind, err, err_len);
        *ret_fd = fd;
        return 0;
}

int vmms_check_allowed(const struct vmms_manager *m, const char *key, const char *path, int flags, char *err,
                       size_t err_len)
{
        int fd = -1, r = vmms_open_allowed(m, key, path, flags, &fd, err, err_len);

        safe_close(fd);
        return r;
}

int vmms_create_allowed(const struct vmms_manager *m, const char *key, const char *path, mode_t mode, int *ret_dirfd,
                        int *ret_fd, char *err, size_t err_len)
{
        struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
        _cleanup_close_ int dfd = -1, pfd = -1;
        _cleanup_free_ char *parent = NULL;
        const char *rel, *base;
        size_t i;
        int fd, r;

        r = allowed_below(m, key, path, &dfd, &rel, &i, err, err_len);
        if (r < 0)
                return r;
        base = strrchr(rel, '/');
        parent = base ? strndup(rel, (size_t)(base - rel)) : strdup(".");
        base = base ? base + 1 : rel;
        if (!parent)
                return -ENOMEM;
        if (!base[0] || strcmp(base, ".") == 0) {
                snprintf(err, err_len, "%s: %s names a directory, not a file", key, path);
                return -EINVAL;
        }
        /* The directory below the allowed one, then the new file in it: never through a
         * link (O_EXCL does not follow one), never over an existing file. */
        pfd = (int)syscall(SYS_openat2, dfd, parent, &how, sizeof(how));
        fd = pfd < 0 ? -1 : openat(pfd, base, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return allowed_open_error(m, i, key, path, -errno, NULL, err, err_len);
        *ret_dirfd = TAKE_FD(pfd);
        *ret_fd = fd;
        return 0;
}
