/* SPDX-License-Identifier: MIT */
/*
 * The integration services' line format (vmms-ic(7)) for the guest kernel: the host's own
 * codec (src/abi/ic_msg.c, built freestanding into this kernel), under the names and
 * boolean returns the guest's services use. One parser and writer for both sides, so what
 * the host's fuzzer covers is what the guest accepts.
 */
#pragma once

#include <abi/ic_msg.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0, or a negative code for anything but a flat object with a "type" string. Modifies line. */
static inline int guest_ic_parse(char *line, size_t len, struct ic_msg *ret)
{
        return ic_msg_parse(line, len, ret);
}

static inline bool guest_ic_is(const struct ic_msg *m, const char *type)
{
        return ic_msg_is(m, type);
}

/* false when absent or of another type (or a string longer than max). */
static inline bool guest_ic_str(const struct ic_msg *m, const char *name, size_t max, const char **ret,
                                size_t *ret_len)
{
        return ic_msg_get_str(m, name, max, ret, ret_len) == 0;
}

static inline bool guest_ic_int(const struct ic_msg *m, const char *name, int64_t min, int64_t max,
                                int64_t *ret)
{
        return ic_msg_get_int(m, name, min, max, ret) == 0;
}

static inline bool guest_ic_bool(const struct ic_msg *m, const char *name, bool *ret)
{
        return ic_msg_get_bool(m, name, ret) == 0;
}

static inline void guest_ic_begin(struct ic_writer *w, char *buf, size_t cap, const char *type)
{
        ic_writer_begin(w, buf, cap, type);
}

static inline void guest_ic_add_str(struct ic_writer *w, const char *name, const char *s, size_t len)
{
        ic_writer_str(w, name, s, len);
}

static inline void guest_ic_add_cstr(struct ic_writer *w, const char *name, const char *s)
{
        ic_writer_cstr(w, name, s);
}

static inline void guest_ic_add_int(struct ic_writer *w, const char *name, int64_t v)
{
        ic_writer_int(w, name, v);
}

static inline void guest_ic_add_bool(struct ic_writer *w, const char *name, bool v)
{
        ic_writer_bool(w, name, v);
}

/* The finished line's length ("}\n" included), or a negative code when it did not fit. */
static inline int guest_ic_end(struct ic_writer *w)
{
        return ic_writer_end(w);
}

/* Exact RFC 4648 base64 decoding; a negative code for bad input or more than cap bytes. */
static inline int guest_ic_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len)
{
        return ic_base64_decode(in, n, out, cap, ret_len);
}
