/* SPDX-License-Identifier: MIT */
/*
 * The integration services' line format (vmms-ic(7)) for the guest kernel: a parser for one
 * flat JSON object per line (strings decoded in place), a bounded writer and base64. No
 * allocation; the host's lines are checked like any input.
 */
#pragma once

#include <abi/ic.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum guest_ic_type {
        GUEST_IC_STRING,
        GUEST_IC_INT,
        GUEST_IC_BOOL,
        GUEST_IC_NULL,
};

struct guest_ic_value {
        enum guest_ic_type type;
        const char *s;          /* NUL-terminated, in the line */
        size_t len;
        int64_t i;
        bool b;
};

struct guest_ic_msg {
        unsigned n;
        struct {
                const char *name;
                struct guest_ic_value v;
        } m[IC_MSG_MEMBERS_MAX];
        const char *type;
};

/* 0, or -EBADMSG for anything but a flat object with a "type" string. Modifies line. */
int guest_ic_parse(char *line, size_t len, struct guest_ic_msg *ret);
bool guest_ic_is(const struct guest_ic_msg *m, const char *type);
/* false when absent or of another type (or a string longer than max). */
bool guest_ic_str(const struct guest_ic_msg *m, const char *name, size_t max, const char **ret, size_t *ret_len);
bool guest_ic_int(const struct guest_ic_msg *m, const char *name, int64_t min, int64_t max, int64_t *ret);
bool guest_ic_bool(const struct guest_ic_msg *m, const char *name, bool *ret);

struct guest_ic_writer {
        char *buf;
        size_t cap, len;
        bool overflow;
};

void guest_ic_begin(struct guest_ic_writer *w, char *buf, size_t cap, const char *type);
void guest_ic_add_str(struct guest_ic_writer *w, const char *name, const char *s, size_t len);
void guest_ic_add_cstr(struct guest_ic_writer *w, const char *name, const char *s);
void guest_ic_add_int(struct guest_ic_writer *w, const char *name, int64_t v);
void guest_ic_add_bool(struct guest_ic_writer *w, const char *name, bool v);
/* The finished line's length ("}\n" included), or -E2BIG. */
int guest_ic_end(struct guest_ic_writer *w);

/* Exact RFC 4648 base64 decoding; -EBADMSG, -E2BIG over cap. */
int guest_ic_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len);
