/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

uint64_t now_usec(clockid_t clock);

/* "512M", "1G", "64MiB", "4096K", "1048576" (bytes). Units are binary. */
int parse_size(const char *s, uint64_t *ret_bytes);
/* A size for humans: "512 MiB", "1.5 GiB". */
const char *format_size(char *buf, size_t len, uint64_t bytes);
int safe_atou64(const char *s, uint64_t *ret);
int safe_atou(const char *s, unsigned *ret);

/* Read a whole (regular) file, at most max_size bytes; -EFBIG when larger. */
int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size);
int read_full_fd(int fd, size_t max_size, char **ret_data, size_t *ret_size);
/* Write all of buf, retrying on EINTR and short writes. */
int loop_write(int fd, const void *buf, size_t len);
/* pread exactly len bytes or fail with -EIO (short file). */
int pread_full(int fd, void *buf, size_t len, off_t off);
/* pread up to len bytes, stopping only at the end of the file: bytes read, or -errno. */
ssize_t pread_upto(int fd, void *buf, size_t len, off_t off);
/* pwrite all of buf, or -errno (-EIO when nothing could be written). */
int pwrite_full(int fd, const void *buf, size_t len, off_t off);

bool string_has_prefix(const char *s, const char *prefix);
/* Names of VMs, switches: [A-Za-z0-9._-]{1,64}, not "." or "..". */
bool name_is_valid(const char *s);

int fd_set_nonblock(int fd, bool nonblock);

/* Create the directories above path (not path itself) with mode; existing ones are fine. */
int mkdir_parents(const char *path, mode_t mode);
/* The same with the parents 0755, then path itself with mode. */
int mkdir_p(const char *path, mode_t mode);

/*
 * Open /dev/kvm read-write. When it cannot be, ret_why (if given) gets one line for an
 * operator that names the cause and the way out: on a host without hardware virtualisation
 * that a source checkout can still run VMs in a nested VM (scripts/nested-kvm).
 */
int kvm_open(char *ret_why, size_t why_len);

/*
 * Open an image (kernel, initrd, disk) as what it must be: path is looked up O_PATH (below
 * dirfd with openat2's `resolve` flags, e.g. RESOLVE_BENEATH; AT_FDCWD and 0 for a plain
 * path), and only a regular file or block device is then opened with flags, through that
 * same inode. A FIFO, socket, directory or character device is refused with -EBADFD and
 * never waited on; *ret_kind (optional) then names what it is ("a FIFO", ...).
 */
int image_open_at(int dirfd, const char *path, int flags, uint64_t resolve, const char **ret_kind);
/* The same check for an fd opened elsewhere. */
int image_check_fd(int fd, const char **ret_kind);
