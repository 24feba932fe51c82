/* SPDX-License-Identifier: MIT */
/*
 * The IDT, exception reports and interrupt dispatch. Gates use the code selector the kernel
 * runs with: GUEST_NATIVE_CS (0x33) in PVM native mode, GUEST_KERNEL_CS in ring 0.
 * Exceptions use trap gates; interrupts use interrupt gates and return with sti; iretq.
 */
#pragma once

#include <stdint.h>

#define GUEST_VEC_GSI_BASE      0x30    /* IOAPIC input n arrives on vector 0x30 + n */
#define GUEST_VEC_GSI_MAX       0x7f
#define GUEST_VEC_DYN_BASE      0x80    /* MSI/MSI-X vectors, handed out by guest_irq_alloc() */
#define GUEST_VEC_DYN_MAX       0xef
#define GUEST_VEC_TIMER         0xf0    /* LAPIC timer */
#define GUEST_VEC_IPI           0xf1    /* wake-up / test IPI */
#define GUEST_VEC_LAPIC_ERROR   0xfe
#define GUEST_VEC_SPURIOUS      0xff

struct guest_regs {
        uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
        uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
        uint64_t vector, error;
        uint64_t rip, cs, rflags, rsp, ss;      /* pushed by the CPU */
};
_Static_assert(sizeof(struct guest_regs) == 22 * 8, "guest_regs size");

struct guest_idt_gate {
        uint16_t offset_lo;
        uint16_t selector;
        uint16_t type_attr;
        uint16_t offset_mid;
        uint32_t offset_hi;
        uint32_t reserved;
};
_Static_assert(sizeof(struct guest_idt_gate) == 16, "idt gate size");

typedef void (*guest_irq_fn)(struct guest_regs *regs, void *data);

struct guest_irq_slot {
        guest_irq_fn fn;
        void *data;
        uint64_t count;
};

extern struct guest_idt_gate guest_idt[256];

/* Fill all 256 gates for code selector cs; the BSP calls it once. */
void guest_idt_init(uint16_t cs);
/* lidt on this CPU. */
void guest_idt_load(void);
/* Install a handler for an interrupt vector (>= 32). The handler must send its own EOI. */
int guest_irq_register(unsigned vector, guest_irq_fn fn, void *data);

/*
 * Take a free vector in GUEST_VEC_DYN_BASE..GUEST_VEC_DYN_MAX for fn (MSI/MSI-X). Returns the
 * vector or -ENOSPC. guest_irq_free() gives it back.
 */
int guest_irq_alloc(guest_irq_fn fn, void *data);
void guest_irq_free(unsigned vector);

void guest_isr_exception(struct guest_regs *regs);
void guest_isr_irq(struct guest_regs *regs);
