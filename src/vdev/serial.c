/* SPDX-License-Identifier: MIT */
/*
 * 8250/16550A UART. Transmission is instant (the transmitter is always empty), so the
 * THR-empty interrupt follows the datasheet's rule: pending whenever ETBEI is set and the
 * IIR has not been read since. Received bytes wait in a FIFO larger than the chip's, so a
 * pasted line is not lost while the guest is busy.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "vmms/macro.h"
#include "vmms/vdev.h"
#include "vmms/vmstate.h"

#define UART_RBR_THR 0
#define UART_IER     1
#define UART_IIR_FCR 2
#define UART_LCR     3
#define UART_MCR     4
#define UART_LSR     5
#define UART_MSR     6
#define UART_SCR     7

#define IER_RDI   0x01
#define IER_THRI  0x02
#define IER_RLSI  0x04
#define IER_MSI   0x08
#define IIR_NO_INT 0x01
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_FIFO  0xc0
#define FCR_FIFO_ENABLE 0x01
#define FCR_CLEAR_RX    0x02
#define LCR_DLAB  0x80
#define MCR_LOOP  0x10
#define MCR_OUT2  0x08
#define LSR_DR    0x01
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MSR_DCD   0x80
#define MSR_DSR   0x20
#define MSR_CTS   0x10

#define RX_FIFO_SIZE 4096

struct vdev_serial {
        pthread_mutex_t lock;
        struct irq_line irq;
        vdev_serial_tx_fn tx;
        void *opaque;
        uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
        bool thr_pending;       /* THR-empty interrupt not yet acknowledged */
        bool irq_level;
        uint8_t rx[RX_FIFO_SIZE];
        size_t rx_head, rx_count;
};

int vdev_serial_new(const struct irq_line *irq, vdev_serial_tx_fn tx, void *opaque,
                    struct vdev_serial **ret)
{
        struct vdev_serial *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        if (irq)
                s->irq = *irq;
        s->tx = tx;
        s->opaque = opaque;
        s->dll = 0x0c;          /* 9600 baud, like a PC after reset */
        s->mcr = MCR_OUT2;
        *ret = s;
        return 0;
}

void vdev_serial_free(struct vdev_serial *s)
{
        if (!s)
                return;
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static uint8_t serial_iir(const struct vdev_serial *s)
{
        uint8_t fifo = (s->fcr & FCR_FIFO_ENABLE) ? IIR_FIFO : 0;

        if ((s->ier & IER_RDI) && s->rx_count)
                return IIR_RDI | fifo;
        if ((s->ier & IER_THRI) && s->thr_pending)
                return IIR_THRI | fifo;
        return IIR_NO_INT | fifo;
}

static void serial_update_irq(struct vdev_serial *s)
{
        bool level;

        assert_held(&s->lock);
        level = !(serial_iir(s) & IIR_NO_INT);

        if (level != s->irq_level) {
                s->irq_level = level;
                irq_line_set(&s->irq, level);
        }
}

static void serial_rx_push(struct vdev_serial *s, uint8_t c)
{
        if (s->rx_count == RX_FIFO_SIZE)
                return;
        s->rx[(s->rx_head + s->rx_count) % RX_FIFO_SIZE] = c;
        s->rx_count++;
}

static uint8_t serial_read(struct vdev_serial *s, unsigned reg)
{
        uint8_t v = 0;

        switch (reg) {
        case UART_RBR_THR:
                if (s->lcr & LCR_DLAB)
                        return s->dll;
                if (s->rx_count) {
                        v = s->rx[s->rx_head];
                        s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
                        s->rx_count--;
                }
                return v;
        case UART_IER:
                return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
        case UART_IIR_FCR:
                v = serial_iir(s);
                if ((v & 0x0f) == IIR_THRI)
                        s->thr_pending = false;
                return v;
        case UART_LCR:
                return s->lcr;
        case UART_MCR:
                return s->mcr;
        case UART_LSR:
                return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
        case UART_MSR:
                if (s->mcr & MCR_LOOP)  /* loopback: modem outputs appear as inputs */
                        return (uint8_t)(((s->mcr & 0x0c) << 4) | ((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3));
                return MSR_DCD | MSR_DSR | MSR_CTS;
        case UART_SCR:
                return s->scr;
        }
        return 0xff;
}

static void serial_write(struct vdev_serial *s, unsigned reg, uint8_t v)
{
        switch (reg) {
        case UART_RBR_THR:
                if (s->lcr & LCR_DLAB) {
                        s->dll = v;
                        return;
                }
                if (s->mcr & MCR_LOOP)
                        serial_rx_push(s, v);
                else if (s->tx)
                        s->tx(s->opaque, &v, 1);
                s->thr_pending = true;
                return;
        case UART_IER:
                if (s->lcr & LCR_DLAB) {
                        s->dlm = v;
                        return;
                }
                /* Enabling ETBEI with an empty THR raises the interrupt at once. */
                if ((v & IER_THRI) && !(s->ier & IER_THRI))
                        s->thr_pending = true;
                s->ier = v & 0x0f;
                return;
        case UART_IIR_FCR:
                if (v & FCR_CLEAR_RX) {
                        s->rx_head = 0;
                        s->rx_count = 0;
                }
                s->fcr = v & 0xc9;
                return;
        case UART_LCR:
                s->lcr = v;
                return;
        case UART_MCR:
                s->mcr = v & 0x1f;
                return;
        case UART_SCR:
                s->scr = v;
                return;
        }
}

int vdev_serial_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
        struct vdev_serial *s = opaque;
        uint8_t *p = data;

        pthread_mutex_lock(&s->lock);
        /* Wider accesses act on consecutive registers, as the ISA bus splits them. */
        for (unsigned i = 0; i < len; i++) {
                unsigned reg = (unsigned)(offset + i) & 7;

                if (is_write)
                        serial_write(s, reg, p[i]);
                else
                        p[i] = serial_read(s, reg);
        }
        serial_update_irq(s);
        pthread_mutex_unlock(&s->lock);
        return 0;
}

size_t vdev_serial_receive(struct vdev_serial *s, const uint8_t *buf, size_t len)
{
        size_t n;

        pthread_mutex_lock(&s->lock);
        n = MIN(len, RX_FIFO_SIZE - s->rx_count);
        for (size_t i = 0; i < n; i++)
                serial_rx_push(s, buf[i]);
        serial_update_irq(s);
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* Saved state, version 1: registers, then the receive FIFO in order. */
#define SERIAL_STATE_VERSION 1u
struct serial_state {
        uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, thr_pending;
        uint32_t rx_count;
        uint8_t rx[RX_FIFO_SIZE];
};

int vdev_serial_save(struct vdev_serial *s, struct vmstate_writer *w, const char *name)
{
        struct serial_state st = { 0 };
        int r;

        pthread_mutex_lock(&s->lock);
        st = (struct serial_state) {
                .ier = s->ier, .lcr = s->lcr, .mcr = s->mcr, .scr = s->scr, .fcr = s->fcr,
                .dll = s->dll, .dlm = s->dlm, .thr_pending = s->thr_pending, .rx_count = (uint32_t)s->rx_count,
        };
        for (size_t i = 0; i < s->rx_count; i++)
                st.rx[i] = s->rx[(s->rx_head + i) % RX_FIFO_SIZE];
        pthread_mutex_unlock(&s->lock);
        r = vmstate_put(w, name, SERIAL_STATE_VERSION, &st, sizeof(st));
        return r;
}

int vdev_serial_load(struct vdev_serial *s, struct vmstate *stt, const char *name, char *err, size_t err_len)
{
        struct serial_state st;
        int r = vdev_state_get(stt, name, SERIAL_STATE_VERSION, &st, sizeof(st), err, err_len);

        if (r < 0)
                return r;
        if (st.rx_count > RX_FIFO_SIZE) {
                snprintf(err, err_len, "section %s: receive FIFO of %u bytes", name, st.rx_count);
                return -EINVAL;
        }
        pthread_mutex_lock(&s->lock);
        s->ier = st.ier;
        s->lcr = st.lcr;
        s->mcr = st.mcr;
        s->scr = st.scr;
        s->fcr = st.fcr;
        s->dll = st.dll;
        s->dlm = st.dlm;
        s->thr_pending = st.thr_pending;
        s->rx_head = 0;
        s->rx_count = st.rx_count;
        memcpy(s->rx, st.rx, st.rx_count);
        /* The line itself lives in the in-kernel irqchip's state, restored with it. */
        s->irq_level = false;
        serial_update_irq(s);
        pthread_mutex_unlock(&s->lock);
        return 0;
}
