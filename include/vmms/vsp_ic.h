/* SPDX-License-Identifier: MIT */
/*
 * Integration services, host side: the engine that speaks vmms-ic(7) with a guest over
 * five named ports, and the virtio-console device (src/vsp/console.c) that carries them.
 *
 * Threads: the device's I/O thread feeds the transport side (vsp_ic_port_*, vsp_ic_tick);
 * vmwp's main thread uses the API (status, requests, events). Both may run at once: the
 * engine has one lock and never calls out while holding it, except the wake-up callback
 * (which only writes an eventfd). Requests that need the guest's answer complete with an
 * event (vsp_ic_event_fd() turns readable, vsp_ic_pop_event() takes them), matched by id.
 *
 * A guest can only hurt its own services: every line is bounded, input is rate-limited
 * (the device stops taking the guest's buffers while a port is over budget) and a port
 * that keeps breaking the protocol is marked degraded and ignored for a while.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <abi/ic.h>

struct vmbus;
struct vsp_ic;

enum vsp_ic_heartbeat {
        VSP_IC_HEARTBEAT_DISABLED,
        VSP_IC_HEARTBEAT_NO_CONTACT,    /* never answered since the port opened */
        VSP_IC_HEARTBEAT_OK,
        VSP_IC_HEARTBEAT_LOST,          /* no answer in IC_HEARTBEAT_LOST_INTERVALS intervals */
};

enum vsp_ic_state {
        VSP_IC_STATE_DISABLED,          /* switched off in the VM's configuration */
        VSP_IC_STATE_CLOSED,            /* the guest has not opened the port */
        VSP_IC_STATE_OPEN,              /* opened, no hello yet */
        VSP_IC_STATE_CONNECTED,
        VSP_IC_STATE_DEGRADED,          /* the guest broke the protocol: ignored for a while */
};

struct vsp_ic_config {
        bool enabled[IC_SVC_COUNT];
        unsigned heartbeat_interval_ms;         /* 0: IC_HEARTBEAT_INTERVAL_MS */
};

struct vsp_ic_service_status {
        enum vsp_ic_state state;
        unsigned version;
        char agent[IC_AGENT_MAX + 1];
        uint64_t lines_in, lines_out, bytes_in, bytes_out;
        uint64_t violations;            /* protocol violations, all time */
        uint64_t throttled;             /* times the port ran out of input budget */
        uint64_t dropped;               /* host messages dropped: the guest took no buffers */
        char last_violation[96];
};

struct vsp_ic_status {
        struct vsp_ic_service_status svc[IC_SVC_COUNT];
        enum vsp_ic_heartbeat heartbeat;
        bool heartbeat_critical;        /* the guest reports its applications critical */
        uint64_t heartbeat_age_ms;      /* since the last answer; UINT64_MAX: none */
        bool time_synced;
        int64_t time_offset_ms;         /* guest minus host, as the guest last reported it */
        char time_action[8];
        unsigned kvp_host_keys, kvp_guest_keys;
        bool fcopy_active;
        uint64_t fcopy_id, fcopy_sent, fcopy_size;
};

enum vsp_ic_event_type {
        VSP_IC_EVENT_HEARTBEAT,         /* heartbeat changed: heartbeat, heartbeat_old */
        VSP_IC_EVENT_SERVICE,           /* a service's state changed: svc, state, state_old */
        VSP_IC_EVENT_SHUTDOWN,          /* the answer to vsp_ic_shutdown(): id, error */
        VSP_IC_EVENT_KVP,               /* the answer to vsp_ic_kvp_query(), or a refused set */
        VSP_IC_EVENT_FCOPY,             /* a copy ended: id, error, size, crc32 */
        VSP_IC_EVENT_FCOPY_STAT,        /* the answer to vsp_ic_fcopy_stat(): id, error, size, crc32 */
};

struct vsp_ic_event {
        enum vsp_ic_event_type type;
        enum ic_service svc;
        uint64_t id;
        unsigned error;                 /* IC_ERR_*, 0 for success */
        char message[256];              /* the guest's or the host's words for the error */
        enum vsp_ic_heartbeat heartbeat, heartbeat_old;
        enum vsp_ic_state state, state_old;
        uint64_t size;
        uint32_t crc32;
        char key[IC_KVP_KEY_MAX + 1];
        char *value;                    /* KVP: malloc'd, the receiver frees it */
};

/* The engine. Requests and status work before the device exists or the guest connects. */
int vsp_ic_new(const struct vsp_ic_config *cfg, struct vsp_ic **ret);
void vsp_ic_free(struct vsp_ic *ic);
/* For tests: a millisecond clock other than CLOCK_MONOTONIC. */
void vsp_ic_set_clock(struct vsp_ic *ic, uint64_t (*now_ms)(void *opaque), void *opaque);

/*
 * Plug the virtio-console device carrying ic's enabled services into the bus. The bus owns
 * the device; ic must outlive the bus.
 */
int vsp_console_add(struct vmbus *bus, struct vsp_ic *ic);

/* Events: the fd is readable while events are queued. 1 and *ret filled, or 0. */
int vsp_ic_event_fd(struct vsp_ic *ic);
int vsp_ic_pop_event(struct vsp_ic *ic, struct vsp_ic_event *ret);
void vsp_ic_event_done(struct vsp_ic_event *ev);

void vsp_ic_get_status(struct vsp_ic *ic, struct vsp_ic_status *ret);
bool vsp_ic_enabled(struct vsp_ic *ic, enum ic_service s);
bool vsp_ic_connected(struct vsp_ic *ic, enum ic_service s);
const char *vsp_ic_heartbeat_to_string(enum vsp_ic_heartbeat h);       /* "OK", "Lost", ... */
const char *vsp_ic_state_to_string(enum vsp_ic_state s);
const char *vsp_ic_error_to_string(unsigned code);                     /* IC_ERR_* */

/*
 * Requests. Common errors: -EOPNOTSUPP (service disabled), -ENOTCONN (the guest does not
 * run it now), -EBUSY (one of its kind is running), -EINVAL/-E2BIG (bad or oversized
 * arguments).
 */
int vsp_ic_shutdown(struct vsp_ic *ic, bool reboot, const char *reason, uint64_t *ret_id);
int vsp_ic_timesync(struct vsp_ic *ic, const char *reason);
/* The host pool: kept while the engine lives, sent to the guest whenever it connects. */
int vsp_ic_kvp_set(struct vsp_ic *ic, const char *key, const char *value);
int vsp_ic_kvp_delete(struct vsp_ic *ic, const char *key);
/* A copy of a pool's value from the host's side (the guest pool as last reported). */
int vsp_ic_kvp_get(struct vsp_ic *ic, bool guest_pool, const char *key, char **ret_value);
/* Every key of a pool, in insertion order, while fn returns >= 0. */
int vsp_ic_kvp_foreach(struct vsp_ic *ic, bool guest_pool,
                       int (*fn)(const char *key, const char *value, void *userdata), void *userdata);
/* Ask the guest for its copy of a key: a VSP_IC_EVENT_KVP answers. */
int vsp_ic_kvp_query(struct vsp_ic *ic, bool guest_pool, const char *key, uint64_t *ret_id);
/* Copy fd (taken, also on failure; a regular file) to path in the guest. */
int vsp_ic_fcopy_start(struct vsp_ic *ic, int fd, const char *guest_path, unsigned mode,
                       bool overwrite, bool mkdirs, uint64_t *ret_id);
int vsp_ic_fcopy_cancel(struct vsp_ic *ic, uint64_t id);
int vsp_ic_fcopy_stat(struct vsp_ic *ic, const char *guest_path, uint64_t *ret_id);

/*
 * The transport side, for the device (and for tests and harnesses that carry the byte
 * streams some other way). wake(opaque) runs when a port has new output or timers moved.
 */
void vsp_ic_set_wakeup(struct vsp_ic *ic, void (*wake)(void *opaque), void *opaque);
void vsp_ic_port_open(struct vsp_ic *ic, enum ic_service s, bool open);
/* Feed the guest's bytes; returns how many were taken (fewer when over budget). */
size_t vsp_ic_port_input(struct vsp_ic *ic, enum ic_service s, const void *buf, size_t len);
/* Take up to cap bytes for the guest; 0 when there is nothing. */
size_t vsp_ic_port_output(struct vsp_ic *ic, enum ic_service s, void *buf, size_t cap);
bool vsp_ic_port_has_output(struct vsp_ic *ic, enum ic_service s);
/* Run the timers; returns milliseconds until they need to run again (UINT64_MAX: never). */
uint64_t vsp_ic_tick(struct vsp_ic *ic);
