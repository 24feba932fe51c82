/* SPDX-License-Identifier: MIT */
/*
 * Local APIC (x2APIC through MSRs when CPUID offers it, else xAPIC MMIO), the IOAPICs, and the
 * legacy 8259 PIC, which is only masked.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/idt.h"

#define GUEST_MAX_IOAPICS 8

struct guest_lapic {
        bool x2apic;
        uint64_t mmio_base;             /* xAPIC only */
        uint32_t timer_hz;              /* LAPIC timer input after the divider; 0 = not calibrated */
};

#define LAPIC_ICR_FIXED         0x00000u
#define LAPIC_ICR_INIT          0x00500u
#define LAPIC_ICR_STARTUP       0x00600u
#define LAPIC_ICR_ASSERT        0x04000u
#define LAPIC_ICR_LEVEL         0x08000u

/* BSP, once: choose x2APIC or xAPIC (cmdline apic=xapic forces MMIO mode). */
void guest_lapic_setup(uint64_t mmio_base);
/* Per CPU: enable the LAPIC (switching to x2APIC mode when available), mask LINT0 and the timer. */
int guest_lapic_init_cpu(void);
uint32_t guest_lapic_id(void);
void guest_lapic_eoi(void);
int guest_lapic_send_ipi(uint32_t apic_id, uint32_t icr_low);

/* Measure the timer input frequency against guest_time_ns() over about `ms` milliseconds. */
int guest_lapic_timer_calibrate(unsigned ms);
int guest_lapic_timer_periodic(uint32_t hz, uint8_t vector);
int guest_lapic_timer_oneshot_ns(uint64_t ns, uint8_t vector);
void guest_lapic_timer_stop(void);
uint32_t guest_lapic_timer_current(void);

void guest_pic_disable(void);

/* Route an IOAPIC input (GSI) to vector on the CPU with dest_apic_id, unmasked. */
int guest_ioapic_route(uint32_t gsi, uint8_t vector, uint32_t dest_apic_id, bool level, bool active_low);
int guest_ioapic_mask(uint32_t gsi);
/*
 * Route an ISA IRQ through the MADT/MP interrupt source overrides to vector
 * GUEST_VEC_GSI_BASE + GSI on dest_apic_id, with fn as its handler. sci: the IRQ is the ACPI SCI,
 * whose default (no override) is level/active-low instead of edge/active-high. Returns the GSI.
 */
int guest_irq_route_isa(unsigned isa_irq, bool sci, uint32_t dest_apic_id, guest_irq_fn fn, void *data);
