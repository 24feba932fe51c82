/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 (https://www.jsonrpc.org/specification) over a stream socket, one JSON text
 * per line ("\n"-terminated; a trailing "\r" is tolerated), on an sd-event loop.
 *
 * A connection is symmetric: it answers requests with its method table (server role) and
 * sends requests and notifications of its own (client role), so vmms' public API, the
 * worker's control socket and vmms' side of that control socket share this one code path.
 *
 *   - requests, notifications (no "id": never answered), batches (arrays; "[]" is an
 *     Invalid Request; a batch of notifications gets no response at all);
 *   - the standard errors: -32700 parse error (id null), -32600 invalid request (id null),
 *     -32601 method not found, -32602 invalid params, -32603 internal error;
 *   - handlers answer at once or later (keep a reference to the call), in any order;
 *   - a line longer than the limit is answered with an Invalid Request error and the
 *     connection is closed once that error is written;
 *   - non-blocking I/O with an output queue: a slow reader never blocks the loop; reading
 *     pauses while much output is queued, and a peer that lets more than the output limit
 *     pile up is disconnected;
 *   - file descriptors ride along with a message (SCM_RIGHTS on its first byte).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "cleanup.h"
#include "macro.h"

#define JSONRPC_PARSE_ERROR      (-32700)
#define JSONRPC_INVALID_REQUEST  (-32600)
#define JSONRPC_METHOD_NOT_FOUND (-32601)
#define JSONRPC_INVALID_PARAMS   (-32602)
#define JSONRPC_INTERNAL_ERROR   (-32603)

#define JSONRPC_LINE_MAX_DEFAULT   (1u << 20)          /* bytes per request line */
#define JSONRPC_OUTPUT_MAX_DEFAULT (64u << 20)         /* queued output before disconnect */
#define JSONRPC_OUTPUT_PAUSE       (1u << 20)          /* queued output that pauses reading */
#define JSONRPC_FDS_MAX            16u                 /* fds per message and held per conn */

typedef struct sd_event sd_event;
struct jsonrpc_conn;
struct jsonrpc_call;

/*
 * A method handler. It answers with jsonrpc_call_reply()/jsonrpc_call_error(), now or
 * later (after jsonrpc_call_ref()). A negative return without an answer becomes an
 * Internal error that names the errno.
 */
typedef int (*jsonrpc_method_fn)(struct jsonrpc_call *call, struct json_object *params, void *userdata);

struct jsonrpc_method {
        const char *name;
        jsonrpc_method_fn fn;
        unsigned long data;     /* the owner's: e.g. the verb the method is gated by */
};

struct jsonrpc_error {
        int code;
        const char *message;
        struct json_object *data;       /* may be NULL */
};

/*
 * The answer to a request this side sent: r < 0 when the connection went away first
 * (-ECONNRESET), else error != NULL for an error response, else result (may be NULL for
 * a null result). result/error are borrowed for the duration of the callback.
 */
typedef void (*jsonrpc_reply_fn)(struct jsonrpc_conn *c, int r, struct json_object *result,
                                 const struct jsonrpc_error *error, void *userdata);
/* The connection closed (peer hung up, I/O error, over a limit, or jsonrpc_conn_close()). */
typedef void (*jsonrpc_close_fn)(struct jsonrpc_conn *c, void *userdata);

/* Takes the fd (made non-blocking here) even on failure. */
int jsonrpc_conn_new(sd_event *event, int fd, const struct jsonrpc_method *methods, size_t n_methods,
                     void *userdata, struct jsonrpc_conn **ret);
struct jsonrpc_conn *jsonrpc_conn_ref(struct jsonrpc_conn *c);
struct jsonrpc_conn *jsonrpc_conn_unref(struct jsonrpc_conn *c);
DEFINE_TRIVIAL_CLEANUP(struct jsonrpc_conn, jsonrpc_conn_unref)
void jsonrpc_conn_set_close_callback(struct jsonrpc_conn *c, jsonrpc_close_fn fn);
void jsonrpc_conn_set_limits(struct jsonrpc_conn *c, size_t max_line, size_t max_output);
void jsonrpc_conn_set_userdata(struct jsonrpc_conn *c, void *userdata);
void *jsonrpc_conn_get_userdata(const struct jsonrpc_conn *c);
int jsonrpc_conn_get_fd(const struct jsonrpc_conn *c);         /* -EBADF once closed */
bool jsonrpc_conn_is_closed(const struct jsonrpc_conn *c);
size_t jsonrpc_conn_output_queued(const struct jsonrpc_conn *c);

/* Bytes read from the fd before it became a connection (a handshake's leftover); they are
 * dispatched from the loop. */
int jsonrpc_conn_feed(struct jsonrpc_conn *c, const void *data, size_t len);
/* Read and dispatch whatever the peer has already sent (e.g. before acting on its death). */
int jsonrpc_conn_drain_input(struct jsonrpc_conn *c);

/* Send a request; reply_fn runs once with the answer or the connection's end. */
int jsonrpc_conn_call(struct jsonrpc_conn *c, const char *method, struct json_object *params,
                      jsonrpc_reply_fn reply_fn, void *userdata);
/* The same with fds (dup'd) attached to the request. */
int jsonrpc_conn_call_fds(struct jsonrpc_conn *c, const char *method, struct json_object *params,
                          const int *fds, size_t n_fds, jsonrpc_reply_fn reply_fn, void *userdata);
/* Send a notification. params (may be NULL) is taken in both. */
int jsonrpc_conn_notify(struct jsonrpc_conn *c, const char *method, struct json_object *params);
/* Queue any message (taken) with fds (dup'd). */
int jsonrpc_conn_send(struct jsonrpc_conn *c, struct json_object *msg, const int *fds, size_t n_fds);
/* The oldest fd the peer passed, now the caller's; -ENOENT if none. */
int jsonrpc_conn_take_fd(struct jsonrpc_conn *c);
/* Write queued output, waiting at most timeout_usec (for a process about to exit). */
int jsonrpc_conn_flush_blocking(struct jsonrpc_conn *c, uint64_t timeout_usec);
/* Close now: pending requests get -ECONNRESET; the close callback runs from the loop. */
void jsonrpc_conn_close(struct jsonrpc_conn *c);

/* Calls (server role). */
struct jsonrpc_call *jsonrpc_call_ref(struct jsonrpc_call *call);
struct jsonrpc_call *jsonrpc_call_unref(struct jsonrpc_call *call);
DEFINE_TRIVIAL_CLEANUP(struct jsonrpc_call, jsonrpc_call_unref)
/* The answer: result is taken (NULL = null). fds are dup'd and sent with it. */
int jsonrpc_call_reply(struct jsonrpc_call *call, struct json_object *result);
int jsonrpc_call_reply_fds(struct jsonrpc_call *call, struct json_object *result, const int *fds, size_t n_fds);
int jsonrpc_call_error(struct jsonrpc_call *call, int code, const char *fmt, ...) _printf_(3, 4);
/* As jsonrpc_call_error(), with error.data (taken, may be NULL). */
int jsonrpc_call_error_data(struct jsonrpc_call *call, int code, struct json_object *data,
                            const char *fmt, ...) _printf_(4, 5);
bool jsonrpc_call_replied(const struct jsonrpc_call *call);
bool jsonrpc_call_is_notification(const struct jsonrpc_call *call);
const struct jsonrpc_method *jsonrpc_call_get_method(const struct jsonrpc_call *call);
/* NULL once the connection is closed (an answer then goes nowhere). */
struct jsonrpc_conn *jsonrpc_call_get_conn(const struct jsonrpc_call *call);

/*
 * Named params: checks types, required keys and unknown keys. On a mismatch it answers
 * the call with Invalid params (naming the key) and returns -EINVAL. Absent params are {}.
 * Positional (array) params are refused.
 */
struct jsonrpc_param {
        const char *name;
        enum json_type type;    /* json_type_null: any type */
        bool required;
        struct json_object **ret;       /* borrowed from params; untouched when absent */
};
int jsonrpc_params_parse(struct jsonrpc_call *call, struct json_object *params,
                         const struct jsonrpc_param *table, size_t n);

/* Messages, for clients that do their own I/O (libvmms) and for tests. */
struct json_object *jsonrpc_request_new(const char *method, struct json_object *params, int64_t id);
struct json_object *jsonrpc_notification_new(const char *method, struct json_object *params);
/* One JSON text, no newline, or NULL on a parse error (the error message in ret_err). */
int jsonrpc_parse_line(const char *line, size_t len, struct json_object **ret, const char **ret_err);
/* The line to send, "\n"-terminated (json-c owns nothing: free() it). */
char *jsonrpc_format(struct json_object *msg, size_t *ret_len);
const char *jsonrpc_error_name(int code);
