/* SPDX-License-Identifier: MIT */
/*
 * Power off (ACPI S5 through PM1a_CNT, or the HW-reduced sleep control register), reset
 * (0xCF9, i8042, the FADT reset register, triple fault) and the ACPI power button (fixed
 * event PWRBTN through the SCI).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/lib.h"

enum guest_reset_method {
        GUEST_RESET_CF9,
        GUEST_RESET_I8042,
        GUEST_RESET_ACPI,
        GUEST_RESET_TRIPLE_FAULT,
        _GUEST_RESET_MAX,
};

struct guest_power {
        bool button_enabled;
        bool button_ignored;            /* a hung guest (scenario ic, ic_ignore_shutdown=1) */
        uint32_t sci_gsi;
        volatile uint32_t button_presses;
};

_noreturn_ void guest_poweroff(void);
/* Try `method` first, then the others in order; each attempt is reported. */
_noreturn_ void guest_reboot(enum guest_reset_method method);
_noreturn_ void guest_triple_fault(void);
int guest_reset_method_from_string(const char *s, enum guest_reset_method *ret);
const char *guest_reset_method_to_string(enum guest_reset_method m);

/* Turn on ACPI mode (SCI_EN), enable PWRBTN and route the SCI to the BSP. */
int guest_power_button_init(void);
