/* SPDX-License-Identifier: MIT */
/* Inside vmic's engine: ports, pools and the file copy in progress. */
#pragma once

#include <stdarg.h>

#include <abi/ic_msg.h>
#include "vmic.h"

struct vmic_port {
        int fd;                         /* -1: not attached */
        bool connected;                 /* the host answered our hello */
        char *in;
        size_t in_len, in_max;
        bool discarding;                /* a line over the limit: drop to "\n" */
};

struct vmic_kv {
        char *key, *value;
        bool sent, seen;
};

struct vmic_pool {
        struct vmic_kv e[IC_KVP_POOL_MAX];
        unsigned n;
};

struct vmic_fcopy {
        bool active;
        uint64_t id;
        char path[IC_FCOPY_PATH_MAX + 1];
        char tmp[IC_FCOPY_PATH_MAX + 256];
        int fd;
        unsigned mode;
        uint64_t size, written, next_seq;
        uint32_t crc;
        uint8_t *chunk;
};

struct vmic {
        struct vmic_config cfg;
        const struct vmic_ops *ops;
        void *userdata;
        struct vmic_port port[IC_SVC_COUNT];
        char *out;                      /* one outgoing line */
        struct vmic_pool host, guest;
        uint64_t next_refresh;
        struct vmic_fcopy fc;
};

void vmic_log(struct vmic *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write a finished message to port s; -EPIPE/-ETIMEDOUT/-ENOBUFS. */
int vmic_send(struct vmic *v, enum ic_service s, struct ic_writer *w);
void vmic_begin(struct vmic *v, struct ic_writer *w, const char *type);
int vmic_error(struct vmic *v, enum ic_service s, uint64_t id, unsigned code, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
int vmic_ack(struct vmic *v, enum ic_service s, uint64_t id, int64_t seq);
uint64_t vmic_msg_id(const struct ic_msg *m);

/* vmic-fcopy.c */
void vmic_fcopy_message(struct vmic *v, const struct ic_msg *m);
void vmic_fcopy_abort(struct vmic *v);
