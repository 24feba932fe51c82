/* SPDX-License-Identifier: MIT */
#include <abi/virtio.h>
#include <abi/virtio_net.h>

#include "kernel/apic.h"
#include "kernel/kernel.h"
#include "kernel/virtio_net.h"

#define F(b) VIRTIO_BIT(VIRTIO_NET_F_##b)
#define NET_WANTED_FEATURES                                                                     \
        (F(MAC) | F(STATUS) | F(MTU) | F(MRG_RXBUF) | F(CSUM) | F(GUEST_CSUM) | F(HOST_USO) |     \
         F(CTRL_VQ) | F(CTRL_RX) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |                        \
         VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC))
#define NET_NEEDS_RESET_POLL_NS (10ull * 1000000)
#define NET_CTRL_TIMEOUT_NS     (2000ull * 1000000)
#define RXQ 0u
#define TXQ 1u

#define CFG(field) offsetof(struct virtio_net_config, field)
#define COOKIE(id) ((void *)(uintptr_t)((uint64_t)(id) + 1))
#define SLOT_OF(cookie) ((uint16_t)((uintptr_t)(cookie) - 1))

static void net_queue_irq(struct guest_regs *regs, void *data)
{
        struct guest_vq *vq = data;

        vq->irqs++;
        guest_lapic_eoi();
}

static void net_config_irq(struct guest_regs *regs, void *data)
{
        struct guest_net *n = data;

        n->vp.config_irqs++;
        guest_lapic_eoi();
}

int guest_net_probe(void)
{
        struct guest_net_set *set = &guest.net;
        struct guest_pci_dev *d = NULL;
        int r;

        if (set->probed)
                return (int)set->count;
        set->probed = true;
        r = guest_pci_scan();
        if (r < 0)
                return r;
        while ((d = guest_pci_find(VIRTIO_PCI_VENDOR_ID, 0xffff, d)) && set->count < GUEST_NET_MAX_DEVS) {
                struct guest_net *n;

                if (d->claimed)
                        continue;
                if (d->device != VIRTIO_PCI_DEVICE_ID_BASE + VIRTIO_ID_NET &&
                    !(d->device < VIRTIO_PCI_DEVICE_ID_BASE && d->subsys_device == VIRTIO_ID_NET))
                        continue;
                n = (struct guest_net *)(uintptr_t)guest_page_alloc(sizeof(*n), GUEST_PAGE_SIZE);
                if (!n)
                        return -ENOMEM;
                memset(n, 0, sizeof(*n));
                r = guest_virtio_pci_probe(d, &n->vp);
                guest_pci_name(d, n->name);
                if (r < 0) {
                        guest_printf("vmguest: virtio-net %s: unusable (%d)\n", n->name, r);
                        continue;
                }
                d->claimed = true;
                n->index = set->count;
                n->config_vector = -1;
                n->rx.vector = n->tx.vector = n->ctrl.vector = -1;
                set->devs[set->count++] = n;
        }
        return (int)set->count;
}

struct guest_net *guest_net_get(unsigned index)
{
        return index < guest.net.count ? guest.net.devs[index] : NULL;
}

static uint16_t pow2_floor(uint32_t v)
{
        uint32_t p = 1;

        while (p * 2 <= v && p * 2 <= VIRTQ_MAX_SIZE)
                p *= 2;
        return (uint16_t)p;
}

static int queue_start(struct guest_net *n, struct guest_vq *vq, uint16_t index, uint16_t want, int msix_entry)
{
        uint16_t max = guest_virtio_queue_max(&n->vp, index), size;
        int r;

        if (max == 0)
                return -ENODEV;
        size = pow2_floor(MIN((uint32_t)max, (uint32_t)want));
        r = guest_vq_alloc(vq, size, 4);
        if (r < 0)
                return r;
        guest_vq_init(vq, index, size, guest_net_has(n, VIRTIO_F_RING_EVENT_IDX),
                      guest_net_has(n, VIRTIO_F_RING_INDIRECT_DESC));
        vq->msix_entry = -1;
        if (n->msix_ready && msix_entry >= 0 && msix_entry < (int)n->vp.pci->msix_size) {
                if (vq->vector < 0) {
                        r = guest_irq_alloc(net_queue_irq, vq);
                        if (r < 0)
                                return r;
                        vq->vector = r;
                }
                r = guest_pci_msix_set(n->vp.pci, (unsigned)msix_entry, guest.cpus[0].apic_id, (uint8_t)vq->vector);
                if (r < 0)
                        return r;
        } else {
                msix_entry = -1;
        }
        r = guest_virtio_queue_setup(&n->vp, vq, msix_entry);
        if (r < 0)
                return r;
        if (n->opts.poll || msix_entry < 0)
                guest_vq_disable_cb(vq);
        return 0;
}

static int post_rx(struct guest_net *n, uint16_t id)
{
        struct guest_vq_sg sg = {
                .addr = (uint64_t)(uintptr_t)(n->rx_slots + (uint64_t)id * GUEST_NET_BUF),
                .len = GUEST_NET_BUF,
        };

        return guest_vq_add(&n->rx, &sg, 0, 1, COOKIE(id), GUEST_VQ_DIRECT);
}

static int read_config(struct guest_net *n)
{
        int r;

        if (guest_net_has(n, VIRTIO_NET_F_MAC)) {
                r = guest_virtio_config_read(&n->vp, CFG(mac), n->mac, sizeof(n->mac));
                if (r < 0)
                        return r;
        } else {
                /* A locally administered address of our own (5.1.4.2). */
                static const uint8_t local[6] = { 0x02, 0x76, 0x6d, 0x67, 0x00, 0x01 };

                memcpy(n->mac, local, sizeof(local));
                n->mac[5] = (uint8_t)(n->mac[5] + n->index);
        }
        n->mtu = 1500;
        if (guest_net_has(n, VIRTIO_NET_F_MTU)) {
                uint16_t mtu;

                r = guest_virtio_config_read(&n->vp, CFG(mtu), &mtu, sizeof(mtu));
                if (r < 0)
                        return r;
                if (mtu >= 68)
                        n->mtu = MIN(mtu, (uint16_t)(GUEST_NET_FRAME_MAX - VIRTIO_NET_ETH_HLEN - VIRTIO_NET_VLAN_HLEN));
        }
        return 0;
}

int guest_net_start(struct guest_net *n, const struct guest_net_opts *o)
{
        struct guest_pci_dev *pci = n->vp.pci;
        uint16_t want;
        int r;

        if (o != &n->opts)
                n->opts = *o;
        n->started = false;
        want = n->opts.queue_size ? n->opts.queue_size : GUEST_NET_DEFAULT_QSIZE;

        /* MSI-X: entry 0 for configuration changes, 1 receive, 2 transmit; control is polled. */
        if (!n->msix_ready && guest_pci_msix_init(pci) == 0 && pci->msix_size >= 3) {
                r = guest_irq_alloc(net_config_irq, n);
                if (r >= 0) {
                        n->config_vector = r;
                        guest_pci_msix_set(pci, 0, guest.cpus[0].apic_id, (uint8_t)r);
                        guest_pci_msix_enable(pci, true);
                        n->msix_ready = true;
                }
        }
        if (!n->msix_ready && !n->opts.poll)
                return -ENODEV;         /* no INTx support: without MSI-X only poll mode works */

        r = guest_virtio_negotiate(&n->vp, NET_WANTED_FEATURES & ~n->opts.refuse, 0);
        if (r < 0)
                return r;
        r = read_config(n);
        if (r < 0)
                goto fail;
        n->tx_csum = guest_net_has(n, VIRTIO_NET_F_CSUM);
        /* Without MQ the control queue is queue 2 (5.1.2). */
        n->has_ctrl = guest_net_has(n, VIRTIO_NET_F_CTRL_VQ) && n->vp.num_queues >= 3;
        if ((r = queue_start(n, &n->rx, RXQ, want, 1)) < 0 || (r = queue_start(n, &n->tx, TXQ, want, 2)) < 0)
                goto fail;
        if (n->has_ctrl && (r = queue_start(n, &n->ctrl, 2, 16, -1)) < 0)
                goto fail;
        if (n->msix_ready && (r = guest_virtio_config_vector(&n->vp, 0)) < 0)
                goto fail;

        /* Slots, allocated once for the largest queues (and transmit slots) ever used. */
        n->tx_slot_size = ALIGN_UP(MAX(n->opts.tx_slot, (uint32_t)GUEST_NET_BUF), (uint32_t)GUEST_NET_BUF);
        if (n->rx_alloc < n->rx.size) {
                n->rx_slots = (uint8_t *)(uintptr_t)guest_page_alloc((uint64_t)n->rx.size * GUEST_NET_BUF, GUEST_PAGE_SIZE);
                n->rx_alloc = n->rx_slots ? n->rx.size : 0;
        }
        if (n->tx_alloc < n->tx.size || n->tx_alloc_size < n->tx_slot_size) {
                n->tx_slots = (uint8_t *)(uintptr_t)guest_page_alloc((uint64_t)n->tx.size * n->tx_slot_size,
                                                                     GUEST_PAGE_SIZE);
                n->tx_free = (uint16_t *)(uintptr_t)guest_page_alloc((uint64_t)n->tx.size * sizeof(uint16_t), 64);
                n->tx_alloc = n->tx_slots && n->tx_free ? n->tx.size : 0;
                n->tx_alloc_size = n->tx_slot_size;
        }
        if (!n->ctrl_mem)
                n->ctrl_mem = (uint8_t *)(uintptr_t)guest_page_alloc(GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
        if (!n->rx_alloc || !n->tx_alloc || !n->ctrl_mem) {
                r = -ENOMEM;
                goto fail;
        }
        n->tx_nfree = 0;
        for (unsigned k = n->tx.size; k > 0; k--)
                n->tx_free[n->tx_nfree++] = (uint16_t)(k - 1);
        for (uint16_t id = 0; id < n->rx.size && !n->opts.rx_empty; id++) {
                r = post_rx(n, id);
                if (r < 0)
                        goto fail;
        }
        n->rx_to_kick = 0;
        guest_virtio_driver_ok(&n->vp);
        guest_vq_kick(&n->rx);
        n->started = true;

        if (n->has_ctrl && guest_net_has(n, VIRTIO_NET_F_CTRL_RX) && !n->opts.promisc) {
                uint8_t off = 0;

                /* Only our address, broadcast and nothing else from here on. */
                r = guest_net_ctrl(n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1);
                if (r < 0)
                        return r;
        }
        return 0;
fail:
        guest_virtio_add_status(&n->vp, VIRTIO_STATUS_FAILED);
        return r;
}

int guest_net_stop(struct guest_net *n)
{
        n->started = false;
        return guest_virtio_reset(&n->vp);
}

bool guest_net_link_up(struct guest_net *n)
{
        uint16_t status = VIRTIO_NET_S_LINK_UP;

        if (guest_net_has(n, VIRTIO_NET_F_STATUS))
                (void)guest_virtio_config_read(&n->vp, CFG(status), &status, sizeof(status));
        return (status & VIRTIO_NET_S_LINK_UP) != 0;
}

/* ---- transmit ---------------------------------------------------------------------------- */

unsigned guest_net_tx_reap(struct guest_net *n)
{
        unsigned k = 0;
        void *c;

        while ((c = guest_vq_get_used(&n->tx, NULL))) {
                n->tx_free[n->tx_nfree++] = SLOT_OF(c);
                k++;
        }
        return k;
}

uint8_t *guest_net_tx_alloc(struct guest_net *n, struct virtio_net_hdr **ret_hdr)
{
        uint8_t *slot;

        if (!n->tx_nfree && !guest_net_tx_reap(n))
                return NULL;
        slot = n->tx_slots + (uint64_t)n->tx_free[n->tx_nfree - 1] * n->tx_slot_size;
        memset(slot, 0, VIRTIO_NET_HDR_SIZE);
        if (ret_hdr)
                *ret_hdr = (struct virtio_net_hdr *)slot;
        return slot + VIRTIO_NET_HDR_SIZE;
}

int guest_net_tx_commit(struct guest_net *n, uint8_t *frame, uint32_t len)
{
        uint8_t *slot = frame - VIRTIO_NET_HDR_SIZE;
        uint16_t id;
        struct guest_vq_sg sg;
        int r;

        if (!n->tx_nfree || len > guest_net_tx_frame_max(n))
                return -EINVAL;
        id = n->tx_free[n->tx_nfree - 1];
        if (slot != n->tx_slots + (uint64_t)id * n->tx_slot_size)
                return -EINVAL;         /* not the slot tx_alloc handed out */
        sg = (struct guest_vq_sg){ .addr = (uint64_t)(uintptr_t)slot, .len = VIRTIO_NET_HDR_SIZE + len };
        r = guest_vq_add(&n->tx, &sg, 1, 0, COOKIE(id), GUEST_VQ_DIRECT);
        if (r < 0)
                return r;
        n->tx_nfree--;
        n->tx_packets++;
        n->tx_bytes += len;
        return 0;
}

bool guest_net_tx_kick(struct guest_net *n)
{
        return guest_vq_kick(&n->tx);
}

int guest_net_send(struct guest_net *n, const void *frame, uint32_t len)
{
        uint8_t *p;
        int r;

        if (len > guest_net_tx_frame_max(n))
                return -E2BIG;
        p = guest_net_tx_alloc(n, NULL);
        if (!p)
                return -EAGAIN;
        memcpy(p, frame, len);
        r = guest_net_tx_commit(n, p, len);
        if (r < 0)
                return r;
        guest_net_tx_kick(n);
        return 0;
}

/* ---- receive ----------------------------------------------------------------------------- */

void guest_net_rx_release(struct guest_net *n, uint16_t id)
{
        if (post_rx(n, id) == 0)
                n->rx_to_kick++;
}

bool guest_net_rx_kick(struct guest_net *n)
{
        if (!n->rx_to_kick)
                return false;
        n->rx_to_kick = 0;
        return guest_vq_kick(&n->rx);
}

const uint8_t *guest_net_rx_next(struct guest_net *n, uint32_t *ret_len, uint16_t *ret_id,
                                 const struct virtio_net_hdr **ret_hdr)
{
        void *c;
        uint32_t len;

        while ((c = guest_vq_get_used(&n->rx, &len))) {
                uint16_t id = SLOT_OF(c), nbuf;
                const uint8_t *slot = n->rx_slots + (uint64_t)id * GUEST_NET_BUF;
                const struct virtio_net_hdr *h = (const struct virtio_net_hdr *)slot;

                nbuf = h->num_buffers;
                if (len < VIRTIO_NET_HDR_SIZE + VIRTIO_NET_ETH_HLEN || len > GUEST_NET_BUF ||
                    (guest_net_has(n, VIRTIO_NET_F_MRG_RXBUF) && nbuf != 1)) {
                        /* A frame bigger than a slot cannot happen without GSO: drop it whole. */
                        n->rx_errors++;
                        guest_net_rx_release(n, id);
                        for (uint16_t k = 1; k < nbuf && (c = guest_vq_get_used(&n->rx, NULL)); k++)
                                guest_net_rx_release(n, SLOT_OF(c));
                        continue;
                }
                n->rx_packets++;
                n->rx_bytes += len - VIRTIO_NET_HDR_SIZE;
                *ret_len = len - VIRTIO_NET_HDR_SIZE;
                *ret_id = id;
                if (ret_hdr)
                        *ret_hdr = h;
                return slot + VIRTIO_NET_HDR_SIZE;
        }
        return NULL;
}

/* ---- waiting and control ----------------------------------------------------------------- */

int guest_net_wait(struct guest_net *n, uint64_t deadline_ns, bool tx)
{
        uint64_t next_check = guest_time_ns() + NET_NEEDS_RESET_POLL_NS;

        for (;;) {
                uint64_t now;
                bool was, ready;

                if (n->rx.broken || n->tx.broken)
                        return -EIO;
                if (guest_vq_has_used(&n->rx) || (tx && guest_vq_has_used(&n->tx)))
                        return 0;
                now = guest_time_ns();
                if (now >= next_check || now >= deadline_ns) {
                        if (guest_virtio_needs_reset(&n->vp))
                                return -EIO;
                        if (now >= deadline_ns)
                                return -ETIMEDOUT;
                        next_check = now + NET_NEEDS_RESET_POLL_NS;
                }
                if (n->opts.poll || !n->msix_ready) {
                        guest_cpu_relax();
                        continue;
                }
                /* Ask for an interrupt, look once more, sleep; then back to no interrupts. */
                was = guest_irq_save();
                ready = !guest_vq_enable_cb(&n->rx, 1);
                /* Transmit: wake when half of what is in flight is done, refill while the rest goes. */
                if (tx && !ready)
                        ready = !guest_vq_enable_cb(&n->tx, (uint16_t)MAX(1, guest_vq_outstanding(&n->tx) / 2));
                if (!ready)
                        guest_cpu_wait();
                guest_vq_disable_cb(&n->rx);
                guest_vq_disable_cb(&n->tx);
                guest_irq_restore(was);
        }
}

int guest_net_ctrl(struct guest_net *n, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
        struct virtio_net_ctrl_hdr *h = (struct virtio_net_ctrl_hdr *)n->ctrl_mem;
        uint8_t *payload = n->ctrl_mem + 64, *ack = n->ctrl_mem + GUEST_PAGE_SIZE - 64;
        struct guest_vq_sg sg[3];
        uint64_t deadline = guest_time_ns() + NET_CTRL_TIMEOUT_NS;
        unsigned k = 0;
        int r;

        if (!n->has_ctrl || !n->started)
                return -ENODEV;
        if (len > GUEST_PAGE_SIZE - 128)
                return -E2BIG;
        h->cls = cls;
        h->cmd = cmd;
        memcpy(payload, data, len);
        *ack = 0xee;
        sg[k++] = (struct guest_vq_sg){ .addr = (uint64_t)(uintptr_t)h, .len = sizeof(*h) };
        if (len)
                sg[k++] = (struct guest_vq_sg){ .addr = (uint64_t)(uintptr_t)payload, .len = len };
        sg[k++] = (struct guest_vq_sg){ .addr = (uint64_t)(uintptr_t)ack, .len = 1 };
        r = guest_vq_add(&n->ctrl, sg, k - 1, 1, n, GUEST_VQ_AUTO);
        if (r < 0)
                return r;
        guest_vq_kick(&n->ctrl);
        while (!guest_vq_get_used(&n->ctrl, NULL)) {
                if (n->ctrl.broken || guest_time_ns() > deadline)
                        return n->ctrl.broken ? -EIO : -ETIMEDOUT;
                guest_cpu_relax();
        }
        return *(volatile uint8_t *)ack;
}
