/* SPDX-License-Identifier: MIT */
#include <abi/pvh.h>

#include "kernel/apic.h"
#include "kernel/idt.h"
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/smp.h"
#include "kernel/time.h"

static bool trampoline_area_usable(void)
{
        const struct guest_mm *mm = &guest.mm;

        for (unsigned i = 0; i < mm->region_count; i++) {
                const struct guest_mem_region *r = &mm->regions[i];
                if (r->type == HVM_MEMMAP_TYPE_RAM && r->addr <= GUEST_TRAMPOLINE_ADDR &&
                    r->addr + r->size >= GUEST_TRAMPOLINE_ADDR + GUEST_TRAMPOLINE_MAX)
                        return true;
        }
        /* No memory map: trust the platform layout (below the boot info at 0x6000). */
        return mm->region_count == 0;
}

unsigned guest_smp_online(void)
{
        unsigned n = 0;

        for (unsigned i = 0; i < guest.cpu_slots; i++)
                n += __atomic_load_n(&guest.cpus[i].online, __ATOMIC_ACQUIRE) ? 1 : 0;
        return n;
}

bool guest_smp_apic_online(uint32_t apic_id)
{
        for (unsigned i = 0; i < guest.cpu_slots; i++)
                if (__atomic_load_n(&guest.cpus[i].online, __ATOMIC_ACQUIRE) && guest.cpus[i].apic_id == apic_id)
                        return true;
        return false;
}

static void ipi_irq(struct guest_regs *regs, void *data)
{
        guest_lapic_eoi();
}

int guest_smp_call(unsigned cpu_index, void (*fn)(void *), void *arg)
{
        struct guest_cpu *c;

        if (cpu_index == 0 || cpu_index >= guest.cpu_slots || !fn)
                return -EINVAL;
        c = &guest.cpus[cpu_index];
        if (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
                return -ENODEV;
        if (__atomic_load_n(&c->work_busy, __ATOMIC_ACQUIRE))
                return -EBUSY;
        c->work_arg = arg;
        __atomic_store_n(&c->work_busy, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&c->work_fn, fn, __ATOMIC_RELEASE);
        return guest_lapic_send_ipi(c->apic_id, LAPIC_ICR_FIXED | GUEST_VEC_IPI);
}

bool guest_smp_call_done(unsigned cpu_index)
{
        if (cpu_index == 0 || cpu_index >= guest.cpu_slots)
                return true;
        return !__atomic_load_n(&guest.cpus[cpu_index].work_busy, __ATOMIC_ACQUIRE);
}

int guest_smp_boot(uint64_t timeout_ms)
{
        const struct guest_topology *t = &guest.topo;
        uint32_t bsp = guest.cpus[0].apic_id;
        unsigned aps = t->cpu_count > 0 ? t->cpu_count - 1 : 0;
        size_t tlen = (size_t)(guest_trampoline_end - guest_trampoline_start);
        uint64_t *stacks, start, deadline, resend;
        bool resent = false;

        if (aps == 0)
                return 0;
        if (aps >= GUEST_MAX_CPUS)
                aps = GUEST_MAX_CPUS - 1;
        if (tlen > GUEST_TRAMPOLINE_MAX || !trampoline_area_usable())
                return -ENOSPC;

        /* Slot i (1..aps) gets cpus[i] and a stack whose base points at it. */
        stacks = (uint64_t *)(uintptr_t)guest_page_alloc((aps + 1) * sizeof(uint64_t), 64);
        if (!stacks)
                return -ENOMEM;
        for (unsigned i = 1; i <= aps; i++) {
                uint64_t base = guest_page_alloc(GUEST_STACK_SIZE, GUEST_STACK_SIZE);

                if (!base)
                        return -ENOMEM;
                guest.cpus[i].index = i;
                guest.cpus[i].stack_base = base;
                *(struct guest_cpu **)(uintptr_t)base = &guest.cpus[i];
                stacks[i] = base + GUEST_STACK_SIZE;
        }
        stacks[0] = 0;
        guest.cpu_slots = aps + 1;
        guest_irq_register(GUEST_VEC_IPI, ipi_irq, NULL);

        memcpy((void *)(uintptr_t)GUEST_TRAMPOLINE_ADDR, guest_trampoline_start, tlen);
        guest_boot.ap_stacks = (uint64_t)(uintptr_t)stacks;
        guest_boot.ap_max = aps;
        __atomic_store_n(&guest_boot.ap_next, 1, __ATOMIC_RELEASE);

        start = guest_time_ns();
        guest.smp_sipi_tsc = guest_rdtsc();
        for (unsigned i = 0; i < t->cpu_count; i++)
                if (t->cpu_apic_ids[i] != bsp)
                        guest_lapic_send_ipi(t->cpu_apic_ids[i], LAPIC_ICR_INIT | LAPIC_ICR_ASSERT | LAPIC_ICR_LEVEL);
        for (unsigned i = 0; i < t->cpu_count; i++)
                if (t->cpu_apic_ids[i] != bsp)
                        guest_lapic_send_ipi(t->cpu_apic_ids[i], LAPIC_ICR_STARTUP | (GUEST_TRAMPOLINE_ADDR >> 12));

        /* A second SIPI only to those not up after 10 ms (KVM needs none; real CPUs may). */
        resend = start + 10 * 1000000ull;
        deadline = start + timeout_ms * 1000000ull;
        for (;;) {
                uint64_t now = guest_time_ns();

                if (guest_smp_online() == aps + 1)
                        break;
                if (now >= deadline)
                        break;
                if (!resent && now >= resend) {
                        resent = true;
                        for (unsigned i = 0; i < t->cpu_count; i++)
                                if (t->cpu_apic_ids[i] != bsp && !guest_smp_apic_online(t->cpu_apic_ids[i]))
                                        guest_lapic_send_ipi(t->cpu_apic_ids[i],
                                                             LAPIC_ICR_STARTUP | (GUEST_TRAMPOLINE_ADDR >> 12));
                }
                guest_cpu_relax();
        }
        guest.smp_boot_ns = guest_time_ns() - start;
        return (int)guest_smp_online() - 1;
}

void guest_ap_main(uint32_t slot)
{
        struct guest_cpu *cpu = guest_this_cpu();

        cpu->start_tsc = guest_rdtsc();
        guest_idt_load();
        guest_lapic_init_cpu();
        cpu->apic_id = guest_lapic_id();
        guest_time_init_cpu();
        /* Report first, then count as online: the BSP's lines come after this one. */
        guest_report_info("apic_id=%u online=1 cpu=%u", cpu->apic_id, slot);
        __atomic_store_n(&cpu->online, 1, __ATOMIC_RELEASE);

        /* Idle with interrupts on, so that IPIs can reach this CPU later; run work handed over. */
        guest_irq_disable();
        for (;;) {
                void (*fn)(void *) = __atomic_exchange_n(&cpu->work_fn, NULL, __ATOMIC_ACQUIRE);

                if (fn) {
                        fn(cpu->work_arg);
                        guest_irq_disable();
                        __atomic_store_n(&cpu->work_busy, 0, __ATOMIC_RELEASE);
                        continue;
                }
                guest_cpu_wait();
        }
}
