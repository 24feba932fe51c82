/* SPDX-License-Identifier: MIT */
/*
 * The virtio-console driver (virtio 1.2 section 5.3) with VIRTIO_CONSOLE_F_MULTIPORT, on the
 * virtio-pci transport: the control queues, named ports as the device adds them, byte
 * streams in and out. It carries the integration services (ic.c); port 0 is not used.
 *
 * Receive buffers are 4 KiB slots, 16 a port, handed back as soon as their bytes were given
 * to the owner's callback. Transmit copies into 4 KiB slots. All receive queues and the
 * control receive queue share one MSI-X vector, so a CPU can sleep until any of them has
 * something; one CPU drives the device.
 */
#pragma once

#include <abi/ic.h>
#include <abi/virtio_console.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/virtio_pci.h"
#include "kernel/virtqueue.h"

#define GUEST_CON_MAX_PORTS     8u
#define GUEST_CON_QSIZE         32u
#define GUEST_CON_BUF           4096u
#define GUEST_CON_RX_BUFS       16u
#define GUEST_CON_TX_SLOTS      16u
#define GUEST_CON_CTRL_BUFS     8u
#define GUEST_CON_CTRL_BUF      128u

struct guest_con;

/* Bytes arrived on port id (a piece of the stream; lines may span calls). */
typedef void (*guest_con_data_fn)(void *userdata, unsigned id, const uint8_t *data, size_t len);

struct guest_con_port {
        bool added;                     /* DEVICE_ADD seen, queues running */
        bool host_open;                 /* the device's PORT_OPEN */
        bool guest_open;                /* ours */
        char name[IC_PORT_NAME_MAX + 1];
        struct guest_vq rx, tx;
        uint8_t *rx_bufs;               /* [GUEST_CON_RX_BUFS][GUEST_CON_BUF] */
        uint8_t *tx_bufs;               /* [GUEST_CON_TX_SLOTS][GUEST_CON_BUF] */
        uint16_t tx_free[GUEST_CON_TX_SLOTS];
        uint16_t tx_nfree;
        uint64_t rx_bytes, tx_bytes;
};

struct guest_con {
        struct guest_virtio_pci vp;
        char name[8];
        bool started;
        unsigned max_ports;             /* from the configuration, capped */
        struct guest_vq crx, ctx;
        uint8_t *ctrl_bufs;             /* [GUEST_CON_CTRL_BUFS] receive + [GUEST_CON_CTRL_BUFS] send */
        uint16_t ctrl_tx_next;
        struct guest_con_port ports[GUEST_CON_MAX_PORTS];
        int vector;
        volatile uint64_t irqs;
        guest_con_data_fn on_data;
        void *userdata;
        uint64_t ctrl_msgs, bad_ctrl;
};

/* Find the first virtio-console function, start it and announce DEVICE_READY. */
int guest_con_start(guest_con_data_fn on_data, void *userdata, struct guest_con **ret);
/* The port the device named so, or -ENOENT (yet). */
int guest_con_find(struct guest_con *c, const char *name);
/* Tell the device the guest end of a port is open (or closed). */
int guest_con_open(struct guest_con *c, unsigned id, bool open);
/*
 * Handle what the device did: control messages, received bytes (through on_data), finished
 * transmissions. Returns how many things happened, or -EIO when the device needs a reset.
 */
int guest_con_poll(struct guest_con *c);
/* Send len bytes on port id, waiting for slots until deadline_ns; bytes sent or -ETIMEDOUT. */
int guest_con_write(struct guest_con *c, unsigned id, const void *data, size_t len, uint64_t deadline_ns);
/* Wait until the device has taken everything sent on port id (or deadline_ns passed). */
int guest_con_flush(struct guest_con *c, unsigned id, uint64_t deadline_ns);
/* Ask for interrupts on every receive queue; false when there is work already (do not sleep). */
bool guest_con_arm(struct guest_con *c);
