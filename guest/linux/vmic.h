/* SPDX-License-Identifier: MIT */
/*
 * vmic, the integration services daemon for Linux guests (vmms-ic(7)): the protocol
 * engine. It serves one fd per service (the virtio-console ports
 * /dev/virtio-ports/org.vmms.*, or sockets in tests) and reaches the system only through
 * struct vmic_ops, so its tests run on any host without a VM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <abi/ic.h>

#define VMIC_VERSION "0.1.0"
#define VMIC_KVP_REFRESH_MS 30000u

struct vmic;

struct vmic_ops {
        /* Shut the guest down; called after the acknowledgement went out. */
        int (*shutdown)(void *userdata, bool reboot, const char *reason);
        /* The guest's clock (CLOCK_REALTIME). */
        void (*clock_get)(void *userdata, struct timespec *ret);
        int (*clock_set)(void *userdata, const struct timespec *ts);
        int (*clock_slew)(void *userdata, int64_t delta_ms);
        /* What the guest reports about itself: calls vmic_kvp_report() for each key. */
        void (*kvp_collect)(void *userdata, struct vmic *v);
};

struct vmic_config {
        const char *fcopy_root;         /* copies only below this directory ("/": anywhere) */
        const char *kvp_dir;            /* DIR/host/KEY mirrors the host pool, DIR/guest/KEY
                                           adds keys to the guest pool; NULL: no files */
        bool refuse_shutdown;           /* answer shutdown requests with IC_ERR_REFUSED */
        bool set_clock;                 /* step or slew the clock (else only report) */
        bool verbose;
};

int vmic_new(const struct vmic_config *cfg, const struct vmic_ops *ops, void *userdata, struct vmic **ret);
void vmic_free(struct vmic *v);

/* Serve service s on fd (taken; made non-blocking): sends the hello. */
int vmic_attach(struct vmic *v, enum ic_service s, int fd);
void vmic_detach(struct vmic *v, enum ic_service s);
bool vmic_attached(struct vmic *v, enum ic_service s);
/* Read what fd s has and handle the lines; -EPIPE when the other end went away. */
int vmic_port_read(struct vmic *v, enum ic_service s);
/* Wait up to timeout_ms for input on every attached fd and handle it; refreshes the guest
 * pool when due. Returns 0, or a negative errno from poll(). Ports that fail are detached. */
int vmic_poll_once(struct vmic *v, int timeout_ms);
/* The guest pool: report a key (from kvp_collect), then send what changed. */
void vmic_kvp_report(struct vmic *v, const char *key, const char *value);
void vmic_kvp_refresh(struct vmic *v);
/* The host pool as received (a copy; NULL when absent). */
char *vmic_kvp_host_get(struct vmic *v, const char *key);
/* Whether the host said hello on s. */
bool vmic_connected(struct vmic *v, enum ic_service s);

/* vmic-sys.c: the real system. */
extern const struct vmic_ops vmic_sys_ops;
