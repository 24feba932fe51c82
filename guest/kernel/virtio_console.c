/* SPDX-License-Identifier: MIT */
#include <abi/virtio.h>
#include <abi/virtio_console.h>

#include "kernel/apic.h"
#include "kernel/kernel.h"
#include "kernel/virtio_console.h"

#define CON_FEATURES (VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))
#define COOKIE(id) ((void *)(uintptr_t)((uint64_t)(id) + 1))
#define SLOT_OF(cookie) ((uint16_t)((uintptr_t)(cookie) - 1))

static void con_irq(struct guest_regs *regs, void *data)
{
        struct guest_con *c = data;

        c->irqs++;
        guest_lapic_eoi();
}

static void *alloc_zero(uint64_t size)
{
        void *p = (void *)(uintptr_t)guest_page_alloc(size, GUEST_PAGE_SIZE);

        if (p)
                memset(p, 0, size);
        return p;
}

static int queue_start(struct guest_con *c, struct guest_vq *vq, uint16_t index, bool irq)
{
        uint16_t max = guest_virtio_queue_max(&c->vp, index), size = GUEST_CON_QSIZE;
        int entry = irq && c->vector >= 0 ? 1 + index : -1;
        int r;

        if (max == 0)
                return -ENODEV;
        while (size > max)
                size /= 2;
        if (!vq->mem) {
                r = guest_vq_alloc(vq, size, 1);
                if (r < 0)
                        return r;
        }
        guest_vq_init(vq, index, size, guest_virtio_has(&c->vp, VIRTIO_F_RING_EVENT_IDX), false);
        vq->vector = -1;
        if (entry >= 0 && entry < (int)c->vp.pci->msix_size) {
                r = guest_pci_msix_set(c->vp.pci, (unsigned)entry, guest.cpus[0].apic_id, (uint8_t)c->vector);
                if (r < 0)
                        return r;
        } else {
                entry = -1;
        }
        r = guest_virtio_queue_setup(&c->vp, vq, entry);
        if (r < 0)
                return r;
        guest_vq_disable_cb(vq);        /* guest_con_arm() asks for interrupts before sleeping */
        return 0;
}

static int post_rx(struct guest_vq *vq, uint8_t *bufs, uint32_t size, uint16_t id)
{
        struct guest_vq_sg sg = { .addr = (uint64_t)(uintptr_t)(bufs + (uint64_t)id * size), .len = size };

        return guest_vq_add(vq, &sg, 0, 1, COOKIE(id), GUEST_VQ_DIRECT);
}

static int ctrl_send(struct guest_con *c, uint32_t id, uint16_t event, uint16_t value)
{
        struct virtio_console_control m = { .id = id, .event = event, .value = value };
        uint8_t *buf = c->ctrl_bufs + (GUEST_CON_CTRL_BUFS + c->ctrl_tx_next % GUEST_CON_CTRL_BUFS) * GUEST_CON_CTRL_BUF;
        struct guest_vq_sg sg = { .addr = (uint64_t)(uintptr_t)buf, .len = sizeof(m) };
        int r;

        while (guest_vq_get_used(&c->ctx, NULL))
                ;
        if (guest_vq_outstanding(&c->ctx) >= GUEST_CON_CTRL_BUFS)
                return -EAGAIN;
        memcpy(buf, &m, sizeof(m));
        r = guest_vq_add(&c->ctx, &sg, 1, 0, COOKIE(c->ctrl_tx_next), GUEST_VQ_DIRECT);
        if (r < 0)
                return r;
        c->ctrl_tx_next++;
        guest_vq_kick(&c->ctx);
        return 0;
}

static int port_start(struct guest_con *c, unsigned id)
{
        struct guest_con_port *p = &c->ports[id];
        int r;

        if (!p->rx_bufs) {
                p->rx_bufs = alloc_zero((uint64_t)GUEST_CON_RX_BUFS * GUEST_CON_BUF);
                p->tx_bufs = alloc_zero((uint64_t)GUEST_CON_TX_SLOTS * GUEST_CON_BUF);
                if (!p->rx_bufs || !p->tx_bufs)
                        return -ENOMEM;
        }
        if ((r = queue_start(c, &p->rx, (uint16_t)VIRTIO_CONSOLE_PORT_RX(id), true)) < 0 ||
            (r = queue_start(c, &p->tx, (uint16_t)VIRTIO_CONSOLE_PORT_TX(id), false)) < 0)
                return r;
        p->tx_nfree = 0;
        for (unsigned k = GUEST_CON_TX_SLOTS; k > 0; k--)
                p->tx_free[p->tx_nfree++] = (uint16_t)(k - 1);
        return 0;
}

int guest_con_start(guest_con_data_fn on_data, void *userdata, struct guest_con **ret)
{
        struct guest_pci_dev *d = NULL;
        struct guest_con *c;
        uint32_t max_ports = 1;
        int r;

        r = guest_pci_scan();
        if (r < 0)
                return r;
        while ((d = guest_pci_find(VIRTIO_PCI_VENDOR_ID, VIRTIO_PCI_DEVICE_ID_BASE + VIRTIO_ID_CONSOLE, d)))
                if (!d->claimed)
                        break;
        if (!d)
                return -ENODEV;
        c = alloc_zero(sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->vector = -1;
        c->on_data = on_data;
        c->userdata = userdata;
        guest_pci_name(d, c->name);
        r = guest_virtio_pci_probe(d, &c->vp);
        if (r < 0)
                return r;
        d->claimed = true;
        if (guest_pci_msix_init(d) == 0 && d->msix_size >= 2) {
                r = guest_irq_alloc(con_irq, c);
                if (r >= 0) {
                        c->vector = r;
                        guest_pci_msix_set(d, 0, guest.cpus[0].apic_id, (uint8_t)r);
                        guest_pci_msix_enable(d, true);
                }
        }
        r = guest_virtio_negotiate(&c->vp, CON_FEATURES, VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT));
        if (r < 0)
                return r;
        r = guest_virtio_config_read(&c->vp, offsetof(struct virtio_console_config, max_nr_ports), &max_ports,
                                     sizeof(max_ports));
        if (r < 0)
                return r;
        c->max_ports = MIN(max_ports, GUEST_CON_MAX_PORTS);
        c->ctrl_bufs = alloc_zero(2ull * GUEST_CON_CTRL_BUFS * GUEST_CON_CTRL_BUF);
        if (!c->ctrl_bufs)
                return -ENOMEM;
        if ((r = queue_start(c, &c->crx, VIRTIO_CONSOLE_CTRL_RX, true)) < 0 ||
            (r = queue_start(c, &c->ctx, VIRTIO_CONSOLE_CTRL_TX, false)) < 0)
                goto fail;
        /* Every port's queues now; the device adds ports later and they must be ready by then. */
        for (unsigned id = 1; id < c->max_ports; id++)
                if ((r = port_start(c, id)) < 0)
                        goto fail;
        if (c->vector >= 0 && (r = guest_virtio_config_vector(&c->vp, 0)) < 0)
                goto fail;
        for (uint16_t i = 0; i < GUEST_CON_CTRL_BUFS; i++)
                post_rx(&c->crx, c->ctrl_bufs, GUEST_CON_CTRL_BUF, i);
        for (unsigned id = 1; id < c->max_ports; id++)
                for (uint16_t i = 0; i < GUEST_CON_RX_BUFS; i++)
                        post_rx(&c->ports[id].rx, c->ports[id].rx_bufs, GUEST_CON_BUF, i);
        guest_virtio_driver_ok(&c->vp);
        guest_vq_kick(&c->crx);
        for (unsigned id = 1; id < c->max_ports; id++)
                guest_vq_kick(&c->ports[id].rx);
        c->started = true;
        r = ctrl_send(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        guest_virtio_add_status(&c->vp, VIRTIO_STATUS_FAILED);
        return r;
}

int guest_con_find(struct guest_con *c, const char *name)
{
        for (unsigned id = 1; id < c->max_ports; id++)
                if (c->ports[id].added && guest_strcmp(c->ports[id].name, name) == 0)
                        return (int)id;
        return -ENOENT;
}

int guest_con_open(struct guest_con *c, unsigned id, bool open)
{
        int r;

        if (id >= c->max_ports || !c->ports[id].added)
                return -ENOENT;
        r = ctrl_send(c, id, VIRTIO_CONSOLE_PORT_OPEN, open ? 1 : 0);
        if (r >= 0)
                c->ports[id].guest_open = open;
        return r;
}

static void ctrl_handle(struct guest_con *c, const uint8_t *buf, uint32_t len)
{
        struct virtio_console_control m;
        struct guest_con_port *p;

        c->ctrl_msgs++;
        if (len < sizeof(m)) {
                c->bad_ctrl++;
                return;
        }
        memcpy(&m, buf, sizeof(m));
        p = m.id >= 1 && m.id < c->max_ports ? &c->ports[m.id] : NULL;
        switch (m.event) {
        case VIRTIO_CONSOLE_DEVICE_ADD:
                if (!p) {
                        c->bad_ctrl++;
                        return;
                }
                p->added = true;
                (void)ctrl_send(c, m.id, VIRTIO_CONSOLE_PORT_READY, 1);
                return;
        case VIRTIO_CONSOLE_DEVICE_REMOVE:
                if (p)
                        p->added = p->host_open = false;
                return;
        case VIRTIO_CONSOLE_PORT_NAME: {
                size_t n = MIN((size_t)(len - sizeof(m)), (size_t)IC_PORT_NAME_MAX);

                if (!p)
                        return;
                memcpy(p->name, buf + sizeof(m), n);
                p->name[n] = 0;
                return;
        }
        case VIRTIO_CONSOLE_PORT_OPEN:
                if (p)
                        p->host_open = m.value == 1;
                return;
        default:
                return;         /* console ports, resizes: not ours */
        }
}

int guest_con_poll(struct guest_con *c)
{
        int n = 0;
        uint32_t len;
        void *ck;

        if (!c->started)
                return -EIO;
        if (guest_virtio_needs_reset(&c->vp))
                return -EIO;
        while ((ck = guest_vq_get_used(&c->crx, &len))) {
                uint16_t id = SLOT_OF(ck);

                ctrl_handle(c, c->ctrl_bufs + (uint64_t)id * GUEST_CON_CTRL_BUF, MIN(len, GUEST_CON_CTRL_BUF));
                post_rx(&c->crx, c->ctrl_bufs, GUEST_CON_CTRL_BUF, id);
                n++;
        }
        if (n)
                guest_vq_kick(&c->crx);
        while (guest_vq_get_used(&c->ctx, NULL))
                ;
        for (unsigned pid = 1; pid < c->max_ports; pid++) {
                struct guest_con_port *p = &c->ports[pid];
                unsigned got = 0;

                while ((ck = guest_vq_get_used(&p->rx, &len))) {
                        uint16_t id = SLOT_OF(ck);

                        len = MIN(len, GUEST_CON_BUF);
                        p->rx_bytes += len;
                        if (c->on_data && len && p->guest_open)
                                c->on_data(c->userdata, pid, p->rx_bufs + (uint64_t)id * GUEST_CON_BUF, len);
                        post_rx(&p->rx, p->rx_bufs, GUEST_CON_BUF, id);
                        got++;
                }
                if (got)
                        guest_vq_kick(&p->rx);
                while ((ck = guest_vq_get_used(&p->tx, NULL)))
                        p->tx_free[p->tx_nfree++] = SLOT_OF(ck);
                n += (int)got;
        }
        return n;
}

int guest_con_write(struct guest_con *c, unsigned id, const void *data, size_t len, uint64_t deadline_ns)
{
        struct guest_con_port *p = id < c->max_ports ? &c->ports[id] : NULL;
        const uint8_t *src = data;
        size_t done = 0;

        if (!p || !p->added)
                return -ENOENT;
        while (done < len) {
                size_t n = MIN(len - done, (size_t)GUEST_CON_BUF);
                struct guest_vq_sg sg;
                void *ck;
                uint16_t slot;

                while ((ck = guest_vq_get_used(&p->tx, NULL)))
                        p->tx_free[p->tx_nfree++] = SLOT_OF(ck);
                if (!p->tx_nfree) {
                        if (guest_time_ns() >= deadline_ns)
                                return done ? (int)done : -ETIMEDOUT;
                        if (guest_virtio_needs_reset(&c->vp))
                                return -EIO;
                        guest_cpu_relax();
                        continue;
                }
                slot = p->tx_free[--p->tx_nfree];
                memcpy(p->tx_bufs + (uint64_t)slot * GUEST_CON_BUF, src + done, n);
                sg = (struct guest_vq_sg){ .addr = (uint64_t)(uintptr_t)(p->tx_bufs + (uint64_t)slot * GUEST_CON_BUF),
                                           .len = (uint32_t)n };
                if (guest_vq_add(&p->tx, &sg, 1, 0, COOKIE(slot), GUEST_VQ_DIRECT) < 0) {
                        p->tx_free[p->tx_nfree++] = slot;
                        return -EIO;
                }
                guest_vq_kick(&p->tx);
                done += n;
                p->tx_bytes += n;
        }
        return (int)done;
}

int guest_con_flush(struct guest_con *c, unsigned id, uint64_t deadline_ns)
{
        struct guest_con_port *p = id < c->max_ports ? &c->ports[id] : NULL;
        void *ck;

        if (!p || !p->added)
                return -ENOENT;
        for (;;) {
                while ((ck = guest_vq_get_used(&p->tx, NULL)))
                        p->tx_free[p->tx_nfree++] = SLOT_OF(ck);
                if (guest_vq_outstanding(&p->tx) == 0)
                        return 0;
                if (guest_time_ns() >= deadline_ns)
                        return -ETIMEDOUT;
                guest_cpu_relax();
        }
}

bool guest_con_arm(struct guest_con *c)
{
        bool ok = guest_vq_enable_cb(&c->crx, 1);

        for (unsigned id = 1; id < c->max_ports; id++)
                ok &= guest_vq_enable_cb(&c->ports[id].rx, 1);
        return ok;
}
