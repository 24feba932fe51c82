/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU state. A CPU finds its struct guest_cpu through the pointer stored at the base of its
 * stack (stacks are GUEST_STACK_SIZE bytes, aligned to their size): no GS base, no MSR access,
 * and it works in interrupt handlers because PVM native mode never switches stacks.
 *
 * Interrupt state is tracked in software (irq_enabled): in PVM native mode pushf/popf do not see
 * the virtual IF, so "save flags, cli, restore" is built on this field instead.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/boot.h"
#include "kernel/lib.h"
#include "kernel/x86.h"

#define GUEST_MAX_CPUS 256

/* kvmclock's per-vCPU time page (struct pvclock_vcpu_time_info), written by the host. */
struct guest_pvclock {
        uint32_t version;
        uint32_t pad0;
        uint64_t tsc_timestamp;
        uint64_t system_time;
        uint32_t tsc_to_system_mul;
        int8_t tsc_shift;
        uint8_t flags;
        uint8_t pad[2];
};
_Static_assert(sizeof(struct guest_pvclock) == 32, "pvclock size");

struct guest_cpu {
        struct guest_pvclock pvclock;   /* first: 32-byte aligned, never crosses a page */
        uint32_t index;                 /* 0 = BSP, then AP slots in arrival order */
        uint32_t apic_id;
        uint64_t stack_base;
        volatile uint32_t online;
        bool irq_enabled;
        bool pvclock_enabled;
        uint32_t exception_depth;
        volatile uint64_t timer_ticks;
        volatile uint64_t irq_count;
        uint64_t start_tsc;             /* APs: TSC on reaching guest_ap_main */
        void (*volatile work_fn)(void *);       /* APs: work handed over by guest_smp_call() */
        void *work_arg;
        volatile uint32_t work_busy;
} __attribute__((aligned(64)));

static inline struct guest_cpu *guest_this_cpu(void)
{
        return *(struct guest_cpu **)(uintptr_t)(guest_read_rsp() & ~(uint64_t)(GUEST_STACK_SIZE - 1));
}

static inline void guest_irq_enable(void)
{
        guest_this_cpu()->irq_enabled = true;
        guest_sti();
}

static inline void guest_irq_disable(void)
{
        guest_cli();
        guest_this_cpu()->irq_enabled = false;
}

/* Disable interrupts, returning whether they were on. */
static inline bool guest_irq_save(void)
{
        struct guest_cpu *cpu = guest_this_cpu();
        bool was = cpu->irq_enabled;

        if (was) {
                guest_cli();
                cpu->irq_enabled = false;
        }
        return was;
}

static inline void guest_irq_restore(bool was)
{
        if (was)
                guest_irq_enable();
}

/*
 * Wait for the next interrupt. Call with interrupts disabled, after checking the condition
 * waited for; returns with interrupts disabled again, after the handler has run.
 */
static inline void guest_cpu_wait(void)
{
        __asm__ volatile("sti; hlt; cli" : : : "memory");
        guest_this_cpu()->irq_enabled = false;
}

_noreturn_ void guest_cpu_halt_forever(void);

struct guest_spinlock {
        volatile uint32_t value;
};

static inline bool guest_spin_trylock(struct guest_spinlock *l)
{
        return __atomic_exchange_n(&l->value, 1, __ATOMIC_ACQUIRE) == 0;
}

static inline void guest_spin_lock(struct guest_spinlock *l)
{
        while (!guest_spin_trylock(l))
                while (__atomic_load_n(&l->value, __ATOMIC_RELAXED))
                        guest_cpu_relax();
}

static inline void guest_spin_unlock(struct guest_spinlock *l)
{
        __atomic_store_n(&l->value, 0, __ATOMIC_RELEASE);
}
