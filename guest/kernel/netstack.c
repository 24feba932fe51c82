/* SPDX-License-Identifier: MIT */
#include "kernel/kernel.h"
#include "kernel/netstack.h"

#define ETH_P_IP        0x0800u
#define ETH_P_ARP       0x0806u
#define IPPROTO_ICMP    1u
#define IPPROTO_UDP     17u
#define ARP_REQUEST     1u
#define ARP_REPLY       2u
#define ICMP_ECHO_REPLY 0u
#define ICMP_ECHO       8u
#define ARP_LEN         28u
#define ETH_MIN         60u
#define ARP_RETRY_NS    (200ull * 1000000)

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint32_t get32n(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }     /* stays in network order */
static inline void put32n(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Ones' complement sum of big-endian 16-bit words, folded. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
        for (uint32_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t)p[i] << 8 | p[i + 1];
        if (len & 1)
                sum += (uint32_t)p[len - 1] << 8;
        return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)sum;
}

int guest_ip_parse(const char *s, uint32_t *ret_addr, unsigned *ret_prefix)
{
        uint8_t b[4];
        unsigned prefix = 32;
        const char *p = s;

        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < 4; i++) {
                uint64_t v;
                size_t n = 0;

                while (p[n] >= '0' && p[n] <= '9')
                        n++;
                if (n == 0 || n > 3 || guest_parse_u64(p, n, &v) < 0 || v > 255)
                        return -EINVAL;
                b[i] = (uint8_t)v;
                p += n;
                if (i < 3 && *p++ != '.')
                        return -EINVAL;
        }
        if (*p == '/') {
                uint64_t v;

                p++;
                if (!*p || guest_parse_u64(p, guest_strlen(p), &v) < 0 || v > 32)
                        return -EINVAL;
                prefix = (unsigned)v;
        } else if (*p) {
                return -EINVAL;
        }
        memcpy(ret_addr, b, 4);
        if (ret_prefix)
                *ret_prefix = prefix;
        return 0;
}

const char *guest_ip_format(uint32_t addr, char buf[16])
{
        const uint8_t *b = (const uint8_t *)&addr;

        guest_snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        return buf;
}

int guest_ip_init(struct guest_ip *ip, struct guest_net *dev)
{
        const char *a = guest_cmdline_get_str("ip", NULL), *g = guest_cmdline_get_str("gw", NULL);
        unsigned prefix;
        bool slash = false;

        memset(ip, 0, sizeof(*ip));
        ip->dev = dev;
        if (!a || guest_ip_parse(a, &ip->addr, &prefix) < 0)
                return -EINVAL;
        for (const char *c = a; *c; c++)
                slash |= *c == '/';
        if (!slash)
                prefix = 24;
        ip->mask = prefix ? guest_htonl(~0u << (32 - prefix)) : 0;
        if (g && guest_ip_parse(g, &ip->gw, NULL) < 0)
                return -EINVAL;
        return 0;
}

static void arp_learn(struct guest_ip *ip, uint32_t addr, const uint8_t mac[6])
{
        unsigned slot = ip->arp_next;

        for (unsigned i = 0; i < GUEST_ARP_SLOTS; i++)
                if (ip->arp[i].valid && ip->arp[i].ip == addr) {
                        slot = i;
                        break;
                }
        if (slot == ip->arp_next)
                ip->arp_next = (ip->arp_next + 1) % GUEST_ARP_SLOTS;
        ip->arp[slot].ip = addr;
        memcpy(ip->arp[slot].mac, mac, 6);
        ip->arp[slot].valid = true;
}

static const uint8_t *arp_lookup(const struct guest_ip *ip, uint32_t addr)
{
        for (unsigned i = 0; i < GUEST_ARP_SLOTS; i++)
                if (ip->arp[i].valid && ip->arp[i].ip == addr)
                        return ip->arp[i].mac;
        return NULL;
}

/* A frame slot with the Ethernet header filled in, or NULL (counted). */
static uint8_t *eth_start(struct guest_ip *ip, const uint8_t dst[6], uint16_t type, struct virtio_net_hdr **vh)
{
        uint8_t *f = guest_net_tx_alloc(ip->dev, vh);

        if (!f) {
                ip->tx_full++;
                return NULL;
        }
        memcpy(f, dst, 6);
        memcpy(f + 6, ip->dev->mac, 6);
        put16(f + 12, type);
        return f;
}

static void eth_commit(struct guest_ip *ip, uint8_t *f, uint32_t len)
{
        if (len < ETH_MIN) {
                memset(f + len, 0, ETH_MIN - len);
                len = ETH_MIN;
        }
        if (guest_net_tx_commit(ip->dev, f, len) == 0)
                ip->sent = true;
}

static void arp_send(struct guest_ip *ip, uint16_t op, const uint8_t dst_mac[6], const uint8_t tha[6], uint32_t tpa)
{
        uint8_t *f = eth_start(ip, dst_mac, ETH_P_ARP, NULL), *a;

        if (!f)
                return;
        a = f + GUEST_ETH_HLEN;
        put16(a, 1);                    /* Ethernet */
        put16(a + 2, ETH_P_IP);
        a[4] = 6;
        a[5] = 4;
        put16(a + 6, op);
        memcpy(a + 8, ip->dev->mac, 6);
        put32n(a + 14, ip->addr);
        memcpy(a + 18, tha, 6);
        put32n(a + 24, tpa);
        eth_commit(ip, f, GUEST_ETH_HLEN + ARP_LEN);
}

static void arp_input(struct guest_ip *ip, const uint8_t *a, uint32_t len)
{
        uint32_t spa, tpa;
        uint16_t op;

        if (len < ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4)
                return;
        op = get16(a + 6);
        spa = get32n(a + 14);
        tpa = get32n(a + 24);
        ip->arp_in++;
        if (tpa != ip->addr)
                return;
        arp_learn(ip, spa, a + 8);
        if (op == ARP_REQUEST)
                arp_send(ip, ARP_REPLY, a + 8, a + 8, spa);
}

static uint8_t *ip_start(struct guest_ip *ip, const uint8_t dst_mac[6], uint32_t dst, uint8_t proto,
                         uint32_t payload_len, struct virtio_net_hdr **vh)
{
        uint8_t *f = eth_start(ip, dst_mac, ETH_P_IP, vh), *h;

        if (!f)
                return NULL;
        h = f + GUEST_ETH_HLEN;
        h[0] = 0x45;
        h[1] = 0;
        put16(h + 2, (uint16_t)(GUEST_IP_HLEN + payload_len));
        put16(h + 4, ip->ident++);
        put16(h + 6, 0x4000);           /* don't fragment */
        h[8] = 64;
        h[9] = proto;
        put16(h + 10, 0);
        put32n(h + 12, ip->addr);
        put32n(h + 16, dst);
        put16(h + 10, (uint16_t)~csum_fold(csum_add(0, h, GUEST_IP_HLEN)));
        return f;
}

static void icmp_input(struct guest_ip *ip, const uint8_t *eth, const uint8_t *iph, const uint8_t *p, uint32_t len)
{
        uint8_t *f, *o;

        if (len < 8 || csum_fold(csum_add(0, p, len)) != 0xffff)
                return;
        if (p[0] == ICMP_ECHO_REPLY) {
                if (ip->icmp_reply)
                        ip->icmp_reply(ip, get32n(iph + 12), get16(p + 4), get16(p + 6), ip->ctx);
                return;
        }
        if (p[0] != ICMP_ECHO || len > GUEST_NET_FRAME_MAX - GUEST_ETH_HLEN - GUEST_IP_HLEN)
                return;
        ip->icmp_echo_in++;
        f = ip_start(ip, eth + 6, get32n(iph + 12), IPPROTO_ICMP, len, NULL);
        if (!f)
                return;
        o = f + GUEST_ETH_HLEN + GUEST_IP_HLEN;
        memcpy(o, p, len);
        o[0] = ICMP_ECHO_REPLY;
        put16(o + 2, 0);
        put16(o + 2, (uint16_t)~csum_fold(csum_add(0, o, len)));
        eth_commit(ip, f, GUEST_ETH_HLEN + GUEST_IP_HLEN + len);
}

void guest_ip_input(struct guest_ip *ip, const uint8_t *f, uint32_t len)
{
        const uint8_t *h = f + GUEST_ETH_HLEN;
        uint32_t dst, ihl, tot;

        if (len < GUEST_ETH_HLEN)
                return;
        if (get16(f + 12) == ETH_P_ARP) {
                arp_input(ip, h, len - GUEST_ETH_HLEN);
                return;
        }
        if (get16(f + 12) != ETH_P_IP || len < GUEST_ETH_HLEN + GUEST_IP_HLEN)
                goto drop;
        ihl = (h[0] & 0xfu) * 4u;
        tot = get16(h + 2);
        if ((h[0] >> 4) != 4 || ihl < GUEST_IP_HLEN || tot < ihl || tot > len - GUEST_ETH_HLEN ||
            csum_fold(csum_add(0, h, ihl)) != 0xffff || (get16(h + 6) & 0x3fff))       /* fragments */
                goto drop;
        dst = get32n(h + 16);
        if (dst != ip->addr && dst != 0xffffffffu && dst != (ip->addr | ~ip->mask))
                goto drop;
        if (h[9] == IPPROTO_ICMP) {
                icmp_input(ip, f, h, h + ihl, tot - ihl);
                return;
        }
        if (h[9] == IPPROTO_UDP && tot - ihl >= GUEST_UDP_HLEN) {
                const uint8_t *u = h + ihl;
                uint32_t ulen = get16(u + 4);
                struct guest_udp_dgram d;

                if (ulen < GUEST_UDP_HLEN || ulen > tot - ihl)
                        goto drop;
                d = (struct guest_udp_dgram){
                        .src = get32n(h + 12), .dst = dst, .sport = get16(u), .dport = get16(u + 2),
                        .data = u + GUEST_UDP_HLEN, .len = ulen - GUEST_UDP_HLEN,
                };
                ip->udp_in++;
                /* The sender's address answers to its MAC: no ARP round trip for the reply. */
                arp_learn(ip, d.src, f + 6);
                if (ip->udp)
                        ip->udp(ip, &d, ip->ctx);
                return;
        }
drop:
        ip->dropped++;
}

unsigned guest_ip_poll(struct guest_ip *ip)
{
        const uint8_t *f;
        uint32_t len;
        uint16_t id;
        unsigned k = 0;

        while ((f = guest_net_rx_next(ip->dev, &len, &id, NULL))) {
                guest_ip_input(ip, f, len);
                guest_net_rx_release(ip->dev, id);
                k++;
        }
        guest_net_rx_kick(ip->dev);
        if (ip->sent) {
                ip->sent = false;
                guest_net_tx_kick(ip->dev);
        }
        return k;
}

int guest_ip_resolve(struct guest_ip *ip, uint32_t dst, uint8_t ret_mac[6], uint64_t timeout_ms)
{
        uint32_t hop = ((dst ^ ip->addr) & ip->mask) == 0 ? dst : ip->gw;
        uint64_t now = guest_time_ns(), deadline = now + timeout_ms * 1000000ull, resend = 0;
        const uint8_t *m;
        static const uint8_t zero[6];

        if (dst == 0xffffffffu || dst == (ip->addr | ~ip->mask)) {
                memcpy(ret_mac, bcast_mac, 6);
                return 0;
        }
        if (!hop)
                return -ENOENT;         /* off the subnet and no gateway */
        while (!(m = arp_lookup(ip, hop))) {
                int r;

                now = guest_time_ns();
                if (now >= deadline)
                        return -ETIMEDOUT;
                if (now >= resend) {
                        arp_send(ip, ARP_REQUEST, bcast_mac, zero, hop);
                        guest_net_tx_kick(ip->dev);
                        ip->sent = false;
                        resend = now + ARP_RETRY_NS;
                }
                r = guest_net_wait(ip->dev, MIN(deadline, resend), false);
                if (r < 0 && r != -ETIMEDOUT)
                        return r;
                guest_ip_poll(ip);
        }
        memcpy(ret_mac, m, 6);
        return 0;
}

uint32_t guest_udp_build(struct guest_ip *ip, uint8_t *f, struct virtio_net_hdr *vh, const uint8_t dst_mac[6],
                         uint32_t dst, uint16_t sport, uint16_t dport, uint32_t len)
{
        uint8_t *h = f + GUEST_ETH_HLEN, *u = h + GUEST_IP_HLEN, pseudo[12];
        uint32_t sum;

        memcpy(f, dst_mac, 6);
        memcpy(f + 6, ip->dev->mac, 6);
        put16(f + 12, ETH_P_IP);
        h[0] = 0x45;
        h[1] = 0;
        put16(h + 2, (uint16_t)(GUEST_IP_HLEN + GUEST_UDP_HLEN + len));
        put16(h + 4, ip->ident++);
        put16(h + 6, 0x4000);
        h[8] = 64;
        h[9] = IPPROTO_UDP;
        put16(h + 10, 0);
        put32n(h + 12, ip->addr);
        put32n(h + 16, dst);
        put16(h + 10, (uint16_t)~csum_fold(csum_add(0, h, GUEST_IP_HLEN)));
        put16(u, sport);
        put16(u + 2, dport);
        put16(u + 4, (uint16_t)(GUEST_UDP_HLEN + len));
        put16(u + 6, 0);
        memcpy(pseudo, h + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = IPPROTO_UDP;
        put16(pseudo + 10, (uint16_t)(GUEST_UDP_HLEN + len));
        sum = csum_add(0, pseudo, sizeof(pseudo));
        if (ip->dev->tx_csum && vh) {
                /* The device finishes it: the pseudo-header sum in place (5.1.6.2). */
                vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                vh->csum_start = GUEST_ETH_HLEN + GUEST_IP_HLEN;
                vh->csum_offset = 6;
                put16(u + 6, csum_fold(sum));
        } else {
                uint16_t c = (uint16_t)~csum_fold(csum_add(sum, u, GUEST_UDP_HLEN + len));

                put16(u + 6, c ? c : 0xffff);
        }
        return GUEST_UDP_HDRS + len;
}

int guest_udp_send(struct guest_ip *ip, uint32_t dst, uint16_t sport, uint16_t dport, const void *data,
                   uint32_t len, bool kick)
{
        struct virtio_net_hdr *vh;
        uint8_t mac[6], *f;
        int r;

        if (len > GUEST_UDP_MAX)
                return -E2BIG;
        r = guest_ip_resolve(ip, dst, mac, 1000);
        if (r < 0)
                return r;
        f = guest_net_tx_alloc(ip->dev, &vh);
        if (!f) {
                ip->tx_full++;
                return -EAGAIN;
        }
        memcpy(f + GUEST_UDP_HDRS, data, len);
        r = guest_net_tx_commit(ip->dev, f, guest_udp_build(ip, f, vh, mac, dst, sport, dport, len));
        if (r < 0)
                return r;
        if (kick)
                guest_net_tx_kick(ip->dev);
        else
                ip->sent = true;
        return 0;
}

int guest_icmp_echo(struct guest_ip *ip, uint32_t dst, uint16_t id, uint16_t seq, uint32_t len)
{
        uint8_t mac[6], *f, *o;
        int r;

        if (len > GUEST_UDP_MAX)
                return -E2BIG;
        r = guest_ip_resolve(ip, dst, mac, 1000);
        if (r < 0)
                return r;
        f = ip_start(ip, mac, dst, IPPROTO_ICMP, 8 + len, NULL);
        if (!f)
                return -EAGAIN;
        o = f + GUEST_ETH_HLEN + GUEST_IP_HLEN;
        o[0] = ICMP_ECHO;
        o[1] = 0;
        put16(o + 2, 0);
        put16(o + 4, id);
        put16(o + 6, seq);
        for (uint32_t i = 0; i < len; i++)
                o[8 + i] = (uint8_t)(i + seq);
        put16(o + 2, (uint16_t)~csum_fold(csum_add(0, o, 8 + len)));
        eth_commit(ip, f, GUEST_ETH_HLEN + GUEST_IP_HLEN + 8 + len);
        guest_net_tx_kick(ip->dev);
        ip->sent = false;
        return 0;
}
