/* SPDX-License-Identifier: MIT */
/*
 * The integration services' line format (vmms-ic(7)): a strict parser for one flat JSON
 * object per line, a bounded writer, base64 and UTF-8 checks. No allocation, no logging,
 * no C library (src/abi/ic_msg.c is built freestanding too): the one codec of the
 * host's services (src/vsp/ic*.c), the Linux guest daemon (guest/linux/vmic), the bundled
 * guest kernel (guest/kernel/ic*.c) and the fuzzer (tests/fuzz/fuzz-ic.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <abi/ic.h>

/*
 * The negative error codes returned below are Linux's errno values, spelled here so that
 * the codec needs no C library (the host checks they match <errno.h>).
 */
#define IC_E2BIG    7
#define IC_ENOENT   2
#define IC_ERANGE  34
#define IC_EBADMSG 74
#define IC_ENOBUFS 105

enum ic_value_type {
        IC_VAL_STRING,
        IC_VAL_INT,
        IC_VAL_BOOL,
        IC_VAL_NULL,
};

struct ic_value {
        enum ic_value_type type;
        const char *s;          /* IC_VAL_STRING: decoded, NUL-terminated, valid UTF-8 */
        size_t len;             /* its length in bytes (no NUL inside) */
        int64_t i;
        bool b;
};

struct ic_member {
        const char *name;       /* decoded, NUL-terminated */
        struct ic_value v;
};

struct ic_msg {
        unsigned n;
        struct ic_member m[IC_MSG_MEMBERS_MAX];
        const char *type;       /* the "type" member */
};

/*
 * Parse one line (without its "\n"; a trailing "\r" is allowed). Strings are decoded in
 * place, so `line` is modified and the message points into it. Returns 0, or -EBADMSG
 * (not one flat JSON object with a "type" string; bad escapes, invalid UTF-8, NUL,
 * duplicate names, numbers that are not int64 integers) or -E2BIG (too many members,
 * a member name too long).
 */
int ic_msg_parse(char *line, size_t len, struct ic_msg *ret);

const struct ic_value *ic_msg_get(const struct ic_msg *m, const char *name);
/* -ENOENT when absent, -EBADMSG for another type, -E2BIG when longer than max bytes. */
int ic_msg_get_str(const struct ic_msg *m, const char *name, size_t max, const char **ret,
                   size_t *ret_len);
/* -ENOENT when absent, -EBADMSG for another type, -ERANGE outside [min, max]. */
int ic_msg_get_int(const struct ic_msg *m, const char *name, int64_t min, int64_t max,
                   int64_t *ret);
int ic_msg_get_bool(const struct ic_msg *m, const char *name, bool *ret);
/* The "type" equals t. */
bool ic_msg_is(const struct ic_msg *m, const char *t);

/*
 * A bounded writer: {"type":T,...}\n into a caller's buffer. A write that does not fit
 * sets `overflow`; ic_writer_end() then returns -ENOBUFS and nothing is usable.
 */
struct ic_writer {
        char *buf;
        size_t cap, len;
        bool overflow;
};

void ic_writer_begin(struct ic_writer *w, char *buf, size_t cap, const char *type);
void ic_writer_str(struct ic_writer *w, const char *name, const char *s, size_t len);
void ic_writer_cstr(struct ic_writer *w, const char *name, const char *s);
void ic_writer_int(struct ic_writer *w, const char *name, int64_t v);
void ic_writer_bool(struct ic_writer *w, const char *name, bool v);
void ic_writer_base64(struct ic_writer *w, const char *name, const void *data, size_t len);
/* Close the object and add "\n": the line's length, or -ENOBUFS. */
int ic_writer_end(struct ic_writer *w);

/* RFC 4648 base64 with padding; out holds IC_BASE64_LEN(n) bytes (no NUL added). */
size_t ic_base64_encode(const void *in, size_t n, char *out);
/* Decode exactly; -EBADMSG for bad characters or padding, -ENOBUFS over cap. */
int ic_base64_decode(const char *in, size_t n, void *out, size_t cap, size_t *ret_len);

bool ic_utf8_valid(const char *s, size_t n);

/* "heartbeat", "shutdown", ... and their port names; NULL outside the enum. */
const char *ic_service_name(enum ic_service s);
const char *ic_service_port(enum ic_service s);
/* The service of a port name, or -ENOENT. */
int ic_service_from_port(const char *name, size_t len);
/* "bad message", "not found", ...: for error messages. */
const char *ic_error_name(unsigned code);
