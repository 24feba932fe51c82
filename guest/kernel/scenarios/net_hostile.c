/* SPDX-License-Identifier: MIT */
/*
 * net-hostile: malformed chains, bad vnet headers and oversized frames against the virtio-net
 * device, one case at a time, each on a freshly started device. A packet the device can parse
 * but must not send (runt, oversized, offloads nobody negotiated, writable buffers in a transmit
 * chain) is dropped: it comes back used and the device goes on; a ring it cannot trust (addresses
 * outside RAM, loops, indices out of range, receive buffers it could not write a header into)
 * ends in DEVICE_NEEDS_RESET. After every case a reset and a restart must give a device that
 * transmits again.
 *
 * On vmwp (ACPI OEM id "VMMS") every case must end as expected; under another VMM a case the
 * device did not flag at all is reported as skip (receive-side problems only show there once
 * a packet arrives). Options: hostile_timeout_ms= (1000), case=NAME, and those of net.h.
 */
#include <abi/virtio.h>
#include <abi/virtio_net.h>

#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenario.h"
#include "kernel/scenarios/net.h"
#include "kernel/scenarios/scenarios.h"

#define O_USED          0x01u   /* the chain came back used */
#define O_NEEDS_RESET   0x02u
#define O_NOTHING       0x04u
#define FAR_ADDR        (1ull << 45)
#define BIG_FRAME       70000u
#define STATUS_POLL_NS  (1000ull * 1000)
#define SETTLE_NS       (50ull * 1000000)

struct hostile {
        struct net_env *e;
        struct guest_vq *vq;            /* the queue of the case */
        struct virtio_net_hdr *hdr;
        uint8_t *frame;                 /* 2 KiB */
        uint8_t *big;                   /* BIG_FRAME + header */
        struct virtq_desc *table, *table2;
};

struct hostile_case {
        const char *name;
        unsigned expect;
        bool rx;                        /* on the receive queue, which starts empty */
        int (*build)(struct hostile *h);
};

static uint64_t pa(const void *p)
{
        return (uint64_t)(uintptr_t)p;
}

static void desc(struct virtq_desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
        t[i] = (struct virtq_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

/* Make ring entry `head` available and notify, whatever EVENT_IDX says. */
static void publish(struct hostile *h, uint16_t head)
{
        struct guest_vq *vq = h->vq;

        vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
        vq->avail_idx++;
        __atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
        guest_mb();
        guest_vq_notify(vq);
}

/* A broadcast frame of len bytes after a header `hdr` at h->hdr, as one descriptor 0. */
static int one_frame(struct hostile *h, const struct virtio_net_hdr *hdr, uint32_t len)
{
        uint8_t *p = (uint8_t *)h->hdr;

        *h->hdr = *hdr;
        memset(p + VIRTIO_NET_HDR_SIZE, 0xff, 6);
        memcpy(p + VIRTIO_NET_HDR_SIZE + 6, h->e->n->mac, 6);
        p[VIRTIO_NET_HDR_SIZE + 12] = 0x88;     /* local experimental ethertype */
        p[VIRTIO_NET_HDR_SIZE + 13] = 0xb5;
        desc(h->vq->desc, 0, pa(h->hdr), VIRTIO_NET_HDR_SIZE + len, 0, 0);
        publish(h, 0);
        return 0;
}

static int c_runt(struct hostile *h)
{
        return one_frame(h, &(struct virtio_net_hdr){ 0 }, 6);
}

static int c_header_only(struct hostile *h)
{
        desc(h->vq->desc, 0, pa(h->hdr), 8, 0, 0);
        publish(h, 0);
        return 0;
}

static int c_oversized(struct hostile *h)
{
        memset(h->big, 0, VIRTIO_NET_HDR_SIZE);
        memset(h->big + VIRTIO_NET_HDR_SIZE, 0xff, 6);
        desc(h->vq->desc, 0, pa(h->big), VIRTIO_NET_HDR_SIZE + BIG_FRAME, 0, 0);
        publish(h, 0);
        return 0;
}

static int c_gso_not_negotiated(struct hostile *h)
{
        return one_frame(h, &(struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                                      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000,
                                                      .csum_start = 34, .csum_offset = 16 }, 1400);
}

static int c_csum_past_end(struct hostile *h)
{
        if (!h->e->n->tx_csum)
                return GUEST_SCENARIO_SKIP;
        return one_frame(h, &(struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 90,
                                                      .csum_offset = 20 }, 100);
}

static int c_tx_writable(struct hostile *h)
{
        *h->hdr = (struct virtio_net_hdr){ 0 };
        memset(h->frame, 0xff, 64);
        desc(h->vq->desc, 0, pa(h->hdr), VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, 1);
        desc(h->vq->desc, 1, pa(h->frame), 64, VIRTQ_DESC_F_WRITE, 0);
        publish(h, 0);
        return 0;
}

static int c_addr_outside(struct hostile *h)
{
        desc(h->vq->desc, 0, FAR_ADDR, 100, h->vq->index == 0 ? VIRTQ_DESC_F_WRITE : 0, 0);
        publish(h, 0);
        return 0;
}

static int c_loop(struct hostile *h)
{
        desc(h->vq->desc, 0, pa(h->hdr), VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, 1);
        desc(h->vq->desc, 1, pa(h->frame), 64, VIRTQ_DESC_F_NEXT, 0);
        publish(h, 0);
        return 0;
}

static int c_head_out_of_range(struct hostile *h)
{
        publish(h, (uint16_t)(h->vq->size + 5));
        return 0;
}

static int c_next_out_of_range(struct hostile *h)
{
        desc(h->vq->desc, 0, pa(h->hdr), VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, (uint16_t)(h->vq->size + 3));
        publish(h, 0);
        return 0;
}

static int c_nested_indirect(struct hostile *h)
{
        if (!h->vq->indirect)
                return GUEST_SCENARIO_SKIP;
        *h->hdr = (struct virtio_net_hdr){ 0 };
        desc(h->table2, 0, pa(h->hdr), VIRTIO_NET_HDR_SIZE + 64, 0, 0);
        desc(h->table, 0, pa(h->table2), sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
        desc(h->vq->desc, 0, pa(h->table), sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
        publish(h, 0);
        return 0;
}

static int c_avail_idx_jump(struct hostile *h)
{
        struct guest_vq *vq = h->vq;

        *h->hdr = (struct virtio_net_hdr){ 0 };
        desc(vq->desc, 0, pa(h->hdr), VIRTIO_NET_HDR_SIZE + 64, 0, 0);
        for (unsigned i = 0; i < vq->size; i++)
                vq->avail->ring[i] = 0;
        vq->avail_idx = (uint16_t)(vq->avail_idx + vq->size + 1);
        __atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
        guest_mb();
        guest_vq_notify(vq);
        return 0;
}

static int c_rx_readable(struct hostile *h)
{
        desc(h->vq->desc, 0, pa(h->frame), GUEST_NET_BUF, 0, 0);
        publish(h, 0);
        return 0;
}

static int c_rx_tiny(struct hostile *h)
{
        desc(h->vq->desc, 0, pa(h->frame), 4, VIRTQ_DESC_F_WRITE, 0);
        publish(h, 0);
        return 0;
}

static const struct hostile_case cases[] = {
        { "tx-runt", O_USED, false, c_runt },
        { "tx-shorter-than-header", O_USED | O_NEEDS_RESET, false, c_header_only },
        { "tx-oversized-frame", O_USED, false, c_oversized },
        { "tx-gso-not-negotiated", O_USED, false, c_gso_not_negotiated },
        { "tx-checksum-past-end", O_USED, false, c_csum_past_end },
        { "tx-device-writable-buffer", O_USED | O_NEEDS_RESET, false, c_tx_writable },
        { "tx-addr-outside-ram", O_NEEDS_RESET, false, c_addr_outside },
        { "tx-chain-loop", O_NEEDS_RESET, false, c_loop },
        { "tx-head-out-of-range", O_NEEDS_RESET, false, c_head_out_of_range },
        { "tx-next-out-of-range", O_NEEDS_RESET, false, c_next_out_of_range },
        { "tx-nested-indirect", O_NEEDS_RESET, false, c_nested_indirect },
        { "tx-avail-idx-jump", O_NEEDS_RESET, false, c_avail_idx_jump },
        { "rx-device-readable-buffer", O_NEEDS_RESET, true, c_rx_readable },
        { "rx-buffer-smaller-than-header", O_NEEDS_RESET, true, c_rx_tiny },
        { "rx-addr-outside-ram", O_NEEDS_RESET, true, c_addr_outside },
};

static const char *outcome_str(unsigned o)
{
        return o == (O_USED | O_NEEDS_RESET) ? "used|needs_reset" : o == O_USED ? "used" :
               o == O_NEEDS_RESET ? "needs_reset" : "nothing";
}

/* Wait for the device's answer: a used entry and/or DEVICE_NEEDS_RESET. */
static unsigned observe(struct hostile *h, uint64_t timeout_ms)
{
        struct guest_vq *vq = h->vq;
        uint64_t deadline = guest_time_ns() + timeout_ms * 1000000ull;

        for (;;) {
                bool needs_reset = guest_virtio_needs_reset(&h->e->n->vp);

                if (guest_vq_has_used(vq) || needs_reset) {
                        uint64_t settle = guest_time_ns() + SETTLE_NS;

                        /* A used entry may still be followed by NEEDS_RESET, and the other way round. */
                        while (!needs_reset && guest_time_ns() < settle) {
                                guest_delay_us(1000);
                                needs_reset = guest_virtio_needs_reset(&h->e->n->vp);
                        }
                        return (guest_vq_has_used(vq) ? O_USED : 0) | (needs_reset ? O_NEEDS_RESET : 0);
                }
                if (guest_time_ns() >= deadline)
                        return O_NOTHING;
                guest_delay_us(STATUS_POLL_NS / 1000);
        }
}

/* Restart and transmit one frame: true when it comes back used and nothing needs a reset. */
static bool recover(struct hostile *h, bool rx_empty)
{
        struct guest_net *n = h->e->n;
        uint64_t deadline;
        uint8_t frame[64];

        h->e->opts.rx_empty = rx_empty;
        if (net_env_restart(h->e) < 0)
                return false;
        memset(frame, 0xff, 6);
        memcpy(frame + 6, n->mac, 6);
        frame[12] = 0x88;
        frame[13] = 0xb5;
        memset(frame + 14, 0, sizeof(frame) - 14);
        if (guest_net_send(n, frame, sizeof(frame)) < 0)
                return false;
        deadline = guest_time_ns() + 2000ull * 1000000;
        while (!guest_net_tx_reap(n)) {
                if (guest_time_ns() > deadline || guest_virtio_needs_reset(&n->vp))
                        return false;
                guest_cpu_relax();
        }
        return !guest_virtio_needs_reset(&n->vp);
}

int guest_scenario_net_hostile(void)
{
        struct net_env e;
        struct hostile h;
        uint64_t timeout_ms = guest_cmdline_get_u64("hostile_timeout_ms", 1000);
        const char *only = guest_cmdline_get_str("case", NULL);
        unsigned pass = 0, fail = 0, skip = 0;
        uint64_t m = guest_page_alloc(2 * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
        uint64_t big = guest_page_alloc(BIG_FRAME + GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
        uint64_t t = guest_page_alloc(2 * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
        int r;

        if (!m || !big || !t)
                return -ENOMEM;
        r = net_env_init(&e, true, false, 0);
        if (r)
                return r;
        h = (struct hostile){
                .e = &e,
                .hdr = (struct virtio_net_hdr *)(uintptr_t)m,
                .frame = (uint8_t *)(uintptr_t)(m + GUEST_PAGE_SIZE),
                .big = (uint8_t *)(uintptr_t)big,
                .table = (struct virtq_desc *)(uintptr_t)t,
                .table2 = (struct virtq_desc *)(uintptr_t)(t + GUEST_PAGE_SIZE),
        };
        guest_report_info("net-hostile nic=%s timeout_ms=%lu vmm=%s", e.n->name, (unsigned long)timeout_ms,
                          e.vmms ? "vmms" : "other");
        for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
                const struct hostile_case *c = &cases[i];
                const char *verdict;
                unsigned o;
                bool recovered;

                if (only && guest_strcmp(only, c->name) != 0)
                        continue;
                if (!recover(&h, c->rx)) {
                        guest_report_assert(GUEST_FILE, __LINE__, "%s: the device does not work before the case", c->name);
                        return -EIO;
                }
                h.vq = c->rx ? &e.n->rx : &e.n->tx;
                /* The recovery frame's used entry is reaped: only the case's can show now. */
                r = c->build(&h);
                if (r == GUEST_SCENARIO_SKIP) {
                        guest_report_info("net-hostile case=%s verdict=skip reason=feature-not-negotiated", c->name);
                        skip++;
                        continue;
                }
                o = observe(&h, timeout_ms);
                recovered = recover(&h, false);
                if ((o & c->expect) && !(o & ~c->expect) && recovered) {
                        verdict = "pass";
                        pass++;
                } else if (o == O_NOTHING && recovered && !e.vmms) {
                        verdict = "skip";
                        skip++;
                } else {
                        verdict = "fail";
                        fail++;
                }
                guest_report_info("net-hostile case=%s expect=%s outcome=%s recovered=%u verdict=%s", c->name,
                                  outcome_str(c->expect), outcome_str(o),
                                  recovered, verdict);
                EXPECT_MSG(verdict[0] != 'f', "net-hostile case %s: outcome %s, recovered=%u", c->name, outcome_str(o),
                           recovered);
        }
        guest_report_info("net-hostile cases=%u pass=%u fail=%u skip=%u", pass + fail + skip, pass, fail, skip);
        return 0;
}
