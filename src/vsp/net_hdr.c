/* SPDX-License-Identifier: MIT */
/*
 * virtio-net, the pure parts: feature dependencies, the vnet header of transmitted and
 * received packets, and the receive filter. Nothing here touches guest memory or fds.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/if_tun.h>

#include <abi/virtio.h>
#include <abi/virtio_net.h>

#include "net.h"
#include "vmms/tap.h"

#define F(b) VIRTIO_BIT(VIRTIO_NET_F_##b)

int vsp_net_check_features(uint64_t f)
{
        static const struct {
                uint64_t feature, needs_any;
        } deps[] = {
                { F(GUEST_TSO4), F(GUEST_CSUM) },
                { F(GUEST_TSO6), F(GUEST_CSUM) },
                { F(GUEST_UFO), F(GUEST_CSUM) },
                { F(GUEST_USO4), F(GUEST_CSUM) },
                { F(GUEST_USO6), F(GUEST_CSUM) },
                { F(GUEST_ECN), F(GUEST_TSO4) | F(GUEST_TSO6) },
                { F(HOST_TSO4), F(CSUM) },
                { F(HOST_TSO6), F(CSUM) },
                { F(HOST_UFO), F(CSUM) },
                { F(HOST_USO), F(CSUM) },
                { F(HOST_ECN), F(HOST_TSO4) | F(HOST_TSO6) },
                { F(CTRL_RX), F(CTRL_VQ) },
                { F(CTRL_VLAN), F(CTRL_VQ) },
                { F(CTRL_RX_EXTRA), F(CTRL_RX) },
                { F(GUEST_ANNOUNCE), F(CTRL_VQ) },
                { F(MQ), F(CTRL_VQ) },
                { F(CTRL_MAC_ADDR), F(CTRL_VQ) },
                { F(CTRL_GUEST_OFFLOADS), F(CTRL_VQ) },
        };

        for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++)
                if ((f & deps[i].feature) && !(f & deps[i].needs_any))
                        return -EINVAL;
        return 0;
}

unsigned vsp_net_tun_offloads(uint64_t o)
{
        unsigned t = 0;

        if (!(o & F(GUEST_CSUM)))
                return 0;
        t |= TUN_F_CSUM;
        if (o & F(GUEST_TSO4))
                t |= TUN_F_TSO4;
        if (o & F(GUEST_TSO6))
                t |= TUN_F_TSO6;
        if ((o & F(GUEST_ECN)) && (t & (TUN_F_TSO4 | TUN_F_TSO6)))
                t |= TUN_F_TSO_ECN;
        if (o & F(GUEST_UFO))
                t |= TUN_F_UFO;
        if ((o & F(GUEST_USO4)) && (o & F(GUEST_USO6)))
                t |= TUN_F_USO4 | TUN_F_USO6;
        return t;
}

/* The feature a GSO type needs, on transmit (host) or receive (guest); 0: unknown type. */
static uint64_t gso_feature(uint8_t gso, bool host)
{
        switch (gso) {
        case VIRTIO_NET_HDR_GSO_TCPV4:
                return host ? F(HOST_TSO4) : F(GUEST_TSO4);
        case VIRTIO_NET_HDR_GSO_TCPV6:
                return host ? F(HOST_TSO6) : F(GUEST_TSO6);
        case VIRTIO_NET_HDR_GSO_UDP:
                return host ? F(HOST_UFO) : F(GUEST_UFO);
        case VIRTIO_NET_HDR_GSO_UDP_L4:
                return host ? F(HOST_USO) : F(GUEST_USO4) | F(GUEST_USO6);
        default:
                return 0;
        }
}

enum vsp_net_tx_verdict vsp_net_tx_check(const struct virtio_net_hdr *h, uint64_t features,
                                         uint64_t frame_len, unsigned mtu, struct virtio_net_hdr *ret)
{
        struct virtio_net_hdr c = *h;
        uint8_t gso = c.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
        bool ecn = c.gso_type & VIRTIO_NET_HDR_GSO_ECN;

        if (frame_len < VIRTIO_NET_ETH_HLEN)
                return VSP_NET_TX_RUNT;
        if (frame_len > VSP_NET_MAX_GSO_FRAME)
                return VSP_NET_TX_OVERSIZED;
        c.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;         /* the device ignores the others */
        if (gso != VIRTIO_NET_HDR_GSO_NONE) {
                uint64_t need = gso_feature(gso, true);

                if (!need || (features & need) != need)
                        return VSP_NET_TX_BAD_HDR;
                if (ecn && !(features & F(HOST_ECN)))
                        return VSP_NET_TX_BAD_HDR;
                if (!(c.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || le16toh(c.gso_size) == 0)
                        return VSP_NET_TX_BAD_HDR;
        } else {
                if (ecn)
                        return VSP_NET_TX_BAD_HDR;
                if (mtu && frame_len > (uint64_t)mtu + VIRTIO_NET_ETH_HLEN + VIRTIO_NET_VLAN_HLEN)
                        return VSP_NET_TX_OVERSIZED;
                c.gso_size = 0;
        }
        if (c.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
                uint64_t start = le16toh(c.csum_start), off = le16toh(c.csum_offset);

                if (!(features & F(CSUM)) || start + off + 2 > frame_len)
                        return VSP_NET_TX_BAD_HDR;
        } else {
                c.csum_start = c.csum_offset = 0;
        }
        c.num_buffers = 0;
        *ret = c;
        return VSP_NET_TX_OK;
}

int vsp_net_rx_fixup(struct virtio_net_hdr *h, uint64_t offloads)
{
        uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

        if (!(offloads & F(GUEST_CSUM))) {
                /* The TAP checksummed everything; DATA_VALID means nothing to this driver. */
                if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || gso != VIRTIO_NET_HDR_GSO_NONE)
                        return -EBADMSG;
                memset(h, 0, sizeof(*h));
                return 0;
        }
        h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
        if (gso != VIRTIO_NET_HDR_GSO_NONE) {
                uint64_t need = gso_feature(gso, false);

                if (!need || (offloads & need) != need)
                        return -EBADMSG;
                if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(offloads & F(GUEST_ECN)))
                        return -EBADMSG;
        } else {
                h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
                h->gso_size = 0;
        }
        h->num_buffers = 0;
        return 0;
}

void vsp_net_filter_reset(struct vsp_net_filter *f, const uint8_t mac[6], bool enabled)
{
        memset(f, 0, sizeof(*f));
        f->enabled = enabled;
        f->promisc = true;
        memcpy(f->mac, mac, 6);
}

static bool mac_in(const uint8_t (*table)[6], unsigned n, const uint8_t dst[6])
{
        for (unsigned i = 0; i < n; i++)
                if (memcmp(table[i], dst, 6) == 0)
                        return true;
        return false;
}

bool vsp_net_filter_accept(const struct vsp_net_filter *f, const uint8_t dst[6])
{
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

        if (!f->enabled || f->promisc)
                return true;
        if (memcmp(dst, bcast, 6) == 0)
                return !f->nobcast;
        if (dst[0] & 1) {
                if (f->nomulti)
                        return false;
                return f->allmulti || f->multi_overflow || mac_in(f->multi, f->n_multi, dst);
        }
        if (f->nouni)
                return false;
        return f->alluni || f->uni_overflow || memcmp(dst, f->mac, 6) == 0 ||
               mac_in(f->uni, f->n_uni, dst);
}

/* One table at data[*off]: le32 n, then n addresses. */
static int parse_table(const uint8_t *data, size_t len, size_t *off, uint8_t (*table)[6],
                       unsigned *ret_n, bool *ret_overflow)
{
        uint32_t n;

        if (len - *off < 4)
                return -EINVAL;
        memcpy(&n, data + *off, 4);
        n = le32toh(n);
        *off += 4;
        if (n > (len - *off) / 6)
                return -EINVAL;
        *ret_overflow = n > VSP_NET_MAC_TABLE;
        *ret_n = *ret_overflow ? 0 : n;
        if (!*ret_overflow)
                memcpy(table, data + *off, (size_t)n * 6);
        *off += (size_t)n * 6;
        return 0;
}

int vsp_net_filter_set_tables(struct vsp_net_filter *f, const uint8_t *data, size_t len)
{
        struct vsp_net_filter n = *f;
        size_t off = 0;

        if (parse_table(data, len, &off, n.uni, &n.n_uni, &n.uni_overflow) < 0 ||
            parse_table(data, len, &off, n.multi, &n.n_multi, &n.multi_overflow) < 0 ||
            off != len)
                return -EINVAL;
        *f = n;
        return 0;
}
