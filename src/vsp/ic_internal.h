/* SPDX-License-Identifier: MIT */
/*
 * Inside the IC engine: the per-port session (framing, budgets, violations), the state of
 * each service and the helpers the service files share. Everything here runs under
 * ic->lock.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmms/vsp_ic.h"
#include <abi/ic_msg.h>

#define IC_EVENTS_MAX           64u
#define IC_ERROR_REPLIES_PER_SEC 10u
#define IC_KVP_QUERIES_MAX      8u
#define IC_KVP_QUERY_TIMEOUT_MS 5000u
#define IC_THROTTLE_RETRY_MS    10u

/* A byte FIFO of whole lines toward the guest. */
struct ic_ring {
        char *buf;
        size_t cap, head, len;
};

struct ic_bucket {
        uint64_t tokens_milli;          /* thousandths of a token */
        uint64_t last_ms;
        uint32_t rate, burst;
};

struct ic_port {
        enum ic_service svc;
        bool enabled;
        bool open;                      /* the guest opened the port */
        bool connected;                 /* hello exchanged */
        bool degraded;
        uint64_t degraded_until;
        unsigned version;
        char agent[IC_AGENT_MAX + 1];

        char *line;                     /* the guest's current line */
        size_t line_len, line_max;
        bool discarding;                /* the current line was too long: drop to "\n" */
        struct ic_ring out;
        struct ic_bucket lines, bytes;
        bool throttled;

        unsigned window_violations;
        uint64_t window_start;
        uint64_t err_window_start;
        unsigned err_replies;

        struct vsp_ic_service_status st;
};

struct ic_kvp_entry {
        char *key;
        char *value;
        bool dirty;                     /* host pool: still to be sent */
        bool deleted;                   /* host pool: a delete still to be sent */
};

struct ic_kvp_pool {
        struct ic_kvp_entry *e[IC_KVP_POOL_MAX];
        unsigned n;
};

struct ic_pending {
        uint64_t id;
        uint64_t deadline;
        bool guest_pool;
        char key[IC_KVP_KEY_MAX + 1];
};

enum ic_fcopy_phase {
        IC_FCOPY_IDLE,
        IC_FCOPY_STARTING,              /* "start" queued or sent, waiting for its ack */
        IC_FCOPY_SENDING,
        IC_FCOPY_ENDING,                /* "end" sent, waiting for "done" */
};

struct vsp_ic {
        pthread_mutex_t lock;
        struct ic_port port[IC_SVC_COUNT];
        uint64_t (*now_ms)(void *opaque);
        void *clock_opaque;
        void (*wake)(void *opaque);
        void *wake_opaque;
        uint64_t next_id;
        char *scratch;                  /* one outgoing line, IC_FCOPY_LINE_MAX */

        int event_fd;
        struct vsp_ic_event events[IC_EVENTS_MAX];
        unsigned ev_head, ev_len;

        struct {
                unsigned interval_ms;
                enum vsp_ic_heartbeat state;
                bool critical;
                uint64_t last_seen;
                uint64_t next_ping;
                uint64_t seq_sent, seq_acked;
        } hb;
        struct {
                uint64_t id;            /* 0: none pending */
                uint64_t deadline;
        } shutdown;
        struct {
                uint64_t seq;
                uint64_t next_periodic;
                uint64_t last_sent;
                bool synced;
                int64_t offset_ms;
                char action[8];
        } ts;
        struct {
                struct ic_kvp_pool host, guest;
                uint64_t last_set_id;
                struct ic_pending queries[IC_KVP_QUERIES_MAX];
        } kvp;
        struct {
                enum ic_fcopy_phase phase;
                uint64_t id;
                int fd;
                char path[IC_FCOPY_PATH_MAX + 1];
                unsigned mode;
                bool overwrite, mkdirs;
                uint64_t size, sent, acked_bytes;
                uint64_t seq_next;      /* next chunk to send */
                uint64_t seq_acked;     /* chunks acknowledged (count) */
                uint32_t crc;
                uint64_t last_progress;
                uint8_t *chunk;
                struct ic_pending stat;
        } fc;
};

/* ic.c */
uint64_t ic_now(struct vsp_ic *ic);
uint64_t ic_new_id(struct vsp_ic *ic);
/* Queue one whole line (from ic_writer); -ENOBUFS when the port's ring has no room. */
int ic_send(struct vsp_ic *ic, struct ic_port *p, struct ic_writer *w);
size_t ic_ring_free(const struct ic_ring *r);
/* Start a message in the scratch buffer. */
void ic_begin(struct vsp_ic *ic, struct ic_writer *w, const char *type);
/* Answer the guest with an error (rate-limited); id 0 = no id member. */
void ic_reply_error(struct vsp_ic *ic, struct ic_port *p, uint64_t id, unsigned code,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Count a protocol violation; enough of them degrade the port. */
void ic_violation(struct vsp_ic *ic, struct ic_port *p, const char *why);
struct vsp_ic_event *ic_event_new(struct vsp_ic *ic, enum vsp_ic_event_type type);
void ic_event_message(struct vsp_ic_event *ev, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* A type this port does not take from a guest: a violation, answered with an error. */
void ic_unknown_type(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m);
/* Error code and message of a guest's error reply (defaults when absent). */
void ic_msg_error(const struct ic_msg *m, unsigned *ret_code, const char **ret_text);
/* An "id" member that is a positive integer, or 0. */
uint64_t ic_msg_id(const struct ic_msg *m);

/* ic_services.c: heartbeat, shutdown, timesync */
void ic_heartbeat_connect(struct vsp_ic *ic, bool connected);
void ic_heartbeat_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m);
void ic_heartbeat_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next);
void ic_shutdown_connect(struct vsp_ic *ic, bool connected);
void ic_shutdown_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m);
void ic_shutdown_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next);
void ic_timesync_connect(struct vsp_ic *ic, bool connected);
void ic_timesync_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m);
void ic_timesync_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next);
int ic_timesync_send(struct vsp_ic *ic, const char *reason);

/* ic_kvp.c */
void ic_kvp_connect(struct vsp_ic *ic, bool connected);
void ic_kvp_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m);
void ic_kvp_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next);
void ic_kvp_pump(struct vsp_ic *ic);
void ic_kvp_done(struct vsp_ic *ic);

/* ic_fcopy.c */
void ic_fcopy_connect(struct vsp_ic *ic, bool connected);
void ic_fcopy_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m);
void ic_fcopy_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next);
void ic_fcopy_pump(struct vsp_ic *ic);
void ic_fcopy_done(struct vsp_ic *ic);
/* End the running transfer with an event (error 0 = success); tell_guest sends "cancel". */
void ic_fcopy_finish(struct vsp_ic *ic, unsigned error, bool tell_guest, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
