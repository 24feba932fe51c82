/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 messages and dispatch: validating requests, the method table, calls that
 * are answered now or later, batches, and the standard errors. The socket side is
 * jsonrpc_conn.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/log.h"
#include "jsonrpc-internal.h"

const char *jsonrpc_error_name(int code)
{
        switch (code) {
        case JSONRPC_PARSE_ERROR:      return "Parse error";
        case JSONRPC_INVALID_REQUEST:  return "Invalid Request";
        case JSONRPC_METHOD_NOT_FOUND: return "Method not found";
        case JSONRPC_INVALID_PARAMS:   return "Invalid params";
        case JSONRPC_INTERNAL_ERROR:   return "Internal error";
        default:                       return "Server error";
        }
}

static int add(struct json_object *o, const char *key, struct json_object *v)
{
        /* json_object_object_add() takes v even when it fails. */
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

static struct json_object *base_message(void)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o || add(o, "jsonrpc", json_object_new_string("2.0")) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *jsonrpc_request_new(const char *method, struct json_object *params, int64_t id)
{
        _cleanup_json_ struct json_object *o = base_message(), *p = params;

        if (!o || add(o, "method", json_object_new_string(method)) < 0)
                return NULL;
        if (p && add(o, "params", TAKE_PTR(p)) < 0)
                return NULL;
        if (add(o, "id", json_object_new_int64(id)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *jsonrpc_notification_new(const char *method, struct json_object *params)
{
        _cleanup_json_ struct json_object *o = base_message(), *p = params;

        if (!o || add(o, "method", json_object_new_string(method)) < 0)
                return NULL;
        if (p && add(o, "params", TAKE_PTR(p)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *response_new(struct json_object *id, struct json_object *result)
{
        _cleanup_json_ struct json_object *o = base_message(), *res = result;

        if (!o || add(o, "result", TAKE_PTR(res)) < 0)
                return NULL;
        if (add(o, "id", json_object_get(id)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *error_new(struct json_object *id, int code, const char *message,
                                     struct json_object *data)
{
        _cleanup_json_ struct json_object *o = base_message(), *e = json_object_new_object(), *d = data;

        if (!o || !e)
                return NULL;
        if (add(e, "code", json_object_new_int(code)) < 0 ||
            add(e, "message", json_object_new_string(message)) < 0)
                return NULL;
        if (d && add(e, "data", TAKE_PTR(d)) < 0)
                return NULL;
        if (add(o, "error", TAKE_PTR(e)) < 0 || add(o, "id", json_object_get(id)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

char *jsonrpc_format(struct json_object *msg, size_t *ret_len)
{
        size_t len;
        const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        char *line;

        if (!s)
                return NULL;
        line = malloc(len + 2);
        if (!line)
                return NULL;
        memcpy(line, s, len);
        line[len] = '\n';
        line[len + 1] = 0;
        if (ret_len)
                *ret_len = len + 1;
        return line;
}

int jsonrpc_parse_line(const char *line, size_t len, struct json_object **ret, const char **ret_err)
{
        struct json_tokener *tok;
        struct json_object *o;
        enum json_tokener_error e;
        size_t used;

        if (len > INT32_MAX)
                return -E2BIG;
        if (memchr(line, 0, len)) {
                *ret_err = "NUL byte in the message";
                return -EBADMSG;
        }
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, line, (int)len);
        e = json_tokener_get_error(tok);
        if (e == json_tokener_continue) {
                /* The whole text was given: a value that does not end is an error... except a
                 * number, which the tokener cannot know has ended; a NUL terminator tells it. */
                o = json_tokener_parse_ex(tok, "", 1);
                e = json_tokener_get_error(tok);
                if (e == json_tokener_continue)
                        e = json_tokener_error_parse_eof;
                used = len;
        } else
                used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || e != json_tokener_success) {
                json_object_put(o);
                *ret_err = json_tokener_error_desc(e);
                return -EBADMSG;
        }
        for (; used < len; used++)
                if (!strchr(" \t\r\n", line[used])) {
                        json_object_put(o);
                        *ret_err = "more than one JSON text on a line";
                        return -EBADMSG;
                }
        *ret = o;
        return 0;
}

/* Batches and calls. */

static struct jsonrpc_batch *batch_unref(struct jsonrpc_batch *b)
{
        if (!b || --b->n_ref > 0)
                return NULL;
        for (size_t i = 0; i < b->n_fds; i++)
                safe_close(b->fds[i]);
        json_object_put(b->responses);
        jsonrpc_conn_unref(b->conn);
        free(b);
        return NULL;
}

static struct jsonrpc_batch *batch_new(struct jsonrpc_conn *c, bool is_array)
{
        struct jsonrpc_batch *b = calloc(1, sizeof(*b));

        if (!b)
                return NULL;
        b->responses = json_object_new_array();
        if (!b->responses) {
                free(b);
                return NULL;
        }
        b->n_ref = 1;
        b->n_open = 1;          /* the dispatcher's, until every element is looked at */
        b->is_array = is_array;
        b->conn = jsonrpc_conn_ref(c);
        c->n_active++;
        return b;
}

/* One more answer is in (or the dispatcher is done): send them all when none is missing. */
static void batch_close_one(struct jsonrpc_batch *b)
{
        struct jsonrpc_conn *c = b->conn;
        struct json_object *msg;
        size_t n;

        if (--b->n_open > 0)
                return;
        n = json_object_array_length(b->responses);
        if (n > 0 && !c->closed) {
                char *line;
                size_t len;

                msg = b->is_array ? b->responses : json_object_array_get_idx(b->responses, 0);
                line = jsonrpc_format(msg, &len);
                if (!line || jsonrpc_conn_queue(c, line, len, b->fds, b->n_fds) < 0) {
                        log_debug("Failed to queue a JSON-RPC response, closing the connection");
                        jsonrpc_conn_close(c);
                }
        }
        jsonrpc_conn_batch_done(c);
}

static void batch_add(struct jsonrpc_batch *b, struct json_object *response, const int *fds, size_t n_fds)
{
        if (!response) {
                /* Out of memory while answering: the peer would wait forever. */
                jsonrpc_conn_close(b->conn);
                return;
        }
        if (json_object_array_add(b->responses, response) < 0) {
                jsonrpc_conn_close(b->conn);
                return;
        }
        for (size_t i = 0; i < n_fds && b->n_fds < JSONRPC_FDS_MAX; i++) {
                int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);

                if (fd >= 0)
                        b->fds[b->n_fds++] = fd;
        }
}

static void batch_add_error(struct jsonrpc_batch *b, struct json_object *id, int code, const char *fmt, ...)
        _printf_(4, 5);
static void batch_add_error(struct jsonrpc_batch *b, struct json_object *id, int code, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        batch_add(b, error_new(id, code, msg, NULL), NULL, 0);
}

struct jsonrpc_call *jsonrpc_call_ref(struct jsonrpc_call *call)
{
        if (call)
                call->n_ref++;
        return call;
}

static int call_answer(struct jsonrpc_call *call, struct json_object *response, const int *fds, size_t n_fds)
{
        if (call->replied) {
                json_object_put(response);
                return -EALREADY;
        }
        call->replied = true;
        if (call->notification)
                json_object_put(response);      /* a notification is never answered */
        else
                batch_add(call->batch, response, fds, n_fds);
        batch_close_one(call->batch);
        return 0;
}

struct jsonrpc_call *jsonrpc_call_unref(struct jsonrpc_call *call)
{
        if (!call || --call->n_ref > 0)
                return NULL;
        if (!call->replied)
                call_answer(call, error_new(call->id, JSONRPC_INTERNAL_ERROR,
                                            "Internal error: the request was dropped", NULL), NULL, 0);
        json_object_put(call->id);
        batch_unref(call->batch);
        free(call);
        return NULL;
}

int jsonrpc_call_reply_fds(struct jsonrpc_call *call, struct json_object *result, const int *fds, size_t n_fds)
{
        if (call->replied) {
                json_object_put(result);
                return -EALREADY;
        }
        return call_answer(call, response_new(call->id, result), fds, n_fds);
}

int jsonrpc_call_reply(struct jsonrpc_call *call, struct json_object *result)
{
        return jsonrpc_call_reply_fds(call, result, NULL, 0);
}

static int call_verror(struct jsonrpc_call *call, int code, struct json_object *data, const char *fmt, va_list ap)
{
        char msg[1024];

        if (call->replied) {
                json_object_put(data);
                return -EALREADY;
        }
        vsnprintf(msg, sizeof(msg), fmt, ap);
        return call_answer(call, error_new(call->id, code, msg, data), NULL, 0);
}

int jsonrpc_call_error(struct jsonrpc_call *call, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = call_verror(call, code, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int jsonrpc_call_error_data(struct jsonrpc_call *call, int code, struct json_object *data, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = call_verror(call, code, data, fmt, ap);
        va_end(ap);
        return r;
}

bool jsonrpc_call_replied(const struct jsonrpc_call *call) { return call->replied; }
bool jsonrpc_call_is_notification(const struct jsonrpc_call *call) { return call->notification; }
const struct jsonrpc_method *jsonrpc_call_get_method(const struct jsonrpc_call *call) { return call->method; }

struct jsonrpc_conn *jsonrpc_call_get_conn(const struct jsonrpc_call *call)
{
        return call->batch->conn->closed ? NULL : call->batch->conn;
}

int jsonrpc_params_parse(struct jsonrpc_call *call, struct json_object *params,
                         const struct jsonrpc_param *table, size_t n)
{
        if (params && !json_object_is_type(params, json_type_object)) {
                jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                   "Invalid params: expected an object of named parameters");
                return -EINVAL;
        }
        if (params) {
                json_object_object_foreach(params, key, val) {
                        size_t i;

                        (void)val;
                        for (i = 0; i < n; i++)
                                if (strcmp(table[i].name, key) == 0)
                                        break;
                        if (i == n) {
                                jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                                   "Invalid params: unknown parameter '%s'", key);
                                return -EINVAL;
                        }
                }
        }
        for (size_t i = 0; i < n; i++) {
                struct json_object *v = NULL;

                if (!params || !json_object_object_get_ex(params, table[i].name, &v)) {
                        if (table[i].required) {
                                jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS,
                                                   "Invalid params: '%s' is required", table[i].name);
                                return -EINVAL;
                        }
                        continue;
                }
                if (table[i].type != json_type_null && !json_object_is_type(v, table[i].type) &&
                    !(table[i].type == json_type_double && json_object_is_type(v, json_type_int))) {
                        jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "Invalid params: '%s' must be %s",
                                           table[i].name,
                                           table[i].type == json_type_string ? "a string" :
                                           table[i].type == json_type_boolean ? "true or false" :
                                           table[i].type == json_type_int ? "an integer" :
                                           table[i].type == json_type_double ? "a number" :
                                           table[i].type == json_type_object ? "an object" : "an array");
                        return -EINVAL;
                }
                *table[i].ret = v;
        }
        return 0;
}

/* Dispatch. */

static bool id_is_valid(struct json_object *id)
{
        /* String, Number, or Null (spec section 4). */
        return !id || json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int) ||
               json_object_is_type(id, json_type_double);
}

static void dispatch_request(struct jsonrpc_conn *c, struct jsonrpc_batch *b, struct json_object *req)
{
        struct json_object *version, *method, *params = NULL, *id = NULL;
        const struct jsonrpc_method *m = NULL;
        struct jsonrpc_call *call;
        const char *name;
        bool has_id;
        int r;

        if (!json_object_is_type(req, json_type_object)) {
                batch_add_error(b, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request: expected an object");
                return;
        }
        has_id = json_object_object_get_ex(req, "id", &id);
        if (!json_object_object_get_ex(req, "jsonrpc", &version) ||
            !json_object_is_type(version, json_type_string) ||
            strcmp(json_object_get_string(version), "2.0") != 0) {
                batch_add_error(b, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
                return;
        }
        if (!json_object_object_get_ex(req, "method", &method) || !json_object_is_type(method, json_type_string)) {
                batch_add_error(b, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request: \"method\" must be a string");
                return;
        }
        if (json_object_object_get_ex(req, "params", &params) &&
            !json_object_is_type(params, json_type_object) && !json_object_is_type(params, json_type_array)) {
                batch_add_error(b, NULL, JSONRPC_INVALID_REQUEST,
                                "Invalid Request: \"params\" must be an object or an array");
                return;
        }
        if (!id_is_valid(id)) {
                batch_add_error(b, NULL, JSONRPC_INVALID_REQUEST,
                                "Invalid Request: \"id\" must be a string, a number or null");
                return;
        }
        name = json_object_get_string(method);
        for (size_t i = 0; i < c->n_methods; i++)
                if (strcmp(c->methods[i].name, name) == 0) {
                        m = &c->methods[i];
                        break;
                }
        if (!m) {
                if (has_id)
                        batch_add_error(b, id, JSONRPC_METHOD_NOT_FOUND, "Method not found: '%s'", name);
                return;
        }

        call = calloc(1, sizeof(*call));
        if (!call) {
                if (has_id)
                        batch_add_error(b, id, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
                return;
        }
        call->n_ref = 1;
        call->batch = b;
        b->n_ref++;
        b->n_open++;
        call->notification = !has_id;
        call->id = json_object_get(id);
        call->method = m;
        r = m->fn(call, params, c->userdata);
        if (r < 0 && !call->replied)
                jsonrpc_call_error(call, JSONRPC_INTERNAL_ERROR, "Internal error: %s", strerror(-r));
        jsonrpc_call_unref(call);
}

static void dispatch_response(struct jsonrpc_conn *c, struct json_object *msg)
{
        struct json_object *id, *result = NULL, *error = NULL, *v;
        struct jsonrpc_pending **p, *found;
        struct jsonrpc_error e = {};
        int64_t n;

        if (!json_object_object_get_ex(msg, "id", &id) || !json_object_is_type(id, json_type_int)) {
                /* e.g. the error a server sends for a request it could not read */
                if (json_object_object_get_ex(msg, "error", &error) &&
                    json_object_object_get_ex(error, "message", &v))
                        log_debug("JSON-RPC peer reports: %s", json_object_get_string(v));
                return;
        }
        n = json_object_get_int64(id);
        for (p = &c->pending; *p && (*p)->id != n; p = &(*p)->next)
                ;
        if (!*p) {
                log_debug("JSON-RPC response for unknown id %lld ignored", (long long)n);
                return;
        }
        found = *p;
        *p = found->next;
        if (json_object_object_get_ex(msg, "error", &error)) {
                e.code = json_object_object_get_ex(error, "code", &v) ? json_object_get_int(v) : JSONRPC_INTERNAL_ERROR;
                e.message = json_object_object_get_ex(error, "message", &v) ? json_object_get_string(v) : "";
                if (!json_object_object_get_ex(error, "data", &e.data))
                        e.data = NULL;
                found->fn(c, 0, NULL, &e, found->userdata);
        } else {
                json_object_object_get_ex(msg, "result", &result);
                found->fn(c, 0, result, NULL, found->userdata);
        }
        free(found);
}

static bool is_response(struct json_object *msg)
{
        return json_object_is_type(msg, json_type_object) &&
               !json_object_object_get_ex(msg, "method", NULL) &&
               (json_object_object_get_ex(msg, "result", NULL) || json_object_object_get_ex(msg, "error", NULL));
}

void jsonrpc_dispatch(struct jsonrpc_conn *c, struct json_object *msg)
{
        struct jsonrpc_batch *b;

        if (is_response(msg)) {
                dispatch_response(c, msg);
                return;
        }
        b = batch_new(c, json_object_is_type(msg, json_type_array));
        if (!b) {
                jsonrpc_conn_close(c);
                return;
        }
        if (!b->is_array)
                dispatch_request(c, b, msg);
        else if (json_object_array_length(msg) == 0) {
                /* "[]" is answered with one error, not with an empty array. */
                b->is_array = false;
                batch_add_error(b, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request: empty batch");
        } else
                for (size_t i = 0; i < json_object_array_length(msg); i++)
                        dispatch_request(c, b, json_object_array_get_idx(msg, i));
        batch_close_one(b);
        batch_unref(b);
}

void jsonrpc_dispatch_parse_error(struct jsonrpc_conn *c, const char *what)
{
        struct jsonrpc_batch *b = batch_new(c, false);

        if (!b) {
                jsonrpc_conn_close(c);
                return;
        }
        batch_add_error(b, NULL, JSONRPC_PARSE_ERROR, "Parse error: %s", what);
        batch_close_one(b);
        batch_unref(b);
}

void jsonrpc_dispatch_too_long(struct jsonrpc_conn *c)
{
        struct jsonrpc_batch *b = batch_new(c, false);

        if (!b) {
                jsonrpc_conn_close(c);
                return;
        }
        batch_add_error(b, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request: larger than the limit of %zu bytes",
                        c->max_line);
        batch_close_one(b);
        batch_unref(b);
}
