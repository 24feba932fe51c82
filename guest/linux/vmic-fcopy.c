/* SPDX-License-Identifier: MIT */
/*
 * vmic's file copy: the host's chunks go into a temporary file next to the target, which
 * replaces the target only once the whole file's CRC-32 matches. Paths are checked
 * against --fcopy-root; ".." is never accepted.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmic-internal.h"

static unsigned errno_to_ic(int e)
{
        switch (e) {
        case EACCES: case EPERM: case EROFS: return IC_ERR_ACCESS;
        case ENOSPC: case EDQUOT: return IC_ERR_NO_SPACE;
        case ENOENT: case ENOTDIR: case EISDIR: case ENAMETOOLONG: case ELOOP: return IC_ERR_INVALID_PATH;
        case EEXIST: return IC_ERR_EXISTS;
        default: return IC_ERR_IO;
        }
}

void vmic_fcopy_abort(struct vmic *v)
{
        struct vmic_fcopy *f = &v->fc;

        if (!f->active)
                return;
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -1;
        (void)unlink(f->tmp);
        f->active = false;
}

static void __attribute__((format(printf, 4, 5))) fail(struct vmic *v, uint64_t id, unsigned code, const char *fmt, ...)
{
        char text[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        vmic_fcopy_abort(v);
        vmic_error(v, IC_SVC_FCOPY, id, code, "%s", text);
}

/* Absolute, no "." or ".." components, below the root. */
static unsigned check_path(struct vmic *v, const char *path)
{
        const char *root = v->cfg.fcopy_root ? v->cfg.fcopy_root : "/";
        size_t rl = strlen(root);

        if (path[0] != '/')
                return IC_ERR_INVALID_PATH;
        for (const char *c = path; *c;) {
                const char *slash = strchr(c, '/');
                size_t n = slash ? (size_t)(slash - c) : strlen(c);

                if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return IC_ERR_INVALID_PATH;
                c += n + (slash ? 1 : 0);
        }
        while (rl > 1 && root[rl - 1] == '/')
                rl--;
        if (rl > 1 && (strncmp(path, root, rl) != 0 || path[rl] != '/'))
                return IC_ERR_ACCESS;
        return 0;
}

static int mkdir_p(const char *dir)
{
        char buf[IC_FCOPY_PATH_MAX + 1];

        snprintf(buf, sizeof(buf), "%s", dir);
        for (char *c = buf + 1; ; c++) {
                if (*c == '/' || *c == 0) {
                        char saved = *c;

                        *c = 0;
                        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *c = saved;
                        if (!saved)
                                break;
                }
        }
        return 0;
}

static void start(struct vmic *v, const struct ic_msg *m, uint64_t id)
{
        struct vmic_fcopy *f = &v->fc;
        const char *path;
        char dirbuf[IC_FCOPY_PATH_MAX + 1], basebuf[IC_FCOPY_PATH_MAX + 1];
        int64_t size, mode = 0644;
        bool overwrite = false, mkdirs = false;
        struct stat st;
        unsigned code;

        vmic_fcopy_abort(v);            /* a new start ends whatever the host abandoned */
        if (ic_msg_get_str(m, "path", IC_FCOPY_PATH_MAX, &path, NULL) < 0 ||
            ic_msg_get_int(m, "size", 0, INT64_MAX, &size) < 0) {
                vmic_error(v, IC_SVC_FCOPY, id, IC_ERR_BAD_MESSAGE, "start needs a path and a size");
                return;
        }
        (void)ic_msg_get_int(m, "mode", 0, 07777, &mode);
        (void)ic_msg_get_bool(m, "overwrite", &overwrite);
        (void)ic_msg_get_bool(m, "mkdirs", &mkdirs);
        code = check_path(v, path);
        if (code) {
                if (code == IC_ERR_ACCESS)
                        vmic_error(v, IC_SVC_FCOPY, id, code, "%s is outside the copy root", path);
                else
                        vmic_error(v, IC_SVC_FCOPY, id, code, "%s: not an absolute path without . or ..", path);
                return;
        }
        snprintf(dirbuf, sizeof(dirbuf), "%s", path);
        snprintf(basebuf, sizeof(basebuf), "%s", path);
        const char *dir = dirname(dirbuf), *base = basename(basebuf);

        if (stat(dir, &st) < 0 && mkdirs && mkdir_p(dir) < 0) {
                vmic_error(v, IC_SVC_FCOPY, id, errno_to_ic(errno), "cannot create %s: %m", dir);
                return;
        }
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                vmic_error(v, IC_SVC_FCOPY, id, IC_ERR_INVALID_PATH, "directory %s does not exist", dir);
                return;
        }
        if (lstat(path, &st) == 0) {
                if (S_ISDIR(st.st_mode)) {
                        vmic_error(v, IC_SVC_FCOPY, id, IC_ERR_INVALID_PATH, "%s is a directory", path);
                        return;
                }
                if (!overwrite) {
                        vmic_error(v, IC_SVC_FCOPY, id, IC_ERR_EXISTS, "%s exists", path);
                        return;
                }
        }
        snprintf(f->tmp, sizeof(f->tmp), "%s/.%.200s.vmic-XXXXXX", strcmp(dir, "/") == 0 ? "" : dir, base);
        f->fd = mkostemp(f->tmp, O_CLOEXEC);
        if (f->fd < 0) {
                vmic_error(v, IC_SVC_FCOPY, id, errno_to_ic(errno), "cannot write in %s: %m", dir);
                return;
        }
        snprintf(f->path, sizeof(f->path), "%s", path);
        f->active = true;
        f->id = id;
        f->mode = (unsigned)mode;
        f->size = (uint64_t)size;
        f->written = f->next_seq = 0;
        f->crc = 0;
        vmic_log(v, "fcopy: receiving %s (%lld bytes)", path, (long long)size);
        vmic_ack(v, IC_SVC_FCOPY, id, -1);
}

static void data(struct vmic *v, const struct ic_msg *m, uint64_t id)
{
        struct vmic_fcopy *f = &v->fc;
        int64_t seq, off, size, crc;
        const char *b64;
        size_t b64_len, len, done = 0;

        if (ic_msg_get_int(m, "seq", 0, INT64_MAX, &seq) < 0 || ic_msg_get_int(m, "offset", 0, INT64_MAX, &off) < 0 ||
            ic_msg_get_int(m, "size", 0, IC_FCOPY_CHUNK, &size) < 0 ||
            ic_msg_get_int(m, "crc32", 0, UINT32_MAX, &crc) < 0 ||
            ic_msg_get_str(m, "data", IC_BASE64_LEN(IC_FCOPY_CHUNK), &b64, &b64_len) < 0) {
                fail(v, id, IC_ERR_BAD_MESSAGE, "%s", "data needs seq, offset, size, crc32 and data");
                return;
        }
        if ((uint64_t)seq != f->next_seq || (uint64_t)off != f->written) {
                fail(v, id, IC_ERR_SEQUENCE, "%s", "chunk out of order");
                return;
        }
        if (ic_base64_decode(b64, b64_len, f->chunk, IC_FCOPY_CHUNK, &len) < 0 || len != (size_t)size) {
                fail(v, id, IC_ERR_BAD_MESSAGE, "%s", "data is not base64 of size bytes");
                return;
        }
        if (ic_crc32(0, f->chunk, len) != (uint32_t)crc) {
                fail(v, id, IC_ERR_CHECKSUM, "chunk %lld has a bad CRC-32", (long long)seq);
                return;
        }
        if (f->written + len > f->size) {
                fail(v, id, IC_ERR_TOO_LARGE, "%s", "more data than the announced size");
                return;
        }
        while (done < len) {
                ssize_t n = pwrite(f->fd, f->chunk + done, len - done, (off_t)(f->written + done));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int e = n < 0 ? errno : EIO;

                        vmic_fcopy_abort(v);
                        vmic_error(v, IC_SVC_FCOPY, id, errno_to_ic(e), "writing %s: %s", f->path, strerror(e));
                        return;
                }
                done += (size_t)n;
        }
        f->crc = ic_crc32(f->crc, f->chunk, len);
        f->written += len;
        f->next_seq++;
        vmic_ack(v, IC_SVC_FCOPY, id, seq);
}

static void end(struct vmic *v, const struct ic_msg *m, uint64_t id)
{
        struct vmic_fcopy *f = &v->fc;
        struct ic_writer w;
        int64_t size, crc;

        if (ic_msg_get_int(m, "size", 0, INT64_MAX, &size) < 0 || ic_msg_get_int(m, "crc32", 0, UINT32_MAX, &crc) < 0) {
                fail(v, id, IC_ERR_BAD_MESSAGE, "%s", "end needs size and crc32");
                return;
        }
        if ((uint64_t)size != f->written || f->written != f->size || (uint32_t)crc != f->crc) {
                fail(v, id, IC_ERR_CHECKSUM, "%s: size or CRC-32 of the whole file does not match", f->path);
                return;
        }
        if (fchmod(f->fd, f->mode) < 0 || fsync(f->fd) < 0 || close(f->fd) < 0) {
                int e = errno;

                f->fd = -1;
                vmic_fcopy_abort(v);
                vmic_error(v, IC_SVC_FCOPY, id, errno_to_ic(e), "finishing %s: %s", f->path, strerror(e));
                return;
        }
        f->fd = -1;
        if (rename(f->tmp, f->path) < 0) {
                int e = errno;

                vmic_fcopy_abort(v);
                vmic_error(v, IC_SVC_FCOPY, id, errno_to_ic(e), "renaming into %s: %s", f->path, strerror(e));
                return;
        }
        f->active = false;
        fprintf(stderr, "vmic: received %s (%llu bytes)\n", f->path, (unsigned long long)f->written);
        vmic_begin(v, &w, IC_MSG_DONE);
        ic_writer_int(&w, "id", (int64_t)id);
        ic_writer_int(&w, "size", (int64_t)f->written);
        ic_writer_int(&w, "crc32", f->crc);
        (void)vmic_send(v, IC_SVC_FCOPY, &w);
}

static void stat_file(struct vmic *v, const struct ic_msg *m, uint64_t id)
{
        const char *path;
        struct ic_writer w;
        struct stat st;
        uint32_t crc = 0;
        unsigned code;
        ssize_t n;
        int fd;

        if (ic_msg_get_str(m, "path", IC_FCOPY_PATH_MAX, &path, NULL) < 0) {
                vmic_error(v, IC_SVC_FCOPY, id, IC_ERR_BAD_MESSAGE, "stat needs a path");
                return;
        }
        code = check_path(v, path);
        if (code) {
                vmic_error(v, IC_SVC_FCOPY, id, code, "%s: refused", path);
                return;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                int e = fd < 0 ? errno : EISDIR;

                if (fd >= 0)
                        close(fd);
                vmic_error(v, IC_SVC_FCOPY, id, e == ENOENT ? IC_ERR_NOT_FOUND : errno_to_ic(e), "%s: %s",
                           path, e == EISDIR ? "not a regular file" : strerror(e));
                return;
        }
        while ((n = read(fd, v->fc.chunk, IC_FCOPY_CHUNK)) > 0)
                crc = ic_crc32(crc, v->fc.chunk, (size_t)n);
        close(fd);
        vmic_begin(v, &w, IC_MSG_STAT);
        ic_writer_int(&w, "id", (int64_t)id);
        ic_writer_cstr(&w, "path", path);
        ic_writer_int(&w, "size", (int64_t)st.st_size);
        ic_writer_int(&w, "crc32", crc);
        (void)vmic_send(v, IC_SVC_FCOPY, &w);
}

void vmic_fcopy_message(struct vmic *v, const struct ic_msg *m)
{
        uint64_t id = vmic_msg_id(m);

        if (ic_msg_is(m, IC_MSG_ERROR) || ic_msg_is(m, IC_MSG_ACK))
                return;
        if (!id) {
                vmic_error(v, IC_SVC_FCOPY, 0, IC_ERR_BAD_MESSAGE, "fcopy messages need an id");
                return;
        }
        if (ic_msg_is(m, IC_MSG_START))
                start(v, m, id);
        else if (ic_msg_is(m, IC_MSG_STAT))
                stat_file(v, m, id);
        else if (ic_msg_is(m, IC_MSG_CANCEL)) {
                if (v->fc.active && v->fc.id == id)
                        vmic_fcopy_abort(v);
                vmic_ack(v, IC_SVC_FCOPY, id, -1);
        } else if (ic_msg_is(m, IC_MSG_DATA) || ic_msg_is(m, IC_MSG_END)) {
                if (!v->fc.active || v->fc.id != id) {
                        vmic_error(v, IC_SVC_FCOPY, id, IC_ERR_SEQUENCE, "no transfer in progress");
                        return;
                }
                if (ic_msg_is(m, IC_MSG_DATA))
                        data(v, m, id);
                else
                        end(v, m, id);
        } else {
                vmic_error(v, IC_SVC_FCOPY, id, IC_ERR_UNKNOWN_TYPE, "unknown fcopy message %s", m->type);
        }
}
