/* SPDX-License-Identifier: MIT */
/*
 * A tiny IPv4 stack on one virtio-net device: ARP (answers requests for our address, resolves
 * next hops with a small cache), ICMP echo (answers requests, reports replies), UDP (hands
 * datagrams to one callback, sends from a frame built in place). No fragments, no options, no
 * routing beyond "on the subnet, else the gateway". Addresses are in network byte order.
 *
 * The address comes from the command line: ip=A.B.C.D/N (default /24) and gw=A.B.C.D.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/virtio_net.h"

#define GUEST_ARP_SLOTS   16
#define GUEST_ETH_HLEN    14u
#define GUEST_IP_HLEN     20u
#define GUEST_UDP_HLEN    8u
#define GUEST_UDP_HDRS    (GUEST_ETH_HLEN + GUEST_IP_HLEN + GUEST_UDP_HLEN)
#define GUEST_UDP_MAX     (GUEST_NET_FRAME_MAX - GUEST_UDP_HDRS)

static inline uint16_t guest_htons(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t guest_htonl(uint32_t v) { return __builtin_bswap32(v); }
#define guest_ntohs guest_htons
#define guest_ntohl guest_htonl

struct guest_udp_dgram {
        uint32_t src, dst;
        uint16_t sport, dport;
        const uint8_t *data;
        uint32_t len;
};

struct guest_ip;
typedef void (*guest_udp_fn)(struct guest_ip *ip, const struct guest_udp_dgram *d, void *ctx);
typedef void (*guest_icmp_reply_fn)(struct guest_ip *ip, uint32_t src, uint16_t id, uint16_t seq, void *ctx);

struct guest_ip {
        struct guest_net *dev;
        uint32_t addr, mask, gw;
        struct {
                uint32_t ip;
                uint8_t mac[6];
                bool valid;
        } arp[GUEST_ARP_SLOTS];
        unsigned arp_next;
        guest_udp_fn udp;
        guest_icmp_reply_fn icmp_reply;
        void *ctx;
        bool sent;                      /* frames committed since the last kick */
        uint16_t ident;                 /* IPv4 identification */
        uint64_t arp_in, icmp_echo_in, udp_in, dropped, tx_full;
};

/* "A.B.C.D" or "A.B.C.D/N": 0 or -EINVAL. */
int guest_ip_parse(const char *s, uint32_t *ret_addr, unsigned *ret_prefix);
/* "A.B.C.D" into buf (16 bytes). */
const char *guest_ip_format(uint32_t addr, char buf[16]);

/* Bind to a started device; the address from ip=/gw= (-EINVAL when missing or malformed). */
int guest_ip_init(struct guest_ip *ip, struct guest_net *dev);

/* Handle one received frame (replies are committed, not kicked). */
void guest_ip_input(struct guest_ip *ip, const uint8_t *frame, uint32_t len);
/* Take every received frame through guest_ip_input(); kicks what it sent. Returns the count. */
unsigned guest_ip_poll(struct guest_ip *ip);

/* The next hop's MAC for dst: from the cache, else ARP (polling up to timeout_ms). */
int guest_ip_resolve(struct guest_ip *ip, uint32_t dst, uint8_t ret_mac[6], uint64_t timeout_ms);

/*
 * Build Ethernet + IPv4 + UDP headers at frame for a payload of len bytes already in place at
 * frame + GUEST_UDP_HDRS, with the transmit checksum offloaded when the device does it.
 * Returns the frame length.
 */
uint32_t guest_udp_build(struct guest_ip *ip, uint8_t *frame, struct virtio_net_hdr *vh, const uint8_t dst_mac[6],
                         uint32_t dst, uint16_t sport, uint16_t dport, uint32_t len);
/* Send one datagram (resolving dst); kick unless batching (then guest_net_tx_kick later). */
int guest_udp_send(struct guest_ip *ip, uint32_t dst, uint16_t sport, uint16_t dport, const void *data,
                   uint32_t len, bool kick);
/* An ICMP echo request with a payload of len bytes. */
int guest_icmp_echo(struct guest_ip *ip, uint32_t dst, uint16_t id, uint16_t seq, uint32_t len);
