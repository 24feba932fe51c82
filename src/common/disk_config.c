/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/cleanup.h"
#include "vmms/disk.h"
#include "vmms/macro.h"
#include "vmms/util.h"

void disk_config_init(struct disk_config *c)
{
        *c = (struct disk_config) { .fd = -1, .cache = DISK_CACHE_WRITEBACK, .queues = 1, .format = DISK_FORMAT_RAW };
}

void disk_config_done(struct disk_config *c)
{
        free(c->path);
        c->path = NULL;
}

_printf_(3, 4)
static int disk_error(char *err, size_t err_len, const char *fmt, ...)
{
        va_list ap;

        if (err && err_len > 0) {
                va_start(ap, fmt);
                vsnprintf(err, err_len, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

const char *disk_cache_to_string(enum disk_cache c)
{
        return c == DISK_CACHE_NONE ? "none" : "writeback";
}

const char *disk_format_to_string(enum disk_format f)
{
        return f == DISK_FORMAT_QCOW2 ? "qcow2" : "raw";
}

int disk_config_set_format(struct disk_config *c, const char *s, char *err, size_t err_len)
{
        if (strcmp(s, "raw") == 0)
                c->format = DISK_FORMAT_RAW;
        else if (strcmp(s, "qcow2") == 0)
                c->format = DISK_FORMAT_QCOW2;
        else
                return disk_error(err, err_len, "format: '%s' is neither 'raw' nor 'qcow2'", s);
        c->format_set = true;
        return 0;
}

int disk_config_set_metadata_cache(struct disk_config *c, const char *s, char *err, size_t err_len)
{
        uint64_t v;

        if (parse_size(s, &v) < 0 || v > INT64_MAX)
                return disk_error(err, err_len, "metadata-cache: '%s' is not a size (e.g. 4M, 1G)", s);
        c->metadata_cache = v;
        return 0;
}

int disk_config_set_cache(struct disk_config *c, const char *s, char *err, size_t err_len)
{
        if (strcmp(s, "none") == 0)
                c->cache = DISK_CACHE_NONE;
        else if (strcmp(s, "writeback") == 0)
                c->cache = DISK_CACHE_WRITEBACK;
        else
                return disk_error(err, err_len, "cache: '%s' is neither 'none' nor 'writeback'", s);
        return 0;
}

int disk_config_set_queues(struct disk_config *c, unsigned long long n, char *err, size_t err_len)
{
        if (n < 1 || n > DISK_QUEUES_MAX)
                return disk_error(err, err_len, "queues: %llu is outside 1..%u", n, DISK_QUEUES_MAX);
        c->queues = (unsigned)n;
        return 0;
}

int disk_config_set_serial(struct disk_config *c, const char *s, char *err, size_t err_len)
{
        size_t n = strlen(s);

        if (n > DISK_SERIAL_MAX)
                return disk_error(err, err_len, "serial: '%s' is longer than %u bytes", s, DISK_SERIAL_MAX);
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 || s[i] > 0x7e)
                        return disk_error(err, err_len, "serial: only printable ASCII is allowed");
        memcpy(c->serial, s, n + 1);
        return 0;
}

/* Split off the next comma-separated item, turning ",," into ",". NULL at the end. */
static char *next_item(char **p)
{
        char *start = *p, *r, *w;

        if (!start)
                return NULL;
        for (r = w = start; *r; r++, w++) {
                if (*r == ',' && r[1] == ',')
                        r++;
                else if (*r == ',')
                        break;
                *w = *r;
        }
        *p = *r ? r + 1 : NULL;
        *w = 0;
        return start;
}

int disk_config_parse(const char *s, char *err, size_t err_len, struct disk_config *ret)
{
        _cleanup_free_ char *copy = NULL;
        struct disk_config c;
        char *p, *item;
        int r;

        disk_config_init(&c);
        if (!s || !*s)
                return disk_error(err, err_len, "empty disk specification");
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        p = copy;
        item = next_item(&p);
        if (!*item)
                return disk_error(err, err_len, "disk path is empty");
        c.path = strdup(item);
        if (!c.path)
                return -ENOMEM;

        while ((item = next_item(&p))) {
                char *val = strchr(item, '=');
                unsigned long long n;

                if (val)
                        *val++ = 0;
                if (strcmp(item, "ro") == 0 && !val) {
                        c.readonly = true;
                        r = 0;
                } else if (strcmp(item, "cache") == 0 && val) {
                        r = disk_config_set_cache(&c, val, err, err_len);
                } else if (strcmp(item, "format") == 0 && val) {
                        r = disk_config_set_format(&c, val, err, err_len);
                } else if (strcmp(item, "metadata-cache") == 0 && val) {
                        r = disk_config_set_metadata_cache(&c, val, err, err_len);
                } else if (strcmp(item, "queues") == 0 && val) {
                        uint64_t v;

                        r = safe_atou64(val, &v);
                        n = r < 0 ? 0 : v;
                        r = r < 0 ? disk_error(err, err_len, "queues: '%s' is not a number", val)
                                  : disk_config_set_queues(&c, n, err, err_len);
                } else if (strcmp(item, "serial") == 0 && val) {
                        r = disk_config_set_serial(&c, val, err, err_len);
                } else if (strcmp(item, "fd") == 0 && val) {
                        unsigned fd;

                        r = safe_atou(val, &fd);
                        if (r < 0 || fd > INT32_MAX)
                                r = disk_error(err, err_len, "fd: '%s' is not a file descriptor number", val);
                        else
                                c.fd = (int)fd;
                } else if (strcmp(item, "ro") == 0) {
                        r = disk_error(err, err_len, "ro: takes no value");
                } else if (!val && (strcmp(item, "cache") == 0 || strcmp(item, "queues") == 0 ||
                                    strcmp(item, "format") == 0 || strcmp(item, "serial") == 0 ||
                                    strcmp(item, "metadata-cache") == 0 || strcmp(item, "fd") == 0)) {
                        r = disk_error(err, err_len, "%s: needs a value (%s=...)", item, item);
                } else {
                        r = disk_error(err, err_len, "unknown disk option '%s' (known: format, ro, cache, queues, serial, "
                                       "metadata-cache, fd)", item);
                }
                if (r < 0) {
                        disk_config_done(&c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}
