/* SPDX-License-Identifier: MIT */
/*
 * A virtual disk's configuration, shared by vmwp's command line, vmctl and the VM's JSON
 * document (keys path, format, readonly, cache, queues, serial, metadata_cache):
 *
 *   PATH[,format=raw|qcow2][,ro][,cache=none|writeback][,queues=N][,serial=S]
 *       [,metadata-cache=SIZE][,fd=N]
 *
 * A comma inside PATH or S is written twice (",,"). fd=N hands over an image that is
 * already open (vmms opens images and passes them to the worker); PATH then only names it.
 * The format is configuration, never guessed by the worker from the image's (guest-
 * writable) contents; it defaults to raw. A qcow2 image's backing chain is opened
 * read-only: by vmms, which passes the fds in order (backing_fds), or, when a worker runs
 * on its own with a path, by the worker relative to the image's directory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_SERIAL_MAX  20u     /* virtio-blk GET_ID returns 20 bytes */
#define DISK_QUEUES_MAX  64u

#define DISK_CHAIN_MAX   15u     /* backing files below one image (QCOW2_CHAIN_MAX - 1) */

enum disk_format {
        DISK_FORMAT_RAW,
        DISK_FORMAT_QCOW2,
};

enum disk_cache {
        DISK_CACHE_WRITEBACK,   /* page cache; flush = fdatasync (the default) */
        DISK_CACHE_NONE,        /* O_DIRECT; flush = fdatasync */
};

struct disk_config {
        char *path;
        int fd;                 /* -1: open path */
        bool readonly;
        enum disk_cache cache;
        unsigned queues;        /* 1..DISK_QUEUES_MAX */
        char serial[DISK_SERIAL_MAX + 1];
        enum disk_format format;
        bool format_set;                        /* given, not the default: vm.create probes otherwise */
        int backing_fds[DISK_CHAIN_MAX];        /* the chain below the image, nearest first */
        unsigned n_backing_fds;                 /* 0: open the chain by name (path mode) */
        uint64_t metadata_cache;                /* qcow2 L2 cache cap in bytes; 0: default */
};

/* Defaults: no path, fd -1, read-write, cache=writeback, one queue, empty serial. */
void disk_config_init(struct disk_config *c);
/* Frees the path; does not close fd (whoever passed it owns it). */
void disk_config_done(struct disk_config *c);

/*
 * Parse the command-line syntax into *ret (initialised here). On failure returns -EINVAL
 * (or -ENOMEM) and writes a message that names the bad option to err.
 */
int disk_config_parse(const char *s, char *err, size_t err_len, struct disk_config *ret);

/* Field checks shared with the JSON reader; same messages. */
int disk_config_set_cache(struct disk_config *c, const char *s, char *err, size_t err_len);
int disk_config_set_queues(struct disk_config *c, unsigned long long n, char *err, size_t err_len);
int disk_config_set_serial(struct disk_config *c, const char *s, char *err, size_t err_len);

int disk_config_set_format(struct disk_config *c, const char *s, char *err, size_t err_len);
/* "16M", "1G", bytes (parse_size()); 0 is the default. */
int disk_config_set_metadata_cache(struct disk_config *c, const char *s, char *err, size_t err_len);

const char *disk_cache_to_string(enum disk_cache c);
const char *disk_format_to_string(enum disk_format f);
