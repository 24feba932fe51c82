/* SPDX-License-Identifier: MIT */
/* Shared between jsonrpc.c (messages, dispatch, calls) and jsonrpc_conn.c (socket I/O). */
#pragma once

#include <systemd/sd-event.h>

#include "vmms/jsonrpc.h"

/* One queued output message; its fds go with its first byte. */
struct jsonrpc_chunk {
        struct jsonrpc_chunk *next;
        char *data;
        size_t len, off;
        int fds[JSONRPC_FDS_MAX];
        size_t n_fds;
};

/* A request this side sent and waits for. */
struct jsonrpc_pending {
        struct jsonrpc_pending *next;
        int64_t id;
        jsonrpc_reply_fn fn;
        void *userdata;
};

struct jsonrpc_conn {
        unsigned n_ref;
        sd_event *event;
        int fd;
        sd_event_source *io, *close_defer, *feed_defer;
        const struct jsonrpc_method *methods;
        size_t n_methods;
        void *userdata;
        jsonrpc_close_fn on_close;
        size_t max_line, max_output;

        char *in;
        size_t in_len, in_alloc;
        int in_fds[JSONRPC_FDS_MAX];
        size_t n_in_fds;
        bool eof;               /* the peer will send nothing more */
        bool closing;           /* read nothing more; close once the output is written */
        bool closed;
        bool close_notified;

        struct jsonrpc_chunk *out_head, *out_tail;
        size_t out_bytes;

        struct jsonrpc_pending *pending;
        int64_t next_id;
        unsigned n_active;      /* request batches from the peer not yet answered */
};

/* The requests of one line: a single request or a batch. Answered together. */
struct jsonrpc_batch {
        unsigned n_ref;
        struct jsonrpc_conn *conn;
        struct json_object *responses;  /* array */
        bool is_array;
        unsigned n_open;                /* calls not answered yet (+1 while dispatching) */
        int fds[JSONRPC_FDS_MAX];
        size_t n_fds;
};

struct jsonrpc_call {
        unsigned n_ref;
        struct jsonrpc_batch *batch;
        struct json_object *id;
        bool notification, replied;
        const struct jsonrpc_method *method;
};

/* jsonrpc.c */
void jsonrpc_dispatch(struct jsonrpc_conn *c, struct json_object *msg);
void jsonrpc_dispatch_parse_error(struct jsonrpc_conn *c, const char *what);
void jsonrpc_dispatch_too_long(struct jsonrpc_conn *c);

/* jsonrpc_conn.c */
int jsonrpc_conn_queue(struct jsonrpc_conn *c, char *data, size_t len, const int *fds, size_t n_fds);
/* A batch from the peer was answered: maybe the connection can close now. */
void jsonrpc_conn_batch_done(struct jsonrpc_conn *c);
