/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/macro.h"
#include "vmms/util.h"

uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int safe_atou64(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!s || !isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atou(const char *s, unsigned *ret)
{
        uint64_t v;
        int r = safe_atou64(s, &v);

        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (unsigned)v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret_bytes)
{
        static const struct { const char *suffix; uint64_t factor; } units[] = {
                { "",    1 },
                { "B",   1 },
                { "K",   KIB }, { "KiB", KIB }, { "k", KIB },
                { "M",   MIB }, { "MiB", MIB },
                { "G",   GIB }, { "GiB", GIB },
                { "T",   GIB * 1024 }, { "TiB", GIB * 1024 },
        };
        char *end;
        unsigned long long v;

        if (!s || !isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        while (*end == ' ')
                end++;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                if (strcmp(end, units[i].suffix) != 0)
                        continue;
                if (v > UINT64_MAX / units[i].factor)
                        return -ERANGE;
                *ret_bytes = v * units[i].factor;
                return 0;
        }
        return -EINVAL;
}

const char *format_size(char *buf, size_t len, uint64_t bytes)
{
        static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        unsigned i = 0;
        uint64_t div = 1;

        while (i + 1 < ARRAY_SIZE(names) && bytes >= div * 1024) {
                div *= 1024;
                i++;
        }
        if (bytes % div == 0)
                snprintf(buf, len, "%" PRIu64 " %s", bytes / div, names[i]);
        else
                snprintf(buf, len, "%.1f %s", (double)bytes / (double)div, names[i]);
        return buf;
}

int read_full_fd(int fd, size_t max_size, char **ret_data, size_t *ret_size)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                ssize_t n;

                if (alloc - size < 4096) {
                        size_t want = alloc ? alloc * 2 : 65536;
                        char *p;

                        if (want > max_size + 1)
                                want = max_size + 1;
                        if (want <= size)
                                return -EFBIG;
                        p = realloc(buf, want + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        alloc = want;
                }
                n = read(fd, buf + size, alloc - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t)n;
                if (size > max_size)
                        return -EFBIG;
        }
        buf[size] = 0;
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size)
{
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = image_open_at(AT_FDCWD, path, O_RDONLY, 0, NULL);
        if (fd < 0)
                return fd == -EBADFD && stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? -EISDIR : fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_size)
                return -EFBIG;
        return read_full_fd(fd, max_size, ret_data, ret_size);
}

/* Write all of buf: at off with pwrite, or (off < 0) at the file position with write. */
static int write_all(int fd, const void *buf, size_t len, off_t off)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
                if (off >= 0)
                        off += n;
        }
        return 0;
}

int loop_write(int fd, const void *buf, size_t len)
{
        return write_all(fd, buf, len, -1);
}

ssize_t pread_upto(int fd, void *buf, size_t len, off_t off)
{
        char *p = buf;
        size_t done = 0;

        while (done < len) {
                ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t)n;
        }
        return (ssize_t)done;
}

int pread_full(int fd, void *buf, size_t len, off_t off)
{
        ssize_t n = pread_upto(fd, buf, len, off);

        if (n < 0)
                return (int)n;
        return (size_t)n == len ? 0 : -EIO;
}

int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
        return off < 0 ? -EINVAL : write_all(fd, buf, len, off);
}

bool string_has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool name_is_valid(const char *s)
{
        size_t n = 0;

        if (!s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (; s[n]; n++)
                if (!isalnum((unsigned char)s[n]) && !strchr("._-", s[n]))
                        return false;
        return n >= 1 && n <= 64;
}

int fd_set_nonblock(int fd, bool nonblock)
{
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0)
                return -errno;
        flags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
        if (fcntl(fd, F_SETFL, flags) < 0)
                return -errno;
        return 0;
}

int mkdir_parents(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
        int r = mkdir_parents(path, 0755);

        if (r < 0)
                return r;
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int kvm_open(char *ret_why, size_t why_len)
{
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        int r = -errno;

        if (fd >= 0)
                return fd;
        if (!ret_why)
                return r;
        if (r == -ENOENT || r == -ENODEV || r == -ENXIO)
                snprintf(ret_why, why_len,
                         "this host has no /dev/kvm: it offers no hardware virtualisation (VT-x/AMD-V, or "
                         "a loaded kvm module). From a source checkout VMs still run, slowly, in a nested VM "
                         "with emulated AMD-V: scripts/nested-kvm -- COMMAND, e.g. "
                         "scripts/nested-kvm -- build/src/vmctl/vmctl demo");
        else if (r == -EACCES || r == -EPERM)
                snprintf(ret_why, why_len, "cannot open /dev/kvm: %s (run as root, or as a member of "
                         "the group that owns /dev/kvm)", strerror(-r));
        else
                snprintf(ret_why, why_len, "cannot open /dev/kvm: %s", strerror(-r));
        return r;
}

static const char *file_kind(mode_t mode)
{
        switch (mode & S_IFMT) {
        case S_IFREG: return "a regular file";
        case S_IFBLK: return "a block device";
        case S_IFDIR: return "a directory";
        case S_IFIFO: return "a FIFO";
        case S_IFSOCK: return "a socket";
        case S_IFCHR: return "a character device";
        case S_IFLNK: return "a symbolic link";
        default: return "not a file";
        }
}

int image_check_fd(int fd, const char **ret_kind)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
                return 0;
        if (ret_kind)
                *ret_kind = file_kind(st.st_mode);
        return -EBADFD;
}

int image_open_at(int dirfd, const char *path, int flags, uint64_t resolve, const char **ret_kind)
{
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = resolve };
        _cleanup_close_ int pfd = -1, fd = -1;
        struct stat a, b;
        char proc[64];
        int r;

        pfd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (pfd < 0)
                return -errno;
        r = image_check_fd(pfd, ret_kind);
        if (r < 0)
                return r;
        /* The same inode, whatever the name points to by now: through /proc where there is
         * one; else (a cage without /proc) by name, never waiting, and compared. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
        fd = open(proc, (flags & ~O_CREAT) | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0 || (errno != ENOENT && errno != ENOTDIR))
                return fd >= 0 ? TAKE_FD(fd) : -errno;
        how.flags = (uint64_t)((flags & ~O_CREAT) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        if (fstat(pfd, &a) < 0 || fstat(fd, &b) < 0)
                return -errno;
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                return -ESTALE;         /* replaced between the two looks */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
                return -errno;
        return TAKE_FD(fd);
}
