/* SPDX-License-Identifier: MIT */
/*
 * A virtual disk's configuration, shared by vmwp's command line, vmctl and the VM's JSON
 * document (keys path, readonly, cache, queues, serial):
 *
 *   PATH[,ro][,cache=none|writeback][,queues=N][,serial=S][,fd=N]
 *
 * A comma inside PATH or S is written twice (",,"). fd=N hands over an image that is
 * already open (vmms opens images and passes them to the worker); PATH then only names it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define DISK_SERIAL_MAX  20u     /* virtio-blk GET_ID returns 20 bytes */
#define DISK_QUEUES_MAX  64u

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

const char *disk_cache_to_string(enum disk_cache c);
