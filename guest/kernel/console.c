/* SPDX-License-Identifier: MIT */
#include "kernel/console.h"
#include "kernel/kernel.h"

#define UART_RBR 0      /* receive buffer (read) */
#define UART_THR 0      /* transmit holding (write) */
#define UART_IER 1
#define UART_IIR 2      /* read */
#define UART_FCR 2      /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define UART_IER_RDI     0x01
#define UART_FCR_ENABLE  0x01
#define UART_IIR_FIFO    0xc0
#define UART_LCR_8N1     0x03
#define UART_MCR_DTR_RTS_OUT2 0x0b
#define UART_LSR_DR      0x01
#define UART_LSR_THRE    0x20

#define UART_THRE_POLL_MAX 100000u

void guest_uart_init(struct guest_uart *u, uint16_t port)
{
        /* Three exits: word format, FIFO on, and IIR to learn whether the FIFO exists. The
         * divisor is left alone (a virtual UART has no baud rate), and the FIFOs are not
         * cleared: input that arrived before the kernel booted is kept for the reader. */
        u->port = port;
        guest_outb(port + UART_LCR, UART_LCR_8N1);
        guest_outb(port + UART_FCR, UART_FCR_ENABLE);
        u->fifo_size = (guest_inb(port + UART_IIR) & UART_IIR_FIFO) == UART_IIR_FIFO ? 16 : 1;
        u->tx_room = 0;
}

static void uart_wait_thre(struct guest_uart *u)
{
        for (unsigned i = 0; i < UART_THRE_POLL_MAX; i++) {
                if (guest_inb(u->port + UART_LSR) & UART_LSR_THRE) {
                        u->tx_room = u->fifo_size;
                        return;
                }
                guest_cpu_relax();
        }
        /* Stuck transmitter: write anyway rather than hang the kernel. */
        u->tx_room = u->fifo_size;
}

static void uart_putc(struct guest_uart *u, char c)
{
        if (u->tx_room == 0)
                uart_wait_thre(u);
        guest_outb(u->port + UART_THR, (uint8_t)c);
        u->tx_room--;
}

void guest_uart_write(struct guest_uart *u, const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\n')
                        uart_putc(u, '\r');
                uart_putc(u, s[i]);
        }
}

void guest_uart_enable_rx(struct guest_uart *u)
{
        u->rx_enabled = true;
        guest_outb(u->port + UART_MCR, UART_MCR_DTR_RTS_OUT2);
        guest_outb(u->port + UART_IER, UART_IER_RDI);
        /* Drain anything that arrived before the interrupt was on. */
        guest_uart_irq(u);
}

void guest_uart_irq(struct guest_uart *u)
{
        while (guest_inb(u->port + UART_LSR) & UART_LSR_DR) {
                char c = (char)guest_inb(u->port + UART_RBR);
                uint32_t head = u->rx_head;

                if (head - u->rx_tail >= GUEST_UART_RX_SIZE) {
                        u->rx_dropped++;
                        continue;
                }
                u->rx_buf[head % GUEST_UART_RX_SIZE] = c;
                __atomic_store_n(&u->rx_head, head + 1, __ATOMIC_RELEASE);
        }
}

int guest_uart_getc(struct guest_uart *u)
{
        uint32_t tail = u->rx_tail;

        if (__atomic_load_n(&u->rx_head, __ATOMIC_ACQUIRE) == tail)
                return -EAGAIN;
        char c = u->rx_buf[tail % GUEST_UART_RX_SIZE];
        __atomic_store_n(&u->rx_tail, tail + 1, __ATOMIC_RELEASE);
        return (unsigned char)c;
}

void guest_console_init(struct guest_console *c, uint16_t port)
{
        c->owner = -1;
        guest_uart_init(&c->uart, port);
}

static void console_write(const char *s, size_t n, bool own_line)
{
        struct guest_console *c = &guest.console;
        struct guest_cpu *cpu = guest_this_cpu();
        bool irq = guest_irq_save();
        bool nested = c->owner == (int32_t)cpu->index;

        if (!nested) {
                guest_spin_lock(&c->lock);
                c->owner = (int32_t)cpu->index;
        }
        if (own_line && c->mid_line)
                guest_uart_write(&c->uart, "\n", 1);
        guest_uart_write(&c->uart, s, n);
        if (n > 0)
                c->mid_line = s[n - 1] != '\n';
        if (!nested) {
                c->owner = -1;
                guest_spin_unlock(&c->lock);
        }
        guest_irq_restore(irq);
}

void guest_console_write(const char *s, size_t n)
{
        console_write(s, n, false);
}

void guest_console_write_line(const char *s, size_t n)
{
        console_write(s, n, true);
}

int guest_vprintf(const char *fmt, va_list ap)
{
        char buf[512];
        int n = guest_vsnprintf(buf, sizeof(buf), fmt, ap);

        guest_console_write(buf, MIN((size_t)n, sizeof(buf) - 1));
        return n;
}

int guest_printf(const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = guest_vprintf(fmt, ap);
        va_end(ap);
        return n;
}
