/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (device type 3, virtio 1.2 section 5.3): feature bits, configuration
 * layout and the multiport control messages. Little-endian fields.
 *
 * Queue layout: 0/1 are port 0's receiveq/transmitq, 2/3 the control receiveq/transmitq,
 * then 4 + 2 * (p - 1) and 5 + 2 * (p - 1) are port p's (p >= 1). "Receive" is from the
 * driver's point of view: the device writes into receiveq buffers.
 *
 * Only <stdint.h> and friends: this header is compiled hosted and freestanding.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_CONSOLE_F_SIZE         0u
#define VIRTIO_CONSOLE_F_MULTIPORT    1u
#define VIRTIO_CONSOLE_F_EMERG_WRITE  2u

struct virtio_console_config {
        uint16_t cols;
        uint16_t rows;
        uint32_t max_nr_ports;
        uint32_t emerg_wr;
};
_Static_assert(sizeof(struct virtio_console_config) == 12, "virtio_console_config size");
_Static_assert(offsetof(struct virtio_console_config, max_nr_ports) == 4, "max_nr_ports");
_Static_assert(offsetof(struct virtio_console_config, emerg_wr) == 8, "emerg_wr");

/* One control message; PORT_NAME is followed by the name (UTF-8, no NUL). */
struct virtio_console_control {
        uint32_t id;            /* port number */
        uint16_t event;         /* VIRTIO_CONSOLE_* below */
        uint16_t value;
};
_Static_assert(sizeof(struct virtio_console_control) == 8, "virtio_console_control size");
_Static_assert(offsetof(struct virtio_console_control, event) == 4, "event");
_Static_assert(offsetof(struct virtio_console_control, value) == 6, "value");

#define VIRTIO_CONSOLE_DEVICE_READY   0u        /* driver → device, value 1 = ok */
#define VIRTIO_CONSOLE_DEVICE_ADD     1u        /* device → driver: a new port */
#define VIRTIO_CONSOLE_DEVICE_REMOVE  2u        /* device → driver */
#define VIRTIO_CONSOLE_PORT_READY     3u        /* driver → device, value 1 = ok */
#define VIRTIO_CONSOLE_CONSOLE_PORT   4u        /* device → driver */
#define VIRTIO_CONSOLE_RESIZE         5u        /* device → driver */
#define VIRTIO_CONSOLE_PORT_OPEN      6u        /* both ways, value 1 = open, 0 = closed */
#define VIRTIO_CONSOLE_PORT_NAME      7u        /* device → driver, name follows */

/* Queue numbers of port p (p < max_nr_ports). */
#define VIRTIO_CONSOLE_CTRL_RX        2u
#define VIRTIO_CONSOLE_CTRL_TX        3u
#define VIRTIO_CONSOLE_PORT_RX(p)     ((p) == 0 ? 0u : 2u + 2u * (unsigned)(p))
#define VIRTIO_CONSOLE_PORT_TX(p)     (VIRTIO_CONSOLE_PORT_RX(p) + 1u)
#define VIRTIO_CONSOLE_NUM_QUEUES(max_ports) (2u + 2u * (unsigned)(max_ports))
