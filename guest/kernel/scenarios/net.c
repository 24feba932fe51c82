/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net scenarios:
 *
 *   net-echo   answer ARP and ICMP echo, send every UDP datagram to port 7 back to where it
 *              came from, until a datagram "quit" (pass) or the power button (pass).
 *   net-ping   peer=A.B.C.D count=N (4) size=N (56): ICMP echo to the peer, every reply
 *              expected; with udp=1 also UDP datagrams to the peer's port 7, every byte of the
 *              echoes checked.
 *   net-bench  peer=A.B.C.D:PORT dir=tx|rx size=N (64, UDP payload bytes) duration_ms=N (1000)
 *              port=N (9000, ours): send at full speed to the peer (tx) or count what arrives
 *              at our port (rx, timed from the first datagram); packets/s and Mbit/s of payload
 *              as metric lines. Poll mode unless net_poll=0. With uso=1 and a device that
 *              offers VIRTIO_NET_F_HOST_USO, tx hands the device up to 64 datagrams of SIZE
 *              bytes at once as one UDP segmentation offload frame (as Linux does for a
 *              UDP_SEGMENT socket); the metrics still count datagrams.
 *
 * All take the options of net.h (nic=, net_poll=, qsize=, event_idx=, csum=, promisc=, ip=, gw=).
 */
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenario.h"
#include "kernel/scenarios/net.h"
#include "kernel/scenarios/scenarios.h"

#define ECHO_PORT       7
#define WAIT_SLICE_NS   (100ull * 1000000)
#define PING_TIMEOUT_NS (1000ull * 1000000)
#define BENCH_BATCH     32
#define BENCH_USO_SEGS  64u     /* Linux's UDP_MAX_SEGMENTS */
#define BENCH_USO_SLOT  (68u << 10)

int net_env_init(struct net_env *e, bool default_poll, bool need_ip, uint32_t default_tx_slot)
{
        uint64_t idx = guest_cmdline_get_u64("nic", 0);
        char mac[18], addr[16];
        int n, r;

        *e = (struct net_env){ 0 };
        e->vmms = guest_startswith(guest.acpi.oem_id, "VMMS");
        n = guest_net_probe();
        guest_report_info("pci_functions=%u virtio_net_devices=%d vmm=%s", guest.pci.count, n,
                          e->vmms ? "vmms" : "other");
        if (n <= 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "no virtio-net device (%d)", n);
                return n < 0 ? n : -ENODEV;
        }
        e->n = guest_net_get((unsigned)idx);
        if (!e->n) {
                guest_report_info("no virtio-net device %lu among %d", (unsigned long)idx, n);
                return GUEST_SCENARIO_SKIP;
        }
        e->opts.poll = guest_cmdline_get_u64("net_poll", default_poll) != 0;
        e->opts.queue_size = (uint16_t)MIN(guest_cmdline_get_u64("qsize", 0), (uint64_t)VIRTQ_MAX_SIZE);
        e->opts.promisc = guest_cmdline_get_u64("promisc", 0) != 0;
        e->opts.tx_slot = (uint32_t)MIN(guest_cmdline_get_u64("tx_slot", default_tx_slot), 256ull << 10);
        if (guest_cmdline_get_u64("event_idx", 1) == 0)
                e->opts.refuse |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
        if (guest_cmdline_get_u64("csum", 1) == 0)
                e->opts.refuse |= VIRTIO_BIT(VIRTIO_NET_F_CSUM);
        r = guest_net_start(e->n, &e->opts);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "virtio-net %s: start failed: %d (status %#x)", e->n->name, r,
                                    guest_virtio_get_status(&e->n->vp));
                return r;
        }
        r = guest_ip_init(&e->ip, e->n);
        e->have_ip = r == 0;
        if (need_ip && !e->have_ip) {
                guest_report_assert(GUEST_FILE, __LINE__, "no usable ip=A.B.C.D/N on the command line");
                return -EINVAL;
        }
        guest_snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->n->mac[0], e->n->mac[1], e->n->mac[2],
                       e->n->mac[3], e->n->mac[4], e->n->mac[5]);
        guest_report_info("net nic=%u pci=%s mac=%s ip=%s mtu=%u link=%s queue_size=%u event_idx=%u csum=%u "
                          "mrg_rxbuf=%u ctrl=%u msix=%u mode=%s features=%#lx offered=%#lx",
                          e->n->index, e->n->name, mac, e->have_ip ? guest_ip_format(e->ip.addr, addr) : "none",
                          e->n->mtu, guest_net_link_up(e->n) ? "up" : "down", e->n->rx.size, e->n->rx.event_idx,
                          e->n->tx_csum, guest_net_has(e->n, VIRTIO_NET_F_MRG_RXBUF), e->n->has_ctrl,
                          e->n->msix_ready, e->opts.poll ? "poll" : "interrupt", (unsigned long)e->n->vp.features,
                          (unsigned long)e->n->vp.device_features);
        return 0;
}

int net_env_restart(struct net_env *e)
{
        return guest_net_start(e->n, &e->opts);
}

/* ---- net-echo ------------------------------------------------------------------------------ */

struct echo_state {
        bool quit;
        uint64_t echoed, bytes;
};

static void echo_udp(struct guest_ip *ip, const struct guest_udp_dgram *d, void *ctx)
{
        struct echo_state *s = ctx;

        if (d->dport != ECHO_PORT)
                return;
        if (d->len == 4 && memcmp(d->data, "quit", 4) == 0) {
                s->quit = true;
                return;
        }
        if (guest_udp_send(ip, d->src, ECHO_PORT, d->sport, d->data, d->len, false) == 0) {
                s->echoed++;
                s->bytes += d->len;
        }
}

int guest_scenario_net_echo(void)
{
        struct net_env e;
        struct echo_state s = { 0 };
        char addr[16];
        int r;

        r = net_env_init(&e, false, true, 0);
        if (r)
                return r;
        e.ip.udp = echo_udp;
        e.ip.ctx = &s;
        guest_report_info("net-echo listening ip=%s port=%u", guest_ip_format(e.ip.addr, addr), ECHO_PORT);
        while (!s.quit) {
                r = guest_net_wait(e.n, guest_time_ns() + WAIT_SLICE_NS, false);
                if (r == -EIO) {
                        guest_report_assert(GUEST_FILE, __LINE__, "virtio-net needs a reset (status %#x)",
                                            guest_virtio_get_status(&e.n->vp));
                        return r;
                }
                guest_ip_poll(&e.ip);
                guest_net_tx_reap(e.n);
        }
        guest_report_metric("net_udp_echoed", s.echoed, "datagrams");
        guest_report_metric("net_udp_echoed_bytes", s.bytes, "bytes");
        guest_report_metric("net_icmp_echoed", e.ip.icmp_echo_in, "requests");
        guest_report_info("net-echo quit rx_packets=%lu tx_packets=%lu rx_errors=%lu dropped=%lu tx_full=%lu",
                          (unsigned long)e.n->rx_packets, (unsigned long)e.n->tx_packets,
                          (unsigned long)e.n->rx_errors, (unsigned long)e.ip.dropped, (unsigned long)e.ip.tx_full);
        return 0;
}

/* ---- net-ping ------------------------------------------------------------------------------ */

struct ping_state {
        uint32_t peer;
        uint16_t id, want_seq;
        bool got;
        /* udp=1 */
        const uint8_t *want;
        uint32_t want_len;
        bool udp_ok, udp_bad;
};

static void ping_reply(struct guest_ip *ip, uint32_t src, uint16_t id, uint16_t seq, void *ctx)
{
        struct ping_state *s = ctx;

        if (src == s->peer && id == s->id && seq == s->want_seq)
                s->got = true;
}

static void ping_udp(struct guest_ip *ip, const struct guest_udp_dgram *d, void *ctx)
{
        struct ping_state *s = ctx;

        if (d->src != s->peer || d->sport != ECHO_PORT || !s->want)
                return;
        if (d->len == s->want_len && memcmp(d->data, s->want, d->len) == 0)
                s->udp_ok = true;
        else
                s->udp_bad = true;
}

/* Poll until *flag or deadline. */
static int wait_flag(struct net_env *e, volatile bool *flag, uint64_t deadline)
{
        while (!*flag) {
                int r = guest_net_wait(e->n, deadline, false);

                if (r == -ETIMEDOUT)
                        return r;
                if (r < 0)
                        return r;
                guest_ip_poll(&e->ip);
        }
        return 0;
}

int guest_scenario_net_ping(void)
{
        struct net_env e;
        struct ping_state s = { .id = 0x766d };
        unsigned count = (unsigned)guest_cmdline_get_u64("count", 4), size = (unsigned)guest_cmdline_get_u64("size", 56);
        unsigned replies = 0, udp_ok = 0;
        bool udp = guest_cmdline_get_u64("udp", 0) != 0;
        char addr[16];
        uint8_t *buf;
        int r;

        r = net_env_init(&e, false, true, 0);
        if (r)
                return r;
        if (guest_ip_parse(guest_cmdline_get_str("peer", NULL), &s.peer, NULL) < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "peer=A.B.C.D is needed");
                return -EINVAL;
        }
        e.ip.icmp_reply = ping_reply;
        e.ip.udp = ping_udp;
        e.ip.ctx = &s;
        buf = (uint8_t *)(uintptr_t)guest_page_alloc(GUEST_NET_BUF, 64);
        ASSERT(buf);
        size = MIN(size, (unsigned)GUEST_UDP_MAX - 8);
        for (unsigned i = 0; i < count; i++) {
                s.want_seq = (uint16_t)i;
                s.got = false;
                r = guest_icmp_echo(&e.ip, s.peer, s.id, s.want_seq, size);
                if (r == 0)
                        r = wait_flag(&e, &s.got, guest_time_ns() + PING_TIMEOUT_NS);
                if (r == 0)
                        replies++;
                else
                        guest_report_info("ping seq=%u to %s: no reply (%d)", i, guest_ip_format(s.peer, addr), r);
                if (!udp)
                        continue;
                for (unsigned k = 0; k < size; k++)
                        buf[k] = (uint8_t)(k * 31 + i);
                s.want = buf;
                s.want_len = size;
                s.udp_ok = s.udp_bad = false;
                r = guest_udp_send(&e.ip, s.peer, 40000, ECHO_PORT, buf, size, true);
                if (r == 0)
                        r = wait_flag(&e, &s.udp_ok, guest_time_ns() + PING_TIMEOUT_NS);
                EXPECT_MSG(!s.udp_bad, "udp echo %u: wrong bytes", i);
                if (r == 0 && !s.udp_bad)
                        udp_ok++;
        }
        guest_report_metric("net_ping_replies", replies, "replies");
        if (udp)
                guest_report_metric("net_udp_echoes", udp_ok, "datagrams");
        guest_report_info("net-ping peer=%s sent=%u replies=%u udp_ok=%u", guest_ip_format(s.peer, addr), count,
                          replies, udp_ok);
        ASSERT_MSG(replies == count, "%u of %u echo requests answered", replies, count);
        ASSERT_MSG(!udp || udp_ok == count, "%u of %u UDP echoes right", udp_ok, count);
        return 0;
}

/* ---- net-bench ----------------------------------------------------------------------------- */

struct bench_rx {
        uint16_t port;
        uint64_t packets, bytes;
        uint64_t first_ns;
};

static void bench_udp(struct guest_ip *ip, const struct guest_udp_dgram *d, void *ctx)
{
        struct bench_rx *b = ctx;

        if (d->dport != b->port)
                return;
        if (!b->packets)
                b->first_ns = guest_time_ns();
        b->packets++;
        b->bytes += d->len;
}

static void report_rate(const char *dir, uint64_t packets, uint64_t bytes, uint64_t ns)
{
        char name[32];

        if (!ns)
                ns = 1;
        guest_snprintf(name, sizeof(name), "net_%s_packets", dir);
        guest_report_metric(name, packets, "packets");
        guest_snprintf(name, sizeof(name), "net_%s_pps", dir);
        guest_report_metric(name, packets * 1000000000ull / ns, "packets/s");
        guest_snprintf(name, sizeof(name), "net_%s_mbps", dir);
        guest_report_metric_milli(name, bytes * 8ull * 1000000ull / ns, "Mbit/s");
}

static int bench_tx(struct net_env *e, uint32_t peer, uint16_t dport, uint16_t sport, uint32_t size, uint64_t ns,
                    bool uso)
{
        uint8_t mac[6];
        uint64_t sent = 0, start, end;
        uint32_t flen = 0, segs = 1;
        unsigned batch = 0;
        int r;

        if (uso && guest_net_has(e->n, VIRTIO_NET_F_HOST_USO) && size > 0) {
                segs = MIN(BENCH_USO_SEGS, (guest_net_tx_frame_max(e->n) - GUEST_UDP_HDRS) / size);
                segs = MIN(segs, (65535u - GUEST_IP_HLEN - GUEST_UDP_HLEN) / size);
                segs = MAX(segs, 1u);
        }
        guest_report_info("net-bench tx segments_per_frame=%u uso=%u", segs, segs > 1);

        r = guest_ip_resolve(&e->ip, peer, mac, 2000);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "peer does not answer ARP (%d)", r);
                return r;
        }
        /* Every transmit slot gets the whole frame once; after that a send is a header and a ring entry. */
        for (uint16_t id = 0; id < e->n->tx.size; id++) {
                uint8_t *f = e->n->tx_slots + (uint64_t)id * e->n->tx_slot_size + VIRTIO_NET_HDR_SIZE;

                for (uint32_t k = 0; k < size * segs; k++)
                        f[GUEST_UDP_HDRS + k] = (uint8_t)(k % size + 1);
                flen = guest_udp_build(&e->ip, f, NULL, mac, peer, sport, dport, size * segs);
                if (e->n->tx_csum) {
                        /* the constant pseudo-header sum in place for the device to finish */
                        struct virtio_net_hdr vh;

                        guest_udp_build(&e->ip, f, &vh, mac, peer, sport, dport, size * segs);
                }
        }
        start = guest_time_ns();
        end = start + ns;
        for (;;) {
                struct virtio_net_hdr *vh;
                uint8_t *f = guest_net_tx_alloc(e->n, &vh);

                if (!f) {
                        if (batch) {
                                guest_net_tx_kick(e->n);
                                batch = 0;
                        }
                        if (guest_time_ns() >= end)
                                break;
                        r = guest_net_wait(e->n, end, true);
                        if (r == -EIO)
                                return r;
                        continue;
                }
                if (e->n->tx_csum) {
                        vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        vh->csum_start = GUEST_ETH_HLEN + GUEST_IP_HLEN;
                        vh->csum_offset = 6;
                }
                if (segs > 1) {
                        vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
                        vh->gso_size = (uint16_t)size;
                        vh->hdr_len = GUEST_UDP_HDRS;
                }
                if (guest_net_tx_commit(e->n, f, flen) < 0)
                        break;
                sent += segs;
                if (++batch == BENCH_BATCH) {
                        guest_net_tx_kick(e->n);
                        batch = 0;
                        if (guest_time_ns() >= end)
                                break;
                }
        }
        guest_net_tx_kick(e->n);
        report_rate("tx", sent, sent * size, guest_time_ns() - start);
        return 0;
}

static int bench_rx(struct net_env *e, uint16_t port, uint64_t ns, uint64_t timeout_ns)
{
        struct bench_rx b = { .port = port };
        uint64_t give_up = guest_time_ns() + timeout_ns, stop_packets = 0, stop_bytes = 0;
        bool done = false;

        e->ip.udp = bench_udp;
        e->ip.ctx = &b;
        guest_report_info("net-bench receiving port=%u", port);
        while (!done) {
                uint64_t now, deadline = b.packets ? b.first_ns + ns : give_up;
                int r = guest_net_wait(e->n, deadline, false);

                if (r == -EIO)
                        return r;
                guest_ip_poll(&e->ip);
                now = guest_time_ns();
                if (b.packets && now >= b.first_ns + ns) {
                        stop_packets = b.packets;
                        stop_bytes = b.bytes;
                        done = true;
                } else if (!b.packets && now >= give_up) {
                        guest_report_assert(GUEST_FILE, __LINE__, "no datagram arrived at port %u", port);
                        return -ETIMEDOUT;
                }
        }
        report_rate("rx", stop_packets, stop_bytes, ns);
        return 0;
}

int guest_scenario_net_bench(void)
{
        struct net_env e;
        const char *peer_s = guest_cmdline_get_str("peer", NULL), *dir = guest_cmdline_get_str("dir", "tx");
        uint32_t size = (uint32_t)guest_cmdline_get_u64("size", 64), peer = 0;
        uint64_t ns = guest_cmdline_get_u64("duration_ms", 1000) * 1000000ull;
        uint16_t port = (uint16_t)guest_cmdline_get_u64("port", 9000), pport = 9000;
        bool uso = guest_cmdline_get_u64("uso", 1) != 0 && guest_strcmp(dir, "tx") == 0;
        char buf[32];
        int r;

        r = net_env_init(&e, true, true, uso ? BENCH_USO_SLOT : 0);
        if (r)
                return r;
        if (size > GUEST_UDP_MAX)
                size = GUEST_UDP_MAX;
        if (peer_s) {
                const char *colon = NULL;
                uint64_t v;

                for (const char *c = peer_s; *c; c++)
                        if (*c == ':')
                                colon = c;
                guest_strlcpy(buf, peer_s, MIN(sizeof(buf), colon ? (size_t)(colon - peer_s) + 1 : sizeof(buf)));
                if (guest_ip_parse(buf, &peer, NULL) < 0 ||
                    (colon && (guest_parse_u64(colon + 1, guest_strlen(colon + 1), &v) < 0 || v == 0 || v > 65535))) {
                        guest_report_assert(GUEST_FILE, __LINE__, "peer=A.B.C.D:PORT is malformed");
                        return -EINVAL;
                }
                if (colon)
                        pport = (uint16_t)v;
        }
        guest_report_info("net-bench dir=%s size=%u duration_ms=%lu", dir, size, (unsigned long)(ns / 1000000));
        if (guest_strcmp(dir, "rx") == 0)
                return bench_rx(&e, port, ns, guest_cmdline_get_u64("wait_ms", 30000) * 1000000ull);
        if (!peer) {
                guest_report_assert(GUEST_FILE, __LINE__, "dir=tx needs peer=A.B.C.D:PORT");
                return -EINVAL;
        }
        return bench_tx(&e, peer, pport, port, size, ns, uso);
}
