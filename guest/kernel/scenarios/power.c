/* SPDX-License-Identifier: MIT */
/* Power scenarios: idle (until the power button), reboot, triple-fault. */
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenarios/scenarios.h"

int guest_scenario_idle(void)
{
        if (!guest.power.button_enabled)
                guest_report_info("power_button=unavailable");
        /* The SCI handler reports the press and powers off (power.c). */
        guest_irq_disable();
        for (;;)
                guest_cpu_wait();
}

int guest_scenario_reboot(void)
{
        const char *name = guest_cmdline_get_str("method", "cf9");
        enum guest_reset_method m;

        if (guest_reset_method_from_string(name, &m) < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "unknown reset method \"%s\"", name);
                return -EINVAL;
        }
        guest_report_info("reboot method=%s", guest_reset_method_to_string(m));
        guest_reboot(m);
}

int guest_scenario_triple_fault(void)
{
        guest_report_info("triple-fault=now");
        guest_triple_fault();
}
