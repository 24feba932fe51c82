/* SPDX-License-Identifier: MIT */
/*
 * File copy into the guest kernel's in-memory file table: each file is a region of one
 * arena (first fit). A copy goes into a new region and replaces the old file only when the
 * whole file's CRC-32 matched, so a failed copy leaves the previous version. /proc, /sys and
 * /dev are refused: that is how the host sees a guest refuse a path.
 */
#include "kernel/ic.h"
#include "kernel/kernel.h"
#include "kernel/report.h"

static const char *const readonly_dirs[] = { "/proc", "/sys", "/dev" };

int guest_ic_fcopy_init(struct guest_ic *ic)
{
        uint64_t def = MIN(guest_mem_mib() / 4, 64ull);
        uint64_t mib = guest_cmdline_get_u64("ic_fcopy_mib", def);

        ic->arena_size = mib << 20;
        if (!ic->arena_size)
                return 0;
        ic->arena = (uint8_t *)(uintptr_t)guest_page_alloc(ic->arena_size, GUEST_PAGE_SIZE);
        if (!ic->arena) {
                guest_printf("vmguest: no room for %llu MiB of copied files\n", (unsigned long long)mib);
                ic->arena_size = 0;
        }
        return 0;
}

const struct guest_ic_file *guest_ic_file_find(struct guest_ic *ic, const char *path)
{
        for (unsigned i = 0; i < GUEST_IC_FILES; i++)
                if (ic->files[i].used && guest_strcmp(ic->files[i].path, path) == 0)
                        return &ic->files[i];
        return NULL;
}

/* The lowest gap of size bytes between the files (and the one being received). */
static bool arena_fit(struct guest_ic *ic, uint64_t size, uint64_t *ret)
{
        uint64_t at = 0;

        for (;;) {
                bool moved = false;

                if (at + size > ic->arena_size)
                        return false;
                for (unsigned i = 0; i < GUEST_IC_FILES; i++) {
                        const struct guest_ic_file *f = &ic->files[i];

                        if (f->used && at < f->off + f->cap && f->off < at + size) {
                                at = f->off + f->cap;
                                moved = true;
                        }
                }
                if (!moved) {
                        *ret = at;
                        return true;
                }
        }
}

static unsigned path_check(const char *path)
{
        size_t n = guest_strlen(path);

        if (path[0] != '/')
                return IC_ERR_INVALID_PATH;
        for (const char *c = path; *c;) {
                const char *s = c;

                while (*c && *c != '/')
                        c++;
                if ((c - s == 1 && s[0] == '.') || (c - s == 2 && s[0] == '.' && s[1] == '.'))
                        return IC_ERR_INVALID_PATH;
                if (*c)
                        c++;
        }
        if (path[n - 1] == '/')
                return IC_ERR_INVALID_PATH;
        for (size_t i = 0; i < ARRAY_SIZE(readonly_dirs); i++) {
                size_t l = guest_strlen(readonly_dirs[i]);

                if (guest_strncmp(path, readonly_dirs[i], l) == 0 && (path[l] == '/' || !path[l]))
                        return IC_ERR_ACCESS;
        }
        return 0;
}

static void reply(struct guest_ic *ic, struct ic_writer *w)
{
        (void)guest_ic_send(ic, IC_SVC_FCOPY, w);
}

static void ack(struct guest_ic *ic, uint64_t id, int64_t seq)
{
        struct ic_writer w;

        guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_ACK);
        guest_ic_add_int(&w, "id", (int64_t)id);
        if (seq >= 0)
                guest_ic_add_int(&w, "seq", seq);
        reply(ic, &w);
}

static void fail(struct guest_ic *ic, uint64_t id, unsigned code, const char *msg)
{
        ic->fc.active = false;
        guest_ic_reply_error(ic, IC_SVC_FCOPY, id, code, msg);
}

static void start(struct guest_ic *ic, const struct ic_msg *m, uint64_t id)
{
        const char *path;
        int64_t size;
        bool overwrite = false;
        uint64_t off;
        unsigned code;
        char msg[160];

        ic->fc.active = false;          /* a new start ends an abandoned copy */
        if (!guest_ic_str(m, "path", IC_FCOPY_PATH_MAX, &path, NULL) || !guest_ic_int(m, "size", 0, INT64_MAX, &size)) {
                fail(ic, id, IC_ERR_BAD_MESSAGE, "start needs a path and a size");
                return;
        }
        (void)guest_ic_bool(m, "overwrite", &overwrite);
        code = path_check(path);
        if (code) {
                guest_snprintf(msg, sizeof(msg), code == IC_ERR_ACCESS ? "%.100s: read-only in vmguest" :
                               "%.100s: not an absolute file path without . or ..", path);
                fail(ic, id, code, msg);
                return;
        }
        if (!overwrite && guest_ic_file_find(ic, path)) {
                fail(ic, id, IC_ERR_EXISTS, "the file exists");
                return;
        }
        if (!arena_fit(ic, (uint64_t)size ? (uint64_t)size : 1, &off)) {
                guest_snprintf(msg, sizeof(msg), "vmguest holds %llu MiB of copied files (ic_fcopy_mib=)",
                               (unsigned long long)(ic->arena_size >> 20));
                fail(ic, id, IC_ERR_NO_SPACE, msg);
                return;
        }
        ic->fc.active = true;
        ic->fc.id = id;
        ic->fc.next_seq = 0;
        ic->fc.f = (struct guest_ic_file){ .off = off, .cap = (uint64_t)size ? (uint64_t)size : 1 };
        guest_strlcpy(ic->fc.f.path, path, sizeof(ic->fc.f.path));
        ic->fc.f.size = 0;              /* bytes received so far */
        ic->fc.f.crc = 0;
        ack(ic, id, -1);
}

static void data(struct guest_ic *ic, const struct ic_msg *m, uint64_t id)
{
        struct guest_ic_file *f = &ic->fc.f;
        int64_t seq, off, size, crc;
        const char *b64;
        size_t b64_len, len;
        uint8_t *dst;

        if (!guest_ic_int(m, "seq", 0, INT64_MAX, &seq) || !guest_ic_int(m, "offset", 0, INT64_MAX, &off) ||
            !guest_ic_int(m, "size", 0, IC_FCOPY_CHUNK, &size) || !guest_ic_int(m, "crc32", 0, UINT32_MAX, &crc) ||
            !guest_ic_str(m, "data", IC_BASE64_LEN(IC_FCOPY_CHUNK), &b64, &b64_len)) {
                fail(ic, id, IC_ERR_BAD_MESSAGE, "data needs seq, offset, size, crc32 and data");
                return;
        }
        if ((uint64_t)seq != ic->fc.next_seq || (uint64_t)off != f->size) {
                fail(ic, id, IC_ERR_SEQUENCE, "chunk out of order");
                return;
        }
        if (f->size + (uint64_t)size > f->cap) {
                fail(ic, id, IC_ERR_TOO_LARGE, "more data than the announced size");
                return;
        }
        dst = ic->arena + f->off + f->size;
        if (guest_ic_base64_decode(b64, b64_len, dst, f->cap - f->size, &len) < 0 || len != (size_t)size) {
                fail(ic, id, IC_ERR_BAD_MESSAGE, "data is not base64 of size bytes");
                return;
        }
        if (ic_crc32(0, dst, len) != (uint32_t)crc) {
                fail(ic, id, IC_ERR_CHECKSUM, "a chunk's CRC-32 does not match");
                return;
        }
        f->crc = ic_crc32(f->crc, dst, len);
        f->size += len;
        ic->fc.next_seq++;
        ack(ic, id, seq);
}

static void end(struct guest_ic *ic, const struct ic_msg *m, uint64_t id)
{
        struct guest_ic_file *f = &ic->fc.f, *slot = NULL;
        struct ic_writer w;
        int64_t size, crc;

        if (!guest_ic_int(m, "size", 0, INT64_MAX, &size) || !guest_ic_int(m, "crc32", 0, UINT32_MAX, &crc)) {
                fail(ic, id, IC_ERR_BAD_MESSAGE, "end needs size and crc32");
                return;
        }
        if ((uint64_t)size != f->size || (uint32_t)crc != f->crc) {
                fail(ic, id, IC_ERR_CHECKSUM, "size or CRC-32 of the whole file does not match");
                return;
        }
        /* Replace the old version, or take a free slot. */
        for (unsigned i = 0; i < GUEST_IC_FILES; i++)
                if (ic->files[i].used && guest_strcmp(ic->files[i].path, f->path) == 0)
                        slot = &ic->files[i];
        for (unsigned i = 0; i < GUEST_IC_FILES && !slot; i++)
                if (!ic->files[i].used)
                        slot = &ic->files[i];
        if (!slot) {
                fail(ic, id, IC_ERR_NO_SPACE, "vmguest holds 16 copied files");
                return;
        }
        *slot = *f;
        slot->used = true;
        ic->fc.active = false;
        guest_report_info("ic_fcopy path=%s size=%llu crc32=%08x", slot->path, (unsigned long long)slot->size,
                          slot->crc);
        guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_DONE);
        guest_ic_add_int(&w, "id", (int64_t)id);
        guest_ic_add_int(&w, "size", (int64_t)slot->size);
        guest_ic_add_int(&w, "crc32", slot->crc);
        reply(ic, &w);
}

static void stat(struct guest_ic *ic, const struct ic_msg *m, uint64_t id)
{
        const struct guest_ic_file *f;
        struct ic_writer w;
        const char *path;

        if (!guest_ic_str(m, "path", IC_FCOPY_PATH_MAX, &path, NULL)) {
                guest_ic_reply_error(ic, IC_SVC_FCOPY, id, IC_ERR_BAD_MESSAGE, "stat needs a path");
                return;
        }
        f = guest_ic_file_find(ic, path);
        if (!f) {
                guest_ic_reply_error(ic, IC_SVC_FCOPY, id, IC_ERR_NOT_FOUND, "no such file");
                return;
        }
        guest_ic_begin(&w, ic->out, IC_LINE_MAX, IC_MSG_STAT);
        guest_ic_add_int(&w, "id", (int64_t)id);
        guest_ic_add_cstr(&w, "path", f->path);
        guest_ic_add_int(&w, "size", (int64_t)f->size);
        /* Computed again over the stored bytes: this is the check of a copy, not its claim. */
        guest_ic_add_int(&w, "crc32", ic_crc32(0, ic->arena + f->off, f->size));
        reply(ic, &w);
}

void guest_ic_fcopy_message(struct guest_ic *ic, const struct ic_msg *m)
{
        int64_t id = 0;

        if (guest_ic_is(m, IC_MSG_ERROR) || guest_ic_is(m, IC_MSG_ACK))
                return;
        if (!guest_ic_int(m, "id", 1, INT64_MAX, &id)) {
                guest_ic_reply_error(ic, IC_SVC_FCOPY, 0, IC_ERR_BAD_MESSAGE, "fcopy messages need an id");
                return;
        }
        if (guest_ic_is(m, IC_MSG_START)) {
                start(ic, m, (uint64_t)id);
        } else if (guest_ic_is(m, IC_MSG_STAT)) {
                stat(ic, m, (uint64_t)id);
        } else if (guest_ic_is(m, IC_MSG_CANCEL)) {
                if (ic->fc.active && ic->fc.id == (uint64_t)id)
                        ic->fc.active = false;
                ack(ic, (uint64_t)id, -1);
        } else if (guest_ic_is(m, IC_MSG_DATA) || guest_ic_is(m, IC_MSG_END)) {
                if (!ic->fc.active || ic->fc.id != (uint64_t)id)
                        guest_ic_reply_error(ic, IC_SVC_FCOPY, (uint64_t)id, IC_ERR_SEQUENCE, "no transfer in progress");
                else if (guest_ic_is(m, IC_MSG_DATA))
                        data(ic, m, (uint64_t)id);
                else
                        end(ic, m, (uint64_t)id);
        } else {
                guest_ic_reply_error(ic, IC_SVC_FCOPY, (uint64_t)id, IC_ERR_UNKNOWN_TYPE, "unknown fcopy message");
        }
}
