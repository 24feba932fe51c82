/* SPDX-License-Identifier: MIT */
/* The saved-state stream (include/vmms/vmstate.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmms/vmstate.h"

struct vmstate_writer {
        int fd;
        int error;
};

struct section {
        char name[VMSTATE_NAME_MAX + 1];
        uint32_t version;
        uint8_t *data;
        size_t len;
        bool claimed;
};

struct vmstate {
        struct section *s;
        size_t n;
};

static void le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static uint64_t get64(const uint8_t *p)
{
        return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int vmstate_writer_new(int fd, struct vmstate_writer **ret)
{
        struct vmstate_writer *w = calloc(1, sizeof(*w));
        uint8_t h[16];
        int r;

        if (!w)
                return -ENOMEM;
        memcpy(h, VMSTATE_MAGIC, 8);
        le32(h + 8, VMSTATE_FORMAT_VERSION);
        le32(h + 12, 0);
        r = loop_write(fd, h, sizeof(h));
        if (r < 0) {
                free(w);
                return r;
        }
        w->fd = fd;
        *ret = w;
        return 0;
}

int vmstate_put(struct vmstate_writer *w, const char *name, uint32_t version, const void *data, size_t len)
{
        size_t nl = strlen(name);
        uint8_t h[2 + VMSTATE_NAME_MAX + 4 + 8], t[4];
        uLong crc;
        int r;

        if (w->error)
                return w->error;
        if (nl == 0 || nl > VMSTATE_NAME_MAX || len > VMSTATE_SECTION_MAX)
                return w->error = -EINVAL;
        le16(h, (uint16_t)nl);
        memcpy(h + 2, name, nl);
        le32(h + 2 + nl, version);
        le64(h + 6 + nl, len);
        crc = crc32(0, h, (uInt)(14 + nl));
        if (len)        /* crc32() of NULL is the initial value, not a no-op */
                crc = crc32(crc, data, (uInt)len);
        le32(t, (uint32_t)crc);
        if ((r = loop_write(w->fd, h, 14 + nl)) < 0 || (len && (r = loop_write(w->fd, data, len)) < 0) ||
            (r = loop_write(w->fd, t, sizeof(t))) < 0)
                return w->error = r;
        return 0;
}

void vmstate_writer_free(struct vmstate_writer *w)
{
        free(w);
}

int vmstate_writer_finish(struct vmstate_writer *w)
{
        int r = vmstate_put(w, "end", 1, NULL, 0);

        vmstate_writer_free(w);
        return r;
}

_printf_(3, 4)
static int rd_error(char *err, size_t len, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Read exactly len bytes; -EPIPE at a clean or early end of the stream. */
static int read_exact(int fd, void *buf, size_t len)
{
        uint8_t *p = buf;

        while (len) {
                ssize_t n = read(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EPIPE;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

void vmstate_free(struct vmstate *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n; i++)
                free(s->s[i].data);
        free(s->s);
        free(s);
}

int vmstate_read(int fd, struct vmstate **ret, char *err, size_t err_len)
{
        struct vmstate *s = calloc(1, sizeof(*s));
        uint8_t h[16];
        int r;

        if (!s)
                return -ENOMEM;
        r = read_exact(fd, h, sizeof(h));
        if (r < 0 || memcmp(h, VMSTATE_MAGIC, 8) != 0) {
                r = r == -EPIPE || r == 0 ? rd_error(err, err_len, "not a vmms saved state (no VMMSSTAT header)") : r;
                goto fail;
        }
        if (get32(h + 8) != VMSTATE_FORMAT_VERSION) {
                r = rd_error(err, err_len, "saved state format version %u; this vmwp reads version %u",
                             get32(h + 8), VMSTATE_FORMAT_VERSION);
                goto fail;
        }
        for (;;) {
                uint8_t b[2 + VMSTATE_NAME_MAX + 12], t[4];
                struct section *sec, *ns;
                char last[VMSTATE_NAME_MAX + 1];        /* a copy: s->s moves on realloc */
                uint16_t nl;
                uLong crc;

                snprintf(last, sizeof(last), "%s", s->n ? s->s[s->n - 1].name : "the header");
                r = read_exact(fd, b, 2);
                if (r == -EPIPE) {
                        r = rd_error(err, err_len, "saved state cut short after section %s (no end section)", last);
                        goto fail;
                }
                if (r < 0)
                        goto fail;
                nl = get16(b);
                if (nl == 0 || nl > VMSTATE_NAME_MAX) {
                        r = rd_error(err, err_len, "saved state damaged after section %s (bad section name)", last);
                        goto fail;
                }
                r = read_exact(fd, b + 2, nl + 12u);
                if (r < 0) {
                        r = r == -EPIPE ? rd_error(err, err_len, "saved state cut short after section %s", last) : r;
                        goto fail;
                }
                if (s->n == VMSTATE_MAX_SECTIONS) {
                        r = rd_error(err, err_len, "saved state has more than %u sections", VMSTATE_MAX_SECTIONS);
                        goto fail;
                }
                ns = realloc(s->s, (s->n + 1) * sizeof(*ns));
                if (!ns) {
                        r = -ENOMEM;
                        goto fail;
                }
                s->s = ns;
                sec = &s->s[s->n];
                *sec = (struct section) { .version = get32(b + 2 + nl) };
                memcpy(sec->name, b + 2, nl);
                sec->name[nl] = 0;
                for (unsigned i = 0; i < nl; i++)
                        if (b[2 + i] < 0x21 || b[2 + i] > 0x7e) {
                                r = rd_error(err, err_len, "saved state damaged after section %s (bad section name)",
                                             last);
                                goto fail;
                        }
                if (get64(b + 6 + nl) > VMSTATE_SECTION_MAX) {
                        r = rd_error(err, err_len, "section %s: %llu bytes, more than a section may hold", sec->name,
                                     (unsigned long long)get64(b + 6 + nl));
                        goto fail;
                }
                sec->len = (size_t)get64(b + 6 + nl);
                sec->data = malloc(MAX(sec->len, (size_t)1));
                if (!sec->data) {
                        r = -ENOMEM;
                        goto fail;
                }
                s->n++;
                r = read_exact(fd, sec->data, sec->len);
                if (r == 0)
                        r = read_exact(fd, t, sizeof(t));
                if (r < 0) {
                        r = r == -EPIPE ? rd_error(err, err_len, "section %s is cut short", sec->name) : r;
                        goto fail;
                }
                crc = crc32(0, b, (uInt)(14 + nl));
                if (sec->len)
                        crc = crc32(crc, sec->data, (uInt)sec->len);
                if ((uint32_t)crc != get32(t)) {
                        r = rd_error(err, err_len, "section %s is damaged (checksum mismatch)", sec->name);
                        goto fail;
                }
                for (size_t i = 0; i + 1 < s->n; i++)
                        if (strcmp(s->s[i].name, sec->name) == 0) {
                                r = rd_error(err, err_len, "section %s appears twice", sec->name);
                                goto fail;
                        }
                if (strcmp(sec->name, "end") == 0) {
                        sec->claimed = true;
                        break;
                }
        }
        *ret = s;
        return 0;
fail:
        vmstate_free(s);
        return r;
}

int vmstate_get(struct vmstate *s, const char *name, uint32_t *ret_version, const void **ret_data, size_t *ret_len)
{
        for (size_t i = 0; i < s->n; i++) {
                if (strcmp(s->s[i].name, name) != 0)
                        continue;
                s->s[i].claimed = true;
                if (ret_version)
                        *ret_version = s->s[i].version;
                *ret_data = s->s[i].data;
                if (ret_len)
                        *ret_len = s->s[i].len;
                return 0;
        }
        *ret_data = NULL;
        return -ENOENT;
}

const char *vmstate_unclaimed_except(const struct vmstate *s, const char *prefix1, const char *prefix2)
{
        for (size_t i = 0; i < s->n; i++) {
                const char *n = s->s[i].name;

                if (s->s[i].claimed || (prefix1 && string_has_prefix(n, prefix1)) ||
                    (prefix2 && string_has_prefix(n, prefix2)))
                        continue;
                return n;
        }
        return NULL;
}

const char *vmstate_unclaimed(const struct vmstate *s)
{
        return vmstate_unclaimed_except(s, NULL, NULL);
}
