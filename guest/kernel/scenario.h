/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: what the kernel does after booting, picked with scenario=NAME on the command
 * line. The table is an explicit const array (scenario.c); each group of scenarios lives in
 * its own file under scenarios/.
 *
 * run() returns 0 for pass, GUEST_SCENARIO_SKIP for skip, a negative errno for fail; the
 * runner then prints the result line and powers off. Scenarios that end the VM themselves
 * (reboot, idle, ...) do not return.
 */
#pragma once

#include <stddef.h>

#define GUEST_SCENARIO_SKIP 1

/* Needs interrupts (LAPIC, IOAPIC, console input, power button) set up before "ready". */
#define GUEST_SCENARIO_PLATFORM         (1u << 0)
/* A power-button press ends this scenario with status=pass. */
#define GUEST_SCENARIO_POWER_BUTTON_PASS (1u << 1)

struct guest_scenario {
        const char *name;
        const char *summary;
        unsigned flags;
        int (*run)(void);
};

extern const struct guest_scenario guest_scenarios[];
extern const size_t guest_scenario_count;

const struct guest_scenario *guest_scenario_find(const char *name);
