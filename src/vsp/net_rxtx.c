/* SPDX-License-Identifier: MIT */
/*
 * virtio-net data path, run by a queue pair's I/O thread (net.c): receive (TAP -> guest),
 * transmit (guest -> TAP) and the control queue.
 *
 * Receive reads each packet straight into the guest's next buffer with one readv(), the
 * rest of the vector being a bounce buffer: a packet that fits one buffer (every packet
 * up to the MTU with the buffers drivers post) is never copied. With MRG_RXBUF, the part
 * that did not fit is copied into as many further buffers as it needs, and num_buffers
 * says how many; without it the packet is dropped. A packet waits for buffers the driver
 * has not posted yet; one larger than the whole ring is dropped and its buffers given back.
 *
 * Transmit copies the 12-byte vnet header (so the guest cannot change it after the
 * check), and hands the TAP [checked header, the guest's frame] as one write; up to
 * VSP_NET_TX_BATCH such writes go to the kernel in one io_uring_enter() (a system call
 * costs about 1 us on these hosts, as much as the TAP's own work for a small packet).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <liburing.h>

#include <abi/virtio.h>
#include <abi/virtio_net.h>

#include "vmms/iov.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/nic.h"
#include "net.h"
#include "vmms/tap.h"

#define HDR VIRTIO_NET_HDR_SIZE

static bool net_log_ok(struct net_pair *p)
{
        return log_get_max_level() >= LOG_DEBUG && ratelimit_below(&p->rl);
}

void vsp_net_queue_fail(struct net_pair *p, bool *broken, unsigned vq_index, const char *why)
{
        struct vsp_net *n = p->net;

        if (*broken)
                return;
        *broken = true;
        __atomic_fetch_add(&n->ring_errors, 1, __ATOMIC_RELAXED);
        if (net_log_ok(p))
                log_debug("virtio-net %s queue %u: %s; device needs reset", n->name, vq_index, why);
        n->irq->needs_reset(n->irq->opaque);
}

static void net_drop(struct net_pair *p, uint64_t *counter, const char *dir, const char *why)
{
        vsp_net_stat_add(counter, 1);
        if (net_log_ok(p))
                log_debug("virtio-net %s pair %u: %s packet dropped: %s", p->net->name, p->index, dir, why);
}

static void queue_publish(struct vsp_net *n, struct virtq *vq, unsigned index, bool *pending)
{
        if (!*pending)
                return;
        *pending = false;
        virtq_flush(vq);
        if (virtq_need_interrupt(vq))
                n->irq->queue(n->irq->opaque, index);
}

void vsp_net_pair_publish(struct net_pair *p)
{
        if (p->rx.vq)
                queue_publish(p->net, p->rx.vq, p->rx.vq_index, &p->rx.used_pending);
        if (p->tx.vq)
                queue_publish(p->net, p->tx.vq, p->tx.vq_index, &p->tx.used_pending);
}

/* ---- receive ------------------------------------------------------------------------- */

void vsp_net_rx_forget(struct net_rx *rx)
{
        rx->have_buf = rx->partial = rx->need_kick = false;
        rx->n_used = 0;
}

/* Pop the next receive buffer. false: there is none (we wait for a kick) or the ring broke. */
static bool rx_take_buffer(struct net_pair *p)
{
        struct net_rx *rx = &p->rx;
        struct virtq_elem el;
        int n;

        for (;;) {
                n = virtq_pop(rx->vq, rx->iov, VSP_NET_MAX_SEGS - 1, &el);
                if (n > 0)
                        break;
                if (n < 0) {
                        vsp_net_queue_fail(p, &rx->broken, rx->vq_index, rx->vq->error ? rx->vq->error : "bad ring");
                        return false;
                }
                if (!virtq_enable_notify(rx->vq)) {
                        rx->need_kick = true;
                        return false;
                }
                virtq_disable_notify(rx->vq);
        }
        if (el.n_out > 0) {
                vsp_net_queue_fail(p, &rx->broken, rx->vq_index, "receive buffer with device-readable descriptors");
                return false;
        }
        if (el.in_len < HDR) {
                vsp_net_queue_fail(p, &rx->broken, rx->vq_index, "receive buffer smaller than the virtio-net header");
                return false;
        }
        rx->have_buf = true;
        rx->need_kick = false;
        rx->head = el.head;
        rx->niov = el.n_in;
        rx->cap = MIN(el.in_len, (uint64_t)UINT32_MAX);
        rx->hdr_niov = (unsigned)iov_slice(rx->iov, rx->niov, 0, HDR, rx->hdr_iov, HDR);
        return true;
}

/* Bytes [off, off+len) of the packet being received (header included): buffer, then bounce. */
static void rx_pkt_read(const struct net_rx *rx, uint64_t off, void *buf, size_t len)
{
        size_t done = 0;

        if (off < rx->cap)
                done = iov_to_buf(rx->iov, rx->niov, off, buf, MIN((uint64_t)len, rx->cap - off));
        if (done < len)
                memcpy((uint8_t *)buf + done, rx->bounce + (off + done - rx->cap), len - done);
}

/* Spread the rest of a merged packet over more buffers; false while it waits for them. */
static bool rx_continue(struct net_pair *p)
{
        struct net_rx *rx = &p->rx;

        while (rx->bounce_off < rx->bounce_len) {
                uint32_t len;

                if (rx->n_used >= rx->vq->size) {
                        /* Larger than all the buffers the ring can hold at once. */
                        virtq_unpop(rx->vq, rx->n_used);
                        rx->partial = false;
                        rx->n_used = 0;
                        net_drop(p, &p->stats.rx_dropped, "receive", "larger than the whole receive ring");
                        return true;
                }
                if (!rx->have_buf && !rx_take_buffer(p))
                        return false;
                len = (uint32_t)MIN(rx->cap, (uint64_t)(rx->bounce_len - rx->bounce_off));
                iov_from_buf(rx->iov, rx->niov, 0, rx->bounce + rx->bounce_off, len);
                rx->used_head[rx->n_used] = rx->head;
                rx->used_len[rx->n_used] = len;
                rx->n_used++;
                rx->bounce_off += len;
                rx->have_buf = false;
        }
        rx->pkt_hdr.num_buffers = htole16((uint16_t)rx->n_used);
        iov_from_buf(rx->pkt_hdr_iov, rx->pkt_hdr_niov, 0, &rx->pkt_hdr, HDR);
        for (unsigned i = 0; i < rx->n_used; i++)
                virtq_push(rx->vq, rx->used_head[i], rx->used_len[i]);
        rx->used_pending = true;
        rx->partial = false;
        rx->n_used = 0;
        vsp_net_stat_add(&p->stats.rx_packets, 1);
        vsp_net_stat_add(&p->stats.rx_bytes, rx->pkt_len - HDR);
        vsp_net_stat_add(&p->stats.rx_merged, 1);
        return true;
}

/* Read one packet from the TAP into the buffer we hold (and the bounce buffer). */
static void rx_one(struct net_pair *p)
{
        struct net_rx *rx = &p->rx;
        struct vsp_net *n = p->net;
        bool vnet = vsp_tap_has_vnet_hdr(n->tap);
        struct virtio_net_hdr h;
        struct iovec *v = rx->iov;
        unsigned nv = rx->niov;
        uint8_t dst[6];
        uint64_t total;
        ssize_t r;

        if (!vnet) {
                /* We write the header ourselves: the frame goes after it. */
                int k = iov_slice(rx->iov, rx->niov, HDR, rx->cap - HDR, rx->rd_iov, VSP_NET_MAX_SEGS - 1);

                v = rx->rd_iov;
                nv = k < 0 ? 0 : (unsigned)k;
        }
        v[nv] = (struct iovec) { .iov_base = rx->bounce, .iov_len = VSP_NET_BOUNCE_SIZE };
        do
                r = readv(p->tap_fd, v, (int)nv + 1);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                /* EAGAIN: drained; EBADFD: this queue is detached from the TAP. */
                if (errno != EAGAIN && errno != EBADFD && net_log_ok(p))
                        log_debug_errno(-errno, "virtio-net %s pair %u: TAP read failed: %m", n->name, p->index);
                p->tap_readable = false;
                return;
        }
        total = (uint64_t)r + (vnet ? 0 : HDR);
        if (total < HDR + VIRTIO_NET_ETH_HLEN || total >= rx->cap + VSP_NET_BOUNCE_SIZE) {
                net_drop(p, &p->stats.rx_dropped, "receive", "runt or truncated frame from the TAP");
                return;
        }
        if (vnet)
                rx_pkt_read(rx, 0, &h, HDR);
        else
                memset(&h, 0, sizeof(h));
        if (vsp_net_rx_fixup(&h, __atomic_load_n(&n->offloads, __ATOMIC_ACQUIRE)) < 0) {
                net_drop(p, &p->stats.rx_dropped, "receive", "needs an offload the driver did not accept");
                return;
        }
        if (n->mtu && vsp_net_has(n, VIRTIO_NET_F_MTU) && h.gso_type == VIRTIO_NET_HDR_GSO_NONE &&
            total - HDR > (uint64_t)n->mtu + VIRTIO_NET_ETH_HLEN + VIRTIO_NET_VLAN_HLEN) {
                net_drop(p, &p->stats.rx_dropped, "receive", "larger than the MTU");
                return;
        }
        rx_pkt_read(rx, HDR, dst, sizeof(dst));
        if (!vsp_net_filter_accept(&p->filter, dst)) {
                vsp_net_stat_add(&p->stats.rx_filtered, 1);
                return;
        }
        if (total <= rx->cap) {
                h.num_buffers = htole16(1);
                iov_from_buf(rx->hdr_iov, rx->hdr_niov, 0, &h, HDR);
                virtq_push(rx->vq, rx->head, (uint32_t)total);
                rx->used_pending = true;
                rx->have_buf = false;
                vsp_net_stat_add(&p->stats.rx_packets, 1);
                vsp_net_stat_add(&p->stats.rx_bytes, total - HDR);
                return;
        }
        if (!vsp_net_has(n, VIRTIO_NET_F_MRG_RXBUF)) {
                net_drop(p, &p->stats.rx_dropped, "receive", "larger than the receive buffer");
                return;         /* the buffer takes the next packet */
        }
        rx->partial = true;
        rx->pkt_hdr = h;
        memcpy(rx->pkt_hdr_iov, rx->hdr_iov, sizeof(rx->hdr_iov));
        rx->pkt_hdr_niov = rx->hdr_niov;
        rx->pkt_len = total;
        rx->used_head[0] = rx->head;
        rx->used_len[0] = (uint32_t)rx->cap;
        rx->n_used = 1;
        rx->bounce_off = 0;
        rx->bounce_len = (uint32_t)(total - rx->cap);
        rx->have_buf = false;
}

static void rx_sync_filter(struct net_pair *p)
{
        struct vsp_net *n = p->net;

        if (__atomic_load_n(&n->filter_gen, __ATOMIC_ACQUIRE) == p->filter_gen)
                return;
        pthread_mutex_lock(&n->lock);
        p->filter = n->filter;
        p->filter_gen = n->filter_gen;
        pthread_mutex_unlock(&n->lock);
}

bool vsp_net_rx_run(struct net_pair *p)
{
        struct net_rx *rx = &p->rx;
        unsigned budget = VSP_NET_BUDGET;
        uint16_t published;

        if (!rx->vq || rx->broken || !__atomic_load_n(&p->enabled, __ATOMIC_ACQUIRE) ||
            !__atomic_load_n(&p->net->link_up, __ATOMIC_ACQUIRE))
                return false;
        if (rx->need_kick && !virtq_has_avail(rx->vq))
                return false;
        rx_sync_filter(p);
        published = rx->vq->used_idx;
        virtq_disable_notify(rx->vq);
        if (rx->partial && !rx_continue(p))
                return false;
        while (p->tap_readable) {
                if (budget-- == 0)
                        return true;
                if (!rx->have_buf && !rx_take_buffer(p))
                        return false;
                rx_one(p);
                if (rx->partial && !rx_continue(p))
                        return false;
                /* Let the driver see part of a long run: it works on those while we go on. */
                if ((uint16_t)(rx->vq->used_idx - published) >= VSP_NET_PUBLISH_EVERY) {
                        queue_publish(p->net, rx->vq, rx->vq_index, &rx->used_pending);
                        published = rx->vq->used_idx;
                }
        }
        return false;
}

/* ---- transmit ------------------------------------------------------------------------ */

int vsp_net_tx_init(struct net_tx *tx, int tap_fd)
{
        int r, sndbuf;

        tx->pkts = calloc(VSP_NET_TX_BATCH, sizeof(*tx->pkts));
        if (!tx->pkts)
                return -ENOMEM;
        /* Without io_uring (an old kernel, a filter) each packet is one writev(). */
        tx->ring = calloc(1, sizeof(*tx->ring));
        if (!tx->ring)
                return -ENOMEM;
        /*
         * A TAP refuses a frame (EAGAIN) only when its send buffer is limited; unlimited
         * (the default) the batch's writes can be independent. Anything else links them,
         * so that a refused frame holds back those behind it and the order is kept.
         */
        tx->linked = !(ioctl(tap_fd, TUNGETSNDBUF, &sndbuf) == 0 && sndbuf == INT_MAX);
        r = io_uring_queue_init(VSP_NET_TX_BATCH, tx->ring, 0);
        if (r < 0) {
                log_info_errno(r, "virtio-net: no io_uring for transmit (%m): one writev() per frame");
                free(tx->ring);
                tx->ring = NULL;
        }
        return 0;
}

void vsp_net_tx_done(struct net_tx *tx)
{
        if (tx->ring) {
                io_uring_queue_exit(tx->ring);
                free(tx->ring);
                tx->ring = NULL;
        }
        free(tx->pkts);
        tx->pkts = NULL;
}

static struct net_tx_pkt *tx_pkt(struct net_tx *tx, unsigned i)
{
        return &tx->pkts[(tx->first + i) % VSP_NET_TX_BATCH];
}

static void tx_complete(struct net_tx *tx, uint16_t head)
{
        virtq_push(tx->vq, head, 0);
        tx->used_pending = true;
}

/* Pop and check one packet into pkt: 1 ready to write, 2 dropped, 0 ring empty, -1 ring broken. */
static int tx_prepare(struct net_pair *p, struct net_tx_pkt *pkt)
{
        struct net_tx *tx = &p->tx;
        struct vsp_net *n = p->net;
        struct virtio_net_hdr h;
        enum vsp_net_tx_verdict v;
        unsigned i;
        size_t skip;
        int k;

        pkt->sent = false;
        pkt->res = -ECANCELED;
        k = virtq_pop(tx->vq, pkt->iov + 1, VSP_NET_MAX_SEGS - 1, &pkt->el);
        if (k == 0)
                return 0;
        if (k < 0) {
                vsp_net_queue_fail(p, &tx->broken, tx->vq_index, tx->vq->error ? tx->vq->error : "bad ring");
                return -1;
        }
        if (pkt->el.n_in > 0) {
                net_drop(p, &p->stats.tx_dropped, "transmit", "device-writable descriptors in the chain");
                tx_complete(tx, pkt->el.head);
                return 2;
        }
        if (pkt->el.out_len < HDR) {
                net_drop(p, &p->stats.tx_dropped, "transmit", "shorter than the virtio-net header");
                tx_complete(tx, pkt->el.head);
                return 2;
        }
        iov_to_buf(pkt->iov + 1, pkt->el.n_out, 0, &h, HDR);
        pkt->frame_len = pkt->el.out_len - HDR;
        v = vsp_net_tx_check(&h, n->features, pkt->frame_len, vsp_net_has(n, VIRTIO_NET_F_MTU) ? n->mtu : 0,
                             &pkt->hdr);
        if (v != VSP_NET_TX_OK || !__atomic_load_n(&n->link_up, __ATOMIC_ACQUIRE)) {
                net_drop(p, &p->stats.tx_dropped, "transmit",
                         v == VSP_NET_TX_RUNT ? "runt frame" :
                         v == VSP_NET_TX_OVERSIZED ? "oversized frame" :
                         v == VSP_NET_TX_BAD_HDR ? "bad vnet header" : "link down");
                tx_complete(tx, pkt->el.head);
                return 2;
        }
        /* Skip the guest's header (the frame is at least an Ethernet header, so i <= n_out). */
        for (i = 1, skip = HDR; skip >= pkt->iov[i].iov_len; i++)
                skip -= pkt->iov[i].iov_len;
        pkt->iov[i].iov_base = (uint8_t *)pkt->iov[i].iov_base + skip;
        pkt->iov[i].iov_len -= skip;
        if (vsp_tap_has_vnet_hdr(n->tap)) {
                pkt->iov[i - 1] = (struct iovec) { .iov_base = &pkt->hdr, .iov_len = HDR };
                pkt->vec = &pkt->iov[i - 1];
                pkt->nvec = pkt->el.n_out - i + 2;
        } else {
                pkt->vec = &pkt->iov[i];
                pkt->nvec = pkt->el.n_out - i + 1;
        }
        return 1;
}

/*
 * The ready packets not yet taken to the TAP: with io_uring one system call for all of
 * them. On a TAP that never refuses (see vsp_net_tx_init) they are independent writes;
 * otherwise linked, so a refusal cancels those behind it (-ECANCELED: sent again later,
 * in order). Linking costs: each linked write runs as task work, a third of the packet
 * rate. Without io_uring, one writev() for the first of them. Sets each one's res.
 */
static void tx_send(struct net_pair *p)
{
        struct net_tx *tx = &p->tx;
        struct io_uring_sqe *last = NULL;
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0, n = 0;
        int r;

        if (!tx->ring) {
                for (unsigned i = 0; i < tx->n_ready; i++) {
                        struct net_tx_pkt *pkt = tx_pkt(tx, i);
                        ssize_t w;

                        if (pkt->sent)
                                continue;
                        do
                                w = writev(p->tap_fd, pkt->vec, (int)pkt->nvec);
                        while (w < 0 && errno == EINTR);
                        pkt->res = w < 0 ? -errno : 0;
                        return;
                }
                return;
        }
        for (unsigned i = 0; i < tx->n_ready; i++) {
                struct net_tx_pkt *pkt = tx_pkt(tx, i);
                struct io_uring_sqe *sqe;

                if (pkt->sent)
                        continue;
                sqe = io_uring_get_sqe(tx->ring);
                io_uring_prep_writev(sqe, p->tap_fd, pkt->vec, pkt->nvec, 0);
                io_uring_sqe_set_data64(sqe, i);
                if (tx->linked)
                        sqe->flags |= IOSQE_IO_LINK;
                last = sqe;
                pkt->res = -ECANCELED;
                n++;
        }
        if (last)
                last->flags &= (uint8_t)~IOSQE_IO_LINK;
        do
                r = io_uring_submit_and_wait(tx->ring, n);
        while (r == -EINTR);
        if (r < 0) {
                /* io_uring itself failed: these packets are lost, and writev() from now on. */
                if (net_log_ok(p))
                        log_debug_errno(r, "virtio-net %s pair %u: io_uring failed, using writev(): %m",
                                        p->net->name, p->index);
                for (unsigned i = 0; i < tx->n_ready; i++)
                        if (!tx_pkt(tx, i)->sent)
                                tx_pkt(tx, i)->res = r;
                io_uring_queue_exit(tx->ring);
                free(tx->ring);
                tx->ring = NULL;
                return;
        }
        io_uring_for_each_cqe(tx->ring, head, cqe) {
                if (cqe->user_data < tx->n_ready)
                        tx_pkt(tx, (unsigned)cqe->user_data)->res = cqe->res < 0 ? cqe->res : 0;
                seen++;
        }
        io_uring_cq_advance(tx->ring, seen);
}

/* Hand the ready packets to the TAP; false when it said EAGAIN (wait for EPOLLOUT). */
static bool tx_flush(struct net_pair *p)
{
        struct net_tx *tx = &p->tx;

        while (tx->n_ready > 0) {
                bool refused = false;

                tx_send(p);
                for (unsigned i = 0; i < tx->n_ready; i++) {
                        struct net_tx_pkt *pkt = tx_pkt(tx, i);

                        if (pkt->sent || pkt->res == -ECANCELED)
                                continue;       /* done before, or not tried yet */
                        if (pkt->res == -EAGAIN) {
                                refused = true;
                                continue;
                        }
                        if (pkt->res < 0) {
                                vsp_net_stat_add(&p->stats.tx_errors, 1);
                                if (net_log_ok(p))
                                        log_debug_errno(pkt->res, "virtio-net %s pair %u: the TAP refused a frame: %m",
                                                        p->net->name, p->index);
                        } else {
                                vsp_net_stat_add(&p->stats.tx_packets, 1);
                                vsp_net_stat_add(&p->stats.tx_bytes, pkt->frame_len);
                        }
                        tx_complete(tx, pkt->el.head);
                        pkt->sent = true;
                }
                while (tx->n_ready > 0 && tx_pkt(tx, 0)->sent) {
                        tx->first = (tx->first + 1) % VSP_NET_TX_BATCH;
                        tx->n_ready--;
                }
                if (refused) {
                        tx->blocked = true;
                        return false;
                }
        }
        return true;
}

bool vsp_net_tx_run(struct net_pair *p)
{
        struct net_tx *tx = &p->tx;

        if (!tx->vq || tx->broken)
                return false;
        if (tx->n_ready && (tx->blocked || !tx_flush(p)))
                return false;
        virtq_disable_notify(tx->vq);
        for (unsigned budget = VSP_NET_BUDGET; budget > 0; budget--) {
                int r;

                if (budget % VSP_NET_PUBLISH_EVERY == 0)
                        queue_publish(p->net, tx->vq, tx->vq_index, &tx->used_pending);
                r = tx_prepare(p, tx_pkt(tx, tx->n_ready));
                if (r < 0)
                        return false;
                if (r == 2)
                        continue;
                if (r == 1 && ++tx->n_ready < VSP_NET_TX_BATCH)
                        continue;       /* gather a batch */
                if (tx->n_ready) {      /* a full batch, or the ring is empty for now */
                        if (!tx_flush(p))
                                return false;
                        continue;
                }
                if (!virtq_enable_notify(tx->vq))
                        return false;
                virtq_disable_notify(tx->vq);
        }
        /* Out of budget: what is gathered goes now, the rest after the other queues. */
        return tx->n_ready == 0 || tx_flush(p);
}

/* ---- control queue ------------------------------------------------------------------- */

static uint8_t ctrl_rx_mode(struct vsp_net *n, uint8_t cmd, const uint8_t *d, size_t len)
{
        bool *flag;

        if (!vsp_net_has(n, VIRTIO_NET_F_CTRL_RX) || len != 1 || cmd > VIRTIO_NET_CTRL_RX_NOBCAST ||
            (cmd >= VIRTIO_NET_CTRL_RX_ALLUNI && !vsp_net_has(n, VIRTIO_NET_F_CTRL_RX_EXTRA)))
                return VIRTIO_NET_ERR;
        pthread_mutex_lock(&n->lock);
        switch (cmd) {
        case VIRTIO_NET_CTRL_RX_PROMISC: flag = &n->filter.promisc; break;
        case VIRTIO_NET_CTRL_RX_ALLMULTI: flag = &n->filter.allmulti; break;
        case VIRTIO_NET_CTRL_RX_ALLUNI: flag = &n->filter.alluni; break;
        case VIRTIO_NET_CTRL_RX_NOMULTI: flag = &n->filter.nomulti; break;
        case VIRTIO_NET_CTRL_RX_NOUNI: flag = &n->filter.nouni; break;
        default: flag = &n->filter.nobcast; break;
        }
        *flag = d[0] != 0;
        __atomic_fetch_add(&n->filter_gen, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&n->lock);
        return VIRTIO_NET_OK;
}

static uint8_t ctrl_mac(struct vsp_net *n, uint8_t cmd, const uint8_t *d, size_t len)
{
        int r = -EINVAL;

        if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET && vsp_net_has(n, VIRTIO_NET_F_CTRL_RX)) {
                pthread_mutex_lock(&n->lock);
                r = vsp_net_filter_set_tables(&n->filter, d, len);
                if (r >= 0)
                        __atomic_fetch_add(&n->filter_gen, 1, __ATOMIC_RELEASE);
                pthread_mutex_unlock(&n->lock);
        } else if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET && vsp_net_has(n, VIRTIO_NET_F_CTRL_MAC_ADDR) &&
                   len == 6 && nic_mac_is_valid_unicast(d)) {
                pthread_mutex_lock(&n->lock);
                memcpy(n->cfg.mac, d, 6);
                memcpy(n->filter.mac, d, 6);
                __atomic_fetch_add(&n->filter_gen, 1, __ATOMIC_RELEASE);
                pthread_mutex_unlock(&n->lock);
                r = 0;
        }
        return r < 0 ? VIRTIO_NET_ERR : VIRTIO_NET_OK;
}

static uint8_t ctrl_exec(struct vsp_net *n, uint8_t cls, uint8_t cmd, const uint8_t *d, size_t len)
{
        uint16_t pairs;
        uint64_t offloads;

        switch (cls) {
        case VIRTIO_NET_CTRL_RX:
                return ctrl_rx_mode(n, cmd, d, len);
        case VIRTIO_NET_CTRL_MAC:
                return ctrl_mac(n, cmd, d, len);
        case VIRTIO_NET_CTRL_MQ:
                if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || !vsp_net_has(n, VIRTIO_NET_F_MQ) ||
                    len != sizeof(pairs))
                        return VIRTIO_NET_ERR;
                memcpy(&pairs, d, sizeof(pairs));
                return vsp_net_set_pairs(n, le16toh(pairs)) < 0 ? VIRTIO_NET_ERR : VIRTIO_NET_OK;
        case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
                if (cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET ||
                    !vsp_net_has(n, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) || len != sizeof(offloads))
                        return VIRTIO_NET_ERR;
                memcpy(&offloads, d, sizeof(offloads));
                return vsp_net_set_offloads(n, le64toh(offloads)) < 0 ? VIRTIO_NET_ERR : VIRTIO_NET_OK;
        default:
                return VIRTIO_NET_ERR;
        }
}

void vsp_net_ctrl_run(struct net_pair *p)
{
        struct net_ctrl *c = p->ctrl;
        struct vsp_net *n = p->net;
        bool pending = false;

        if (c->broken)
                return;
        virtq_disable_notify(c->vq);
        for (;;) {
                struct virtq_elem el;
                uint8_t ack = VIRTIO_NET_ERR;
                int k = virtq_pop(c->vq, c->iov, VSP_NET_MAX_SEGS, &el);

                if (k < 0) {
                        vsp_net_queue_fail(p, &c->broken, c->vq_index, c->vq->error ? c->vq->error : "bad ring");
                        break;
                }
                if (k == 0) {
                        if (!virtq_enable_notify(c->vq))
                                break;
                        virtq_disable_notify(c->vq);
                        continue;
                }
                if (el.in_len < 1) {
                        vsp_net_queue_fail(p, &c->broken, c->vq_index, "control command without an ack byte");
                        break;
                }
                if (el.out_len >= sizeof(struct virtio_net_ctrl_hdr) && el.out_len <= sizeof(c->buf)) {
                        size_t len = iov_to_buf(c->iov, el.n_out, 0, c->buf, el.out_len);

                        ack = ctrl_exec(n, c->buf[0], c->buf[1], c->buf + 2, len - 2);
                }
                __atomic_fetch_add(ack == VIRTIO_NET_OK ? &n->ctrl_ok : &n->ctrl_err, 1, __ATOMIC_RELAXED);
                if (ack != VIRTIO_NET_OK && net_log_ok(p))
                        log_debug("virtio-net %s: control command refused (%zu bytes)", n->name, (size_t)el.out_len);
                iov_from_buf(c->iov + el.n_out, el.n_in, 0, &ack, 1);
                virtq_push(c->vq, el.head, 1);
                pending = true;
        }
        queue_publish(n, c->vq, c->vq_index, &pending);
}
