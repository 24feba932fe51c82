/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (device type 1, virtio 1.2 section 5.1): feature bits, configuration layout,
 * the per-packet header, and the control queue's commands. Little-endian fields.
 *
 * Queues: receiveq(k) = 2k, transmitq(k) = 2k + 1 for k < N, controlq = 2N, where N is
 * max_virtqueue_pairs when VIRTIO_NET_F_MQ is negotiated and 1 otherwise.
 *
 * Only <stdint.h> and friends: this header is compiled hosted and freestanding.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Feature bits (5.1.3) */
#define VIRTIO_NET_F_CSUM               0u      /* device takes partially checksummed packets */
#define VIRTIO_NET_F_GUEST_CSUM         1u      /* driver takes partially checksummed packets */
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2u
#define VIRTIO_NET_F_MTU                3u
#define VIRTIO_NET_F_MAC                5u
#define VIRTIO_NET_F_GUEST_TSO4         7u
#define VIRTIO_NET_F_GUEST_TSO6         8u
#define VIRTIO_NET_F_GUEST_ECN          9u
#define VIRTIO_NET_F_GUEST_UFO          10u
#define VIRTIO_NET_F_HOST_TSO4          11u
#define VIRTIO_NET_F_HOST_TSO6          12u
#define VIRTIO_NET_F_HOST_ECN           13u
#define VIRTIO_NET_F_HOST_UFO           14u
#define VIRTIO_NET_F_MRG_RXBUF          15u
#define VIRTIO_NET_F_STATUS             16u
#define VIRTIO_NET_F_CTRL_VQ            17u
#define VIRTIO_NET_F_CTRL_RX            18u
#define VIRTIO_NET_F_CTRL_VLAN          19u
#define VIRTIO_NET_F_CTRL_RX_EXTRA      20u
#define VIRTIO_NET_F_GUEST_ANNOUNCE     21u
#define VIRTIO_NET_F_MQ                 22u
#define VIRTIO_NET_F_CTRL_MAC_ADDR      23u
#define VIRTIO_NET_F_GUEST_USO4         54u
#define VIRTIO_NET_F_GUEST_USO6         55u
#define VIRTIO_NET_F_HOST_USO           56u
#define VIRTIO_NET_F_HASH_REPORT        57u
#define VIRTIO_NET_F_GUEST_HDRLEN       59u
#define VIRTIO_NET_F_RSS                60u
#define VIRTIO_NET_F_SPEED_DUPLEX       63u

/* status (VIRTIO_NET_F_STATUS) */
#define VIRTIO_NET_S_LINK_UP            1u
#define VIRTIO_NET_S_ANNOUNCE           2u

#define VIRTIO_NET_MQ_PAIRS_MIN         1u
#define VIRTIO_NET_MQ_PAIRS_MAX         0x8000u

struct virtio_net_config {
        uint8_t mac[6];
        uint16_t status;
        uint16_t max_virtqueue_pairs;
        uint16_t mtu;
        uint32_t speed;
        uint8_t duplex;
        uint8_t rss_max_key_size;
        uint16_t rss_max_indirection_table_length;
        uint32_t supported_hash_types;
};
_Static_assert(sizeof(struct virtio_net_config) == 24, "virtio_net_config size");
_Static_assert(offsetof(struct virtio_net_config, status) == 6, "status");
_Static_assert(offsetof(struct virtio_net_config, max_virtqueue_pairs) == 8, "max_virtqueue_pairs");
_Static_assert(offsetof(struct virtio_net_config, mtu) == 10, "mtu");
_Static_assert(offsetof(struct virtio_net_config, speed) == 12, "speed");
_Static_assert(offsetof(struct virtio_net_config, duplex) == 16, "duplex");
_Static_assert(offsetof(struct virtio_net_config, rss_max_key_size) == 17, "rss_max_key_size");
_Static_assert(offsetof(struct virtio_net_config, rss_max_indirection_table_length) == 18, "rss_max_ind");
_Static_assert(offsetof(struct virtio_net_config, supported_hash_types) == 20, "supported_hash_types");

/*
 * The header in front of every packet on every receive and transmit queue (5.1.6). With
 * VIRTIO_F_VERSION_1 it always includes num_buffers: 12 bytes. It is also the TAP's
 * vnet header when TUNSETVNETHDRSZ is 12 (the kernel's struct virtio_net_hdr_mrg_rxbuf).
 */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM     1u
#define VIRTIO_NET_HDR_F_DATA_VALID     2u
#define VIRTIO_NET_HDR_F_RSC_INFO       4u

#define VIRTIO_NET_HDR_GSO_NONE         0u
#define VIRTIO_NET_HDR_GSO_TCPV4        1u
#define VIRTIO_NET_HDR_GSO_UDP          3u
#define VIRTIO_NET_HDR_GSO_TCPV6        4u
#define VIRTIO_NET_HDR_GSO_UDP_L4       5u
#define VIRTIO_NET_HDR_GSO_ECN          0x80u

struct virtio_net_hdr {
        uint8_t flags;
        uint8_t gso_type;
        uint16_t hdr_len;
        uint16_t gso_size;
        uint16_t csum_start;
        uint16_t csum_offset;
        uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio_net_hdr size");
_Static_assert(offsetof(struct virtio_net_hdr, gso_type) == 1, "gso_type");
_Static_assert(offsetof(struct virtio_net_hdr, hdr_len) == 2, "hdr_len");
_Static_assert(offsetof(struct virtio_net_hdr, gso_size) == 4, "gso_size");
_Static_assert(offsetof(struct virtio_net_hdr, csum_start) == 6, "csum_start");
_Static_assert(offsetof(struct virtio_net_hdr, csum_offset) == 8, "csum_offset");
_Static_assert(offsetof(struct virtio_net_hdr, num_buffers) == 10, "num_buffers");
#define VIRTIO_NET_HDR_SIZE             12u

/* Largest packets (5.1.6.3): 14 + 40 + 65535 with GSO, 1514 without (no VLAN tag). */
#define VIRTIO_NET_MAX_GSO_PACKET       65589u
#define VIRTIO_NET_MAX_PACKET           1514u
#define VIRTIO_NET_ETH_HLEN             14u
#define VIRTIO_NET_VLAN_HLEN            4u

/*
 * The control queue (5.1.6.5): { u8 class; u8 command; data...; } device-readable, then
 * one device-writable ack byte.
 */
struct virtio_net_ctrl_hdr {
        uint8_t cls;
        uint8_t cmd;
};
_Static_assert(sizeof(struct virtio_net_ctrl_hdr) == 2, "virtio_net_ctrl_hdr size");

#define VIRTIO_NET_OK                   0u
#define VIRTIO_NET_ERR                  1u

#define VIRTIO_NET_CTRL_RX              0u
#define  VIRTIO_NET_CTRL_RX_PROMISC     0u
#define  VIRTIO_NET_CTRL_RX_ALLMULTI    1u
#define  VIRTIO_NET_CTRL_RX_ALLUNI      2u
#define  VIRTIO_NET_CTRL_RX_NOMULTI     3u
#define  VIRTIO_NET_CTRL_RX_NOUNI       4u
#define  VIRTIO_NET_CTRL_RX_NOBCAST     5u

#define VIRTIO_NET_CTRL_MAC             1u
#define  VIRTIO_NET_CTRL_MAC_TABLE_SET  0u      /* two tables: le32 n; u8 mac[n][6] */
#define  VIRTIO_NET_CTRL_MAC_ADDR_SET   1u      /* u8 mac[6] */

#define VIRTIO_NET_CTRL_VLAN            2u
#define  VIRTIO_NET_CTRL_VLAN_ADD       0u
#define  VIRTIO_NET_CTRL_VLAN_DEL       1u

#define VIRTIO_NET_CTRL_ANNOUNCE        3u
#define  VIRTIO_NET_CTRL_ANNOUNCE_ACK   0u

#define VIRTIO_NET_CTRL_MQ              4u
#define  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0u     /* le16 virtqueue_pairs */
#define  VIRTIO_NET_CTRL_MQ_RSS_CONFIG  1u
#define  VIRTIO_NET_CTRL_MQ_HASH_CONFIG 2u

#define VIRTIO_NET_CTRL_GUEST_OFFLOADS  5u
#define  VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0u  /* le64 offloads (VIRTIO_NET_F_GUEST_* bits) */

struct virtio_net_ctrl_mac {
        uint32_t entries;
        uint8_t macs[][6];
};
_Static_assert(sizeof(struct virtio_net_ctrl_mac) == 4, "virtio_net_ctrl_mac size");
_Static_assert(offsetof(struct virtio_net_ctrl_mac, macs) == 4, "virtio_net_ctrl_mac.macs");

struct virtio_net_ctrl_mq {
        uint16_t virtqueue_pairs;
};
_Static_assert(sizeof(struct virtio_net_ctrl_mq) == 2, "virtio_net_ctrl_mq size");
