/* SPDX-License-Identifier: MIT */
/*
 * Interrupts as a device sees them: a device is handed its interrupt when it is activated
 * and never learns how it reaches the guest (KVM_IRQ_LINE, an irqfd, a test's recorder).
 */
#pragma once

#include <stdbool.h>

struct irq_line {
        int (*set)(void *opaque, unsigned gsi, bool level);
        void *opaque;
        unsigned gsi;
};

static inline int irq_line_set(const struct irq_line *l, bool level)
{
        return l->set ? l->set(l->opaque, l->gsi, level) : 0;
}

/* An edge: raise and lower (for edge-triggered IOAPIC pins such as the UART's). */
static inline int irq_line_pulse(const struct irq_line *l)
{
        int r = irq_line_set(l, true);

        return r < 0 ? r : irq_line_set(l, false);
}
