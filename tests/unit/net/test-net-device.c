/* SPDX-License-Identifier: MIT */
/*
 * virtio-net end to end: a test driver talks to vmbus + the net VSP through the fake
 * host's buses and guest RAM; the backend is a SOCK_SEQPACKET socket pair that frames
 * packets as a TAP with a vnet header does, so every byte on both sides is checked.
 */
#include "check-main.h"
#include <check.h>
#include <endian.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "net-driver.h"
#include "vmms/util.h"
#include "vmms/vmbus.h"
#include "vmms/vsp_net.h"
#include "vmms/tap.h"

#define RAM_SIZE   (16u << 20)
#define DEV1       PCI_DEVFN(1, 0)
#define F(b)       VIRTIO_BIT(VIRTIO_NET_F_##b)
#define RING       (VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC))
#define BASIC      (F(MAC) | F(STATUS) | RING)
#define CTRL       (F(CTRL_VQ) | F(CTRL_RX) | F(CTRL_RX_EXTRA) | F(CTRL_MAC_ADDR))
#define OFFLOADS   (F(CSUM) | F(GUEST_CSUM) | F(HOST_TSO4) | F(GUEST_TSO4) | F(CTRL_GUEST_OFFLOADS))

static const uint8_t mac[6] = { 0x02, 0x56, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t other[6] = { 0x02, 0x56, 0x00, 0x00, 0x00, 0x77 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct fake_host *h;
static struct vmbus *bus;
static struct vsp_net *net;
static struct drv d;
static int host_fd[2] = { -1, -1 };
static int dev_sock[2] = { -1, -1 };    /* the device's ends (the backend owns them) */

static void setup_pairs(unsigned pairs)
{
        int dev_fd[2];

        h = fake_host_new(RAM_SIZE);
        ck_assert_int_eq(vmbus_new(&h->host, NULL, NULL, &bus), 0);
        for (unsigned i = 0; i < pairs; i++) {
                int sv[2];

                ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
                dev_fd[i] = dev_sock[i] = sv[0];
                host_fd[i] = sv[1];
        }
        struct vsp_tap *tap;
        ck_assert_int_eq(vsp_tap_new_raw(dev_fd, pairs, true,
                                         TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO,
                                         &tap), 0);
        ck_assert_int_eq(vsp_net_add_tap(bus, tap, mac, &net), 0);
        drv_probe(&d, h, DEV1);
}

static void setup(void) { setup_pairs(1); }
static void setup_mq(void) { setup_pairs(2); }

static void teardown(void)
{
        vmbus_free(bus);
        fake_host_free(h);
        for (unsigned i = 0; i < 2; i++)
                if (host_fd[i] >= 0)
                        close(host_fd[i]);
}

static struct vsp_net_stats stats(void)
{
        struct vsp_net_stats s;

        vsp_net_get_stats(net, &s);
        return s;
}

/* Wait until pred holds on the stats (the device works on its own thread). */
#define WAIT_STATS(s, cond) do {                                        \
                for (int _t = 0; _t < 2000; _t++) {                     \
                        s = stats();                                    \
                        if (cond)                                       \
                                break;                                  \
                        usleep(1000);                                   \
                }                                                       \
        } while (0)

START_TEST(test_config_and_features)
{
        uint64_t f = drv_device_features(&d);

        ck_assert_uint_eq(mmio_read(h, ecam(DEV1, PCI_DEVICE_ID), 2), 0x1041);
        ck_assert_uint_eq(mmio_read(h, ecam(DEV1, PCI_CLASS_DEVICE), 2), 0x0200);
        ck_assert(f & F(MAC) && f & F(STATUS) && f & F(MRG_RXBUF) && f & F(CTRL_VQ));
        ck_assert(f & F(CSUM) && f & F(HOST_TSO4) && f & F(HOST_TSO6) && f & F(HOST_UFO));
        ck_assert(f & F(GUEST_CSUM) && f & F(GUEST_TSO4) && f & F(GUEST_UFO) && f & F(GUEST_ECN));
        ck_assert(!(f & F(MQ)));        /* one pair */
        for (unsigned i = 0; i < 6; i++)
                ck_assert_uint_eq(drv_cfg(&d, i, 1), mac[i]);
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_net_config, status), 2), VIRTIO_NET_S_LINK_UP);
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_net_config, max_virtqueue_pairs), 2), 1);
        /* num_queues: one pair and the control queue */
        ck_assert_uint_eq(drv_rd(&d, VIRTIO_PCI_COMMON_NUMQ, 2), 3);
}
END_TEST

START_TEST(test_feature_rules)
{
        /* GUEST_TSO4 without GUEST_CSUM: FEATURES_OK is refused. */
        drv_set_status(&d, 0);
        drv_set_status(&d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        drv_wr(&d, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
        drv_wr(&d, VIRTIO_PCI_COMMON_GF, (uint32_t)F(GUEST_TSO4), 4);
        drv_wr(&d, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
        drv_wr(&d, VIRTIO_PCI_COMMON_GF, 1, 4);
        drv_set_status(&d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        ck_assert(!(drv_status(&d) & VIRTIO_STATUS_FEATURES_OK));
}
END_TEST

START_TEST(test_tx)
{
        struct virtio_net_hdr hdr = { .flags = 0x80 /* unknown: ignored */, .num_buffers = 7 };
        uint8_t frame[1000], got[2048];
        struct vsp_net_stats s;
        size_t n;

        drv_init(&d, BASIC, 2);
        net_frame(frame, sizeof(frame), other, 1);
        net_send(&d, NET_TX(0), 0, &hdr, frame, sizeof(frame));
        n = host_recv(host_fd[0], got, sizeof(got), 2000);
        ck_assert_uint_eq(n, sizeof(hdr) + sizeof(frame));
        ck_assert_mem_eq(got + sizeof(hdr), frame, sizeof(frame));
        /* The header the TAP sees is the checked copy: unknown flags and num_buffers cleared. */
        ck_assert_uint_eq(got[0], 0);
        ck_assert_uint_eq(got[10] | got[11], 0);
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_TX(0)], 1, NULL), 1);
        WAIT_STATS(s, s.tx_packets == 1);
        ck_assert_uint_eq(s.tx_packets, 1);
        ck_assert_uint_eq(s.tx_bytes, sizeof(frame));
}
END_TEST

/*
 * The backend refuses frames (a full send buffer; a TAP does so when its sndbuf is
 * limited): the device holds them back and loses none, and once the backend takes frames
 * again every one arrives exactly once, in the order the driver queued them.
 */
START_TEST(test_tx_backpressure)
{
        enum { N = 48 };
        struct virtio_net_hdr hdr = { 0 };
        uint8_t frame[1000], got[2048];
        struct vsp_net_stats s;
        int sz = 4096;

        drv_init(&d, BASIC, 2);
        ck_assert_int_eq(setsockopt(dev_sock[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
        for (unsigned i = 0; i < N; i++) {
                net_frame(frame, sizeof(frame), other, (uint8_t)i);
                net_send(&d, NET_TX(0), (uint16_t)i, &hdr, frame, sizeof(frame));
        }
        usleep(200 * 1000);
        s = stats();
        ck_assert_uint_lt(s.tx_packets, N);     /* held back... */
        ck_assert_uint_eq(s.tx_dropped + s.tx_errors, 0);       /* ...not dropped */
        for (unsigned k = 0; k < N; k++) {
                ck_assert_uint_eq(host_recv(host_fd[0], got, sizeof(got), 2000), sizeof(hdr) + sizeof(frame));
                net_frame(frame, sizeof(frame), other, (uint8_t)k);
                ck_assert_mem_eq(got + sizeof(hdr), frame, sizeof(frame));
        }
        ck_assert_uint_eq(host_recv(host_fd[0], got, sizeof(got), 100), 0);
        WAIT_STATS(s, s.tx_packets == N);
        ck_assert_uint_eq(s.tx_packets, N);
        ck_assert_uint_eq(s.tx_dropped + s.tx_errors, 0);
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_TX(0)], N, NULL), N);
}
END_TEST

START_TEST(test_tx_scattered)
{
        /* Header split over two descriptors, the frame over three, through an indirect table. */
        struct virtio_net_hdr hdr = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16 };
        struct drv_queue *q;
        uint8_t frame[300], got[1024];
        uint64_t b = NET_BUF(NET_TX(0), 0), table = NET_BUF(NET_TX(0), 8);
        const uint32_t cut[] = { 5, 7, 100, 50, 150 };
        uint64_t addr[5];
        size_t n, off = 0;

        drv_init(&d, BASIC | F(CSUM), 2);
        q = &d.q[NET_TX(0)];
        net_frame(frame, sizeof(frame), other, 2);
        for (unsigned i = 0; i < 5; i++) {
                addr[i] = b + 0x200 * i;
                memcpy(h->ram + addr[i], i < 2 ? (uint8_t *)&hdr + off : frame + off - sizeof(hdr), cut[i]);
                off += cut[i];
                drv_desc(&d, table, (uint16_t)i, addr[i], cut[i], i < 4 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
        }
        drv_desc(&d, q->desc, 0, table, 5 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        drv_kick(&d, q, 0);
        n = host_recv(host_fd[0], got, sizeof(got), 2000);
        ck_assert_uint_eq(n, sizeof(hdr) + sizeof(frame));
        ck_assert_uint_eq(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ck_assert_mem_eq(got + sizeof(hdr), frame, sizeof(frame));
}
END_TEST

/* Each bad packet is dropped and completed; the next good one goes through. */
START_TEST(test_tx_bad_packets)
{
        struct virtio_net_hdr ok = { 0 }, csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 60,
                                                   .csum_offset = 50 };
        struct virtio_net_hdr gso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
                                      .gso_size = 1400, .csum_start = 54, .csum_offset = 16 };
        uint8_t frame[100], got[256];
        struct vsp_net_stats s;

        drv_init(&d, BASIC | F(CSUM) | F(HOST_TSO4), 2);
        net_frame(frame, sizeof(frame), other, 3);
        net_send(&d, NET_TX(0), 0, &ok, frame, 10);                     /* runt */
        net_send(&d, NET_TX(0), 1, &csum, frame, sizeof(frame));        /* checksum past the end */
        net_send(&d, NET_TX(0), 2, &gso, frame, sizeof(frame));         /* TSO6 not negotiated */
        /* header only, in a chain with a device-writable descriptor */
        drv_desc(&d, d.q[NET_TX(0)].desc, 3, NET_BUF(NET_TX(0), 3), 12, VIRTQ_DESC_F_NEXT, 4);
        drv_desc(&d, d.q[NET_TX(0)].desc, 4, NET_BUF(NET_TX(0), 4), 100, VIRTQ_DESC_F_WRITE, 0);
        drv_kick(&d, &d.q[NET_TX(0)], 3);
        net_send(&d, NET_TX(0), 5, &ok, frame, sizeof(frame));
        ck_assert_uint_eq(host_recv(host_fd[0], got, sizeof(got), 2000), sizeof(ok) + sizeof(frame));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_TX(0)], 5, NULL), 5);
        WAIT_STATS(s, s.tx_dropped == 4);
        ck_assert_uint_eq(s.tx_dropped, 4);
        ck_assert_uint_eq(s.tx_packets, 1);
        ck_assert_uint_eq(s.ring_errors, 0);
        ck_assert_uint_eq(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}
END_TEST

START_TEST(test_tx_oversized)
{
        struct virtio_net_hdr hdr = { 0 };
        uint8_t got[128];
        struct vsp_net_stats s;

        drv_init(&d, BASIC, 2);
        /* 70000 bytes without GSO: more than any Ethernet frame. */
        memset(h->ram + NET_BIG, 0, 12);
        memcpy(h->ram + NET_BIG + 12, other, 6);
        drv_desc(&d, d.q[NET_TX(0)].desc, 0, NET_BIG, 12 + 70000, 0, 0);
        drv_kick(&d, &d.q[NET_TX(0)], 0);
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_TX(0)], 1, NULL), 1);
        WAIT_STATS(s, s.tx_dropped == 1);
        ck_assert_uint_eq(s.tx_dropped, 1);
        ck_assert_uint_eq(host_recv(host_fd[0], got, sizeof(got), 100), 0);
        (void)hdr;
}
END_TEST

START_TEST(test_rx)
{
        struct virtio_net_hdr hdr = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
        struct virtq_used_elem u;
        uint8_t frame[200];
        struct virtio_net_hdr got;
        int irq;

        drv_init(&d, BASIC, 2);
        irq = drv_irqfd(&d, 1 + NET_RX(0));
        for (uint16_t i = 0; i < 4; i++)
                net_post_rx(&d, NET_RX(0), i, 2048);
        net_frame(frame, sizeof(frame), mac, 4);
        host_send(host_fd[0], &hdr, frame, sizeof(frame));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 1, &u), 1);
        ck_assert_uint_eq(u.id, 0);
        ck_assert_uint_eq(u.len, 12 + sizeof(frame));
        memcpy(&got, h->ram + NET_BUF(NET_RX(0), 0), sizeof(got));
        ck_assert_uint_eq(le16toh(got.num_buffers), 1);
        ck_assert_uint_eq(got.flags, 0);        /* no GUEST_CSUM: DATA_VALID means nothing */
        ck_assert_mem_eq(h->ram + NET_BUF(NET_RX(0), 0) + 12, frame, sizeof(frame));
        ck_assert_uint_ge(fake_wait_irq(irq, 2000), 1);
}
END_TEST

START_TEST(test_rx_mergeable)
{
        struct virtio_net_hdr hdr = { 0 }, got;
        struct virtq_used_elem u[3];
        uint8_t frame[700], pkt[712], back[712];
        struct vsp_net_stats s;
        size_t off = 0;

        drv_init(&d, BASIC | F(MRG_RXBUF), 2);
        for (uint16_t i = 0; i < 4; i++)
                net_post_rx(&d, NET_RX(0), i, 256);
        net_frame(frame, sizeof(frame), mac, 5);
        host_send(host_fd[0], &hdr, frame, sizeof(frame));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 3, u), 3);
        ck_assert_uint_eq(u[0].len, 256);
        ck_assert_uint_eq(u[1].len, 256);
        ck_assert_uint_eq(u[2].len, 712 - 512);
        memcpy(&got, h->ram + NET_BUF(NET_RX(0), u[0].id), sizeof(got));
        ck_assert_uint_eq(le16toh(got.num_buffers), 3);
        for (unsigned i = 0; i < 3; i++) {
                memcpy(back + off, h->ram + NET_BUF(NET_RX(0), u[i].id), u[i].len);
                off += u[i].len;
        }
        memset(pkt, 0, 12);
        memcpy(pkt + 12, frame, sizeof(frame));
        memcpy(back + 10, pkt + 10, 2); /* num_buffers, checked above */
        ck_assert_mem_eq(back, pkt, sizeof(pkt));
        WAIT_STATS(s, s.rx_merged == 1);
        ck_assert_uint_eq(s.rx_merged, 1);
        ck_assert_uint_eq(s.rx_packets, 1);
        ck_assert_uint_eq(s.rx_bytes, sizeof(frame));
}
END_TEST

START_TEST(test_rx_waits_for_buffers)
{
        struct virtio_net_hdr hdr = { 0 }, got;
        struct virtq_used_elem u[3];
        uint8_t frame[600];

        drv_init(&d, BASIC | F(MRG_RXBUF), 2);
        net_post_rx(&d, NET_RX(0), 0, 256);
        net_frame(frame, sizeof(frame), mac, 6);
        host_send(host_fd[0], &hdr, frame, sizeof(frame));
        usleep(50000);
        ck_assert_uint_eq(net_reap(&d, &d.q[NET_RX(0)], u, 3), 0);     /* still waiting */
        net_post_rx(&d, NET_RX(0), 1, 256);
        net_post_rx(&d, NET_RX(0), 2, 256);
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 3, u), 3);
        memcpy(&got, h->ram + NET_BUF(NET_RX(0), 0), sizeof(got));
        ck_assert_uint_eq(le16toh(got.num_buffers), 3);
        ck_assert_uint_eq(u[0].len + u[1].len + u[2].len, 12 + sizeof(frame));
}
END_TEST

START_TEST(test_rx_too_big)
{
        struct virtio_net_hdr hdr = { 0 };
        struct virtq_used_elem u;
        uint8_t big[1500], small[100];
        struct vsp_net_stats s;

        /* Without MRG_RXBUF a packet larger than the buffer is dropped; the buffer stays. */
        drv_init(&d, BASIC, 2);
        net_post_rx(&d, NET_RX(0), 0, 512);
        net_frame(big, sizeof(big), mac, 7);
        net_frame(small, sizeof(small), mac, 8);
        host_send(host_fd[0], &hdr, big, sizeof(big));
        host_send(host_fd[0], &hdr, small, sizeof(small));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 1, &u), 1);
        ck_assert_uint_eq(u.len, 12 + sizeof(small));
        ck_assert_mem_eq(h->ram + NET_BUF(NET_RX(0), 0) + 12, small, sizeof(small));
        s = stats();
        ck_assert_uint_eq(s.rx_dropped, 1);
        ck_assert_uint_eq(s.rx_packets, 1);
}
END_TEST

START_TEST(test_rx_bigger_than_ring)
{
        struct virtio_net_hdr hdr = { 0 };
        struct virtq_used_elem u[16];
        uint8_t big[1500], small[100];
        struct vsp_net_stats s;
        unsigned got;

        /* 64 buffers of 16 bytes hold 1024 bytes: a 1500-byte frame can never fit. */
        drv_init(&d, BASIC | F(MRG_RXBUF), 2);
        for (uint16_t i = 0; i < DRV_QSIZE; i++)
                net_post_rx(&d, NET_RX(0), i, 16);
        net_frame(big, sizeof(big), mac, 9);
        net_frame(small, sizeof(small), mac, 10);
        host_send(host_fd[0], &hdr, big, sizeof(big));
        host_send(host_fd[0], &hdr, small, sizeof(small));
        got = drv_wait_used(&d, &d.q[NET_RX(0)], 7, u);        /* 112 bytes in 16-byte buffers */
        ck_assert_uint_eq(got, 7);
        ck_assert_uint_eq(u[0].id, 0);                         /* the ring's buffers came back */
        s = stats();
        ck_assert_uint_eq(s.rx_dropped, 1);
        ck_assert_uint_eq(s.rx_packets, 1);
        ck_assert_uint_eq(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}
END_TEST

START_TEST(test_rx_offloads)
{
        struct virtio_net_hdr partial = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16 };
        struct virtio_net_hdr tso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                      .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
        struct virtio_net_hdr udp = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_UDP,
                                      .gso_size = 1448, .csum_start = 34, .csum_offset = 6 };
        struct virtio_net_hdr got;
        struct virtq_used_elem u[2];
        uint8_t frame[300];
        struct vsp_net_stats s;

        /* The guest takes partial checksums and TSO4, not UFO. */
        drv_init(&d, BASIC | F(GUEST_CSUM) | F(GUEST_TSO4), 2);
        for (uint16_t i = 0; i < 4; i++)
                net_post_rx(&d, NET_RX(0), i, 2048);
        net_frame(frame, sizeof(frame), mac, 11);
        host_send(host_fd[0], &udp, frame, sizeof(frame));
        host_send(host_fd[0], &partial, frame, sizeof(frame));
        host_send(host_fd[0], &tso, frame, sizeof(frame));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 2, u), 2);
        memcpy(&got, h->ram + NET_BUF(NET_RX(0), u[0].id), sizeof(got));
        ck_assert_uint_eq(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ck_assert_uint_eq(got.csum_start, 34);
        memcpy(&got, h->ram + NET_BUF(NET_RX(0), u[1].id), sizeof(got));
        ck_assert_uint_eq(got.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
        ck_assert_uint_eq(got.gso_size, 1448);
        s = stats();
        ck_assert_uint_eq(s.rx_dropped, 1);     /* the UFO one */
}
END_TEST

START_TEST(test_ctrl_filter)
{
        struct virtio_net_hdr hdr = { 0 };
        struct virtq_used_elem u;
        uint8_t f_other[64], f_bcast[64], f_mine[64], f_multi[64], off = 0, on = 1;
        uint8_t table[4 + 6 + 4];
        uint8_t multi[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
        struct vsp_net_stats s;
        uint32_t one = htole32(1), zero = 0;

        drv_init(&d, BASIC | CTRL, 3);
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1), VIRTIO_NET_OK);
        for (uint16_t i = 0; i < 8; i++)
                net_post_rx(&d, NET_RX(0), i, 2048);
        net_frame(f_other, sizeof(f_other), other, 1);
        net_frame(f_bcast, sizeof(f_bcast), bcast, 2);
        net_frame(f_mine, sizeof(f_mine), mac, 3);
        net_frame(f_multi, sizeof(f_multi), multi, 4);
        host_send(host_fd[0], &hdr, f_other, sizeof(f_other));
        host_send(host_fd[0], &hdr, f_multi, sizeof(f_multi));
        host_send(host_fd[0], &hdr, f_bcast, sizeof(f_bcast));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 1, &u), 1);
        ck_assert_mem_eq(h->ram + NET_BUF(NET_RX(0), u.id) + 12, f_bcast, sizeof(f_bcast));
        host_send(host_fd[0], &hdr, f_mine, sizeof(f_mine));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 1, &u), 1);
        ck_assert_mem_eq(h->ram + NET_BUF(NET_RX(0), u.id) + 12, f_mine, sizeof(f_mine));
        s = stats();
        ck_assert_uint_eq(s.rx_filtered, 2);

        /* The other address as a unicast filter entry, no multicast: now it passes. */
        memcpy(table, &one, 4);
        memcpy(table + 4, other, 6);
        memcpy(table + 10, &zero, 4);
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, sizeof(table)),
                          VIRTIO_NET_OK);
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, 9),
                          VIRTIO_NET_ERR);
        host_send(host_fd[0], &hdr, f_other, sizeof(f_other));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 1, &u), 1);
        ck_assert_mem_eq(h->ram + NET_BUF(NET_RX(0), u.id) + 12, f_other, sizeof(f_other));
        /* allmulti lets the multicast one in; nobcast keeps broadcast out */
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1), VIRTIO_NET_OK);
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, &on, 1), VIRTIO_NET_OK);
        host_send(host_fd[0], &hdr, f_bcast, sizeof(f_bcast));
        host_send(host_fd[0], &hdr, f_multi, sizeof(f_multi));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(0)], 1, &u), 1);
        ck_assert_mem_eq(h->ram + NET_BUF(NET_RX(0), u.id) + 12, f_multi, sizeof(f_multi));
        s = stats();
        ck_assert_uint_eq(s.rx_filtered, 3);
}
END_TEST

START_TEST(test_ctrl_commands)
{
        const uint8_t newmac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 }, mcast[6] = { 1, 2, 3, 4, 5, 6 };
        uint16_t pairs = htole16(1);
        uint64_t offl = htole64(F(GUEST_CSUM)), bad = htole64(F(GUEST_UFO));
        struct vsp_net_stats s;

        drv_init(&d, BASIC | CTRL | OFFLOADS, 3);
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, newmac, 6), VIRTIO_NET_OK);
        for (unsigned i = 0; i < 6; i++)
                ck_assert_uint_eq(drv_cfg(&d, i, 1), newmac[i]);
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mcast, 6), VIRTIO_NET_ERR);
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                          VIRTIO_NET_ERR);         /* MQ not negotiated */
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
                                   &offl, 8), VIRTIO_NET_OK);
        ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
                                   &bad, 8), VIRTIO_NET_ERR);   /* not negotiated */
        ck_assert_uint_eq(net_ctrl(&d, 2, 99, 0, NULL, 0), VIRTIO_NET_ERR);
        s = stats();
        ck_assert_uint_eq(s.ctrl_ok, 2);
        ck_assert_uint_eq(s.ctrl_err, 4);
        /* A device reset brings back the configured address. */
        drv_set_status(&d, 0);
        ck_assert_uint_eq(drv_cfg(&d, 5, 1), mac[5]);
}
END_TEST

START_TEST(test_ctrl_without_ack)
{
        struct drv_queue *cq;
        struct virtio_net_ctrl_hdr c = { .cls = VIRTIO_NET_CTRL_RX, .cmd = 0 };

        drv_init(&d, BASIC | CTRL, 3);
        cq = &d.q[2];
        memcpy(h->ram + NET_BUF(2, 0), &c, sizeof(c));
        drv_desc(&d, cq->desc, 0, NET_BUF(2, 0), sizeof(c), 0, 0);
        drv_kick(&d, cq, 0);
        for (int t = 0; t < 2000 && !(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); t++)
                usleep(1000);
        ck_assert(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}
END_TEST

/* Ring-level violations on each queue: NEEDS_RESET, and after a reset the device works. */
START_TEST(test_hostile_rings)
{
        struct virtio_net_hdr hdr = { 0 };
        uint8_t frame[100], got[256];
        struct drv_queue *q;

        drv_init(&d, BASIC, 2);
        switch (_i) {
        case 0: /* a receive buffer the device may only read */
                q = &d.q[NET_RX(0)];
                drv_desc(&d, q->desc, 0, NET_BUF(0, 0), 2048, 0, 0);
                drv_kick(&d, q, 0);
                break;
        case 1: /* a receive buffer smaller than the header */
                q = &d.q[NET_RX(0)];
                drv_desc(&d, q->desc, 0, NET_BUF(0, 0), 8, VIRTQ_DESC_F_WRITE, 0);
                drv_kick(&d, q, 0);
                break;
        case 2: /* a transmit head out of range */
                q = &d.q[NET_TX(0)];
                drv_kick(&d, q, 1000);
                break;
        case 3: /* a transmit chain that loops */
                q = &d.q[NET_TX(0)];
                drv_desc(&d, q->desc, 0, NET_BUF(1, 0), 64, VIRTQ_DESC_F_NEXT, 1);
                drv_desc(&d, q->desc, 1, NET_BUF(1, 1), 64, VIRTQ_DESC_F_NEXT, 0);
                drv_kick(&d, q, 0);
                break;
        default: /* a buffer outside guest RAM */
                q = &d.q[NET_TX(0)];
                drv_desc(&d, q->desc, 0, RAM_SIZE - 16, 64, 0, 0);
                drv_kick(&d, q, 0);
                break;
        }
        if (_i < 2) {   /* receive problems show when a packet comes */
                net_frame(frame, sizeof(frame), mac, 1);
                host_send(host_fd[0], &hdr, frame, sizeof(frame));
        }
        for (int t = 0; t < 2000 && !(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); t++)
                usleep(1000);
        ck_assert(drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        ck_assert_uint_eq(stats().ring_errors, 1);
        /* Reset, set up again, transmit. */
        while (host_recv(host_fd[0], got, sizeof(got), 0))
                ;
        drv_init(&d, BASIC, 2);
        net_frame(frame, sizeof(frame), other, 2);
        net_send(&d, NET_TX(0), 0, &hdr, frame, sizeof(frame));
        ck_assert_uint_eq(host_recv(host_fd[0], got, sizeof(got), 2000), 12 + sizeof(frame));
}
END_TEST

START_TEST(test_link)
{
        struct virtio_net_hdr hdr = { 0 };
        uint8_t frame[100], got[256];
        int cfg_irq;

        drv_init(&d, BASIC, 2);
        cfg_irq = drv_irqfd(&d, 0);
        ck_assert_int_eq(vsp_net_set_link(net, false), 0);
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_net_config, status), 2), 0);
        ck_assert_uint_ge(fake_wait_irq(cfg_irq, 2000), 1);
        net_frame(frame, sizeof(frame), other, 1);
        net_send(&d, NET_TX(0), 0, &hdr, frame, sizeof(frame));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_TX(0)], 1, NULL), 1);
        ck_assert_uint_eq(host_recv(host_fd[0], got, sizeof(got), 100), 0);
        ck_assert_int_eq(vsp_net_set_link(net, true), 0);
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_net_config, status), 2), VIRTIO_NET_S_LINK_UP);
        net_send(&d, NET_TX(0), 1, &hdr, frame, sizeof(frame));
        ck_assert_uint_eq(host_recv(host_fd[0], got, sizeof(got), 2000), 12 + sizeof(frame));
}
END_TEST

START_TEST(test_multiqueue)
{
        struct virtio_net_hdr hdr = { 0 };
        uint8_t frame[100], got[256];
        uint16_t two = htole16(2), three = htole16(3);
        struct virtq_used_elem u;

        ck_assert(drv_device_features(&d) & F(MQ));
        ck_assert_uint_eq(drv_cfg(&d, offsetof(struct virtio_net_config, max_virtqueue_pairs), 2), 2);
        drv_init(&d, BASIC | CTRL | F(MQ), 5);
        ck_assert_uint_eq(net_ctrl(&d, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &three, 2),
                          VIRTIO_NET_ERR);
        ck_assert_uint_eq(net_ctrl(&d, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 2),
                          VIRTIO_NET_OK);
        net_frame(frame, sizeof(frame), other, 1);
        net_send(&d, NET_TX(1), 0, &hdr, frame, sizeof(frame));
        ck_assert_uint_eq(host_recv(host_fd[1], got, sizeof(got), 2000), 12 + sizeof(frame));
        ck_assert_uint_eq(host_recv(host_fd[0], got, sizeof(got), 50), 0);
        net_post_rx(&d, NET_RX(1), 0, 2048);
        net_frame(frame, sizeof(frame), mac, 2);
        host_send(host_fd[1], &hdr, frame, sizeof(frame));
        ck_assert_uint_eq(drv_wait_used(&d, &d.q[NET_RX(1)], 1, &u), 1);
        ck_assert_mem_eq(h->ram + NET_BUF(NET_RX(1), 0) + 12, frame, sizeof(frame));
}
END_TEST

/* Many packets both ways at once: nothing lost while buffers last, every byte right. */
START_TEST(test_stream)
{
        enum { N = 500 };
        struct virtio_net_hdr hdr = { 0 };
        uint8_t frame[1400], got[2048];
        struct drv_queue *rq, *tq;
        unsigned sent = 0, received = 0, tx_sent = 0, tx_reaped = 0, txdone = 0;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 30 * 1000000ull;

        drv_init(&d, BASIC | F(MRG_RXBUF), 2);
        rq = &d.q[NET_RX(0)];
        tq = &d.q[NET_TX(0)];
        for (uint16_t i = 0; i < DRV_QSIZE; i++)
                net_post_rx(&d, NET_RX(0), i, 2048);
        while (received < N || txdone < N) {
                struct virtq_used_elem u[DRV_QSIZE];
                unsigned n, progress = 0;

                ck_assert_uint_lt(now_usec(CLOCK_MONOTONIC), deadline);
                if (sent < N && sent - received < DRV_QSIZE / 2) {
                        net_frame(frame, sizeof(frame), mac, (uint8_t)sent);
                        host_send(host_fd[0], &hdr, frame, sizeof(frame));
                        sent++;
                        progress++;
                }
                if (tx_sent < N && tx_sent - tx_reaped < DRV_QSIZE / 2) {
                        net_frame(frame, sizeof(frame), other, (uint8_t)(tx_sent + 100));
                        net_send(&d, NET_TX(0), (uint16_t)(tx_sent % DRV_QSIZE), &hdr, frame, sizeof(frame));
                        tx_sent++;
                        progress++;
                }
                n = net_reap(&d, rq, u, DRV_QSIZE);
                for (unsigned k = 0; k < n; k++) {
                        net_frame(frame, sizeof(frame), mac, (uint8_t)received);
                        ck_assert_uint_eq(u[k].len, 12 + sizeof(frame));
                        ck_assert_mem_eq(h->ram + NET_BUF(NET_RX(0), u[k].id) + 12, frame, sizeof(frame));
                        received++;
                        net_post_rx(&d, NET_RX(0), (uint16_t)u[k].id, 2048);
                }
                n = net_reap(&d, tq, NULL, DRV_QSIZE);
                tx_reaped += n;
                progress += n;
                while (host_recv(host_fd[0], got, sizeof(got), 0)) {
                        net_frame(frame, sizeof(frame), other, (uint8_t)(txdone + 100));
                        ck_assert_mem_eq(got + 12, frame, sizeof(frame));
                        txdone++;
                        progress++;
                }
                if (!progress)
                        usleep(100);
        }
        ck_assert_uint_eq(stats().rx_packets, N);
        ck_assert_uint_eq(stats().tx_packets, N);
}
END_TEST

static Suite *net_suite(void)
{
        Suite *s = suite_create("net-device");
        TCase *tc = tcase_create("device");

        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_config_and_features);
        tcase_add_test(tc, test_feature_rules);
        tcase_add_test(tc, test_tx);
        tcase_add_test(tc, test_tx_scattered);
        tcase_add_test(tc, test_tx_backpressure);
        tcase_add_test(tc, test_tx_bad_packets);
        tcase_add_test(tc, test_tx_oversized);
        tcase_add_test(tc, test_rx);
        tcase_add_test(tc, test_rx_mergeable);
        tcase_add_test(tc, test_rx_waits_for_buffers);
        tcase_add_test(tc, test_rx_too_big);
        tcase_add_test(tc, test_rx_bigger_than_ring);
        tcase_add_test(tc, test_rx_offloads);
        tcase_add_test(tc, test_ctrl_filter);
        tcase_add_test(tc, test_ctrl_commands);
        tcase_add_test(tc, test_ctrl_without_ack);
        tcase_add_loop_test(tc, test_hostile_rings, 0, 5);
        tcase_add_test(tc, test_link);
        tcase_add_test(tc, test_stream);
        suite_add_tcase(s, tc);

        tc = tcase_create("multiqueue");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup_mq, teardown);
        tcase_add_test(tc, test_multiqueue);
        suite_add_tcase(s, tc);
        return s;
}

CHECK_SUITE_MAIN(net_suite)
