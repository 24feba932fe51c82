/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (device type 1), modern, on a TAP backend. One I/O thread per queue pair
 * owns that pair's receive and transmit queues and its TAP fd; it sleeps in epoll on the
 * two doorbell eventfds (ioeventfds: a kick never exits to userspace), the TAP fd
 * (edge-triggered) and a wake eventfd, and interrupts through the transport's virtio_irq
 * (an irqfd under KVM). The control queue is served by the first pair's thread.
 *
 * Offloads: the vnet header is passed through. What the guest accepted (GUEST_*) becomes
 * the TAP's TUNSETOFFLOAD; what the device offers (CSUM, HOST_*) the kernel always takes
 * with a vnet header, and every header is checked against the negotiated features first.
 * Multiqueue: one TAP fd per pair (IFF_MULTI_QUEUE); pairs the driver does not use are
 * detached from the TAP (TUNSETQUEUE) so the kernel does not steer packets to them.
 *
 * The driver is never trusted: ring violations break the queue and set DEVICE_NEEDS_RESET;
 * bad packets (runts, oversized frames, headers asking for offloads nobody negotiated)
 * are dropped and counted. Guest-triggered messages are debug-level and rate-limited.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include <abi/pci.h>
#include <abi/virtio.h>
#include <abi/virtio_net.h>

#include "vmms/cleanup.h"
#include "vmms/config_error.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/nic.h"
#include "vmms/switch.h"
#include "vmms/vmbus.h"
#include "vmms/vdev.h"
#include "vmms/virtqueue.h"
#include "vmms/vmstate.h"
#include "vmms/vsp_net.h"
#include "net.h"
#include "vmms/tap.h"

#define F(b) VIRTIO_BIT(VIRTIO_NET_F_##b)

/* ---- the I/O thread of a queue pair ------------------------------------------------- */

static int pair_watch(struct net_pair *p, int fd, uint32_t events)
{
        struct epoll_event ev = { .events = events, .data.fd = fd };

        if (fd < 0)
                return 0;
        return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void pair_drain(int fd)
{
        eventfd_t v;

        (void)eventfd_read(fd, &v);
}

/* The pair's loop (see iothread.h): returns at a quiet point once ctl_fd is readable. */
static int pair_run(void *arg, int ctl_fd)
{
        struct net_pair *p = arg;
        struct epoll_event ev[8];
        bool more = true;       /* doorbells rung before DRIVER_OK (or a pause): look at everything once */
        bool stop = false;
        int r;

        r = pair_watch(p, ctl_fd, EPOLLIN);
        if (r < 0 && r != -EEXIST)
                return r;
        while (!stop) {
                int n = epoll_wait(p->epfd, ev, (int)ARRAY_SIZE(ev), more ? 0 : -1);

                if (n < 0 && errno != EINTR)
                        return -errno;
                for (int i = 0; i < n; i++) {
                        int fd = ev[i].data.fd;

                        if (fd == ctl_fd) {
                                stop = true;    /* iothread.c drains it */
                        } else if (fd == p->tap_fd) {
                                if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                                        p->tap_readable = true;
                                if (ev[i].events & EPOLLOUT)
                                        p->tx.blocked = false;
                        } else {
                                pair_drain(fd);
                                if (fd == p->wake_fd)
                                        p->tap_readable = true;         /* re-attached, link up */
                        }
                }
                more = false;
                if (p->ctrl)
                        vsp_net_ctrl_run(p);
                if (vsp_net_tx_run(p))
                        more = true;
                if (vsp_net_rx_run(p))
                        more = true;
                vsp_net_pair_publish(p);
        }
        return 0;
}

static void pair_wake(struct net_pair *p)
{
        if (p->wake_fd >= 0)
                (void)eventfd_write(p->wake_fd, 1);
}

static void pair_stop(struct net_pair *p)
{
        vsp_iothread_stop(&p->t);
        vsp_net_rx_forget(&p->rx);
        p->epfd = safe_close(p->epfd);
        p->rx.vq = NULL;
        p->tx.vq = NULL;
        p->tx.first = p->tx.n_ready = 0;
        p->ctrl = NULL;
}

static void queue_bind(const struct virtio_activation *a, unsigned qi, struct virtq **ret_vq, int *ret_kick,
                       unsigned *ret_index)
{
        *ret_vq = qi < a->n_queues ? a->queues[qi].vq : NULL;
        *ret_kick = *ret_vq ? a->queues[qi].kick_fd : -1;
        *ret_index = qi;
}

static int pair_start(struct vsp_net *n, struct net_pair *p, const struct virtio_activation *a, bool with_ctrl)
{
        int r;

        p->tap_readable = true;
        p->rx.broken = p->tx.broken = false;
        p->rx.need_kick = p->rx.used_pending = p->rx.have_buf = p->rx.partial = false;
        p->tx.used_pending = p->tx.blocked = false;
        p->tx.first = p->tx.n_ready = 0;
        p->filter_gen = __atomic_load_n(&n->filter_gen, __ATOMIC_ACQUIRE) - 1;  /* copy it at once */
        p->rl = (struct ratelimit) RATELIMIT_INIT(1000000, 5);
        queue_bind(a, 2 * p->index, &p->rx.vq, &p->rx.kick_fd, &p->rx.vq_index);
        queue_bind(a, 2 * p->index + 1, &p->tx.vq, &p->tx.kick_fd, &p->tx.vq_index);
        p->ctrl = NULL;
        if (with_ctrl) {
                queue_bind(a, 2 * n->n_pairs, &n->ctrl.vq, &n->ctrl.kick_fd, &n->ctrl.vq_index);
                n->ctrl.broken = false;
                if (n->ctrl.vq)
                        p->ctrl = &n->ctrl;
        }
        p->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (p->epfd < 0)
                return -errno;
        pair_drain(p->wake_fd);
        if ((r = pair_watch(p, p->wake_fd, EPOLLIN)) < 0 ||
            (r = pair_watch(p, p->rx.kick_fd, EPOLLIN)) < 0 ||
            (r = pair_watch(p, p->tx.kick_fd, EPOLLIN)) < 0 ||
            (r = pair_watch(p, p->ctrl ? p->ctrl->kick_fd : -1, EPOLLIN)) < 0 ||
            (r = pair_watch(p, p->tap_fd, EPOLLIN | EPOLLOUT | EPOLLET)) < 0)
                return r;
        return vsp_iothread_start(&p->t, p->what, pair_run, p, n->irq);
}

/* ---- device ops --------------------------------------------------------------------- */

static void net_reset(void *dev)
{
        struct vsp_net *n = dev;

        for (unsigned i = 0; i < n->max_pairs; i++)
                pair_stop(&n->pairs[i]);
        n->ctrl.vq = NULL;
        pthread_mutex_lock(&n->lock);
        n->active = false;
        n->features = 0;
        memcpy(n->cfg.mac, n->mac, sizeof(n->mac));     /* VIRTIO_NET_CTRL_MAC_ADDR_SET is undone */
        pthread_mutex_unlock(&n->lock);
}

int vsp_net_set_offloads(struct vsp_net *n, uint64_t offloads)
{
        int r;

        if ((offloads & ~(n->features & VSP_NET_GUEST_OFFLOADS)) || vsp_net_check_features(offloads) < 0)
                return -EINVAL;
        r = vsp_tap_set_offloads(n->tap, vsp_net_tun_offloads(offloads));
        if (r < 0)
                return r;
        __atomic_store_n(&n->offloads, offloads, __ATOMIC_RELEASE);
        return 0;
}

int vsp_net_set_pairs(struct vsp_net *n, unsigned pairs)
{
        unsigned nq = vsp_tap_queues(n->tap);

        if (pairs < 1 || pairs > n->n_pairs)
                return -EINVAL;
        /* Attach the new ones first: the TAP never has zero queues attached. */
        for (unsigned i = 0; i < nq; i++) {
                int r = vsp_tap_enable_queue(n->tap, i, i < pairs);

                if (r < 0 && i < pairs)
                        return r;
        }
        n->active_pairs = pairs;
        for (unsigned i = 0; i < n->max_pairs; i++) {
                __atomic_store_n(&n->pairs[i].enabled, i < pairs, __ATOMIC_RELEASE);
                pair_wake(&n->pairs[i]);
        }
        return 0;
}

static void net_pause(void *dev)
{
        struct vsp_net *n = dev;

        for (unsigned i = 0; i < n->max_pairs; i++)
                vsp_iothread_pause(&n->pairs[i].t);
}

static void net_resume(void *dev)
{
        struct vsp_net *n = dev;

        for (unsigned i = 0; i < n->max_pairs; i++)
                vsp_iothread_resume(&n->pairs[i].t);
}

static int net_activate(void *dev, const struct virtio_activation *a)
{
        struct vsp_net *n = dev;
        int r;

        pthread_mutex_lock(&n->lock);
        n->features = a->features;
        n->irq = a->irq;
        n->n_pairs = vsp_net_has(n, VIRTIO_NET_F_MQ) ? n->max_pairs : 1;
        vsp_net_filter_reset(&n->filter, n->cfg.mac, vsp_net_has(n, VIRTIO_NET_F_CTRL_RX));
        __atomic_fetch_add(&n->filter_gen, 1, __ATOMIC_RELEASE);
        n->active = true;
        pthread_mutex_unlock(&n->lock);

        r = vsp_net_set_offloads(n, a->features & VSP_NET_GUEST_OFFLOADS);
        if (r < 0)
                goto fail;
        r = vsp_net_set_pairs(n, 1);    /* only the first pair until VQ_PAIRS_SET */
        if (r < 0)
                goto fail;
        if (n->restore_pending) {
                /* What the driver had set when the VM was saved. */
                n->restore_pending = false;
                pthread_mutex_lock(&n->lock);
                n->cfg = n->restore_cfg;
                n->filter = n->restore_filter;
                __atomic_fetch_add(&n->filter_gen, 1, __ATOMIC_RELEASE);
                pthread_mutex_unlock(&n->lock);
                r = vsp_net_set_offloads(n, n->restore_offloads & a->features & VSP_NET_GUEST_OFFLOADS);
                if (r >= 0 && n->restore_pairs > 1)
                        r = vsp_net_set_pairs(n, MIN(n->restore_pairs, n->n_pairs));
                if (r < 0)
                        goto fail;
        }
        for (unsigned i = 0; i < n->n_pairs; i++) {
                r = pair_start(n, &n->pairs[i], a, i == 0 && vsp_net_has(n, VIRTIO_NET_F_CTRL_VQ));
                if (r < 0)
                        goto fail;
        }
        return 0;
fail:
        log_debug_errno(r, "virtio-net %s: cannot start: %m", n->name);
        net_reset(n);
        return r;
}

static void net_read_config(void *dev, uint32_t off, void *data, uint32_t len)
{
        struct vsp_net *n = dev;

        pthread_mutex_lock(&n->lock);
        memcpy(data, (const uint8_t *)&n->cfg + off, len);
        pthread_mutex_unlock(&n->lock);
}

static int net_validate_features(void *dev, uint64_t features)
{
        return vsp_net_check_features(features);
}

static void net_free(void *dev)
{
        struct vsp_net *n = dev;

        if (!n)
                return;
        if (n->pairs) {
                net_reset(n);
                for (unsigned i = 0; i < n->max_pairs; i++) {
                        vsp_iothread_destroy(&n->pairs[i].t);
                        safe_close(n->pairs[i].wake_fd);
                        free(n->pairs[i].rx.used_head);
                        free(n->pairs[i].rx.used_len);
                        free(n->pairs[i].rx.bounce);
                        vsp_net_tx_done(&n->pairs[i].tx);
                }
        }
        free(n->pairs);
        vsp_tap_free(n->tap);
        pthread_mutex_destroy(&n->lock);
        free(n);
}

/*
 * Saved state, version 1: what the driver set through the control queue (MAC, receive
 * filter, offloads, queue pairs) and the link. Paused, a pair may hold receive buffers
 * popped ahead of a packet (and a merged packet half spread over them) and transmit frames
 * popped but not yet written: they go back to their rings (the half packet is dropped, as a
 * network may drop one) and the driver's buffers are served again after the restore.
 */
#define NET_STATE_VERSION 1u

struct net_state {
        struct virtio_net_config cfg;
        struct vsp_net_filter filter;
        uint64_t offloads;
        uint32_t active_pairs, link_up;
};

static int net_save(void *dev, struct vmstate_writer *w, const char *prefix)
{
        struct vsp_net *n = dev;
        struct net_state st;
        char name[64];

        for (unsigned i = 0; i < n->n_pairs; i++) {
                struct net_pair *p = &n->pairs[i];
                struct net_rx *rx = &p->rx;
                struct net_tx *tx = &p->tx;
                unsigned k = (rx->partial ? rx->n_used : 0) + (rx->have_buf ? 1 : 0);

                if (rx->vq && k) {
                        if (rx->partial)
                                vsp_net_stat_add(&p->stats.rx_dropped, 1);
                        virtq_unpop(rx->vq, k);
                        rx->partial = rx->have_buf = false;
                        rx->n_used = 0;
                }
                if (tx->vq && tx->n_ready) {
                        virtq_unpop(tx->vq, tx->n_ready);
                        tx->n_ready = 0;
                        tx->first = 0;
                        tx->blocked = false;
                }
        }
        memset(&st, 0, sizeof(st));
        pthread_mutex_lock(&n->lock);
        st.cfg = n->cfg;
        st.filter = n->filter;
        pthread_mutex_unlock(&n->lock);
        st.offloads = __atomic_load_n(&n->offloads, __ATOMIC_RELAXED);
        st.active_pairs = n->active_pairs;
        st.link_up = __atomic_load_n(&n->link_up, __ATOMIC_RELAXED);
        snprintf(name, sizeof(name), "%s.net", prefix);
        return vmstate_put(w, name, NET_STATE_VERSION, &st, sizeof(st));
}

static int net_load(void *dev, struct vmstate *stt, const char *prefix, char *err, size_t err_len)
{
        struct vsp_net *n = dev;
        struct net_state st;
        char name[64];
        int r;

        snprintf(name, sizeof(name), "%s.net", prefix);
        r = vdev_state_get(stt, name, NET_STATE_VERSION, &st, sizeof(st), err, err_len);
        if (r < 0)
                return r;
        if (st.filter.n_uni > VSP_NET_MAC_TABLE || st.filter.n_multi > VSP_NET_MAC_TABLE ||
            st.active_pairs > n->max_pairs) {
                snprintf(err, err_len, "section %s: a filter or queue count this device cannot have", name);
                return -EINVAL;
        }
        n->restore_cfg = st.cfg;
        n->restore_filter = st.filter;
        n->restore_offloads = st.offloads;
        n->restore_pairs = st.active_pairs;
        n->restore_pending = true;
        return 0;
}

static const struct virtio_dev_ops net_ops = {
        .activate = net_activate,
        .reset = net_reset,
        .pause = net_pause,
        .resume = net_resume,
        .read_config = net_read_config,
        .validate_features = net_validate_features,
        .save = net_save,
        .load = net_load,
        .free = net_free,
};

static uint64_t net_offered_features(const struct vsp_tap *tap, unsigned pairs, unsigned mtu)
{
        unsigned t = vsp_tap_offloads_supported(tap);
        uint64_t f = F(MAC) | F(STATUS) | F(MRG_RXBUF) | F(CTRL_VQ) | F(CTRL_RX) | F(CTRL_RX_EXTRA) |
                     F(CTRL_MAC_ADDR) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |
                     VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);

        if (pairs > 1)
                f |= F(MQ);
        if (mtu)
                f |= F(MTU);
        if (vsp_tap_has_vnet_hdr(tap)) {
                /* A vnet header always lets us hand partial checksums and GSO to the kernel. */
                f |= F(CSUM) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_ECN) | F(HOST_UFO);
                if (t & TUN_F_USO4)
                        f |= F(HOST_USO);
        }
        if (t & TUN_F_CSUM)
                f |= F(GUEST_CSUM) | F(CTRL_GUEST_OFFLOADS);
        if (t & TUN_F_TSO4)
                f |= F(GUEST_TSO4);
        if (t & TUN_F_TSO6)
                f |= F(GUEST_TSO6);
        if (t & TUN_F_TSO_ECN)
                f |= F(GUEST_ECN);
        if (t & TUN_F_UFO)
                f |= F(GUEST_UFO);
        if (t & TUN_F_USO4)
                f |= F(GUEST_USO4) | F(GUEST_USO6);
        return f;
}

static int net_new(struct vsp_tap *tap, const uint8_t mac[6], struct vsp_net **ret)
{
        struct vsp_net *n;
        unsigned mtu = vsp_tap_mtu(tap);
        int rt;

        n = calloc(1, sizeof(*n));
        if (!n) {
                vsp_tap_free(tap);
                return -ENOMEM;
        }
        pthread_mutex_init(&n->lock, NULL);
        n->tap = tap;
        n->max_pairs = vsp_tap_queues(tap);
        snprintf(n->name, sizeof(n->name), "%s", vsp_tap_ifname(tap)[0] ? vsp_tap_ifname(tap) : "(fd)");
        n->pairs = calloc(n->max_pairs, sizeof(*n->pairs));
        if (!n->pairs) {
                net_free(n);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < n->max_pairs; i++) {
                struct net_pair *p = &n->pairs[i];

                p->net = n;
                p->index = i;
                p->tap_fd = vsp_tap_fd(tap, i);
                p->epfd = p->wake_fd = -1;
                p->rx.kick_fd = p->tx.kick_fd = -1;
                snprintf(p->what, sizeof(p->what), "virtio-net %s pair %u", n->name, i);
                vsp_iothread_init(&p->t);
        }
        for (unsigned i = 0; i < n->max_pairs; i++) {
                struct net_pair *p = &n->pairs[i];

                p->rx.used_head = calloc(VSP_NET_QUEUE_SIZE, sizeof(*p->rx.used_head));
                p->rx.used_len = calloc(VSP_NET_QUEUE_SIZE, sizeof(*p->rx.used_len));
                p->rx.bounce = malloc(VSP_NET_BOUNCE_SIZE);
                /* Lives as long as the device: other threads may wake the pair at any time. */
                p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (!p->rx.used_head || !p->rx.used_len || !p->rx.bounce || p->wake_fd < 0) {
                        int r = p->wake_fd < 0 && errno != ENOMEM ? -errno : -ENOMEM;

                        net_free(n);
                        return r;
                }
                rt = vsp_net_tx_init(&p->tx, p->tap_fd);
                if (rt < 0) {
                        net_free(n);
                        return rt;
                }
        }
        n->ctrl.kick_fd = -1;
        if (mtu < 68 || mtu > 65535)
                mtu = 0;
        n->mtu = mtu;
        n->link_up = true;
        memcpy(n->mac, mac, 6);
        memcpy(n->cfg.mac, mac, 6);
        n->cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
        n->cfg.max_virtqueue_pairs = htole16((uint16_t)n->max_pairs);
        n->cfg.mtu = htole16((uint16_t)mtu);
        n->info = (struct virtio_dev_info) {
                .name = "net", .type = VIRTIO_ID_NET, .pci_class = PCI_CLASS_NETWORK_ETHERNET,
                .features = net_offered_features(tap, n->max_pairs, mtu),
                .num_queues = (uint16_t)(2 * n->max_pairs + 1),
                .queue_max_size = VSP_NET_QUEUE_SIZE,
                .config_size = sizeof(n->cfg),
        };
        *ret = n;
        return 0;
}

/* ---- public API ---------------------------------------------------------------------- */

int vsp_net_add_tap(struct vmbus *bus, struct vsp_tap *tap, const uint8_t mac[6], struct vsp_net **ret_net)
{
        struct vsp_net *n = NULL;
        int r;

        r = net_new(tap, mac, &n);
        if (r < 0)
                return r;
        r = vmbus_add_virtio(bus, &n->info, &net_ops, n);      /* frees n on failure */
        if (r < 0)
                return r;
        if (ret_net)
                *ret_net = n;
        return 0;
}

int vsp_net_add(struct vmbus *bus, const struct nic_config *nic, const char *mac_seed,
                unsigned index, struct vsp_net **ret_net, struct config_error *err)
{
        struct vsp_tap *tap = NULL;
        uint8_t mac[6];
        int r;

        if (nic->n_fds > 0) {
                int fds[NIC_QUEUES_MAX];
                unsigned k;

                /* Our own copies: the configuration keeps its fds for the next boot. */
                for (k = 0; k < nic->n_fds; k++) {
                        fds[k] = fcntl(nic->fds[k], F_DUPFD_CLOEXEC, 3);
                        if (fds[k] < 0)
                                break;
                }
                if (k < nic->n_fds) {
                        r = -errno;
                        while (k > 0)
                                safe_close(fds[--k]);
                        return config_error_errno(err, r, "nic %u: fd %d", index, nic->fds[k]);
                }
                r = vsp_tap_adopt(fds, nic->n_fds, &tap);
                if (r < 0)
                        return config_error_errno(err, r, "nic %u: the TAP fds handed over", index);
        } else if (nic->tap) {
                r = vsp_tap_open(nic->tap, nic->queues, &tap);
                if (r < 0)
                        return config_error_errno(err, r, "nic %u: TAP %s", index, nic->tap);
        } else if (nic->switch_name) {
                char name[16];

                /* Unique on the host: a private switch gathers the TAPs of all VMs in one namespace. */
                snprintf(name, sizeof(name), "vmt%u-%u", (unsigned)getpid() % 10000000u, index % 100u);
                r = vsp_tap_open(name, nic->queues, &tap);
                if (r < 0)
                        return config_error_errno(err, r, "nic %u: a TAP for switch %s", index, nic->switch_name);
                r = vswitch_attach(nic->switch_name, vsp_tap_ifname(tap));
                if (r < 0) {
                        vsp_tap_free(tap);
                        return config_error_errno(err, r, "nic %u: switch %s", index, nic->switch_name);
                }
        } else {
                return config_error_set(err, "nic %u: none of tap=, fd= or switch= (vmwp alone cannot serve it)",
                                        index);
        }
        if (nic->bridge) {
                r = vswitch_attach_bridge(nic->bridge, vsp_tap_ifname(tap));
                if (r < 0) {
                        vsp_tap_free(tap);
                        return config_error_errno(err, r, "nic %u: bridge %s", index, nic->bridge);
                }
        }
        if (nic->has_mac)
                memcpy(mac, nic->mac, sizeof(mac));
        else
                nic_mac_derive(mac_seed, index, mac);
        return vsp_net_add_tap(bus, tap, mac, ret_net);
}

void vsp_net_get_stats(struct vsp_net *n, struct vsp_net_stats *ret)
{
        struct vsp_net_stats s = {
                .ctrl_ok = __atomic_load_n(&n->ctrl_ok, __ATOMIC_RELAXED),
                .ctrl_err = __atomic_load_n(&n->ctrl_err, __ATOMIC_RELAXED),
                .ring_errors = __atomic_load_n(&n->ring_errors, __ATOMIC_RELAXED),
        };

        for (unsigned i = 0; i < n->max_pairs; i++) {
                const uint64_t *src = (const uint64_t *)&n->pairs[i].stats;
                uint64_t *dst = (uint64_t *)&s;

                /* the per-pair counters come before ctrl_ok */
                for (size_t k = 0; k < offsetof(struct vsp_net_stats, ctrl_ok) / sizeof(uint64_t); k++)
                        dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
        }
        *ret = s;
}

int vsp_net_set_link(struct vsp_net *n, bool up)
{
        bool notify;

        pthread_mutex_lock(&n->lock);
        __atomic_store_n(&n->link_up, up, __ATOMIC_RELEASE);
        n->cfg.status = htole16(up ? VIRTIO_NET_S_LINK_UP : 0);
        notify = n->active && vsp_net_has(n, VIRTIO_NET_F_STATUS);
        pthread_mutex_unlock(&n->lock);
        if (notify)
                n->irq->config_changed(n->irq->opaque);
        for (unsigned i = 0; i < n->max_pairs; i++)
                pair_wake(&n->pairs[i]);
        return 0;
}

const char *vsp_net_ifname(struct vsp_net *n)
{
        return vsp_tap_ifname(n->tap);
}
