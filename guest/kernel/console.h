/* SPDX-License-Identifier: MIT */
/*
 * The serial console: an 8250/16550 UART (COM1). Output polls LSR.THRE once per FIFO load
 * rather than once per byte (every port access is an exit to the VMM); input is interrupt
 * driven into a ring buffer. Lines end in "\r\n".
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/cpu.h"
#include "kernel/lib.h"

#define GUEST_UART_RX_SIZE 1024u

struct guest_uart {
        uint16_t port;
        uint16_t fifo_size;     /* bytes that fit once LSR.THRE is set */
        uint16_t tx_room;       /* bytes we may still write before polling LSR again */
        bool rx_enabled;
        volatile uint32_t rx_head;      /* written by the IRQ handler */
        volatile uint32_t rx_tail;      /* written by the reader */
        uint32_t rx_dropped;
        char rx_buf[GUEST_UART_RX_SIZE];
};

struct guest_console {
        struct guest_uart uart;
        struct guest_spinlock lock;
        volatile int32_t owner;         /* CPU index holding the lock, -1 if none */
        bool mid_line;                  /* the last byte written was not a newline */
};

void guest_uart_init(struct guest_uart *u, uint16_t port);
void guest_uart_write(struct guest_uart *u, const char *s, size_t n);
void guest_uart_enable_rx(struct guest_uart *u);
void guest_uart_irq(struct guest_uart *u);
/* Next received byte, or -EAGAIN. */
int guest_uart_getc(struct guest_uart *u);

void guest_console_init(struct guest_console *c, uint16_t port);
/* Write under the console lock (re-entrant on the same CPU, e.g. from an exception handler). */
void guest_console_write(const char *s, size_t n);
/* Write s as a line of its own: a newline first if the console is in the middle of a line. */
void guest_console_write_line(const char *s, size_t n);
int guest_vprintf(const char *fmt, va_list ap);
int guest_printf(const char *fmt, ...) _printf_(1, 2);
