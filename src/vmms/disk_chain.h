/* SPDX-License-Identifier: MIT */
/*
 * A disk image's backing chain, as vmms (worker.c, disk.info, disk.create, vm.create) and
 * vmjail open it for the worker: the top image, then its backing file, that one's backing
 * file, ... A relative backing name is resolved against the directory of the image that
 * names it, "." and ".." collapsed lexically (so a ".." that leads out of an allowed
 * directory is refused by the opener like any other path outside it). Backing files are
 * opened read-only through the caller's opener; a file seen twice (the same st_dev and
 * st_ino) is a loop; at most DISK_CHAIN_MAX backing files. A backing file's format comes
 * from its child's header (the backing-format extension), else it is probed: it is
 * read-only, so its guest cannot have written what the probe reads.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmms/disk.h"

struct disk_chain_image {
        char *path;                     /* the top's as given; the others absolute, lexically normal */
        int fd;                         /* the top's is the caller's (not closed here); the rest read-only */
        enum disk_format format;
        uint64_t virtual_size;
        uint64_t cluster_size;          /* qcow2 */
        bool dirty;                     /* qcow2: the dirty bit is set */
        char *backing_name;             /* qcow2: the name as stored in the header, NULL without */
        dev_t dev;
        ino_t ino;
};

struct disk_chain {
        struct disk_chain_image images[1 + DISK_CHAIN_MAX];    /* [0]: the top */
        unsigned n;
};

/* Opens path read-only where it is allowed; err begins with key. 0 or a negative errno
 * (-EINVAL: the path is at fault, a configuration error). */
typedef int (*disk_chain_open_t)(void *userdata, const char *key, const char *path, int *ret_fd, char *err,
                                 size_t err_len);

/*
 * Read the chain below the image `path`, open as fd (kept by the caller), of `format`.
 * Messages begin with key (e.g. "disks[0].path") and name the chain member at fault.
 * Returns 0, -EINVAL when an image or a name in the chain is at fault (not qcow2 where it
 * should be, unsupported feature, outside the allowed directories, a loop, too deep), or
 * another negative errno when the host failed.
 */
int disk_chain_open(const char *key, const char *path, int fd, enum disk_format format, disk_chain_open_t open_fn,
                    void *userdata, struct disk_chain *ret, char *err, size_t err_len);
/* Close the backing files' fds (not the top's) and free the names. */
void disk_chain_done(struct disk_chain *c);

/* Take the backing files' fds (images 1..n-1, nearest first) into fds; returns how many. */
unsigned disk_chain_take_fds(struct disk_chain *c, int *fds);

/* The path a backing name names: absolute as it is, relative to the child's directory;
 * "." and ".." collapsed lexically. */
int disk_chain_backing_path(const char *child, const char *name, char **ret);

/* Whether fd holds a qcow2 image, from its first bytes (the probe vm.create and disk.*
 * make once); its virtual size (raw: the file's or block device's size). */
int disk_image_probe(int fd, enum disk_format *ret);
int disk_image_size(int fd, uint64_t *ret);
