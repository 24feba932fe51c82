/* SPDX-License-Identifier: MIT */
#include "kernel/kernel.h"
#include "kernel/scenario.h"
#include "kernel/scenarios/scenarios.h"

const struct guest_scenario guest_scenarios[] = {
        { "hello", "banner, ready, info lines, pass, power off", 0, guest_scenario_hello },
        { "poweroff", "power off at once (boot timing)", 0, guest_scenario_poweroff },
        { "panic", "a failing ASSERT (exercises the report path)", 0, guest_scenario_panic },
        { "fault", "a page fault (exercises the exception report)", 0, guest_scenario_fault },
        { "smp", "start every AP, each reports in", GUEST_SCENARIO_PLATFORM, guest_scenario_smp },
        { "timer", "LAPIC timer rate against kvmclock/TSC", GUEST_SCENARIO_PLATFORM, guest_scenario_timer },
        { "memtest", "write and verify all RAM above the kernel", GUEST_SCENARIO_PLATFORM, guest_scenario_memtest },
        { "idle", "halt until the power button", GUEST_SCENARIO_PLATFORM | GUEST_SCENARIO_POWER_BUTTON_PASS,
          guest_scenario_idle },
        { "shell", "interactive prompt on the serial console", GUEST_SCENARIO_PLATFORM, guest_scenario_shell },
        { "echo", "echo console input lines until \"quit\"", GUEST_SCENARIO_PLATFORM, guest_scenario_echo },
        { "reboot", "reset via 0xCF9 (method=i8042|acpi|triple-fault)", 0, guest_scenario_reboot },
        { "console-bench", "console output cost per byte", 0, guest_scenario_console_bench },
        { "triple-fault", "triple fault on purpose", 0, guest_scenario_triple_fault },
};

const size_t guest_scenario_count = ARRAY_SIZE(guest_scenarios);

const struct guest_scenario *guest_scenario_find(const char *name)
{
        for (size_t i = 0; i < guest_scenario_count; i++)
                if (guest_strcmp(guest_scenarios[i].name, name) == 0)
                        return &guest_scenarios[i];
        return NULL;
}
