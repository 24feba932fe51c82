/* SPDX-License-Identifier: MIT */
/*
 * The host end of the network benchmark and tests, run inside the test's network
 * namespace:
 *
 *   udp-peer sink ADDR PORT MAX_SECONDS
 *       count UDP datagrams to ADDR:PORT; stops 0.5 s after the last one (or at MAX_SECONDS)
 *       and prints "packets=N bytes=N seconds=S pps=N mbps=N" for the window from the first
 *       datagram to the last.
 *   udp-peer blast SRC DST PORT SIZE SECONDS
 *       send SIZE-byte datagrams from SRC to DST:PORT as fast as sendmmsg() goes, for
 *       SECONDS; prints what it sent the same way.
 *   udp-peer blast-raw IFNAME DST_MAC SRC DST PORT SIZE SECONDS [PPS]
 *       the same datagrams as whole Ethernet frames through an AF_PACKET socket on IFNAME:
 *       the host's IP and UDP layers are skipped, so the sender costs the host far less per
 *       packet than the VMM receiving them does (what the TAP cannot queue, it drops). PPS
 *       caps the offered rate (default: as fast as it goes).
 *
 * Batches of 64 datagrams per system call (recvmmsg/sendmmsg), so the peer is not what limits
 * the guest's rate.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define BUF   2048

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(unsigned long long packets, unsigned long long bytes, double secs)
{
        if (secs <= 0)
                secs = 1e-9;
        printf("packets=%llu bytes=%llu seconds=%.6f pps=%.0f mbps=%.3f\n", packets, bytes, secs,
               (double)packets / secs, (double)bytes * 8 / secs / 1e6);
}

static int bound(const char *addr, int port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), big = 32 << 20;

        if (s < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
                fprintf(stderr, "udp-peer: bad address %s\n", addr);
                exit(2);
        }
        (void)setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
        (void)setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
        if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("udp-peer: bind");
                exit(1);
        }
        return s;
}

static int sink(const char *addr, int port, double max_secs)
{
        static char bufs[BATCH][BUF];
        struct mmsghdr msgs[BATCH];
        struct iovec iov[BATCH];
        unsigned long long packets = 0, bytes = 0;
        double first = 0, last = 0, start = now();
        int s = bound(addr, port);

        for (int i = 0; i < BATCH; i++) {
                iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = BUF };
                msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
        }
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                struct pollfd p = { .fd = s, .events = POLLIN };
                double t = now();
                int n, ms = packets ? 500 : (int)((start + max_secs - t) * 1000);

                if (ms <= 0 || t - start > max_secs)
                        break;
                if (poll(&p, 1, ms) <= 0)
                        break;
                n = recvmmsg(s, msgs, BATCH, MSG_DONTWAIT, NULL);
                if (n <= 0)
                        continue;
                t = now();
                if (!packets)
                        first = t;
                last = t;
                packets += (unsigned long long)n;
                for (int i = 0; i < n; i++)
                        bytes += msgs[i].msg_len;
        }
        report(packets, bytes, last - first);
        return 0;
}

static int blast(const char *src, const char *dst, int port, int size, double secs)
{
        static char buf[BUF];
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        struct mmsghdr msgs[BATCH];
        struct iovec iov = { .iov_base = buf, .iov_len = (size_t)size };
        unsigned long long packets = 0;
        double start, end;
        int s = bound(src, 0);

        if (size < 0 || size > BUF || inet_pton(AF_INET, dst, &to.sin_addr) != 1) {
                fprintf(stderr, "udp-peer: bad size or destination\n");
                return 2;
        }
        memset(buf, 0x5a, sizeof(buf));
        for (int i = 0; i < BATCH; i++)
                msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof(to),
                                                         .msg_iov = &iov, .msg_iovlen = 1 } };
        start = now();
        end = start + secs;
        while (now() < end) {
                int n = sendmmsg(s, msgs, BATCH, 0);

                if (n < 0 && errno != ENOBUFS && errno != EAGAIN) {
                        perror("udp-peer: sendmmsg");
                        return 1;
                }
                if (n > 0)
                        packets += (unsigned long long)n;
        }
        report(packets, packets * (unsigned long long)size, now() - start);
        return 0;
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t)p[i] << 8 | p[i + 1];
        if (len & 1)
                sum += (uint32_t)p[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)sum;
}

static int blast_raw(const char *ifname, const char *mac_s, const char *src, const char *dst, int port, int size,
                     double secs, double pps)
{
        static uint8_t frame[BUF];
        struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_halen = 6 };
        struct mmsghdr msgs[BATCH];
        struct iovec iov;
        unsigned long long packets = 0;
        unsigned mac[6];
        uint8_t *ip = frame + 14, *u = ip + 20, pseudo[12];
        struct in_addr s, d;
        int fd, len = 14 + 20 + 8 + size;
        double start, end;
        uint16_t c;

        if (size < 0 || len > BUF || sscanf(mac_s, "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3],
                                             &mac[4], &mac[5]) != 6 ||
            inet_pton(AF_INET, src, &s) != 1 || inet_pton(AF_INET, dst, &d) != 1) {
                fprintf(stderr, "udp-peer: bad arguments\n");
                return 2;
        }
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        ll.sll_ifindex = (int)if_nametoindex(ifname);
        if (fd < 0 || !ll.sll_ifindex) {
                perror("udp-peer: packet socket");
                return 1;
        }
        for (int i = 0; i < 6; i++)
                frame[i] = (uint8_t)mac[i];
        frame[6] = 0x02;                /* a locally administered source */
        frame[11] = 0x01;
        frame[12] = 0x08;
        ip[0] = 0x45;
        ip[2] = (uint8_t)((20 + 8 + size) >> 8);
        ip[3] = (uint8_t)(20 + 8 + size);
        ip[8] = 64;
        ip[9] = 17;
        memcpy(ip + 12, &s, 4);
        memcpy(ip + 16, &d, 4);
        c = (uint16_t)~csum(0, ip, 20);
        ip[10] = (uint8_t)(c >> 8);
        ip[11] = (uint8_t)c;
        u[0] = 0x9c;                    /* source port 40000 */
        u[1] = 0x40;
        u[2] = (uint8_t)(port >> 8);
        u[3] = (uint8_t)port;
        u[4] = (uint8_t)((8 + size) >> 8);
        u[5] = (uint8_t)(8 + size);
        memset(u + 8, 0x5a, (size_t)size);
        memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = 17;
        pseudo[10] = u[4];
        pseudo[11] = u[5];
        c = (uint16_t)~csum(csum(0, pseudo, sizeof(pseudo)), u, 8 + (size_t)size);
        if (!c)
                c = 0xffff;
        u[6] = (uint8_t)(c >> 8);
        u[7] = (uint8_t)c;
        iov = (struct iovec){ .iov_base = frame, .iov_len = (size_t)len };
        for (int i = 0; i < BATCH; i++)
                msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &ll, .msg_namelen = sizeof(ll),
                                                         .msg_iov = &iov, .msg_iovlen = 1 } };
        start = now();
        end = start + secs;
        while (now() < end) {
                int n;

                while (pps > 0 && (double)packets > (now() - start) * pps)
                        ;       /* ahead of the requested rate */
                n = sendmmsg(fd, msgs, BATCH, 0);
                if (n < 0 && errno != ENOBUFS && errno != EAGAIN) {
                        perror("udp-peer: sendmmsg");
                        return 1;
                }
                if (n > 0)
                        packets += (unsigned long long)n;
        }
        report(packets, packets * (unsigned long long)size, now() - start);
        return 0;
}

int main(int argc, char *argv[])
{
        if (argc == 5 && strcmp(argv[1], "sink") == 0)
                return sink(argv[2], atoi(argv[3]), atof(argv[4]));
        if (argc == 7 && strcmp(argv[1], "blast") == 0)
                return blast(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atof(argv[6]));
        if ((argc == 9 || argc == 10) && strcmp(argv[1], "blast-raw") == 0)
                return blast_raw(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]), atoi(argv[7]), atof(argv[8]),
                                 argc == 10 ? atof(argv[9]) : 0);
        fprintf(stderr, "usage: udp-peer sink ADDR PORT MAX_SECONDS | blast SRC DST PORT SIZE SECONDS |\n"
                        "       blast-raw IFNAME DST_MAC SRC DST PORT SIZE SECONDS [PPS]\n");
        return 2;
}
