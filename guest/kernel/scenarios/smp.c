/* SPDX-License-Identifier: MIT */
/* The smp scenario: start every AP listed in the MADT (or MP table); each reports in. */
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenarios/scenarios.h"
#include "kernel/smp.h"

/* INIT-SIPI to guest_ap_main (trampoline, long mode, native switch), first and last AP. */
static void report_ap_start_times(void)
{
        uint64_t first = UINT64_MAX, last = 0;

        for (unsigned i = 1; i < guest.cpu_slots; i++) {
                const struct guest_cpu *c = &guest.cpus[i];

                if (!c->online || c->start_tsc < guest.smp_sipi_tsc)
                        continue;
                first = MIN(first, c->start_tsc - guest.smp_sipi_tsc);
                last = MAX(last, c->start_tsc - guest.smp_sipi_tsc);
        }
        if (last) {
                guest_report_metric("ap_start_first", guest_tsc_to_ns(first) / 1000, "us");
                guest_report_metric("ap_start_last", guest_tsc_to_ns(last) / 1000, "us");
        }
}

int guest_scenario_smp(void)
{
        const struct guest_topology *t = &guest.topo;
        uint64_t timeout_ms = guest_cmdline_get_u64("smp_timeout_ms", 2000);
        unsigned online;
        int r;

        guest_report_info("apic_id=%u online=1 cpu=0 bsp=1", guest.cpus[0].apic_id);
        r = guest_smp_boot(timeout_ms);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "AP start-up failed: %d", r);
                return r;
        }
        online = guest_smp_online();
        guest_report_metric("smp_boot_time", guest.smp_boot_ns / 1000, "us");
        report_ap_start_times();
        guest_report_info("cpus_online=%u cpus_expected=%u", online, t->cpu_count);
        for (unsigned i = 0; i < t->cpu_count; i++)
                EXPECT_MSG(guest_smp_apic_online(t->cpu_apic_ids[i]), "apic_id=%u did not come online within %lu ms",
                           t->cpu_apic_ids[i], (unsigned long)timeout_ms);
        return online == t->cpu_count ? 0 : -ETIMEDOUT;
}
