/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: arbitrary bytes from a client on a JSON-RPC connection (framing, the
 * request checks, batches, named params, answers now and later), as vmms reads its socket. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "vmms/jsonrpc.h"

struct held {
        struct jsonrpc_call *calls[8];
        size_t n;
};

static int m_echo(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        return jsonrpc_call_reply(call, params ? json_object_get(params) : NULL);
}

static int m_named(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct json_object *name = NULL, *flag = NULL, *n = NULL;
        const struct jsonrpc_param p[] = {
                { "name", json_type_string, true, &name },
                { "flag", json_type_boolean, false, &flag },
                { "n", json_type_int, false, &n },
        };

        if (jsonrpc_params_parse(call, params, p, 3) < 0)
                return 0;
        return jsonrpc_call_error(call, -32001, "no VM named '%s'", json_object_get_string(name));
}

static int m_fail(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        return -EIO;
}

static int m_later(struct jsonrpc_call *call, struct json_object *params, void *userdata)
{
        struct held *h = userdata;

        if (h->n < 8)
                h->calls[h->n++] = jsonrpc_call_ref(call);
        return 0;
}

static const struct jsonrpc_method methods[] = {
        { "echo", m_echo, 0 }, { "vm.get", m_named, 0 }, { "fail", m_fail, 0 }, { "later", m_later, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static sd_event *e;
        struct jsonrpc_conn *c = NULL;
        struct held h = { .n = 0 };
        char sink[65536];
        int s[2];

        if (!e && sd_event_new(&e) < 0)
                abort();
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s) < 0)
                abort();
        if (jsonrpc_conn_new(e, s[0], methods, 4, &h, &c) < 0)
                abort();
        jsonrpc_conn_set_limits(c, 4096, 1 << 20);
        /* Half through the socket (reads, EOF), half as a handshake's leftover. */
        if (size > 1) {
                (void)jsonrpc_conn_feed(c, data, size / 2);
                (void)!write(s[1], data + size / 2, size - size / 2);
        } else
                (void)!write(s[1], data, size);
        shutdown(s[1], SHUT_WR);
        for (int i = 0; i < 64; i++) {
                if (sd_event_run(e, 0) <= 0 && i > 4)
                        break;
                while (read(s[1], sink, sizeof(sink)) > 0)
                        ;
        }
        for (size_t i = 0; i < h.n; i++) {
                jsonrpc_call_reply(h.calls[i], json_object_new_int((int)i));
                jsonrpc_call_unref(h.calls[i]);
        }
        jsonrpc_conn_close(c);
        jsonrpc_conn_unref(c);
        for (int i = 0; i < 4; i++)
                sd_event_run(e, 0);
        close(s[1]);
        return 0;
}
