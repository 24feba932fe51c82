/* SPDX-License-Identifier: MIT */
/* A disk image's backing chain: see disk_chain.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "vmms/cleanup.h"
#include "vmms/qcow2.h"
#include "disk_chain.h"

int disk_chain_backing_path(const char *child, const char *name, char **ret)
{
        _cleanup_free_ char *joined = NULL, *out = NULL;
        _cleanup_free_ const char **parts = NULL;
        const char *slash = strrchr(child, '/');
        size_t n = 0, len = 0;
        char *p, *save = NULL;
        bool absolute;

        if (name[0] == '/' || !slash)
                joined = strdup(name);
        else if (asprintf(&joined, "%.*s/%s", (int)(slash - child + 1), child, name) < 0)
                joined = NULL;
        if (!joined)
                return -ENOMEM;
        absolute = joined[0] == '/';
        parts = calloc(strlen(joined) / 2 + 2, sizeof(*parts));
        out = malloc(strlen(joined) + 3);
        if (!parts || !out)
                return -ENOMEM;
        for (p = strtok_r(joined, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
                if (strcmp(p, ".") == 0)
                        continue;
                if (strcmp(p, "..") == 0) {
                        if (n > 0 && strcmp(parts[n - 1], "..") != 0) {
                                n--;
                                continue;
                        }
                        if (absolute)   /* "/.." is "/" */
                                continue;
                }
                parts[n++] = p;
        }
        if (absolute)
                out[len++] = '/';
        for (size_t i = 0; i < n; i++) {
                size_t k = strlen(parts[i]);

                if (i > 0)
                        out[len++] = '/';
                memcpy(out + len, parts[i], k);
                len += k;
        }
        if (len == 0)
                out[len++] = '.';
        out[len] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

int disk_image_probe(int fd, enum disk_format *ret)
{
        int r = qcow2_probe_fd(fd);

        if (r < 0)
                return r;
        *ret = r ? DISK_FORMAT_QCOW2 : DISK_FORMAT_RAW;
        return 0;
}

int disk_image_size(int fd, uint64_t *ret)
{
        struct stat st;
        uint64_t sz;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode)) {
                *ret = (uint64_t)st.st_size;
                return 0;
        }
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
                return -errno;
        *ret = sz;
        return 0;
}

void disk_chain_done(struct disk_chain *c)
{
        for (unsigned i = 0; i < c->n; i++) {
                if (i > 0)
                        safe_close(c->images[i].fd);
                free(c->images[i].path);
                free(c->images[i].backing_name);
        }
        c->n = 0;
}

unsigned disk_chain_take_fds(struct disk_chain *c, int *fds)
{
        for (unsigned i = 1; i < c->n; i++)
                fds[i - 1] = TAKE_FD(c->images[i].fd);
        return c->n ? c->n - 1 : 0;
}

/* Fill in what the image says about itself: its size and, for qcow2, its header and the
 * format it names for its backing file. */
static int chain_read_image(const char *key, struct disk_chain_image *img, enum qcow2_backing_format *ret_backing,
                            char *err, size_t err_len)
{
        struct qcow2_header h;
        char msg[256];
        int r;

        *ret_backing = QCOW2_BACKING_NONE;
        if (img->format == DISK_FORMAT_RAW) {
                r = disk_image_size(img->fd, &img->virtual_size);
                if (r < 0)
                        snprintf(err, err_len, "%s: %s: cannot tell its size: %s", key, img->path, strerror(-r));
                return r;
        }
        r = qcow2_header_read(img->fd, &h, msg, sizeof(msg));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(err, err_len, "%s: %s: %s", key, img->path, msg);
                /* A malformed or unsupported image is the configuration's fault; an I/O error the host's. */
                return r == -EINVAL || r == -EOPNOTSUPP ? -EINVAL : r;
        }
        img->virtual_size = h.size;
        img->cluster_size = h.cluster_size;
        img->dirty = h.incompat & QCOW2_INCOMPAT_DIRTY;
        if (h.backing_name[0]) {
                img->backing_name = strdup(h.backing_name);
                if (!img->backing_name)
                        return -ENOMEM;
        }
        *ret_backing = h.backing_format;
        return 0;
}

int disk_chain_open(const char *key, const char *path, int fd, enum disk_format format, disk_chain_open_t open_fn,
                    void *userdata, struct disk_chain *ret, char *err, size_t err_len)
{
        struct disk_chain c = { .n = 1 };
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0)
                return -errno;
        c.images[0] = (struct disk_chain_image) { .path = strdup(path), .fd = fd, .format = format,
                                                  .dev = st.st_dev, .ino = st.st_ino };
        if (!c.images[0].path)
                return -ENOMEM;
        for (;;) {
                struct disk_chain_image *child = &c.images[c.n - 1], *next;
                enum qcow2_backing_format backing_format;
                char sub[512];

                r = chain_read_image(key, child, &backing_format, err, err_len);
                if (r < 0)
                        goto fail;
                if (!child->backing_name)
                        break;
                if (c.n > DISK_CHAIN_MAX) {
                        snprintf(err, err_len, "%s: the backing chain of %s is longer than %u backing files", key, path,
                                 DISK_CHAIN_MAX);
                        r = -EINVAL;
                        goto fail;
                }
                next = &c.images[c.n];
                *next = (struct disk_chain_image) { .fd = -1 };
                r = disk_chain_backing_path(child->path, child->backing_name, &next->path);
                if (r < 0)
                        goto fail;
                c.n++;
                snprintf(sub, sizeof(sub), "%s: backing file '%s' of %s", key, child->backing_name, child->path);
                r = open_fn(userdata, sub, next->path, &next->fd, err, err_len);
                if (r < 0)
                        goto fail;
                if (fstat(next->fd, &st) < 0) {
                        r = -errno;
                        goto fail;
                }
                next->dev = st.st_dev;
                next->ino = st.st_ino;
                for (unsigned i = 0; i + 1 < c.n; i++)
                        if (c.images[i].dev == next->dev && c.images[i].ino == next->ino) {
                                snprintf(err, err_len, "%s: the backing chain loops at %s (named by %s)", key,
                                         next->path, child->path);
                                r = -EINVAL;
                                goto fail;
                        }
                if (backing_format == QCOW2_BACKING_RAW)
                        next->format = DISK_FORMAT_RAW;
                else if (backing_format == QCOW2_BACKING_QCOW2)
                        next->format = DISK_FORMAT_QCOW2;
                else if ((r = disk_image_probe(next->fd, &next->format)) < 0) {
                        snprintf(err, err_len, "%s: cannot read %s: %s", sub, next->path, strerror(-r));
                        goto fail;
                }
        }
        *ret = c;
        return 0;
fail:
        disk_chain_done(&c);
        return r;
}
