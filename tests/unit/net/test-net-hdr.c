/* SPDX-License-Identifier: MIT */
/*
 * virtio-net's pure parts: feature dependencies and their TAP offloads, the checks on a
 * transmitted packet's vnet header, what a received header may show the driver, and
 * the receive filter with its MAC tables.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/if_tun.h>

#include "check-main.h"
#include "net.h"

#define F(b) VIRTIO_BIT(VIRTIO_NET_F_##b)
#define ALL_HOST (F(CSUM) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_ECN) | F(HOST_UFO) | F(HOST_USO))

START_TEST(test_feature_dependencies)
{
        ck_assert_int_eq(vsp_net_check_features(0), 0);
        ck_assert_int_eq(vsp_net_check_features(F(MAC) | F(MRG_RXBUF) | F(STATUS)), 0);
        ck_assert_int_eq(vsp_net_check_features(ALL_HOST), 0);
        ck_assert_int_eq(vsp_net_check_features(F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_ECN)), 0);
        ck_assert_int_eq(vsp_net_check_features(F(CTRL_VQ) | F(CTRL_RX) | F(CTRL_RX_EXTRA) | F(MQ) |
                                                F(CTRL_MAC_ADDR)), 0);
        ck_assert_int_eq(vsp_net_check_features(F(GUEST_TSO4)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(GUEST_UFO)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(GUEST_CSUM) | F(GUEST_ECN)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(HOST_TSO6)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(CSUM) | F(HOST_ECN)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(CSUM) | F(HOST_UFO) | F(HOST_ECN)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(MQ)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(CTRL_RX)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(CTRL_VQ) | F(CTRL_RX_EXTRA)), -EINVAL);
        ck_assert_int_eq(vsp_net_check_features(F(CTRL_MAC_ADDR)), -EINVAL);
}
END_TEST

START_TEST(test_tun_offloads)
{
        ck_assert_uint_eq(vsp_net_tun_offloads(0), 0);
        ck_assert_uint_eq(vsp_net_tun_offloads(F(GUEST_TSO4)), 0);     /* nothing without CSUM */
        ck_assert_uint_eq(vsp_net_tun_offloads(F(GUEST_CSUM)), TUN_F_CSUM);
        ck_assert_uint_eq(vsp_net_tun_offloads(F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_ECN) |
                                               F(GUEST_UFO)),
                          TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO);
        /* A TAP takes USO only for both IP versions at once. */
        ck_assert_uint_eq(vsp_net_tun_offloads(F(GUEST_CSUM) | F(GUEST_USO4)), TUN_F_CSUM);
        ck_assert_uint_eq(vsp_net_tun_offloads(F(GUEST_CSUM) | F(GUEST_USO4) | F(GUEST_USO6)), TUN_F_CSUM | 0x60);
}
END_TEST

static enum vsp_net_tx_verdict tx(struct virtio_net_hdr h, uint64_t f, uint64_t len, unsigned mtu,
                                  struct virtio_net_hdr *out)
{
        struct virtio_net_hdr dummy;

        return vsp_net_tx_check(&h, f, len, mtu, out ? out : &dummy);
}

START_TEST(test_tx_check)
{
        struct virtio_net_hdr out, csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = htole16(34),
                                            .csum_offset = htole16(16) };
        struct virtio_net_hdr tso = csum;

        tso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        tso.gso_size = htole16(1448);
        tso.hdr_len = htole16(66);

        /* plain frames */
        ck_assert_int_eq(tx((struct virtio_net_hdr) { 0 }, 0, 60, 0, &out), VSP_NET_TX_OK);
        ck_assert_int_eq(tx((struct virtio_net_hdr) { 0 }, 0, 13, 0, NULL), VSP_NET_TX_RUNT);
        ck_assert_int_eq(tx((struct virtio_net_hdr) { 0 }, 0, 1518, 1500, NULL), VSP_NET_TX_OK);
        ck_assert_int_eq(tx((struct virtio_net_hdr) { 0 }, 0, 1519, 1500, NULL), VSP_NET_TX_OVERSIZED);
        ck_assert_int_eq(tx((struct virtio_net_hdr) { 0 }, 0, 9000, 0, NULL), VSP_NET_TX_OK);
        ck_assert_int_eq(tx((struct virtio_net_hdr) { 0 }, ALL_HOST, 70000, 0, NULL), VSP_NET_TX_OVERSIZED);
        /* unknown flags and num_buffers are cleared, DATA_VALID too */
        ck_assert_int_eq(tx((struct virtio_net_hdr) { .flags = 0xfe, .num_buffers = 3, .gso_size = 9 }, 0, 60, 0, &out),
                         VSP_NET_TX_OK);
        ck_assert_uint_eq(out.flags, 0);
        ck_assert_uint_eq(out.num_buffers, 0);
        ck_assert_uint_eq(out.gso_size, 0);
        /* partial checksums */
        ck_assert_int_eq(tx(csum, 0, 100, 0, NULL), VSP_NET_TX_BAD_HDR);               /* CSUM not negotiated */
        ck_assert_int_eq(tx(csum, F(CSUM), 100, 0, &out), VSP_NET_TX_OK);
        ck_assert_uint_eq(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ck_assert_uint_eq(le16toh(out.csum_start), 34);
        ck_assert_int_eq(tx(csum, F(CSUM), 52, 0, NULL), VSP_NET_TX_OK);               /* 34 + 16 + 2 */
        ck_assert_int_eq(tx(csum, F(CSUM), 51, 0, NULL), VSP_NET_TX_BAD_HDR);
        csum.csum_start = htole16(0xffff);
        csum.csum_offset = htole16(0xffff);
        ck_assert_int_eq(tx(csum, F(CSUM), 65000, 0, NULL), VSP_NET_TX_BAD_HDR);     /* no overflow */
        /* segmentation */
        ck_assert_int_eq(tx(tso, F(CSUM) | F(HOST_TSO4), 60000, 1500, &out), VSP_NET_TX_OK);
        ck_assert_uint_eq(out.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
        ck_assert_uint_eq(le16toh(out.gso_size), 1448);
        ck_assert_int_eq(tx(tso, F(CSUM) | F(HOST_TSO6), 60000, 0, NULL), VSP_NET_TX_BAD_HDR);
        tso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
        ck_assert_int_eq(tx(tso, F(CSUM) | F(HOST_TSO4), 60000, 0, NULL), VSP_NET_TX_BAD_HDR);
        ck_assert_int_eq(tx(tso, F(CSUM) | F(HOST_TSO4) | F(HOST_ECN), 60000, 0, NULL), VSP_NET_TX_OK);
        tso.gso_type = VIRTIO_NET_HDR_GSO_UDP;
        ck_assert_int_eq(tx(tso, F(CSUM) | F(HOST_UFO), 60000, 0, NULL), VSP_NET_TX_OK);
        tso.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
        ck_assert_int_eq(tx(tso, F(CSUM) | F(HOST_UFO), 60000, 0, NULL), VSP_NET_TX_BAD_HDR);
        ck_assert_int_eq(tx(tso, F(CSUM) | F(HOST_USO), 60000, 0, NULL), VSP_NET_TX_OK);
        tso.gso_type = 2;       /* not a GSO type */
        ck_assert_int_eq(tx(tso, ALL_HOST, 60000, 0, NULL), VSP_NET_TX_BAD_HDR);
        tso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        tso.gso_size = 0;
        ck_assert_int_eq(tx(tso, ALL_HOST, 60000, 0, NULL), VSP_NET_TX_BAD_HDR);
        tso.gso_size = htole16(1448);
        tso.flags = 0;          /* GSO needs NEEDS_CSUM */
        ck_assert_int_eq(tx(tso, ALL_HOST, 60000, 0, NULL), VSP_NET_TX_BAD_HDR);
        ck_assert_int_eq(tx((struct virtio_net_hdr) { .gso_type = VIRTIO_NET_HDR_GSO_ECN }, ALL_HOST, 60, 0, NULL),
                         VSP_NET_TX_BAD_HDR);
}
END_TEST

START_TEST(test_rx_fixup)
{
        const uint64_t csum = F(GUEST_CSUM), all = F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_ECN) |
                                                   F(GUEST_UFO) | F(GUEST_USO4) | F(GUEST_USO6);
        struct virtio_net_hdr h;

        h = (struct virtio_net_hdr) { .flags = VIRTIO_NET_HDR_F_DATA_VALID, .hdr_len = 5, .num_buffers = 9 };
        ck_assert_int_eq(vsp_net_rx_fixup(&h, 0), 0);
        ck_assert_uint_eq(h.flags | h.hdr_len | h.num_buffers, 0);     /* all zero for this driver */
        h = (struct virtio_net_hdr) { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM };
        ck_assert_int_eq(vsp_net_rx_fixup(&h, 0), -EBADMSG);
        h = (struct virtio_net_hdr) { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_RSC_INFO | 0x40,
                                      .csum_start = 34 };
        ck_assert_int_eq(vsp_net_rx_fixup(&h, csum), 0);
        ck_assert_uint_eq(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ck_assert_uint_eq(h.csum_start, 34);
        h = (struct virtio_net_hdr) { .flags = 1, .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1400 };
        ck_assert_int_eq(vsp_net_rx_fixup(&h, csum | F(GUEST_TSO4)), -EBADMSG);
        ck_assert_int_eq(vsp_net_rx_fixup(&h, all), 0);
        h = (struct virtio_net_hdr) { .flags = 1, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN };
        ck_assert_int_eq(vsp_net_rx_fixup(&h, csum | F(GUEST_TSO4)), -EBADMSG);
        ck_assert_int_eq(vsp_net_rx_fixup(&h, csum | F(GUEST_TSO4) | F(GUEST_ECN)), 0);
        h = (struct virtio_net_hdr) { .flags = 1, .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4 };
        ck_assert_int_eq(vsp_net_rx_fixup(&h, csum | F(GUEST_USO4)), -EBADMSG);
        ck_assert_int_eq(vsp_net_rx_fixup(&h, all), 0);
        h = (struct virtio_net_hdr) { .flags = 1, .gso_type = 7 };
        ck_assert_int_eq(vsp_net_rx_fixup(&h, all), -EBADMSG);
}
END_TEST

static const uint8_t mine[6] = { 0x02, 0x56, 0, 0, 0, 1 }, peer[6] = { 0x02, 0x56, 0, 0, 0, 2 };
static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, mc[6] = { 0x33, 0x33, 0, 0, 0, 1 };

START_TEST(test_filter)
{
        struct vsp_net_filter f;

        vsp_net_filter_reset(&f, mine, false);
        f.promisc = false;
        ck_assert(vsp_net_filter_accept(&f, peer));     /* no CTRL_RX: everything */
        vsp_net_filter_reset(&f, mine, true);
        ck_assert(vsp_net_filter_accept(&f, peer));     /* promiscuous until told otherwise */
        f.promisc = false;
        ck_assert(vsp_net_filter_accept(&f, mine));
        ck_assert(vsp_net_filter_accept(&f, bc));
        ck_assert(!vsp_net_filter_accept(&f, peer));
        ck_assert(!vsp_net_filter_accept(&f, mc));
        f.allmulti = true;
        ck_assert(vsp_net_filter_accept(&f, mc));
        f.nomulti = true;                               /* beats allmulti, not broadcast */
        ck_assert(!vsp_net_filter_accept(&f, mc));
        ck_assert(vsp_net_filter_accept(&f, bc));
        f.nobcast = true;
        ck_assert(!vsp_net_filter_accept(&f, bc));
        f.alluni = true;
        ck_assert(vsp_net_filter_accept(&f, peer));
        f.nouni = true;                                 /* beats alluni */
        ck_assert(!vsp_net_filter_accept(&f, peer));
        ck_assert(!vsp_net_filter_accept(&f, mine));
        f.promisc = true;                               /* beats everything */
        ck_assert(vsp_net_filter_accept(&f, peer) && vsp_net_filter_accept(&f, bc) && vsp_net_filter_accept(&f, mc));
}
END_TEST

static size_t table(uint8_t *buf, unsigned nu, const uint8_t *u, unsigned nm, const uint8_t *m)
{
        uint32_t a = htole32(nu), b = htole32(nm);
        size_t off = 0;

        memcpy(buf, &a, 4);
        off += 4;
        for (unsigned i = 0; i < nu; i++, off += 6)
                memcpy(buf + off, u, 6);
        memcpy(buf + off, &b, 4);
        off += 4;
        for (unsigned i = 0; i < nm; i++, off += 6)
                memcpy(buf + off, m, 6);
        return off;
}

START_TEST(test_filter_tables)
{
        static uint8_t buf[4 + 6 * 100 + 4 + 6 * 100];
        struct vsp_net_filter f;
        size_t n;

        vsp_net_filter_reset(&f, mine, true);
        f.promisc = false;
        n = table(buf, 1, peer, 1, mc);
        ck_assert_int_eq(vsp_net_filter_set_tables(&f, buf, n), 0);
        ck_assert(vsp_net_filter_accept(&f, peer));
        ck_assert(vsp_net_filter_accept(&f, mc));
        ck_assert_uint_eq(f.n_uni, 1);
        /* malformed: short, trailing bytes, counts larger than the data */
        ck_assert_int_eq(vsp_net_filter_set_tables(&f, buf, n - 1), -EINVAL);
        ck_assert_int_eq(vsp_net_filter_set_tables(&f, buf, n + 1), -EINVAL);
        ck_assert_int_eq(vsp_net_filter_set_tables(&f, buf, 3), -EINVAL);
        buf[0] = 0xff;
        buf[3] = 0xff;
        ck_assert_int_eq(vsp_net_filter_set_tables(&f, buf, n), -EINVAL);
        ck_assert_uint_eq(f.n_uni, 1);                  /* unchanged on error */
        /* empty tables */
        n = table(buf, 0, NULL, 0, NULL);
        ck_assert_int_eq(vsp_net_filter_set_tables(&f, buf, n), 0);
        ck_assert(!vsp_net_filter_accept(&f, peer));
        /* more than the table holds: all unicast / all multicast */
        n = table(buf, 100, mine, 100, mc);
        ck_assert_int_eq(vsp_net_filter_set_tables(&f, buf, n), 0);
        ck_assert(f.uni_overflow && f.multi_overflow);
        ck_assert(vsp_net_filter_accept(&f, peer));
        ck_assert(vsp_net_filter_accept(&f, (const uint8_t[6]) { 0x01, 0, 0x5e, 1, 2, 3 }));
}
END_TEST

CHECK_MAIN("net-hdr", test_feature_dependencies, test_tun_offloads, test_tx_check, test_rx_fixup,
           test_filter, test_filter_tables)
