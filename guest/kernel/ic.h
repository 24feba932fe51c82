/* SPDX-License-Identifier: MIT */
/*
 * The integration services in the guest kernel (vmms-ic(7)): heartbeat, shutdown, time
 * sync, key-value exchange and file copy over the named ports of the virtio-console
 * device. Copied files live in an in-memory file table (the kernel has no file system);
 * the host can ask for a file's size and CRC-32 to check a copy.
 *
 * Command line: hostname= (reported as FullyQualifiedDomainName), ip= (NetworkAddressIPv4),
 * ic_ignore_shutdown=1 (ignore shutdown requests and the power button: a hung guest),
 * ic_fcopy_mib= (room for copied files, default a quarter of RAM up to 64 MiB).
 */
#pragma once

#include <abi/ic.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/ic_json.h"
#include "kernel/lib.h"
#include "kernel/virtio_console.h"

#define GUEST_IC_FILES          16u
#define GUEST_IC_HOST_KEYS      32u
#define GUEST_IC_WRITE_NS       (5000ull * 1000000)

struct guest_ic_port {
        int id;                         /* console port, -1: none */
        bool connected;                 /* the host answered our hello */
        char *line;
        size_t len, max;
        bool discarding;
};

struct guest_ic_file {
        bool used;
        char path[IC_FCOPY_PATH_MAX + 1];
        uint64_t off, cap, size;        /* in the arena */
        uint32_t crc;
};

struct guest_ic {
        struct guest_con *con;
        struct guest_ic_port port[IC_SVC_COUNT];
        char *out;                      /* one outgoing line */
        bool ignore_shutdown;

        bool time_set;
        int64_t utc_offset_ns;          /* UTC = guest_time_ns() + offset */

        unsigned n_host;
        struct {
                char key[IC_KVP_KEY_MAX + 1];
                char *value;            /* IC_KVP_VALUE_MAX + 1 bytes each */
                size_t len;
        } host[GUEST_IC_HOST_KEYS];

        uint8_t *arena;
        uint64_t arena_size;
        struct guest_ic_file files[GUEST_IC_FILES];
        struct {
                bool active;
                uint64_t id;
                struct guest_ic_file f; /* the file being received, not yet in the table */
                uint64_t next_seq;
        } fc;

        uint64_t pings, lines_in, bad_lines;
};

/*
 * Start the console device, wait (up to timeout_ms) until the device has named its ports,
 * open every org.vmms.* port and say hello on each. -ENODEV without the device.
 */
int guest_ic_start(uint64_t timeout_ms, struct guest_ic **ret);
/* Serve the services until the guest shuts down; never returns. */
_noreturn_ void guest_ic_serve(struct guest_ic *ic);
/* Handle whatever arrived; returns how much happened (0: nothing), or -EIO. */
int guest_ic_poll(struct guest_ic *ic);
/* Write raw bytes on a service's port (the hostile scenario uses this). */
int guest_ic_write_raw(struct guest_ic *ic, enum ic_service s, const void *data, size_t len, uint64_t deadline_ns);
/* Send one finished line (from ic->out via guest_ic_begin/guest_ic_end). */
int guest_ic_send(struct guest_ic *ic, enum ic_service s, struct ic_writer *w);
void guest_ic_reply_error(struct guest_ic *ic, enum ic_service s, uint64_t id, unsigned code, const char *msg);

/* ic_fcopy.c */
int guest_ic_fcopy_init(struct guest_ic *ic);
void guest_ic_fcopy_message(struct guest_ic *ic, const struct ic_msg *m);
const struct guest_ic_file *guest_ic_file_find(struct guest_ic *ic, const char *path);
