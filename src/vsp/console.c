/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (device type 3) with VIRTIO_CONSOLE_F_MULTIPORT: the channel of the
 * integration services. One named port per enabled service (ids IC_CONSOLE_FIRST_PORT
 * and up); port 0 is never added. The device announces its ports once the driver sends
 * DEVICE_READY, names each port and reports the host side open once the driver says the
 * port is ready; the driver's PORT_OPEN opens and closes the service's session in the
 * IC engine (vsp_ic.h), which owns everything above the byte streams.
 *
 * One I/O thread per activation serves every queue: doorbells, the engine's wake-ups and
 * its timers in one poll(). Input is handed to the engine as the driver queued it; when
 * the engine says a port is over its budget, the chain being read is held and the rest of
 * that port's transmitq waits, which pushes back on the guest without dropping anything.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <abi/pci.h>
#include <abi/virtio.h>
#include <abi/virtio_console.h>

#include "vmms/cleanup.h"
#include "vmms/iov.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmms/virtio_dev.h"
#include "vmms/virtqueue.h"
#include "vmms/vmbus.h"
#include "vmms/vsp_ic.h"
#include "iothread.h"
#include <abi/ic_msg.h>

#define CON_NQ              VIRTIO_CONSOLE_NUM_QUEUES(IC_CONSOLE_MAX_PORTS)
#define CON_QUEUE_SIZE      256u
#define CON_MAX_CHAIN       16u
#define CON_CTRL_PENDING    32u
#define CON_CTRL_RATE       200u        /* control messages a second from the driver */
#define CON_CTRL_MSG_MAX    (sizeof(struct virtio_console_control) + IC_PORT_NAME_MAX)

struct con_held {
        bool valid;
        struct virtq_elem el;
        struct iovec iov[CON_MAX_CHAIN];
        uint64_t off;
};

struct con_port {
        bool exists;                    /* an enabled service sits on this id */
        enum ic_service svc;
        bool added, named, guest_open;
        struct con_held held;
};

struct con_ctrl {
        uint32_t id;
        uint16_t event, value;
};

struct vsp_console {
        struct vsp_ic *ic;
        struct virtio_dev_info info;
        struct virtio_console_config cfg;
        const struct virtio_irq *irq;
        int wake_fd;

        /* Valid between activate and reset; touched only by the I/O thread then. */
        struct virtq *vq[CON_NQ];
        int kick_fd[CON_NQ];
        bool used_pending[CON_NQ];
        bool multiport;
        struct vsp_iothread t;
        bool broken;
        struct con_port port[IC_CONSOLE_MAX_PORTS];
        struct con_ctrl ctrl[CON_CTRL_PENDING];
        unsigned n_ctrl;
        uint64_t ctrl_window_start;
        unsigned ctrl_count;
        struct ratelimit rl;
};

static void con_fail(struct vsp_console *c, const char *why)
{
        if (c->broken)
                return;
        c->broken = true;
        if (log_get_max_level() >= LOG_DEBUG && ratelimit_below(&c->rl))
                log_debug("virtio-console: %s; device needs reset", why);
        c->irq->needs_reset(c->irq->opaque);
}

static void con_wake(void *opaque)
{
        struct vsp_console *c = opaque;

        (void)eventfd_write(c->wake_fd, 1);
}

static void con_push(struct vsp_console *c, unsigned q, uint16_t head, uint32_t len)
{
        virtq_push(c->vq[q], head, len);
        c->used_pending[q] = true;
}

static void con_ctrl_queue(struct vsp_console *c, uint32_t id, uint16_t event, uint16_t value)
{
        if (c->n_ctrl >= CON_CTRL_PENDING)
                return;         /* cannot happen: each port queues a bounded number once */
        c->ctrl[c->n_ctrl++] = (struct con_ctrl) { .id = id, .event = event, .value = value };
}

/* Device → driver control messages, while the driver offers buffers. */
static void con_ctrl_send(struct vsp_console *c)
{
        struct virtq *vq = c->vq[VIRTIO_CONSOLE_CTRL_RX];
        struct iovec iov[CON_MAX_CHAIN];
        struct virtq_elem el;

        while (vq && c->n_ctrl > 0 && !c->broken) {
                struct con_ctrl m = c->ctrl[0];
                uint8_t buf[CON_CTRL_MSG_MAX];
                struct virtio_console_control h = {
                        .id = htole32(m.id), .event = htole16(m.event), .value = htole16(m.value),
                };
                size_t len = sizeof(h);
                int n = virtq_pop(vq, iov, CON_MAX_CHAIN, &el);

                if (n == 0)
                        return;
                if (n < 0 || el.n_out > 0) {
                        con_fail(c, n < 0 ? (vq->error ? vq->error : "bad control receiveq") :
                                            "readable buffer in the control receiveq");
                        return;
                }
                memcpy(buf, &h, sizeof(h));
                if (m.event == VIRTIO_CONSOLE_PORT_NAME) {
                        const char *name = ic_service_port(c->port[m.id].svc);

                        memcpy(buf + len, name, strlen(name));
                        len += strlen(name);
                }
                len = iov_from_buf(iov + el.n_out, el.n_in, 0, buf, len);
                con_push(c, VIRTIO_CONSOLE_CTRL_RX, el.head, (uint32_t)len);
                memmove(&c->ctrl[0], &c->ctrl[1], (--c->n_ctrl) * sizeof(c->ctrl[0]));
        }
}

static void con_ctrl_handle(struct vsp_console *c, const struct virtio_console_control *h)
{
        uint32_t id = le32toh(h->id);
        uint16_t event = le16toh(h->event), value = le16toh(h->value);
        struct con_port *p = id < IC_CONSOLE_MAX_PORTS && c->port[id].exists ? &c->port[id] : NULL;

        switch (event) {
        case VIRTIO_CONSOLE_DEVICE_READY:
                if (value != 1)
                        return;
                for (unsigned i = 0; i < IC_CONSOLE_MAX_PORTS; i++)
                        if (c->port[i].exists && !c->port[i].added) {
                                c->port[i].added = true;
                                con_ctrl_queue(c, i, VIRTIO_CONSOLE_DEVICE_ADD, 0);
                        }
                return;
        case VIRTIO_CONSOLE_PORT_READY:
                if (!p || !p->added || p->named || value != 1)
                        return;
                p->named = true;
                con_ctrl_queue(c, id, VIRTIO_CONSOLE_PORT_NAME, 0);
                con_ctrl_queue(c, id, VIRTIO_CONSOLE_PORT_OPEN, 1);   /* the host end is always open */
                return;
        case VIRTIO_CONSOLE_PORT_OPEN:
                if (!p || !p->named || p->guest_open == (value == 1))
                        return;
                p->guest_open = value == 1;
                vsp_ic_port_open(c->ic, p->svc, p->guest_open);
                return;
        default:
                return;         /* nothing else comes from a driver; ignore it */
        }
}

/* Driver → device control messages, at most CON_CTRL_RATE a second. */
static void con_ctrl_receive(struct vsp_console *c, uint64_t now)
{
        struct virtq *vq = c->vq[VIRTIO_CONSOLE_CTRL_TX];
        struct iovec iov[CON_MAX_CHAIN];
        struct virtq_elem el;

        if (now - c->ctrl_window_start >= 1000) {
                c->ctrl_window_start = now;
                c->ctrl_count = 0;
        }
        while (vq && !c->broken && c->ctrl_count < CON_CTRL_RATE) {
                struct virtio_console_control h;
                int n = virtq_pop(vq, iov, CON_MAX_CHAIN, &el);

                if (n == 0)
                        return;
                if (n < 0 || el.n_in > 0) {
                        con_fail(c, n < 0 ? (vq->error ? vq->error : "bad control transmitq") :
                                            "writable buffer in the control transmitq");
                        return;
                }
                c->ctrl_count++;
                if (iov_to_buf(iov, el.n_out, 0, &h, sizeof(h)) == sizeof(h))
                        con_ctrl_handle(c, &h);
                con_push(c, VIRTIO_CONSOLE_CTRL_TX, el.head, 0);
        }
}

/* The guest's bytes on one port, into the engine until it stops taking them. */
static void con_port_receive(struct vsp_console *c, unsigned id)
{
        struct con_port *p = &c->port[id];
        unsigned q = VIRTIO_CONSOLE_PORT_TX(id);
        struct virtq *vq = c->vq[q];
        struct con_held *h = &p->held;

        while (vq && !c->broken) {
                if (!h->valid) {
                        int n = virtq_pop(vq, h->iov, CON_MAX_CHAIN, &h->el);

                        if (n == 0)
                                return;
                        if (n < 0 || h->el.n_in > 0) {
                                con_fail(c, n < 0 ? (vq->error ? vq->error : "bad transmitq") :
                                                    "writable buffer in a transmitq");
                                return;
                        }
                        h->valid = true;
                        h->off = 0;
                }
                uint64_t base = 0;

                for (unsigned i = 0; i < h->el.n_out; base += h->iov[i].iov_len, i++) {
                        const struct iovec *v = &h->iov[i];
                        size_t taken;

                        if (h->off >= base + v->iov_len)
                                continue;
                        taken = vsp_ic_port_input(c->ic, p->svc, (const uint8_t *)v->iov_base + (h->off - base),
                                                  v->iov_len - (h->off - base));
                        h->off += taken;
                        if (h->off < base + v->iov_len)
                                return;         /* over budget: hold the chain */
                }
                con_push(c, q, h->el.head, 0);
                h->valid = false;
        }
}

/* The engine's output for one port, into the guest's receive buffers. */
static void con_port_send(struct vsp_console *c, unsigned id)
{
        struct con_port *p = &c->port[id];
        unsigned q = VIRTIO_CONSOLE_PORT_RX(id);
        struct virtq *vq = c->vq[q];
        struct iovec iov[CON_MAX_CHAIN];
        struct virtq_elem el;

        while (vq && !c->broken && p->guest_open && vsp_ic_port_has_output(c->ic, p->svc)) {
                uint32_t len = 0;
                int n = virtq_pop(vq, iov, CON_MAX_CHAIN, &el);

                if (n == 0)
                        return;
                if (n < 0 || el.n_out > 0) {
                        con_fail(c, n < 0 ? (vq->error ? vq->error : "bad receiveq") :
                                            "readable buffer in a receiveq");
                        return;
                }
                for (unsigned i = el.n_out; i < el.n_out + el.n_in; i++) {
                        size_t got = vsp_ic_port_output(c->ic, p->svc, iov[i].iov_base, iov[i].iov_len);

                        len += (uint32_t)got;
                        if (got < iov[i].iov_len)
                                break;
                }
                con_push(c, q, el.head, len);
        }
}

static void con_publish(struct vsp_console *c)
{
        for (unsigned q = 0; q < CON_NQ; q++) {
                if (!c->used_pending[q])
                        continue;
                c->used_pending[q] = false;
                virtq_flush(c->vq[q]);
                if (virtq_need_interrupt(c->vq[q]))
                        c->irq->queue(c->irq->opaque, q);
        }
}

/*
 * Re-arm doorbells (EVENT_IDX: avail_event moves up to what we saw). True when a transmit
 * queue we can take from got more meanwhile: then go round again. Receive queues always
 * have buffers waiting; a port over budget waits for the timer.
 */
static bool con_rearm(struct vsp_console *c)
{
        bool again = false;

        for (unsigned q = 0; q < CON_NQ; q++) {
                bool more, tx = q == VIRTIO_CONSOLE_CTRL_TX || (q >= 4 && q % 2 == 1);
                unsigned id = q >= 4 ? (q - 2) / 2 : 0;

                if (!c->vq[q])
                        continue;
                more = virtq_enable_notify(c->vq[q]);
                if (!more || !tx)
                        continue;
                if (q == VIRTIO_CONSOLE_CTRL_TX ? c->ctrl_count < CON_CTRL_RATE : !c->port[id].held.valid)
                        again = true;
        }
        return again;
}

static void con_process(struct vsp_console *c, uint64_t now)
{
        if (c->broken || !c->multiport)
                return;
        for (unsigned pass = 0; pass < 16; pass++) {
                con_ctrl_receive(c, now);
                for (unsigned id = IC_CONSOLE_FIRST_PORT; id < IC_CONSOLE_MAX_PORTS; id++) {
                        if (!c->port[id].exists)
                                continue;
                        con_port_receive(c, id);
                        con_port_send(c, id);
                }
                con_ctrl_send(c);
                if (c->broken || !con_rearm(c))
                        break;
        }
        con_publish(c);
}

/* The device's loop (see iothread.h): returns at a quiet point once ctl_fd is readable. */
static int con_run(void *arg, int ctl_fd)
{
        struct vsp_console *c = arg;
        struct pollfd pfd[CON_NQ + 2];
        unsigned n = 0;

        pfd[n++] = (struct pollfd) { .fd = ctl_fd, .events = POLLIN };
        pfd[n++] = (struct pollfd) { .fd = c->wake_fd, .events = POLLIN };
        for (unsigned q = 0; q < CON_NQ; q++)
                if (c->vq[q])
                        pfd[n++] = (struct pollfd) { .fd = c->kick_fd[q], .events = POLLIN };
        for (;;) {
                uint64_t next = vsp_ic_tick(c->ic), now = now_usec(CLOCK_MONOTONIC) / 1000;
                int timeout;

                con_process(c, now);
                /* The control queue's budget reopens with the next second. */
                if (c->ctrl_count >= CON_CTRL_RATE)
                        next = MIN(next, now - c->ctrl_window_start < 1000 ? 1000 - (now - c->ctrl_window_start) : 1);
                timeout = next > 60000 ? 60000 : (int)next;
                if (poll(pfd, n, timeout) < 0 && errno != EINTR)
                        return -errno;
                if (pfd[0].revents)
                        break;
                for (unsigned i = 1; i < n; i++)
                        if (pfd[i].revents) {
                                eventfd_t v;

                                (void)eventfd_read(pfd[i].fd, &v);
                        }
        }
        con_process(c, now_usec(CLOCK_MONOTONIC) / 1000);
        return 0;
}

static void con_reset(void *dev)
{
        struct vsp_console *c = dev;

        vsp_iothread_stop(&c->t);
        vsp_ic_set_wakeup(c->ic, NULL, NULL);
        for (unsigned i = 0; i < IC_CONSOLE_MAX_PORTS; i++) {
                struct con_port *p = &c->port[i];

                if (p->guest_open)
                        vsp_ic_port_open(c->ic, p->svc, false);
                p->added = p->named = p->guest_open = false;
                p->held.valid = false;
        }
        memset(c->vq, 0, sizeof(c->vq));
        c->n_ctrl = 0;
        c->broken = false;
}

static int con_activate(void *dev, const struct virtio_activation *a)
{
        struct vsp_console *c = dev;
        int r;

        c->irq = a->irq;
        c->multiport = a->features & VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT);
        for (unsigned q = 0; q < CON_NQ; q++) {
                c->vq[q] = q < a->n_queues ? a->queues[q].vq : NULL;
                c->kick_fd[q] = q < a->n_queues ? a->queues[q].kick_fd : -1;
                c->used_pending[q] = false;
        }
        c->broken = false;
        c->n_ctrl = 0;
        c->ctrl_count = 0;
        c->ctrl_window_start = now_usec(CLOCK_MONOTONIC) / 1000;
        vsp_ic_set_wakeup(c->ic, con_wake, c);
        r = vsp_iothread_start(&c->t, "virtio-console", con_run, c, c->irq);
        if (r < 0) {
                con_reset(c);
                return r;
        }
        return 0;
}

/* Paused: the rings stand still, the engine's timers (heartbeat lost, deadlines) do not. */
static uint64_t con_idle(void *dev)
{
        struct vsp_console *c = dev;

        return vsp_ic_tick(c->ic);
}

static void con_pause(void *dev)
{
        struct vsp_console *c = dev;

        vsp_iothread_pause(&c->t);
}

static void con_resume(void *dev)
{
        struct vsp_console *c = dev;

        vsp_iothread_resume(&c->t);
}

static void con_read_config(void *dev, uint32_t off, void *data, uint32_t len)
{
        struct vsp_console *c = dev;

        memcpy(data, (const uint8_t *)&c->cfg + off, len);
}

static void con_free(void *dev)
{
        struct vsp_console *c = dev;

        if (!c)
                return;
        con_reset(c);
        vsp_iothread_destroy(&c->t);
        safe_close(c->wake_fd);
        free(c);
}

static const struct virtio_dev_ops con_ops = {
        .activate = con_activate,
        .reset = con_reset,
        .pause = con_pause,
        .resume = con_resume,
        .read_config = con_read_config,
        .free = con_free,
};

int vsp_console_add(struct vmbus *bus, struct vsp_ic *ic)
{
        struct vsp_console *c;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->ic = ic;
        vsp_iothread_init(&c->t);
        vsp_iothread_set_idle(&c->t, con_idle);
        c->rl = (struct ratelimit) RATELIMIT_INIT(1000000, 5);
        c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->wake_fd < 0) {
                int r = -errno;

                vsp_iothread_destroy(&c->t);
                free(c);
                return r;
        }
        for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                struct con_port *p = &c->port[IC_CONSOLE_FIRST_PORT + s];

                p->svc = (enum ic_service)s;
                p->exists = vsp_ic_enabled(ic, (enum ic_service)s);
        }
        c->cfg = (struct virtio_console_config) { .max_nr_ports = htole32(IC_CONSOLE_MAX_PORTS) };
        c->info = (struct virtio_dev_info) {
                .name = "console", .type = VIRTIO_ID_CONSOLE, .pci_class = PCI_CLASS_COMMUNICATION_OTHER,
                .features = VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |
                            VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX),
                .num_queues = CON_NQ, .queue_max_size = CON_QUEUE_SIZE, .config_size = sizeof(c->cfg),
        };
        return vmbus_add_virtio(bus, &c->info, &con_ops, c);   /* frees c on failure */
}
