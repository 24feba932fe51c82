/* SPDX-License-Identifier: MIT */
#include <abi/report.h>

#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/kernel.h"
#include "kernel/power.h"
#include "kernel/report.h"

#define GATE_INTERRUPT  0x8e00  /* present, DPL 0, 64-bit interrupt gate */
#define GATE_TRAP       0x8f00  /* present, DPL 0, 64-bit trap gate */
#define ISR_STUB_SIZE   16

struct guest_idt_gate guest_idt[256] __attribute__((aligned(4096)));
extern const uint8_t guest_isr_stubs[];

static const char *const exception_names[32] = {
        [0] = "#DE", [1] = "#DB", [2] = "NMI", [3] = "#BP", [4] = "#OF", [5] = "#BR",
        [6] = "#UD", [7] = "#NM", [8] = "#DF", [10] = "#TS", [11] = "#NP", [12] = "#SS",
        [13] = "#GP", [14] = "#PF", [16] = "#MF", [17] = "#AC", [18] = "#MC", [19] = "#XM",
        [20] = "#VE", [21] = "#CP", [29] = "#VC", [30] = "#SX",
};

void guest_idt_init(uint16_t cs)
{
        for (unsigned v = 0; v < 256; v++) {
                uint64_t off = (uint64_t)(uintptr_t)(guest_isr_stubs + v * ISR_STUB_SIZE);

                guest_idt[v] = (struct guest_idt_gate){
                        .offset_lo = (uint16_t)off,
                        .selector = cs,
                        .type_attr = v < 32 ? GATE_TRAP : GATE_INTERRUPT,
                        .offset_mid = (uint16_t)(off >> 16),
                        .offset_hi = (uint32_t)(off >> 32),
                };
        }
}

void guest_idt_load(void)
{
        struct guest_dtr d = { .limit = sizeof(guest_idt) - 1, .base = (uint64_t)(uintptr_t)guest_idt };

        guest_lidt(&d);
}

int guest_irq_register(unsigned vector, guest_irq_fn fn, void *data)
{
        if (vector < 32 || vector > 255)
                return -EINVAL;
        if (guest.irqs[vector].fn && guest.irqs[vector].fn != fn)
                return -EBUSY;
        guest.irqs[vector].data = data;
        __atomic_store_n(&guest.irqs[vector].fn, fn, __ATOMIC_RELEASE);
        return 0;
}

int guest_irq_alloc(guest_irq_fn fn, void *data)
{
        if (!fn)
                return -EINVAL;
        guest_spin_lock(&guest.irq_lock);
        for (unsigned v = GUEST_VEC_DYN_BASE; v <= GUEST_VEC_DYN_MAX; v++) {
                if (__atomic_load_n(&guest.irqs[v].fn, __ATOMIC_ACQUIRE))
                        continue;
                guest.irqs[v].data = data;
                __atomic_store_n(&guest.irqs[v].fn, fn, __ATOMIC_RELEASE);
                guest_spin_unlock(&guest.irq_lock);
                return (int)v;
        }
        guest_spin_unlock(&guest.irq_lock);
        return -ENOSPC;
}

void guest_irq_free(unsigned vector)
{
        if (vector < GUEST_VEC_DYN_BASE || vector > GUEST_VEC_DYN_MAX)
                return;
        __atomic_store_n(&guest.irqs[vector].fn, NULL, __ATOMIC_RELEASE);
        guest.irqs[vector].data = NULL;
}

void guest_isr_exception(struct guest_regs *r)
{
        struct guest_cpu *cpu = guest_this_cpu();
        unsigned v = (unsigned)r->vector;
        const char *name = exception_names[v] ? exception_names[v] : "#??";
        uint64_t cr2 = v == 14 ? guest_read_cr2() : 0;

        if (++cpu->exception_depth > 1) {
                /* A fault while reporting a fault: say the least and stop this CPU. */
                if (cpu->exception_depth == 2)
                        guest_report_assert(GUEST_FILE, __LINE__, "nested exception vector=%u rip=%#lx", v,
                                            (unsigned long)r->rip);
                guest_cpu_halt_forever();
        }

        guest_report_assert(GUEST_FILE, __LINE__,
                            "exception vector=%u (%s) error=%#lx rip=%#lx cs=%#lx rflags=%#lx rsp=%#lx ss=%#lx "
                            "cr2=%#lx cpu=%u apic_id=%u rax=%#lx rbx=%#lx rcx=%#lx rdx=%#lx rsi=%#lx rdi=%#lx "
                            "rbp=%#lx r8=%#lx r9=%#lx r10=%#lx r11=%#lx r12=%#lx r13=%#lx r14=%#lx r15=%#lx",
                            v, name, (unsigned long)r->error, (unsigned long)r->rip, (unsigned long)r->cs,
                            (unsigned long)r->rflags, (unsigned long)r->rsp, (unsigned long)r->ss,
                            (unsigned long)cr2, cpu->index, cpu->apic_id, (unsigned long)r->rax,
                            (unsigned long)r->rbx, (unsigned long)r->rcx, (unsigned long)r->rdx,
                            (unsigned long)r->rsi, (unsigned long)r->rdi, (unsigned long)r->rbp,
                            (unsigned long)r->r8, (unsigned long)r->r9, (unsigned long)r->r10,
                            (unsigned long)r->r11, (unsigned long)r->r12, (unsigned long)r->r13,
                            (unsigned long)r->r14, (unsigned long)r->r15);
        if (cpu->index != 0) {
                /* An AP stops; the BSP notices it missing and reports. */
                guest_cpu_halt_forever();
        }
        guest_report_result(REPORT_STATUS_FAIL, "exception");
        guest_poweroff();
}

void guest_isr_irq(struct guest_regs *r)
{
        struct guest_cpu *cpu = guest_this_cpu();
        unsigned v = (unsigned)r->vector;
        struct guest_irq_slot *slot = &guest.irqs[v];
        guest_irq_fn fn = __atomic_load_n(&slot->fn, __ATOMIC_ACQUIRE);

        cpu->irq_enabled = false;
        cpu->irq_count++;
        __atomic_add_fetch(&slot->count, 1, __ATOMIC_RELAXED);

        if (fn) {
                fn(r, slot->data);
        } else if (v == GUEST_VEC_SPURIOUS) {
                /* no EOI for the spurious vector */
        } else {
                if (slot->count == 1)
                        guest_printf("vmguest: unexpected interrupt vector %u on cpu %u\n", v, cpu->index);
                guest_lapic_eoi();
        }
        cpu->irq_enabled = true;        /* isr.S returns with sti; iretq */
}
