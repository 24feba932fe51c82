/* SPDX-License-Identifier: MIT */
/*
 * The TAP backend on real TAP devices, and the virtio-net device on top of one, with the
 * kernel's network stack at the other end: UDP from a host socket into the guest's
 * buffers and back, checksums and segmentation offloads following what the guest
 * accepted. Runs in a network namespace of its own; skips (77) without /dev/net/tun or
 * the right to make one.
 */
#include "check-main.h"
#include <arpa/inet.h>
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "net-driver.h"
#include "vmms/nic.h"
#include "vmms/vmbus.h"
#include "vmms/vsp_net.h"
#include "vmms/tap.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define F(b)       VIRTIO_BIT(VIRTIO_NET_F_##b)
#define RING       (VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC))
#define RAM_SIZE   (16u << 20)
#define DEV1       PCI_DEVFN(1, 0)
#define IFNAME     "vmmsnet0"
#define HOST_IP    "10.99.0.1"
#define GUEST_IP   "10.99.0.2"
#define HOST_PORT  7777
#define GUEST_PORT 9

static const uint8_t guest_mac[6] = { 0x02, 0x56, 0x00, 0x00, 0x00, 0x02 };

static int open_tun(const char *name, short flags)
{
        struct ifreq ifr = { .ifr_flags = flags };
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
        return fd;
}

static short if_flags(const char *name)
{
        struct ifreq ifr = {};
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        ck_assert_int_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
        close(s);
        return ifr.ifr_flags;
}

START_TEST(test_open)
{
        struct vsp_tap *t;
        unsigned o;

        ck_assert_int_eq(vsp_tap_open("vmmst0", 1, &t), 0);
        ck_assert_str_eq(vsp_tap_ifname(t), "vmmst0");
        ck_assert(vsp_tap_has_vnet_hdr(t));
        ck_assert_uint_eq(vsp_tap_queues(t), 1);
        ck_assert_uint_eq(vsp_tap_mtu(t), 1500);
        o = vsp_tap_offloads_supported(t);
        ck_assert_uint_eq(o & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN),
                          TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
        ck_assert(if_flags("vmmst0") & IFF_UP);
        ck_assert_int_eq(vsp_tap_set_offloads(t, TUN_F_CSUM | TUN_F_TSO4), 0);
        ck_assert_int_eq(vsp_tap_set_offloads(t, 0x8000), -EOPNOTSUPP);
        vsp_tap_free(t);
        ck_assert_uint_eq(if_nametoindex("vmmst0"), 0);        /* ours: gone with its fd */

        ck_assert_int_eq(vsp_tap_open("vmmst%d", 1, &t), 0);   /* the kernel picks the number */
        ck_assert_str_eq(vsp_tap_ifname(t), "vmmst0");
        vsp_tap_free(t);
        ck_assert_int_eq(vsp_tap_open("abcdefghijklmnopq", 1, &t), -EINVAL);
}
END_TEST

START_TEST(test_open_busy_and_tun)
{
        struct vsp_tap *t;
        int fd = open_tun("vmmstun", IFF_TUN | IFF_NO_PI);

        ck_assert_int_eq(vsp_tap_open("vmmstun", 1, &t), -EINVAL);     /* a TUN, not a TAP */
        close(fd);
        fd = open_tun("vmmst1", IFF_TAP | IFF_NO_PI);
        ck_assert_int_eq(vsp_tap_open("vmmst1", 1, &t), -EBUSY);       /* its one queue is taken */
        close(fd);
        /* multiqueue: two queues, one can be detached and attached again */
        ck_assert_int_eq(vsp_tap_open("vmmst2", 2, &t), 0);
        ck_assert_uint_eq(vsp_tap_queues(t), 2);
        ck_assert_int_eq(vsp_tap_enable_queue(t, 1, false), 0);
        ck_assert_int_eq(vsp_tap_enable_queue(t, 1, false), 0);
        ck_assert_int_eq(vsp_tap_enable_queue(t, 1, true), 0);
        ck_assert_int_eq(vsp_tap_enable_queue(t, 2, true), -EINVAL);
        /* one more single-queue open of a multiqueue TAP works too */
        {
                struct vsp_tap *t2;

                ck_assert_int_eq(vsp_tap_open("vmmst2", 1, &t2), 0);
                vsp_tap_free(t2);
        }
        vsp_tap_free(t);
}
END_TEST

START_TEST(test_adopt)
{
        struct vsp_tap *t;
        int fds[2], p[2];

        fds[0] = open_tun("vmmst3", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE);
        fds[1] = open_tun("vmmst3", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE);
        ck_assert_int_eq(vsp_tap_adopt(fds, 2, &t), 0);
        ck_assert_str_eq(vsp_tap_ifname(t), "vmmst3");
        ck_assert(vsp_tap_has_vnet_hdr(t));
        ck_assert_uint_eq(vsp_tap_queues(t), 2);
        ck_assert(fcntl(vsp_tap_fd(t, 0), F_GETFL) & O_NONBLOCK);
        vsp_tap_free(t);
        fds[0] = open_tun("vmmst4", IFF_TAP | IFF_NO_PI);
        ck_assert_int_eq(vsp_tap_adopt(fds, 1, &t), 0);
        ck_assert(!vsp_tap_has_vnet_hdr(t));
        ck_assert_uint_eq(vsp_tap_offloads_supported(t), 0);
        vsp_tap_free(t);
        fds[0] = open_tun("vmmst6", IFF_TUN | IFF_NO_PI);
        ck_assert_int_eq(vsp_tap_adopt(fds, 1, &t), -EINVAL);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        close(p[1]);
        ck_assert_int_eq(vsp_tap_adopt(&p[0], 1, &t), -ENOTTY);
}
END_TEST

/* ---- the device over a TAP, the kernel's UDP at the other end ------------------------ */

static struct fake_host *h;
static struct vmbus *bus;
static struct vsp_net *net;
static struct drv d;
static int udp = -1;

static void set_addr(void)
{
        struct ifreq ifr = {};
        struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
        struct arpreq arp = {};
        struct sockaddr_in *pa = (struct sockaddr_in *)&arp.arp_pa;
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        snprintf(ifr.ifr_name, IFNAMSIZ, IFNAME);
        sin->sin_family = AF_INET;
        inet_pton(AF_INET, HOST_IP, &sin->sin_addr);
        ck_assert_int_eq(ioctl(s, SIOCSIFADDR, &ifr), 0);
        inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
        ck_assert_int_eq(ioctl(s, SIOCSIFNETMASK, &ifr), 0);
        /* The guest answers no ARP here: a static neighbour. */
        pa->sin_family = AF_INET;
        inet_pton(AF_INET, GUEST_IP, &pa->sin_addr);
        arp.arp_ha.sa_family = ARPHRD_ETHER;
        memcpy(arp.arp_ha.sa_data, guest_mac, 6);
        arp.arp_flags = ATF_PERM | ATF_COM;
        snprintf(arp.arp_dev, sizeof(arp.arp_dev), IFNAME);
        ck_assert_int_eq(ioctl(s, SIOCSARP, &arp), 0);
        close(s);
}

static void dev_setup(void)
{
        struct nic_config nic;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(HOST_PORT) };
        char err[256];

        h = fake_host_new(RAM_SIZE);
        ck_assert_int_eq(vmbus_new(&h->host, NULL, NULL, &bus), 0);
        ck_assert_int_eq(nic_config_parse("tap=" IFNAME ",mac=02:56:00:00:00:02", err, sizeof(err), &nic), 0);
        ck_assert_int_eq(vsp_net_add(bus, &nic, NULL, 0, &net, NULL), 0);
        nic_config_done(&nic);
        ck_assert_str_eq(vsp_net_ifname(net), IFNAME);
        drv_probe(&d, h, DEV1);
        set_addr();
        udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        inet_pton(AF_INET, HOST_IP, &sa.sin_addr);
        ck_assert_int_eq(bind(udp, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void dev_teardown(void)
{
        close(udp);
        vmbus_free(bus);
        fake_host_free(h);
}

static uint16_t csum_add(uint32_t sum, const void *data, size_t len)
{
        const uint8_t *p = data;

        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t)p[i] << 8 | p[i + 1];
        if (len & 1)
                sum += (uint32_t)p[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)sum;
}

/* The ones' complement sum of the UDP pseudo header and datagram (0xffff when valid). */
static uint16_t udp_sum(const uint8_t *ip, const uint8_t *udph, size_t ulen)
{
        uint8_t pseudo[12];

        memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = 17;
        pseudo[10] = (uint8_t)(ulen >> 8);
        pseudo[11] = (uint8_t)ulen;
        return csum_add(csum_add(0, pseudo, sizeof(pseudo)), udph, ulen);
}

/* A guest frame: UDP/IPv4 from GUEST_IP:GUEST_PORT to HOST_IP:HOST_PORT. */
static size_t guest_udp_frame(uint8_t *f, const uint8_t *payload, size_t len)
{
        uint8_t *ip = f + 14, *u = ip + 20;
        uint16_t tot = (uint16_t)(20 + 8 + len), c;
        struct in_addr s, t;
        struct ifreq ifr = {};
        int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        snprintf(ifr.ifr_name, IFNAMSIZ, IFNAME);
        ck_assert_int_eq(ioctl(sk, SIOCGIFHWADDR, &ifr), 0);
        close(sk);
        memcpy(f, ifr.ifr_hwaddr.sa_data, 6);
        memcpy(f + 6, guest_mac, 6);
        f[12] = 0x08;
        f[13] = 0x00;
        memset(ip, 0, 20);
        ip[0] = 0x45;
        ip[2] = (uint8_t)(tot >> 8);
        ip[3] = (uint8_t)tot;
        ip[8] = 64;
        ip[9] = 17;
        inet_pton(AF_INET, GUEST_IP, &s);
        inet_pton(AF_INET, HOST_IP, &t);
        memcpy(ip + 12, &s, 4);
        memcpy(ip + 16, &t, 4);
        c = (uint16_t)~csum_add(0, ip, 20);
        ip[10] = (uint8_t)(c >> 8);
        ip[11] = (uint8_t)c;
        u[0] = GUEST_PORT >> 8;
        u[1] = GUEST_PORT & 0xff;
        u[2] = HOST_PORT >> 8;
        u[3] = HOST_PORT & 0xff;
        u[4] = (uint8_t)((8 + len) >> 8);
        u[5] = (uint8_t)(8 + len);
        u[6] = u[7] = 0;        /* no UDP checksum */
        memcpy(u + 8, payload, len);
        return 14 + 20 + 8 + len;
}

static void host_to_guest(const void *payload, size_t len, int segment)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(GUEST_PORT) };

        inet_pton(AF_INET, GUEST_IP, &sa.sin_addr);
        if (segment)
                ck_assert_int_eq(setsockopt(udp, SOL_UDP, UDP_SEGMENT, &segment, sizeof(segment)), 0);
        ck_assert_int_eq(sendto(udp, payload, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
}

/*
 * Receive until a UDP datagram to GUEST_PORT arrives (the kernel may send other things
 * first): its vnet header into *hdr, its frame into f; returns the frame's length.
 */
static size_t guest_recv_udp(struct virtio_net_hdr *hdr, uint8_t *f)
{
        for (int tries = 0; tries < 20; tries++) {
                struct virtq_used_elem u;
                uint64_t b;

                ck_assert_uint_eq(drv_wait_used(&d, &d.q[0], 1, &u), 1);
                ck_assert_uint_le(u.len, NET_BUF_MAX);
                b = NET_BUF(0, u.id);
                memcpy(hdr, h->ram + b, sizeof(*hdr));
                memcpy(f, h->ram + b + 12, u.len - 12);
                net_post_rx(&d, 0, (uint16_t)u.id, NET_BUF_MAX);
                if (f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 && f[36] == 0 && f[37] == GUEST_PORT)
                        return u.len - 12;
        }
        ck_abort_msg("no UDP datagram for the guest");
        return 0;
}

static void post_all(void)
{
        for (uint16_t i = 0; i < 32; i++)
                net_post_rx(&d, 0, i, NET_BUF_MAX);
}

START_TEST(test_udp_both_ways)
{
        uint8_t payload[1200], frame[1400], got[2048], f[NET_BUF_MAX];
        struct virtio_net_hdr hdr = { 0 };
        size_t n, flen;

        drv_init(&d, F(MAC) | F(MRG_RXBUF) | RING, 2);
        post_all();
        /* host -> guest: without GUEST_CSUM the kernel computed the checksum for us */
        for (size_t i = 0; i < sizeof(payload); i++)
                payload[i] = (uint8_t)(i * 7 + 1);
        host_to_guest(payload, sizeof(payload), 0);
        flen = guest_recv_udp(&hdr, f);
        ck_assert_uint_eq(flen, 14 + 20 + 8 + sizeof(payload));
        ck_assert_uint_eq(hdr.flags, 0);
        ck_assert_uint_eq(hdr.num_buffers, 1);
        hdr.num_buffers = 0;
        ck_assert_mem_eq(f + 42, payload, sizeof(payload));
        ck_assert_uint_eq(udp_sum(f + 14, f + 34, 8 + sizeof(payload)), 0xffff);
        /* guest -> host: every byte arrives */
        n = guest_udp_frame(frame, payload, sizeof(payload));
        net_send(&d, 1, 0, &hdr, frame, (uint32_t)n);
        n = (size_t)recv(udp, got, sizeof(got), 0);
        ck_assert_uint_eq(n, sizeof(payload));
        ck_assert_mem_eq(got, payload, sizeof(payload));
}
END_TEST

START_TEST(test_checksum_offload)
{
        uint8_t payload[300], frame[400], got[512], f[NET_BUF_MAX];
        struct virtio_net_hdr hdr, tx = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 };
        size_t n, flen;

        /* GUEST_CSUM: the TAP hands us partial checksums and we pass them on as such. */
        drv_init(&d, F(MAC) | F(MRG_RXBUF) | F(CSUM) | F(GUEST_CSUM) | RING, 2);
        post_all();
        memset(payload, 0x5a, sizeof(payload));
        host_to_guest(payload, sizeof(payload), 0);
        flen = guest_recv_udp(&hdr, f);
        ck_assert_uint_eq(flen, 14 + 20 + 8 + sizeof(payload));
        ck_assert_uint_eq(hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ck_assert_uint_eq(le16toh(hdr.csum_start), 34);
        ck_assert_uint_eq(le16toh(hdr.csum_offset), 6);
        /* and the guest may send one: the pseudo-header sum in place, NEEDS_CSUM */
        n = guest_udp_frame(frame, payload, sizeof(payload));
        {
                uint16_t c = udp_sum(frame + 14, frame + 34, 0);        /* pseudo header only */

                frame[40] = (uint8_t)(c >> 8);
                frame[41] = (uint8_t)c;
        }
        net_send(&d, 1, 0, &tx, frame, (uint32_t)n);
        ck_assert_int_eq(recv(udp, got, sizeof(got), 0), (ssize_t)sizeof(payload));
        ck_assert_mem_eq(got, payload, sizeof(payload));

        /* CTRL_GUEST_OFFLOADS: the driver turns receive checksum offload off at run time, the TAP follows. */
        drv_init(&d, F(MAC) | F(MRG_RXBUF) | F(GUEST_CSUM) | F(CTRL_VQ) | F(CTRL_GUEST_OFFLOADS) | RING, 3);
        post_all();
        {
                uint64_t none = 0;

                ck_assert_uint_eq(net_ctrl(&d, 2, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
                                           &none, sizeof(none)), VIRTIO_NET_OK);
        }
        host_to_guest(payload, sizeof(payload), 0);
        flen = guest_recv_udp(&hdr, f);
        ck_assert_uint_eq(hdr.flags, 0);
        ck_assert_uint_eq(udp_sum(f + 14, f + 34, 8 + sizeof(payload)), 0xffff);
}
END_TEST

START_TEST(test_udp_segmentation_offload)
{
        const uint64_t uso = F(GUEST_CSUM) | F(GUEST_USO4) | F(GUEST_USO6);
        uint8_t payload[1500], f[NET_BUF_MAX];
        struct virtio_net_hdr hdr;
        size_t flen;

        if (!(drv_device_features(&d) & F(GUEST_USO4))) {
                fprintf(stderr, "this kernel's TAP has no USO: skipping the USO half\n");
                return;
        }
        memset(payload, 0x42, sizeof(payload));
        /* Accepted: one 1500-byte datagram, segmented by whoever needs it. */
        drv_init(&d, F(MAC) | F(MRG_RXBUF) | uso | RING, 2);
        post_all();
        host_to_guest(payload, sizeof(payload), 500);
        flen = guest_recv_udp(&hdr, f);
        ck_assert_uint_eq(hdr.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
        ck_assert_uint_eq(le16toh(hdr.gso_size), 500);
        ck_assert_uint_eq(flen, 14 + 20 + 8 + sizeof(payload));
        /* Not accepted: three datagrams of 500 bytes. */
        drv_init(&d, F(MAC) | F(MRG_RXBUF) | F(GUEST_CSUM) | RING, 2);
        post_all();
        host_to_guest(payload, sizeof(payload), 500);
        for (int i = 0; i < 3; i++) {
                flen = guest_recv_udp(&hdr, f);
                ck_assert_uint_eq(hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
                ck_assert_uint_eq(flen, 14 + 20 + 8 + 500);
        }
}
END_TEST

static Suite *tap_suite(void)
{
        Suite *s = suite_create("net-tap");
        TCase *tc = tcase_create("tap");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_open);
        tcase_add_test(tc, test_open_busy_and_tun);
        tcase_add_test(tc, test_adopt);
        suite_add_tcase(s, tc);

        tc = tcase_create("device");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, dev_setup, dev_teardown);
        tcase_add_test(tc, test_udp_both_ways);
        tcase_add_test(tc, test_checksum_offload);
        tcase_add_test(tc, test_udp_segmentation_offload);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        int fd;

        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                printf("skip: /dev/net/tun: %s\n", strerror(errno));
                return 77;
        }
        close(fd);
        /* A namespace of our own: the TAPs, addresses and neighbours go with it. */
        if (unshare(CLONE_NEWNET) < 0) {
                printf("skip: cannot make a network namespace: %s\n", strerror(errno));
                return 77;
        }
        fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void)!write(fd, "1", 1);
                close(fd);
        }
        return check_run_suite(tap_suite());
}
