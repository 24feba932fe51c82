/* SPDX-License-Identifier: MIT */
/*
 * Disk images (vmms-api(7) "disk.*"; Hyper-V's New-VHD, New-VHD -Differencing, Get-VHD):
 * disk.create makes an empty qcow2 image, on a backing file or not; disk.info tells an
 * image's format, sizes and backing chain. Only below the --allow-dirs, as for the images a
 * VM names; the chain is opened by the same code as when a VM starts (disk_chain.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmms-build-config.h"
#include "vmms/api.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/log.h"
#include "vmms/qcow2.h"
#include "disk_chain.h"
#include "vmms.h"

static int open_backing(void *userdata, const char *key, const char *path, int *ret_fd, char *err, size_t err_len)
{
        return vmms_open_allowed(userdata, key, path, O_RDONLY, ret_fd, err, err_len);
}

int vmms_disk_chain_open(const struct vmms_manager *m, const char *key, const char *path, int fd,
                         enum disk_format format, struct disk_chain *ret, char *err, size_t err_len)
{
        return disk_chain_open(key, path, fd, format, open_backing, (void *)m, ret, err, err_len);
}

/* A failure found with a message: the user's (-EINVAL) or the host's. */
static int disk_error(struct jsonrpc_call *call, int r, const char *msg)
{
        if (r == -ENOMEM)
                return r;
        return jsonrpc_call_error(call, r == -EINVAL ? VMMS_ERROR_CONFIG : r == -EEXIST ? VMMS_ERROR_EXISTS :
                                  VMMS_ERROR_FAILED, "%s", msg[0] ? msg : strerror(-r));
}

/* Open path (below an --allow-dir), probe its format once, read its chain. */
static int disk_open(const struct vmms_manager *m, const char *path, int *ret_fd, struct disk_chain *ret,
                     char *err, size_t err_len)
{
        _cleanup_close_ int fd = -1;
        enum disk_format format;
        int r;

        r = vmms_open_allowed(m, "path", path, O_RDONLY, &fd, err, err_len);
        if (r < 0)
                return r;
        r = disk_image_probe(fd, &format);
        if (r < 0) {
                snprintf(err, err_len, "path: cannot read %s: %s", path, strerror(-r));
                return r;
        }
        r = vmms_disk_chain_open(m, "path", path, fd, format, ret, err, err_len);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* {path, format, virtual_size, allocated, cluster_size?, dirty?, backing_file?,
 *  backing_format?, chain: [{path, format, virtual_size}, ...]} */
static int disk_info_json(const struct disk_chain *c, struct json_object **ret)
{
        _cleanup_json_ struct json_object *o = json_object_new_object(), *chain = json_object_new_array();
        const struct disk_chain_image *top = &c->images[0];
        struct stat st;

        if (!o || !chain)
                return -ENOMEM;
        if (fstat(top->fd, &st) < 0)
                return -errno;
        json_object_object_add(o, "path", json_object_new_string(top->path));
        json_object_object_add(o, "format", json_object_new_string(disk_format_to_string(top->format)));
        json_object_object_add(o, "virtual_size", json_object_new_int64((int64_t)top->virtual_size));
        json_object_object_add(o, "allocated", json_object_new_int64((int64_t)st.st_blocks * 512));
        if (top->format == DISK_FORMAT_QCOW2) {
                json_object_object_add(o, "cluster_size", json_object_new_int64((int64_t)top->cluster_size));
                json_object_object_add(o, "dirty", json_object_new_boolean(top->dirty));
        }
        if (top->backing_name && c->n > 1) {
                json_object_object_add(o, "backing_file", json_object_new_string(top->backing_name));
                json_object_object_add(o, "backing_format",
                                       json_object_new_string(disk_format_to_string(c->images[1].format)));
        }
        for (unsigned i = 0; i < c->n; i++) {
                struct json_object *e = json_object_new_object();

                if (!e)
                        return -ENOMEM;
                json_object_object_add(e, "path", json_object_new_string(c->images[i].path));
                json_object_object_add(e, "format", json_object_new_string(disk_format_to_string(c->images[i].format)));
                json_object_object_add(e, "virtual_size", json_object_new_int64((int64_t)c->images[i].virtual_size));
                json_object_array_add(chain, e);
        }
        json_object_object_add(o, "chain", TAKE_PTR(chain));
        *ret = TAKE_PTR(o);
        return 0;
}

int vmms_api_disk_info(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *cl = userdata;
        struct json_object *path = NULL, *o = NULL;
        const struct jsonrpc_param p[] = { { "path", json_type_string, true, &path } };
        struct disk_chain chain = {};
        _cleanup_close_ int fd = -1;
        char err[1024] = "";
        int r;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        r = disk_open(cl->manager, json_object_get_string(path), &fd, &chain, err, sizeof(err));
        if (r < 0)
                return disk_error(call, r, err);
        r = disk_info_json(&chain, &o);
        disk_chain_done(&chain);
        if (r < 0)
                return r;
        return jsonrpc_call_reply(call, o);
}

/* The name a new image records for its backing file: relative to the image's directory
 * when the backing file is below it (the pair can move together), else absolute. */
static int backing_name_for(const char *image, const char *backing, char **ret)
{
        const char *slash = strrchr(image, '/');
        size_t n = slash ? (size_t)(slash - image) : 0;

        if (n > 0 && strncmp(backing, image, n) == 0 && backing[n] == '/')
                *ret = strdup(backing + n + 1);
        else
                *ret = strdup(backing);
        return *ret ? 0 : -ENOMEM;
}

/* The backing file: opened, its chain checked, its format and size read. */
static int create_open_backing(const struct vmms_manager *m, const char *image, const char *backing,
                               char **ret_name, enum qcow2_backing_format *ret_format, uint64_t *ret_size, char *err,
                               size_t err_len)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        struct disk_chain chain = {};
        enum disk_format format;
        int r;

        /* A relative name is relative to the new image's directory, as in the image itself. */
        r = disk_chain_backing_path(image, backing, &path);
        if (r < 0)
                return r;
        r = vmms_open_allowed(m, "backing", path, O_RDONLY, &fd, err, err_len);
        if (r < 0)
                return r;
        r = disk_image_probe(fd, &format);
        if (r < 0) {
                snprintf(err, err_len, "backing: cannot read %s: %s", path, strerror(-r));
                return r;
        }
        r = vmms_disk_chain_open(m, "backing", path, fd, format, &chain, err, err_len);
        if (r < 0)
                return r;
        *ret_size = chain.images[0].virtual_size;
        disk_chain_done(&chain);
        *ret_format = format == DISK_FORMAT_QCOW2 ? QCOW2_BACKING_QCOW2 : QCOW2_BACKING_RAW;
        return backing_name_for(image, path, ret_name);
}

int vmms_api_disk_create(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct vmms_client *cl = userdata;
        const struct vmms_manager *m = cl->manager;
        struct json_object *path = NULL, *size = NULL, *backing = NULL, *cluster = NULL, *o = NULL;
        const struct jsonrpc_param p[] = {
                { "path", json_type_string, true, &path },
                { "size", json_type_int, false, &size },
                { "backing", json_type_string, false, &backing },
                { "cluster_size", json_type_int, false, &cluster },
        };
        enum qcow2_backing_format backing_format = QCOW2_BACKING_NONE;
        _cleanup_free_ char *image = NULL, *backing_name = NULL;
        _cleanup_close_ int dfd = -1, fd = -1;
        uint32_t cluster_bits = QCOW2_DEFAULT_CLUSTER_BITS;
        struct disk_chain chain = {};
        uint64_t bytes = 0;
        char err[1024] = "";
        int r;

        if (jsonrpc_params_parse(call, params, p, ARRAY_SIZE(p)) < 0)
                return 0;
        if (!size && !backing)
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                          "Invalid params: 'size' is required without 'backing'");
        if (size) {
                int64_t v = json_object_get_int64(size);

                if (v <= 0 || v % 512)
                        return jsonrpc_call_error(call, VMMS_ERROR_CONFIG,
                                                  "size: %lld is not a positive multiple of 512 bytes", (long long)v);
                bytes = (uint64_t)v;
        }
        if (cluster) {
                int64_t v = json_object_get_int64(cluster);

                if (v < (1 << QCOW2_MIN_CLUSTER_BITS) || v > (1 << QCOW2_MAX_CLUSTER_BITS) || (v & (v - 1)))
                        return jsonrpc_call_error(call, VMMS_ERROR_CONFIG,
                                                  "cluster_size: %lld is not a power of two from 512 to 2097152",
                                                  (long long)v);
                cluster_bits = (uint32_t)__builtin_ctzll((unsigned long long)v);
        }
        if (json_object_get_string(path)[0] != '/')
                return jsonrpc_call_error(call, VMMS_ERROR_CONFIG, "path: '%s' is not an absolute path",
                                          json_object_get_string(path));
        /* The image's name, lexically normal, as it is compared with its backing file's. */
        r = disk_chain_backing_path("/", json_object_get_string(path), &image);
        if (r < 0)
                return r;
        if (backing) {
                uint64_t backing_size = 0;

                r = create_open_backing(m, image, json_object_get_string(backing), &backing_name, &backing_format,
                                        &backing_size, err, sizeof(err));
                if (r < 0)
                        return disk_error(call, r, err);
                if (!size)      /* as big as the backing file, rounded up to whole sectors */
                        bytes = (backing_size + 511) & ~511ull;
        }
        r = vmms_create_allowed(m, "path", json_object_get_string(path), 0660, &dfd, &fd, err, sizeof(err));
        if (r < 0)
                return disk_error(call, r, err);
        /* Like the socket: the vmms group may read and write what vmms made. */
        if (fchmod(fd, 0660) < 0 || (m->group_known && fchown(fd, (uid_t)-1, m->group) < 0))
                log_warning_errno(-errno, "Failed to give %s mode 0660 and group '%s': %m", image, VMMS_GROUP);
        r = qcow2_create(fd, bytes, cluster_bits, backing_name, backing_format, err, sizeof(err));
        if (r >= 0)
                r = vmms_disk_chain_open(m, "path", image, fd, DISK_FORMAT_QCOW2, &chain, err, sizeof(err));
        if (r >= 0) {
                r = disk_info_json(&chain, &o);
                disk_chain_done(&chain);
        }
        if (r < 0) {
                (void)unlinkat(dfd, strrchr(image, '/') + 1, 0);
                /* What qcow2_create() refuses (a size too large for the clusters) is the caller's. */
                return disk_error(call, r == -EINVAL || r == -EOPNOTSUPP ? -EINVAL : r, err);
        }
        log_info("Created disk image %s (%llu bytes%s%s)", image, (unsigned long long)bytes,
                 backing_name ? ", backing file " : "", backing_name ? backing_name : "");
        return jsonrpc_call_reply(call, o);
}
