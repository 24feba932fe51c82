/* SPDX-License-Identifier: MIT */
/* JSON-RPC 2.0: the specification's examples, every standard error, framing, limits, fds. */
#include "check-main.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "vmms/jsonrpc.h"
#include "vmms/util.h"

struct fx {
        sd_event *event;
        struct jsonrpc_conn *server;
        int peer;                       /* the raw client end */
        struct jsonrpc_call *held;      /* "later" */
        bool closed;
};

static int m_subtract(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *a = NULL, *b = NULL;

        if (params && json_object_is_type(params, json_type_array) && json_object_array_length(params) == 2) {
                a = json_object_array_get_idx(params, 0);
                b = json_object_array_get_idx(params, 1);
        } else if (params && json_object_is_type(params, json_type_object)) {
                json_object_object_get_ex(params, "minuend", &a);
                json_object_object_get_ex(params, "subtrahend", &b);
        }
        if (!a || !b || !json_object_is_type(a, json_type_int) || !json_object_is_type(b, json_type_int))
                return jsonrpc_call_error(call, JSONRPC_INVALID_PARAMS, "Invalid params: two integers expected");
        return jsonrpc_call_reply(call, json_object_new_int64(json_object_get_int64(a) - json_object_get_int64(b)));
}

static int m_sum(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        int64_t s = 0;

        for (size_t i = 0; params && json_object_is_type(params, json_type_array) &&
                           i < json_object_array_length(params); i++)
                s += json_object_get_int64(json_object_array_get_idx(params, i));
        return jsonrpc_call_reply(call, json_object_new_int64(s));
}

static int m_get_data(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *a = json_object_new_array();

        json_object_array_add(a, json_object_new_string("hello"));
        json_object_array_add(a, json_object_new_int(5));
        return jsonrpc_call_reply(call, a);
}

static int m_noop(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        return jsonrpc_call_reply(call, NULL);
}

static int m_fail(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        return -EIO;
}

static int m_app_error(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        return jsonrpc_call_error(call, -32001, "VM '%s' not found", "demo");
}

static int m_named(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *name = NULL, *force = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "force", json_type_boolean, false, &force },
        };

        if (jsonrpc_params_parse(call, params, p, 2) < 0)
                return 0;
        return jsonrpc_call_reply(call, json_object_new_string(json_object_get_string(name)));
}

static int m_later(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct fx *f = userdata;

        f->held = jsonrpc_call_ref(call);
        return 0;
}

static int m_fds(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        int p[2];
        int r;

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(write(p[1], "x", 1), 1);
        r = jsonrpc_call_reply_fds(call, json_object_new_int(0), &p[0], 1);
        close(p[0]);
        close(p[1]);
        return r;
}

static int m_spam(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct fx *f = userdata;
        char big[4096];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        jsonrpc_call_reply(call, NULL);
        for (int i = 0; i < 4096 && !jsonrpc_conn_is_closed(f->server); i++)
                jsonrpc_conn_notify(f->server, "spam", json_object_new_string(big));
        return 0;
}

static const struct jsonrpc_method methods[] = {
        { "subtract", m_subtract },
        { "sum", m_sum },
        { "get_data", m_get_data },
        { "notify_hello", m_noop },
        { "update", m_noop },
        { "fail", m_fail },
        { "app_error", m_app_error },
        { "named", m_named },
        { "later", m_later },
        { "fds", m_fds },
        { "spam", m_spam },
};

static void on_close(struct jsonrpc_conn *c, void *userdata)
{
        struct fx *f = userdata;

        f->closed = true;
}

static void fx_init(struct fx *f)
{
        int s[2];

        memset(f, 0, sizeof(*f));
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
        ck_assert_int_eq(sd_event_new(&f->event), 0);
        ck_assert_int_eq(jsonrpc_conn_new(f->event, s[0], methods, sizeof(methods) / sizeof(methods[0]), f,
                                          &f->server), 0);
        jsonrpc_conn_set_close_callback(f->server, on_close);
        f->peer = s[1];
        fd_set_nonblock(f->peer, true);
}

static void fx_done(struct fx *f)
{
        jsonrpc_call_unref(f->held);
        jsonrpc_conn_close(f->server);
        for (int i = 0; i < 10; i++)
                sd_event_run(f->event, 0);
        jsonrpc_conn_unref(f->server);
        sd_event_unref(f->event);
        close(f->peer);
}

static void fx_write(struct fx *f, const char *s)
{
        ck_assert_int_eq(write(f->peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Run the loop until `lines` newline-terminated lines came back, or ~300 ms pass. */
static char *fx_read(struct fx *f, int lines)
{
        static char buf[1 << 20];
        size_t len = 0;
        int got = 0;

        for (int i = 0; i < 300 && (lines == 0 || got < lines); i++) {
                ssize_t n;

                sd_event_run(f->event, 1000);
                while ((n = read(f->peer, buf + len, sizeof(buf) - 1 - len)) > 0) {
                        for (ssize_t k = 0; k < n; k++)
                                got += buf[len + (size_t)k] == '\n';
                        len += (size_t)n;
                }
                if (n == 0)
                        break;
        }
        buf[len] = 0;
        return buf;
}

static char *fx_call(struct fx *f, const char *req)
{
        fx_write(f, req);
        return fx_read(f, 1);
}

static struct json_object *parse(const char *s)
{
        struct json_object *o = json_tokener_parse(s);

        ck_assert_msg(o, "not JSON: '%s'", s);
        return o;
}

static void expect_error(struct json_object *resp, int code, const char *id_json)
{
        struct json_object *err, *c, *id, *v;

        ck_assert(json_object_object_get_ex(resp, "jsonrpc", &v));
        ck_assert_str_eq(json_object_get_string(v), "2.0");
        ck_assert_msg(json_object_object_get_ex(resp, "error", &err), "no error in %s",
                      json_object_to_json_string(resp));
        ck_assert(!json_object_object_get_ex(resp, "result", NULL));
        ck_assert(json_object_object_get_ex(err, "code", &c));
        ck_assert_int_eq(json_object_get_int(c), code);
        ck_assert(json_object_object_get_ex(err, "message", &v) && json_object_is_type(v, json_type_string));
        ck_assert(json_object_object_get_ex(resp, "id", &id));
        ck_assert_str_eq(id ? json_object_to_json_string(id) : "null", id_json);
}

static void expect_single_error(const char *req, int code, const char *id_json)
{
        struct fx f;
        struct json_object *o;

        fx_init(&f);
        o = parse(fx_call(&f, req));
        ck_assert_msg(json_object_is_type(o, json_type_object), "batch answer to %s", req);
        expect_error(o, code, id_json);
        json_object_put(o);
        fx_done(&f);
}

static void expect_result(const char *req, const char *result_json, const char *id_json)
{
        struct fx f;
        struct json_object *o, *v;

        fx_init(&f);
        o = parse(fx_call(&f, req));
        ck_assert_msg(json_object_object_get_ex(o, "result", &v), "no result for %s: %s", req,
                      json_object_to_json_string(o));
        ck_assert_str_eq(v ? json_object_to_json_string(v) : "null", result_json);
        ck_assert(json_object_object_get_ex(o, "id", &v));
        ck_assert_str_eq(v ? json_object_to_json_string(v) : "null", id_json);
        ck_assert(!json_object_object_get_ex(o, "error", NULL));
        json_object_put(o);
        fx_done(&f);
}

static void expect_silence(const char *req)
{
        struct fx f;
        char *out;

        fx_init(&f);
        fx_write(&f, req);
        out = fx_read(&f, 0);
        ck_assert_msg(out[0] == 0, "answer to a notification: %s", out);
        ck_assert(!f.closed);
        fx_done(&f);
}

START_TEST(test_spec_positional_and_named)
{
        expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42, 23], \"id\": 1}\n", "19", "1");
        expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [23, 42], \"id\": 2}\n", "-19", "2");
        expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": {\"subtrahend\": 23, \"minuend\": 42}, \"id\": 3}\n",
                      "19", "3");
        expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [1, 1], \"id\": \"abc\"}\n", "0",
                      "\"abc\"");
        /* A null id is an odd request, not a notification: it is answered. */
        expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1], \"id\": null}\n", "1", "null");
        /* No params at all. */
        expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"id\": 7}\n", "0", "7");
        /* Members this server does not know are ignored. */
        expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"id\": 8, \"x\": 1}\n", "0", "8");
}
END_TEST

START_TEST(test_notifications_unanswered)
{
        expect_silence("{\"jsonrpc\": \"2.0\", \"method\": \"update\", \"params\": [1,2,3,4,5]}\n");
        expect_silence("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\"}\n");             /* unknown */
        expect_silence("{\"jsonrpc\": \"2.0\", \"method\": \"fail\"}\n");               /* fails */
        /* A batch of notifications gets nothing back at all. */
        expect_silence("[{\"jsonrpc\": \"2.0\", \"method\": \"notify_sum\", \"params\": [1,2,4]},"
                       "{\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]}]\n");
}
END_TEST

START_TEST(test_standard_errors)
{
        /* -32601 */
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\", \"id\": \"1\"}\n", JSONRPC_METHOD_NOT_FOUND,
                            "\"1\"");
        /* -32700: the id cannot be known */
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", \"baz]\n",
                            JSONRPC_PARSE_ERROR, "null");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"id\": 1} {}\n", JSONRPC_PARSE_ERROR, "null");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"id\": 1,}\n", JSONRPC_PARSE_ERROR, "null");
        expect_single_error("nul\n", JSONRPC_PARSE_ERROR, "null");
        /* -32600 */
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": 1, \"params\": \"bar\"}\n", JSONRPC_INVALID_REQUEST, "null");
        expect_single_error("{\"jsonrpc\": \"1.0\", \"method\": \"sum\", \"id\": 1}\n", JSONRPC_INVALID_REQUEST, "null");
        expect_single_error("{\"method\": \"sum\", \"id\": 1}\n", JSONRPC_INVALID_REQUEST, "null");
        expect_single_error("{\"jsonrpc\": 2.0, \"method\": \"sum\", \"id\": 1}\n", JSONRPC_INVALID_REQUEST, "null");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": 3, \"id\": 1}\n",
                            JSONRPC_INVALID_REQUEST, "null");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"id\": {\"a\": 1}}\n", JSONRPC_INVALID_REQUEST,
                            "null");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"id\": true}\n", JSONRPC_INVALID_REQUEST, "null");
        expect_single_error("\"just a string\"\n", JSONRPC_INVALID_REQUEST, "null");
        expect_single_error("42\n", JSONRPC_INVALID_REQUEST, "null");
        /* "[]" is one Invalid Request, not an empty array */
        expect_single_error("[]\n", JSONRPC_INVALID_REQUEST, "null");
        /* a batch that is not JSON: one parse error */
        expect_single_error("[{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},"
                            "{\"jsonrpc\": \"2.0\", \"method\"\n", JSONRPC_PARSE_ERROR, "null");
        /* -32602 */
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [1], \"id\": 4}\n",
                            JSONRPC_INVALID_PARAMS, "4");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"named\", \"params\": {}, \"id\": 5}\n",
                            JSONRPC_INVALID_PARAMS, "5");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"named\", \"params\": {\"name\": 1}, \"id\": 5}\n",
                            JSONRPC_INVALID_PARAMS, "5");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"named\", \"params\": {\"name\": \"a\", \"bogus\": 1}, \"id\": 5}\n",
                            JSONRPC_INVALID_PARAMS, "5");
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"named\", \"params\": [\"a\"], \"id\": 5}\n",
                            JSONRPC_INVALID_PARAMS, "5");
        expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"named\", \"params\": {\"name\": \"a\", \"force\": true}, \"id\": 5}\n",
                      "\"a\"", "5");
        /* -32603 */
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"fail\", \"id\": 6}\n", JSONRPC_INTERNAL_ERROR, "6");
        /* application errors keep their code and message */
        expect_single_error("{\"jsonrpc\": \"2.0\", \"method\": \"app_error\", \"id\": 9}\n", -32001, "9");
}
END_TEST

START_TEST(test_error_messages)
{
        struct fx f;
        struct json_object *o, *e, *m;

        fx_init(&f);
        o = parse(fx_call(&f, "{\"jsonrpc\": \"2.0\", \"method\": \"app_error\", \"id\": 1}\n"));
        ck_assert(json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "message", &m));
        ck_assert_str_eq(json_object_get_string(m), "VM 'demo' not found");
        json_object_put(o);
        o = parse(fx_call(&f, "{\"jsonrpc\": \"2.0\", \"method\": \"nope\", \"id\": 1}\n"));
        ck_assert(json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "message", &m));
        ck_assert_msg(strstr(json_object_get_string(m), "nope"), "%s", json_object_get_string(m));
        json_object_put(o);
        o = parse(fx_call(&f, "{\"jsonrpc\": \"2.0\", \"method\": \"named\", \"params\": {\"name\": 3}, \"id\": 1}\n"));
        ck_assert(json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "message", &m));
        ck_assert_msg(strstr(json_object_get_string(m), "'name'"), "%s", json_object_get_string(m));
        json_object_put(o);
        fx_done(&f);
}
END_TEST

START_TEST(test_batches)
{
        struct fx f;
        struct json_object *o, *v;
        bool seen[4] = {};

        /* The specification's mixed batch. */
        fx_init(&f);
        o = parse(fx_call(&f, "[{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},"
                              "{\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]},"
                              "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42,23], \"id\": \"2\"},"
                              "{\"foo\": \"boo\"},"
                              "{\"jsonrpc\": \"2.0\", \"method\": \"foo.get\", \"params\": {\"name\": \"myself\"}, \"id\": \"5\"},"
                              "{\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"}]\n"));
        ck_assert(json_object_is_type(o, json_type_array));
        ck_assert_int_eq(json_object_array_length(o), 5);
        for (size_t i = 0; i < 5; i++) {
                struct json_object *r = json_object_array_get_idx(o, i), *id;
                const char *ids;

                ck_assert(json_object_object_get_ex(r, "id", &id));
                ids = id ? json_object_get_string(id) : "null";
                if (strcmp(ids, "1") == 0) {
                        ck_assert(json_object_object_get_ex(r, "result", &v) && json_object_get_int(v) == 7);
                        seen[0] = true;
                } else if (strcmp(ids, "2") == 0) {
                        ck_assert(json_object_object_get_ex(r, "result", &v) && json_object_get_int(v) == 19);
                        seen[1] = true;
                } else if (strcmp(ids, "5") == 0) {
                        expect_error(r, JSONRPC_METHOD_NOT_FOUND, "\"5\"");
                        seen[2] = true;
                } else if (strcmp(ids, "null") == 0) {
                        expect_error(r, JSONRPC_INVALID_REQUEST, "null");
                        seen[3] = true;
                } else
                        ck_assert(strcmp(ids, "9") == 0);
        }
        ck_assert(seen[0] && seen[1] && seen[2] && seen[3]);
        json_object_put(o);

        /* [1] and [1,2,3]: one Invalid Request per element, in an array. */
        o = parse(fx_call(&f, "[1]\n"));
        ck_assert(json_object_is_type(o, json_type_array) && json_object_array_length(o) == 1);
        expect_error(json_object_array_get_idx(o, 0), JSONRPC_INVALID_REQUEST, "null");
        json_object_put(o);
        o = parse(fx_call(&f, "[1,2,3]\n"));
        ck_assert(json_object_is_type(o, json_type_array) && json_object_array_length(o) == 3);
        for (size_t i = 0; i < 3; i++)
                expect_error(json_object_array_get_idx(o, i), JSONRPC_INVALID_REQUEST, "null");
        json_object_put(o);
        fx_done(&f);
}
END_TEST

START_TEST(test_framing)
{
        struct fx f;
        const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[2,3],\"id\":1}\n";
        char *out;

        fx_init(&f);
        /* One byte at a time. */
        for (const char *p = req; *p; p++) {
                char one[2] = { *p, 0 };

                fx_write(&f, one);
                sd_event_run(f.event, 0);
        }
        out = fx_read(&f, 1);
        ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"result\":5,\"id\":1}\n");
        /* Two requests and a blank line in one write, CRLF endings. */
        fx_write(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[1],\"id\":2}\r\n\r\n"
                     "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[2],\"id\":3}\n");
        out = fx_read(&f, 2);
        ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":2}\n{\"jsonrpc\":\"2.0\",\"result\":2,\"id\":3}\n");
        /* A bad line does not spoil the next one. */
        fx_write(&f, "{oops\n{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[4],\"id\":4}\n");
        out = fx_read(&f, 2);
        ck_assert_msg(strstr(out, "-32700") && strstr(out, "\"result\":4"), "%s", out);
        /* The last message may lack its newline when the peer closes its side. */
        fx_write(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[9],\"id\":5}");
        shutdown(f.peer, SHUT_WR);
        out = fx_read(&f, 1);
        ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"result\":9,\"id\":5}\n");
        /* ... and then the connection ends. */
        for (int i = 0; i < 20 && !f.closed; i++)
                sd_event_run(f.event, 1000);
        ck_assert(f.closed);
        fx_done(&f);
}
END_TEST

START_TEST(test_line_limit)
{
        struct fx f;
        struct json_object *o, *e, *m;
        char big[4096];
        char *out;

        fx_init(&f);
        jsonrpc_conn_set_limits(f.server, 1024, 0);
        /* Exactly at the limit is fine. */
        snprintf(big, sizeof(big), "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"id\":1,\"pad\":\"%0*d\"}\n", 1024 - 48, 0);
        ck_assert_int_eq(strlen(big), 1025);
        out = fx_call(&f, big);
        ck_assert_msg(strstr(out, "\"result\":0"), "%s", out);
        /* Over it: an error that says why, then the connection closes. */
        memset(big, ' ', sizeof(big));
        big[sizeof(big) - 1] = 0;
        fx_write(&f, big);
        out = fx_read(&f, 1);
        o = parse(out);
        expect_error(o, JSONRPC_INVALID_REQUEST, "null");
        ck_assert(json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "message", &m));
        ck_assert_msg(strstr(json_object_get_string(m), "1024"), "%s", json_object_get_string(m));
        json_object_put(o);
        for (int i = 0; i < 20 && !f.closed; i++)
                sd_event_run(f.event, 1000);
        ck_assert(f.closed);
        ck_assert_int_eq(read(f.peer, big, sizeof(big)), 0);      /* EOF */
        fx_done(&f);
}
END_TEST

START_TEST(test_async_out_of_order)
{
        struct fx f;
        char *out;

        fx_init(&f);
        fx_write(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"id\":1}\n"
                     "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[3],\"id\":2}\n");
        out = fx_read(&f, 1);
        ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"result\":3,\"id\":2}\n");
        ck_assert_ptr_nonnull(f.held);
        jsonrpc_call_reply(f.held, json_object_new_string("done"));
        ck_assert_int_eq(jsonrpc_call_reply(f.held, NULL), -EALREADY);
        f.held = jsonrpc_call_unref(f.held);
        out = fx_read(&f, 1);
        ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"result\":\"done\",\"id\":1}\n");
        /* A batch waits for its slowest member. */
        fx_write(&f, "[{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"id\":3},"
                     "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[1],\"id\":4}]\n");
        out = fx_read(&f, 1);
        ck_assert_str_eq(out, "");
        /* A held call that is dropped unanswered still gets an answer. */
        f.held = jsonrpc_call_unref(f.held);
        out = fx_read(&f, 1);
        ck_assert_msg(strstr(out, "-32603") && strstr(out, "\"result\":1"), "%s", out);
        fx_done(&f);
}
END_TEST

START_TEST(test_fd_in_reply)
{
        struct fx f;
        char buf[256], c;
        char ctl[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
        struct cmsghdr *cm;
        ssize_t n;
        int fd;

        fx_init(&f);
        fx_write(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"fds\",\"id\":1}\n");
        for (int i = 0; i < 10; i++)
                sd_event_run(f.event, 1000);
        n = recvmsg(f.peer, &mh, MSG_CMSG_CLOEXEC);
        ck_assert_int_gt(n, 0);
        cm = CMSG_FIRSTHDR(&mh);
        ck_assert_ptr_nonnull(cm);
        ck_assert_int_eq(cm->cmsg_type, SCM_RIGHTS);
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        ck_assert_int_eq(read(fd, &c, 1), 1);
        ck_assert_int_eq(c, 'x');
        close(fd);
        fx_done(&f);
}
END_TEST

/* Client role: calls from one connection answered by another. */
struct client_result {
        int calls;
        int r;
        int code;
        char text[256];
};

static void on_reply(struct jsonrpc_conn *c, int r, struct json_object *result,
                     const struct jsonrpc_error *error, void *userdata)
{
        struct client_result *res = userdata;

        res->calls++;
        res->r = r;
        res->code = error ? error->code : 0;
        snprintf(res->text, sizeof(res->text), "%s",
                 error ? error->message : result ? json_object_to_json_string(result) : "null");
        if (r == 0 && !error && result && json_object_is_type(result, json_type_int) &&
            json_object_get_int(result) == 0) {
                int fd = jsonrpc_conn_take_fd(c);

                res->code = fd >= 0 ? 1000 : fd;
                if (fd >= 0)
                        close(fd);
        }
}

START_TEST(test_client_role)
{
        sd_event *e;
        struct jsonrpc_conn *a, *b;
        struct client_result r1 = {}, r2 = {}, r3 = {}, r4 = {};
        struct fx holder = {};
        int s[2];

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
        ck_assert_int_eq(jsonrpc_conn_new(e, s[0], NULL, 0, NULL, &a), 0);
        ck_assert_int_eq(jsonrpc_conn_new(e, s[1], methods, sizeof(methods) / sizeof(methods[0]), &holder, &b), 0);
        ck_assert_int_eq(jsonrpc_conn_call(a, "subtract", json_tokener_parse("[5,2]"), on_reply, &r1), 0);
        ck_assert_int_eq(jsonrpc_conn_call(a, "missing", NULL, on_reply, &r2), 0);
        ck_assert_int_eq(jsonrpc_conn_call(a, "fds", NULL, on_reply, &r4), 0);
        for (int i = 0; i < 20 && (!r1.calls || !r2.calls || !r4.calls); i++)
                sd_event_run(e, 10000);
        ck_assert_int_eq(r1.calls, 1);
        ck_assert_int_eq(r1.r, 0);
        ck_assert_str_eq(r1.text, "3");
        ck_assert_int_eq(r2.code, JSONRPC_METHOD_NOT_FOUND);
        ck_assert_int_eq(r4.code, 1000);                /* the fd arrived */
        /* "later" never answers; the server going away fails the call. */
        ck_assert_int_eq(jsonrpc_conn_call(a, "update", NULL, on_reply, &r3), 0);
        for (int i = 0; i < 5; i++)
                sd_event_run(e, 1000);
        ck_assert_int_eq(r3.calls, 1);                  /* answered with null */
        r3.calls = 0;
        ck_assert_int_eq(jsonrpc_conn_call(a, "later", NULL, on_reply, &r3), 0);
        for (int i = 0; i < 5; i++)
                sd_event_run(e, 1000);
        ck_assert_int_eq(r3.calls, 0);
        ck_assert_ptr_nonnull(holder.held);
        jsonrpc_conn_close(b);
        holder.held = jsonrpc_call_unref(holder.held);  /* its answer goes nowhere */
        for (int i = 0; i < 20 && !r3.calls; i++)
                sd_event_run(e, 10000);
        ck_assert_int_eq(r3.calls, 1);
        ck_assert_int_eq(r3.r, -ECONNRESET);
        ck_assert(jsonrpc_conn_is_closed(a));
        jsonrpc_conn_unref(a);
        jsonrpc_conn_unref(b);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_slow_reader_disconnected)
{
        struct fx f;
        int i;

        fx_init(&f);
        jsonrpc_conn_set_limits(f.server, 0, 256 * 1024);
        fx_write(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"spam\",\"id\":1}\n");
        /* The peer never reads: past the limit the connection is dropped, the loop never blocks. */
        for (i = 0; i < 50 && !f.closed; i++)
                sd_event_run(f.event, 1000);
        ck_assert(f.closed);
        fx_done(&f);
}
END_TEST

START_TEST(test_parse_line)
{
        struct json_object *o = NULL;
        const char *err = NULL;

        ck_assert_int_eq(jsonrpc_parse_line("123", 3, &o, &err), 0);
        ck_assert_int_eq(json_object_get_int(o), 123);
        json_object_put(o);
        ck_assert_int_eq(jsonrpc_parse_line("{\"a\":1}  ", 9, &o, &err), 0);
        json_object_put(o);
        ck_assert_int_eq(jsonrpc_parse_line("{\"a\":1", 6, &o, &err), -EBADMSG);
        ck_assert_int_eq(jsonrpc_parse_line("1 2", 3, &o, &err), -EBADMSG);
        ck_assert_int_eq(jsonrpc_parse_line("{\"a\":\0}", 6, &o, &err), -EBADMSG);
        ck_assert_int_eq(jsonrpc_parse_line("[1,]", 4, &o, &err), -EBADMSG);
        ck_assert_int_eq(jsonrpc_parse_line("'a'", 3, &o, &err), -EBADMSG);
}
END_TEST

CHECK_MAIN("jsonrpc", test_spec_positional_and_named, test_notifications_unanswered, test_standard_errors,
           test_error_messages, test_batches, test_framing, test_line_limit, test_async_out_of_order,
           test_fd_in_reply, test_client_role, test_slow_reader_disconnected, test_parse_line)
