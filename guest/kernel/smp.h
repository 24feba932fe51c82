/* SPDX-License-Identifier: MIT */
/*
 * Secondary vCPUs: INIT-SIPI-SIPI to every APIC id in the topology, through the real-mode
 * trampoline (trampoline.S) copied to GUEST_TRAMPOLINE_ADDR.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/lib.h"

/* Start every AP; returns how many came online before timeout_ms, or -errno. */
int guest_smp_boot(uint64_t timeout_ms);
/* Number of CPUs online, BSP included. */
unsigned guest_smp_online(void);
bool guest_smp_apic_online(uint32_t apic_id);

/*
 * Run fn(arg) on the AP in cpus[cpu_index] (woken with an IPI); -EBUSY while it still runs
 * earlier work. fn runs with interrupts disabled (guest_cpu_wait() takes them).
 */
int guest_smp_call(unsigned cpu_index, void (*fn)(void *), void *arg);
/* Has the work given with guest_smp_call() returned? */
bool guest_smp_call_done(unsigned cpu_index);

_noreturn_ void guest_ap_main(uint32_t slot);
