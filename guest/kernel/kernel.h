/* SPDX-License-Identifier: MIT */
/*
 * The kernel's global state, all of it in one place: struct guest_kernel guest (main.c). The
 * per-CPU part lives in guest.cpus[], found through guest_this_cpu(). Boot-time data that the
 * assembly entry writes is in guest_boot (boot.h).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/acpi.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/lib.h"
#include "kernel/mm.h"
#include "kernel/pci.h"
#include "kernel/power.h"
#include "kernel/scenario.h"
#include "kernel/time.h"
#include "kernel/virtio_blk.h"
#include "kernel/virtio_net.h"

#define GUEST_VERSION     "0.1"
#define GUEST_CMDLINE_MAX 4096
#define GUEST_CMDLINE_ARGS 64

struct guest_cpuid {
        uint32_t leaf1[4];              /* eax, ebx, ecx, edx */
        uint32_t hv_max;
        char hv_signature[13];
        bool kvm;
        uint32_t hv_features;           /* KVM_FEATURE_* when kvm */
};

struct guest_kernel {
        bool native;                    /* PVM native mode (else ring 0) */
        uint16_t code_selector;
        struct guest_cpuid cpuid;       /* captured before the switch to native mode */
        uint32_t boot_cpuid1_ecx;

        uint64_t start_info_paddr;
        bool start_info_valid;
        uint64_t rsdp_hint;
        char cmdline[GUEST_CMDLINE_MAX];       /* as given */
        char cmdline_words[GUEST_CMDLINE_MAX]; /* split copy: keys and values NUL-terminated */
        unsigned cmdline_argc;
        struct {
                const char *key;
                const char *value;      /* "" for a bare key */
        } cmdline_args[GUEST_CMDLINE_ARGS];

        struct guest_console console;
        struct guest_mm mm;
        struct guest_topology topo;
        struct guest_acpi acpi;
        int acpi_error;
        struct guest_lapic lapic;
        struct guest_time time;
        struct guest_power power;
        struct guest_irq_slot irqs[256];
        struct guest_spinlock irq_lock;         /* guest_irq_alloc() */
        struct guest_pci pci;                   /* pci.c: the functions found at boot */
        struct guest_blk_set blk;               /* virtio_blk.c: the virtio-blk devices */
        struct guest_net_set net;               /* virtio_net.c: the virtio-net devices */

        const char *scenario_name;      /* from the command line, even when unknown */
        const struct guest_scenario *scenario;
        uint32_t expect_failures;
        uint64_t main_ns;               /* guest_time_ns() when guest_main was reached */
        uint64_t ready_ns;
        uint64_t main_tsc;              /* TSC at guest_main and at "ready" (entry: guest_boot) */
        uint64_t ready_tsc;
        uint64_t smp_boot_ns;
        uint64_t smp_sipi_tsc;

        unsigned cpu_slots;             /* cpus[] entries in use: BSP + AP slots */
        struct guest_cpu cpus[GUEST_MAX_CPUS];
};

extern struct guest_kernel guest;

/*
 * The command line: space-separated words, key=value or bare keys; the last occurrence of a
 * key wins. Values are NUL-terminated strings ("" for a bare key), or def when absent.
 */
const char *guest_cmdline_get_str(const char *key, const char *def);
uint64_t guest_cmdline_get_u64(const char *key, uint64_t def);

/* Bring up LAPIC, IOAPIC, PIC mask, console input interrupt and power button; interrupts on. */
int guest_platform_init(void);

_noreturn_ void guest_main(uint32_t start_info);
